"""Read a month's billable space per rCloud client from the partner's usage source.

Sources: a CSV file (`client,billable_gb`), a JSON file (a list of {client, billable_gb}) or a
shell command printing that CSV. Any doubtful row is an error naming the source and row; a value
is never guessed, because a wrong number here is a wrong invoice.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cwpublish.config.model import UsageSource
from cwpublish.domain.period import Period
from cwpublish.errors import InputError
from cwpublish.text.redaction import clean_line

MAX_GB = Decimal("1000000000000")  # 1 ZB; anything above is a unit mistake, not a backup
# A plain decimal number in ASCII digits: Decimal() alone would also take "1_000", "١٢" and
# " 1 ", and a thousands separator or a decimal comma is a guess we do not make.
_NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}
COMMAND_TIMEOUT = 300


@dataclass(frozen=True)
class Usage:
    """The usage rows of one period: client name -> billable GB (rounded to 2 decimals)."""

    source: str
    rows: dict[str, Decimal]


def describe_source(source: UsageSource, period: Period) -> str:
    """The file path or command the source resolves to for `period` (for messages)."""
    resolved = source.location.format(year=period.year, month=period.month)
    if source.kind == "command":
        return resolved
    return str(source.base_dir / resolved)


def read_usage(source: UsageSource, period: Period) -> Usage:
    """Load the usage of `period`; raise InputError naming the source and row on bad data."""
    where = describe_source(source, period)
    if source.kind == "command":
        text = _run_command(where, source.base_dir, period)
        return Usage(f"command `{where}`", _parse_csv(text, f"command `{where}`"))
    path = Path(where)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: usage file not found for {period}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read usage file: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8"
        ) from None
    rows = _parse_json(text, str(path)) if source.kind == "json" else _parse_csv(text, str(path))
    return Usage(str(path), rows)


def parse_gb(value: Any, where: str) -> Decimal:
    """A billable space value as a Decimal rounded to 2 places; InputError if not one."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"{where}: billable_gb must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{where}: billable_gb must be a finite number, got {value!r}")
    text = str(value).strip()
    if text.lstrip("+-").lower() in _NOT_FINITE:
        raise InputError(f"{where}: billable_gb must be a finite number, got {text!r}")
    if not _NUMBER_RE.match(text):
        hint = (
            " (a plain number such as 1250.45: no thousands separators or decimal commas)"
            if re.search(r"[0-9][,_' \u00a0\u202f.][0-9]", text)
            else ""
        )
        raise InputError(f"{where}: billable_gb must be a number, got {text!r}{hint}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{where}: billable_gb must be a number, got {text!r}") from None
    if number < 0:
        raise InputError(f"{where}: billable_gb must not be negative, got {text}")
    if number > MAX_GB:
        raise InputError(f"{where}: billable_gb {text} is implausibly large (unit mistake?)")
    rounded = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded.is_zero() else rounded  # "-0" is sent as 0.00, not -0.00


# A value that is already a plain, small, non-negative number with at most 2 decimals (nearly
# every row): taken as is, without parse_gb's checks, which it passes by construction.
_PLAIN_GB = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


def _add_row(
    rows: dict[str, Decimal], seen: dict[str, str], client: Any, gb: Any, source: str, row: str
) -> None:
    """Add one row (`row`: "row 2" / "item 0"); a second row for the same client (ignoring
    case and Unicode form) is an error, since which of the two is right cannot be known.
    `seen`: folded name -> its row."""
    if client is not None and not isinstance(client, str):
        raise InputError(f"{source}: {row}: client must be a name (text), got {client!r}")
    name = client.strip() if client else ""
    if not name:
        raise InputError(f"{source}: {row}: client name is empty")
    if name.isascii():
        folded = name.lower()  # what NFC and casefold give for ASCII, without their cost
    else:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800"): not text
            raise InputError(f"{source}: {row}: client name is not valid text ({name!r})") from None
        folded = unicodedata.normalize("NFC", name).casefold()
    if folded in seen:
        raise InputError(
            f"{source}: {row}: second row for client {name!r} (also {seen[folded]}); "
            "one row per client"
        )
    seen[folded] = row
    if isinstance(gb, str) and _PLAIN_GB.fullmatch(gb):
        rows[name] = Decimal(gb).quantize(_CENT)
    else:
        rows[name] = parse_gb(gb, f"{source}: {row}")


MAX_BAD_ROWS = 20  # a usage file's bad rows named in its one error; the rest counted


