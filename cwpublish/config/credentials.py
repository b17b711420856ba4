"""Secrets: each partner's ConnectWise secret and the SMTP password.

They come from a file in `$CREDENTIALS_DIRECTORY` when there is one (systemd's
LoadCredential=, a Kubernetes secret volume, Docker secrets: places without a keyring), else
from the OS keyring. Nothing here ever prints, logs or returns a password except to the caller
that sends it. Under cron there is usually no desktop keyring (no D-Bus session), so every
keyring failure is turned into one error that says how to fix it.

Secret files (`partner.<name>`, `smtp`) are read with these rules, each refusal one line
naming the file and the fix (exit 2):
- symlinks are followed (Kubernetes mounts each key as a symlink into `..data/`); what is
  checked is the file finally opened, through its descriptor (no check-then-open race);
- it must be a regular file owned by the user cwpublish runs as or by root (root-owned files
  are what systemd, Kubernetes and Docker create), that no one else may read or change:
  mode 0600 or 0400, or an ACL granting only this user (systemd's `LoadCredential=` with
  `User=`); see secret_files.py;
- $CREDENTIALS_DIRECTORY, when set, must be a folder this user can look into
  (CredentialsDirectoryError, not a silent fall-back to the keyring);
- exactly one final line break (LF or CRLF) is removed; an empty file, any other control
  character, text that is not UTF-8 or more than 16 KiB is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from cwpublish.config.fields import CONTROL_RE
from cwpublish.config.model import Partner, Smtp
from cwpublish.config.secret_files import (
    SecretFileError,
    check_directory,
    check_file,
)
from cwpublish.errors import CredentialsError
from cwpublish.targets.registry import TARGETS, target_settings
from cwpublish.text.redaction import register

SERVICE = "cwpublish"
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MAX_FILE_BYTES = 16 * 1024
KEYRING_HINT = (
    "no usable keyring backend (common under cron or ssh, where no desktop keyring runs); "
    "install keyrings.alt (the cron extra: `pip install '.[cron]'`) and set "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring, or run inside "
    "`dbus-run-session` with an unlocked keyring, or put the secret in a file in "
    "$CREDENTIALS_DIRECTORY"
)


def partner_key(partner: Partner) -> str:
    """The keyring user name under which a partner's ConnectWise secret is stored."""
    return f"connectwise:{partner.name}"


def partner_secret_label(partner: Partner) -> str:
    """What the partner's secret is, in its target's words ("integrator password")."""
    return TARGETS[partner.connectwise.api].secret_label


def partner_secret_owner(partner: Partner) -> str:
    """Whose secret it is in ConnectWise (the SOAP integrator login, the REST API member)."""
    cw = partner.connectwise
    return target_settings(cw.api).secret_owner(cw)


def smtp_key(smtp: Smtp) -> str:
    return f"smtp:{smtp.username or ''}@{smtp.host}"


def partner_secret(partner: Partner) -> str:
    """The partner's ConnectWise secret; CredentialsError saying how to store it if missing."""
    return get_secret(
        partner_key(partner),
        f"{partner_secret_label(partner)} for {partner.name}",
        f"cwpublish credentials set --partner {partner.name}",
    )


def require_partner_secret(partner: Partner) -> None:
    """CredentialsError unless the partner's secret is stored (planning holds no secret)."""
    partner_secret(partner)


def smtp_password(smtp: Smtp) -> str | None:
    """The SMTP login password, or None when the server takes no login."""
    if not smtp.username:
        return None
    return get_secret(smtp_key(smtp), "SMTP password", "cwpublish credentials set --smtp")


def get_secret(key: str, what: str, set_hint: str) -> str:
    """The secret from its file or the keyring; CredentialsError if it is missing, unsafe or
    the keyring is unusable."""
    path = secret_file(key)
    if path is not None:
        value = read_secret_file(path)
    else:
        value = _keyring_get(key, what)
        if not value:
            raise CredentialsError(
                f"{what} is not in the keyring{_nor_file(key)}; {_store_hint(key, set_hint)}"
            )
        problem = control_character(value)
        if problem:  # stored by an older version, or by another tool
            raise CredentialsError(
                f"{what} in the keyring contains {problem} and cannot be sent; run `{set_hint}`"
            )

    register(value)  # masked from here on in every output, log, history and email
    return value


def has_secret(key: str) -> bool:
    """Whether a secret is stored (never returns the value); an unusable file raises."""
    return secret_source(key) is not None


def secret_source(key: str) -> str | None:
    """Where the secret comes from: "file:/path", "keyring", or None when it is missing.

    A file that is present but unusable raises SecretFileError (it would win over the
    keyring, so saying "keyring" would be wrong).
    """
    path = secret_file(key)
    if path is not None:
        read_secret_file(path)
        return f"file:{path}"
    return "keyring" if _keyring_get(key, None) else None


def secret_location(key: str) -> str:
    """Where the secret is, in words for a checklist: "in the file /run/credentials/...",
    "in the keyring (keyrings.alt.file.PlaintextKeyring)", or "not stored"."""
    source = secret_source(key)
    if source is None:
        return "not stored"
    if source.startswith("file:"):
        return f"in the file {source.removeprefix('file:')}"
    return f"in the keyring ({backend_name()})"


def secret_file_name(key: str) -> str:
    """The file name of a keyring key in $CREDENTIALS_DIRECTORY: `partner.<name>` or `smtp`."""
    kind, _, rest = key.partition(":")
    return "smtp" if kind == "smtp" else f"partner.{rest}"


def secret_file_path(key: str) -> Path | None:
    """Where the secret's file would be, or None when $CREDENTIALS_DIRECTORY is not set."""
    directory = os.environ.get(CREDENTIALS_ENV)
    return Path(os.path.abspath(directory), secret_file_name(key)) if directory else None


