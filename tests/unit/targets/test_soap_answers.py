"""Reading SOAP successes without zeep: only the exact answer to the call made is a success,
and a publish that meets no fault never loads zeep."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from conftest import USAGE, partner_config
from cwpublish.targets.connectwise_soap.answers import (
    FaultAnswer,
    NotXml,
    OddAnswer,
    WrongAnswer,
    XmlRefused,
    group_identifiers,
    result_text,
)

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OP = "UpdateManagedDevices"


def answer(inner: str, op: str = OP, head: str = "") -> bytes:
    return (
        f'{head}<s:Envelope xmlns:s="{ENV}"><s:Body><{op}Response xmlns="http://connectwise.com">'
        f"{inner}</{op}Response></s:Body></s:Envelope>"
    ).encode()


def test_the_result_text_is_read():
    assert result_text(answer(f"<{OP}Result>Managed ID 'X' was not found.</{OP}Result>"), OP) == (
        "Managed ID 'X' was not found."
    )
    assert result_text(answer(f"<{OP}Result/>"), OP) == ""
    assert result_text(answer(""), OP) is None
    nil = f'<{OP}Result xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
    assert result_text(answer(nil), OP) is None
    assert result_text(answer(f"<!-- a comment --><{OP}Result>ok</{OP}Result>"), OP) == "ok"
    nil_text = nil.replace("/>", ">Managed ID 'X' was not found.</" + OP + "Result>")
    assert result_text(answer(nil_text), OP) == "Managed ID 'X' was not found."  # never hidden


@pytest.mark.parametrize(
    "content, error",
    [
        (answer(f"<{OP}Result>a</{OP}Result><Extra/>"), OddAnswer),
        (answer("<Stray>x</Stray>"), OddAnswer),
        (answer(f"<{OP}Result><b>x</b></{OP}Result>"), OddAnswer),
        (answer("", op="GetManagedGroup"), WrongAnswer),  # another operation's answer
        (f'<s:Envelope xmlns:s="{ENV}"><s:Body/></s:Envelope>'.encode(), WrongAnswer),
        (
            f'<s:Envelope xmlns:s="{ENV}"><s:Body><s:Fault><faultcode>s:Server</faultcode>'
            "</s:Fault></s:Body></s:Envelope>".encode(),
            FaultAnswer,  # a fault is never a success, whatever the HTTP status said
        ),
        (  # a Fault after the response: still a fault
            answer(f"<{OP}Result/>").replace(
                b"</s:Body>", b"<s:Fault><faultstring>Login failed</faultstring></s:Fault></s:Body>"
            ),
            FaultAnswer,
        ),
        (  # a second Body holding a Fault
            answer("").replace(b"</s:Envelope>", b"<s:Body><s:Fault/></s:Body></s:Envelope>"),
            FaultAnswer,
        ),
        (answer("").replace(b"</s:Body>", b"<Other xmlns='urn:x'/></s:Body>"), WrongAnswer),
        (answer("").replace(b"</s:Envelope>", b"<s:Body/></s:Envelope>"), WrongAnswer),
        (b'<Envelope xmlns="urn:other"><Body/></Envelope>', WrongAnswer),
        (b"<a><b></a>", NotXml),
        (b"not xml", NotXml),
        (answer(f"<{OP}Result>&x;</{OP}Result>", head='<!DOCTYPE s [<!ENTITY x "y">]>'),
         XmlRefused),
        (answer("", head='<!DOCTYPE s SYSTEM "file:///etc/passwd">'), XmlRefused),
    ],
)
def test_anything_else_is_refused(content, error):
    with pytest.raises(error):
        result_text(content, OP)


def test_an_element_name_in_an_error_is_cut_short():
    with pytest.raises(OddAnswer) as e:
        result_text(answer(f"<{OP}Result/><{'x' * 5000}/>"), OP)
    assert len(e.value.what) < 100


def test_group_identifiers_refuse_anything_but_managed_groups():
    with pytest.raises(OddAnswer):
        group_identifiers(answer("<GetManagedGroupResult><Stray/></GetManagedGroupResult>",
                                 "GetManagedGroup"))
    assert group_identifiers(answer("", "GetManagedGroup")) == set()


def test_group_identifiers_are_read_and_blanks_dropped():
    groups = "".join(
        f"<ManagedGroup><DeviceType>B</DeviceType><GroupIdentifier>{g}</GroupIdentifier>"
        "</ManagedGroup>"
        for g in ("MID-1", " MID-2 ", "")
    )
    content = answer(f"<GetManagedGroupResult>{groups}</GetManagedGroupResult>", "GetManagedGroup")
    assert group_identifiers(content) == {"MID-1", "MID-2"}


def test_a_publish_that_meets_no_fault_never_loads_zeep(sim, make_config, password, tmp_path):
    """zeep costs a run ~40 ms to import and parse the WSDL: only a fault or `wsdl: live`
    should pay it. Run in a fresh interpreter, since the test process has zeep loaded."""
    config = make_config(
        partners=[partner_config(sim.url)], usage={f"acme-{date.today():%Y-%m}.csv": USAGE}
    )
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'zeep loaded: {\"zeep\" in sys.modules}'))\n"
        "from cwpublish.cli import cli\n"
        "cli(['-c', sys.argv[1], 'publish', '--yes', '--json'], prog_name='cwpublish')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(config)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["entries"][0]["status"] == "success"
    assert done.stderr.endswith("zeep loaded: False")
