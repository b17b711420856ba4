"""Adding clients to a partner in the configuration file as text, so its comments and layout
stay: each entry goes after the last item of the partner's block `clients:` list, with the
items' indentation. The result is validated before it replaces the file (atomically, the old
file kept as FILE.bak); anything the insert cannot do safely is refused, nothing written.
`migrate --write` replaces a partner's `connectwise:` section and sets each client's
`company` the same way (switch_to_rest)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cwpublish.config.fields import parse_yaml
from cwpublish.config.validation import Validator
from cwpublish.errors import ConfigError, InputError
from cwpublish.render.map import quoted


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


def end_line(node: Any) -> int:
    """The line after the last line holding `node`'s text (see _last_end)."""
    end = _last_end(node)
    return end.line if end.column == 0 else end.line + 1


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
    return replace_validated(path, insert_clients(text, partner, entries))


def replace_validated(path: Path, new: str,
                      swap: Callable[[], Callable[[], None]] | None = None) -> Path:
    """Validate `new` with the real validator, keep FILE.bak, write a temporary file, then
    `swap()` (which returns its own undo, run if the replace fails) and replace `path` in
    one step; the backup's path. ConfigError, nothing written, when `new` does not validate."""
    data, written = parse_yaml(path, new)
    Validator(path, written=written).config(data)  # raises ConfigError listing the problems
    backup = path.with_name(path.name + ".bak")
    shutil.copy2(path, backup)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    undo = None
    try:
        with open(temp, "x", encoding="utf-8") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        shutil.copymode(path, temp)
        undo = swap() if swap else None
        os.replace(temp, path)
    except OSError as e:
        temp.unlink(missing_ok=True)
        if undo:
            undo()
        raise ConfigError(str(path), [f"cannot write: {e.strerror}"]) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return backup

# -- migrate --write: the partner's `connectwise:` section replaced, each client's company --

# connectwise keys kept from the old section: how any transport behaves, not which API
_TRANSPORT_KEYS = ("timeout", "ca_bundle", "retries", "retry_backoff", "retry_max_seconds",
                   "parallel_requests")


def _fields(node: Any) -> dict:
    """key text -> (key node, value node) of a mapping node, {} for anything else."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _partner_node(root: Any, partner: str) -> Any:
    """The mapping node of `partners[name == partner]`."""
    for p in getattr(_fields(root).get("partners", (None, None))[1], "value", []):
        name = _fields(p).get("name")
        if name is not None and name[1].value == partner:
            return p
    raise InputError(f"partners[{partner}]: not found in the configuration file")




def _one_line_flow(item: Any, lines: list[str]) -> bool:
    """A `{...}` client entry on one line with no company (edited in place)."""
    return (bool(getattr(item, "flow_style", False)) and "company" not in _fields(item)
            and item.start_mark.line == item.end_mark.line
            and lines[item.start_mark.line][item.end_mark.column - 1:].startswith("}"))


def switch_to_rest(text: str, partner: str, section: dict[str, Any],
                   companies: dict[str, str], left_out: set[str]) -> str:
    """`text` with the partner's block `connectwise:` mapping replaced by `section` (the
    transport keys of the old one kept as written), `company` set on each client whose
    managed_id is in `companies`, and the clients in `left_out` commented out. Only block
    mappings in a block `clients:` list are edited; anything else is refused."""
    import yaml

    where = f"partners[{partner}]"
    fields = _fields(_partner_node(yaml.compose(text), partner))
    cw = fields.get("connectwise", (None, None))[1]
    if not isinstance(cw, yaml.MappingNode) or cw.flow_style or not cw.value:
        raise InputError(f"{where}.connectwise: --write replaces a block mapping only; paste "
                         "the printed section instead")
    clients = fields.get("clients", (None, None))[1]
    if not isinstance(clients, yaml.SequenceNode) or clients.flow_style:
        raise InputError(f"{where}.clients: --write edits a block list only; paste the "
                         "printed entries instead")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    edits: list[tuple[int, int, list[str]]] = []  # (first line, end line, new lines)
    for item in clients.value:
        c = _fields(item)
        mid = c.get("managed_id", (None, None))[1]
        key = getattr(mid, "value", None)
        first, end = item.start_mark.line, end_line(item)
        if key in left_out:
            col = item.start_mark.column - 2  # the item's "- "
            edits.append((first, end, [ln[:col] + "# " + ln[col:] if ln.strip() else ln
                                       for ln in lines[first:end]]))
        elif key in companies and _one_line_flow(item, lines):
            line = lines[first]
            at = item.end_mark.column - 1  # the closing brace
            edits.append((first, first + 1, [f"{line[:at]}, company: "
                                             f"{quoted(companies[key])}{line[at:]}"]))
        elif key in companies:
            if item.flow_style or "company" in c or not isinstance(item, yaml.MappingNode):
                raise InputError(f"{where}.clients[{key}]: --write edits a block mapping with "
                                 "no company only; paste the printed entry instead")
            pad = " " * item.start_mark.column
            edits.append((end, end, [f"{pad}company: {quoted(companies[key])}\n"]))
    pad = " " * cw.value[0][0].start_mark.column
    new = [f"{pad}{k}: {quoted(v) if isinstance(v, str) else str(v).lower()}\n"
           for k, v in section.items()]
    for k, v in cw.value:
        if k.value in _TRANSPORT_KEYS and k.value not in section:
            new += lines[k.start_mark.line:end_line(v)]
    edits.append((cw.value[0][0].start_mark.line, end_line(cw.value[-1][1]), new))
    for first, end, added in sorted(edits, reverse=True):
        lines[first:end] = added
    return "".join(lines)
