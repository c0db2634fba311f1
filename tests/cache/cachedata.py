"""Test data and settings for the Redis cache tests (imported by the tests and by bench/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sipcheck.cache import RedisStore
from sipcheck.model import (
    Block,
    Certification,
    CertStatus,
    Component,
    Operator,
    Part,
    RangeCoverage,
    RuleAction,
    Suspension,
    Trunk,
    Wholesale,
)
from sipcheck.numbers import NumberKind
from sipcheck.rules import make_contractor, make_rule
from sipcheck.settings import RedisSettings


def varied_parts() -> dict[Component, Part]:
    """A small data set touching every rule of `TableSet.facts`.

    Operators referenced by id, legal name (full-width), alias, corporate
    number and by nobody-knows-this name; certifications of every status,
    one matched by name only and one for an operator not in the operator
    list; wholesale at several prefix lengths (including one back to the
    designated operator, which must not count as serving); trunks; a block whose
    operator is not named; ranges covered (03, 050, 080) and not (0120, 090).
    """
    ops = (
        Operator("kddi", "ＫＤＤＩ株式会社", ("KDDI",), "9011101031552"),
        Operator("ntte", "東日本電信電話株式会社", ("NTT東日本",), "8011101028104"),
        Operator("cloudx", "クラウドエックス株式会社", ("CloudX",)),
        Operator("revo", "リボーク通信株式会社"),
        Operator("prov", "プロビジョナル株式会社"),
    )
    certs = (
        Certification("kddi", CertStatus.CERTIFIED, date(2026, 2, 1), date(2028, 1, 31), "R1"),
        Certification("東日本電信電話株式会社", CertStatus.CERTIFIED, date(2026, 2, 1), None, "R1"),
        Certification("revo", CertStatus.REVOKED, None, None, "R1"),
        Certification("x", CertStatus.PROVISIONAL, None, None, "R2", name="プロビジョナル株式会社"),
        Certification("ghost-op", CertStatus.EXPIRED, date(2024, 1, 1), date(2025, 1, 1), "R0", "幽霊通信"),
        Certification("old", CertStatus.CERTIFIED, date(2020, 1, 1), date(2021, 1, 1), "R0", "期限切れ"),
    )
    blocks = (
        Block("035253", NumberKind.FIXED, "東日本電信電話株式会社"),
        Block("035254", NumberKind.FIXED, "NTT東日本"),
        Block("0501234", NumberKind.IP, "KDDI株式会社"),
        Block("0501235", NumberKind.IP, "kddi"),
        Block("0501236", NumberKind.IP, "9011101031552", in_use=False),
        Block("0501237", NumberKind.IP, "知らない通信"),
        Block("0501238", NumberKind.IP, "revo"),
        Block("0501239", NumberKind.IP, ""),  # designated; the source names no operator
        Block("0120123", NumberKind.TOLL_FREE, "プロビジョナル株式会社"),
        Block("080123", NumberKind.MOBILE, "幽霊通信"),
        Block("090123", NumberKind.MOBILE, "期限切れ"),
    )
    wholesale = (
        Wholesale("0501234", "cloudx"),
        Wholesale("05012345", "revo"),
        Wholesale("05012346789", "ＫＤＤＩ株式会社"),  # back to the designated operator: not serving
        Wholesale("0501237", "不明な卸先"),
        Wholesale("05012391", "cloudx"),  # resold from a block of unknown operator: serving
        Wholesale("0352535678", "CloudX"),
    )
    trunks = (
        Trunk("10.0.0.1", "kddi"),
        Trunk("peer-cloudx", "CloudX"),
        Trunk("peer-unknown", "誰か"),
        Trunk("peer-revo", "revo"),
    )
    suspensions = (
        Suspension("+815012341111", datetime(2026, 3, 1, 9, 0), "REF-1", "police"),
        Suspension("+81352535679"),
        Suspension("+819012345678", None, "REF-3", None),
    )
    return {
        Component.OPERATORS: Part(Component.OPERATORS, ops, as_of=date(2026, 4, 1), sources=("ops.csv",)),
        Component.CERTIFICATIONS: Part(Component.CERTIFICATIONS, certs, as_of=date(2026, 4, 2)),
        Component.BLOCKS: Part(
            Component.BLOCKS,
            blocks,
            as_of=date(2024, 9, 16),
            sources=("mic.csv",),
            # 0120 and 090 are not covered: their neighbouring blocks are unknown, not spoofed.
            coverage=(
                RangeCoverage("03", date(2024, 9, 16), "mic-03.xls"),
                RangeCoverage("050", date(2026, 7, 4), "mic-050.xlsx", date(2026, 1, 1)),
                RangeCoverage("080", date(2026, 7, 4), "mic-080.xlsx"),
            ),
        ),
        Component.WHOLESALE: Part(Component.WHOLESALE, wholesale),
        Component.TRUNKS: Part(Component.TRUNKS, trunks),
        Component.SUSPENSIONS: Part(Component.SUSPENSIONS, suspensions),
    }


def rules_part() -> Part:
    """Rules over `varied_parts`: a range suspension, a stock suspension of the operator that resells
    05012391…, a prefix deny inside an allowed prefix, number overrides, one expired."""
    known = ("kddi", "ntte", "cloudx", "revo", "prov")
    hopper = make_contractor(
        id_=None, names=["渡り商事株式会社"], aliases=["Watari"], corporate_number="9011101031552"
    )
    clean = make_contractor(id_="c-clean", names=["真面目通信"])
    contractors = (hopper.id, clean.id)
    rules = (
        make_rule(
            RuleAction.SUSPEND, prefix="03-5253-5000..03-5253-5999", reference="POL-1", source="police"
        ),
        make_rule(RuleAction.SUSPEND, operator="cloudx", known_operators=known, reference="POL-2"),
        make_rule(RuleAction.ALLOW, prefix="0501238", reason="revoked by mistake", author="noc"),
        make_rule(RuleAction.DENY, prefix="05012381", reason="fraud wave", author="noc"),
        make_rule(RuleAction.ALLOW, number="080-1230-0000", reason="known caller", author="noc"),
        make_rule(RuleAction.DENY, number="035254 1111", reason="old", until=date(2026, 1, 31)),
        make_rule(RuleAction.ALLOW, number="+815012341111", reason="suspended: must stay blocked"),
        # A contractor hopping operators: refused, and with a suspension of its own elsewhere.
        make_rule(
            RuleAction.CONTRACT,
            prefix="0120-123",
            contractor=hopper.id,
            via="prov",
            known_operators=known,
            known_contractors=contractors,
        ),
        make_rule(RuleAction.REFUSE, contractor=hopper.id, reference="JUSA-7", known_contractors=contractors),
        make_rule(
            RuleAction.SUSPEND,
            number="0901234 0000",
            contractor=hopper.id,
            reference="POL-H",
            known_contractors=contractors,
        ),
        make_rule(RuleAction.CONTRACT, prefix="0352539", contractor=clean.id, known_contractors=contractors),
    )
    return Part(Component.RULES, (*rules, hopper, clean))


def numbers_for(parts: dict[Component, Part]) -> list[str]:
    """Numbers in and around every block, wholesale prefix and suspension of ``parts``."""
    out: set[str] = set()
    lengths = {"03": 10, "050": 11, "012": 10, "080": 11, "090": 11}
    for record in parts[Component.BLOCKS].records:
        assert isinstance(record, Block)
        length = next(v for k, v in lengths.items() if record.prefix.startswith(k))
        for tail in ("0", "1", "5", "9"):
            out.add((record.prefix + tail * 10)[:length])
            out.add((record.prefix[:-1] + "9" + tail * 10)[:length])  # neighbouring block
    for record in parts[Component.WHOLESALE].records:
        assert isinstance(record, Wholesale)
        length = next(v for k, v in lengths.items() if record.prefix.startswith(k))
        out.add((record.prefix + "7777777777")[:length])
    for record in parts[Component.SUSPENSIONS].records:
        assert isinstance(record, Suspension)
        out.add(record.number)
    for record in parts.get(Component.RULES, Part(Component.RULES, ())).records:
        for prefix in getattr(record, "prefixes", ()):
            length = next(v for k, v in lengths.items() if prefix.startswith(k))
            out.add((prefix + "0123456789")[:length])
            out.add((prefix + "9876543210")[:length])
    out.add("+14155550100")  # international
    out.update(("0990123456", "0170123456", "06001234567", "0352999999"))  # uncovered ranges; a covered gap
    return sorted(out)


SCHEDULING_SLACK_S = 0.5
"""What a check may take beyond its budget on a loaded 2-core CI machine (a stalled process, not
Redis). Still far below what an unbounded wait costs: redis-py's default 5 s timeouts, or forever
for a hung server."""


def fast_settings(url: str | None, **overrides: object) -> RedisSettings:
    values: dict[str, object] = {
        "url": url,
        "connect_timeout_ms": 50,
        "command_timeout_ms": 50,
        "check_budget_ms": 100,
        "breaker_failures": 3,
        "breaker_reset_ms": 200,
        "breaker_min_span_ms": 20,
        "gc_grace_ms": 0,
        "local_snapshot": False,
        "local_reads": False,  # tests of local reads turn them on by name
    }
    values.update(overrides)
    return RedisSettings.model_validate(values)


StoreFactory = Callable[..., RedisStore]
