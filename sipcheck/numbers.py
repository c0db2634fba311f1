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
    FMC = "fmc"  # 0600: fixed-mobile convergence, not a mobile number
    PAGER = "pager"  # 0204: 無線呼出
    SERVICE = "service"  # 0170: a 0AB0 付加的役務電話番号 (not an area code)


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
    """A parsed number. ``block`` is the MIC designation key (national prefix), '' if none applies.

    ``range`` is the designation range the block belongs to (`designation_range`): the unit
    in which MIC publishes its files and a data set records what it covers, so a lookup
    can tell "not designated" (covered, absent) from "not known" (not covered).
    """

    e164: str
    national: str
    kind: NumberKind
    block: str
    privacy: Privacy | None = None
    range: str = ""

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
    excluded_next_digits: str = ""  # MIC: 「Cは0を除く」 for 050…090; 0 and 4 for 020


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """Ranges keyed by national prefix; fixed area codes; lengths and block sizes; MIC's digit rules."""

    ranges: dict[str, RangeRule]
    range_prefix_lengths: tuple[int, ...]
    area_codes: frozenset[str]
    area_code_lengths: tuple[int, ...]
    fixed_length: int
    fixed_block_digits: int
    local_code_first_digits: str
    classify_depth: int
    """How many leading digits decide a national number's range, length and validity: a fixed
    number's validity depends on the first digit of its local code, which follows an area code
    of up to five digits; six digits, more than any range prefix needs."""


def _load_plan() -> NumberPlan:
    raw = json.loads(resources.files("sipcheck.data").joinpath("jp-number-plan.json").read_text("utf-8"))
    block_digits: dict[str, int] = raw["non_geographic_block_digits"]
    ranges: dict[str, RangeRule] = {}
    for item in raw["non_geographic"]:
        prefix = item["prefix"]
        # Ranges without a published block size are designated per 7-digit prefix (0AB0-DEF), like 0120.
        ranges[prefix] = RangeRule(
            prefix,
            NumberKind(item["kind"]),
            int(item["length"]),
            block_digits.get(prefix, 7),
            item.get("excluded_next_digits", ""),
        )
    fixed = raw["fixed"]
    area_codes = frozenset(fixed["area_codes"])
    range_prefix_lengths = tuple(sorted({len(p) for p in ranges}, reverse=True))
    area_code_lengths = tuple(sorted({len(a) for a in area_codes}, reverse=True))
    return NumberPlan(
        ranges=ranges,
        range_prefix_lengths=range_prefix_lengths,
        area_codes=area_codes,
        area_code_lengths=area_code_lengths,
        classify_depth=max(*range_prefix_lengths, *(n + 1 for n in area_code_lengths)),
        fixed_length=int(fixed["length"]),
        fixed_block_digits=int(fixed["block_digits"]),
        local_code_first_digits=fixed["local_code_first_digits"],
    )


PLAN: Final[NumberPlan] = _load_plan()
_DEPTH: Final = PLAN.classify_depth

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
        # No "@": the URI has no user part (RFC 3261 19.1.1), only a host; the caller gave no number.
        text = unquote(text[:at].split(";", 1)[0]) if at != -1 else ""
    elif lowered.startswith("tel:"):
        text = unquote(text[4:].split(";", 1)[0])
    return text


_Rule = tuple[NumberKind, int, int, str]
"""(kind, national length, block digits, designation range) of a valid prefix."""


FIXED_RANGES: Final[tuple[str, ...]] = tuple(f"0{d}" for d in range(1, 10))
"""The fixed-line designation ranges: ``0`` + the area code's first digit, one per MIC file."""


def designation_range(prefix: str) -> str:
    """The designation range of a national prefix: ``050``, ``0120``, ``0200``…, or for fixed
    numbers ``0`` + the area code's first digit (``03``), as MIC splits its fixed-line files
    (「3から始まる市外局番」)."""
    for length in PLAN.range_prefix_lengths:
        rule = PLAN.ranges.get(prefix[:length])
        if rule is not None:
            return rule.prefix
    return prefix[:2]


def range_kind(range_key: str) -> str:
    """The kind of number a designation range holds (``fixed`` for ``01``…``09``)."""
    rule = PLAN.ranges.get(range_key)
    return rule.kind.value if rule is not None else NumberKind.FIXED.value


