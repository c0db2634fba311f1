"""The processed MIC designation CSVs: the consolidated file shipped in ``sipcheck/data``, and the
block list of earlier versions.

- ``block,range,operator,designated_as_of,operator_as_of,source`` (`MicDesignationRow`): one row per
  designated block, with per-range dates; the format of ``mic-designations-2026.csv``.
- ``block_prefix,range,operator_name_as_published[,in_use]`` (`MicBlockRow`): its as-of date is in the
  file name, as MIC's own file names carry it.

Either way the file covers every range it has a row for: a block of such a range with no
designated row was not designated.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from sipcheck.importers.era import date_in_name
from sipcheck.importers.errors import FILE_LEVEL, Collector, ImportFailed
from sipcheck.importers.mic_common import MicFile, Use, block_kind, block_range, parse_use, range_key
from sipcheck.importers.rows import MicBlockRow, MicDesignationRow
from sipcheck.importers.tables import raw_rows, validate_row
from sipcheck.importers.textio import read_text
from sipcheck.model import Block
from sipcheck.numbers import FIXED_RANGES  # what ``range=fixed`` covers


def read_mic_csv(path: Path, errors: Collector) -> MicFile | None:
    if "designated_as_of" in _header(path):
        return _read_designations(path, errors)
    return _read_blocks(path, errors)


def _header(path: Path) -> list[str]:
    try:
        text = read_text(path)
    except ImportFailed:
        return []  # the reader reports the encoding problem
    try:
        return [name.strip().lower() for name in next(csv.reader(io.StringIO(text, newline="")), [])]
    except csv.Error:
        return []


def _read_designations(path: Path, errors: Collector) -> MicFile | None:
    """The consolidated CSV, validated by hand: 30,000 rows through pydantic would cost half a second
    at every start of the built-in data. The rules are `MicDesignationRow`'s (a test holds them together)."""
    file = path.name
    result = MicFile(file, None)
    as_of: dict[str, date] = {}  # per range as the file writes it (fixed, 050, …)
    operators: dict[str, date] = {}
    tags: dict[str, set[str]] = {}
    dates: dict[str, date | None] = {}
    for line, raw in raw_rows(path, MicDesignationRow, errors):
        block = raw.get("block", "")
        rng = raw.get("range", "")
        operator = raw.get("operator", "")
        designated = _date(raw.get("designated_as_of", ""), dates)
        named = _date(raw.get("operator_as_of", ""), dates)
        ok = True
        if not block:
            errors.add(file, line, "block", "", "required field missing")
            ok = False
        if designated is None:
            value = raw.get("designated_as_of", "")
            errors.add(file, line, "designated_as_of", value, _DATE_MESSAGE if value else _MISSING)
            ok = False
        if "operator_as_of" in raw and named is None:
            errors.add(file, line, "operator_as_of", raw["operator_as_of"], _DATE_MESSAGE)
            ok = False
        elif operator and named is None:
            errors.add(file, line, "operator_as_of", "", "required when an operator is named")
            ok = False
        if not ok or designated is None:
            continue
        try:
            kind, key = block_range(block)
        except ValueError as exc:
            errors.add(file, line, "block", block, str(exc))
            continue
        if rng != key and not (rng == "fixed" and key in FIXED_RANGES):
            expected = "fixed" if key in FIXED_RANGES else key
            errors.add(file, line, "range", rng, f"block {block} is in range {expected}")
            continue
        _earliest(as_of, rng, designated)
        if named is not None:
            _earliest(operators, rng, named)
        source = raw.get("source")
        if source:
            tags.setdefault(rng, set()).add(source)
        result.blocks.append((f"{file}:{line}", Block(block, kind, operator, True)))
    for rng, day in as_of.items():
        covered = FIXED_RANGES if rng == "fixed" else (rng,)
        for key in covered:
            result.ranges.add(key)
            result.range_as_of[key] = day
            if rng in tags:
                result.range_sources[key] = "; ".join(sorted(tags[rng]))
            # Operator names older than the designations are worth saying (MIC's 2017 abbreviations).
            if rng in operators and operators[rng] < day:
                result.operators_as_of[key] = operators[rng]
    if as_of:
        result.as_of = min(as_of.values())
    elif not errors:
        errors.add(file, FILE_LEVEL, "", "", "no designated block: the file covers no range")
    return result


_DATE_MESSAGE = "expected an ISO date YYYY-MM-DD"
_MISSING = "required field missing"


def _date(text: str, seen: dict[str, date | None]) -> date | None:
    """An ISO date (the file repeats a handful of them), None when empty or not one."""
    if text in seen:
        return seen[text]
    day: date | None = None
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
    seen[text] = day
    return day


def _earliest(dates: dict[str, date], key: str, day: date) -> None:
    current = dates.get(key)
    if current is None or day < current:
        dates[key] = day


def _read_blocks(path: Path, errors: Collector) -> MicFile | None:
    file = path.name
    as_of = date_in_name(file)
    if as_of is None:
        errors.add(file, FILE_LEVEL, "", "", "no as-of date in the file name (e.g. …-2024-09-16.csv)")
    result = MicFile(file, as_of)
    for line, raw in raw_rows(path, MicBlockRow, errors):
        row = validate_row(MicBlockRow, file, line, raw, errors)
        if row is None:
            continue
        use = parse_use(row.in_use)
        if use is None:
            errors.add(
                file,
                line,
                "in_use",
                row.in_use,
                "expected 使用中, 使用予定, 未使用, 使用不可 (or true/false)",
            )
            continue
        expected = range_key(row.block_prefix)
        if row.range != expected:
            errors.add(file, line, "range", row.range, f"block {row.block_prefix} is in range {expected}")
            continue
        result.ranges.add(row.range)
        if not use.designated:
            continue  # a 未使用/使用不可 row: the range is covered, the block was never issued
        try:
            kind = block_kind(row.block_prefix)
        except ValueError as exc:
            errors.add(file, line, "block_prefix", row.block_prefix, str(exc))
            continue
        block = Block(row.block_prefix, kind, row.operator_name_as_published, use is Use.IN_USE)
        result.blocks.append((f"{file}:{line}", block))
    return result
