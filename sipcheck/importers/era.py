"""Japanese era dates as MIC writes them (令和6年9月1日現在) → `datetime.date`.

MIC's spreadsheets carry their as-of date only as text in the Japanese
calendar, in whichever cell of the first rows the layout of the day put it:
today 令和6年9月1日現在 in A1, in older files （平成２９年８月１日現在） further
right, with full-width digits and parentheses, 元年 for the first year of an
era, and sometimes the one-character era signs ㍻/㋿. NFKC folds all of those
into one ASCII-digit form, so one pattern reads them all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

# First Gregorian year of each era, minus one: era year N is ERA_BASE + N.
ERA_BASE: Final[dict[str, int]] = {"令和": 2018, "平成": 1988}
# The first day of each era: a date before it does not exist in that era.
ERA_START: Final[dict[str, date]] = {"令和": date(2019, 5, 1), "平成": date(1989, 1, 8)}
# The last day of an era that has ended: 平成31年5月1日 names no day.
ERA_END: Final[dict[str, date]] = {"平成": date(2019, 4, 30)}

_ERA_DATE: Final = re.compile(r"(令和|平成)\s*(元|\d{1,2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
AS_OF_MARK: Final = "現在"
"""The word that marks an era date as the as-of date ("as of"), not some other date of a title."""
_ISO_IN_NAME: Final = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")


def find_era_date(text: str) -> date | None:
    """The first era date in ``text``, or None if there is none.

    Raises ValueError when the text holds an era date that does not exist
    (令和6年2月30日, 令和1年4月1日 which is still 平成, 平成31年5月1日 which is 令和).
    """
    normalised = unicodedata.normalize("NFKC", text)
    match = _ERA_DATE.search(normalised)
    if match is None:
        return None
    era, year_text, month, day = match.groups()
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise ValueError(f"era year must be 1 or more: {match.group(0)}")
    try:
        result = date(ERA_BASE[era] + year, int(month), int(day))
    except ValueError as exc:
        raise ValueError(f"no such date {match.group(0)}: {exc}") from None
    if result < ERA_START[era]:
        raise ValueError(f"{match.group(0)} is before the {era} era began ({ERA_START[era].isoformat()})")
    end = ERA_END.get(era)
    if end is not None and result > end:
        raise ValueError(f"{match.group(0)} is after the {era} era ended ({end.isoformat()})")
    return result


def parse_era_date(text: str) -> date:
    """Like `find_era_date` but the text must hold a date."""
    found = find_era_date(text)
    if found is None:
        raise ValueError(f"no Japanese era date (令和/平成 Y年M月D日) in {text!r}")
    return found


@dataclass(frozen=True, slots=True)
class CellDate:
    """An era date found in one spreadsheet cell: ``line`` (1-based row) and ``ref`` (A1 or a column)."""

    line: int
    ref: str
    text: str
    value: date


@dataclass(frozen=True, slots=True)
class CellDateError:
    """A cell holding an era date that does not exist; the caller reports it at that cell."""

    line: int
    ref: str
    text: str
    message: str


def find_as_of(cells: Iterable[tuple[int, str, str]]) -> tuple[CellDate | None, list[CellDateError]]:
    """The as-of date among ``(line, ref, text)`` cells in reading order, and the cells with impossible dates.

    A title row may carry other dates (a revision, a law), so a date marked 現在 wins over an
    unmarked one, and among equals the first in reading order; an unmarked date is still taken
    when it is the only one, as some files left 現在 out.
    """
    first: CellDate | None = None
    problems: list[CellDateError] = []
    for line, ref, text in cells:
        try:
            found = find_era_date(text)
        except ValueError as exc:
            problems.append(CellDateError(line, ref, text, str(exc)))
            continue
        if found is None:
            continue
        cell = CellDate(line, ref, text, found)
        if AS_OF_MARK in unicodedata.normalize("NFKC", text):
            return cell, problems
        if first is None:
            first = cell
    return first, problems


def date_in_name(name: str) -> date | None:
    """A date written in a file name: ISO-like (2024-09-16, 20240916) or an era date; None if none."""
    era = find_era_date(name)
    if era is not None:
        return era
    for match in _ISO_IN_NAME.finditer(name):
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            continue
    return None
