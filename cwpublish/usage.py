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
import subprocess
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cwpublish.config import UsageSource
from cwpublish.errors import InputError
from cwpublish.period import Period

MAX_GB = Decimal("1000000000000")  # 1 ZB; anything above is a unit mistake, not a backup
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
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{where}: billable_gb must be a number, got {text!r}") from None
    if not number.is_finite():
        raise InputError(f"{where}: billable_gb must be a finite number, got {text!r}")
    if number < 0:
        raise InputError(f"{where}: billable_gb must not be negative, got {text}")
    if number > MAX_GB:
        raise InputError(f"{where}: billable_gb {text} is implausibly large (unit mistake?)")
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _add_row(rows: dict[str, Decimal], client: Any, gb: Any, where: str) -> None:
    if not isinstance(client, str) or not client.strip():
        raise InputError(f"{where}: client name is empty")
    name = client.strip()
    if name in rows:
        raise InputError(f"{where}: second row for client {name!r}; one row per client")
    rows[name] = parse_gb(gb, where)


def _parse_csv(text: str, source: str) -> dict[str, Decimal]:
    if "\x00" in text:
        raise InputError(f"{source}: contains NUL bytes; not a CSV file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: dict[str, Decimal] = {}
    try:
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != ["client", "billable_gb"]:
            raise InputError(
                f"{source}: row 1: header must be 'client,billable_gb', "
                f"got {','.join(header or [])!r}"
            )
        for fields in reader:
            where = f"{source}: row {reader.line_num}"
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != 2:
                raise InputError(
                    f"{where}: expected 2 fields (client,billable_gb), got "
                    f"{len(fields)}; quote names that contain commas"
                )
            _add_row(rows, fields[0], fields[1], where)
    except csv.Error as e:
        raise InputError(f"{source}: row {reader.line_num}: malformed CSV ({e})") from None
    return rows


def _parse_json(text: str, source: str) -> dict[str, Decimal]:
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as e:
        raise InputError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(data, list):
        raise InputError(f"{source}: must be a JSON list of {{client, billable_gb}} objects")
    rows: dict[str, Decimal] = {}
    for i, item in enumerate(data):
        where = f"{source}: item {i}"
        if not isinstance(item, dict) or set(item) != {"client", "billable_gb"}:
            raise InputError(f"{where}: must be an object with exactly client and billable_gb")
        _add_row(rows, item["client"], item["billable_gb"], where)
    return rows


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


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
        detail = f": {last[:200]}" if last else ""
        raise InputError(
            f"usage command `{command}` exited with {proc.returncode} for {period}{detail}"
        )
    try:
        return proc.stdout.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"usage command `{command}`: output is not UTF-8 (byte {e.start})"
        ) from None
