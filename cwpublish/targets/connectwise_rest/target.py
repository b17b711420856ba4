"""The ConnectWise REST API v3.0 target (`connectwise.api: rest`): cloud ConnectWise.

Per client, either a configuration of the partner's type on the client's company, found by
deviceIdentifier `rcloud-<key>` (what the SOAP API created, so a partner moving from SOAP
keeps its records), or the quantity of the rCloud addition on the company's agreement.
"""

from __future__ import annotations

from collections import defaultdict

from cwpublish.config import Partner
from cwpublish.errors import ConnectWiseError, LoginRejected
from cwpublish.redaction import MASK
from cwpublish.targets.base import (
    NOT_SENT,
    NOT_SENT_TEXT,
    UNKNOWN_KEY,
    Progress,
    RecordResult,
    Sent,
    Target,
    UsageRecord,
    device_identifier,
)
from cwpublish.targets.connectwise_rest import lookups
from cwpublish.targets.connectwise_rest.client import RestClient
from cwpublish.targets.connectwise_rest.settings import SECRET_LABEL
from cwpublish.targets.connectwise_rest.writes import (
    Write,
    addition_write,
    configuration_write,
    run_writes,
)

KEYS_FIX = (
    "check the API member's public and private keys (System > Members > API Members), "
    "its security role, and the clientId"
)


class RestTarget(Target):
    """A partner's cloud ConnectWise through REST, as its API member."""

    secret_label = SECRET_LABEL
    key_label = "company"

    def __init__(self, partner: Partner, secret: str):
        super().__init__(partner, secret)
        self.rest = self.cw.settings
        self.client = RestClient(self.cw, secret)
        self.by_key = {c.managed_id: c for c in partner.clients}
        self.companies: dict[str, dict] = {}  # key -> its one active company
        self.problems: dict[str, str] = {}  # key -> why its company cannot be used
        self.setup: dict | None = None  # the configuration type or the catalog item

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
        """Companies by identifier: exactly one active, not-deleted match per client."""
        wanted = {key: (c.company or key) for key, c in self.by_key.items()}
        found = lookups.companies(self.client, wanted.values())
        for key, ident in wanted.items():
            matches = found.get(ident.casefold(), [])
            active = [c for c in matches if lookups.is_active(c)]
            if len(active) == 1:
                self.companies[key] = active[0]
            elif not matches:
                self.problems[key] = f"company {ident!r} not found in ConnectWise"
            elif not active:
                self.problems[key] = f"company {ident!r} is inactive or deleted in ConnectWise"
            else:
                ids = ", ".join(str(c.get("id")) for c in active)
                self.problems[key] = f"several active companies {ident!r} (ids {ids})"
        return set(self.companies)

    def client_problems(self, keys: list[str]) -> dict[str, str]:
        """Addition mode: exactly one matching agreement, at most one matching addition."""
        if self.rest.publish_to != "agreement_addition":
            return {}
        from decimal import Decimal

        from cwpublish.period import Period

        period = Period(2000, 1)  # only looked up, never written
        probe = [UsageRecord(k, k, Decimal(0), period) for k in keys if k in self.companies]
        writes = self._addition_writes(probe)
        return {r.key: w.error for w in writes if w.error for r in w.records}

    def unknown_key_error(self, key: str) -> str:
        return self.problems.get(key) or f"no ConnectWise company for {key!r}"

    def send(self, records: list[UsageRecord], progress: Progress | None = None) -> Sent:
        if self.setup is None:
            self.preflight()
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
        return Sent(self._in_order(records, sent.results, unknown), sent.stopped_by)

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
        from concurrent.futures import ThreadPoolExecutor

        company_ids = {self.companies[r.key]["id"] for r in records}
        agreements = lookups.agreements(self.client, company_ids, self.rest.agreement_type or "")
        writes: list[Write] = []
        on: dict[int, list[UsageRecord]] = defaultdict(list)
        chosen: dict[int, dict] = {}
        for r in records:
            company = self.companies[r.key]
            wanted = self.by_key[r.key].agreement
            options = [
                a for a in agreements.get(company["id"], [])
                if wanted is None or str(a.get("name", "")).casefold() == wanted.casefold()
            ]
            if len(options) == 1:
                on[options[0]["id"]].append(r)
                chosen[options[0]["id"]] = options[0]
                continue
            kind = f"{self.rest.agreement_type!r} agreement"
            kind += f" named {wanted!r}" if wanted else ""
            where = f"company {company.get('identifier')!r}"
            if not options:
                error = f"no active {kind} on {where}"
            else:
                names = ", ".join(f"{a.get('name')!r} (id {a.get('id')})" for a in options)
                error = (
                    f"several active {kind}s on {where}: {names}; "
                    "name one with the client's `agreement`"
                )
            writes.append(Write([r], error=error))
        product = self.rest.product or ""
        with ThreadPoolExecutor(max_workers=self.cw.parallel_requests) as pool:
            found = dict(zip(on, pool.map(
                lambda aid: lookups.additions(self.client, aid, product), on
            ), strict=True))
        writes += [addition_write(on[aid], chosen[aid], product, found[aid]) for aid in on]
        return writes

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
