"""Number parsing: every shape from DOMAIN.md, the plan's lengths and blocks, and properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipcheck.numbers import (
    PLAN,
    InvalidNumber,
    NumberKind,
    PhoneNumber,
    Privacy,
    candidate_prefixes,
    parse_number,
)

SAME_NUMBER = [
    "+81312345678",
    "0312345678",
    "03-1234-5678",
    "０３１２３４５６７８",
    "０３－１２３４－５６７８",
    "tel:+81-3-1234-5678",
    "tel:0312345678;phone-context=+81",
    "sip:0312345678@host;user=phone",
    "sips:+81312345678@example.jp;user=phone",
    "sip:%2B81312345678@example.jp",
    '"Taro" <sip:+81312345678@example.jp;user=phone>;tag=abc',
    "81312345678",
    "+81 (3) 1234 5678",
    "+810312345678",
    "01081312345678",
    " 03.1234.5678 ",
    "03ー1234ー5678",
]


@pytest.mark.parametrize("text", SAME_NUMBER)
def test_every_shape_gives_the_same_canonical_number(text: str) -> None:
    number = parse_number(text)
    assert number.e164 == "+81312345678"
    assert number.national == "0312345678"
    assert number.kind is NumberKind.FIXED
    assert number.block == "031234"
    assert number.privacy is None


@pytest.mark.parametrize(
    ("text", "kind", "block"),
    [
        ("09012345678", NumberKind.MOBILE, "090123"),
        ("07012345678", NumberKind.MOBILE, "070123"),
        ("05012345678", NumberKind.IP, "0501234"),
        ("0120123456", NumberKind.TOLL_FREE, "0120123"),
        ("08001234567", NumberKind.TOLL_FREE, "0800123"),
        ("0570123456", NumberKind.SHARED_COST, "0570123"),
        ("0990123456", NumberKind.PREMIUM, "0990123"),
        ("0180123456", NumberKind.MASS_CALLING, "0180123"),
        ("02012345678", NumberKind.M2M, "020123"),
        ("02001234567890", NumberKind.M2M, "0200123"),
        ("0112345678", NumberKind.FIXED, "011234"),
        ("0466123456", NumberKind.FIXED, "046612"),
    ],
)
def test_ranges_are_classified_with_their_block(text: str, kind: NumberKind, block: str) -> None:
    number = parse_number(text)
    assert number.kind is kind
    assert number.block == block


@pytest.mark.parametrize(("prefix", "privacy"), [("184", Privacy.WITHHOLD), ("186", Privacy.PRESENT)])
def test_privacy_prefix_is_stripped_and_reported(prefix: str, privacy: Privacy) -> None:
    number = parse_number(prefix + "09012345678")
    assert number.national == "09012345678"
    assert number.privacy is privacy


def test_foreign_number_keeps_e164_and_has_no_block() -> None:
    number = parse_number("+1 415 555 0100")
    assert number.kind is NumberKind.INTERNATIONAL
    assert number.e164 == "+14155550100"
    assert number.block == "" and number.national == ""


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("031234567", "bad_length"),  # fixed, one digit short
        ("031234567890", "bad_length"),
        ("0901234567", "bad_length"),  # mobile needs 11
        ("012012345", "bad_length"),  # 0120 needs 10
        ("0312a45678", "bad_character"),
        ("", "empty"),
        ("   ", "empty"),
        ("tel:", "empty"),
        ("312345678", "no_prefix"),
        ("0012345678", "unknown_range"),
        ("anonymous", "bad_character"),
        ("sip:anonymous@anonymous.invalid", "bad_character"),
        ("+123", "bad_length"),
        ("1" * 300, "too_long"),
    ],
)
def test_invalid_input_names_the_problem(text: str, code: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(text)
    assert info.value.code == code
    assert info.value.detail in str(info.value)


def test_not_text_is_invalid_number() -> None:
    with pytest.raises(InvalidNumber):
        parse_number(12345)  # type: ignore[arg-type]


def test_candidate_prefixes_longest_first() -> None:
    assert candidate_prefixes("0501234", 5) == ["0501234", "050123", "05012"]


def test_every_area_code_parses_as_fixed() -> None:
    for area in PLAN.area_codes:
        number = parse_number(area + "1" * (PLAN.fixed_length - len(area)))
        assert number.kind is NumberKind.FIXED, area
        assert number.block == number.national[:6]


# A strategy for valid national numbers across every range of the plan.
_valid_prefixes = sorted(PLAN.area_codes) + [r.prefix for r in PLAN.ranges.values()]


@st.composite
def national_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(_valid_prefixes))
    rule = PLAN.ranges.get(prefix)
    length = PLAN.fixed_length if rule is None else rule.length
    tail = draw(st.text(alphabet="0123456789", min_size=length - len(prefix), max_size=length - len(prefix)))
    text = prefix + tail
    try:
        parse_number(text)
    except InvalidNumber:
        # A shorter range prefix can shadow: e.g. 020 + "0..." is the 0200 range with another length.
        from hypothesis import assume

        assume(False)
    return text


@settings(max_examples=300)
@given(national_numbers())
def test_parsing_is_idempotent(text: str) -> None:
    once = parse_number(text)
    assert parse_number(str(once)) == once
    assert parse_number(once.national) == once


@settings(max_examples=300)
@given(national_numbers())
def test_national_and_e164_round_trip(text: str) -> None:
    number = parse_number(text)
    assert number.e164 == "+81" + text[1:]
    assert parse_number(number.e164).national == text
    assert parse_number("tel:" + number.e164).national == text


@settings(max_examples=2000)
@given(st.text(max_size=40))
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        result = parse_number(text)
    except InvalidNumber:
        return
    assert isinstance(result, PhoneNumber)
    assert result.e164.startswith("+") and result.e164[1:].isdigit()


@settings(max_examples=500)
@given(st.text(alphabet="0123456789+-() ０１２３４５６７８９:;@<>sipteluser=", max_size=30))
def test_number_like_input_only_raises_invalid_number(text: str) -> None:
    with contextlib.suppress(InvalidNumber):
        parse_number(text)
