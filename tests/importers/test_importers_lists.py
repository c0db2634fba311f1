"""Operators, certifications, trunks and wholesale lists: CSV (UTF-8, BOM, CP932) and JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sipcheck.importers import ImportFailed, json_schema, load_component
from sipcheck.model import Certification, CertStatus, Component, Operator, Trunk, Wholesale


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def errors_of(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return [str(e) for e in exc.value.errors]


OPERATORS = (
    "id,name,aliases,corporate_number\n"
    "kddi,ＫＤＤＩ株式会社,KDDI株式会社|KDDI,\n"
    "sample-east,サンプル東日本電話株式会社, サンプル東日本電話 ,7000012050002\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "shift_jis"])
def test_operators_csv_any_encoding(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "operators.csv", OPERATORS, encoding)
    part = load_component("operators", [path])
    assert part.component is Component.OPERATORS
    assert part.sources == ("operators.csv",)
    assert part.records == (
        Operator("kddi", "ＫＤＤＩ株式会社", ("KDDI株式会社", "KDDI"), None),
        Operator("sample-east", "サンプル東日本電話株式会社", ("サンプル東日本電話",), "7000012050002"),
    )


def test_operators_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ops.csv",
        "id,name,aliases,corporate_number\n"
        "kddi,ＫＤＤＩ株式会社,KDDI,\n"
        "Bad Id,X社,,\n"
        "other,Y社,,1000012050002\n"
        "kddi,Z社,,\n"
        "copy,KDDI株式会社,,\n"
        "noname,,,\n"
        "short,W社\n",
    )
    with pytest.raises(ImportFailed) as exc:
        load_component("operators", [path])
    assert errors_of(exc) == [
        "ops.csv:3:id:Bad Id: String should match pattern '^[a-z0-9][a-z0-9._-]*$'",
        "ops.csv:4:corporate_number:1000012050002: corporate number check digit is 1, expected 7",
        "ops.csv:5:id:kddi: duplicate: already used at ops.csv:2",
        "ops.csv:6:name:KDDI株式会社: duplicate: already used at ops.csv:2",
        "ops.csv:7:name:: required field missing",
        "ops.csv:8::short,W社: expected 4 fields, got 2",
    ]


def test_header_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "ops.csv", "id,nmae,aliases\nx,y,z\n")
    with pytest.raises(ImportFailed) as exc:
        load_component("operators", [path])
    assert errors_of(exc) == [
        "ops.csv:1:nmae:nmae: unknown column (expected id, name, aliases, corporate_number)",
        "ops.csv:1:name:: required column missing from the header",
    ]


def test_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    path.write_bytes(b"id,name\n\x82\xff\xfe,x\n")
    with pytest.raises(ImportFailed) as exc:
        load_component("operators", [path])
    assert errors_of(exc) == ["ops.csv:0::byte 8: not UTF-8 (with or without BOM) nor CP932/Shift_JIS text"]


def test_operators_json(tmp_path: Path) -> None:
    items = [
        {"id": "kddi", "name": "ＫＤＤＩ株式会社", "aliases": ["KDDI株式会社"]},
        {"id": "east", "name": "サンプル東日本電話株式会社", "aliases": "東日本|East"},
    ]
    path = write(tmp_path / "ops.json", json.dumps(items, ensure_ascii=False))
    part = load_component("operators", [path])
    assert part.records == (
        Operator("kddi", "ＫＤＤＩ株式会社", ("KDDI株式会社",)),
        Operator("east", "サンプル東日本電話株式会社", ("東日本", "East")),
    )
    bad = [{"id": "a", "name": "A", "colour": "red"}, {"id": "b", "name": 5}, "x", {"id": "c", "name": "C"}]
    path = write(tmp_path / "bad.json", json.dumps(bad))
    with pytest.raises(ImportFailed) as exc:
        load_component("operators", [path])
    assert errors_of(exc) == [
        "bad.json:[0]:colour:red: unknown field",
        "bad.json:[1]:name:5: Input should be a valid string",
        'bad.json:[2]::"x": expected an object',
    ]
    broken = write(tmp_path / "broken.json", '[{"id": "a",}]')
    with pytest.raises(ImportFailed) as exc:
        load_component("operators", [broken])
    assert errors_of(exc) == [
        "broken.json:1::: bad JSON: Expecting property name enclosed in double quotes (column 13)"
    ]


CERTS = (
    "operator_id,name,corporate_number,status,valid_from,valid_until,round\n"
    "sample-east,サンプル東日本電話株式会社,7000012050002,certified,2026-02-01,2028-01-31,2026-02\n"
    ",KDDI株式会社,,provisional,,,\n"
)


def test_certifications(tmp_path: Path) -> None:
    part = load_component("certified", [write(tmp_path / "etoc.csv", CERTS, "cp932")])
    assert part.component is Component.CERTIFICATIONS
    assert part.records == (
        Certification(
            "sample-east",
            CertStatus.CERTIFIED,
            date(2026, 2, 1),
            date(2028, 1, 31),
            "2026-02",
            "サンプル東日本電話株式会社",
            "7000012050002",
        ),
        Certification("KDDI株式会社", CertStatus.PROVISIONAL, name="KDDI株式会社"),
    )


def test_certifications_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "etoc.csv",
        "operator_id,name,corporate_number,status,valid_from,valid_until,round\n"
        "a,A社,,certified,2026-02-01,2027-01-31,2026-02\n"
        "b,B社,,uncertified,,,\n"
        "c,C社,,certified,2026-02-30,,\n"
        "d,D社,,certified,2026-02-01,2025-01-31,\n"
        "e,E社,,certified,1700000000,,\n"
        ",Ａ社,,revoked,,,\n"
        "a,A2社,,expired,,,\n",
    )
    with pytest.raises(ImportFailed) as exc:
        load_component("certified", [path])
    assert errors_of(exc) == [
        "etoc.csv:3:status:uncertified: Input should be 'certified', 'provisional', 'expired' or 'revoked'",
        "etoc.csv:4:valid_from:2026-02-30: day is out of range for month",
        "etoc.csv:5:valid_until:2025-01-31: before valid_from",
        "etoc.csv:6:valid_from:1700000000: expected an ISO date YYYY-MM-DD",
        "etoc.csv:8:operator_id:a: duplicate: already used at etoc.csv:2",
    ]


def test_trunks(tmp_path: Path) -> None:
    part = load_component(
        "trunks", [write(tmp_path / "t.csv", "peer,operator\ntrunk-a,east\n10.0.0.1,kddi\n")]
    )
    assert part.records == (Trunk("trunk-a", "east"), Trunk("10.0.0.1", "kddi"))
    bad = write(tmp_path / "b.csv", "peer,operator\ntrunk a,east\ntrunk-b,\ntrunk-c,x\ntrunk-c,y\n")
    with pytest.raises(ImportFailed) as exc:
        load_component("trunks", [bad])
    assert errors_of(exc) == [
        "b.csv:2:peer:trunk a: String should match pattern '^\\S+$'",
        "b.csv:3:operator:: required field missing",
        "b.csv:5:peer:trunk-c: duplicate: already used at b.csv:4",
    ]


def test_wholesale(tmp_path: Path) -> None:
    path = write(
        tmp_path / "w.csv",
        "prefix,range,operator\n0501234,,reseller\n,05012350000-05012369999,other\n,0352530005-0352530011,x\n",
    )
    part = load_component("wholesale", [path])
    assert part.records == (
        Wholesale("0501234", "reseller"),
        Wholesale("0501235", "other"),
        Wholesale("0501236", "other"),
        *(Wholesale(f"03525300{n:02d}", "x") for n in range(5, 12)),
    )


def test_wholesale_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "w.csv",
        "prefix,range,operator\n"
        "0501234,05012340000-05012349999,a\n"
        ",,b\n"
        "03525356789012,,c\n"
        ",05012340000-0501234,d\n"
        ",05012349999-05012340000,e\n"
        "05x,,f\n"
        "0501234,,g\n"
        "0501234,,h\n",
    )
    with pytest.raises(ImportFailed) as exc:
        load_component("wholesale", [path])
    assert errors_of(exc) == [
        "w.csv:2:prefix:0501234: give exactly one of prefix or range",
        "w.csv:3:prefix:: give exactly one of prefix or range",
        "w.csv:4:prefix:03525356789012: no valid Japanese number starts with it",
        "w.csv:5:range:05012340000-0501234: 0501234 is not a whole valid Japanese number",
        "w.csv:6:range:05012349999-05012340000: start and end must have one length and start ≤ end",
        "w.csv:7:prefix:05x: String should match pattern '^0[0-9]+$'",
        "w.csv:9:prefix:0501234: duplicate: already used at w.csv:8",
    ]


def test_several_files_are_one_list(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", "peer,operator\nt1,x\n")
    b = write(
        tmp_path / "b.json", json.dumps([{"peer": "t2", "operator": "y"}, {"peer": "t1", "operator": "z"}])
    )
    with pytest.raises(ImportFailed) as exc:
        load_component("trunks", [a, b])
    assert errors_of(exc) == ["b.json:[1]:peer:t1: duplicate: already used at a.csv:2"]


def test_unknown_kind_and_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        load_component("blocks", [tmp_path / "x.csv"])
    with pytest.raises(ImportFailed) as exc:
        load_component("trunks", [write(tmp_path / "t.txt", "peer,operator\n")])
    assert errors_of(exc) == ["t.txt:0::.txt: unsupported format: expected .csv or .json"]


@pytest.mark.parametrize(
    "kind", ["mic", "certified", "suspended", "suspension-changes", "operators", "trunks", "wholesale"]
)
def test_json_schemas(kind: str) -> None:
    schema = json_schema(kind)
    assert schema["type"] == "array"
    json.dumps(schema)  # serialisable as is
    with pytest.raises(ValueError):
        json_schema("nope")


def test_errors_from_every_file_are_reported(tmp_path: Path) -> None:
    undecodable = tmp_path / "a.csv"
    undecodable.write_bytes(b"peer,operator\n\x82\xff\xfe,x\n")
    bad = write(tmp_path / "b.csv", "peer,operator\nt 1,x\n")
    with pytest.raises(ImportFailed) as exc:
        load_component("trunks", [undecodable, bad])
    assert errors_of(exc) == [
        "a.csv:0::byte 14: not UTF-8 (with or without BOM) nor CP932/Shift_JIS text",
        "b.csv:2:peer:t 1: String should match pattern '^\\S+$'",
    ]


def test_documented_schemas_are_current() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-formats.md").read_text("utf-8")
    for kind in [
        "operators",
        "certified",
        "suspended",
        "suspension-changes",
        "trunks",
        "wholesale",
        "mic",
        "mic-blocks",
    ]:
        assert json.dumps(json_schema(kind), ensure_ascii=False, indent=2) in doc, kind
