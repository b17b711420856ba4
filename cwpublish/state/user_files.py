"""Files cwpublish writes for the user outside its state_dir (the configuration from `init`, a
report's --output): never group- or world-writable, whatever the umask (state files are
state/files.py's: 0600 in 0700 folders)."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
NOT_WRITABLE_BY_OTHERS = ~0o022


def make_parents(path: Path) -> None:
    """Create the missing folders above `path`, each 0700 (an existing one is left as it is)."""
    missing = []
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(folder, PRIVATE_DIR)  # exactly 0700: a umask of 000 does not loosen it


def write_text(path: Path, text: str, *, new: bool = False) -> None:
    """Write `text` (UTF-8) to `path`: a new file is 0600; an existing one (unless `new`, which
    refuses it: FileExistsError) keeps its mode less group and world write."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if new else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        mode = os.fstat(fd).st_mode & 0o7777
        if mode & 0o022:
            os.fchmod(fd, mode & NOT_WRITABLE_BY_OTHERS)
        f.write(text)
