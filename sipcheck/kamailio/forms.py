"""How a caller's digits become a national or E.164 number, as a table Kamailio can walk.

A routing script should not parse numbers: every rule it carried would be a second copy of
`sipcheck.numbers` that could drift. So the rules that turn a SIP user part of ASCII digits
(``0352535111``, ``+81352535111``, ``81352535111``, ``184`` / ``186`` privacy prefixes, the
``010`` international prefix, the ``+81 0…`` mistake) are stated once here as `transform`, and
published as a small decision trie keyed by ``<length>:<leading characters>``: the script looks up
three characters, then one more while the entry says so, and applies the strip/prepend it finds.

`transform` must agree with `sipcheck.numbers.parse_number` on every ASCII digit string: the
tests check it on every structured prefix and on random strings. What it cannot say (a user part
with separators, full-width digits, a tel: URI with visual separators) the table does not hold,
and the script answers as for an invalid number; `sipcheck.numbers` accepts those forms, so the
Kamailio edge reads only the plain digit forms carriers send on trunks (see the README's limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

ALPHABET: Final = "+0123456789"
"""The characters a published form key may hold; anything else in a user part finds no entry."""

FIRST_DEPTH: Final = 3
"""The script's first lookup takes this many leading characters."""

MAX_LENGTH: Final = 24
"""Longest user part the table describes: ``184`` + ``010`` + ``81`` + ``0`` + a 14-digit national
number is 23 characters; anything longer is not a number in any form."""

_PRIVACY: Final = ("184", "186")
_INTERNATIONAL_ACCESS: Final = "010"
_COUNTRY: Final = "81"


@dataclass(frozen=True, slots=True)
class Transform:
    """What to do with a user part: ``national`` = ``prepend`` + user[strip:] (kind N), or
    ``e164`` = ``+`` + user[strip:] (kind I, a foreign number)."""

    kind: Literal["N", "I"]
    strip: int
    prepend: str = ""

    def apply(self, user: str) -> str:
        rest = user[self.strip :]
        return self.prepend + rest if self.kind == "N" else "+" + rest


class _Reader:
    """The user part, read one character at a time, remembering how far the rules looked.

    The trie needs, for each prefix, whether the rules' answer depends on more characters: it
    does exactly when they read past the prefix, whatever the remaining characters are (the
    rules' path up to their first read past the prefix depends on the prefix alone).
    """

    __slots__ = ("deepest", "length", "text")

    def __init__(self, text: str, length: int) -> None:
        self.text = text
        self.length = length
        self.deepest = -1

    def at(self, index: int) -> str:
        self.deepest = max(self.deepest, index)
        return self.text[index] if index < len(self.text) else "5"

    def starts(self, index: int, word: str) -> bool:
        return (
            all(self.at(index + i) == ch for i, ch in enumerate(word))
            if index + len(word) <= self.length
            else False
        )


def _rules(user: _Reader) -> Transform | None:
    """`sipcheck.numbers.parse_number`'s reading of an ASCII digit string (optional leading ``+``),
    up to the national or E.164 number: which prefix is stripped, and what is put in front."""
    length = user.length
    if length == 0 or length > MAX_LENGTH:
        return None
    if user.at(0) == "+":
        return _international(user, 1)
    at = 0
    if length > 3 and any(user.starts(0, p) for p in _PRIVACY) and user.at(3) == "0":
        at = 3
    if user.starts(at, _INTERNATIONAL_ACCESS):
        return _international(user, at + 3)
    if at < length and user.at(at) == "0":
        return Transform("N", at)
    if length >= 10 and user.starts(0, _COUNTRY):
        return _after_country(user, 2)
    return None


def _international(user: _Reader, at: int) -> Transform | None:
    """``user[at:]`` is country code + subscriber number (after ``+`` or ``010``)."""
    if user.starts(at, _COUNTRY):
        return _after_country(user, at + 2)
    digits = user.length - at
    if digits < 1 or user.at(at) == "0" or not 7 <= digits <= 15:
        return None
    return Transform("I", at)


def _after_country(user: _Reader, at: int) -> Transform:
    """``user[at:]`` follows the country code 81: one trunk 0 there is a common mistake, dropped."""
    if at < user.length and user.at(at) == "0":
        return Transform("N", at + 1, "0")
    return Transform("N", at, "0")


def decide_form(prefix: str, length: int) -> tuple[Transform | None, bool]:
    """(transform, decided) for a user part of ``length`` characters starting with ``prefix``:
    ``decided`` is False when the rules need characters beyond the prefix."""
    if any(ch not in ALPHABET for ch in prefix) or "+" in prefix[1:]:
        return None, True
    reader = _Reader(prefix, length)
    result = _rules(reader)
    return result, reader.deepest < len(prefix)


def transform(user: str) -> Transform | None:
    """The transform of a whole user part, or None when it is not a number in any form."""
    if any(ch not in ALPHABET for ch in user) or "+" in user[1:]:
        return None
    return _rules(_Reader(user, len(user)))


@dataclass(frozen=True, slots=True)
class FormEntry:
    """One published trie node: look ``next_depth`` characters next (0: done, apply ``transform``)."""

    next_depth: int
    transform: Transform | None

    def encode(self) -> str:
        t = self.transform
        if t is None:
            return f"{self.next_depth}|X|0|"
        return f"{self.next_depth}|{t.kind}|{t.strip}|{t.prepend}"


def form_key(length: int, prefix: str) -> str:
    return f"f:{length}:{prefix}"


def form_entries() -> dict[str, str]:
    """Every trie node for user parts of 1 to `MAX_LENGTH` characters, encoded for the view.

    A user part shorter than `FIRST_DEPTH` is its own first key. Invalid leaves are left out:
    the script treats a missing key as "not a number", so only transforms and branches are kept.
    """
    entries: dict[str, str] = {}
    for length in range(1, MAX_LENGTH + 1):
        first = min(FIRST_DEPTH, length)
        stack = [_prefix for _prefix in _words(first)]
        while stack:
            prefix = stack.pop()
            decision, decided = decide_form(prefix, length)
            if not decided and len(prefix) < length:
                entries[form_key(length, prefix)] = FormEntry(len(prefix) + 1, None).encode()
                stack.extend(prefix + ch for ch in ALPHABET)
            elif decision is not None:
                entries[form_key(length, prefix)] = FormEntry(0, decision).encode()
    return entries


def _words(length: int) -> list[str]:
    words = [""]
    for _ in range(length):
        words = [w + ch for w in words for ch in ALPHABET]
    return words


def walk(entries: Mapping[str, str], user: str) -> Transform | None:
    """What the routing script does with the form entries, step for step (tests and `explain`)."""
    length = len(user)
    depth = min(FIRST_DEPTH, length)
    while True:
        value = entries.get(form_key(length, user[:depth]))
        if value is None:
            return None
        next_depth, kind, strip, prepend = value.split("|")
        if next_depth == "0":
            return Transform("N" if kind == "N" else "I", int(strip), prepend)
        depth = int(next_depth)
