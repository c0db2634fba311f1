"""The built-in data set, so that sipcheck runs (and demos) with no input at all.

Real where real data exists, synthetic and labelled as such where it does not:

- **blocks: REAL.** ``sipcheck/data/mic-designations-2026.csv``, the designation status of
  30,627 blocks across every range MIC designates (MIC data, processed; per-range as-of
  dates and provenance in ``/work/shared/data/README.md`` and the file's ``source`` column).
  It covers its ranges completely, so a well-formed number from a block it lacks in a covered
  range was never issued.
- **operators: REAL identities** (``sipcheck/data/operators-2026.csv``: every operator the
  designation file names, under a stable id with today's legal name and the names MIC used
  before, e.g. ＮＴＴ東日本 → 東日本電信電話株式会社) plus the fictional サンプル… operators.
- **certifications, suspensions, trunks, wholesale: SYNTHETIC** (``sipcheck/data/sample/``).
  ETOC's list and the suspension feed are not public: real operators appear as certified only
  as an illustrative assumption, with no end date (so the demo does not silently expire on a
  fixed day); fictional operators take the other statuses as resellers of ranges inside real
  blocks and as trunk operators; the suspended numbers are made up. None of them contradicts
  a real designation: no synthetic block exists, and every synthetic number lies in a real
  designated block.

All of it is loaded through the importers, so these files are also format examples and an
end-to-end test of the importers. Every Part's ``sources`` says which file is real and which
is synthetic.
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
MIC_CSV: Final = DATA_DIR / "mic-designations-2026.csv"
OPERATORS_CSV: Final = DATA_DIR / "operators-2026.csv"

MIC_CREDIT: Final = "「電気通信番号指定状況」（総務省）を加工して作成"
REAL_LABEL: Final = f"REAL MIC data, processed ({MIC_CREDIT}; Public Data License 1.0)"
REAL_OPERATORS_LABEL: Final = (
    "REAL operator identities: the operators MIC's files name, with today's legal names and former names"
)
SYNTHETIC_LABEL: Final = "SYNTHETIC sample: fictional operators and made-up entries, not real data"
ILLUSTRATIVE_LABEL: Final = (
    "SYNTHETIC sample: real operators marked certified ONLY as an illustrative assumption "
    "(ETOC's list is not public); fictional operators for the other statuses"
)
BUILTIN_MARK: Final = "sipcheck built-in data"
"""Every source of the built-in data set starts with this, so a store can tell it holds nothing else."""

_FILES: Final[dict[Component, tuple[str, str]]] = {
    Component.CERTIFICATIONS: ("certified", "synthetic-certifications.csv"),
    Component.SUSPENSIONS: ("suspended", "synthetic-suspensions.csv"),
    Component.TRUNKS: ("trunks", "synthetic-trunks.csv"),
    Component.WHOLESALE: ("wholesale", "synthetic-wholesale.csv"),
}
_SYNTHETIC_OPERATORS: Final = "synthetic-operators.csv"

SAMPLE_NUMBERS: Final[list[tuple[str, str]]] = [
    # "<action> [<reasons>] <why>": the tests check each number gets exactly this verdict (no ingress
    # peer, on SAMPLE_DAY: a day the designation data of every range but 0120/0800 is fresh).
    ("0352535111", "allow [] MIC's switchboard: real block 03-5253, designated to NTT East"),
    ("0467221234", "allow [] real block 0467-22, designated to NTT East"),
    ("09012345678", "allow [] real block 090-123, designated to KDDI"),
    ("05010005678", "allow [] real 050 block (SoftBank); range resold to a certified (fictional) reseller"),
    (
        "0570064556",
        "allow [designated_operator_unknown] real 0570 block: designated, operator not named in the data",
    ),
    ("0990123456", "allow [designation_unknown] 0990 (premium): the built-in data does not cover it"),
    ("06001234567", "allow [designation_unknown] 0600 (FMC): the built-in data does not cover it"),
    (
        "05010001234",
        "flag [serving_operator_provisional] real 050 block; range resold by a provisional reseller",
    ),
    ("05010003456", "flag [serving_operator_expired] real 050 block; reseller's certification expired"),
    ("05010004567", "flag [serving_operator_uncertified] real 050 block; reseller not certified"),
    ("05010002345", "block [serving_operator_revoked] real 050 block; reseller's certification revoked"),
    ("05010009999", "block [suspended] synthetic suspension of a number in a real 050 block"),
    ("05099990000", "block [block_not_designated] 050-9999 was never designated: a spoofed number"),
    ("07099901234", "block [block_not_designated] 070-999 was never designated: a spoofed number"),
    ("0312345678", "block [invalid_number] not a number: a fixed local code never starts with 1"),
]
SAMPLE_DAY: Final = "2026-08-01"
"""A day on which the sample verdicts above hold as written; on later days the data is older than
``data.max_age_days``: every verdict also carries ``designation_data_stale`` (informational), and
the spoofed ones become ``block_not_designated_stale`` (flag)."""


def _builtin_sources() -> dict[Component, tuple[str, ...]]:
    """Each component's sources as the built-in data set labels them: which file, real or synthetic.

    Known without loading anything, so a store can be compared with this version's built-in data at
    every start for the price of a few strings.
    """
    sources = {
        Component.BLOCKS: (f"{BUILTIN_MARK}: {MIC_CSV.name} ({REAL_LABEL})",),
        Component.OPERATORS: (
            f"{BUILTIN_MARK}: {OPERATORS_CSV.name} ({REAL_OPERATORS_LABEL})",
            f"{BUILTIN_MARK}: sample/{_SYNTHETIC_OPERATORS} ({SYNTHETIC_LABEL})",
        ),
    }
    for component, (_kind, name) in _FILES.items():
        label = ILLUSTRATIVE_LABEL if component is Component.CERTIFICATIONS else SYNTHETIC_LABEL
        sources[component] = (f"{BUILTIN_MARK}: sample/{name} ({label})",)
    return sources


@lru_cache(maxsize=1)
def _build() -> tuple[tuple[Component, Part], ...]:
    sources = _builtin_sources()
    loaded = {
        Component.BLOCKS: load_mic([MIC_CSV]).part,
        Component.OPERATORS: load_component("operators", [OPERATORS_CSV, SAMPLE_DIR / _SYNTHETIC_OPERATORS]),
    }
    for component, (kind, name) in _FILES.items():
        loaded[component] = load_component(kind, [SAMPLE_DIR / name])
    return tuple((component, replace(part, sources=sources[component])) for component, part in loaded.items())


def sample_parts() -> dict[Component, Part]:
    """Every component of the built-in data set (real designations and operators, synthetic rest)."""
    return dict(_build())


_LEGACY_LABELS: Final = ("(REAL MIC data, processed", "(SYNTHETIC sample")
"""How sources of the built-in data read before they carried `BUILTIN_MARK` (sipcheck 0.1 of 2026-11)."""


def is_builtin(sources: tuple[str, ...]) -> bool:
    """Whether a component's sources say it is (some version of) the built-in data."""
    return bool(sources) and all(
        s.startswith(BUILTIN_MARK) or any(label in s for label in _LEGACY_LABELS) for s in sources
    )


def outdated_builtin(sources: dict[Component, tuple[str, ...]]) -> bool:
    """True when a store holds nothing but an earlier version of the built-in data (every component's
    sources are built-in ones, and some differ from this version's): an upgrade should replace it."""
    current = _builtin_sources()
    if not all(is_builtin(sources.get(component, ())) for component in current):
        return False
    return any(sources.get(component, ()) != current[component] for component in current)