def _classify_prefix(prefix: str) -> _Rule | tuple[str, str]:
    """The rule for the first `NumberPlan.classify_depth` digits of a national number, or
    (error code, detail) when MIC's plan has no valid number starting with them.

    The longest range prefix wins (0600 before 060, 0990 before the area code 099). A fixed
    number is valid when some area code that starts it is followed by a local code starting
    2–9: the plan has nested area codes (015, 0154, 01547), and where they overlap only MIC's
    blocks say which one a number belongs to, so any reading with a valid local code will do.
    """
    for length in PLAN.range_prefix_lengths:
        rule = PLAN.ranges.get(prefix[:length])
        if rule is not None:
            following = prefix[length : length + 1]
            if following and following in rule.excluded_next_digits:
                never = " or ".join(rule.excluded_next_digits)
                return (
                    "bad_range_digit",
                    f"in MIC's plan the digit after {rule.prefix} is never {never}, "
                    f"got {rule.prefix}-{following}",
                )
            return rule.kind, rule.length, rule.block_digits, rule.prefix
    readings = [prefix[:n] for n in PLAN.area_code_lengths if prefix[:n] in PLAN.area_codes]
    if not readings:
        return "unknown_range", f"no Japanese number range or area code starts {prefix[:4]}"
    for area in readings:
        local = prefix[len(area) : len(area) + 1]
        if not local or local in PLAN.local_code_first_digits:  # no local digit yet: the length check decides
            return NumberKind.FIXED, PLAN.fixed_length, PLAN.fixed_block_digits, prefix[:2]
    codes = ", ".join(f"{a}-{prefix[len(a)]}" for a in readings)
    return (
        "bad_local_code",
        f"a fixed number's local code starts with 2-9 (MIC's plan), not after the area code: {codes}",
    )


# Memo of `_classify_prefix`: at most 10^5 keys (six-digit prefixes), filled as numbers are seen.
_PREFIX_RULES: dict[str, _Rule | tuple[str, str]] = {}


def _classify_national(text: str, national: str) -> _Rule:
    """Return (kind, expected length, block digits, range) for a national number (leading 0)."""
    prefix = national[:_DEPTH]
    try:
        rule = _PREFIX_RULES[prefix]
    except KeyError:
        rule = _PREFIX_RULES[prefix] = _classify_prefix(prefix)
    if len(rule) == 2:
        raise InvalidNumber(text, rule[0], rule[1])
    return rule


def prefix_rule(prefix: str) -> tuple[NumberKind, int, int, str] | None:
    """(kind, national length, block digits, designation range) of every national number that
    starts with the `NumberPlan.classify_depth`-digit ``prefix``, or None when MIC's plan has no
    valid number starting with it. What a table of all valid prefixes is built from."""
    if len(prefix) != _DEPTH or not (prefix.isascii() and prefix.isdigit()) or prefix[:2] < "01":
        return None
    if prefix[1] == "0":
        return None
    try:
        return _classify_national(prefix, prefix)
    except InvalidNumber:
        return None


def block_rule(prefix: str) -> tuple[NumberKind, str]:
    """(kind, designation range) of a designation block key; InvalidNumber if it is none.

    A block key is at least `NumberPlan.classify_depth` digits long, so it decides its own
    range and validity; its length must be the range's block size.
    """
    kind, _length, block_digits, designation = _classify_national(prefix, prefix)
    if len(prefix) != block_digits or not (prefix.isascii() and prefix.isdigit()):
        raise InvalidNumber(prefix, "bad_block", f"blocks of {designation} have {block_digits} digits")
    return kind, designation


def _from_national(text: str, national: str, privacy: Privacy | None) -> PhoneNumber:
    if len(national) < 2 or national[1] == "0":
        raise InvalidNumber(text, "unknown_range", "a national number starts with 0 and a non-zero digit")
    kind, length, block_digits, designation = _classify_national(text, national)
    if len(national) != length:
        raise InvalidNumber(
            text,
            "bad_length",
            f"{kind.value} numbers have {length} digits with the leading 0, got {len(national)}",
        )
    return PhoneNumber("+81" + national[1:], national, kind, national[:block_digits], privacy, designation)


def _from_international(text: str, digits: str, privacy: Privacy | None) -> PhoneNumber:
    """``digits`` is country code + subscriber number, no prefix."""
    if digits.startswith(_COUNTRY_CODE):
        rest = digits[len(_COUNTRY_CODE) :]
        if rest.startswith("0"):
            # "+81 0352535111" is a common mistake; the trunk prefix must go.
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
    }
)
PAYPHONE_USERS: Final = frozenset({"公衆電話", "payphone"})
"""A payphone's calling-party display (公衆電話): no number either, but a caller kind of its own."""
NO_NUMBER_USERS: Final = ANONYMOUS_USERS | PAYPHONE_USERS


def is_anonymous(text: str) -> bool:
    """True when ``text`` (a bare user, a URI or a name-addr) says the caller withheld or has no
    number (a payphone included: the call has no number to screen either way)."""
    return no_number_kind(text) is not None


def no_number_kind(text: str) -> str | None:
    """ "payphone" or "anonymous" when ``text`` presents no number (see `is_anonymous`), else None."""
    if not isinstance(text, str) or len(text) > _MAX_INPUT:
        return None
    normalized = unicodedata.normalize("NFKC", text).strip()
    user = _strip_uri(normalized).strip().casefold()
    if user in PAYPHONE_USERS:
        return "payphone"
    if user in ANONYMOUS_USERS:
        return "anonymous"
    # A SIP or TEL URI with no user part: what Kamailio's $fU is empty for.
    return "anonymous" if not user and _uri_scheme(normalized) else None


def _uri_scheme(text: str) -> bool:
    inner = text[text.find("<") + 1 :] if "<" in text else text
    return inner[:5].lower().startswith(("sip:", "sips:", "tel:"))


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
