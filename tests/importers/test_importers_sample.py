"""The built-in data set: real designations for every range MIC designates, real operator identities,
synthetic (labelled) certifications, suspensions, trunks and wholesale; every verdict it gives is true
of the shipped file."""

from __future__ import annotations

import csv
import random
import re
from datetime import UTC, date, datetime

import pytest

from sipcheck.importers import load_component, load_mic
from sipcheck.model import Block, Certification, Component, Operator, Suspension, Trunk, Wholesale, name_key
from sipcheck.numbers import PLAN, InvalidNumber, designation_range, parse_number
from sipcheck.sample import (
    BUILTIN_MARK,
    MIC_CREDIT,
    MIC_CSV,
    OPERATORS_CSV,
    SAMPLE_DAY,
    SAMPLE_DIR,
    SAMPLE_NUMBERS,
    is_builtin,
    sample_parts,
)
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action, Reason

NOW = datetime.fromisoformat(SAMPLE_DAY + "T03:00:00+00:00")
_DESCRIPTION = re.compile(r"^(allow|flag|block) \[([a-z_,]*)\] \S")


def _shipped() -> list[dict[str, str]]:
    with open(MIC_CSV, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener(MemoryStore(sample_parts()), clock=lambda: NOW)


def test_blocks_are_the_shipped_real_file_with_its_credit() -> None:
    parts = sample_parts()
    assert set(parts) == set(Component) - {Component.RULES}  # rules are an operator's own; none ship
    blocks = parts[Component.BLOCKS]
    assert len(blocks.records) == len(_shipped()) == 30_627
    (source,) = blocks.sources
    assert MIC_CSV.name in source and MIC_CREDIT in source and "REAL" in source
    assert all(is_builtin(parts[c].sources) for c in parts)
    for component in (Component.CERTIFICATIONS, Component.SUSPENSIONS, Component.TRUNKS, Component.WHOLESALE):
        assert all("SYNTHETIC" in s for s in parts[component].sources), component
    assert "REAL operator identities" in parts[Component.OPERATORS].sources[0]
    assert all(s.startswith(BUILTIN_MARK) for s in parts[Component.OPERATORS].sources)
    ranges = {c.range: c.as_of for c in blocks.coverage}
    assert ranges["050"] == date(2026, 7, 4) and ranges["0800"] == date(2024, 9, 16)
    assert {f"0{d}" for d in range(1, 10)} <= set(ranges)  # every fixed-line file


def test_a_number_from_any_designated_block_is_never_called_spoofed(screener: Screener) -> None:
    rng = random.Random(1)
    wrong = []
    for row in _shipped():
        block = row["block"]
        length = {"0200": 14, "0800": 11}.get(block[:4]) or (
            10 if row["range"] in ("fixed", "0120", "0570") else 11
        )
        number = block + "".join(rng.choice("0123456789") for _ in range(length - len(block)))
        verdict = screener.check(number)
        spoofed_or_invalid = {Reason.BLOCK_NOT_DESIGNATED, Reason.INVALID_NUMBER} & set(verdict.reasons)
        unknown_said = row["operator"] != "" or Reason.DESIGNATED_OPERATOR_UNKNOWN in verdict.reasons
        if verdict.number is None or spoofed_or_invalid or not unknown_said:
            wrong.append((number, verdict.reasons))
    assert wrong == []


def _undesignated_blocks() -> list[str]:
    """Well-formed block keys of covered ranges that the shipped file does not list (MIC: not designated)."""
    listed = {row["block"] for row in _shipped()}
    keys: list[str] = []
    for area in sorted(PLAN.area_codes):
        for tail in range(10 ** (6 - len(area))):
            key = area + str(tail).zfill(6 - len(area))
            if key not in listed and designation_range(key) == area[:2]:  # 0170…, 0120… are no fixed blocks
                keys.append(key)
    for prefix, digits in (("050", 7), ("070", 6), ("020", 6), ("0570", 7)):  # 0120: see below
        for tail in range(10 ** (digits - len(prefix))):
            key = prefix + str(tail).zfill(digits - len(prefix))
            if key not in listed and key[:4] not in ("0200", "0204"):  # their own ranges
                keys.append(key)
    return keys


def test_a_well_formed_number_from_an_undesignated_block_of_a_covered_range_is_spoofed(
    screener: Screener,
) -> None:
    rng = random.Random(2)
    keys = _undesignated_blocks()
    checked = 0
    for key in rng.sample(keys, 3000):
        length = 10 if key[:4] in ("0570", "0120") or not key.startswith(("050", "070", "020")) else 11
        number = key + "".join(rng.choice("0123456789") for _ in range(length - len(key)))
        try:
            parse_number(number)
        except InvalidNumber:
            continue  # malformed by MIC's rules (a local code starting 0/1, 020-4…): invalid, tested below
        verdict = screener.check(number)
        assert verdict.reasons == (Reason.BLOCK_NOT_DESIGNATED,), number
        assert verdict.action is Action.BLOCK
        checked += 1
    assert checked > 1500


def test_undesignated_in_data_older_than_max_age_is_flagged_not_blocked(screener: Screener) -> None:
    """0120/0800 designations are from 2024-09-16: on SAMPLE_DAY too old to call a caller spoofed."""
    listed = {row["block"] for row in _shipped() if row["range"] == "0120"}
    key = next(f"0120{n:03d}" for n in range(1000) if f"0120{n:03d}" not in listed)
    verdict = screener.check(key + "456")
    assert verdict.reasons == (Reason.BLOCK_NOT_DESIGNATED_STALE, Reason.DESIGNATION_DATA_STALE)
    assert verdict.action is Action.FLAG


@pytest.mark.parametrize("number", ["0312345678", "0111234567", "09001234567", "05001234567", "0170123"])
def test_a_number_malformed_by_mic_rules_is_invalid(screener: Screener, number: str) -> None:
    assert screener.check(number).reasons == (Reason.INVALID_NUMBER,)


def test_mic_switchboard_names_ntt_east(screener: Screener) -> None:
    verdict = screener.check("03-5253-5111")
    assert verdict.action is Action.ALLOW and verdict.reasons == ()
    (designated,) = verdict.operators
    assert (designated.role, designated.id, designated.name) == (
        "designated",
        "ntt-east",
        "東日本電信電話株式会社",
    )


@pytest.mark.parametrize(
    ("published", "operator_id", "legal_name"),
    [
        ("ＮＴＴ東日本", "ntt-east", "東日本電信電話株式会社"),
        ("ＮＴＴ西日本", "ntt-west", "西日本電信電話株式会社"),
        ("ケイ・オプティコム", "optage", "株式会社オプテージ"),
        ("九州通信ネットワーク", "qtnet", "株式会社ＱＴｎｅｔ"),
        ("楽天コミュニケーションズ", "rakuten-mobile", "楽天モバイル株式会社"),
        ("ＫＤＤＩ", "kddi", "ＫＤＤＩ株式会社"),
        ("KDDI株式会社", "kddi", "ＫＤＤＩ株式会社"),
        ("ソフトバンク", "softbank", "ソフトバンク株式会社"),
        ("ＺＩＰ　Ｔｅｌｅｃｏｍ", "ziptelecom", "ＺＩＰＴｅｌｅｃｏｍ株式会社"),
    ],
)
def test_mic_2017_names_resolve_to_todays_operators(
    published: str, operator_id: str, legal_name: str
) -> None:
    index = MemoryStore(sample_parts()).tables.index
    resolved = index.resolve(published)
    assert (resolved.id, resolved.name) == (operator_id, legal_name)


def test_every_operator_the_file_names_has_an_id_and_is_certified_only_illustratively() -> None:
    parts = sample_parts()
    index = MemoryStore(parts).tables.index
    names = {row["operator"] for row in _shipped() if row["operator"]}
    real_ids = {r.id for r in load_component("operators", [OPERATORS_CSV]).records if isinstance(r, Operator)}
    for name in names:
        resolved = index.resolve(name)
        assert resolved.id in real_ids, name
        cert = resolved.certification
        assert cert is not None and cert.status.value == "certified", name
        assert cert.round == "illustrative" and cert.valid_until is None  # no silent expiry on a fixed day
    keys = [name_key(n) for n in names]
    assert len({index.resolve_id(k) for k in keys}) == len(real_ids)


def test_sample_certifications_do_not_expire_on_a_fixed_future_day() -> None:
    far = Screener(MemoryStore(sample_parts()), clock=lambda: datetime(2040, 1, 1, tzinfo=UTC))
    verdict = far.check("0352535111")
    assert verdict.operators[0].status.value == "certified"
    assert verdict.action is Action.ALLOW and verdict.reasons == (Reason.DESIGNATION_DATA_STALE,)
    expired = [
        c
        for c in sample_parts()[Component.CERTIFICATIONS].records
        if isinstance(c, Certification) and c.valid_until
    ]
    assert [c.operator for c in expired] == ["sample-north"]  # the one meant to show "expired", in the past


def test_no_synthetic_record_contradicts_the_real_designations() -> None:
    parts = sample_parts()
    designated = {b.prefix for b in parts[Component.BLOCKS].records if isinstance(b, Block)}
    real_ids = {r.id for r in load_component("operators", [OPERATORS_CSV]).records if isinstance(r, Operator)}

    def in_designated_block(national: str) -> bool:
        return parse_number(national).block in designated

    for record in parts[Component.WHOLESALE].records:
        assert isinstance(record, Wholesale)
        assert in_designated_block(record.prefix.ljust(11, "0")), record
        assert record.operator not in real_ids  # resold to fictional operators only
    for record in parts[Component.SUSPENSIONS].records:
        assert isinstance(record, Suspension)
        assert in_designated_block(record.number), record
    for record in parts[Component.TRUNKS].records:
        assert isinstance(record, Trunk) and record.operator.startswith("sample-")


def test_sample_files_are_valid_inputs() -> None:
    """Each built-in file is an example of its documented format and loads on its own."""
    assert len(load_mic([MIC_CSV]).covered_ranges) == 19
    assert load_component("operators", [OPERATORS_CSV]).records
    for kind, name in [
        ("operators", "synthetic-operators.csv"),
        ("certified", "synthetic-certifications.csv"),
        ("suspended", "synthetic-suspensions.csv"),
        ("trunks", "synthetic-trunks.csv"),
        ("wholesale", "synthetic-wholesale.csv"),
    ]:
        assert load_component(kind, [SAMPLE_DIR / name]).records


@pytest.mark.parametrize(("number", "description"), SAMPLE_NUMBERS)
def test_sample_number_gets_the_promised_verdict(screener: Screener, number: str, description: str) -> None:
    match = _DESCRIPTION.match(description)
    assert match, f"description must start with '<action> [<reasons>] ': {description}"
    verdict = screener.check(number)
    assert verdict.action is Action(match.group(1))
    assert [r.value for r in verdict.reasons] == [r for r in match.group(2).split(",") if r]


def test_sample_numbers_cover_every_promised_case() -> None:
    actions = {d.split(" ", 1)[0] for _, d in SAMPLE_NUMBERS}
    text = " ".join(d for _, d in SAMPLE_NUMBERS)
    assert actions == {"allow", "flag", "block"}
    for reason in (
        "designation_unknown",
        "designated_operator_unknown",
        "serving_operator_provisional",
        "serving_operator_expired",
        "serving_operator_uncertified",
        "serving_operator_revoked",
        "suspended",
        "block_not_designated",
        "invalid_number",
    ):
        assert f"[{reason}]" in text
    assert SAMPLE_NUMBERS[0][0] == "0352535111" and SAMPLE_NUMBERS[0][1].startswith("allow")


def test_sample_trunks(screener: Screener) -> None:
    assert screener.check("0352535111", "trunk-a").action is Action.ALLOW
    flagged = screener.check("0352535111", "trunk-b")
    assert flagged.action is Action.FLAG
    assert [r.value for r in flagged.reasons] == ["ingress_operator_provisional"]
