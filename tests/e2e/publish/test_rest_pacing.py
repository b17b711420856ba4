"""A REST publish against the simulator's rate limit (Cloudflare's 429 `error code: 1015`
past N requests per rolling second): the pacer keeps refusals under the bound and every
value arrives; `connectwise.max_requests_per_second` paces from the first request."""

from __future__ import annotations

import pytest
from test_rest_publish import configure, held

from conftest import rest_data, tenant
from cwpublish.simulator import SimulatorServer

CLIENTS = 60
LIMIT = 30


@pytest.fixture
def limited():
    names = [f"Client {i:02d}" for i in range(CLIENTS)]
    companies = [{"name": n, "managed_id": f"C{i:02d}"} for i, n in enumerate(names)]
    server = SimulatorServer({"tenants": [tenant(companies, rest=rest_data(
        agreements=[], rate_limit={"requests_per_second": LIMIT}))]}).start()
    yield server, names
    server.stop()


def publish(run, make_config, server, names, **cw):
    """Publish `names` (every client new: one create each); the REST statuses in order."""
    clients = [{"name": n, "company": f"C{i:02d}"} for i, n in enumerate(names)]
    usage = "client,billable_gb\n" + "".join(f"{n},{i + 0.5}\n" for i, n in enumerate(names))
    config = configure(make_config, server.url, clients=clients, usage=usage,
                       parallel_requests=4, **cw)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    statuses = [r["status"] for r in server.sim.state()["requests"] if r.get("api") == "rest"]
    assert held(server) == {f"C{i:02d}": [i + 0.5] for i in range(len(names))}
    return statuses


def test_paced_to_the_site_every_value_arrives_with_few_refusals(
    limited, make_config, rest_key, run
):
    server, names = limited
    statuses = publish(run, make_config, server, names)
    # the first burst meets the limit once (what was in flight then, 4 at most, is refused
    # with it; each retried at its turn); after that the pace stays under the limit. Before
    # the pacer, most of the creates were refused and retried until retries ran out.
    assert statuses.count(429) <= 2 * 4, statuses


def test_a_known_limit_is_never_hit(limited, make_config, rest_key, run):
    server, names = limited
    # a third under the limit: requests delayed on a loaded machine still fit in its second
    statuses = publish(run, make_config, server, names[:30], max_requests_per_second=20)
    assert statuses.count(429) == 0
