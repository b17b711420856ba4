"""Who may read or change a secret file, and whether $CREDENTIALS_DIRECTORY is usable.

A secret file is accepted when it is a regular file owned by the user cwpublish runs as or by
root, that no one but its owner and that user may write, and that no one else may read. A
file without a POSIX ACL must therefore be 0600 or 0400 (mode & 0o077 == 0). A file with an
ACL is judged by its entries: systemd's `LoadCredential=` with `User=` makes a root-owned
file, mode 0400 plus the ACL `user:<service>:r--` (so `ls -l` shows 0440: the group bits are
the ACL mask), in a read-only folder; that file is safe and is accepted. Refused: "others"
bits, a named user other than us, or the owning or a named group with read or write through
the mask.

The ACL is read from the `system.posix_acl_access` attribute of the open descriptor and parsed
here (its layout is the kernel's: a version word, then 8-byte entries), so no ACL library is
needed.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from cwpublish.errors import CredentialsError

ACL_XATTR = "system.posix_acl_access"
ACL_VERSION = 2
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
READ, WRITE = 4, 2
WORDS = {READ: "read", WRITE: "change", READ | WRITE: "read and change"}


class SecretFileError(CredentialsError):
    """A secret file exists but cannot be used (mode, owner, ACL, type or content)."""


class CredentialsDirectoryError(CredentialsError):
    """$CREDENTIALS_DIRECTORY is set but names no folder cwpublish can look into."""


@dataclass(frozen=True)
class AclEntry:
    """One entry of a POSIX access ACL: its tag, permission bits and user or group id."""

    tag: int
    perm: int
    id: int


def check_directory(directory: str) -> None:
    """CredentialsDirectoryError unless `directory` is a folder this user can look into.

    A mistyped path would otherwise fall back to the keyring silently, and the advice would
    be the keyring's, wrong in a container or a service that has none."""
    shown = f"CREDENTIALS_DIRECTORY={directory}"
    fix = (
        "set it to the folder holding partner.<name> and smtp (systemd sets it itself with "
        "LoadCredential=; Kubernetes: the Secret volume's mountPath; Docker secrets: "
        "/run/secrets), or unset it to use the keyring"
    )
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        raise CredentialsDirectoryError(f"{shown}: no such folder; {fix}") from None
    except OSError as e:
        raise CredentialsDirectoryError(f"{shown}: cannot be read ({e.strerror}); {fix}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CredentialsDirectoryError(f"{shown}: not a folder; {fix}")
    if not os.access(directory, os.X_OK):
        raise CredentialsDirectoryError(
            f"{shown}: permission denied for uid {os.geteuid()}; the folder must be readable "
            "by the user cwpublish runs as (a systemd service: LoadCredential= with this "
            "User=; a container: the volume's owner or fsGroup)"
        )


def check_file(path: Path, fd: int, st: os.stat_result) -> None:
    """SecretFileError unless the open file `fd` is safe as the module docstring says."""
    real = os.path.realpath(path)
    shown = f"{path} (-> {real})" if real != os.path.abspath(path) else str(path)
    if not stat.S_ISREG(st.st_mode):
        raise SecretFileError(f"{shown}: not a regular file; put the secret in a plain file")
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is None:
        return
    if st.st_uid not in (uid, 0):
        raise SecretFileError(
            f"{shown}: owned by uid {st.st_uid}, not by uid {uid} that cwpublish runs as nor "
            f"by root, so that user can read or change it; run `chown {uid} {real}`"
        )
    acl = read_acl(fd)
    if acl is None:
        if st.st_mode & 0o077:
            raise SecretFileError(
                f"{shown}: mode {stat.S_IMODE(st.st_mode):04o} lets other users read or change "
                f"it; run `chmod 600 {real}` (a Kubernetes secret volume: defaultMode: 0400, "
                "no fsGroup)"
            )
        return
    problem = acl_problem(acl, uid)
    if problem:
        raise SecretFileError(
            f"{shown}: its ACL lets {problem}; only its owner and uid {uid} (the service) may "
            f"have access: remove that entry (`setfacl -x ...`) or `chmod 600 {real}`"
        )


def acl_problem(acl: tuple[AclEntry, ...], uid: int) -> str | None:
    """'group 27 read it' for the first entry giving access to someone it should not, else
    None. The mask limits named users and all groups; "others" is never limited by it."""
    masks = [e.perm for e in acl if e.tag == MASK]
    mask = masks[0] if masks else READ | WRITE
    for entry in acl:
        if entry.tag == OTHER:
            bits = entry.perm & (READ | WRITE)
            who = "other users"
        elif entry.tag == USER and entry.id != uid:
            bits, who = entry.perm & mask & (READ | WRITE), f"uid {entry.id}"
        elif entry.tag == GROUP_OBJ:
            bits, who = entry.perm & mask & (READ | WRITE), "its group"
        elif entry.tag == GROUP:
            bits, who = entry.perm & mask & (READ | WRITE), f"group {entry.id}"
        else:
            continue
        if bits:
            return f"{who} {WORDS[bits]} it"
    return None


def read_acl(fd: int) -> tuple[AclEntry, ...] | None:
    """The file's access ACL, or None when it has none (or the system has no ACLs)."""
    try:
        raw = os.getxattr(fd, ACL_XATTR)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            return None
        raise
    except AttributeError:  # no xattr support in this Python (not Linux)
        return None
    return parse_acl(raw)


def parse_acl(raw: bytes) -> tuple[AclEntry, ...]:
    """The entries of a `system.posix_acl_access` value. Never raises: a value that is not a
    version-2 ACL is read as granting others everything, so the file is refused."""
    if len(raw) < 4 or (len(raw) - 4) % 8 or struct.unpack_from("<I", raw)[0] != ACL_VERSION:
        return (AclEntry(OTHER, READ | WRITE, 0),)
    return tuple(
        AclEntry(*struct.unpack_from("<HHI", raw, offset)) for offset in range(4, len(raw), 8)
    )
