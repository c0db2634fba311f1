"""The batch screen gives, row by row, exactly the verdict `Screener.check` gives.

This is the test that keeps "one place decides a verdict" true for the batch:
if the vectorised fact gathering ever drifts from `TableSet.facts` or from the
parser, a row here disagrees.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
from batchmix import COVERED_REASONS, PEERS, decorate, realistic_mix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcheck.batch import BatchTables, compile_tables, load_tables, screen_array
from sipcheck.batch.synthetic import SAMPLE_DAY, number_in
from sipcheck.model import Block, Component, Part, Suspension, Wholesale
from sipcheck.policy import CompiledPolicy, PolicyConfig
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action, Reason


def assert_same(
    numbers: Sequence[str] | npt.NDArray[np.str_],
    ingress: Sequence[str | None] | None,
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> list[Action]:
    result = screen_array(numbers, ingress, tables, policy, today)
    e164, kinds, blocks = result.e164(), result.kinds(), result.blocks()
    reasons = result.reasons()
    actions = result.actions
    seen: list[Action] = []
    for i, text in enumerate(numbers):
        peer = None if ingress is None else ingress[i]
        expected = screener.check(text, peer, now=now)
        got = result.verdicts[result.inverse[i]]
        where = f"row {i}: {text!r} ingress {peer!r}"
        assert got.action == expected.action, where
        assert got.reasons == expected.reasons, where
        assert got.operators == expected.operators, where
        assert got.data_version == expected.data_version, where
        assert got.sip == expected.sip, where
        assert got.rules == expected.rules, where
        assert (expected.error is None) == (got.error is None), where
        assert reasons[i] == ";".join(r.value for r in expected.reasons), where
        assert actions[i] == list(Action).index(expected.action), where
        number = expected.number
        assert e164[i] == (number.e164 if number else ""), where
        assert kinds[i] == (number.kind.value if number else ""), where
        assert blocks[i] == (number.block if number else ""), where
        seen.append(expected.action)
    return seen


def test_realistic_mix_matches_screener_row_by_row(
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    numbers = realistic_mix(parts, 6_000, seed=1)
    rng = random.Random(2)
    ingress = [rng.choice(PEERS) for _ in numbers]
    actions = assert_same(numbers, ingress, tables, screener, policy, today, now)
    # The mix must really cover the cases, or the comparison proves little.
    assert set(actions) == set(Action)
    result = screen_array(numbers, ingress, tables, policy, today)
    covered = {reason for verdict in result.verdicts for reason in verdict.reasons}
    for reason in COVERED_REASONS:
        assert reason in covered, reason
    # Decided once per signature, not once per row.
    assert len(result.verdicts) < len(numbers) / 4


def _rules_over(parts: dict[Component, Part], numbers: list[str]) -> Part:
    """Rules over the synthetic data: a range inside a block, a stock suspension, an allowed block
    with a denied prefix inside it, number overrides on rows of the mix, an expired deny."""
    from datetime import timedelta

    from sipcheck.model import Operator, RuleAction
    from sipcheck.rules import make_rule

    blocks = [r for r in parts[Component.BLOCKS].records if isinstance(r, Block) and r.operator][:400]
    ops = [r.id for r in parts[Component.OPERATORS].records if isinstance(r, Operator)]
    b2, b3 = blocks[50], blocks[90]
    designated = {b.operator for b in blocks}
    stock = next(op for op in ops if op in designated)
    from sipcheck.numbers import InvalidNumber, NumberKind, parse_number

    def japanese(text: str) -> bool:
        try:
            return parse_number(text).kind is not NumberKind.INTERNATIONAL
        except InvalidNumber:
            return False

    digit_rows = [n for n in numbers if japanese(n)]
    national = parse_number(digit_rows[-1]).national
    low, high = national[:-4] + "0000", national[:-4] + "9999"
    rules = [
        make_rule(RuleAction.SUSPEND, range_=(low, high), reference="POL-R"),
        make_rule(RuleAction.SUSPEND, operator=stock, known_operators=ops, reference="POL-S"),
        make_rule(RuleAction.ALLOW, prefix=b2.prefix, reason="false positive"),
        make_rule(RuleAction.DENY, prefix=b2.prefix + "1", reason="wave"),
        make_rule(RuleAction.DENY, prefix=b3.prefix, until=SAMPLE_DAY - timedelta(days=1)),
    ]
    for i, text in enumerate(digit_rows[:300:3]):
        rules.append(make_rule(RuleAction.ALLOW if i % 2 else RuleAction.DENY, number=text))
    from sipcheck.rules import make_contractor

    hopper = make_contractor(id_="c-hop", names=["渡り"])
    held = parse_number(digit_rows[7]).national
    rules += [
        make_rule(RuleAction.CONTRACT, prefix=held[:-3], contractor="c-hop", known_contractors=["c-hop"]),
        make_rule(RuleAction.REFUSE, contractor="c-hop", reference="JUSA-1", known_contractors=["c-hop"]),
    ]
    return Part(Component.RULES, (*rules, hopper))


def test_rules_match_screener_row_by_row(
    parts: dict[Component, Part], policy: CompiledPolicy, today: date, now: datetime
) -> None:
    numbers = realistic_mix(parts, 4_000, seed=11)
    with_rules = {**parts, Component.RULES: _rules_over(parts, numbers)}
    store = MemoryStore(with_rules)
    tables = load_tables(store)
    assert tables.rules.count == len(with_rules[Component.RULES].records) - 1  # one is the contractor
    rng = random.Random(12)
    ingress = [rng.choice(PEERS) for _ in numbers]
    assert_same(numbers, ingress, tables, Screener(store, policy), policy, today, now)
    result = screen_array(numbers, ingress, tables, policy, today)
    covered = {reason for verdict in result.verdicts for reason in verdict.reasons}
    assert {
        Reason.OVERRIDE_ALLOW,
        Reason.OVERRIDE_DENY,
        Reason.SUSPENDED,
        Reason.CONTRACTOR_REFUSED,
    } <= covered
    scopes = {rule.scope.value for verdict in result.verdicts for rule in verdict.rules}
    assert scopes == {"range", "operator", "prefix", "number", "contractor"}


def test_without_ingress_column(
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    numbers = realistic_mix(parts, 2_000, seed=3)
    assert_same(numbers, None, tables, screener, policy, today, now)


def test_numpy_input_and_other_day_and_policy(
    parts: dict[Component, Part], store: MemoryStore, tables: BatchTables
) -> None:
    """Another policy and a day before the certifications start: still the screener's answers."""
    policy = PolicyConfig(
        actions={Reason.BLOCK_NOT_IN_USE: Action.BLOCK, Reason.INTERNATIONAL_NUMBER: Action.ALLOW},
        verstat=True,
    ).compile()
    day = date(2025, 12, 1)
    now = datetime.fromisoformat("2025-12-01T03:00:00+00:00")
    numbers = realistic_mix(parts, 2_000, seed=4)
    rng = random.Random(5)
    ingress = [rng.choice(PEERS) for _ in numbers]
    assert_same(np.array(numbers), ingress, tables, Screener(store, policy), policy, day, now)


