"""The suspension feed: snapshots and incremental changes, CSV and JSON, fast path = row model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from sipcheck.importers import ImportFailed, load_component, load_suspension_changes
from sipcheck.importers.rows import SuspensionRow
from sipcheck.model import Component, Suspension

JST = timezone(timedelta(hours=9))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def errors_of(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return [str(e) for e in exc.value.errors]


def test_snapshot_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        "number,since,reference,source\n"
        "03-5253-9999,2026-03-01,REF-1,警察庁\n"
        "+81661000110,2026-04-15T10:30:00+09:00,,\n"
        "０９０１２３４５６７８, 2026-05-20T09:00:00 ,REF-3,\n"
        "05012345678,2026-05-20T00:00:00Z,,\n"
        "\n"
        "sip:0352530001@example.jp;user=phone,,,\n",
        "cp932",
    )
    part = load_component("suspended", [path])
    assert part.component is Component.SUSPENSIONS
    assert part.sources == ("s.csv",)
    assert part.records == (
        Suspension("+81352539999", datetime(2026, 3, 1, tzinfo=JST), "REF-1", "警察庁"),
        Suspension("+81661000110", datetime(2026, 4, 15, 10, 30, tzinfo=JST), None, None),
        Suspension("+819012345678", datetime(2026, 5, 20, 9, 0, tzinfo=JST), "REF-3", None),
        Suspension("+815012345678", datetime(2026, 5, 20, tzinfo=UTC), None, None),
        Suspension("+81352530001", None, None, None),
    )


def test_snapshot_bad_rows_all_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        "number,since\n"
        "0352539999,2026-03-01\n"
        "035253999,2026-03-01\n"
        "+14155550100,\n"
        "03-5253-9999,\n"
        "0352530000,2026-13-01\n"
        "0352530001,yesterday\n"
        "abc,\n"
        "0352530002\n",
    )
    with pytest.raises(ImportFailed) as exc:
        load_component("suspended", [path])
    assert errors_of(exc) == [
        "s.csv:3:number:035253999: not a valid number: "
        "fixed numbers have 10 digits with the leading 0, got 9",
        "s.csv:4:number:+14155550100: not a Japanese number (+81)",
        "s.csv:5:number:03-5253-9999: +81352539999 is listed twice (first at s.csv:2)",
        "s.csv:6:since:2026-13-01: month must be in 1..12",
        "s.csv:7:since:yesterday: expected an ISO 8601 date or date-time (YYYY-MM-DD[THH:MM[:SS]][±HH:MM|Z])",
        "s.csv:8:number:abc: not a valid number: unexpected character 'a'",
        "s.csv:9::0352530002: expected 2 fields, got 1",
    ]


def test_snapshot_json(tmp_path: Path) -> None:
    items = [{"number": "0352539999", "since": "2026-03-01"}, {"number": "+81661000110", "reference": "R"}]
    part = load_component("suspended", [write(tmp_path / "s.json", json.dumps(items))])
    assert part.records == (
        Suspension("+81352539999", datetime(2026, 3, 1, tzinfo=JST)),
        Suspension("+81661000110", None, "R"),
    )
    bad = [{"number": "0352539999", "op": "add"}, {"number": 312349999}, {"since": "2026-01-01"}]
    with pytest.raises(ImportFailed) as exc:
        load_component("suspended", [write(tmp_path / "bad.json", json.dumps(bad))])
    assert errors_of(exc) == [
        "bad.json:[0]:op:add: unknown field",
        "bad.json:[1]:number:312349999: expected a string",
        "bad.json:[2]:number:: required field missing",
    ]


def test_changes_csv_and_json(tmp_path: Path) -> None:
    csv_path = write(
        tmp_path / "c.csv",
        "op,number,since,reference,source\nadd,0352539999,2026-06-01,R1,police\nremove,0661000110,,,\n",
    )
    json_path = write(tmp_path / "c.json", json.dumps([{"op": "remove", "number": "+81662000001"}]))
    changes = load_suspension_changes([csv_path, json_path])
    assert changes.add == (Suspension("+81352539999", datetime(2026, 6, 1, tzinfo=JST), "R1", "police"),)
    assert changes.remove == ("+81661000110", "+81662000001")
    assert changes.sources == ("c.csv", "c.json")


def test_changes_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv",
        "op,number\nadd,0352539999\ndelete,0352530000\nremove,03-5253-9999\n,0352530001\n",
    )
    with pytest.raises(ImportFailed) as exc:
        load_suspension_changes([path])
    assert errors_of(exc) == [
        "c.csv:3:op:delete: expected add or remove",
        "c.csv:4:number:03-5253-9999: +81352539999 is listed twice (first at c.csv:2)",
        "c.csv:5:op:: expected add or remove",
    ]
    snapshot = write(tmp_path / "snap.csv", "number\n0352539999\n")
    with pytest.raises(ImportFailed) as exc:
        load_suspension_changes([snapshot])
    assert errors_of(exc) == ["snap.csv:1:op:: required column missing from the header"]


@pytest.mark.parametrize(
    ("number", "since"),
    [
        ("0352539999", "2026-03-01"),
        ("03-5253-9999", "2026-03-01T10:00:00"),
        ("+81 90 1234 5678", "2026-03-01T10:00:00+09:00"),
        ("0352539999", "2026-03-01T10:00:00Z"),
        ("035253999", ""),
        ("+14155550100", ""),
        ("0352539999", "2026-02-30"),
        ("0352539999", "1700000000"),
        ("0352539999", "03/01/2026"),
    ],
)
def test_fast_path_agrees_with_row_model(tmp_path: Path, number: str, since: str) -> None:
    """The documented schema (SuspensionRow) and the fast CSV path accept and produce the same thing."""
    try:
        row = SuspensionRow.model_validate({"number": number, "since": since or None})
        expected: Suspension | None = Suspension(row.number, row.since)
    except ValidationError:
        expected = None
    path = write(tmp_path / "s.csv", f'number,since\n"{number}",{since}\n')
    try:
        got: Suspension | None = load_component("suspended", [path]).records[0]  # type: ignore[assignment]
    except ImportFailed:
        got = None
    assert got == expected
