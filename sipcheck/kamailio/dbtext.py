"""The view as Kamailio db_text tables: what htable loads at start and on ``htable.reload``.

db_text is a directory of plain files, one per table, read whole on each reload: no database
server for a table that only sipcheck writes. A file is written beside its final name and
renamed into place, so Kamailio never reads a half-written table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HEADER = "key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n"
"""htable's columns, in the order htable reads them (its default column names)."""


def escape(text: str) -> str:
    """A db_text string field: the separator, backslash and line breaks escaped."""
    return (
        text.replace("\\", "\\\\")
        .replace(":", "\\:")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
    )


def write_table(directory: Path, table: str, entries: Mapping[str, str]) -> Path:
    """Write ``entries`` as db_text table ``table`` in ``directory`` (atomically), and its version row."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / table
    tmp = directory / f".{table}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        for key, value in entries.items():
            fh.write(f"{escape(key)}:0:0:{escape(value)}:0\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _ensure_version(directory, table)
    return path


def _ensure_version(directory: Path, table: str) -> None:
    """db_text's ``version`` table must list each table (htable checks nothing, db_text does)."""
    path = directory / "version"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if not lines:
        lines = ["table_name(str) table_version(int)"]
    if not any(line.split(":", 1)[0] == table for line in lines[1:]):
        lines.append(f"{table}:1")
        tmp = directory / ".version.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def read_table(path: Path) -> dict[str, str]:
    """Read a table this module wrote (tests, and `sipcheck kamailio explain`)."""
    entries: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        next(fh, None)
        for line in fh:
            fields = _split(line.rstrip("\n"))
            if len(fields) == 5:
                entries[fields[0]] = fields[3]
    return entries


def _split(line: str) -> list[str]:
    fields: list[str] = []
    current: list[str] = []
    escapes = {"\\": "\\", ":": ":", "r": "\r", "n": "\n", "t": "\t"}
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            current.append(escapes.get(line[i + 1], line[i + 1]))
            i += 2
            continue
        if ch == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    fields.append("".join(current))
    return fields
