"""Reading text inputs: encoding detection, CSV with line numbers, JSON item lists.

Japanese administrators hand over CSVs from Excel in CP932 (Shift_JIS) or in
UTF-8 with a BOM; tools write plain UTF-8. We detect which, instead of asking.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipcheck.importers.errors import FILE_LEVEL, Collector, ImportFailed, RowError

_BOM = b"\xef\xbb\xbf"


def decode(data: bytes, file: str) -> tuple[str, str]:
    """Return (text, encoding name): UTF-8 (BOM or not) first, then CP932; else ImportFailed.

    UTF-8 is tried strictly before CP932 because a CP932 file with Japanese
    text is practically never valid UTF-8, while the reverse is often "valid".
    """
    if data.startswith(_BOM):
        try:
            return data[len(_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _bad_encoding(file, exc) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp932"), "cp932"
        except UnicodeDecodeError:
            raise _bad_encoding(file, utf8_error) from None


def _bad_encoding(file: str, exc: UnicodeDecodeError) -> ImportFailed:
    return ImportFailed(
        [
            RowError(
                file,
                FILE_LEVEL,
                "",
                f"byte {exc.start}",
                "not UTF-8 (with or without BOM) nor CP932/Shift_JIS text",
            )
        ]
    )


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed([RowError(path.name, FILE_LEVEL, "", str(path), f"cannot read: {exc}")]) from None
    return decode(data, path.name)[0]


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A CSV file's header and the position of each column in its rows."""

    file: str
    columns: dict[str, int]
    reader: Any  # a csv reader: iterates rows, ``line_num`` is the current line

    def line(self) -> int:
        return int(self.reader.line_num)


def open_csv(
    path: Path, required: Sequence[str], optional: Sequence[str], errors: Collector
) -> CsvTable | None:
    """Open a CSV with a header row; header problems are recorded and None returned.

    Column names are matched after trimming spaces and lower-casing. Unknown
    columns are an error: a misspelt optional column would otherwise be
    silently ignored and its data lost.
    """
    try:
        text = read_text(path)
    except ImportFailed as exc:
        errors.extend(exc.errors)
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    file = path.name
    try:
        header = next(reader)
    except StopIteration:
        errors.add(file, FILE_LEVEL, "", "", "empty file: expected a header row")
        return None
    except csv.Error as exc:
        errors.add(file, 1, "", "", f"bad CSV: {exc}")
        return None
    columns: dict[str, int] = {}
    errors_before = len(errors.errors)
    known = set(required) | set(optional)
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if name in columns:
            errors.add(file, 1, name, raw, "column appears twice in the header")
        elif name not in known:
            expected = ", ".join([*required, *optional])
            errors.add(file, 1, name, raw, f"unknown column (expected {expected})")
        else:
            columns[name] = index
    for name in required:
        if name not in columns:
            errors.add(file, 1, name, "", "required column missing from the header")
    if len(errors.errors) > errors_before:
        return None
    return CsvTable(file, columns, reader)


def csv_rows(table: CsvTable, errors: Collector) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, {column: stripped value}) for each non-blank row; ragged rows are recorded errors."""
    width = len(table.columns)
    names = list(table.columns.items())
    while True:
        try:
            row = next(table.reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.add(table.file, table.line(), "", "", f"bad CSV: {exc}")
            return
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        line = table.line()
        if len(row) != width:
            errors.add(table.file, line, "", ",".join(row), f"expected {width} fields, got {len(row)}")
            continue
        yield line, {name: row[index].strip() for name, index in names}


def json_items(path: Path, errors: Collector) -> list[tuple[str, dict[str, Any]]]:
    """A JSON file holding an array of objects → [("[index]", object)]; problems are recorded."""
    file = path.name
    try:
        data = json.loads(read_text(path))
    except ImportFailed as exc:
        errors.extend(exc.errors)
        return []
    except json.JSONDecodeError as exc:
        errors.add(file, exc.lineno, "", "", f"bad JSON: {exc.msg} (column {exc.colno})")
        return []
    if not isinstance(data, list):
        errors.add(file, FILE_LEVEL, "", type(data).__name__, "expected a JSON array of objects")
        return []
    items: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(data):
        where = f"[{index}]"
        if not isinstance(item, dict):
            errors.add(file, where, "", json.dumps(item, ensure_ascii=False)[:60], "expected an object")
            continue
        items.append((where, item))
    return items
