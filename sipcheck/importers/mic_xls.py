"""MIC's fixed-line block files: Excel 97-2003 ``.xls``, one row per 6-digit block.

MIC has changed the layout over the years (docs/data-formats.md, /work/shared/data/README.md):
today the as-of date 令和6年9月1日現在 is in A1 and the header 番号区画コード | 番号 | 市外局番 |
市内局番 | 事業者 | 使用状況 | 備考 follows, possibly below title rows; older files had an extra
place-name (MA) column, called the operator column 指定事業者 and wrote （平成29年8月1日現在）
in another cell of the first row. So the header is found by its names and columns are mapped by
name, never by position, and the as-of date is looked for in every cell above the data. A header
MIC has not used yet is refused, naming what was found, because a renamed or new column may mean
something this reader does not know.

Only designated blocks (使用中, 使用予定) become `Block` records; every row, designated or not,
marks its range covered, so that inside the range a block without a record reads as never issued.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import xlrd
from openpyxl.utils import get_column_letter

from sipcheck.importers.era import find_as_of
from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.mic_common import MicFile, Use, block_kind, cell_text, digits, parse_use, range_key
from sipcheck.model import Block
from sipcheck.numbers import PLAN, NumberKind

HEADER: Final = ("番号区画コード", "番号", "市外局番", "市内局番", "事業者", "使用状況", "備考")
"""The header of today's files (2024-)."""

HEADER_ROWS: Final = 10
"""How many first rows may hold the header: title rows above it have been seen, not ten of them."""

# Header names (NFKC, spaces removed, case-folded) → the role of the column.
COLUMNS: Final[dict[str, str]] = {
    "番号区画コード": "code",
    "番号": "number",
    "市外局番": "area",
    "市内局番": "local",
    "事業者": "operator",
    "指定事業者": "operator",  # older files
    "使用状況": "status",
    "備考": "note",
    # the place-name (MA, 単位料金区域) column of older files
    "ma": "place",
    "ma名": "place",
    "番号区画": "place",
    "地域名": "place",
}
REQUIRED: Final = {
    "area": "市外局番",
    "local": "市内局番",
    "operator": "事業者 or 指定事業者",
    "status": "使用状況",
}
MIC_USE_WORDS: Final = " / ".join(u.value for u in Use)
_BLOCK_CELLS: Final = ("area", "local", "number", "operator", "status")
"""A row with none of these filled holds no block (a note, a place name carried over): skipped."""
_SHOWN_ROWS: Final = 5
_SHOWN_CHARS: Final = 30


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where each role's column is (0-based index) and the header text it goes by in this file."""

    index: dict[str, int]
    name: dict[str, str]

    def value(self, values: list[object], role: str) -> object:
        col = self.index.get(role)
        return values[col] if col is not None and col < len(values) else ""


def read_xls(path: Path, errors: Collector) -> MicFile | None:
    file = path.name
    log = io.StringIO()  # xlrd writes its warnings here, not to the user's terminal
    try:
        book = xlrd.open_workbook(str(path), logfile=log, verbosity=0)
    except Exception as exc:  # xlrd raises many types for a damaged or truncated file
        detail = _first_warning(log.getvalue())
        errors.add(
            file,
            FILE_LEVEL,
            "",
            "",
            f"not a readable .xls workbook (damaged or truncated?): {type(exc).__name__}: {exc}{detail}",
        )
        return None
    try:
        if book.nsheets == 0:
            errors.add(file, FILE_LEVEL, "", "", "the workbook has no sheet")
            return None
        sheet = book.sheet_by_index(0)
        rows = [list(sheet.row_values(i)) for i in range(sheet.nrows)]
    finally:
        book.release_resources()
    return _read_rows(file, rows, errors)


def _first_warning(log: str) -> str:
    for line in log.splitlines():
        text = line.replace("WARNING ***", "").strip()
        if text:
            return f" ({text})"
    return ""


def _read_rows(file: str, rows: list[list[object]], errors: Collector) -> MicFile | None:
    header_index = _find_header(rows)
    if header_index is None:
        errors.add(file, FILE_LEVEL, "", "", _unknown_layout(rows))
        return None
    as_of, problems = find_as_of(
        (line, f"{_column_letter(col)}{line}", text)
        for line, row in enumerate(rows[: header_index + 1], start=1)
        for col, value in enumerate(row)
        if (text := cell_text(value))
    )
    for problem in problems:
        errors.add(file, problem.line, problem.ref, problem.text, problem.message)
    columns = _columns(file, header_index + 1, rows[header_index], errors)
    if as_of is None and not problems:
        errors.add(
            file,
            FILE_LEVEL,
            "",
            "",
            f"no as-of date: expected an era date such as 令和6年9月1日現在 or （平成29年8月1日現在） "
            f"in rows 1-{header_index + 1}",
        )
    if columns is None:
        return None
    result = MicFile(file, as_of.value if as_of is not None else None)
    seen: dict[str, int] = {}
    for index in range(header_index + 1, len(rows)):
        values = rows[index]
        if not any(cell_text(columns.value(values, role)) for role in _BLOCK_CELLS):
            continue
        _row(file, index + 1, values, columns, result, seen, errors)
    return result


def _header_key(value: object) -> str:
    return "".join(unicodedata.normalize("NFKC", cell_text(value)).split()).casefold()


def _find_header(rows: list[list[object]]) -> int | None:
    """The first of the first rows naming two known columns: one known name alone could be a title."""
    for index, row in enumerate(rows[:HEADER_ROWS]):
        if sum(_header_key(v) in COLUMNS for v in row) >= 2:
            return index
    return None