def secret_file(key: str) -> Path | None:
    """The secret's file when it exists (a symlink counts, even a broken one), else None;
    CredentialsDirectoryError when $CREDENTIALS_DIRECTORY is set but not a usable folder."""
    path = secret_file_path(key)
    if path is not None:
        check_directory(str(path.parent))
    return path if path is not None and os.path.lexists(path) else None


def read_secret_file(path: Path) -> str:
    """The secret in `path`, checked as the module docstring says; SecretFileError if not."""
    flags = os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SecretFileError(f"{path}: a symlink to nothing; fix or remove it") from None
    except PermissionError:
        raise SecretFileError(
            f"{path}: permission denied; the user cwpublish runs as must own it "
            f"(`chown` it, then `chmod 600 {path}`), or cwpublish runs as root"
        ) from None
    except OSError as e:
        raise SecretFileError(f"{path}: cannot open: {e.strerror}") from None
    try:
        check_file(path, fd, os.fstat(fd))
        data = b""
        while len(data) <= MAX_FILE_BYTES and (chunk := os.read(fd, MAX_FILE_BYTES + 1)):
            data += chunk
    except OSError as e:
        raise SecretFileError(f"{path}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise SecretFileError(f"{path}: more than {MAX_FILE_BYTES // 1024} KiB; not a password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretFileError(f"{path}: not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")  # the one final line break editors add
    if not text:
        raise SecretFileError(f"{path}: empty; write the secret into it")
    problem = control_character(text)
    if problem:
        raise SecretFileError(
            f"{path}: contains {problem}; only one final line break is allowed, so write the "
            "secret alone on one line (e.g. `printf '%s' \"$PW\" > FILE`)"
        )
    return text


def _nor_file(key: str) -> str:
    """' nor in /run/credentials/x/partner.acme' when $CREDENTIALS_DIRECTORY is set."""
    path = secret_file_path(key)
    return f" nor in {path}" if path is not None else ""


def _file_hint(key: str) -> str:
    """How to put the secret into $CREDENTIALS_DIRECTORY where it is deployed: a service or
    a container has no keyring, so advice to use one would be wrong there."""
    name = secret_file_name(key)
    return (
        f"give it as that file: systemd `LoadCredential={name}:/etc/cwpublish/credentials/"
        f"{name}`, a Kubernetes Secret key `{name}`, or a Docker secret `{name}` "
        "(mode 0400, owned by the user cwpublish runs as or by root)"
    )


def _store_hint(key: str, set_hint: str) -> str:
    """Write the file (where $CREDENTIALS_DIRECTORY is set) or run `credentials set`."""
    if secret_file_path(key) is None:
        return f"run `{set_hint}`"
    return f"{_file_hint(key)}, or run `{set_hint}`"


def _keyring_get(key: str, what: str | None) -> str | None:
    """The keyring's value; a keyring failure names the missing file too, when one was
    expected in $CREDENTIALS_DIRECTORY (a container without a keyring)."""
    try:
        return _call("get_password", key)
    except CredentialsError:
        path = secret_file_path(key)
        if path is None:
            raise
        label = f"{what}: " if what else ""
        raise CredentialsError(
            f"{label}no file {path} (and no usable keyring here); {_file_hint(key)}"
        ) from None


def keyring_secret(key: str) -> str | None:
    """What the keyring itself holds under `key` (no secret file), None when nothing."""
    return _call("get_password", key)


def set_secret(key: str, value: str) -> None:
    """Store a secret; CredentialsError for one that could never be sent.

    A control character (a line break, ESC, NUL...) cannot go into an HTTP header, a SOAP
    body or an SMTP login, so such a password would make every later publish fail; it is
    almost always a paste or terminal accident. Spaces are fine.
    """
    if not value:
        raise CredentialsError("refusing to store an empty password")
    problem = control_character(value)
    if problem:
        raise CredentialsError(
            f"refusing to store a password containing {problem}; "
            "type or pipe it again without line breaks or escape keys"
        )
    _call("set_password", key, value)


def control_character(value: str) -> str | None:
    """'a control character (U+001B)' for the first one in `value`, else None (never the
    value itself)."""

    found = CONTROL_RE.search(value)
    return f"a control character (U+{ord(found.group()):04X})" if found else None


def delete_secret(key: str) -> bool:
    """Delete a secret; False if there was none."""
    import keyring.errors

    try:
        _call("delete_password", key)
    except CredentialsError as e:
        if isinstance(e.__cause__, keyring.errors.PasswordDeleteError):
            return False
        raise
    return True


def backend_name() -> str:
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception as e:  # noqa: BLE001 - any backend failure is a keyring problem
        raise CredentialsError(f"keyring: {type(e).__name__}; {KEYRING_HINT}") from None
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _call(name: str, key: str, *args: str) -> str | None:
    import keyring
    import keyring.errors

    try:
        return getattr(keyring, name)(SERVICE, key, *args)
    except keyring.errors.PasswordDeleteError as e:
        raise CredentialsError(f"no keyring entry for {key}") from e
    except keyring.errors.NoKeyringError:
        raise CredentialsError(f"keyring: {KEYRING_HINT}") from None
    except keyring.errors.KeyringLocked:
        raise CredentialsError(
            f"keyring is locked; unlock it (or use a file backend under cron): {KEYRING_HINT}"
        ) from None
    except Exception as e:  # noqa: BLE001 - backends raise anything (D-Bus, OS errors)
        raise CredentialsError(
            f"keyring backend failed ({type(e).__name__}); {KEYRING_HINT}"
        ) from None
