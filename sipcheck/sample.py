"""A built-in sample data set, so that sipcheck runs (and demos) with no input at all.

It is made of the REAL 050/0120/0800 block designations shipped in
``sipcheck/data`` (MIC data, processed) and clearly labelled SYNTHETIC parts in
``sipcheck/data/sample/`` (fictional サンプル… operators, an illustrative
certification list, made-up suspensions, trunks and a wholesale range). All of
it is loaded through the importers, so the sample files are also format
examples and an end-to-end test of the importers.

Every Part's ``sources`` says which file is real and which is synthetic.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Final

from sipcheck.importers import load_component, load_mic
from sipcheck.model import Component, Part

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
SAMPLE_DIR: Final = DATA_DIR / "sample"
MIC_CSV: Final = DATA_DIR / "mic-nongeographic-blocks-2024-09-16.csv"

MIC_CREDIT: Final = "「電気通信番号指定状況」（総務省）を加工して作成"
REAL_LABEL: Final = f"REAL MIC data, processed ({MIC_CREDIT}; Public Data License 1.0)"
SYNTHETIC_LABEL: Final = "SYNTHETIC sample: fictional operators and made-up entries, not real data"
ILLUSTRATIVE_LABEL: Final = (
    "SYNTHETIC sample: real operators marked certified ONLY as an illustrative assumption "
    "(ETOC's list is not public); fictional operators for the other statuses"
)

_FILES: Final[dict[Component, tuple[str, str]]] = {
    Component.OPERATORS: ("operators", "synthetic-operators.csv"),
    Component.CERTIFICATIONS: ("certified", "synthetic-certifications.csv"),
    Component.SUSPENSIONS: ("suspended", "synthetic-suspensions.csv"),
    Component.TRUNKS: ("trunks", "synthetic-trunks.csv"),
    Component.WHOLESALE: ("wholesale", "synthetic-wholesale.csv"),
}
_FIXED_BLOCKS: Final = "synthetic-fixed-blocks-2024-09-01.csv"

SAMPLE_NUMBERS: Final[list[tuple[str, str]]] = [
    # "<action> [<reasons>] <why>": the tests check each number gets exactly this verdict
    # (no ingress peer, on a date inside the sample certification round, 2026-02-01 … 2028-01-31).
    ("0312345678", "allow [] fixed block 03-1234 designated to a certified (fictional) operator"),
    ("05010005678", "allow [] real MIC 050 block; its real operator is certified only illustratively"),
    (
        "05010001234",
        "flag [serving_operator_provisional] real 050 block; range resold by a provisional reseller",
    ),
    ("0661001234", "flag [designated_operator_provisional] block designated to a provisional operator"),
    ("0662001234", "flag [designated_operator_uncertified] block designated to an uncertified operator"),
    ("0112011234", "flag [designated_operator_expired] block designated to an operator whose round expired"),
    ("0312355678", "flag [block_not_in_use] block 03-1235 designated but listed 未使用 (not in use)"),
    ("0312349999", "block [suspended] number suspended (synthetic suspension) in a certified block"),
    ("05099990000", "block [block_not_designated] 050-9999 is designated to nobody: a spoofed number"),
    ("0112001234", "block [designated_operator_revoked] block designated to a revoked operator"),
]


def _labelled(part: Part, label: str) -> Part:
    return replace(part, sources=tuple(f"{name} ({label})" for name in part.sources))


@lru_cache(maxsize=1)
def _build() -> tuple[tuple[Component, Part], ...]:
    mic = load_mic([MIC_CSV, SAMPLE_DIR / _FIXED_BLOCKS]).part
    blocks = replace(
        mic,
        sources=(
            f"{MIC_CSV.name} ({REAL_LABEL})",
            f"sample/{_FIXED_BLOCKS} ({SYNTHETIC_LABEL})",
        ),
    )
    parts: list[tuple[Component, Part]] = [(Component.BLOCKS, blocks)]
    for component, (kind, name) in _FILES.items():
        part = load_component(kind, [SAMPLE_DIR / name])
        label = ILLUSTRATIVE_LABEL if component is Component.CERTIFICATIONS else SYNTHETIC_LABEL
        part = replace(part, sources=(f"sample/{name}",))
        parts.append((component, _labelled(part, label)))
    return tuple(parts)


def sample_parts() -> dict[Component, Part]:
    """Every component of the sample data set (real MIC non-geographic blocks + synthetic parts)."""
    return dict(_build())
