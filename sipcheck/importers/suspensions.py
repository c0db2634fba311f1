"""The number suspension feed: full snapshots and incremental changes, CSV or JSON.

A snapshot can hold a million numbers, so this path does not build a pydantic
model per row: it applies the same field parsers `SuspensionRow` uses
(`japanese_e164`, `parse_since`) in one tight loop over the CSV reader. The
rules are the model's; only the per-row object overhead is gone.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.textio import json_items, open_csv
from sipcheck.importers.values import parse_since
from sipcheck.model import Component, Part, Suspension
from sipcheck.numbers import InvalidNumber, NumberKind, parse_number

_FIELDS = ("number", "since", "reference", "source")
_OPS = ("add", "remove")


@dataclass(frozen=True, slots=True)
class SuspensionChanges:
    """An incremental update: numbers to add (with their details) and numbers (E.164) to remove."""

    add: tuple[Suspension, ...]
    remove: tuple[str, ...]
    sources: tuple[str, ...] = ()


class _Rows:
    """Validates suspension rows one by one, recording errors and remembering each number's first place."""

    __slots__ = ("add", "errors", "remove", "seen")

    def __init__(self, errors: Collector) -> None:
        self.errors = errors
        self.add: list[Suspension] = []  # a snapshot's numbers, or the changes' additions
        self.remove: list[str] = []
        self.seen: dict[str, tuple[str, int | str]] = {}  # E.164 → (file, line) first seen

    def row(
        self,
        file: str,
        line: int | str,
        op: str | None,
        number: str,
        since: str,
        reference: str,
        source: str,
    ) -> None:
        errors = self.errors
        ok = True
        if op is not None and op not in _OPS:
            errors.add(file, line, "op", op, "expected add or remove")
            ok = False
        try:
            parsed = parse_number(number)
            if parsed.kind is NumberKind.INTERNATIONAL:
                errors.add(file, line, "number", number, "not a Japanese number (+81)")
                ok = False
        except InvalidNumber as exc:
            errors.add(file, line, "number", number, f"not a valid number: {exc.detail}")
            return
        moment = None
        if since:
            try:
                moment = parse_since(since)
            except ValueError as exc:
                errors.add(file, line, "since", since, str(exc))
                ok = False
        if not ok:
            return
        e164 = parsed.e164
        first = self.seen.get(e164)
        if first is not None:
            errors.add(
                file, line, "number", number, f"{e164} is listed twice (first at {first[0]}:{first[1]})"
            )
            return
        self.seen[e164] = (file, line)
        if op == "remove":
            self.remove.append(e164)
        else:
            self.add.append(Suspension(e164, moment, reference or None, source or None))


def _read_csv(path: Path, changes: bool, rows: _Rows) -> None:
    errors = rows.errors
    required = ("op", "number") if changes else ("number",)
    table = open_csv(path, required, _FIELDS[1:], errors)
    if table is None:
        return
    cols = table.columns
    width = len(cols)
    i_num = cols["number"]
    i_op = cols["op"] if changes else -1
    i_since, i_ref, i_src = (cols.get(name, -1) for name in _FIELDS[1:])
    file = table.file
    reader = table.reader
    # The common case inline: a row that parses cleanly is stored here; any
    # row that does not goes through `_Rows.row`, which names every problem.
    seen = rows.seen
    add = rows.add.append
    slow = rows.row
    international = NumberKind.INTERNATIONAL
    try:
        for row in reader:
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                errors.add(
                    file, reader.line_num, "", ",".join(row), f"expected {width} fields, got {len(row)}"
                )
                continue
            line = reader.line_num
            number = row[i_num]
            since = row[i_since] if i_since >= 0 else ""
            reference = row[i_ref].strip() if i_ref >= 0 else ""
            source = row[i_src].strip() if i_src >= 0 else ""
            if not changes:
                try:
                    parsed = parse_number(number)
                    e164 = parsed.e164
                    if parsed.kind is not international and e164 not in seen:
                        moment = parse_since(since) if since else None
                        seen[e164] = (file, line)
                        add(Suspension(e164, moment, reference or None, source or None))
                        continue
                except (InvalidNumber, ValueError):
                    pass
            slow(
                file,
                line,
                row[i_op].strip() if changes else None,
                number.strip(),
                since.strip(),
                reference,
                source,
            )
    except csv.Error as exc:
        errors.add(file, reader.line_num, "", "", f"bad CSV: {exc}")


def _read_json(path: Path, changes: bool, rows: _Rows) -> None:
    errors = rows.errors
    allowed = {"op", *_FIELDS} if changes else set(_FIELDS)
    for where, item in json_items(path, errors):
        ok = True
        for key in item:
            if key not in allowed:
                errors.add(path.name, where, key, item[key], "unknown field")
                ok = False
        values: dict[str, str] = {}
        for key in allowed:
            value: Any = item.get(key)
            if value is None:
                values[key] = ""
            elif isinstance(value, str):
                values[key] = value.strip()
            else:
                errors.add(path.name, where, key, value, "expected a string")
                ok = False
        for key in ("op", "number") if changes else ("number",):
            if ok and not values[key]:
                errors.add(path.name, where, key, "", "required field missing")
                ok = False
        if ok:
            rows.row(
                path.name,
                where,
                values["op"] if changes else None,
                values["number"],
                values["since"],
                values["reference"],
                values["source"],
            )


def _read(paths: Sequence[Path], changes: bool) -> _Rows:
    errors = Collector()
    rows = _Rows(errors)
    # A million new objects would trigger the cyclic GC over and over although
    # none of them can form a cycle; pausing it halves the load time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _read_all(paths, changes, rows)
    finally:
        if gc_was_enabled:
            gc.enable()
    errors.check()
    return rows


def _read_all(paths: Sequence[Path], changes: bool, rows: _Rows) -> None:
    errors = rows.errors
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            _read_csv(path, changes, rows)
        elif suffix == ".json":
            _read_json(path, changes, rows)
        else:
            errors.add(path.name, FILE_LEVEL, "", path.suffix, "unsupported format: expected .csv or .json")


def load_suspensions(paths: Sequence[Path]) -> Part:
    """A full snapshot → the `Component.SUSPENSIONS` part (every number once)."""
    rows = _read(paths, changes=False)
    return Part(Component.SUSPENSIONS, tuple(rows.add), None, tuple(p.name for p in paths))


def load_suspension_changes(paths: Sequence[Path]) -> SuspensionChanges:
    """Incremental changes (``op`` = add | remove); a number may appear once across all files."""
    rows = _read(paths, changes=True)
    return SuspensionChanges(tuple(rows.add), tuple(rows.remove), tuple(p.name for p in paths))
