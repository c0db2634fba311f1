"""Era dates, corporate numbers, range → prefix expansion, error formatting."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcheck.importers.corporate_number import check_digit, validate_corporate_number
from sipcheck.importers.era import date_in_name, find_era_date, parse_era_date
from sipcheck.importers.errors import ImportFailed, RowError
from sipcheck.importers.prefixes import prefix_range, range_to_prefixes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和6年9月1日現在", date(2024, 9, 1)),
        ("令和６年９月１日現在", date(2024, 9, 1)),  # full-width digits
        ("令和元年5月1日現在", date(2019, 5, 1)),
        ("令和 2年 12月 31日", date(2020, 12, 31)),
        ("平成31年4月30日現在", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("電気通信番号指定状況（令和7年3月1日現在）", date(2025, 3, 1)),
    ],
)
def test_era_dates(text: str, expected: date) -> None:
    assert parse_era_date(text) == expected


@pytest.mark.parametrize("text", ["令和6年2月30日現在", "令和1年4月30日", "平成元年1月7日", "令和0年1月1日"])
def test_impossible_era_dates_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        find_era_date(text)


def test_no_era_date() -> None:
    assert find_era_date("市外局番の一覧") is None
    with pytest.raises(ValueError, match="no Japanese era date"):
        parse_era_date("2024-09-01")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mic-nongeographic-blocks-2024-09-16.csv", date(2024, 9, 16)),
        ("050_20240916.xlsx", date(2024, 9, 16)),
        ("050番号指定状況（令和6年9月1日現在）.xlsx", date(2024, 9, 1)),
        ("050.xlsx", None),
        ("20241399.xlsx", None),
    ],
)
def test_date_in_name(name: str, expected: date | None) -> None:
    assert date_in_name(name) == expected


def test_corporate_number_check_digit() -> None:
    # 国税庁 (National Tax Agency) and the worked example of the check-digit rule.
    assert validate_corporate_number("7000012050002") == "7000012050002"
    assert validate_corporate_number("7123456789012") == "7123456789012"
    assert validate_corporate_number("７００００１２０５０００２") == "7000012050002"
    assert check_digit("000012050002") == 7
    with pytest.raises(ValueError, match="check digit is 1, expected 7"):
        validate_corporate_number("1000012050002")
    with pytest.raises(ValueError, match="13 digits"):
        validate_corporate_number("700001205000")


def test_row_error_format_and_all_errors_kept() -> None:
    errors = [RowError("a.csv", n, "number", "x", "bad") for n in range(2, 40)]
    exc = ImportFailed(errors)
    assert str(errors[0]) == "a.csv:2:number:x: bad"
    assert exc.errors == errors
    assert isinstance(exc, ValueError)
    assert "… and 18 more" in str(exc)


def test_range_to_prefixes_examples() -> None:
    assert range_to_prefixes("05010001000", "05010001999") == ["05010001"]
    assert range_to_prefixes("05012340000", "05012359999") == ["0501234", "0501235"]
    assert range_to_prefixes("0352530005", "0352530013") == [f"03525300{n:02d}" for n in range(5, 14)]
    assert range_to_prefixes("0352530000", "0352530019") == ["035253000", "035253001"]
    assert range_to_prefixes("0000", "9999") == [""]
    with pytest.raises(ValueError):
        range_to_prefixes("0352530013", "0352530005")


@given(
    st.integers(1, 6).flatmap(
        lambda w: st.tuples(st.just(w), st.integers(0, 10**w - 1), st.integers(0, 10**w - 1))
    )
)
def test_range_to_prefixes_covers_exactly_and_minimally(case: tuple[int, int, int]) -> None:
    width, a, b = case
    low, high = min(a, b), max(a, b)
    prefixes = range_to_prefixes(str(low).zfill(width), str(high).zfill(width))
    spans = sorted(prefix_range(p, width) if p else (0, 10**width - 1) for p in prefixes)
    # exact cover: contiguous, no overlap, from low to high
    assert spans[0][0] == low and spans[-1][1] == high
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start == end + 1
    # minimal: no ten siblings that could merge into their parent
    present = set(prefixes)
    for p in prefixes:
        if p:
            assert not all(p[:-1] + str(d) in present for d in range(10))
    # longest-prefix lookups agree with the interval for a few probes
    for probe in {low, high, (low + high) // 2, max(low - 1, 0), min(high + 1, 10**width - 1)}:
        text = str(probe).zfill(width)
        hit = any(text.startswith(p) for p in prefixes)
        assert hit == (low <= probe <= high)
