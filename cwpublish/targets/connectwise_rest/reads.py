"""What ConnectWise holds now for a partner's clients, read over REST and never written
(`reconcile`): each client's configuration values, or the quantity, unit price and
`lessIncluded` of the addition that bills the period on its agreement, with the agreement's
last and next invoice dates. The same look-ups as publishing (lookups.py), paged."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cwpublish.domain.invoices import AgreementInvoices
from cwpublish.domain.period import Period
from cwpublish.domain.record import device_identifier
from cwpublish.targets.connectwise_rest import invoicing, lookups
from cwpublish.targets.connectwise_rest.client import RestClient
from cwpublish.targets.connectwise_rest.rules import gb, in_effect


@dataclass(frozen=True)
class Held:
    """What ConnectWise holds for one client (configuration mode) or one agreement (addition
    mode: `keys` are the clients on it); `problem` says why nothing could be read."""

    keys: tuple[str, ...]
    gb: Decimal | None = None  # the configuration's GB, or the addition's quantity
    period: str | None = None  # configuration mode: the month the record says it holds
    unit_price: Decimal | None = None
    less_included: Decimal | None = None
    invoices: AgreementInvoices | None = None
    problem: str | None = None

    def amount(self) -> Decimal | None:
        """What the next invoice bills for the addition: (quantity - lessIncluded) x price."""
        if self.gb is None or self.unit_price is None:
            return None
        billed = max(Decimal(0), self.gb - (self.less_included or Decimal(0)))
        return (billed * self.unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def configurations(client: RestClient, type_id: int, keys: list[str]) -> dict[str, Held]:
    """key -> the configuration `rcloud-<key>` of the partner's type (one, or a problem)."""
    ids = {k: device_identifier(k) for k in keys}
    found = lookups.configurations(client, type_id, ids.values())
    out = {}
    for key, ident in ids.items():
        matches = found.get(ident.casefold(), [])
        if len(matches) != 1:
            why = "none" if not matches else f"{len(matches)} configurations"
            out[key] = Held((key,), problem=f"{why} with deviceIdentifier {ident!r}")
            continue
        c = matches[0]
        year, month = c.get("backupYear"), c.get("backupMonth")
        held = f"{year:04d}-{month:02d}" if isinstance(year, int) and isinstance(month, int) \
            else None
        out[key] = Held((key,), gb(c.get("backupBillableSpaceGb")), held)
    return out


def additions(
    client: RestClient, agreements: dict[int, tuple[str, list[str]]], product: str,
    period: Period,
) -> list[Held]:
    """Per agreement (id -> its name and the clients on it): the addition of `product` that
    bills the period, with its price and the agreement's invoice dates."""
    recaps = invoicing.recaps(client, agreements)
    out = []
    for aid, (name, keys) in agreements.items():
        r = recaps[aid]
        dates = AgreementInvoices(name, aid, tuple(keys), r["last"], r["next"], r["cycle"],
                                  r["problem"])
        found = [a for a in lookups.additions(client, aid, product) if in_effect(a, period)]
        if len(found) != 1:
            why = f"no addition {product!r}" if not found else f"{len(found)} additions {product!r}"
            out.append(Held(tuple(keys), invoices=dates, problem=f"{why} in effect in {period}"))
            continue
        a = found[0]
        out.append(Held(tuple(keys), gb(a.get("quantity")), None, _number(a.get("unitPrice")),
                        gb(a.get("lessIncluded")), dates))
    return out


def _number(value: object) -> Decimal | None:
    """A price as ConnectWise holds it, unrounded (None when it is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def holdings(target: Any, keys: list[str], period: Period) -> list[Held]:
    """For `reconcile`: per client (configuration mode) or per agreement (addition mode),
    what ConnectWise holds now; a client whose company or agreement cannot be found is a
    Held with its problem. Only GETs. (`target`: the RestTarget, which imports this module.)"""
    if target.setup is None:
        target.preflight()
    if not target.companies and not target.problems:
        target.known_keys()
    known = [k for k in keys if k in target.companies]
    out = [Held((k,), problem=target.unknown_key_error(k)) for k in keys if k not in known]
    if target.rest.publish_to == "configuration":
        assert target.setup is not None
        found = configurations(target.client, target.setup["id"], known)
        return out + [found[k] for k in known]
    company_ids = {target.companies[k]["id"] for k in known}
    agreements = lookups.agreements(target.client, company_ids, target.rest.agreement_type or "")
    chosen: dict[str, dict] = {}
    for k in known:
        agreement, error = target._agreement_of(k, agreements)
        if agreement is None:
            out.append(Held((k,), problem=error))
        else:
            chosen[k] = agreement
    grouped = group_by_agreement(chosen)
    return out + additions(target.client, grouped, target.rest.product or "", period)


def group_by_agreement(pairs: dict[str, dict]) -> dict[int, tuple[str, list[str]]]:
    """key -> its agreement, as agreement id -> (name, keys)."""
    on: dict[int, list[str]] = defaultdict(list)
    names: dict[int, str] = {}
    for key, agreement in pairs.items():
        on[agreement["id"]].append(key)
        names[agreement["id"]] = str(agreement.get("name", ""))
    return {aid: (names[aid], keys) for aid, keys in on.items()}
