"""Helpers shared by several test files (conftest.py holds the fixtures and the simulator's)."""

from __future__ import annotations

import json
import os
import stat
import urllib.request
from datetime import date
from pathlib import Path

from conftest import CLIENTS, SECRET, USAGE, partner_config, sim_state, soap_requests
from cwpublish.config.load import load_config
from cwpublish.config.model import ConnectWise, Partner, state_key
from cwpublish.domain.record import ClientResult, Entry
from cwpublish.state.history import History

# -- state files, without a configuration ---------------------------------------------------------


def partner(site: str = "https://cw.acme.example", company: str = "acme", name: str = "acme"):
    """A bare Partner whose state key is built from site and company."""
    cw = ConnectWise(site=site, company_id=company, settings=None)
    return Partner(name=name, connectwise=cw, usage=None, clients=())  # type: ignore[arg-type]


def entry(period: str, site: str = "https://cw.acme.example", mode: str = "automatic") -> Entry:
    """A finished publish of one client for `period`."""
    e = Entry("acme", mode, "cron", period, f"{period}-05T02:00:00+00:00", site,
              finished_at=f"{period}-05T02:01:00+00:00")
    e.clients = [ClientResult("A", "A-1", 1.0, "published")]
    return e


def mode(path: Path) -> int:
    """A path's permission bits, never following a link."""
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- a scheduled partner through the CLI -----------------------------------------------------------

NOV = {"acme-2026-11.csv": USAGE}
OLD_ID = "0123456789ab"
DAY = "2026-11-05 15:00:00"  # day 5 in New York: the scheduled publish is due


def scheduled(url: str, **overrides) -> dict:
    """A partner published on day 5 in New York."""
    return partner_config(url, schedule={"day": 5, "timezone": "America/New_York"}, **overrides)


def key_of(config: Path) -> str:
    """The state key of the configuration's first partner."""
    return state_key(load_config(config).partners[0])


# -- odd answers and secrets -----------------------------------------------------------------------


def configure(make_config, url: str, **cw) -> object:
    """One partner without retries, publishing this month from conftest's usage."""
    partner = partner_config(url)
    partner["connectwise"].update({"retries": 0, **cw})
    return make_config(partners=[partner], usage={f"acme-{date.today():%Y-%m}.csv": USAGE})


def assert_no_secret(result, tmp_path, secret: str = SECRET) -> None:
    """No secret, traceback or internal error in the output or any state file."""
    everything = result.stdout + result.stderr
    assert secret not in everything and "Traceback" not in everything
    assert "internal error" not in everything
    for f in (tmp_path / "state").rglob("*.json"):
        assert secret not in f.read_text()


# -- history entries and what the simulator received ---------------------------------------------


def sent_ids(sim, since: int = 0) -> list[str]:
    """The Managed IDs of every device the simulator received since request number `since`."""
    return [
        d["managed_id"]
        for r in soap_requests(sim)[since:]
        if r["operation"] == "UpdateManagedDevices"
        for d in r["devices"]
    ]


def add_entry(tmp_path, sim_url: str, clients: list[ClientResult], **fields) -> Entry:
    """A history entry as an earlier run would have left it (e.g. one killed mid-way)."""
    fields = {"period": f"{date.today():%Y-%m}", **fields}
    entry = Entry(
        partner="acme",
        mode="manual",
        initiated_by="earlier@example.com",
        started_at=f"{date.today():%Y-%m-%d}T08:00:00+00:00",
        site=sim_url,
        clients=clients,
        **fields,
    )
    History(tmp_path / "state").add(entry)
    return entry


def rows(*statuses: tuple[str, str, str | None]) -> list[ClientResult]:
    """ClientResults of the conftest clients by Managed ID: (managed_id, status, kind)."""
    names = {c["managed_id"]: c["name"] for c in CLIENTS}
    return [
        ClientResult(names[mid], mid, 1.0, status, None if status == "published" else "x", kind)
        for mid, status, kind in statuses
    ]


# -- REST agreement additions and their invoices (the simulator's /_sim/invoice) ----------------

# acme's clients in agreement_addition mode: two on LAWSMITH's agreement, one on CONTOSO-01's
ADDITION_CLIENTS = [
    {"name": "Law Office of R. Smith", "company": "LAWSMITH", "managed_id": "LAW-A"},
    {"name": "Northwind Traders", "company": "LAWSMITH", "managed_id": "LAW-B"},
    {"name": "Contoso Dental", "company": "CONTOSO-01"},
]


def invoice(server, company: str, on: str) -> None:
    """Generate the company's agreement invoice on `on` (POST /_sim/invoice)."""
    [agreement] = [a for a in server.sim.rest.tenants["acme"].agreements
                   if a["company"]["identifier"] == company]
    body = json.dumps({"agreement": agreement["id"], "date": on}).encode()
    request = urllib.request.Request(f"{server.url}/_sim/invoice", data=body, method="POST")
    urllib.request.urlopen(request, timeout=5).close()


def additions(server) -> dict:
    """company -> the quantities of its agreement additions the simulator holds."""
    rest = sim_state(server)["rest"]["acme"]
    return {ident: [a["quantity"] for a in c["additions"]] for ident, c in rest.items()
            if c["additions"]}