def test_empty_store_and_empty_input(policy: CompiledPolicy, today: date, now: datetime) -> None:
    store = MemoryStore()
    tables = load_tables(store)
    numbers = ["0352535111", "+14155550123", "junk", "05012345678", "0312345678"]
    actions = assert_same(
        numbers, ["x", None, "y", None, None], tables, Screener(store, policy), policy, today, now
    )
    # Nothing loaded: valid numbers meet the fail policy (open: flag), never "spoofed"; invalid stay invalid.
    assert actions == [Action.FLAG, Action.FLAG, Action.BLOCK, Action.FLAG, Action.BLOCK]
    result = screen_array(numbers, None, tables, policy, today)
    assert [v.reasons for v in (result.verdicts[i] for i in result.inverse)] == [
        (Reason.DATA_UNAVAILABLE,),
        (Reason.DATA_UNAVAILABLE,),
        (Reason.INVALID_NUMBER,),
        (Reason.DATA_UNAVAILABLE,),
        (Reason.INVALID_NUMBER,),
    ]
    empty = screen_array([], None, tables, policy, today)
    assert len(empty) == 0 and empty.counts() == dict.fromkeys(Action, 0)


def test_duplicates_and_precedence_follow_the_table_set(
    policy: CompiledPolicy, today: date, now: datetime
) -> None:
    """Later duplicates win, wholesale naming the designated operator is no serving operator."""
    from sipcheck.model import Certification, CertStatus, Operator, RangeCoverage, Trunk
    from sipcheck.numbers import NumberKind

    parts = {
        Component.OPERATORS: Part(Component.OPERATORS, (Operator("a", "Ａ社"), Operator("b", "B社"))),
        Component.CERTIFICATIONS: Part(
            Component.CERTIFICATIONS,
            (Certification("a", CertStatus.CERTIFIED), Certification("B社", CertStatus.REVOKED)),
        ),
        Component.BLOCKS: Part(
            Component.BLOCKS,
            (
                Block("035253", NumberKind.FIXED, "b"),
                Block("035253", NumberKind.FIXED, "A社"),  # later one wins, joined by name key
                Block("0501234", NumberKind.IP, "a", in_use=False),
                Block("066123", NumberKind.FIXED, "ghost"),  # an operator nobody knows
                Block("066124", NumberKind.FIXED, ""),  # an operator the source does not name
            ),
            coverage=(RangeCoverage("03", today), RangeCoverage("050", today)),  # 06 is not covered
        ),
        Component.WHOLESALE: Part(
            Component.WHOLESALE,
            (
                Wholesale("0352", "b"),
                Wholesale("03525356", "a"),  # the designated operator itself
                Wholesale("0352535678", "b"),  # one number, longest wins
                Wholesale("05012345", "nobody"),
                Wholesale("0661234", "ghost"),  # unknown both times: still shown as serving
            ),
        ),
        Component.TRUNKS: Part(Component.TRUNKS, (Trunk("t1", "a"),)),
        Component.SUSPENSIONS: Part(Component.SUSPENSIONS, (Suspension("+81352539999"),)),
    }
    store = MemoryStore(parts)
    numbers = [
        "0352535678",
        "0352535600",
        "0352530000",
        "0352539999",
        "05012345678",
        "05012349999",
        "0661234567",
        "0661230000",
        "0661241234",  # designated, operator unknown
        "0661251234",  # not covered: unknown
        "0352545678",  # covered: never designated
    ]
    assert_same(
        numbers,
        ["t1"] * len(numbers),
        compile_tables(parts, store.status().data_version),
        Screener(store, policy),
        policy,
        today,
        now,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    numbers=st.lists(
        st.one_of(
            st.text(max_size=20),
            st.text(alphabet="0123456789+-() ", max_size=16),
            st.from_regex(r"\A(0[1-9][0-9]{8,9}|\+81[1-9][0-9]{8,9}|81[1-9][0-9]{8,9})\Z"),
            st.from_regex(r"\A(tel:|sip:|184|186|010)?[0-9０-９+-]{0,14}\Z"),
        ),
        min_size=1,
        max_size=60,
    ),
    rng=st.randoms(use_true_random=False),
)
def test_arbitrary_text_matches_screener(
    numbers: list[str],
    rng: random.Random,
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    ingress = [rng.choice(PEERS) for _ in numbers]
    assert_same(numbers, ingress, tables, screener, policy, today, now)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sampled_real_blocks_in_every_shape(
    data: st.DataObject,
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    blocks = [r.prefix for r in parts[Component.BLOCKS].records if isinstance(r, Block)]
    rng = data.draw(st.randoms(use_true_random=False))
    numbers = [decorate(number_in(data.draw(st.sampled_from(blocks)), rng), rng) for _ in range(30)]
    assert_same(numbers, None, tables, screener, policy, today, now)
