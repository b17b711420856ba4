"""Adding clients to a partner in the configuration file as text, so its comments and layout
stay: each entry goes after the last item of the partner's block `clients:` list, with the
items' indentation. The result is validated before it replaces the file (atomically, the old
file kept as FILE.bak); anything the insert cannot do safely is refused, nothing written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from cwpublish.config.fields import parse_yaml
from cwpublish.config.validation import Validator
from cwpublish.errors import ConfigError, InputError


def _clients_node(root: Any, partner: str) -> Any:
    """The block sequence node of `partners[name == partner].clients`."""
    import yaml  # heavy: only this path needs it

    where = f"partners[{partner}].clients"
    parts = dict((k.value, v) for k, v in root.value) if isinstance(root, yaml.MappingNode) else {}
    for p in getattr(parts.get("partners"), "value", []):
        fields = dict((k.value, v) for k, v in p.value) if isinstance(p, yaml.MappingNode) else {}
        if getattr(fields.get("name"), "value", None) == partner:
            node = fields.get("clients")
            if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
                return node
            raise InputError(f"{where}: --write adds to a non-empty block list only; paste "
                             "the printed entries instead")
    raise InputError(f"{where}: not found in the configuration file")


def insert_clients(text: str, partner: str, entries: list[str]) -> str:
    """`text` with `entries` (one-line YAML list items, `- {...}`) after the partner's last
    client, at the indentation of its first."""
    import yaml

    node = _clients_node(yaml.compose(text), partner)
    lines = text.splitlines(keepends=True)
    first = node.value[0].start_mark
    dash = lines[first.line].rfind("-", 0, first.column) if first.line < len(lines) else -1
    indent = dash if dash >= 0 else first.column - 2  # the column of the items' "- "
    last = node.value[-1].start_mark
    end = _last_end(node.value[-1])
    if (end.line, end.column) < (last.line, last.column):  # an alias: its anchor's place
        raise InputError(f"partners[{partner}].clients: its last entry ends in an alias (*); "
                         "paste the printed entries instead")
    at = end.line if end.column == 0 else end.line + 1
    eol = "\r\n" if lines[0].endswith("\r\n") else "\n"  # the file's own line ending
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += eol
    added = [" " * indent + e + eol for e in entries]
    return "".join(lines[:at] + added + lines[at:])


def _last_end(node: Any) -> Any:
    """Where the text of `node` ends: a block collection's own end mark is the start of the
    next token (past comments and blank lines, even on the next partner's line), so it is
    the end of its last value, recursively."""
    import yaml

    while isinstance(node, yaml.CollectionNode) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark


def add_clients(path: Path, partner: str, entries: list[str]) -> Path:
    """Insert the entries into the file at `path`, validate, keep FILE.bak, replace; the
    backup's path. ConfigError (nothing written) when the result does not validate."""
    text = path.read_text(encoding="utf-8")
    new = insert_clients(text, partner, entries)
    data, written = parse_yaml(path, new)
    Validator(path, written=written).config(data)  # raises ConfigError listing the problems
    backup = path.with_name(path.name + ".bak")
    shutil.copy2(path, backup)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "x", encoding="utf-8") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        shutil.copymode(path, temp)
        os.replace(temp, path)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise ConfigError(str(path), [f"cannot write: {e.strerror}"]) from None
    return backup
