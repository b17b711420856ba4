"""The ConnectWise REST API v3.0 target (`connectwise.api: rest`): cloud ConnectWise.

Per client, either a configuration of the partner's type on the client's company, found by
deviceIdentifier `rcloud-<key>` (what the SOAP API created, so a partner moving from SOAP
keeps its records), or the quantity of the rCloud addition on the company's agreement.
"""

from __future__ import annotations

from collections import defaultdict

from cwpublish import log
from cwpublish.config.model import Partner
from cwpublish.domain.invoices import AgreementInvoices
from cwpublish.domain.period import Period
from cwpublish.domain.record import (
    NOT_SENT,
    NOT_SENT_TEXT,
    UNKNOWN_KEY,
    Progress,
    RecordResult,
    UsageRecord,
    device_identifier,
)
from cwpublish.errors import ConnectWiseError, LoginRejected
from cwpublish.targets.base import Sent, Target
from cwpublish.targets.connectwise_rest import directory, invoicing, lookups, reads
from cwpublish.targets.connectwise_rest.client import RestClient
from cwpublish.targets.connectwise_rest.writes import (
    Write,
    addition_write,
    configuration_write,
    run_writes,
)
from cwpublish.text.redaction import MASK

KEYS_FIX = (
    "check the API member's public and private keys (System > Members > API Members), "
    "its security role, and the clientId"
)


