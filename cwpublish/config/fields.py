"""Reading the configuration's YAML text, and typed reads of its values (string, integer,
seconds, choice, file...), each problem collected with its path instead of raised, so one run
reports them all.

The YAML loader keeps the source text of every non-string scalar (`written`), so that a
problem quotes what the user wrote (`0123`), not what YAML made of it (83). It is built on
first use: a nightly run answered by the parse cache (config/model.py) never imports yaml."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from cwpublish.errors import ConfigError

_PLAIN_KEY_RE = re.compile(r"[\w.-]+")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # never valid in XML text or a one-line message
_MISSING = object()
# a format spec for an int in a usage path: fill/align, sign, zero, width (bounded), d
_INT_SPEC_RE = re.compile(r"^(?:[^{}]?[<>=^])?[+ -]?0?[0-9]{0,2}d?$")


class FieldReader:
    """Reads typed values out of parsed YAML mappings, collecting problems with their paths."""

    def __init__(self, path: Path, written: dict[int, dict[str, str]] | None = None):
        self.path = path
        self.base_dir = path.resolve().parent
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # id(mapping) -> {key: source text} of values YAML read as non-strings (config/model.py)
        self.written = written or {}

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def mapping(
        self, value: Any, where: str, allowed: AbstractSet[str], required: tuple = ()
    ) -> dict:
        if not isinstance(value, dict):
            self.fail(where or "(top level)", f"must be a mapping, got {kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                import difflib

                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                extra = f" (did you mean '{hint[0]}'?)" if hint else ""
                shown = str(key) if _PLAIN_KEY_RE.fullmatch(str(key)) else repr(key)
                self.fail(join(where, shown), f"unknown key{extra}")
        for key in required:
            if value.get(key) is None:
                self.fail(join(where, key), "is required")
        return value

    def string(self, m: dict, key: str, where: str, default: Any = _MISSING) -> Any:
        """Text exactly as written: a value YAML read as a number, boolean or date is refused.

        Converting it back would guess: `managed_id: 0123` is the number 83 to YAML, `1_000`
        is 1000, `yes` is True; the user's text is gone, so they are asked to quote it.
        """
        value = m.get(key)
        if value is None:
            return None if default is _MISSING else default
        if not isinstance(value, str):
            if isinstance(value, (dict, list)):
                self.fail(join(where, key), f"must be a string, got {kind(value)}")
            else:
                shown = self.as_written(m, key)
                self.fail(
                    join(where, key),
                    f"must be text: quote it, e.g. {key}: {_quoted(shown)} "
                    f"(YAML reads {shown} as {kind(value)})",
                )
            return None if default is _MISSING else default
        text = value.strip()
        if not text:
            self.fail(join(where, key), "must not be empty")
        elif CONTROL_RE.search(text):
            self.fail(join(where, key), f"must not contain control characters, got {text!r}")
            return None
        return text

    def integer(
        self, m: dict, key: str, where: str, default: int | None, lo: int, hi: int
    ) -> int | None:
        value = m.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(join(where, key), f"must be {lo}-{hi}, got {value!r}")
            return default
        return value

    def number(self, m: dict, key: str, where: str, default: float) -> float:
        value = m.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
            self.fail(join(where, key), f"must be a number of seconds (0-3600], got {value!r}")
            return default
        return float(value)

    def boolean(self, m: dict, key: str, where: str, default: bool) -> bool:
        value = m.get(key, default)
        if not isinstance(value, bool):
            self.fail(join(where, key), f"must be true or false, got {value!r}")
            return default
        return value

    def file(self, m: dict, key: str, where: str) -> str | None:
        """An existing file, relative to the config's folder; its absolute path."""
        value = self.string(m, key, where)
        if not value:
            return None
        path = self.base_dir / os.path.expanduser(value)
        if not path.is_file():
            self.fail(join(where, key), f"file not found: {path}")
        return str(path)

    def choice(self, m: dict, key: str, where: str, choices: tuple[str, ...], default: str) -> str:
        value = m.get(key, default)
        if value not in choices:
            self.fail(join(where, key), f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def as_written(self, m: dict, key: str) -> str:
        """The value of `key` as the file has it (not as YAML converted it)."""
        text = self.written.get(id(m), {}).get(key)
        if text is not None:
            return text
        value = m.get(key)
        return str(value).lower() if isinstance(value, bool) else str(value)


def _quoted(text: str) -> str:
    """`text` as a double-quoted YAML scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def placeholder_problem(location: str) -> str | None:
    """Why `location` is not a plain template of {year} and {month}, or None if it is.

    Only the names year and month, no conversion (!r), no attribute or index ({year.real},
    {month[0]}), and a short integer format spec ({month:02d}): anything else would crash or
    reach into Python objects when the path is formatted.
    """
    from _string import formatter_parser  # what string.Formatter().parse is, without `string`

    try:
        fields = list(formatter_parser(location))
    except ValueError as e:  # a lone { or }
        return f"{e}; write {{{{ and }}}} for literal braces"
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        suffix = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        shown = "{" + name + suffix + "}"
        if name not in ("year", "month"):
            return f"unknown placeholder {shown}"
        if conversion:
            return f"{shown}: no !{conversion} conversion"
        if spec and not _INT_SPEC_RE.match(spec):
            return f"{shown}: format spec {spec!r} is not a short number format"
        try:
            format(2026, spec)
        except ValueError as e:
            return f"{shown}: {e}"
    return None


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), "a date" if hasattr(value, "isoformat") else type(value).__name__)


# --- the YAML text: safe, C-accelerated when libyaml is present, duplicate keys and aliases
# refused, the source text of non-string values kept ----------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"


def parse_yaml(path: Path, text: str) -> tuple[Any, dict[int, dict[str, str]]]:
    """The data of the YAML text, and the source text of its non-string scalars.

    The second item maps id(mapping) -> {key: the value as written} for every value YAML read as
    something other than a string (`0123`, `yes`, `2026-01-05`), so that an error can quote
    what the user wrote rather than what YAML made of it (83, True, a date).
    """
    import yaml

    loader = _loader_class()(text)
    try:
        return loader.get_single_data(), loader.written
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}YAML syntax error: {e.problem or e}"]) from None
    except yaml.reader.ReaderError as e:
        raise ConfigError(
            str(path), [f"character {e.position + 1}: not allowed in YAML ({e.reason})"]
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), [f"YAML error: {str(e).splitlines()[0]}"]) from None
    finally:
        loader.dispose()


def _yaml_base() -> type:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _loader_class() -> type:
    """SafeLoader that refuses duplicate keys and aliases (an ambiguous file is an error).

    Aliases (`*name`) are refused outright: a configuration has no need for them, and nested
    aliases ("billion laughs") make a few hundred bytes expand into billions of values for
    whatever walks the data (validation, the parse cache).
    """
    import yaml

    class Loader(_yaml_base()):  # type: ignore[misc]
        def __init__(self, stream: str):
            super().__init__(stream)
            self.source = stream
            self.written: dict[int, dict[str, str]] = {}  # id(mapping) -> {key: as written}

        def construct_document(self, node: yaml.Node) -> Any:
            """Refuse a node reached twice (an alias) before building anything from the tree."""
            _refuse_aliases(self.source, node)
            return super().construct_document(node)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    return Loader


def _refuse_aliases(source: str, root: Any) -> None:
    """ConstructorError at the first alias if any node of the tree is shared (walked once)."""
    import yaml

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            mark = _first_alias_mark(source) or node.start_mark
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "aliases (*name) are not allowed in a configuration; write the value out",
                mark,
            )
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack += (key_node, value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _first_alias_mark(source: str) -> Any:
    """Where the first `*alias` is (parsed again only on this error path)."""
    import yaml

    for event in yaml.parse(source, Loader=_yaml_base()):
        if isinstance(event, yaml.AliasEvent):
            return event.start_mark
    return None


def _construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict:
    import yaml

    seen: set = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    written = {
        key_node.value: value_node.value
        for key_node, value_node in node.value
        if isinstance(key_node, yaml.ScalarNode)
        and isinstance(value_node, yaml.ScalarNode)
        and value_node.tag != _STR_TAG
    }
    if written:
        loader.written[id(mapping)] = written
    return mapping
