"""MIC files in MIC's own layouts (.xls fixed, .xlsx matrices) and the processed CSV; range merging.

The fixed-line .xls fixtures are written in both layouts MIC has used (today's, and the older
one with an MA column, 指定事業者 and a 平成 date in parentheses), because a reader that only
knows today's layout would fail on every archived file, or worse, misread one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from importerhelpers import (
    XLS_HEADER,
    XlsWriter,
    XlsxWriter,
    current_layout,
    matrix_header,
    older_layout,
    save_xls,
)

from sipcheck.importers import ImportFailed, load_component, load_mic, merge_blocks
from sipcheck.importers.era import find_as_of, find_era_date
from sipcheck.model import Block, Component, Part, RangeCoverage
from sipcheck.numbers import NumberKind
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore
from sipcheck.verdict import Reason

EAST = "サンプル東日本電話株式会社"
NORTH = "サンプル北日本回線株式会社"


def errors_of(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return [str(e) for e in exc.value.errors]


def fixed_blocks(records: Sequence[object]) -> dict[str, Block]:
    return {r.prefix: r for r in records if isinstance(r, Block)}


# --- era dates as MIC writes them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和6年9月1日現在", date(2024, 9, 1)),
        ("（平成２９年８月１日現在）", date(2017, 8, 1)),
        ("(平成29年8月1日現在)", date(2017, 8, 1)),
        ("平成 29 年 8 月 1 日 現在", date(2017, 8, 1)),
        ("令和　６年　９月　１日現在", date(2024, 9, 1)),  # full-width spaces
        ("㍻29年8月1日現在", date(2017, 8, 1)),  # the one-character era sign
        ("令和元年5月1日現在", date(2019, 5, 1)),
        ("電気通信番号指定状況", None),
    ],
)
def test_era_dates_in_mics_spellings(text: str, expected: date | None) -> None:
    assert find_era_date(text) == expected


def test_era_date_after_the_era_ended() -> None:
    with pytest.raises(ValueError, match="after the 平成 era ended"):
        find_era_date("平成31年5月1日現在")


def test_as_of_prefers_a_date_marked_genzai() -> None:
    found, problems = find_as_of(
        [(1, "A1", "令和6年4月1日改定"), (1, "C1", "令和6年13月1日"), (2, "G2", "(令和6年9月1日現在)")]
    )
    assert found is not None and (found.value, found.ref) == (date(2024, 9, 1), "G2")
    assert [(p.line, p.ref) for p in problems] == [(1, "C1")]
    only, _ = find_as_of([(1, "A1", "令和6年4月1日")])
    assert only is not None and only.value == date(2024, 4, 1)  # unmarked, but the only date
    assert find_as_of([(1, "A1", "固定電話番号")]) == (None, [])


# --- fixed numbers: today's layout --------------------------------------------------------------


def test_fixed_xls(write_xls: XlsWriter) -> None:
    path = write_xls(
        "1から始まる市外局番.xls",
        "令和６年９月１日現在",
        [
            ["0312", "03-5253", "3", "5253", EAST, "使用中", ""],
            ["0312", "", "3", "5254", EAST, "使用予定", "備考あり"],
            ["0312", "", "3", "5255", "", "未使用", ""],
            ["0312", "", "3", "1234", "", "使用不可", ""],  # local code 1…: no block of the plan, no error
            ["", "", 11, 200, NORTH, "使用中", ""],  # numeric cells, as Excel stores them
            ["", "", "0120", "", "", "", ""][:0],  # an empty row is skipped
            ["", "011201", "011", "201", "ＫＤＤＩ株式会社", "使用中", ""],
        ],
    )
    result = load_mic([path])
    part = result.part
    assert part.component is Component.BLOCKS
    assert part.as_of == date(2024, 9, 1)
    assert part.sources == ("1から始まる市外局番.xls",)
    assert result.covered_ranges == {"03", "01"}
    assert part.records == (
        Block("035253", NumberKind.FIXED, EAST, True),
        Block("035254", NumberKind.FIXED, EAST, False),  # 使用予定: designated, not in service
        Block("011200", NumberKind.FIXED, NORTH, True),
        Block("011201", NumberKind.FIXED, "ＫＤＤＩ株式会社", True),  # name kept exactly as published
    )
    assert [(c.range, c.as_of) for c in part.coverage] == [("01", date(2024, 9, 1)), ("03", date(2024, 9, 1))]
    assert load_component("mic", [path]) == part


@pytest.mark.parametrize(
    ("use", "expected"),
    [
        ("使用中", Block("046722", NumberKind.FIXED, EAST, True)),
        ("使用予定", Block("046722", NumberKind.FIXED, EAST, False)),
        ("未使用", None),
        ("使用不可", None),
        ("　使用中 ", Block("046722", NumberKind.FIXED, EAST, True)),  # spaces around, as typed
    ],
)
def test_fixed_xls_each_use(write_xls: XlsWriter, use: str, expected: Block | None) -> None:
    path = write_xls("4.xls", "令和6年9月1日現在", [["", "", "46", "722", EAST, use, ""]])
    result = load_mic([path])
    assert result.part.records == (() if expected is None else (expected,))
    assert result.covered_ranges == {"04"}  # designated or not, the row covers its range


def test_designated_without_operator_is_kept(write_xls: XlsWriter) -> None:
    path = write_xls(
        "3.xls",
        "令和6年9月1日現在",
        [["", "", "3", "5253", "", "使用中", ""], ["", "", "3", "5254", "", "使用予定", ""]],
    )
    assert load_mic([path]).part.records == (
        Block("035253", NumberKind.FIXED, "", True),
        Block("035254", NumberKind.FIXED, "", False),
    )


def test_unused_block_of_a_covered_range_screens_as_never_designated(write_xls: XlsWriter) -> None:
    path = write_xls(
        "3から始まる市外局番.xls",
        "令和6年9月1日現在",
        [
            ["", "", "3", "5253", EAST, "使用中", ""],
            ["", "", "3", "5254", EAST, "使用予定", ""],
            ["", "", "3", "5255", "", "未使用", ""],
        ],
    )
    part = load_mic([path]).part
    assert [c.range for c in part.coverage] == ["03"]
    assert "035255" not in fixed_blocks(part.records)
    store = MemoryStore(
        {
            Component.BLOCKS: part,
            Component.CERTIFICATIONS: Part(Component.CERTIFICATIONS, ()),
            Component.SUSPENSIONS: Part(Component.SUSPENSIONS, ()),
        }
    )
    screener = Screener(store, clock=lambda: datetime(2024, 9, 2, tzinfo=UTC))
    assert Reason.BLOCK_NOT_DESIGNATED in screener.check("03-5255-0001").reasons
    assert Reason.BLOCK_NOT_IN_USE in screener.check("03-5254-0001").reasons
    in_use = screener.check("03-5253-0001").reasons
    assert Reason.BLOCK_NOT_DESIGNATED not in in_use and Reason.BLOCK_NOT_IN_USE not in in_use
    # a range no file covered says nothing either way
    assert Reason.DESIGNATION_UNKNOWN in screener.check("06-6941-0001").reasons


def test_fixed_xls_bad_rows_all_named(write_xls: XlsWriter) -> None:
    path = write_xls(
        "fixed.xls",
        "令和6年9月1日現在",
        [
            ["", "", "3", "5253", EAST, "使用中", ""],
            ["", "", "3", "5256", EAST, "廃止", ""],
            ["", "", "999", "123", EAST, "使用中", ""],
            ["", "03-9999", "3", "5257", EAST, "使用中", ""],
            ["", "", "3", "1238", EAST, "使用中", ""],  # designated, but no block of MIC's plan
            ["", "", "3", "52345", EAST, "使用中", ""],
            ["", "", "3", "5253", EAST, "未使用", ""],
            ["", "", "3x", "52a8", EAST, "使用中", ""],
            ["", "", "", "", EAST, "", ""],
        ],
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    uses = "使用中 / 使用予定 / 未使用 / 使用不可"
    assert errors_of(exc) == [
        f"fixed.xls:4:使用状況:廃止: expected {uses}",
        "fixed.xls:5:市外局番:999: 0999 is not an area code",
        "fixed.xls:6:番号:03-9999: does not match 市外局番+市内局番 (035257)",
        "fixed.xls:7:市内局番:1238: no valid Japanese number starts with 031238: a fixed number's "
        "local code starts with 2-9 (MIC's plan), not after the area code: 03-1",
        "fixed.xls:8:市内局番:52345: 0352345 is not a 6-digit block prefix",
        "fixed.xls:9::035253: duplicate block, also at fixed.xls:3",
        "fixed.xls:10:市外局番:3x: expected digits",
        "fixed.xls:10:市内局番:52a8: expected digits",
        f"fixed.xls:11:使用状況:: expected {uses}",
        "fixed.xls:11:市外局番:: expected digits",
        "fixed.xls:11:市内局番:: expected digits",
    ]


def test_unusable_rows_only_need_sane_codes(tmp_path: Path) -> None:
    """MIC lists 使用不可 blocks whose local code starts with 1 or 0; a number cell may have lost the 0."""
    path = save_xls(
        tmp_path / "3.xls",
        current_layout(
            [
                ["", "", 3, 123, "", "使用不可", ""],  # 030123, its leading 0 lost in a number cell
                ["", "", "3", "1999", "", "使用不可", ""],
                ["", "", "3", "0124", "", "使用中", ""],  # designated: must be a block of the plan
                ["", "", "999", "1234", "", "使用不可", ""],  # but the area code must still be one
            ]
        ),
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "3.xls:5:市内局番:0124: no valid Japanese number starts with 030124: a fixed number's "
        "local code starts with 2-9 (MIC's plan), not after the area code: 03-0",
        "3.xls:6:市外局番:999: 0999 is not an area code",
    ]


def test_current_layout_below_title_rows(tmp_path: Path) -> None:
    rows = [["", "", "3", "5253", EAST, "使用中", ""], ["", "", "3", "52x3", EAST, "使用中", ""]]
    above = [["電気通信番号指定状況"], ["3から始まる市外局番"], []]
    path = save_xls(tmp_path / "3.xls", current_layout(rows, "令和６年９月１日現在", above))
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == ["3.xls:7:市内局番:52x3: expected digits"]  # the sheet's own row number
    path = save_xls(tmp_path / "3.xls", current_layout(rows[:1], "令和６年９月１日現在", above))
    result = load_mic([path])
    assert result.part.as_of == date(2024, 9, 1)
    assert result.part.records == (Block("035253", NumberKind.FIXED, EAST),)


# --- fixed numbers: the older layout ------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "date_column"),
    [("（平成２９年８月１日現在）", 6), ("(平成29年8月1日現在)", 3), ("平成２９年８月１日　現在", 7)],
)
def test_older_layout(tmp_path: Path, as_of: str, date_column: int) -> None:
    path = save_xls(
        tmp_path / "3から始まる市外局番.xls",
        older_layout(
            [
                ["0312", "東京", "035253", "3", "5253", EAST, "使用中", ""],
                ["0312", "東京", "", "3", "5254", "", "使用予定", ""],
                ["0312", "東京", "", "3", "5255", "", "未使用", ""],
                ["0312", "東京", "", "3", "1234", "", "使用不可", ""],
                ["0463", "平塚", "", "463", "21", NORTH, "使用中", ""],
            ],
            as_of,
            date_column,
        ),
    )
    result = load_mic([path])
    assert result.part.as_of == date(2017, 8, 1)
    assert result.covered_ranges == {"03", "04"}
    assert result.part.records == (
        Block("035253", NumberKind.FIXED, EAST, True),
        Block("035254", NumberKind.FIXED, "", False),
        Block("046321", NumberKind.FIXED, NORTH, True),
    )


def test_older_layout_errors_name_its_own_columns(tmp_path: Path) -> None:
    path = save_xls(
        tmp_path / "old.xls",
        older_layout(
            [
                ["", "東京", "035299", "3", "5253", EAST, "使用中", ""],
                ["", "東京", "", "3", "5254", EAST, "?", ""],
            ]
        ),
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "old.xls:3:番号:035299: does not match 市外局番+市内局番 (035253)",
        "old.xls:4:使用状況:?: expected 使用中 / 使用予定 / 未使用 / 使用不可",
    ]


@pytest.mark.parametrize("place", ["ＭＡ", "番号区画", "地域名", "MA名"])
def test_place_name_column_spellings(tmp_path: Path, place: str) -> None:
    header = ["市外局番", "市内局番", place, "指定事業者", "使用状況"]
    path = save_xls(
        tmp_path / "old.xls", [["（平成29年8月1日現在）"], header, ["3", "5253", "東京", EAST, "使用中"]]
    )
    assert load_mic([path]).part.records == (Block("035253", NumberKind.FIXED, EAST),)


# --- fixed numbers: dates, layouts and files refused ------------------------------------------------


def test_fixed_xls_bad_date_and_header(write_xls: XlsWriter, tmp_path: Path) -> None:
    path = write_xls("fixed.xls", "令和6年13月1日現在", [["", "", "3", "5253", EAST, "使用中", ""]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "fixed.xls:1:A1:令和6年13月1日現在: no such date 令和6年13月1日: month must be in 1..12"
    ]
    path = save_xls(
        tmp_path / "old.xls",
        older_layout([["", "", "", "3", "5253", EAST, "使用中", ""]], "平成31年5月1日現在"),
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "old.xls:1:G1:平成31年5月1日現在: 平成31年5月1日 is after the 平成 era ended (2019-04-30)"
    ]
    path = write_xls("undated.xls", "固定電話番号の指定状況", [["", "", "3", "5253", EAST, "使用中", ""]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "undated.xls:0::: no as-of date: expected an era date such as 令和6年9月1日現在 or "
        "（平成29年8月1日現在） in rows 1-2"
    ]


def test_unknown_layout_names_what_was_found_and_expected(tmp_path: Path) -> None:
    path = save_xls(
        tmp_path / "new.xls",
        [["令和8年4月1日現在"], ["局番", "会社名", "状態"], ["03-5253", EAST, "使用中"]],
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "new.xls:0::: unknown layout: no header row in rows 1-10; expected one naming 市外局番, 市内局番, "
        "事業者 or 指定事業者, 使用状況 (optional: 番号区画コード, 番号, 備考, MA, 番号区画, 地域名); "
        f"found row 1: 令和8年4月1日現在; row 2: 局番 | 会社名 | 状態; row 3: 03-5253 | {EAST} | 使用中"
    ]
    long = "とても長い表題" * 10
    empty = save_xls(tmp_path / "empty.xls", [[long]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([empty])
    assert errors_of(exc)[0].endswith(f"found row 1: {long[:29]}…")


def test_header_with_an_unknown_or_missing_column_is_refused(tmp_path: Path) -> None:
    unknown = save_xls(
        tmp_path / "unknown.xls",
        [
            ["令和8年4月1日現在"],
            [*XLS_HEADER, "事業者コード"],
            ["", "", "3", "5253", EAST, "使用中", "", "X1"],
        ],
    )
    missing = save_xls(
        tmp_path / "missing.xls",
        [["令和8年4月1日現在"], ["市外局番", "市内局番", "使用状況"], ["3", "5253", "使用中"]],
    )
    twice = save_xls(
        tmp_path / "twice.xls",
        [["令和8年4月1日現在"], ["市外局番", "市内局番", "事業者", "指定事業者", "使用状況"]],
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([unknown, missing, twice])
    assert errors_of(exc) == [
        "unknown.xls:2:H:事業者コード: unknown column: expected the columns 番号区画コード, 番号, 市外局番, "
        "市内局番, 事業者 (or 指定事業者), 使用状況, 備考 and optionally a place name (MA, 番号区画, 地域名)",
        "missing.xls:2::市外局番 | 市内局番 | 使用状況: header lacks 事業者 or 指定事業者",
        "twice.xls:2:D:指定事業者: column repeated: 事業者 is already column C",
    ]


def test_truncated_xls_fails_quietly(write_xls: XlsWriter, capfd: pytest.CaptureFixture[str]) -> None:
    rows = [["", "", "3", f"{5000 + i}", EAST, "使用中", ""] for i in range(2000)]
    path = write_xls("3.xls", "令和6年9月1日現在", rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    capfd.readouterr()
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc)[0].startswith("3.xls:0::: not a readable .xls workbook (damaged or truncated?)")
    assert capfd.readouterr() == ("", "")  # nothing from xlrd on the terminal
    path.write_bytes(b"not a workbook")
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc)[0].startswith("3.xls:0::: not a readable .xls workbook")
    assert capfd.readouterr() == ("", "")


# --- matrices ------------------------------------------------------------------------------------


def test_matrix_xlsx(write_xlsx: XlsxWriter) -> None:
    path = write_xlsx(
        "050.xlsx",
        [
            ["050番号の指定状況"],
            ["令和6年9月16日現在"],
            matrix_header(),
            [
                "050123",
                "サンプルＩＰ電話株式会社",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                "サンプルB",
            ],
            ["050124", *[None] * 10],
            ["050125", None, "  ", "サンプルC"],
            [],
            ["注：空欄は未指定"],
        ],
    )
    result = load_mic([path])
    assert result.part.as_of == date(2024, 9, 16)
    assert result.covered_ranges == {"050"}
    assert result.part.records == (
        Block("0501230", NumberKind.IP, "サンプルＩＰ電話株式会社"),
        Block("0501239", NumberKind.IP, "サンプルB"),
        Block("0501252", NumberKind.IP, "サンプルC"),
    )


def test_matrix_xlsx_other_ranges(write_xlsx: XlsxWriter) -> None:
    toll = write_xlsx("0120_20240901.xlsx", [matrix_header(), ["012012", "T"], ["080012", None, "U"]])
    mobile = write_xlsx("mobile.xlsx", [["令和6年9月1日現在"], matrix_header(), ["09012", "M"], [8012, "N"]])
    result = load_mic([toll, mobile])
    assert result.covered_ranges == {"0120", "0800", "090", "080"}
    assert result.part.as_of == date(2024, 9, 1)  # 0120 file: date from its name
    assert result.part.records == (
        Block("0120120", NumberKind.TOLL_FREE, "T"),
        Block("0800121", NumberKind.TOLL_FREE, "U"),
        Block("090120", NumberKind.MOBILE, "M"),
        Block("080120", NumberKind.MOBILE, "N"),  # numeric cell lost its leading 0
    )


def test_matrix_xlsx_bad_rows_all_named(write_xlsx: XlsxWriter) -> None:
    path = write_xlsx(
        "050.xlsx",
        [
            ["令和6年9月16日現在"],
            matrix_header(),
            ["05012", "X"],
            ["050125", 42, "ok"],
            [None, "orphan"],
            ["099912", "Y"],
        ],
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "050.xlsx:3:A:05012: 050 row prefixes have 6 digits",
        "050.xlsx:4:B:42: expected an operator name or a blank cell",
        "050.xlsx:5:A:: row prefix missing: expected digits like 050123",
        "050.xlsx:6:A:099912: not a prefix of a non-geographic range (050, 0120, 090, …)",
    ]


def test_matrix_xlsx_without_any_date(write_xlsx: XlsxWriter) -> None:
    path = write_xlsx("050.xlsx", [matrix_header(), ["050123", "X"]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "050.xlsx:0::: no as-of date: no era date (令和…現在) in the sheet and none in the name"
    ]


def test_matrix_xlsx_older_date_and_0200(write_xlsx: XlsxWriter) -> None:
    """0200 is designated in 9-digit blocks: row 0200DEFG × column H; the date may sit in any cell."""
    path = write_xlsx(
        "0200.xlsx",
        [
            ["0200番号の指定状況", None, None, None, None, None, "（平成２９年８月１日現在）"],
            matrix_header(),
            ["02001000", "サンプルM2M株式会社", None, None, None, None, None, None, None, None, "Ｚ"],
            [2001001.0, None, "Ｙ"],  # a number cell, read as a float
            ["02001002"],  # nothing designated: the range is covered all the same
        ],
    )
    result = load_mic([path])
    assert result.part.as_of == date(2017, 8, 1)
    assert result.covered_ranges == {"0200"}
    assert result.part.records == (
        Block("020010000", NumberKind.M2M, "サンプルM2M株式会社"),
        Block("020010009", NumberKind.M2M, "Ｚ"),
        Block("020010011", NumberKind.M2M, "Ｙ"),
    )
    short = write_xlsx("0200-short.xlsx", [["令和6年9月1日現在"], ["0200100", "X"]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([short])
    assert errors_of(exc) == ["0200-short.xlsx:2:A:0200100: 0200 row prefixes have 8 digits"]


def test_matrix_xlsx_impossible_date_is_named_at_its_cell(write_xlsx: XlsxWriter) -> None:
    path = write_xlsx("050.xlsx", [["050番号", None, "令和6年2月30日現在"], ["050123", "X"]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "050.xlsx:1:C:令和6年2月30日現在: no such date 令和6年2月30日: day is out of range for month"
    ]


def test_newest_file_per_range_wins(write_xlsx: XlsxWriter, write_xls: XlsWriter) -> None:
    old = write_xlsx("050-old.xlsx", [["令和6年3月1日現在"], ["050123", "OLD", "OLD"]])
    new = write_xlsx("050-new.xlsx", [["令和6年9月16日現在"], ["050123", "NEW"]])
    fixed = write_xls("fixed.xls", "令和6年9月1日現在", [["", "", "3", "5253", EAST, "使用中", ""]])
    result = load_mic([new, fixed, old])
    assert result.part.sources == ("050-new.xlsx", "fixed.xls")
    assert result.part.as_of == date(2024, 9, 1)
    assert {b.prefix: b.operator for b in result.part.records if isinstance(b, Block)} == {
        "0501230": "NEW",
        "035253": EAST,
    }


def test_same_range_same_date_is_an_error(write_xlsx: XlsxWriter) -> None:
    a = write_xlsx("a.xlsx", [["令和6年9月16日現在"], ["050123", "A"]])
    b = write_xlsx("b.xlsx", [["令和6年9月16日現在"], ["050123", "B"]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([a, b])
    assert errors_of(exc) == [
        "b.xlsx:0::050: range 050 is also in a.xlsx with the same as-of date (2024-09-16): "
        "give one file per range and date"
    ]


def test_processed_csv_shipped_with_sipcheck() -> None:
    path = Path(__file__).resolve().parents[2] / "sipcheck" / "data" / "mic-designations-2026.csv"
    result = load_mic([path])
    fixed = {f"0{d}" for d in range(1, 10)}
    assert result.covered_ranges >= fixed | {
        "050",
        "0120",
        "0800",
        "0570",
        "020",
        "0200",
        "070",
        "080",
        "090",
    }
    blocks = [b for b in result.part.records if isinstance(b, Block)]
    with path.open(encoding="utf-8") as rows:
        assert len(blocks) == sum(1 for _ in rows) - 1  # one designated block per row
    kinds = {b.prefix[:4]: b.kind for b in blocks}
    assert kinds["0501"] is NumberKind.IP and kinds["0120"] is NumberKind.TOLL_FREE
    assert any(b.operator == "ＫＤＤＩ株式会社" for b in blocks)  # full-width, as MIC writes it
    assert "0509999" not in {b.prefix for b in blocks}


def test_processed_csv_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "blocks-2024-09-16.csv"
    path.write_text(
        "block_prefix,range,operator_name_as_published,in_use\n"
        "0501234,050,A,true\n"
        "0501,050,B,true\n"
        "0501235,0120,C,true\n"
        "0501236,050,D,maybe\n"
        "0501234,050,E,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "blocks-2024-09-16.csv:3:block_prefix:0501: String should match pattern '^0[0-9]{5,8}$'",
        "blocks-2024-09-16.csv:4:range:0120: block 0501235 is in range 050",
        "blocks-2024-09-16.csv:5:in_use:maybe: expected 使用中, 使用予定, 未使用, 使用不可 (or true/false)",
        "blocks-2024-09-16.csv:6::0501234: duplicate block, also at blocks-2024-09-16.csv:2",
    ]
    undated = tmp_path / "blocks.csv"
    undated.write_text("block_prefix,range,operator_name_as_published\n0501234,050,A\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as exc:
        load_mic([undated])
    assert errors_of(exc) == ["blocks.csv:0::: no as-of date in the file name (e.g. …-2024-09-16.csv)"]


def test_merge_replaces_only_covered_ranges(write_xlsx: XlsxWriter) -> None:
    live = Part(
        Component.BLOCKS,
        (
            Block("035253", NumberKind.FIXED, EAST),
            Block("0501000", NumberKind.IP, "OLD"),
            Block("0501001", NumberKind.IP, "OLD"),
            Block("0120123", NumberKind.TOLL_FREE, "TOLL"),
        ),
        date(2024, 9, 1),
        ("fixed.xls", "mic-2024-09-01.csv"),
        coverage=tuple(
            RangeCoverage(rng, date(2024, 9, 1), source)
            for rng, source in (
                ("03", "fixed.xls"),
                ("050", "mic-2024-09-01.csv"),
                ("0120", "mic-2024-09-01.csv"),
            )
        ),
    )
    new = load_mic([write_xlsx("050.xlsx", [["令和6年10月1日現在"], ["050100", "NEW"]])])
    merged = merge_blocks(live, new)
    assert {b.prefix: b.operator for b in merged.records if isinstance(b, Block)} == {
        "035253": EAST,
        "0120123": "TOLL",
        "0501000": "NEW",
    }
    assert merged.as_of == date(2024, 9, 1)
    assert merged.sources == ("fixed.xls", "mic-2024-09-01.csv", "050.xlsx")
    # merging into nothing is just the new part
    empty = merge_blocks(Part(Component.BLOCKS, ()), new)
    assert empty.records == new.part.records and empty.as_of == date(2024, 10, 1)


def test_unsupported_mic_file(tmp_path: Path) -> None:
    path = tmp_path / "blocks.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == ["blocks.pdf:0::.pdf: unsupported MIC file: expected .xls, .xlsx or .csv"]
