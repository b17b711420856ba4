"""Property (hypothesis), through the CLI: any client name or usage bytes publish exactly or
exit 2."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import partner_config
from cwpublish.config.model import UsageSource
from cwpublish.domain.period import Period
from cwpublish.errors import InputError
from cwpublish.publish.usage import read_usage

names = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=30).map(str.strip).filter(bool)


amounts = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False,
                      places=4)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(names, min_size=1, max_size=4, unique=True), st.lists(amounts, min_size=4,
                                                                       max_size=4))
def test_hostile_client_names_reach_connectwise_intact(sim, make_config, password, run, tmp_path,
                                                       client_names, gbs):
    import urllib.request

    sim.sim.tenants["acme"].pop("rest", None)  # SOAP only: its REST agreements name companies
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/reset", data=b"",
                                                  method="POST"), timeout=5).close()
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    clients = [{"name": n, "managed_id": f"C-{i}"} for i, n in enumerate(client_names)]
    sim.sim.tenants["acme"]["companies"] = [{**c, "device_type": "Backup Stats"}
                                            for c in clients]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["client", "billable_gb"])
    for c, gb in zip(clients, gbs, strict=False):
        writer.writerow([c["name"], str(gb)])
    config = make_config(partners=[partner_config(sim.url, clients=clients)],
                         usage={f"acme-{date.today():%Y-%m}.csv": out.getvalue()})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    held = sim.sim.state()["configurations"]["acme"]
    for c, gb in zip(clients, gbs, strict=False):
        got = held[c["managed_id"]]
        assert got["device_name"] == f"rCloud Backup - {c['name']}"
        assert Decimal(str(got["billable_space_gb"])) == gb.quantize(Decimal("0.01"),
                                                                      ROUND_HALF_UP)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=120))
def test_cli_with_random_usage_bytes_publishes_exactly_or_exits_2(sim, make_config, password,
                                                                  run, tmp_path, raw):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/reset", data=b"",
                                                  method="POST"), timeout=5).close()
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    content = b"client,billable_gb\nLaw Office of R. Smith,5\n" + raw
    usage_file = tmp_path / "usage" / f"acme-{date.today():%Y-%m}.csv"
    usage_file.parent.mkdir(exist_ok=True)
    usage_file.write_bytes(content)
    config = make_config(sim.url)
    result = run(config, "publish", "--yes")
    assert "Traceback" not in result.stdout + result.stderr
    held = sim.sim.state()["configurations"].get("acme", {})
    try:
        source = UsageSource(kind="csv", location=usage_file.name, base_dir=usage_file.parent)
        expected = read_usage(source, Period.of(date.today())).rows
    except InputError as e:
        assert result.exit_code == 2 and held == {}
        assert str(e) in result.stdout and "\n" not in str(e)
        return
    assert result.exit_code in (0, 3)
    by_name = {"Law Office of R. Smith": "LAWSMITH", "Contoso Dental": "CONTOSO-01",
               "Northwind Traders": "NORTHWIND"}
    sent = {mid: Decimal(str(c["billable_space_gb"])) for mid, c in held.items()}
    assert sent == {by_name[n]: gb for n, gb in expected.items() if n in by_name}
