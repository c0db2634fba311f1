"""What every MIC file reader produces: the blocks of one file, its as-of date and the ranges it covers."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sipcheck.importers.prefixes import number_for_prefix
from sipcheck.model import Block
from sipcheck.numbers import PLAN, NumberKind


@dataclass(slots=True)
class MicFile:
    """One MIC file, read and validated; ``blocks`` keep the place (line/row, field) each came from."""

    file: str
    as_of: date | None
    ranges: set[str] = field(default_factory=set)
    blocks: list[tuple[str, Block]] = field(default_factory=list)  # (place "file:line:field", block)


def range_key(prefix: str) -> str:
    """The range a national prefix belongs to: ``050``/``0120``/``090``…, or ``0``+first digit for fixed."""
    for length in PLAN.range_prefix_lengths:
        rule = PLAN.ranges.get(prefix[:length])
        if rule is not None:
            return rule.prefix
    return prefix[:2]


def block_kind(prefix: str) -> NumberKind:
    """The kind of a block prefix; ValueError saying why if it is not a block of the number plan."""
    number = number_for_prefix(prefix)
    if number is None:
        raise ValueError(f"no valid Japanese number starts with {prefix}")
    if number.block != prefix:
        raise ValueError(f"not a block prefix: blocks of this range have {len(number.block)} digits")
    return number.kind


def cell_text(value: object) -> str:
    """A spreadsheet cell as stripped text; integral floats (xls stores numbers as floats) lose their .0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def digits(value: object) -> str:
    """A code cell normalised (NFKC: full-width digits) with separators removed."""
    text = unicodedata.normalize("NFKC", cell_text(value))
    return "".join(text.replace("-", " ").split())
