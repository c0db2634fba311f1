"""Range and stock suspensions and overrides: how they are checked, matched and decided."""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cache"))

from cachedata import rules_part, varied_parts

from sipcheck.model import Component, RuleAction, RuleScope
from sipcheck.rules import RuleError, RuleSet, make_rule, prefix_cover
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action, Reason

NOW = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)  # 12:00 JST


def _screener(with_rules: bool = True) -> Screener:
    parts = varied_parts()
    if with_rules:
        parts[Component.RULES] = rules_part()
    return Screener(MemoryStore(parts), clock=lambda: NOW)


def test_prefix_cover_is_exactly_the_range() -> None:
    rng = random.Random(7)
    for _ in range(40):
        a, b = sorted(rng.randrange(10_000) for _ in range(2))
        low, high = f"{a:04d}", f"{b:04d}"
        cover = prefix_cover(low, high)
        covered = {f"{n:04d}" for n in range(10_000) if any(f"{n:04d}".startswith(p) for p in cover)}
        assert covered == {f"{n:04d}" for n in range(a, b + 1)}, (low, high, cover)
        # No two prefixes overlap: a number is counted once.
        assert sum(10 ** (4 - len(p)) for p in cover) == b - a + 1
    assert prefix_cover("0312340000", "0312349999") == ("031234",)


def test_range_suspension_covers_every_number_in_it_and_none_outside() -> None:
    screener = _screener()
    inside = screener.check("03-5253-5123")
    assert inside.action is Action.BLOCK and Reason.SUSPENDED in inside.reasons
    assert [r.reference for r in inside.rules] == ["POL-1"]
    assert inside.to_dict()["rules"][0]["target"] == "0352535000..0352535999"
    for outside in ("03-5253-4999", "03-5253-6000"):
        verdict = screener.check(outside)
        assert Reason.SUSPENDED not in verdict.reasons, outside
    # The same numbers without the rules: what the rule changed is all that changed.
    assert Reason.SUSPENDED not in _screener(with_rules=False).check("03-5253-5123").reasons


def test_stock_suspension_covers_the_operators_wholesale_ranges() -> None:
    screener = _screener()
    served = screener.check("050-1234-0000")  # block 0501234 (KDDI) resold to cloudx
    assert served.action is Action.BLOCK and Reason.SUSPENDED in served.reasons
    assert any(r.scope is RuleScope.OPERATOR and r.reference == "POL-2" for r in served.rules)
    resold_on = screener.check("050-1234-5000")  # 05012345: served by revo, not cloudx
    assert not any(r.scope is RuleScope.OPERATOR for r in resold_on.rules)
    assert Reason.SUSPENDED not in screener.check("050-1235-0000").reasons  # KDDI's own block


def test_overrides_most_specific_wins_and_say_why() -> None:
    screener = _screener()
    plain = _screener(with_rules=False)
    revoked = plain.check("050-1238-0000")
    assert revoked.action is Action.BLOCK
    allowed = screener.check("050-1238-0000")
    assert allowed.action is Action.ALLOW
    assert Reason.OVERRIDE_ALLOW in allowed.reasons and Reason.DESIGNATED_OPERATOR_REVOKED in allowed.reasons
    assert allowed.sip.reject is False
    denied = screener.check("050-1238-1000")  # the longer deny prefix inside the allowed one
    assert denied.action is Action.BLOCK and denied.reasons[-1] is Reason.OVERRIDE_DENY
    assert [r.action for r in denied.rules] == [RuleAction.DENY]
    number = screener.check("080-1230-0000")
    assert plain.check("080-1230-0000").action is Action.FLAG and number.action is Action.ALLOW


def test_an_allow_override_does_not_lift_a_suspension() -> None:
    verdict = _screener().check("+815012341111")
    assert verdict.action is Action.BLOCK
    assert Reason.SUSPENDED in verdict.reasons and Reason.OVERRIDE_ALLOW in verdict.reasons


