"""The built-in sample data set: it builds through the importers and each demo number gets its verdict."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from sipcheck.importers import load_component, load_mic
from sipcheck.model import Block, Component
from sipcheck.sample import MIC_CREDIT, SAMPLE_DIR, SAMPLE_NUMBERS, sample_parts
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action

# Inside the sample certification round (2026-02-01 … 2028-01-31), so the test does not depend on today.
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
_DESCRIPTION = re.compile(r"^(allow|flag|block) \[([a-z_,]*)\] \S")


def test_sample_parts_build_and_are_labelled() -> None:
    parts = sample_parts()
    assert set(parts) == set(Component)
    blocks = parts[Component.BLOCKS]
    assert len(blocks.records) == 2427 + 992 + 292 + 8
    real, synthetic = blocks.sources
    assert (
        real.startswith("mic-nongeographic-blocks-2024-09-16.csv") and MIC_CREDIT in real and "REAL" in real
    )
    assert "SYNTHETIC" in synthetic
    for component in Component:
        if component is not Component.BLOCKS:
            assert all("SYNTHETIC" in s for s in parts[component].sources), component
    # fictional operators only in the synthetic fixed blocks
    fixed = [b for b in blocks.records if isinstance(b, Block) and b.kind.value == "fixed"]
    assert fixed and all(b.operator.startswith("サンプル") for b in fixed)


def test_sample_files_are_valid_inputs() -> None:
    """Each sample file is an example of its documented format and loads on its own."""
    assert load_mic([SAMPLE_DIR / "synthetic-fixed-blocks-2024-09-01.csv"]).covered_ranges == {
        "01",
        "03",
        "06",
    }
    for kind, name in [
        ("operators", "synthetic-operators.csv"),
        ("certified", "synthetic-certifications.csv"),
        ("suspended", "synthetic-suspensions.csv"),
        ("trunks", "synthetic-trunks.csv"),
        ("wholesale", "synthetic-wholesale.csv"),
    ]:
        assert load_component(kind, [SAMPLE_DIR / name]).records


def test_no_real_operator_is_marked_anything_but_certified() -> None:
    parts = sample_parts()
    real_names = {
        b.operator
        for b in parts[Component.BLOCKS].records
        if isinstance(b, Block) and b.kind.value != "fixed"
    }
    store = MemoryStore(parts)
    for name in real_names:
        resolved = store.tables.index.resolve(name)
        assert resolved.id, name  # every real MIC operator is in the sample operator list
        assert resolved.certification is not None and resolved.certification.status.value == "certified", name


@pytest.mark.parametrize(("number", "description"), SAMPLE_NUMBERS)
def test_sample_number_gets_the_promised_verdict(number: str, description: str) -> None:
    match = _DESCRIPTION.match(description)
    assert match, f"description must start with '<action> [<reasons>] ': {description}"
    screener = Screener(MemoryStore(sample_parts()), clock=lambda: NOW)
    verdict = screener.check(number)
    assert verdict.action is Action(match.group(1))
    assert [r.value for r in verdict.reasons] == [r for r in match.group(2).split(",") if r]


def test_sample_numbers_cover_every_promised_case() -> None:
    actions = {d.split(" ", 1)[0] for _, d in SAMPLE_NUMBERS}
    text = " ".join(d for _, d in SAMPLE_NUMBERS)
    assert actions == {"allow", "flag", "block"}
    for reason in (
        "designated_operator_provisional",
        "designated_operator_uncertified",
        "block_not_in_use",
        "suspended",
        "block_not_designated",
        "designated_operator_revoked",
    ):
        assert f"[{reason}]" in text
    assert ("0312345678", SAMPLE_NUMBERS[0][1]) in SAMPLE_NUMBERS and SAMPLE_NUMBERS[0][1].startswith("allow")


def test_sample_trunks() -> None:
    screener = Screener(MemoryStore(sample_parts()), clock=lambda: NOW)
    assert screener.check("0312345678", "trunk-a").action is Action.ALLOW
    flagged = screener.check("0312345678", "trunk-b")
    assert flagged.action is Action.FLAG
    assert [r.value for r in flagged.reasons] == ["ingress_operator_provisional"]
