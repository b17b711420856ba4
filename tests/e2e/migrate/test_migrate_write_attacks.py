"""`migrate --write` against files and keyrings as operators have them: a keyring that cannot
store (the file stays SOAP), a CRLF file, a second partner on the same site (left as it was)."""

from __future__ import annotations

import keyring
import keyring.errors
from test_migrate_write import MIGRATE, server, soap_published  # noqa: F401 - the fixture

from conftest import CLIENTS, REST_PRIVATE_KEY, SECRET, partner_config
from cwpublish.config.load import load_config


def test_a_keyring_that_cannot_store_leaves_the_file_soap(
    server, make_config, password, run, monkeypatch  # noqa: F811
):
    config = soap_published(server, make_config, run)
    before = config.read_bytes()

    def refuse(*_args):
        raise keyring.errors.PasswordSetError("the keyring is locked")

    stores = keyring.set_password
    monkeypatch.setattr(keyring, "set_password", refuse)
    result = run(config, *MIGRATE, "--write", "--yes", input=REST_PRIVATE_KEY + "\n")
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr and REST_PRIVATE_KEY not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
    assert config.read_bytes() == before
    assert load_config(config).partners[0].connectwise.api == "soap"
    monkeypatch.setattr(keyring, "set_password", stores)
    assert keyring.get_password("cwpublish", "connectwise:acme") == SECRET


def test_crlf_file_and_a_second_partner_on_the_same_site(
    server, make_config, password, run  # noqa: F811
):
    config = soap_published(server, make_config, run)
    other = partner_config(server.url, clients=[{"name": "Euro Co", "managed_id": "EURO-1"}])
    other["name"] = "acme-eu"
    config = make_config(partners=[partner_config(server.url, clients=[dict(c) for c in CLIENTS]),
                                   other])
    keyring.set_password("cwpublish", "connectwise:acme-eu", SECRET)
    config.write_bytes(config.read_bytes().replace(b"\n", b"\r\n"))
    result = run(config, *MIGRATE, "--write", "--yes", input=REST_PRIVATE_KEY + "\n")
    assert result.exit_code == 0, result.stdout + result.stderr
    partners = {p.name: p for p in load_config(config).partners}
    assert partners["acme"].connectwise.api == "rest"
    assert partners["acme-eu"].connectwise.api == "soap"
    assert keyring.get_password("cwpublish", "connectwise:acme-eu") == SECRET
    assert keyring.get_password("cwpublish", "connectwise:acme") == REST_PRIVATE_KEY
