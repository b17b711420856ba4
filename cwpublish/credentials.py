"""Secrets in the OS keyring: each partner's ConnectWise secret and the SMTP password.

Nothing here ever prints, logs or returns a password except to the caller that sends it.
Under cron there is usually no desktop keyring (no D-Bus session), so every keyring failure is
turned into one error that says how to fix it.
"""

from __future__ import annotations

from cwpublish.config import Partner, Smtp
from cwpublish.errors import CredentialsError

SERVICE = "cwpublish"
KEYRING_HINT = (
    "no usable keyring backend (common under cron or ssh, where no desktop keyring runs); "
    "install keyrings.alt (the cron extra: `pip install '.[cron]'`) and set "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring, or run inside "
    "`dbus-run-session` with an unlocked keyring"
)


def partner_key(partner: Partner) -> str:
    """The keyring user name under which a partner's ConnectWise secret is stored."""
    return f"connectwise:{partner.name}"


def partner_secret_label(partner: Partner) -> str:
    """What the partner's secret is, in its target's words ("integrator password")."""
    from cwpublish.targets import settings_module

    return settings_module(partner.connectwise.api).SECRET_LABEL


def partner_secret_owner(partner: Partner) -> str:
    """Whose secret it is in ConnectWise (the SOAP integrator login, the REST API member)."""
    from cwpublish.targets import settings_module

    return settings_module(partner.connectwise.api).secret_owner(partner.connectwise)


def smtp_key(smtp: Smtp) -> str:
    return f"smtp:{smtp.username or ''}@{smtp.host}"


def partner_secret(partner: Partner) -> str:
    """The partner's ConnectWise secret; CredentialsError saying how to store it if missing."""
    return get_secret(
        partner_key(partner),
        f"{partner_secret_label(partner)} for {partner.name}",
        f"cwpublish credentials set --partner {partner.name}",
    )


def require_partner_secret(partner: Partner) -> None:
    """CredentialsError unless the partner's secret is stored (planning holds no secret)."""
    partner_secret(partner)


def smtp_password(smtp: Smtp) -> str | None:
    """The SMTP login password, or None when the server takes no login."""
    if not smtp.username:
        return None
    return get_secret(smtp_key(smtp), "SMTP password", "cwpublish credentials set --smtp")


def get_secret(key: str, what: str, set_hint: str) -> str:
    """The stored secret; CredentialsError if it is missing or the keyring is unusable."""
    value = _call("get_password", key)
    if not value:
        raise CredentialsError(f"{what} is not in the keyring; run `{set_hint}`")
    problem = control_character(value)
    if problem:  # stored by an older version, or by another tool
        raise CredentialsError(
            f"{what} in the keyring contains {problem} and cannot be sent; run `{set_hint}`"
        )
    from cwpublish.redaction import register

    register(value)  # masked from here on in every output, log, history and email
    return value


def has_secret(key: str) -> bool:
    """Whether a secret is stored (never returns the value)."""
    return bool(_call("get_password", key))


def set_secret(key: str, value: str) -> None:
    """Store a secret; CredentialsError for one that could never be sent.

    A control character (a line break, ESC, NUL...) cannot go into an HTTP header, a SOAP
    body or an SMTP login, so such a password would make every later publish fail; it is
    almost always a paste or terminal accident. Spaces are fine.
    """
    if not value:
        raise CredentialsError("refusing to store an empty password")
    problem = control_character(value)
    if problem:
        raise CredentialsError(
            f"refusing to store a password containing {problem}; "
            "type or pipe it again without line breaks or escape keys"
        )
    _call("set_password", key, value)


def control_character(value: str) -> str | None:
    """'a control character (U+001B)' for the first one in `value`, else None (never the
    value itself)."""
    from cwpublish.config_fields import CONTROL_RE

    found = CONTROL_RE.search(value)
    return f"a control character (U+{ord(found.group()):04X})" if found else None


def delete_secret(key: str) -> bool:
    """Delete a secret; False if there was none."""
    import keyring.errors

    try:
        _call("delete_password", key)
    except CredentialsError as e:
        if isinstance(e.__cause__, keyring.errors.PasswordDeleteError):
            return False
        raise
    return True


def backend_name() -> str:
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception as e:  # noqa: BLE001 - any backend failure is a keyring problem
        raise CredentialsError(f"keyring: {type(e).__name__}; {KEYRING_HINT}") from None
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _call(name: str, key: str, *args: str) -> str | None:
    import keyring
    import keyring.errors

    try:
        return getattr(keyring, name)(SERVICE, key, *args)
    except keyring.errors.PasswordDeleteError as e:
        raise CredentialsError(f"no keyring entry for {key}") from e
    except keyring.errors.NoKeyringError:
        raise CredentialsError(f"keyring: {KEYRING_HINT}") from None
    except keyring.errors.KeyringLocked:
        raise CredentialsError(
            f"keyring is locked; unlock it (or use a file backend under cron): {KEYRING_HINT}"
        ) from None
    except Exception as e:  # noqa: BLE001 - backends raise anything (D-Bus, OS errors)
        raise CredentialsError(
            f"keyring backend failed ({type(e).__name__}); {KEYRING_HINT}"
        ) from None
