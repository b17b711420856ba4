"""Typed errors and the exit codes they map to.

Core modules raise these; only the CLI turns them into messages and exit codes, so a script can
rely on the codes and a person never sees a traceback.
"""

from __future__ import annotations

from cwpublish import log
from cwpublish.text.redaction import clean_line

EXIT_OK = 0  # everything published, or nothing was due
EXIT_FAILED = 1  # nothing published: ConnectWise unreachable, SOAP fault, ...
EXIT_USAGE = 2  # bad configuration, usage data, option, or missing credentials
EXIT_PARTIAL = 3  # some clients published, some failed
EXIT_UNRECORDED = 4  # ConnectWise accepted it, but the history, ledger or journal was not written
EXIT_DECLINED = 10  # the user answered no to a confirmation; nothing was sent
EXIT_LOCKED = 11  # another publish holds the lock
EXIT_LOGIN = 12  # ConnectWise rejected the login or the Management IT Name
EXIT_SIGINT = 130  # interrupted by Ctrl-C (SIGINT); what was sent is recorded
EXIT_SIGTERM = 143  # interrupted by SIGTERM; what was sent is recorded

EXIT_CODES = {
    EXIT_OK: "all selected clients published, or nothing was due",
    EXIT_FAILED: "nothing published (ConnectWise unreachable, SOAP fault, time-out)",
    EXIT_USAGE: "configuration, usage data, option or credentials error; nothing was sent",
    EXIT_PARTIAL: "partial: some clients published, some failed (any month, any partner)",
    EXIT_UNRECORDED: "published, but the history, ledger or journal could not be written (the "
    "error names which); the next run records it",
    EXIT_DECLINED: "declined at the confirmation; nothing was sent",
    EXIT_LOCKED: "another publish holds the lock",
    EXIT_LOGIN: "ConnectWise rejected the integrator login or the Management IT Name",
    EXIT_SIGINT: "interrupted by Ctrl-C: requests in flight finished, the rest not sent; recorded",
    EXIT_SIGTERM: "interrupted by SIGTERM: as 130",
}

# What each command can exit with (its --help shows its own table). A bug is reported in one
# line with EXIT_FAILED by every command.
_CONFIG = "a bad configuration or option"
COMMAND_EXIT_CODES: dict[str, dict[int, str]] = {
    "publish": EXIT_CODES,
    "check-config": {
        EXIT_OK: "nothing failed (warnings allowed)",
        EXIT_FAILED: "ConnectWise or the SMTP server unreachable (--online)",
        EXIT_USAGE: "configuration, usage data or credentials problems",
        EXIT_LOGIN: "ConnectWise rejected the login, keys or Management IT Name (--online)",
    },
    "history": {
        EXIT_OK: "listed",
        EXIT_FAILED: "the state directory cannot be read",
        EXIT_USAGE: _CONFIG,
    },
    "history show": {
        EXIT_OK: "shown",
        EXIT_FAILED: "the state directory cannot be read",
        EXIT_USAGE: f"no single entry with that ID, or {_CONFIG}",
    },
    "report": {
        EXIT_OK: "written (and emailed with --email)",
        EXIT_FAILED: "the email could not be sent, or the state cannot be read",
        EXIT_USAGE: f"usage data error, a future month, or {_CONFIG}",
    },
    "map": {
        EXIT_OK: "listed (and written with --write)",
        EXIT_FAILED: "ConnectWise unreachable",
        EXIT_USAGE: f"usage data error, nothing to write, a file that would not validate, "
        f"or {_CONFIG}",
        EXIT_DECLINED: "declined at the --write confirmation; nothing written",
        EXIT_LOGIN: "ConnectWise rejected the login or keys",
    },
    "migrate": {
        EXIT_OK: "every SOAP client placed and the REST pre-flight passed (and written "
        "with --write)",
        EXIT_FAILED: "ConnectWise unreachable",
        EXIT_USAGE: f"not a SOAP partner, no private key, --write without --yes in a script, "
        f"a file --write cannot edit or that would not validate, or {_CONFIG}",
        EXIT_PARTIAL: "some clients could not be placed (each listed with why; --write wrote "
        "nothing, or with --force left them out)",
        EXIT_DECLINED: "declined at the --write confirmation; nothing written",
        EXIT_LOGIN: "ConnectWise rejected the REST keys or clientId",
    },
    "reconcile": {
        EXIT_OK: "everything agrees: usage, the ledger and ConnectWise",
        EXIT_FAILED: "ConnectWise unreachable, the email could not be sent, or state unreadable",
        EXIT_USAGE: f"usage data error, missing credentials, a future month, or {_CONFIG}",
        EXIT_PARTIAL: "something differs, or a line is billed below cost (causes shown)",
        EXIT_LOGIN: "ConnectWise rejected the API member keys or the clientId",
    },
    "init": {
        EXIT_OK: "written",
        EXIT_USAGE: "the file exists or cannot be written, or its path has an unset $VAR",
    },
    "credentials": {
        EXIT_OK: "done",
        EXIT_USAGE: f"a secret missing/unusable, no keyring, or {_CONFIG}",
    },
    "credentials set": {
        EXIT_OK: "stored in the keyring",
        EXIT_FAILED: "interrupted at the prompt",
        EXIT_USAGE: f"a refused password, no keyring, or {_CONFIG}",
    },
    "credentials status": {
        EXIT_OK: "every secret present",
        EXIT_USAGE: f"a secret missing/unusable, no keyring, or {_CONFIG}",
    },
    "credentials delete": {
        EXIT_OK: "deleted from the keyring",
        EXIT_USAGE: f"not in the keyring, no keyring, or {_CONFIG}",
    },
}

