"""The processed MIC block CSV (``block_prefix,range,operator_name_as_published[,in_use]``).

This is the format shipped in ``sipcheck/data`` (MIC data, processed); its as-of
date is in the file name, as MIC's own file names carry it.
"""

from __future__ import annotations

from pathlib import Path

from sipcheck.importers.era import date_in_name
from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.mic_common import MicFile, block_kind, range_key
from sipcheck.importers.rows import MicBlockRow
from sipcheck.importers.tables import raw_rows, validate_row
from sipcheck.model import Block


def read_mic_csv(path: Path, errors: Collector) -> MicFile | None:
    file = path.name
    as_of = date_in_name(file)
    if as_of is None:
        errors.add(file, FILE_LEVEL, "", "", "no as-of date in the file name (e.g. …-2024-09-16.csv)")
    result = MicFile(file, as_of)
    for line, raw in raw_rows(path, MicBlockRow, errors):
        row = validate_row(MicBlockRow, file, line, raw, errors)
        if row is None:
            continue
        try:
            kind = block_kind(row.block_prefix)
        except ValueError as exc:
            errors.add(file, line, "block_prefix", row.block_prefix, str(exc))
            continue
        expected = range_key(row.block_prefix)
        if row.range != expected:
            errors.add(file, line, "range", row.range, f"block {row.block_prefix} is in range {expected}")
            continue
        result.ranges.add(row.range)
        block = Block(row.block_prefix, kind, row.operator_name_as_published, row.in_use)
        result.blocks.append((f"{file}:{line}", block))
    return result
