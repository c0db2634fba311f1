"""Number mixes for the batch tests: every shape and case a CDR column shows (imported by the tests)."""

from __future__ import annotations

import random

from sipcheck.batch.synthetic import number_in
from sipcheck.model import Block, Component, Part, Suspension, Wholesale
from sipcheck.verdict import Reason

PEERS = (
    None,
    "trunk-certified",
    "trunk-provisional",
    "trunk-revoked",
    "10.0.0.7",
    "trunk-ghost",
    "not-a-trunk",
    "",
)
FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def decorate(national: str, rng: random.Random) -> str:
    """One of the shapes a call path shows for the same national number."""
    e164 = "+81" + national[1:]
    shapes = [
        national,
        e164,
        e164[1:],
        f"{national[:3]}-{national[3:6]}-{national[6:]}",
        f"tel:+81-{national[1:3]}-{national[3:]}",
        f"sip:{national}@example.net;user=phone",
        f"<sip:{e164}@10.0.0.1>",
        "184" + national,
        "186" + national,
        national.translate(FULL_WIDTH),
        e164.translate(FULL_WIDTH),
        f" {national} ",
        "010" + e164[1:],
        "+810" + national[1:],
        f"({national[:3]}) {national[3:]}",
    ]
    return rng.choice(shapes)


def realistic_mix(parts: dict[Component, Part], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    blocks = [r.prefix for r in parts[Component.BLOCKS].records if isinstance(r, Block)]
    wholesale = [r.prefix for r in parts[Component.WHOLESALE].records if isinstance(r, Wholesale)]
    suspended = [r.number for r in parts[Component.SUSPENSIONS].records if isinstance(r, Suspension)]
    out: list[str] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.35:
            out.append(number_in(rng.choice(blocks), rng))
        elif r < 0.45:
            out.append(number_in(rng.choice(wholesale), rng))
        elif r < 0.55:
            out.append("+81" + number_in(rng.choice(blocks), rng)[1:])
        elif r < 0.6:
            number = rng.choice(suspended)
            out.append(number if rng.random() < 0.5 else "0" + number[3:])
        elif r < 0.75:
            out.append(decorate(number_in(rng.choice(blocks), rng), rng))
        elif r < 0.85:
            # Valid ranges, blocks nobody was designated (spoofed) or wrong lengths.
            prefix = rng.choice(
                ["03", "06", "011", "0120", "050", "090", "080", "0570", "0800", "0200", "020"]
            )
            digits = rng.randint(0, 13 - len(prefix))
            out.append(prefix + "".join(rng.choice("0123456789") for _ in range(digits)))
        else:
            out.append(
                rng.choice(
                    [
                        "",
                        "anonymous",
                        "+14155550123",
                        "+447700900123",
                        "+4915112345678",
                        "+1234",
                        "12345",
                        "0",
                        "00312345678",
                        "81312345678",
                        "8103",
                        "+8112",
                        "0312345678901234567890",
                        "03\x0012345678",
                        "９０",
                        "sip:@host",
                    ]
                )
            )
    return out


COVERED_REASONS = (
    Reason.ANONYMOUS,
    Reason.INVALID_NUMBER,
    Reason.SUSPENDED,
    Reason.BLOCK_NOT_DESIGNATED,
    Reason.BLOCK_NOT_IN_USE,
    Reason.INTERNATIONAL_NUMBER,
    Reason.INGRESS_UNKNOWN,
    Reason.DESIGNATED_OPERATOR_UNCERTIFIED,
    Reason.DESIGNATED_OPERATOR_PROVISIONAL,
    Reason.DESIGNATED_OPERATOR_REVOKED,
    Reason.DESIGNATED_OPERATOR_EXPIRED,
    Reason.SERVING_OPERATOR_UNCERTIFIED,
    Reason.SERVING_OPERATOR_REVOKED,
    Reason.INGRESS_OPERATOR_PROVISIONAL,
    Reason.INGRESS_OPERATOR_REVOKED,
)
"""The reasons `realistic_mix` (6,000 numbers, every peer) must produce: the comparisons prove little
otherwise."""