class RestTarget(Target):
    """A partner's cloud ConnectWise through REST, as its API member."""

    reads_back = True

    def __init__(self, partner: Partner, secret: str):
        super().__init__(partner, secret)
        self.rest = self.cw.settings
        self.client = RestClient(self.cw, secret)
        self.by_key = {c.managed_id: c for c in partner.clients}
        self.companies: dict[str, dict] = {}  # key -> its one active company
        self.problems: dict[str, str] = {}  # key -> why its company cannot be used
        self.setup: dict | None = None  # the configuration type or the catalog item
        self.context: list = []  # summing.OtherClient: the partner's clients not in this run

    @classmethod
    def describe(cls, partner: Partner) -> str:
        cw, rest = partner.connectwise, partner.connectwise.settings
        where = (
            f"configuration type {rest.configuration_type!r}"
            if rest.publish_to == "configuration"
            else f"addition {rest.product!r} on the {rest.agreement_type!r} agreement"
        )
        return (
            f"ConnectWise REST API at {cw.site} (company {cw.company_id}, API member "
            f"{rest.public_key}, version {rest.api_version}): {where}"
        )

    def preflight(self) -> str:
        """Codebase, keys and clientId (/system/info), then the type or product exists."""
        try:
            self.client.discover()
            self.client.get("/system/info")
            self.setup = self._setup()
        except ConnectWiseError as e:
            if e.kind == "auth":
                raise LoginRejected(
                    e.operation, e.message, rejected="the API member keys or the clientId",
                    fix=KEYS_FIX,
                ) from None
            raise
        what = (
            f"configuration type {self.rest.configuration_type!r}"
            if self.rest.publish_to == "configuration"
            else f"product {self.rest.product!r}"
        )
        return f"logged in as API member {self.rest.public_key}; {what} exists"

    def _setup(self) -> dict:
        if self.rest.publish_to == "configuration":
            name = self.rest.configuration_type
            found = lookups.configuration_type(self.client, name)
            what, key = "configuration type", "configuration_type"
            fix = "create it (Setup Tables > Configuration Types)"
        else:
            name = self.rest.product or ""
            found = lookups.product(self.client, name)
            what, key = "catalog product", "product"
            fix = "create it in the product catalog (Procurement)"
        if found is None:
            raise LoginRejected(
                "GET setup",
                f"ConnectWise has no single active {what} {name!r}",
                rejected=f"the {what} {name!r}",
                fix=f"{fix} or correct connectwise.{key}",
            )
        return found

    def known_keys(self) -> set[str] | None:
        """Companies by identifier: exactly one usable match per client (not deleted, its
        status not marked inactive: lookups.company_problem)."""
        wanted = {key: (c.company or key) for key, c in self.by_key.items()}
        found = lookups.companies(self.client, wanted.values())
        statuses = lookups.company_statuses(self.client)
        if statuses is None:
            log.warning(
                "%s: the company status list cannot be read (/company/companies/statuses): "
                "only companies whose status is named 'Active' are published to",
                self.partner.name,
            )
        for key, ident in wanted.items():
            matches = found.get(ident.casefold(), [])
            why = [lookups.company_problem(c, statuses) for c in matches]
            active = [c for c, problem in zip(matches, why, strict=True) if problem is None]
            if len(active) == 1:
                self.companies[key] = active[0]
            elif not matches:
                self.problems[key] = f"company {ident!r} not found in ConnectWise"
            elif not active:
                self.problems[key] = f"company {ident!r} {why[0]} in ConnectWise"
            else:
                ids = ", ".join(str(c.get("id")) for c in active)
                self.problems[key] = f"several active companies {ident!r} (ids {ids})"
        return set(self.companies)

    def client_problems(self, keys: list[str]) -> dict[str, str]:
        """Addition mode: exactly one matching agreement, at most one matching addition."""
        if self.rest.publish_to != "agreement_addition":
            return {}
        from datetime import date
        from decimal import Decimal

        period = Period.of(date.today())  # which additions bill now; never written
        probe = [UsageRecord(k, k, Decimal(0), period) for k in keys if k in self.companies]
        writes = self._addition_writes(probe)
        return {r.key: w.error for w in writes if w.error for r in w.records}

    def use_context(self, others: list) -> None:
        self.context = list(others)

    def invoicing(self, keys: list[str]) -> list[AgreementInvoices]:
        """Addition mode: each agreement these clients bill on, with its last and next
        invoice dates (agreementrecap) and billing cycle."""
        if self.rest.publish_to != "agreement_addition":
            return []
        if not self.companies and not self.problems:
            self.known_keys()
        keys = [k for k in keys if k in self.companies]
        company_ids = {self.companies[k]["id"] for k in keys}
        agreements = lookups.agreements(self.client, company_ids, self.rest.agreement_type or "")
        on: dict[int, list[str]] = defaultdict(list)
        names: dict[int, str] = {}
        for k in keys:
            agreement, _ = self._agreement_of(k, agreements)
            if agreement is not None:
                on[agreement["id"]].append(k)
                names[agreement["id"]] = str(agreement.get("name", ""))
        found = invoicing.recaps(self.client, on)
        return [
            AgreementInvoices(names[aid], aid, tuple(on[aid]), found[aid]["last"],
                              found[aid]["next"], found[aid]["cycle"], found[aid]["problem"])
            for aid in on
        ]

    def active_companies(self) -> list[dict] | None:
        return directory.active_companies(self.client)

    def holders(self, keys: list[str]) -> dict[str, list[dict]]:
        """migrate: client key -> the companies holding its configuration (rcloud-<key>)."""
        found = directory.holders(
            self.client, self.rest.configuration_type, [device_identifier(k) for k in keys]
        )
        return {k: found.get(device_identifier(k).casefold(), []) for k in keys}

    def holdings(self, keys: list[str], period: Period) -> list:
        """What ConnectWise holds now for these clients (reads.Held), read only (reconcile)."""
        return reads.holdings(self, keys, period)

    def unknown_key_error(self, key: str) -> str:
        return self.problems.get(key) or f"no ConnectWise company for {key!r}"

    def send(self, records: list[UsageRecord], progress: Progress | None = None) -> Sent:
        """After preflight() (the core's order, targets/base.py). The companies are what a
        write needs: when the core's look-up of them failed (it then sends anyway), they are
        looked up once more here, and a record without one is the unknown key it is."""
        try:
            if not self.companies and not self.problems:
                self.known_keys()
            unknown = [r for r in records if r.key not in self.companies]
            known = [r for r in records if r.key in self.companies]
            writes = self._writes(known)
        except ConnectWiseError as e:  # a look-up failed: nothing was written
            rows = [RecordResult(r, NOT_SENT_TEXT, NOT_SENT) for r in records]
            return Sent(rows, str(e))
        sent = run_writes(self.client, writes, self.cw.parallel_requests, progress)
        ok = {r.record.key for r in sent.results if r.error is None}
        done = [w for w in writes if w.records and all(r.key in ok for r in w.records)]
        summed = [o for w in done for o in w.summed]
        notes = [w.note for w in done if w.note]
        return Sent(self._in_order(records, sent.results, unknown), sent.stopped_by, summed, notes)

    def _in_order(self, records, results, unknown) -> list[RecordResult]:
        by_key = {r.record.key: r for r in results}
        by_key.update(
            {r.key: RecordResult(r, self.unknown_key_error(r.key), UNKNOWN_KEY) for r in unknown}
        )
        return [by_key[r.key] for r in records]

    def _writes(self, records: list[UsageRecord]) -> list[Write]:
        if self.rest.publish_to == "configuration":
            return self._configuration_writes(records)
        return self._addition_writes(records)

    def _configuration_writes(self, records: list[UsageRecord]) -> list[Write]:
        assert self.setup is not None
        ids = {r.key: device_identifier(r.key) for r in records}
        found = lookups.configurations(self.client, self.setup["id"], ids.values())
        return [
            configuration_write(
                r, self.companies[r.key], self.setup, found.get(ids[r.key].casefold(), []),
                ids[r.key],
            )
            for r in records
        ]

    def _addition_writes(self, records: list[UsageRecord]) -> list[Write]:
        """Per agreement, one write of the total: this run's records plus the context of the
        partner's other clients on the same agreement (summing.py), so a partial run never
        overwrites a sum with a part."""
        from concurrent.futures import ThreadPoolExecutor

        sending = {r.key for r in records}
        others = [
            o for o in self.context
            if o.key in self.companies and o.key not in sending and o.billable_gb is not None
        ]
        company_ids = {self.companies[k]["id"] for k in sending | {o.key for o in others}}
        agreements = lookups.agreements(self.client, company_ids, self.rest.agreement_type or "")
        writes: list[Write] = []
        on: dict[int, list[UsageRecord]] = defaultdict(list)
        chosen: dict[int, dict] = {}
        for r in records:
            agreement, error = self._agreement_of(r.key, agreements)
            if agreement is None:
                writes.append(Write([r], error=error))
                continue
            on[agreement["id"]].append(r)
            chosen[agreement["id"]] = agreement
        extra: dict[int, list] = defaultdict(list)
        for o in others:
            agreement, _ = self._agreement_of(o.key, agreements)
            if agreement is not None and agreement["id"] in on:
                extra[agreement["id"]].append(o)
        product = self.rest.product or ""
        with ThreadPoolExecutor(max_workers=self.cw.parallel_requests) as pool:
            found = dict(zip(on, pool.map(
                lambda aid: lookups.additions(self.client, aid, product), on
            ), strict=True))
        for aid in on:
            period = on[aid][0].period
            parts = [UsageRecord(o.name, o.key, o.billable_gb, period) for o in extra[aid]]
            write = addition_write(on[aid] + parts, chosen[aid], product, found[aid])
            write.records = on[aid]  # the others are only summed: their rows are not this run's
            write.summed = extra[aid]
            writes.append(write)
        return writes

    def _agreement_of(self, key: str, agreements: dict) -> tuple[dict | None, str | None]:
        """(the client's one matching agreement, None) or (None, why there is not one)."""
        company = self.companies[key]
        wanted = self.by_key[key].agreement
        options = [
            a for a in agreements.get(company["id"], [])
            if wanted is None or str(a.get("name", "")).casefold() == wanted.casefold()
        ]
        if len(options) == 1:
            return options[0], None
        kind = f"{self.rest.agreement_type!r} agreement"
        kind += f" named {wanted!r}" if wanted else ""
        where = f"company {company.get('identifier')!r}"
        if not options:
            return None, f"no active {kind} on {where}"
        names = ", ".join(f"{a.get('name')!r} (id {a.get('id')})" for a in options)
        return None, (
            f"several active {kind}s on {where}: {names}; name one with the client's `agreement`"
        )

    @classmethod
    def preview(cls, partner: Partner, records: list[UsageRecord]) -> str:
        rest = partner.connectwise.settings
        lines = [
            f"REST writes for {partner.name} {records[0].period} ({len(records)} clients), "
            f"each call with Authorization: Basic {MASK}, clientId {rest.client_id}:"
        ]
        for r in records[:20]:
            if rest.publish_to == "configuration":
                lines.append(
                    f"  {r.client}: configuration {device_identifier(r.key)!r} "
                    f"({rest.configuration_type}) <- backupBillableSpaceGb={r.billable_gb} "
                    f"backupYear={r.period.year} backupMonth={r.period.month} "
                    "(PATCH if it exists and differs, POST if none, nothing if equal)"
                )
            else:
                lines.append(
                    f"  {r.client}: {r.billable_gb} GB into the quantity of {rest.product!r} on "
                    f"its {rest.agreement_type!r} agreement (set, summed per agreement)"
                )
        if len(records) > 20:
            lines.append(f"  ... and {len(records) - 20} more")
        return "\n".join(lines)

    def close(self) -> None:
        self.client.close()
