"""What each way of publishing does to an invoice, stated plainly (check-config, README).

Only the REST agreement addition bills by itself: its quantity is read when the agreement
invoice is generated. A configuration record (REST `publish_to: configuration`) only records
usage on the company's Configuration tab; over REST no management sync flows it into an
agreement, so a partner who believes it bills would silently bill nothing.
"""

from __future__ import annotations

from cwpublish.config.model import Partner
from cwpublish.targets.registry import target_settings


def billing_statement(partner: Partner) -> tuple[str, str]:
    """(check status, sentence) saying whether this partner's publishes reach an invoice."""
    cw = partner.connectwise
    if target_settings(cw.api).record_kind(cw) == "agreement_addition":
        settings = cw.settings
        return "ok", (
            f"bills: publish_to agreement_addition sets the quantity of {settings.product!r} "
            f"on each client's {settings.agreement_type!r} agreement, which the agreement "
            "invoice reads when it is generated"
        )
    if cw.api == "rest":
        return "warn", (
            "does not bill by itself: publish_to configuration records usage on each "
            "company's Configuration tab only; over REST nothing flows it into an agreement, "
            "so it reaches no invoice (use publish_to: agreement_addition to bill)"
        )
    return "ok", (
        "records usage on each company's Configuration tab (Managed Device API); it reaches "
        "an invoice only through the Management IT solution's Default Agreement in "
        "ConnectWise"
    )