def test_an_expired_override_is_not_in_force() -> None:
    screener = _screener()
    assert Reason.OVERRIDE_DENY not in screener.check("03-5254-1111").reasons
    january = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    before = screener.check("03-5254-1111", now=january)
    assert before.action is Action.BLOCK and Reason.OVERRIDE_DENY in before.reasons


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"operator": "nobody"}, "operator"),
        ({"prefix": "03-5253-5999..03-5253-5000"}, "range"),
        ({"range_": ("0352535000", "05012340000")}, "range"),
        ({"prefix": "0a12"}, "prefix"),
        ({"prefix": "0000"}, "prefix"),
        ({"prefix": "01012"}, "prefix"),  # 010 is the international prefix: no national number
        ({"number": "12345"}, "number"),
        ({"number": "0352535000", "prefix": "035253"}, "target"),
        ({"number": "0352535000", "until": date(2026, 4, 30)}, "until"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(RuleError) as caught:
        make_rule(
            RuleAction.SUSPEND,
            reference="POL-9",
            known_operators=("kddi",),
            today=date(2026, 5, 1),
            **kwargs,  # type: ignore[arg-type]
        )
    assert caught.value.field.split(".")[0] == field, caught.value


def test_a_suspension_needs_a_reference_and_an_override_names_numbers() -> None:
    with pytest.raises(RuleError, match="reference"):
        make_rule(RuleAction.SUSPEND, prefix="050-1234")
    with pytest.raises(RuleError, match="only a suspension"):
        make_rule(RuleAction.DENY, operator="kddi", known_operators=("kddi",))


def test_rule_changes_are_whole_and_removals_must_exist() -> None:
    store = MemoryStore({**varied_parts(), Component.RULES: rules_part()})
    before = store.tables.rules.count
    rule = make_rule(RuleAction.DENY, prefix="050-1235", reason="wave")
    change = store.change_rules([rule], [])
    assert change.added == (rule.id,) and change.total == before + 1
    again = store.change_rules([rule], [])  # the same rule twice is one rule
    assert again.total == before + 1
    with pytest.raises(RuleError):
        store.change_rules([], [rule.id, "deny:prefix:0999"])
    assert store.tables.rules.count == before + 1  # nothing of the failed change applied
    store.change_rules([], [rule.id])
    assert store.tables.rules.count == before


def test_a_rule_change_keeps_incremental_suspensions() -> None:
    from sipcheck.model import Suspension

    store = MemoryStore(varied_parts())
    store.add_suspensions([Suspension("+81352539999")])
    store.change_rules([make_rule(RuleAction.DENY, prefix="050-1235")], [])
    assert "+81352539999" in store.tables.suspensions


def test_a_rule_set_without_rules_matches_nothing() -> None:
    assert RuleSet(()).match("035253", "0352535123", "kddi", "") == ()


def test_a_corporate_number_needs_its_check_digit() -> None:
    from sipcheck.rules import check_corporate_number, make_contractor

    assert check_corporate_number("corporate_number", "9011101031552") == "9011101031552"  # KDDI
    assert check_corporate_number("corporate_number", "8011-1010-28104") == "8011101028104"  # NTT East
    for bad in ("9011101031553", "901110103155", "90111010315522", "x011101031552"):
        with pytest.raises(RuleError) as caught:
            make_contractor(id_=None, names=["x"], corporate_number=bad)
        assert caught.value.field == "corporate_number", bad
    with pytest.raises(RuleError, match="at least one name"):
        make_contractor(id_="c-1", names=[" "])


def test_a_refused_contractor_flags_the_ranges_it_holds_and_shows_its_suspensions() -> None:
    screener, plain = _screener(), _screener(with_rules=False)
    held = screener.check("0120-123-456")  # held by the refused contractor through prov
    assert Reason.CONTRACTOR_REFUSED in held.reasons and Reason.CONTRACTOR_SUSPENDED_ELSEWHERE in held.reasons
    assert held.action is plain.check("0120-123-456").action  # flag: it was a flag already (provisional)
    contract = next(r for r in held.rules if r.action is RuleAction.CONTRACT)
    assert contract.contractor == "9011101031552" and contract.operator == "prov"
    assert held.to_dict()["rules"][0]["via"] == "prov"
    clean = screener.check("03-5253-9000")  # a contractor with nothing against it: named, nothing more
    assert [r.contractor for r in clean.rules] == ["c-clean"]
    assert clean.reasons == plain.check("03-5253-9000").reasons
    suspended = screener.check("090-1234-0000")  # the suspension that names the contractor
    assert suspended.action is Action.BLOCK and suspended.rules[0].contractor == "9011101031552"


def test_a_refusal_can_make_a_clean_number_a_flag() -> None:
    from sipcheck.rules import make_contractor

    store = MemoryStore(varied_parts())
    hopper = make_contractor(id_="c-h", names=["渡り"])
    contract = make_rule(RuleAction.CONTRACT, prefix="050-1235", contractor="c-h", known_contractors=["c-h"])
    store.change_rules([hopper, contract], [])
    screener = Screener(store, clock=lambda: NOW)
    assert screener.check("050-1235-0000").action is Action.ALLOW
    refusal = make_rule(RuleAction.REFUSE, contractor="c-h", reference="JUSA-1", known_contractors=["c-h"])
    store.change_rules([refusal], [])
    flagged = screener.check("050-1235-0000")
    assert flagged.action is Action.FLAG and flagged.reasons == (Reason.CONTRACTOR_REFUSED,)
    with pytest.raises(RuleError, match="still name"):
        store.change_rules([], ["contractor:c-h"])
    with pytest.raises(RuleError, match="registered"):
        make_rule(RuleAction.CONTRACT, prefix="050-1236", contractor="c-nobody", known_contractors=["c-h"])
    with pytest.raises(RuleError, match="contractor only"):
        make_rule(RuleAction.REFUSE, prefix="050", contractor="c-h", reference="R", known_contractors=["c-h"])


def test_contractor_view_lists_what_it_holds_by_operator() -> None:
    from sipcheck.rules import contractor_view

    rules = MemoryStore({**varied_parts(), Component.RULES: rules_part()}).tables.rules
    view = contractor_view(rules, "9011101031552")
    assert view is not None and view["names"] == ["渡り商事株式会社"]
    assert view["holds"] == {"prov": ["0120123"]}
    assert view["refusals"] == ["refuse:contractor:9011101031552"]
    assert view["suspensions"] == ["suspend:number:09012340000"]
    assert contractor_view(rules, "nobody") is None
