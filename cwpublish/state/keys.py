"""Whose state a ledger folder or a schedule.json entry is: the state key, and legacy adoption.

Two configuration files may share a state_dir, e.g. a rehearsal copy pointed at the simulator
and the production one, with the same partner name. Keyed by the name alone they marked each
other's periods as done and reset each other's schedule day, so production published nothing.
State about publishing is therefore keyed by what it is about: the partner name, the
ConnectWise site (scheme, host and port, lowercased) and the company ID:

    <name>@<site>~<company>     e.g.  acme@cw.acme.example~acme
                                      acme@http+127.0.0.1_8765~acme   (http, port 8765)

The site is the host for https on port 443, with `http+` in front for http and `_<port>` after
a non-default port. Each part keeps only filesystem-safe characters (host: a-z 0-9 . -;
name and company: letters, digits . _ -); a part holding anything else has it replaced by `-`
and gets `=<8 hex of its SHA-256>` appended, so distinct sites never share a key. A partner
name never holds `@`, so a key is never mistaken for a legacy (name-only) key.

The history (history.log) stays listed per partner name; its entries carry their `site` and
`state_key`, and it keeps ten per state key (history.py).

Migration from name-keyed state (ledger/<name>/, schedule.json["<name>"]), chosen so that an
upgrade neither re-publishes nor forgets, and never hands one site's state to another: the first
time a key's state is looked for and does not exist yet, the legacy state of that partner name
is adopted (moved, not copied, so at most one key takes it) -- unless the history's newest
entry for that name was published to another site, in which case the legacy state is left for
the configuration of that site to adopt, and this key starts empty (at worst a period is sent
again, which ConnectWise takes as an update; state wrongly adopted would skip a publish).
"""

from __future__ import annotations

_HOST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def partner_key(name: str, site: str, company_id: str) -> str:
    """The key of a partner's ledger folder and schedule.json entry (see the module doc), from
    the partner's name, ConnectWise site and company ID (config.model.state_key)."""
    # ConnectWise company IDs are case-insensitive (ACME and acme log in to the same company)
    company = _safe(company_id.lower(), _WORD)
    return f"{_safe(name, _WORD)}@{site_part(site)}~{company}"


def site_part(site: str) -> str:
    """The site as it appears in a state key: `cw.acme.example`, `http+127.0.0.1_8765`."""
    scheme, host, port = _site(site)
    text = ("" if scheme == "https" else f"{scheme}+") + host
    if port != _DEFAULT_PORTS.get(scheme):
        text += f"_{port}"
    if scheme in _DEFAULT_PORTS and host and set(host) <= _HOST:
        return text
    return _escaped(text, f"{scheme}://{host}:{port}")


def key_name(key: str) -> str:
    """The partner name a key is about (a legacy key is the name itself)."""
    return key.split("@", 1)[0]


def key_scope(key: str) -> str | None:
    """The `<site>~<company>` of a key: which ConnectWise tenant; None for a legacy key."""
    return key.split("@", 1)[1] if "@" in key else None


def _site(site: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a site URL, lowercased, the default port made explicit."""
    from urllib.parse import urlsplit

    parts = urlsplit(site.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _safe(text: str, allowed: frozenset[str]) -> str:
    """`text` if every character is allowed, else escaped (see _escaped)."""
    return text if text and set(text) <= allowed else _escaped(text, text)


def _escaped(text: str, identity: str) -> str:
    """Unsafe characters of `text` as `-`, plus `=` and 8 hex of the SHA-256 of `identity`."""
    import hashlib

    readable = "".join(c if c in _WORD or c == "+" else "-" for c in text)
    return f"{readable}={hashlib.sha256(identity.encode('utf-8')).hexdigest()[:8]}"