class _BadRows:
    """Every bad row of a usage file, reported as one error (one bad row: its own message)."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []

    def add(self, error: InputError) -> None:
        self.problems.append(str(error).removeprefix(f"{self.source}: "))

    def raise_any(self) -> None:
        if len(self.problems) == 1:
            raise InputError(f"{self.source}: {self.problems[0]}")
        if self.problems:
            shown = "; ".join(self.problems[:MAX_BAD_ROWS])
            more = len(self.problems) - MAX_BAD_ROWS
            raise InputError(
                f"{self.source}: {len(self.problems)} bad rows: {shown}"
                + (f"; and {more} more" if more > 0 else "")
            )


def _parse_csv(text: str, source: str) -> dict[str, Decimal]:
    if "\x00" in text:
        raise InputError(f"{source}: contains NUL bytes; not a CSV file")
    if not text.strip():
        raise InputError(
            f"{source}: empty; expected the header 'client,billable_gb' and one row per client"
        )
    bad = _BadRows(source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: dict[str, Decimal] = {}
    seen: dict[str, str] = {}
    try:
        header = next(reader, None)
        columns = [h.strip().lower() for h in header or []]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise InputError(
                f"{source}: row 1: column {repeated[0]!r} appears more than once in the header; "
                "the header must be 'client,billable_gb'"
            )
        if columns != ["client", "billable_gb"]:
            raise InputError(
                f"{source}: row 1: header must be 'client,billable_gb', "
                f"got {','.join(header or [])!r}"
            )
        for fields in reader:
            blank_or_odd = len(fields) != 2 or not fields[0].strip()  # rare: checked further
            if blank_or_odd and all(not f.strip() for f in fields):
                continue
            try:
                if len(fields) != 2:
                    raise InputError(
                        f"{source}: row {reader.line_num}: expected 2 fields "
                        f"(client,billable_gb), got {len(fields)}; quote names that contain "
                        "commas"
                    )
                _add_row(rows, seen, fields[0], fields[1], source, f"row {reader.line_num}")
            except InputError as e:
                bad.add(e)
    except csv.Error as e:
        bad.add(InputError(f"{source}: row {reader.line_num}: malformed CSV ({e})"))
    bad.raise_any()
    return rows


def _parse_json(text: str, source: str) -> dict[str, Decimal]:
    """Rows of a JSON list of {client, billable_gb}; numbers kept exact (Decimal), NaN and
    Infinity refused with their item, an object with a repeated key refused (JSON would keep
    the last value silently)."""
    try:
        data = json.loads(
            text, parse_float=Decimal, parse_constant=_Constant, object_pairs_hook=_object
        )
    except (json.JSONDecodeError, ValueError, RecursionError) as e:
        raise InputError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(data, list):
        raise InputError(f"{source}: must be a JSON list of {{client, billable_gb}} objects")
    rows: dict[str, Decimal] = {}
    seen: dict[str, str] = {}
    bad = _BadRows(source)
    for i, item in enumerate(data):
        try:
            _json_item(rows, seen, item, source, i)
        except InputError as e:
            bad.add(e)
    bad.raise_any()
    return rows


def _json_item(
    rows: dict[str, Decimal], seen: dict[str, str], item: Any, source: str, i: int
) -> None:
    """One item of a JSON usage list (InputError naming it)."""
    where = f"{source}: item {i}"
    if isinstance(item, _Repeated):
        raise InputError(
            f"{where}: key {item.repeated!r} appears more than once; one value per key"
        )
    if not isinstance(item, dict) or set(item) != {"client", "billable_gb"}:
        raise InputError(f"{where}: must be an object with exactly client and billable_gb")
    gb = item["billable_gb"]
    if isinstance(gb, _Constant):
        raise InputError(f"{where}: billable_gb must be a finite number, got {gb}")
    _add_row(rows, seen, item["client"], gb, source, f"item {i}")


class _Constant:
    """NaN, Infinity or -Infinity in the JSON: neither a number of gigabytes nor a name."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


class _Repeated(dict):
    """A JSON object in which a key appears more than once (`repeated` is the first such)."""

    repeated: str


def _object(pairs: list[tuple[str, Any]]) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            repeated = _Repeated(obj)
            repeated.repeated = key
            return repeated
        obj[key] = value
    return obj


def _run_command(command: str, cwd: Path, period: Period) -> str:
    try:
        proc = subprocess.run(
            command,
            shell=True,
            cwd=cwd,
            capture_output=True,  # noqa: S602
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise InputError(
            f"usage command `{command}` did not finish within {COMMAND_TIMEOUT}s"
        ) from None
    except OSError as e:
        raise InputError(f"usage command `{command}` could not start: {e.strerror}") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
        detail = f": {clean_line(last, 200)}" if last else ""  # masked, then cut
        raise InputError(
            f"usage command `{command}` exited with {proc.returncode} for {period}{detail}"
        )
    try:
        return proc.stdout.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"usage command `{command}`: output is not UTF-8 (byte {e.start})"
        ) from None
