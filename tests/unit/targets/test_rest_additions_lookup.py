"""One look-up of an agreement's additions serves publishing (lookups.additions) and reconcile
(reads.additions): the same request, with the union of the fields each needs; each caller
keeps its own filtering (publishing: every addition of the product, whatever its dates;
reconcile: the one in effect for the period). The HTTP transport is replaced by a stand-in
that answers `pages` and records each request."""

from __future__ import annotations

from decimal import Decimal

from cwpublish.domain.period import Period
from cwpublish.targets.connectwise_rest import lookups, reads

NOV = Period(2026, 11)
ADDITIONS = [
    {"id": 1, "product": {"identifier": "BACKUP-GB"}, "quantity": 10, "unitPrice": 0.25,
     "lessIncluded": 2, "effectiveDate": "2026-01-01T00:00:00Z", "cancelledDate": None},
    {"id": 2, "product": {"identifier": "BACKUP-GB"}, "quantity": 5, "unitPrice": 0.3,
     "lessIncluded": 0, "effectiveDate": "2025-01-01T00:00:00Z",
     "cancelledDate": "2025-12-31T00:00:00Z"},  # cancelled before November
    {"id": 3, "product": {"identifier": "OTHER"}, "quantity": 7},  # a server ignoring conditions
]


class Pages:
    """Answers `pages` like RestClient, recording (path, conditions, fields) of each call."""

    def __init__(self):
        self.calls: list[tuple[str, str, str]] = []

    def pages(self, path: str, conditions: str, fields: str) -> list[dict]:
        self.calls.append((path, conditions, fields))
        return [dict(a) for a in ADDITIONS] if path.endswith("/additions") else []


def _additions_calls(client: Pages) -> list[tuple[str, str, str]]:
    return [c for c in client.calls if c[0].endswith("/additions")]


def test_publishing_and_reconcile_make_the_same_additions_request_with_every_field():
    publishing, reconcile = Pages(), Pages()
    found = lookups.additions(publishing, 42, "BACKUP-GB")
    [held] = reads.additions(reconcile, {42: ("Backup", ["LAW-A"])}, "BACKUP-GB", NOV)
    assert _additions_calls(publishing) == _additions_calls(reconcile)
    [(path, conditions, fields)] = _additions_calls(reconcile)
    assert path == "/finance/agreements/42/additions"
    assert conditions == 'product/identifier="BACKUP-GB"'
    assert set(fields.split(",")) >= {
        "id", "product", "quantity", "lessIncluded", "unitPrice", "agreementStatus",
        "effectiveDate", "cancelledDate",
    }
    assert [a["id"] for a in found] == [1, 2]  # publishing: the product's, whatever the dates
    assert held.problem is None and held.keys == ("LAW-A",)  # reconcile: the one in effect
    assert (held.gb, held.unit_price, held.less_included) == (10, Decimal("0.25"), 2)
