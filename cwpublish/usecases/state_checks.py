"""check-config's view of the state: every state_dir problem `publish` would refuse, found
without changing anything, and a configuration run by a user who would not see its publishes.

`publish` refuses a state_dir that belongs to another user, is not a folder or cannot be
created (exit 2), and tightens a looser one to 0700; check-config says so first. A config file
of another (non-root) user with no `state_dir` runs against the state of whoever runs it (`~`),
so the duplicate guard cannot see that user's publishes: a warning names both.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cwpublish.config.model import Config, default_state_dir
from cwpublish.errors import EXIT_USAGE
from cwpublish.publish.online_checks import Check


def state_checks(config: Config) -> list[Check]:
    """The state_dir's checks (nothing when all is as publish wants it)."""
    checks = _state_dir(config.state_dir)
    checks += _config_owner(config)
    return checks


def _state_dir(path: Path) -> list[Check]:
    existing = path
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing != path:  # publish creates the missing folders: can it?
        if not os.access(existing, os.W_OK | os.X_OK):
            return [_fail(f"state_dir {path} cannot be created: {existing} is not writable")]
        return []
    try:
        st = os.stat(path)
    except OSError as e:
        return [_fail(f"state_dir {path} is not usable ({e.strerror})")]
    if not stat.S_ISDIR(st.st_mode):
        return [_fail(f"state_dir {path} is not a directory")]
    uid = os.geteuid()
    if st.st_uid != uid:
        return [_fail(
            f"state_dir {path} belongs to another user (uid {st.st_uid}), not uid {uid} that "
            "runs this; publish refuses it: run as that user, or fix state_dir or the owner"
        )]
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return [Check("warn", "config", f"state_dir {path} is mode {mode:04o} (open to "
                      "others); publish tightens it to 0700")]
    return []


def _config_owner(config: Config) -> list[Check]:
    try:
        owner = os.stat(config.path).st_uid
    except (OSError, TypeError):
        return []
    uid = os.geteuid()
    if owner in (uid, 0) or config.state_dir != default_state_dir():
        return []
    return [Check(
        "warn",
        "config",
        f"{config.path} belongs to uid {owner}, but this runs as uid {uid} with no state_dir: "
        f"the state used is yours ({config.state_dir}), so publishes run by uid {owner} are "
        "not seen by the duplicate guard; run as that user, or set state_dir to the shared state",
    )]


def _fail(message: str) -> Check:
    return Check("fail", "config", message, EXIT_USAGE)
