"""What every MIC file reader produces: the blocks of one file, its as-of date and the ranges it covers.

A file *covers* a range when it lists the range's designation status completely (MIC's
files do, per range); inside a covered range a block with no record was not designated.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Final

from sipcheck.model import Block
from sipcheck.numbers import PLAN, InvalidNumber, NumberKind, block_rule, designation_range

range_key = designation_range  # the range a block prefix belongs to (050, 0120, 03…)


class Use(StrEnum):
    """MIC's 使用状況 of a block in the fixed-line files."""

    IN_USE = "使用中"  # designated and in use
    PLANNED = "使用予定"  # designated, planned: not yet in service
    UNUSED = "未使用"  # not designated (no operator): a number from it was never issued
    UNUSABLE = "使用不可"  # not usable (no operator): never issued either

    @property
    def designated(self) -> bool:
        return self in (Use.IN_USE, Use.PLANNED)


USE_WORDS: Final[dict[str, Use]] = {
    **{u.value: u for u in Use},
    # the processed CSV's in_use column, as earlier versions wrote it
    "true": Use.IN_USE,
    "1": Use.IN_USE,
    "planned": Use.PLANNED,
    "false": Use.UNUSED,
    "0": Use.UNUSED,
    "unusable": Use.UNUSABLE,
}


def parse_use(text: str) -> Use | None:
    """A 使用状況 cell (NFKC, trimmed, case-folded for the ASCII words) as a `Use`, None if unknown."""
    return USE_WORDS.get(unicodedata.normalize("NFKC", text).strip().lower())


@dataclass(slots=True)
class MicFile:
    """One MIC file, read and validated; ``blocks`` keep the place (line/row, field) each came from.

    ``ranges`` are the ranges the file covers (every block row counts, designated or not);
    ``range_as_of`` and ``operators_as_of`` hold per-range dates where a file (the consolidated
    CSV) carries them; ``source`` is where the file came from when it is more than its name
    (the URL `sipcheck data update` downloaded it from).
    """

    file: str
    as_of: date | None
    ranges: set[str] = field(default_factory=set)
    blocks: list[tuple[str, Block]] = field(default_factory=list)  # (place "file:line:field", block)
    range_as_of: dict[str, date] = field(default_factory=dict)
    operators_as_of: dict[str, date] = field(default_factory=dict)
    range_sources: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def as_of_for(self, rng: str) -> date | None:
        return self.range_as_of.get(rng, self.as_of)

    def source_for(self, rng: str) -> str:
        origin = self.source or self.file
        detail = self.range_sources.get(rng)
        return f"{origin} ({detail})" if detail else origin


def block_kind(prefix: str) -> NumberKind:
    """The kind of a block prefix; ValueError saying why if it is not a block of the number plan."""
    return block_range(prefix)[0]


def block_range(prefix: str) -> tuple[NumberKind, str]:
    """(kind, designation range) of a block prefix; ValueError saying why if it is not a block of the plan."""
    if len(prefix) < PLAN.classify_depth or not (prefix.isascii() and prefix.isdigit()):
        raise ValueError(f"a block key has at least {PLAN.classify_depth} digits, got {prefix}")
    try:
        return block_rule(prefix)
    except InvalidNumber as exc:
        if exc.code == "bad_block":
            raise ValueError(f"not a block prefix: {exc.detail}") from None
        raise ValueError(f"no valid Japanese number starts with {prefix}: {exc.detail}") from None


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
