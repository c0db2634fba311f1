"""Shared pieces of the cache benchmarks: synthetic data sets at production size, and a server.

Not a benchmark itself. The data is deterministic so runs compare.
"""

from __future__ import annotations

import random
from datetime import date

from sipcheck.model import (
    Block,
    Certification,
    CertStatus,
    Component,
    Operator,
    Part,
    Suspension,
    Trunk,
    Wholesale,
)
from sipcheck.numbers import InvalidNumber, NumberKind, parse_number
from sipcheck.settings import RedisSettings

THREE_DIGIT_AREAS = (
    "011",
    "022",
    "045",
    "052",
    "075",
    "078",
    "092",
    "099",
    "086",
    "082",
    "023",
    "024",
    "025",
    "026",
    "027",
    "028",
    "029",
    "042",
    "043",
    "044",
    "046",
    "047",
    "048",
    "049",
)


def block_prefixes(count: int) -> list[tuple[str, NumberKind]]:
    """``count`` distinct, parseable block prefixes across fixed, 050, mobile and 0120 ranges."""
    out: list[tuple[str, NumberKind]] = []
    out += [(f"03{i:04d}", NumberKind.FIXED) for i in range(10_000)]
    out += [(f"06{i:04d}", NumberKind.FIXED) for i in range(10_000)]
    out += [(f"050{i:04d}", NumberKind.IP) for i in range(10_000)]
    for mobile in ("070", "080", "090"):
        out += [(f"{mobile}{i:03d}", NumberKind.MOBILE) for i in range(100, 1000)]
    out += [(f"0120{i:03d}", NumberKind.TOLL_FREE) for i in range(100, 1000)]
    for area in THREE_DIGIT_AREAS:
        out += [(f"{area}{i:03d}", NumberKind.FIXED) for i in range(1000)]
    valid = []
    for prefix, kind in out:
        try:
            number = parse_number(number_in(prefix))
        except InvalidNumber:
            continue
        if number.block == prefix and number.kind is kind:
            valid.append((prefix, kind))
    if len(valid) < count:
        raise ValueError(f"only {len(valid)} synthetic block prefixes available")
    return valid[:count]


def number_in(prefix: str) -> str:
    """A number inside the block ``prefix`` (national form)."""
    length = 11 if prefix[:3] in ("050", "070", "080", "090") else 10
    return (prefix + "1234567890")[:length]


def dataset(
    blocks: int = 50_000,
    suspensions: int = 1_000_000,
    operators: int = 200,
    flavour: str = "a",
    seed: int = 7,
) -> dict[Component, Part]:
    """A production-sized data set. ``flavour`` 'a' and 'b' designate every block to different operators
    (certified in 'a', revoked in 'b') so a verdict shows which version it came from."""
    rng = random.Random(seed)
    ops = tuple(
        Operator(f"{flavour}op{i}", f"事業者{flavour}{i}株式会社", (f"OP{flavour}{i}",))
        for i in range(operators)
    )
    status = CertStatus.CERTIFIED if flavour == "a" else CertStatus.REVOKED
    certs = tuple(Certification(op.id, status, date(2026, 2, 1), None, "R1") for op in ops)
    prefixes = block_prefixes(blocks)
    block_records = tuple(Block(p, kind, ops[i % operators].name) for i, (p, kind) in enumerate(prefixes))
    wholesale = tuple(
        Wholesale(number_in(p)[: len(p) + 2], ops[(i + 1) % operators].id)
        for i, (p, _k) in enumerate(rng.sample(prefixes, 1000))
    )
    trunks = tuple(Trunk(f"10.0.{i // 250}.{i % 250}", ops[i].id) for i in range(10))
    offset = 0 if flavour == "a" else 1
    susp = tuple(Suspension(f"+8190{(2 * i + offset) % 100_000_000:08d}") for i in range(suspensions))
    return {
        Component.OPERATORS: Part(Component.OPERATORS, ops),
        Component.CERTIFICATIONS: Part(Component.CERTIFICATIONS, certs),
        Component.BLOCKS: Part(Component.BLOCKS, block_records),
        Component.WHOLESALE: Part(Component.WHOLESALE, wholesale),
        Component.TRUNKS: Part(Component.TRUNKS, trunks),
        Component.SUSPENSIONS: Part(Component.SUSPENSIONS, susp),
    }


def settings(url: str, **overrides: object) -> RedisSettings:
    values: dict[str, object] = {"url": url}
    values.update(overrides)
    return RedisSettings.model_validate(values)