def _unknown_layout(rows: list[list[object]]) -> str:
    shown = []
    for line, row in enumerate(rows[:HEADER_ROWS], start=1):
        cells = [_trim(cell_text(v)) for v in row if cell_text(v)]
        if cells:
            shown.append(f"row {line}: {' | '.join(cells)}")
        if len(shown) == _SHOWN_ROWS:
            break
    found = "; ".join(shown) if shown else "nothing (the first sheet is empty)"
    return (
        f"unknown layout: no header row in rows 1-{HEADER_ROWS}; expected one naming "
        f"{', '.join(REQUIRED.values())} (optional: 番号区画コード, 番号, 備考, MA, 番号区画, 地域名); "
        f"found {found}"
    )


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _columns(file: str, line: int, header: list[object], errors: Collector) -> _Columns | None:
    """Map the header's columns by name; an unknown, repeated or missing column refuses the file."""
    index: dict[str, int] = {}
    name: dict[str, str] = {}
    ok = True
    for col, value in enumerate(header):
        key = _header_key(value)
        text = cell_text(value)
        if not key or find_as_of([(line, "", text)])[0] is not None:
            continue  # a blank column, or the as-of date written beside the header
        role = COLUMNS.get(key)
        if role is None:
            errors.add(
                file,
                line,
                _column_letter(col),
                text,
                "unknown column: expected the columns 番号区画コード, 番号, 市外局番, 市内局番, "
                "事業者 (or 指定事業者), 使用状況, 備考 and optionally a place name (MA, 番号区画, 地域名)",
            )
            ok = False
            continue
        if role in index:
            errors.add(
                file,
                line,
                _column_letter(col),
                text,
                f"column repeated: {name[role]} is already column {_column_letter(index[role])}",
            )
            ok = False
            continue
        index[role] = col
        name[role] = unicodedata.normalize("NFKC", text).strip()
    missing = [title for role, title in REQUIRED.items() if role not in index]
    if missing:
        found = " | ".join(cell_text(v) for v in header if cell_text(v))
        errors.add(file, line, "", found, f"header lacks {', '.join(missing)}")
        ok = False
    return _Columns(index, name) if ok else None


def _row(
    file: str,
    line: int,
    values: list[object],
    columns: _Columns,
    out: MicFile,
    seen: dict[str, int],
    errors: Collector,
) -> None:
    """Validate one block row; every sane row covers its range, only a designated one is a `Block`.

    MIC lists a few 使用不可 rows whose local code starts with 1, which the number plan has no
    block for: for rows that are not designated only the codes themselves are checked.
    """
    status_text = cell_text(columns.value(values, "status"))
    status = "".join(unicodedata.normalize("NFKC", status_text).split())
    use = parse_use(status)
    if use is None or status != use.value:  # parse_use also reads the processed CSV's true/false
        errors.add(file, line, columns.name["status"], status_text, f"expected {MIC_USE_WORDS}")
        use = None
    prefix = _prefix(file, line, values, columns, errors)
    if prefix is None:
        return
    out.ranges.add(range_key(prefix))
    ok = use is not None
    number_raw = columns.value(values, "number")
    listed = digits(number_raw)
    if listed and listed not in (prefix, prefix[1:]):
        errors.add(
            file,
            line,
            columns.name["number"],
            cell_text(number_raw),
            f"does not match {columns.name['area']}+{columns.name['local']} ({prefix})",
        )
        ok = False
    other = seen.setdefault(prefix, line)
    if other != line:
        errors.add(file, line, "", prefix, f"duplicate block, also at {file}:{other}")
        ok = False
    if use is None or not use.designated:
        return
    try:
        block_kind(prefix)
    except ValueError as exc:
        errors.add(file, line, columns.name["local"], cell_text(columns.value(values, "local")), str(exc))
        ok = False
    if ok:
        operator = cell_text(columns.value(values, "operator"))  # '' = designated, operator not named
        out.blocks.append((f"{file}:{line}", Block(prefix, NumberKind.FIXED, operator, use is Use.IN_USE)))


def _prefix(file: str, line: int, values: list[object], columns: _Columns, errors: Collector) -> str | None:
    """0 + 市外局番 + 市内局番 if both are digits of a listed area code and make 6 digits, else None."""
    area_raw = columns.value(values, "area")
    local_raw = columns.value(values, "local")
    area = digits(area_raw)
    local = digits(local_raw)
    ok = True
    if not area.isdigit():
        errors.add(file, line, columns.name["area"], cell_text(area_raw), "expected digits")
        ok = False
    if not local.isdigit():
        errors.add(file, line, columns.name["local"], cell_text(local_raw), "expected digits")
        ok = False
    if not ok:
        return None
    if not area.startswith("0"):
        area = "0" + area
    if area not in PLAN.area_codes:
        errors.add(file, line, columns.name["area"], cell_text(area_raw), f"{area} is not an area code")
        return None
    wanted = PLAN.fixed_block_digits - len(area)
    if isinstance(local_raw, float) and len(local) < wanted:
        local = local.zfill(wanted)  # a number cell lost the local code's leading zeros
    prefix = area + local
    if len(prefix) != PLAN.fixed_block_digits:
        errors.add(
            file,
            line,
            columns.name["local"],
            cell_text(local_raw),
            f"{prefix} is not a {PLAN.fixed_block_digits}-digit block prefix",
        )
        return None
    return prefix


def _column_letter(col: int) -> str:
    """A 0-based column index as Excel names it (0 → A, 26 → AA), for error places like G1."""
    return get_column_letter(col + 1)
