"""Japanese telephone numbers: one parser from every shape a call path shows, to one canonical value.

Pure and allocation-light because it runs once per screened call. The number
plan (area codes, ranges, lengths, block sizes) is data, read once from
``sipcheck/data/jp-number-plan.json`` (MIC facts, processed), so a change of
plan is a data change, not a code change.

Canonical form is E.164 with ``+`` (``+81312345678``); ``national`` is the
domestic form with its leading 0. A number outside Japan keeps its E.164 form
and has no national form or block.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Final
from urllib.parse import unquote


class NumberKind(StrEnum):
    FIXED = "fixed"
    MOBILE = "mobile"
    IP = "ip"
    M2M = "m2m"
    TOLL_FREE = "toll_free"
    SHARED_COST = "shared_cost"
    MASS_CALLING = "mass_calling"
    PREMIUM = "premium"
    INTERNATIONAL = "international"


class Privacy(StrEnum):
    """What a 184/186 dial prefix asked for."""

    WITHHOLD = "withhold"  # 184
    PRESENT = "present"  # 186


class InvalidNumber(ValueError):
    """The input is not a valid telephone number; ``code`` is a stable machine reason."""

    def __init__(self, text: str, code: str, detail: str) -> None:
        self.text = text
        self.code = code
        self.detail = detail
        super().__init__(f"invalid number {text!r}: {detail} ({code})")


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A parsed number. ``block`` is the MIC designation key (national prefix), '' if none applies."""

    e164: str
    national: str
    kind: NumberKind
    block: str
    privacy: Privacy | None = None

    def __str__(self) -> str:
        return self.e164

    @property
    def is_japanese(self) -> bool:
        return self.kind is not NumberKind.INTERNATIONAL


@dataclass(frozen=True, slots=True)
class RangeRule:
    prefix: str
    kind: NumberKind
    length: int
    block_digits: int


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """Ranges keyed by national prefix; fixed area codes; lengths and block sizes."""

    ranges: dict[str, RangeRule]
    range_prefix_lengths: tuple[int, ...]
    area_codes: frozenset[str]
    fixed_length: int
    fixed_block_digits: int


def _load_plan() -> NumberPlan:
    raw = json.loads(resources.files("sipcheck.data").joinpath("jp-number-plan.json").read_text("utf-8"))
    block_digits: dict[str, int] = raw["non_geographic_block_digits"]
    ranges: dict[str, RangeRule] = {}
    for item in raw["non_geographic"]:
        prefix = item["prefix"]
        # Ranges without a published block size are designated per 7-digit prefix (0AB0-DEF), like 0120.
        ranges[prefix] = RangeRule(
            prefix, NumberKind(item["kind"]), int(item["length"]), block_digits.get(prefix, 7)
        )
    fixed = raw["fixed"]
    return NumberPlan(
        ranges=ranges,
        range_prefix_lengths=tuple(sorted({len(p) for p in ranges}, reverse=True)),
        area_codes=frozenset(fixed["area_codes"]),
        fixed_length=int(fixed["length"]),
        fixed_block_digits=int(fixed["block_digits"]),
    )


PLAN: Final[NumberPlan] = _load_plan()

# Characters people and systems put between digits. NFKC already maps full-width
# forms (０-９, ＋, －) to ASCII; these are what is left.
_SEPARATORS: Final = str.maketrans(
    "", "", " \t-.()/\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u3000"
)
_MAX_INPUT: Final = 256
_COUNTRY_CODE: Final = "81"
_INTERNATIONAL_ACCESS: Final = ("010",)  # Japan's international call prefix
_PRIVACY_PREFIXES: Final = {"184": Privacy.WITHHOLD, "186": Privacy.PRESENT}


def _strip_uri(text: str) -> str:
    """Reduce a SIP/TEL URI or name-addr to the bare number part."""
    if "<" in text:
        start = text.find("<")
        end = text.find(">", start)
        text = text[start + 1 : end if end != -1 else len(text)]
    lowered = text[:5].lower()
    if lowered.startswith(("sip:", "sips:")):
        text = text[text.index(":") + 1 :]
        at = text.find("@")
        if at != -1:
            text = text[:at]
        text = unquote(text.split(";", 1)[0])
    elif lowered.startswith("tel:"):
        text = unquote(text[4:].split(";", 1)[0])
    return text


def _classify_prefix(prefix5: str) -> tuple[NumberKind, int, int] | None:
    """(kind, expected length, block digits) for the first five digits of a national number, or None.

    Five digits decide the range: range prefixes have at most four, area codes at most five.
    """
    ranges = PLAN.ranges
    for length in PLAN.range_prefix_lengths:
        rule = ranges.get(prefix5[:length])
        if rule is not None:
            return rule.kind, rule.length, rule.block_digits
    for length in (5, 4, 3, 2):
        if prefix5[:length] in PLAN.area_codes:
            return NumberKind.FIXED, PLAN.fixed_length, PLAN.fixed_block_digits
    return None


# Memo of `_classify_prefix`: at most 10^5 keys, filled as numbers are seen.
_PREFIX_RULES: dict[str, tuple[NumberKind, int, int] | None] = {}


