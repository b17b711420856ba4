"""`cost_per_gb`, the optional cost of one GB (partner or client level): what `reconcile`
compares the billed amount with, to show the margin and flag a line billed below cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cwpublish.config.fields import FieldReader, join

if TYPE_CHECKING:
    from decimal import Decimal

MAX_COST = 1_000_000  # per GB: anything larger is a typo


def cost_per_gb(reader: FieldReader, m: dict, where: str) -> Decimal | None:
    """The mapping's `cost_per_gb` (a number, 0 or more), None when absent; a bad value is
    reported with its path."""
    value: Any = m.get("cost_per_gb")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        reader.fail(join(where, "cost_per_gb"), f"must be a number (per GB), got {value!r}")
        return None
    from decimal import Decimal  # only when a cost is given: the nightly no-op never loads it

    number = Decimal(str(value))
    if not number.is_finite() or not 0 <= number <= MAX_COST:
        reader.fail(join(where, "cost_per_gb"), f"must be 0-{MAX_COST}, got {value!r}")
        return None
    return number
