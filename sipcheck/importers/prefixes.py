"""Number ranges as prefixes: a wholesale range ``start-end`` → the fewest prefixes that cover it exactly.

Pure functions; the store matches wholesale entries by longest prefix, so a
range is stored as the prefixes that cover exactly its numbers.
"""

from __future__ import annotations

from sipcheck.numbers import InvalidNumber, PhoneNumber, parse_number

_NATIONAL_LENGTHS = (10, 11, 14)


def range_to_prefixes(start: str, end: str) -> list[str]:
    """The minimal list of prefixes whose numbers are exactly ``start``…``end`` (equal-length digit strings).

    Greedy from the low end: at each step take the largest aligned decimal
    block that starts at the current number and does not pass ``end``. This
    is the canonical (and minimal) decomposition of an interval into decimal
    prefix blocks.
    """
    if len(start) != len(end) or not (start.isdigit() and end.isdigit()) or not start.isascii():
        raise ValueError("start and end must be digit strings of one length")
    width = len(start)
    low, high = int(start), int(end)
    if low > high:
        raise ValueError("start is after end")
    prefixes: list[str] = []
    while low <= high:
        size_digits = 0
        while size_digits < width:
            step = 10 ** (size_digits + 1)
            if low % step or low + step - 1 > high:
                break
            size_digits += 1
        prefixes.append(str(low).zfill(width)[: width - size_digits])
        low += 10**size_digits
    return prefixes


def prefix_range(prefix: str, width: int) -> tuple[int, int]:
    """The numbers (as ints of ``width`` digits) a prefix covers."""
    pad = width - len(prefix)
    return int(prefix) * 10**pad, int(prefix) * 10**pad + 10**pad - 1


def number_for_prefix(prefix: str) -> PhoneNumber | None:
    """A valid Japanese number that starts with ``prefix`` (padding with zeros), or None if none does."""
    for length in _NATIONAL_LENGTHS:
        if length < len(prefix):
            continue
        try:
            number = parse_number(prefix.ljust(length, "0"))
        except InvalidNumber:
            continue
        if len(number.national) == length:
            return number
    return None
