"""The seam after a publish (notify/sink.py): a new sink is one class, it sees each entry only
once it is recorded, what it changes is kept; whether to email is decided in one place; only
the schedule's own runs ping."""

from __future__ import annotations

from datetime import date

from conftest import USAGE, partner_config
from cwpublish.config.load import load_config
from cwpublish.domain.record import ClientResult, Entry
from cwpublish.notify.email import not_emailing
from cwpublish.notify.sink import Sink, build_sinks
from cwpublish.publish.recording import Recorder
from cwpublish.state.history import History

PERIOD = f"{date.today():%Y-%m}"


def entry() -> Entry:
    e = Entry("acme", "manual", "me@example.com", "2026-11", "2026-11-20T10:00:00+00:00",
              "https://cw.example", finished_at="2026-11-20T10:00:05+00:00", status="success",
              exit_code=0)
    e.clients = [ClientResult("C0", "M-0", 1.5, "published")]
    return e


class Metrics(Sink):
    """What a later sink (a metrics file, a webhook) looks like: one class."""

    def __init__(self, state):
        self.state, self.seen = state, []

    def recording(self, partner, entry):
        self.seen.append(("recording", History(self.state).find(entry.id) is None))

    def recorded(self, partner, entry):
        self.seen.append(("recorded", History(self.state).find(entry.id) is not None))
        entry.warnings.append("metrics written")
        return True


def test_a_new_sink_sees_the_entry_after_it_is_recorded_and_its_change_is_kept(
    make_config, tmp_path
):
    config = load_config(make_config())
    metrics = Metrics(tmp_path / "state")
    recorder = Recorder(config, [*build_sinks(config, False), metrics])
    e = entry()
    recorder.record(config.partners[0], e)
    assert metrics.seen == [("recording", True), ("recorded", True)]
    kept = History(tmp_path / "state").find(e.id)
    assert kept["warnings"] == ["metrics written"]
    assert kept["notification"] == {"status": "disabled", "recipients": [], "error": "--no-email"}
    assert recorder.result.entries == [e] and recorder.result.state_error is None


def test_whether_to_email_is_decided_in_one_place(make_config, smtp_server):
    emailing = load_config(make_config(smtp=smtp_server.config))
    partner = emailing.partners[0]
    assert not_emailing(emailing, partner) is None
    assert not_emailing(emailing, partner, False) == {
        "status": "disabled", "recipients": [], "error": "--no-email"}
    no_smtp = load_config(make_config())
    assert not_emailing(no_smtp, no_smtp.partners[0]) == {
        "status": "not-configured", "recipients": list(no_smtp.partners[0].managers),
        "error": "no smtp section"}
    nobody = load_config(make_config(smtp=smtp_server.config,
                                     partners=[partner_config("http://127.0.0.1:9", managers=[])]))
    assert not_emailing(nobody, nobody.partners[0]) == {
        "status": "not-configured", "recipients": [], "error": "no managers"}
    assert smtp_server.messages == []


def test_a_manual_publish_of_a_scheduled_partner_pings_nothing(
    sim, make_config, password, run, ping_server
):
    url = f"http://127.0.0.1:{ping_server.server_address[1]}/ping/abc"
    partner = partner_config(sim.url, schedule={"day": 5, "ping_url": url})
    config = make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0
    assert ping_server.paths == []
