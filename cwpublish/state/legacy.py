"""Legacy (name-keyed) state: whether a state key may adopt what its partner name left.

See state/keys.py for the keys and the migration rule; the ledger and schedule.json call this
the first time a key's state is looked for and does not exist yet.
"""

from __future__ import annotations

from pathlib import Path

from cwpublish.state.keys import key_name, key_scope, site_part


def may_adopt_legacy(state_dir: Path, key: str) -> bool:
    """Whether `key` may take over the name-keyed state of its partner name (module doc)."""
    scope = key_scope(key)
    if scope is None:
        return False  # a legacy key is the legacy state itself
    # lazy: read only when a key's state is first looked for (the nightly no-op skips it)
    from cwpublish.state.history import History

    newest = History(state_dir).entries(key_name(key))[:1]
    if not newest:
        return True
    return site_part(newest[0]["site"]) == scope.split("~", 1)[0]
