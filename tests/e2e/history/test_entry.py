"""The history entry's JSON shape is exactly its dataclass fields, in order."""

from dataclasses import asdict

from cwpublish.domain.record import ClientResult, Entry


def test_to_dict_matches_asdict():
    entry = Entry(partner="a", mode="manual", initiated_by="x", period="2026-11",
                  started_at="t", site="s", clients=[ClientResult("n", "m", 1.0, "published")],
                  unmapped=[{"client": "c", "billable_gb": 1.0}],
                  notification={"status": "sent"})
    data = entry.to_dict()
    assert data == asdict(entry) and list(data) == list(asdict(entry))
    data["clients"][0]["status"] = "changed"
    assert entry.clients[0].status == "published"  # a copy, not a view