# When several partners end differently, the run exits with the most severe code.
_SEVERITY = [
    EXIT_OK,
    EXIT_DECLINED,
    EXIT_PARTIAL,
    EXIT_FAILED,
    EXIT_UNRECORDED,
    EXIT_USAGE,
    EXIT_LOGIN,
    EXIT_LOCKED,
    EXIT_SIGTERM,
    EXIT_SIGINT,
]


def worst_exit_code(codes: list[int]) -> int:
    """The most severe of several exit codes (0 for none)."""
    return max(codes, key=_SEVERITY.index, default=EXIT_OK)


class CwpublishError(Exception):
    """Base of every error cwpublish reports to the user; `str()` is the one-line message."""

    exit_code = EXIT_FAILED


class ConfigError(CwpublishError):
    """The configuration file is missing or wrong; carries every problem found."""

    exit_code = EXIT_USAGE

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class InputError(CwpublishError):
    """Bad usage data, a bad option value or an unknown client/partner name."""

    exit_code = EXIT_USAGE


class CredentialsError(CwpublishError):
    """A password is missing from the keyring or no usable keyring exists."""

    exit_code = EXIT_USAGE


class ConnectWiseError(CwpublishError):
    """A ConnectWise call failed: transport error, HTTP error or SOAP fault."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        kind: str = "transport",
        http_status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ):
        message = clean_line(message)  # a server's text: one line, no secret
        self.operation = operation
        self.message = message
        self.kind = kind  # transport | http | fault | response
        self.http_status = http_status
        self.transient = transient  # worth retrying: connection, time-out, 429/502/503/504
        self.retry_after = retry_after
        super().__init__(f"{operation}: {message}")

    def after(self, attempts: int) -> ConnectWiseError:
        """The same error, saying how many attempts were made (when more than one)."""
        if attempts == 1:
            return self
        return ConnectWiseError(
            self.operation,
            f"{self.message} (after {attempts} attempts)",
            kind=self.kind,
            http_status=self.http_status,
        )


class LoginRejected(ConnectWiseError):
    """The pre-flight proved ConnectWise refuses who we are (login, keys, or the target's
    setup such as the Management IT Name); retrying cannot help, a person must fix it."""

    exit_code = EXIT_LOGIN

    def __init__(self, operation: str, message: str, *, rejected: str, fix: str, kind="http"):
        super().__init__(operation, message, kind=kind)
        self.rejected = rejected  # what was refused, e.g. "the login or the Management IT Name"
        self.fix = fix  # what to check, e.g. "check the integrator login of company 'acme'"


class Aborted(CwpublishError):
    """The user declined a confirmation; nothing was sent (not a failure: its own code)."""

    exit_code = EXIT_DECLINED


class LockHeld(CwpublishError):
    """Another publish is running."""

    exit_code = EXIT_LOCKED


class StateError(CwpublishError):
    """The state directory or a state file cannot be written or read."""

    exit_code = EXIT_FAILED


class NotificationError(CwpublishError):
    """An email could not be rendered or sent; never changes a publish's result."""

    exit_code = EXIT_FAILED


def unexpected(phase: str, e: BaseException) -> str:
    """The one line for an exception a target raised that is not a CwpublishError (an answer
    its reader chokes on, an odd id, or a bug): what was being done, the exception's type and
    text, every secret masked before the text is cut. The traceback goes to -vv."""
    import traceback

    log.debug("%s", "".join(traceback.format_exception(e)))
    return (
        f"{phase} failed unexpectedly ({type(e).__name__}: {clean_line(str(e), 200)}); "
        "run with -vv for details and please report it"
    )