def _classify_national(text: str, national: str) -> tuple[NumberKind, int, int]:
    """Return (kind, expected length, block digits) for a national number (leading 0)."""
    prefix5 = national[:5]
    try:
        rule = _PREFIX_RULES[prefix5]
    except KeyError:
        rule = _PREFIX_RULES[prefix5] = _classify_prefix(prefix5)
    if rule is None:
        raise InvalidNumber(text, "unknown_range", f"no Japanese number range starts {national[:4]}")
    return rule


def _from_national(text: str, national: str, privacy: Privacy | None) -> PhoneNumber:
    if len(national) < 2 or national[1] == "0":
        raise InvalidNumber(text, "unknown_range", "a national number starts with 0 and a non-zero digit")
    kind, length, block_digits = _classify_national(text, national)
    if len(national) != length:
        raise InvalidNumber(
            text,
            "bad_length",
            f"{kind.value} numbers have {length} digits with the leading 0, got {len(national)}",
        )
    return PhoneNumber("+81" + national[1:], national, kind, national[:block_digits], privacy)


def _from_international(text: str, digits: str, privacy: Privacy | None) -> PhoneNumber:
    """``digits`` is country code + subscriber number, no prefix."""
    if digits.startswith(_COUNTRY_CODE):
        rest = digits[len(_COUNTRY_CODE) :]
        if rest.startswith("0"):
            # "+81 0312345678" is a common mistake; the trunk prefix must go.
            rest = rest[1:]
        return _from_national(text, "0" + rest, privacy)
    if not 7 <= len(digits) <= 15 or digits[0] == "0":
        raise InvalidNumber(text, "bad_length", f"an E.164 number has 7 to 15 digits, got {len(digits)}")
    return PhoneNumber("+" + digits, "", NumberKind.INTERNATIONAL, "", privacy)


def parse_number(text: str) -> PhoneNumber:
    """Parse any shape of a number (see DOMAIN.md) into a `PhoneNumber`.

    Raises `InvalidNumber`, and nothing else, for any input that is not a number.
    """
    if not isinstance(text, str):
        raise InvalidNumber(repr(text), "not_text", "a number must be given as text")
    if len(text) > _MAX_INPUT:
        raise InvalidNumber(text[:32] + "…", "too_long", f"input longer than {_MAX_INPUT} characters")
    # Fast path: plain ASCII national or E.164-without-plus digits, the common case on a trunk.
    if text.isascii() and text.isdigit():
        digits = text
        plus = False
    else:
        digits, plus = _normalise(text)
    privacy: Privacy | None = None
    if not plus and digits[:3] in _PRIVACY_PREFIXES and digits[3:4] == "0":
        privacy = _PRIVACY_PREFIXES[digits[:3]]
        digits = digits[3:]
    if plus:
        return _from_international(text, digits, privacy)
    if digits.startswith(_INTERNATIONAL_ACCESS):
        return _from_international(text, digits[3:], privacy)
    if digits.startswith("0"):
        return _from_national(text, digits, privacy)
    if digits.startswith(_COUNTRY_CODE) and len(digits) >= 10:
        return _from_international(text, digits, privacy)
    raise InvalidNumber(text, "no_prefix", "neither a national number (0…) nor an E.164 number (+81…)")


def _normalise(text: str) -> tuple[str, bool]:
    """Return (digits, had_plus) from a decorated input, or raise InvalidNumber."""
    cleaned = _strip_uri(unicodedata.normalize("NFKC", text).strip())
    cleaned = cleaned.translate(_SEPARATORS)
    plus = cleaned.startswith("+")
    if plus:
        cleaned = cleaned[1:]
    if not cleaned:
        raise InvalidNumber(text, "empty", "no digits")
    if not (cleaned.isascii() and cleaned.isdigit()):
        bad = next(ch for ch in cleaned if not ("0" <= ch <= "9"))
        raise InvalidNumber(text, "bad_character", f"unexpected character {bad!r}")
    return cleaned, plus


# What a calling-party field holds when there is no number to show: the SIP conventions
# (RFC 3323/3325 anonymous URIs) and the caller-display categories of Japanese networks.
ANONYMOUS_USERS: Final = frozenset(
    {
        "anonymous",
        "unknown",
        "unavailable",
        "restricted",
        "private",
        "withheld",
        "非通知",
        "通知不可能",
        "公衆電話",
    }
)


def is_anonymous(text: str) -> bool:
    """True when ``text`` (a bare user, a URI or a name-addr) says the caller withheld or has no number."""
    if not isinstance(text, str) or len(text) > _MAX_INPUT:
        return False
    user = _strip_uri(unicodedata.normalize("NFKC", text).strip())
    return user.strip().casefold() in ANONYMOUS_USERS


@lru_cache(maxsize=65536)
def parse_number_cached(text: str) -> PhoneNumber:
    """`parse_number` memoised for hot paths that see the same callers again and again."""
    return parse_number(text)


def number_key(number: PhoneNumber) -> str:
    """The key a number is stored under in every data set (suspensions, wholesale): its E.164 form."""
    return number.e164


def candidate_prefixes(national: str, shortest: int) -> list[str]:
    """Every prefix of ``national`` from ``shortest`` digits up to the whole number, longest first.

    Wholesale assignments are keyed by prefixes of any length; the longest match wins.
    """
    return [national[:n] for n in range(len(national), shortest - 1, -1)]
