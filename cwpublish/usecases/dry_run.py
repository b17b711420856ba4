"""--dry-run: plan and preview a manual publish, send and write nothing, exit as the real
run would (the previews are shaped like history entries, for --json)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cwpublish.config.model import Config
from cwpublish.domain.outcome import dry_run_exit_code, preview_outcome
from cwpublish.domain.record import INVOICED, ClientResult, Entry, Status
from cwpublish.publish.duplicates import duplicate_keys, find_duplicates
from cwpublish.publish.overwrites import (
    Overwrite,
    find_overwrites,
    overwrite_keys,
)
from cwpublish.publish.plan import (
    Plan,
)
from cwpublish.publish.summing import context_rows
from cwpublish.targets.registry import target_class
from cwpublish.usecases.invoice_guard import missed_by
from cwpublish.usecases.manual_publish import ManualRequest, plan_request


@dataclass
class DryRun:
    """A dry run's previews (history-entry shaped), exit code, and masked request bodies."""

    previews: list[dict]
    exit_code: int
    bodies: list[str] = field(default_factory=list)

    def entries(self) -> list[Entry]:
        """Each preview as a typed Entry for the terminal (no ID, no times: nothing ran).
        The previews stay dicts: their --json key order is not an Entry's, and a newer-held
        row carries `held`."""
        return [preview_entry(p) for p in self.previews]


def preview_entry(p: dict) -> Entry:
    """A preview (built by `preview` below) as an Entry, for rendering only."""
    return Entry(
        partner=p["partner"], mode=p["mode"], initiated_by=p["initiated_by"],
        period=p["period"], started_at="", site=p["site"], id="", status=p["status"],
        exit_code=p["exit_code"], error=p["error"], usage_source=p["usage_source"],
        clients=[ClientResult.from_dict(c) for c in p["clients"]],
        unmapped=list(p["unmapped"]), warnings=list(p["warnings"]),
        summed_with=list(p["summed_with"]), invoices=list(p["invoices"]),
        usage_unreadable=p["usage_unreadable"],
    )


def dry_run(config: Config, req: ManualRequest, bodies: bool = False) -> DryRun:
    """What publish_manual would do, sending and writing nothing (`bodies`: the masked
    request of each plan's first call, for -v)."""
    plans, _ = plan_request(config, req)
    duplicates = [] if req.force else find_duplicates(config.state_dir, plans)
    overwrites = [] if req.force else find_overwrites(config.state_dir, plans)
    previews = [
        preview(plan, duplicate_keys(duplicates, plan), overwrite_keys(overwrites, plan),
                req.force)
        for plan in plans
    ]
    invoiced = not req.force and any(missed_by(p) for p in plans)
    refused = bool(duplicates or overwrites) or invoiced
    result = DryRun(previews, dry_run_exit_code(previews, refused))
    if bodies:
        result.bodies = request_bodies(plans)
    return result


def request_bodies(plans: list[Plan]) -> list[str]:
    """The masked request of each plan's first call (-v), as its target would send it."""
    return [
        target_class(p.partner.connectwise.api).preview(p.partner, p.to_send)
        for p in plans
        if p.to_send
    ]


def preview(
    plan: Plan,
    duplicates: set[str],
    newer: dict[str, Overwrite] | None = None,
    force: bool = False,
) -> dict:
    """What a plan would do, shaped like a history entry (for --dry-run and its --json).

    A client is `duplicate` (already published for the period), `newer-held` (ConnectWise
    holds a newer month, its `held`, that this run would replace for good), `invoiced` (its
    agreement was invoiced after the day this period was due; --force) or `would-publish`.
    """
    newer = newer or {}
    missed = {} if force else {k: m for m in missed_by(plan) for k in m.state.keys}

    def row(r) -> dict:
        found = ClientResult(
            r.client, r.key, float(r.billable_gb), Status.WOULD_PUBLISH
        ).to_dict()
        if r.key in duplicates:
            found.update(status=Status.DUPLICATE.value,
                         error="already published for this period; needs --force")
        elif r.key in newer:
            held = newer[r.key]
            found.update(status=Status.NEWER_HELD.value, held=held.held, error=(
                f"ConnectWise holds {held.held} ({held.since}), newer than {plan.period}: it "
                "would be replaced; needs --force"
            ))
        elif r.key in missed:
            reason = missed[r.key].reason(plan.period)
            found.update(
                status=Status.INVOICED.value, error=f"{reason}; needs --force", kind=INVOICED
            )
        return found

    clients = [row(r) for r in plan.to_send]
    clients += [
        {**c.to_dict(), "status": Status.FAILED.value} for c in plan.failed + plan.unread
    ]
    sending = sum(1 for c in clients if c["status"] == Status.WOULD_PUBLISH)
    failing = len(clients) - sending
    clients += [c.to_dict() for c in plan.skipped]  # a scheduled retry's done clients
    status, code = preview_outcome(
        sending, failing, plan.error_exit if plan.error else None, plan.mode == "automatic",
        [c.get("kind") for c in clients if c["status"] != Status.WOULD_PUBLISH],
    )
    return {
        "partner": plan.partner.name,
        "mode": plan.mode,
        "initiated_by": plan.initiated_by,
        "period": str(plan.period),
        "site": plan.partner.connectwise.site,
        "dry_run": True,
        "status": status,
        "exit_code": code,
        "error": plan.error,
        "usage_source": plan.usage_source,
        "clients": clients,
        "unmapped": plan.unmapped,
        "warnings": list(plan.notes),
        "summed_with": context_rows(plan.context),
        "invoices": [s.to_dict() for s in plan.invoices],
        "usage_unreadable": bool(plan.unread),
    }
