"""MIC files in MIC's own layouts (.xls fixed, .xlsx matrices) and the processed CSV; range merging."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from importerhelpers import XlsWriter, XlsxWriter, matrix_header

from sipcheck.importers import ImportFailed, load_component, load_mic, merge_blocks
from sipcheck.model import Block, Component, Part
from sipcheck.numbers import NumberKind

EAST = "サンプル東日本電話株式会社"
NORTH = "サンプル北日本回線株式会社"


def errors_of(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return [str(e) for e in exc.value.errors]


def test_fixed_xls(write_xls: XlsWriter) -> None:
    path = write_xls(
        "1から始まる市外局番.xls",
        "令和６年９月１日現在",
        [
            ["0312", "03-1234", "3", "1234", EAST, "使用中", ""],
            ["0312", "", "3", "1235", EAST, "未使用", "備考あり"],
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
        Block("031234", NumberKind.FIXED, EAST, True),
        Block("031235", NumberKind.FIXED, EAST, False),
        Block("011200", NumberKind.FIXED, NORTH, True),
        Block("011201", NumberKind.FIXED, "ＫＤＤＩ株式会社", True),  # name kept exactly as published
    )
    assert load_component("mic", [path]) == part


def test_fixed_xls_bad_rows_all_named(write_xls: XlsWriter) -> None:
    path = write_xls(
        "fixed.xls",
        "令和6年9月1日現在",
        [
            ["", "", "3", "1234", EAST, "使用中", ""],
            ["", "", "3", "1236", EAST, "廃止", ""],
            ["", "", "999", "123", EAST, "使用中", ""],
            ["", "03-9999", "3", "1237", EAST, "使用中", ""],
            ["", "", "3", "1238", "", "使用中", ""],
            ["", "", "3", "12345", EAST, "使用中", ""],
            ["", "", "3", "1234", EAST, "未使用", ""],
        ],
    )
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "fixed.xls:4:使用状況:廃止: expected 使用中 or 未使用",
        "fixed.xls:5:市外局番:999: 0999 is not an area code",
        "fixed.xls:6:番号:03-9999: does not match 市外局番+市内局番 (031237)",
        "fixed.xls:7:事業者:: designated operator missing",
        "fixed.xls:8:市内局番:12345: 0312345 is not a 6-digit block prefix",
        "fixed.xls:9::031234: duplicate block, also at fixed.xls:3",
    ]


def test_fixed_xls_bad_date_and_header(write_xls: XlsWriter, tmp_path: Path) -> None:
    path = write_xls("fixed.xls", "令和6年13月1日現在", [["", "", "3", "1234", EAST, "使用中", ""]])
    with pytest.raises(ImportFailed) as exc:
        load_mic([path])
    assert errors_of(exc) == [
        "fixed.xls:1:A1:令和6年13月1日現在: no such date 令和6年13月1日: month must be in 1..12"
    ]
    broken = tmp_path / "broken.xls"
    broken.write_bytes(b"not a workbook")
    with pytest.raises(ImportFailed) as exc:
        load_mic([broken])
    assert errors_of(exc)[0].startswith("broken.xls:0::: not a readable .xls workbook")


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


def test_newest_file_per_range_wins(write_xlsx: XlsxWriter, write_xls: XlsWriter) -> None:
    old = write_xlsx("050-old.xlsx", [["令和6年3月1日現在"], ["050123", "OLD", "OLD"]])
    new = write_xlsx("050-new.xlsx", [["令和6年9月16日現在"], ["050123", "NEW"]])
    fixed = write_xls("fixed.xls", "令和6年9月1日現在", [["", "", "3", "1234", EAST, "使用中", ""]])
    result = load_mic([new, fixed, old])
    assert result.part.sources == ("050-new.xlsx", "fixed.xls")
    assert result.part.as_of == date(2024, 9, 1)
    assert {b.prefix: b.operator for b in result.part.records if isinstance(b, Block)} == {
        "0501230": "NEW",
        "031234": EAST,
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
    path = (
        Path(__file__).resolve().parents[2] / "sipcheck" / "data" / "mic-nongeographic-blocks-2024-09-16.csv"
    )
    result = load_mic([path])
    assert result.part.as_of == date(2024, 9, 16)
    assert result.covered_ranges == {"050", "0120", "0800"}
    blocks = [b for b in result.part.records if isinstance(b, Block)]
    assert len(blocks) == 2427 + 992 + 292
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
        "blocks-2024-09-16.csv:3:block_prefix:0501: String should match pattern '^0[0-9]{5,6}$'",
        "blocks-2024-09-16.csv:4:range:0120: block 0501235 is in range 050",
        "blocks-2024-09-16.csv:5:in_use:maybe: expected true/false (or 使用中/未使用)",
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
            Block("031234", NumberKind.FIXED, EAST),
            Block("0501000", NumberKind.IP, "OLD"),
            Block("0501001", NumberKind.IP, "OLD"),
            Block("0120123", NumberKind.TOLL_FREE, "TOLL"),
        ),
        date(2024, 9, 1),
        ("fixed.xls", "mic-2024-09-01.csv"),
    )
    new = load_mic([write_xlsx("050.xlsx", [["令和6年10月1日現在"], ["050100", "NEW"]])])
    merged = merge_blocks(live, new)
    assert {b.prefix: b.operator for b in merged.records if isinstance(b, Block)} == {
        "031234": EAST,
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
