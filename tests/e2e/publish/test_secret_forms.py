"""Secrets masked in every form a server echoes, in every sink: stdout, stderr, --json, the
history and ledger files (and any journal), the email. "Masked" means no 8-character run of the
secret, or of the base64 characters that encode it, survives anywhere, even with whitespace
squeezed out.

Real parts: an SMTP server on loopback (aiosmtpd) that answers AUTH with an error quoting the
AUTH argument, or refuses DATA with a long text holding the password across the 200-character
cut; the simulator answering SOAP faults that echo the integrator password broken across lines,
in base64, or across the cut.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
import string
import urllib.parse
from datetime import date
from urllib.parse import quote

import keyring
import pytest
from helpers import assert_no_secret, configure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    USAGE,
    free_port,
    partner_config,
    read_history,
    sim_faults,
    soap_requests,
    tenant,
)
from cwpublish.simulator import SimulatorServer
from cwpublish.text.redaction import MASK

PERIOD = f"{date.today():%Y-%m}"
USER = "billing@example.com"
MAIL_PASSWORD = "Mq7#Lp2!Vx9@Tz4$Kw8%Rb3"
# No dictionary word in it: a run like "ntegrato" of conftest's password also appears in the
# advice ("the integrator login"), which would read as a leak.
SECRET = "Jh4&Wq8!Zp3#Xm6@Nc1"


@pytest.fixture
def sim():
    """The simulator, its integrator login using SECRET."""
    server = SimulatorServer({"tenants": [tenant(integrator_password=SECRET)]}).start()
    yield server
    server.stop()


@pytest.fixture
def password():
    keyring.set_password("cwpublish", "connectwise:acme", SECRET)
    return SECRET


def runs(text: str, n: int = 8) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def secret_only(prefix: bytes, secret: str) -> str:
    """The base64 characters of prefix+secret whose bits all come from the secret."""
    raw = secret.encode()
    encoded = base64.b64encode(prefix + raw + b"\0\0").decode()
    return "".join(
        encoded[i]
        for i in range(len(encoded))
        if 6 * i >= 8 * len(prefix) and 6 * i + 6 <= 8 * (len(prefix) + len(raw))
    )


def sinks(result, tmp_path, inbox=None) -> dict[str, str]:
    """Everything the run left for a person or a file to read."""
    found = {"stdout": result.stdout, "stderr": result.stderr}
    for f in (tmp_path / "state").rglob("*"):
        if f.is_file():
            found[str(f)] = f.read_text(errors="replace")
    for i, (_, _, message) in enumerate(inbox.messages if inbox else []):
        found[f"email {i} subject"] = str(message["Subject"])
        for part in message.walk():
            if not part.is_multipart():
                found[f"email {i} {part.get_content_type()}"] = part.get_content()
    return found


def assert_nowhere(found: dict[str, str], *guarded: str) -> None:
    for where, text in found.items():
        squeezed = "".join(text.split())
        for g in guarded:
            leaked = runs(g) & (runs(text) | runs(squeezed))
            assert not leaked, f"{sorted(leaked)[0]!r} of a secret is in {where}"


class EchoingInbox:
    """An aiosmtpd handler that answers AUTH with an error quoting the AUTH argument as it
    came (AUTH PLAIN: base64 of "\\0user\\0password"; AUTH LOGIN: base64 of each), or takes
    the login and refuses the message with `data_reply`."""

    def __init__(self, accept_login: bool = False, data_reply: str = "250 OK"):
        self.accept_login = accept_login
        self.data_reply = data_reply
        self.messages: list = []

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        user, password = auth_data.login, auth_data.password
        if self.accept_login:
            return AuthResult(success=True)
        if mechanism == "PLAIN":
            quoted = base64.b64encode(b"\0" + user + b"\0" + password).decode()
        else:
            quoted = f"{base64.b64encode(user).decode()} {base64.b64encode(password).decode()}"
        return AuthResult(
            success=False, handled=False,
            message=f"535 5.7.8 Authentication failed: AUTH {mechanism} {quoted} rejected",
        )

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        return self.data_reply


@pytest.fixture
def echoing_smtp(tmp_path):
    """Start an EchoingInbox on loopback (STARTTLS with a trustme CA); yields a starter."""
    import ssl

    import trustme
    from aiosmtpd.controller import Controller

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_path = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    controllers = []

    def start(inbox: EchoingInbox, only: str | None = None) -> dict:
        exclude = [m for m in ("LOGIN", "PLAIN") if only and m != only]
        controller = Controller(
            inbox, hostname="127.0.0.1", port=free_port(), tls_context=server_ctx,
            authenticator=inbox.authenticate, auth_require_tls=True,
            auth_exclude_mechanism=exclude,
        )
        controller.start()
        controllers.append(controller)
        keyring.set_password("cwpublish", f"smtp:{USER}@127.0.0.1", MAIL_PASSWORD)
        return {"host": "127.0.0.1", "port": controller.port, "security": "starttls",
                "username": USER, "ca_bundle": str(ca_path), "sender": USER, "timeout": 5}

    yield start
    for c in controllers:
        c.stop()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_an_smtp_error_quoting_the_auth_argument_is_masked_everywhere(
    sim, make_config, password, run, tmp_path, echoing_smtp, mechanism
):
    smtp = echoing_smtp(EchoingInbox(), only=mechanism)
    config = make_config(sim.url, smtp=smtp, usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 0  # an email never changes what was published
    [entry] = json.loads(result.stdout)["entries"]
    note = entry["notification"]
    assert note["status"] == "failed" and read_history(tmp_path)[0]["notification"] == note
    # the server's text is shown (it says why), the password in it is not
    assert f"(535): 5.7.8 Authentication failed: AUTH {mechanism} " in note["error"]
    assert MASK in note["error"] and note["error"] in result.stderr.replace("\n", " ")
    if mechanism == "PLAIN":
        guarded = secret_only(b"\0" + USER.encode() + b"\0", MAIL_PASSWORD)
        assert base64.b64encode(b"\0" + USER.encode() + b"\0").decode()[:24] in note["error"]
    else:
        guarded = base64.b64encode(MAIL_PASSWORD.encode()).decode()
    assert_nowhere(sinks(result, tmp_path), MAIL_PASSWORD, guarded, SECRET)


AUTH_PLAIN = base64.b64encode(f"\0{USER}\0{MAIL_PASSWORD}".encode()).decode()
REFUSALS = {  # what the server answers DATA with, once logged in
    "straddling the cut": "554 5.7.1 " + "x" * 185 + MAIL_PASSWORD + " is not how to say hello",
    "quoting AUTH PLAIN": f"554 5.7.1 session AUTH PLAIN {AUTH_PLAIN} may not send this",
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_an_smtp_refusal_holding_the_password_leaves_none_of_it(
    sim, make_config, password, run, tmp_path, echoing_smtp, refusal
):
    smtp = echoing_smtp(EchoingInbox(accept_login=True, data_reply=REFUSALS[refusal]))
    config = make_config(sim.url, smtp=smtp, usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes", "--json")
    note = json.loads(result.stdout)["entries"][0]["notification"]
    assert result.exit_code == 0 and note["status"] == "failed"
    assert "answered 554: 5.7.1 " in note["error"]
    guarded = secret_only(f"\0{USER}\0".encode(), MAIL_PASSWORD)
    assert_nowhere(sinks(result, tmp_path), MAIL_PASSWORD, guarded, SECRET)


BASIC = base64.b64encode(f"acme+rcloud:{SECRET}".encode()).decode()
ECHOES = {
    "broken across lines": f"Login failed: password '{SECRET[:9]}\r\n  {SECRET[9:]}' refused",
    "in base64 (Basic)": f"Login failed for Authorization: Basic {BASIC[:30]}\n{BASIC[30:]}",
    "across the cut": "Login failed: " + "y" * 280 + SECRET,  # cut at 300: mid-secret
    "a space inside": "password " + SECRET.replace("!", " !"),
    "quoted-printable soft break": f"Login failed: password={SECRET[:9]}=\r\n{SECRET[9:]}",
    "quoted-printable, bare LF": f"Login failed: password={SECRET[:5]}=\n{SECRET[5:]}",
}


@pytest.mark.parametrize("echo", list(ECHOES))
def test_a_soap_fault_echoing_the_password_in_any_form_is_masked_everywhere(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password, echo
):
    config = make_config(sim.url, smtp=smtp_server.config, usage={f"acme-{PERIOD}.csv": USAGE})
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "soap_fault": ECHOES[echo]}])
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 12
    [entry] = json.loads(result.stdout)["entries"]
    assert entry["status"] == "failed" and MASK[:4] in entry["error"]
    assert read_history(tmp_path)[0]["error"] == entry["error"]
    assert len(smtp_server.messages) == 1
    guarded = secret_only(b"acme+rcloud:", SECRET)
    assert_nowhere(sinks(result, tmp_path, smtp_server), SECRET, guarded)
    shown = run(config, "history", "show", entry["id"])
    assert_nowhere({"history show": shown.stdout}, SECRET, guarded)


def test_the_internal_error_line_masks_the_secret(
    sim, make_config, password, run, tmp_path, monkeypatch
):
    """A bug cannot be made on purpose: one is planted where a secret is in hand."""
    from cwpublish.config import credentials
    from cwpublish.publish import run as send

    def buggy(plan, *args, **kwargs):
        secret = credentials.partner_secret(plan.partner)
        raise RuntimeError(f"planted bug holding {secret[:9]}\n{secret[9:]} " + "z" * 300)

    monkeypatch.setattr(send, "execute", buggy)
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"cwpublish: internal error (RuntimeError): planted bug holding {MASK} zzz")
    assert json.loads(result.stdout)["status"] == "error"
    assert_nowhere(sinks(result, tmp_path), SECRET)


# No vowels and none of "-:./": no word, date or path of the output can be a run of it.
SECRET_CHARS = "".join(
    c for c in string.ascii_letters + string.digits + "!#$%&()+;<=>?@[]^_{|}~"
    if c.lower() not in "aeiouy"
)
FILLER = st.text(alphabet=st.sampled_from(list("αβγδλμ ·\n\t")), max_size=30)
FORMS = ["plain", "broken", "xml", "json", "url", "login", "auth-plain", "basic"]


def server_echo(form: str, secret: str, breaks: list[int]) -> tuple[str, str]:
    """(what the server says, the characters of it that must not survive)."""
    if form in ("login", "auth-plain", "basic"):
        prefix = {"login": b"", "auth-plain": b"\0rcloud\0", "basic": b"acme+rcloud:"}[form]
        return base64.b64encode(prefix + secret.encode()).decode(), secret_only(prefix, secret)
    if form == "broken":
        for at in sorted({b % len(secret) for b in breaks if b % len(secret)}, reverse=True):
            secret = secret[:at] + "\n " + secret[at:]
        return secret, secret
    said = {"plain": secret, "xml": html.escape(secret), "json": json.dumps(secret)[1:-1],
            "url": quote(secret, safe="")}[form]
    return said, said


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    secret=st.text(alphabet=st.sampled_from(list(SECRET_CHARS)), min_size=10, max_size=30)
    .filter(lambda s: len(set(s)) >= 6),  # no "--------" that a table's rule would match
    form=st.sampled_from(FORMS),
    breaks=st.lists(st.integers(min_value=1, max_value=40), max_size=3),
    before=FILLER,
    after=FILLER,
)
def test_property_a_random_secret_echoed_in_any_form_survives_in_no_sink(
    sim, make_config, run, tmp_path, smtp_server, smtp_password, secret, form, breaks, before,
    after,
):
    from cwpublish.text import redaction

    redaction.forget_all()  # a fresh run: only this example's secret is known
    keyring.set_password("cwpublish", "connectwise:acme", secret)
    for old in (tmp_path / "state").glob("*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    smtp_server.messages.clear()
    said, guarded = server_echo(form, secret, breaks)
    config = make_config(sim.url, smtp=smtp_server.config, usage={f"acme-{PERIOD}.csv": USAGE})
    sim_faults(sim, [{"operation": "GetManagementItSetupsName",
                      "soap_fault": f"Login failed{before}{said}{after}"}])
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 12 and len(smtp_server.messages) == 1
    assert_nowhere(sinks(result, tmp_path, smtp_server), secret, guarded)


def test_an_smtp_password_smtplib_cannot_send_is_a_failed_email_not_a_crash(
    sim, make_config, password, run, tmp_path, smtp_server
):
    keyring.set_password("cwpublish", f"smtp:{USER}@127.0.0.1", "Pässwörd-Ω-Qx7#Lp2")
    config = make_config(sim.url, smtp=smtp_server.config, usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 0  # published; smtplib refused to encode the login
    note = json.loads(result.stdout)["entries"][0]["notification"]
    assert note["status"] == "failed" and "UnicodeEncodeError" in note["error"]
    assert read_history(tmp_path)[0]["notification"] == note
    assert_nowhere(sinks(result, tmp_path), "Pässwörd-Ω-Qx7#Lp2", SECRET)


THIS = f"{date.today():%Y-%m}"


def test_url_encoded_echoes_of_the_password_are_masked(make_config, run, tmp_path):
    secret = "P&ss<w>rd \"x' +/=é"
    server = SimulatorServer({"tenants": [tenant(integrator_password=secret)]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", secret)
        dotnet = urllib.parse.quote_plus(secret, safe="!*()").lower()  # HttpUtility.UrlEncode
        echo = f"{dotnet} / {urllib.parse.quote(secret)}"
        sim_faults(server, [{"operation": "UpdateManagedDevices", "result_text": echo}])
        config = make_config(partners=[partner_config(server.url)],
                             usage={f"acme-{THIS}.csv": USAGE})
        result = run(config, "publish", "--yes", "--json")
    finally:
        server.stop()
    stored = " ".join(f.read_text() for f in (tmp_path / "state").rglob("*.json"))
    for text in (result.stdout, stored):
        assert dotnet not in text.lower() and urllib.parse.quote(secret) not in text
    assert "********" in result.stdout


def test_a_secret_broken_across_lines_by_the_server_is_still_masked(make_config, run, tmp_path):
    secret = "correct horse battery"
    server = SimulatorServer({"tenants": [tenant(integrator_password=secret)]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", secret)
        text = "Login failed for correct\r\nhorse\tbattery  (wrapped)"
        sim_faults(server, [{"operation": "UpdateManagedDevices", "soap_fault": text}])
        result = run(configure(make_config, server.url), "publish", "--yes", "--json")
    finally:
        server.stop()
    doc = json.loads(result.stdout)
    assert result.exit_code == doc["exit_code"] == 1
    assert "Login failed for ******** (wrapped)" in doc["entries"][0]["error"]
    assert_no_secret(result, tmp_path, secret)


def test_secrets_echoed_in_any_form_are_masked(make_config, run, tmp_path):
    secret = "p&ss<w0rd> \"x\""
    server = SimulatorServer({"tenants": [tenant(integrator_password=secret)]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", secret)
        echoes = f"as is {secret} escaped {html.escape(secret)} trimmed {secret.strip()}"
        sim_faults(server, [{"operation": "UpdateManagedDevices", "result_text": echoes}])
        result = run(configure(make_config, server.url), "-vv", "publish", "--yes", "--json")
        requests = soap_requests(server, "UpdateManagedDevices")
    finally:
        server.stop()
    assert requests and result.exit_code == 1
    doc = json.loads(result.stdout)
    error = doc["entries"][0]["clients"][0]["error"]
    assert "********" in error and "p&ss" not in error and "p&amp;ss" not in error
    for text in (result.stdout, result.stderr, *(
            f.read_text() for f in (tmp_path / "state").rglob("*.json"))):
        assert secret not in text and html.escape(secret) not in text
