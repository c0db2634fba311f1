"""Field parsers shared by the fast suspension path and the row models, so both accept the same input."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Final

from sipcheck.numbers import InvalidNumber, parse_number

JST: Final = timezone(timedelta(hours=9), "JST")


@lru_cache(maxsize=8192)
def parse_since(text: str) -> datetime:
    """ISO 8601 date or date-time → aware datetime; a date is midnight JST, a naive time is JST.

    Cached: a feed repeats the same dates and times over and over.
    """
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=JST)
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        raise ValueError("expected an ISO 8601 date or date-time (YYYY-MM-DD[THH:MM[:SS]][±HH:MM|Z])")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=JST)


def japanese_e164(text: str) -> str:
    """A valid Japanese number in any shape → E.164; ValueError naming why not."""
    try:
        number = parse_number(text)
    except InvalidNumber as exc:
        raise ValueError(f"not a valid number: {exc.detail}") from None
    if not number.is_japanese:
        raise ValueError("not a Japanese number (+81)")
    return number.e164
