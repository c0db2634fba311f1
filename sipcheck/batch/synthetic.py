"""A data set of realistic shape for batch tests and the screening benchmarks.

The real designations shipped in ``sipcheck/data/mic-designations-2026.csv`` (30,627 blocks
across every range MIC designates, some with no operator named), reshaped synthetically so that
every path of a lookup is exercised: a few blocks marked 使用予定 (planned) or reassigned to
operator references written differently or known to nobody, two ranges (0120, 09) left uncovered
with part of their blocks dropped (designation unknown), operators named as MIC names them
(full-width), certifications in every status (certified, provisional, expired, revoked, not yet
valid, listed under a differently written name), wholesale at every prefix length (including to
the designated operator itself and to operators nobody knows), trunks and suspensions.

`sample_or_synthetic_parts` prefers the project's built-in data (`sipcheck.sample.sample_parts`)
when that module exists.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from importlib import resources

from sipcheck.model import (
    Block,
    Certification,
    CertStatus,
    Component,
    Operator,
    Part,
    Record,
    Suspension,
    Trunk,
    Wholesale,
    name_key,
)
from sipcheck.numbers import PLAN

MIC_BLOCKS_FILE = "mic-designations-2026.csv"
SAMPLE_DAY = date(2026, 3, 1)
"""A day on which the synthetic certifications are in all their states."""
UNCOVERED_RANGES = ("0120", "09")
"""Ranges whose coverage the synthetic set drops (and half their blocks): their absent blocks are unknown."""


def real_blocks() -> Part:
    """The bundled designation file through the importer, coverage included."""
    from sipcheck.importers import load_mic

    with resources.as_file(resources.files("sipcheck.data").joinpath(MIC_BLOCKS_FILE)) as path:
        return load_mic([path]).part


def synthetic_parts(seed: int = 0, suspensions: int = 5_000) -> dict[Component, Part]:
    rng = random.Random(seed)
    real = real_blocks()
    real_records = [r for r in real.records if isinstance(r, Block)]
    # One operator per company: MIC's files write some twice (ＫＤＤＩ株式会社, KDDI株式会社), and two
    # operators claiming one name would make resolution depend on record order (the importer refuses it).
    by_key: dict[str, str] = {}
    for name in sorted({b.operator for b in real_records if b.operator}):
        by_key.setdefault(name_key(name), name)
    names = sorted(by_key.values())
    operators = [Operator(f"op{i:03d}", name) for i, name in enumerate(names)]
    operators.append(Operator("ntt-east", "東日本電信電話株式会社", ("NTT East",), "8011101028104"))
    operators.append(Operator("kddi-fixed", "KDDI固定", ()))
    ids = [op.id for op in operators]

    statuses = [
        CertStatus.CERTIFIED,
        CertStatus.CERTIFIED,
        CertStatus.CERTIFIED,
        CertStatus.PROVISIONAL,
        CertStatus.REVOKED,
        CertStatus.EXPIRED,
    ]
    certifications: list[Certification] = []
    for i, op in enumerate(operators):
        if i % 7 == 6:
            continue  # uncertified: not on the list
        status = statuses[i % len(statuses)]
        if i % 11 == 5:
            # Listed under the half-width name: must join by name_key.
            certifications.append(Certification(op.name.replace("ＫＤＤＩ", "KDDI"), status, round="2026-02"))
        elif i % 13 == 4:
            # Certified, but only from a later date: not in force on SAMPLE_DAY.
            certifications.append(Certification(op.id, status, valid_from=date(2026, 6, 1)))
        elif i % 5 == 2:
            # Certified until a date already past: expired on SAMPLE_DAY.
            certifications.append(Certification(op.id, status, valid_until=date(2026, 1, 31)))
        else:
            certifications.append(Certification(op.id, status, valid_from=date(2026, 2, 1), round="2026-02"))
    # A certified operator nobody else lists, known only by its list name.
    certifications.append(
        Certification("Overseas Telecom Ltd", CertStatus.PROVISIONAL, name="Overseas Telecom Ltd")
    )

    refs = [*ids, *names, "Unknown Carrier KK"]
    blocks: list[Record] = []
    for block in real_records:
        uncovered = block.prefix.startswith(UNCOVERED_RANGES)
        if uncovered and rng.random() < 0.5:
            continue  # not designated, or designated and not loaded: a range not covered cannot tell
        r = rng.random()
        if r < 0.03:
            block = replace(block, in_use=False)  # 使用予定: designated, planned
        elif r < 0.06:
            block = replace(block, operator=rng.choice(refs))
        blocks.append(block)
    coverage = tuple(c for c in real.coverage if not c.range.startswith(UNCOVERED_RANGES))
    blocks_part = Part(Component.BLOCKS, tuple(blocks), real.as_of, real.sources, coverage=coverage)

    block_list = [b for b in blocks if isinstance(b, Block)]
    wholesale: list[Record] = []
    for block in rng.sample(block_list, min(len(block_list), 2_000)):
        extra = rng.choice((0, 1, 2, 3, 4))
        prefix = block.prefix + "".join(rng.choice("0123456789") for _ in range(extra))
        operator = rng.choice([block.operator, *refs[:10], "Reseller Unknown"])
        wholesale.append(Wholesale(prefix, operator))

    trunks: list[Record] = [
        Trunk("trunk-certified", ids[0]),
        Trunk("trunk-provisional", ids[3]),
        Trunk("trunk-revoked", ids[4]),
        Trunk("10.0.0.7", "Overseas Telecom Ltd"),
        Trunk("trunk-ghost", "Nobody Telecom"),
    ]

    suspended: list[Record] = []
    for _ in range(suspensions):
        block = rng.choice(block_list)
        national = number_in(block.prefix, rng)
        suspended.append(Suspension("+81" + national[1:], reference=f"NPA-{rng.randrange(10**6)}"))
    suspended.append(Suspension("+14155550123"))
    suspended.append(Suspension("+447700900123"))
    return {
        Component.OPERATORS: Part(Component.OPERATORS, tuple(operators)),
        Component.CERTIFICATIONS: Part(Component.CERTIFICATIONS, tuple(certifications)),
        Component.BLOCKS: blocks_part,
        Component.WHOLESALE: Part(Component.WHOLESALE, tuple(wholesale)),
        Component.TRUNKS: Part(Component.TRUNKS, tuple(trunks)),
        Component.SUSPENSIONS: Part(Component.SUSPENSIONS, tuple(suspended)),
    }


def number_length(national_prefix: str) -> int:
    """The national length of numbers starting with ``national_prefix`` (per the plan)."""
    for length in PLAN.range_prefix_lengths:
        rule = PLAN.ranges.get(national_prefix[:length])
        if rule is not None:
            return rule.length
    return PLAN.fixed_length


def number_in(prefix: str, rng: random.Random) -> str:
    """A random national number of the right length in the block (or range) ``prefix``."""
    length = number_length(prefix)
    tail = max(length - len(prefix), 0)
    if length == PLAN.fixed_length and len(prefix) < PLAN.classify_depth:
        # A fixed prefix shorter than a block: its local code must start 2-9 (MIC's plan).
        return prefix + rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(tail - 1))
    return prefix + "".join(rng.choice("0123456789") for _ in range(tail))


def sample_or_synthetic_parts(seed: int = 0) -> tuple[dict[Component, Part], str]:
    """The project's sample data if `sipcheck.sample` exists, else `synthetic_parts`; and which it was."""
    try:
        from sipcheck import sample  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return synthetic_parts(seed), "synthetic"
    parts = sample.sample_parts()
    return dict(parts), "sipcheck.sample"


_FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def mixed_numbers(parts: dict[Component, Part], count: int, seed: int = 0) -> list[str]:
    """A realistic calling-number stream for benchmarks.

    About 78 % plain national numbers in designated blocks, 8 % E.164, 4 %
    decorated (separators, tel:/sip: URIs, 184/186, full width), 4 % in blocks
    mostly never designated, 2 % invalid, 2 % suspended, 2 % foreign.
    """
    rng = random.Random(seed)
    blocks = [
        r.prefix
        for r in parts.get(Component.BLOCKS, Part(Component.BLOCKS, ())).records
        if isinstance(r, Block)
    ]
    suspended = [
        r.number
        for r in parts.get(Component.SUSPENSIONS, Part(Component.SUSPENSIONS, ())).records
        if isinstance(r, Suspension) and r.number.startswith("+81")
    ]
    out: list[str] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.78 or (r >= 0.96 and r < 0.98 and not suspended):
            out.append(number_in(rng.choice(blocks), rng))
        elif r < 0.86:
            out.append("+81" + number_in(rng.choice(blocks), rng)[1:])
        elif r < 0.90:
            national = number_in(rng.choice(blocks), rng)
            out.append(
                rng.choice(
                    (
                        f"{national[:3]}-{national[3:6]}-{national[6:]}",
                        f"tel:+81-{national[1:3]}-{national[3:]}",
                        f"sip:{national}@192.0.2.1;user=phone",
                        "184" + national,
                        "186" + national,
                        national.translate(_FULL_WIDTH),
                    )
                )
            )
        elif r < 0.94:
            out.append(number_in(rng.choice(("070999", "0509999", "05099", "0200999")), rng))
        elif r < 0.96:
            out.append(rng.choice(("", "0", "12345", "0312345678", "035253511100", "abc", "+8100")))
        elif r < 0.98:
            number = rng.choice(suspended)
            out.append("0" + number[3:])
        else:
            out.append(rng.choice(("+14155550123", "+447700900123", "+8613800138000")))
    return out
