"""Rules through Redis: a change is in force at the next check in every store, whole or not at all."""

from __future__ import annotations

import threading
import time

import pytest
from cachedata import StoreFactory, rules_part, varied_parts

from sipcheck.model import Component, RuleAction
from sipcheck.numbers import parse_number
from sipcheck.rules import RuleError, make_rule
from sipcheck.store import MemoryStore


def _rules_of(store: object, text: str) -> list[str]:
    number = parse_number(text)
    facts = store.lookup(number, None, text)  # type: ignore[attr-defined]
    return [r.id for r in facts.rules]


def test_a_rule_change_is_in_force_at_the_next_check_everywhere(make_store: StoreFactory) -> None:
    admin = make_store()
    version = admin.publish(varied_parts())
    script_only = make_store()
    with_snapshot = make_store(local_snapshot=True)
    assert with_snapshot.snapshot is not None and with_snapshot.snapshot.wait_for(version, 5)
    text = "050-1235-0000"
    assert _rules_of(script_only, text) == [] and _rules_of(with_snapshot, text) == []
    rule = make_rule(RuleAction.DENY, prefix="050-1235", reason="fraud wave", author="noc")
    change = admin.change_rules([rule], [])
    assert change.added == (rule.id,) and change.total == 1
    # No waiting: the next check of each store, whatever its snapshot holds, sees the rule.
    assert _rules_of(script_only, text) == [rule.id]
    assert _rules_of(with_snapshot, text) == [rule.id]
    admin.change_rules([], [rule.id])
    assert _rules_of(script_only, text) == [] and _rules_of(with_snapshot, text) == []


def test_local_reads_follow_a_rule_change_with_the_snapshot(make_store: StoreFactory) -> None:
    admin = make_store()
    admin.publish(varied_parts())
    local = make_store(local_snapshot=True, local_reads=True)
    assert local.snapshot is not None and local.snapshot.wait_local(5)
    rule = make_rule(RuleAction.SUSPEND, operator="cloudx", known_operators=("cloudx",), reference="POL-7")
    change = admin.change_rules([rule], [])
    deadline = time.monotonic() + 5
    while (local.snapshot.state is None or local.snapshot.state.version != change.data_version) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert local.snapshot.wait_local(5)
    state = local.snapshot.state
    assert state is not None and state.tables.rules.count == 1
    assert _rules_of(local, "050-1234-0000") == [rule.id]  # resold to cloudx: its stock


def test_a_refused_change_publishes_nothing(make_store: StoreFactory) -> None:
    store = make_store()
    store.publish({**varied_parts(), Component.RULES: rules_part()})
    before = store.status().data_version
    keep = make_rule(RuleAction.DENY, prefix="050-1235")
    with pytest.raises(RuleError):
        store.change_rules([keep], ["deny:prefix:0999999"])
    assert store.status().data_version == before
    assert _rules_of(store, "050-1235-0000") == []


def test_concurrent_changes_are_both_kept(make_store: StoreFactory) -> None:
    one, two = make_store(), make_store()
    one.publish(varied_parts())
    rules = [make_rule(RuleAction.DENY, number=f"050-1235-{i:04d}") for i in range(20)]
    errors: list[BaseException] = []

    def add(store: object, chunk: list[object]) -> None:
        try:
            for rule in chunk:
                store.change_rules([rule], [])  # type: ignore[attr-defined]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(s, rules[i::2])) for i, s in enumerate((one, two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    live = {r.id for r in one.part(Component.RULES).records}  # type: ignore[attr-defined]
    assert live == {r.id for r in rules}


def test_rules_read_back_equal_what_was_written(make_store: StoreFactory) -> None:
    store = make_store()
    parts = {**varied_parts(), Component.RULES: rules_part()}
    store.publish(parts)
    memory = MemoryStore(parts)
    assert sorted(store.part(Component.RULES).records, key=str) == sorted(
        memory.part(Component.RULES).records, key=str
    )
