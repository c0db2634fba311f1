"""Versions, the pointer switch, partial publishes, read-back, status, suspensions, garbage collection."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import redis
from cachedata import StoreFactory, varied_parts
from redis.crc import key_slot

from sipcheck.cache import EmbeddedRedis
from sipcheck.model import Block, Component, Operator, Part, Suspension
from sipcheck.numbers import NumberKind, parse_number
from sipcheck.store import FactStore, MemoryStore, StoreError


def _client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)


def test_is_a_factstore(make_store: StoreFactory) -> None:
    assert isinstance(make_store(), FactStore)


def test_empty_store_answers_like_an_empty_memory_store(make_store: StoreFactory) -> None:
    store = make_store()
    number = parse_number("0352535678")
    assert store.lookup(number, None, "x") == MemoryStore().lookup(number, None, "x")
    assert store.status().data_version == ""
    assert store.part(Component.BLOCKS).records == ()


def test_partial_publish_keeps_other_components(make_store: StoreFactory) -> None:
    store = make_store()
    parts = varied_parts()
    v1 = store.publish(parts)
    new_blocks = Part(Component.BLOCKS, (Block("035299", NumberKind.FIXED, "kddi"),), as_of=date(2026, 6, 1))
    v2 = store.publish({Component.BLOCKS: new_blocks})
    assert int(v2) > int(v1)
    status = store.status()
    versions = {c.component: c.version for c in status.components}
    assert versions[Component.BLOCKS] == v2
    assert versions[Component.OPERATORS] == v1
    assert versions[Component.SUSPENSIONS] == v1
    assert status.backend == "redis" and status.data_version == v2
    counts = {c.component: c.count for c in status.components}
    assert counts[Component.BLOCKS] == 1 and counts[Component.SUSPENSIONS] == 3
    assert {c.component: c.as_of for c in status.components}[Component.BLOCKS] == date(2026, 6, 1)
    # Old blocks are gone, the new one resolves through the operators kept from v1.
    facts = store.lookup(parse_number("0352999999"), None, "0352999999")
    assert facts.block is not None and facts.designated is not None
    assert facts.designated.id == "kddi" and facts.designated.certification is not None
    assert store.lookup(parse_number("0352535000"), None, "t").block is None


def test_operator_change_re_resolves_blocks(make_store: StoreFactory) -> None:
    """Blocks store references; a new operator list in a later version changes what they resolve to."""
    store = make_store()
    parts = varied_parts()
    store.publish(parts)
    number = parse_number("05012370000")  # block refers to 知らない通信, unknown in v1
    assert store.lookup(number, None, "t").designated.id == ""  # type: ignore[union-attr]
    ops = parts[Component.OPERATORS]
    store.publish(
        {Component.OPERATORS: replace(ops, records=(*ops.records, Operator("shiranai", "知らない通信")))}
    )
    facts = store.lookup(number, None, "t")
    assert facts.designated is not None and facts.designated.id == "shiranai"
    memory = MemoryStore(parts)
    memory.publish(
        {Component.OPERATORS: replace(ops, records=(*ops.records, Operator("shiranai", "知らない通信")))}
    )
    assert replace(facts, data_version="") == replace(memory.lookup(number, None, "t"), data_version="")


def test_part_round_trips_every_component(make_store: StoreFactory) -> None:
    store = make_store()
    parts = varied_parts()
    store.publish(parts)
    for component, part in parts.items():
        back = store.part(component)
        assert back.component is component
        assert sorted(map(repr, back.records)) == sorted(map(repr, part.records)), component
        assert back.as_of == part.as_of and back.sources == part.sources
        assert back.loaded_at is not None
    assert store.part(Component.CERTIFICATIONS).records == parts[Component.CERTIFICATIONS].records


def test_incremental_suspensions_apply_to_live_version(make_store: StoreFactory) -> None:
    store = make_store()
    other = make_store()  # another process of the deployment
    store.publish(varied_parts())
    number = parse_number("0352530001")
    assert other.lookup(number, None, "t").suspension is None
    assert store.add_suspensions([Suspension(number.e164, reference="R-9")]) == 1
    got = other.lookup(number, None, "t").suspension
    assert got == Suspension(number.e164, None, "R-9", None)
    assert store.remove_suspensions([number.e164, "+81000"]) == 1
    assert other.lookup(number, None, "t").suspension is None
    assert {c.component: c.count for c in store.status().components}[Component.SUSPENSIONS] == 3


def test_add_suspensions_on_empty_store_creates_the_component(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.add_suspensions(Suspension(f"+8135253{i:04d}") for i in range(4500)) == 4500
    assert len(store.part(Component.SUSPENSIONS).records) == 4500


def test_old_versions_are_removed(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    store = make_store()  # gc_grace_ms=0: removed at once
    parts = varied_parts()
    store.publish(parts)
    client = _client(redis_server)
    first = set(client.keys("{sipcheck}:*"))
    for _ in range(3):
        store.publish(parts)
    after = set(client.keys("{sipcheck}:*"))
    assert len(after) == len(first)  # one version's worth of keys, not four
    assert not (after & first) - {"{sipcheck}:live", "{sipcheck}:seq"}
    store.publish({Component.SUSPENSIONS: parts[Component.SUSPENSIONS]})
    again = set(client.keys("{sipcheck}:*"))
    assert len(again) == len(after)
    assert {k for k in again if ":blocks:" in k} == {k for k in after if ":blocks:" in k}  # not rewritten


def test_grace_period_keeps_old_keys_readable(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    store = make_store(gc_grace_ms=60_000)
    parts = varied_parts()
    v1 = store.publish(parts)
    store.publish(parts)
    client = _client(redis_server)
    old_blocks = f"{{sipcheck}}:blocks:{v1}"
    assert client.exists(old_blocks) == 1
    assert 0 < client.pttl(old_blocks) <= 60_000
    assert client.pttl(f"{{sipcheck}}:blocks:{int(v1) + 1}") == -1  # live keys never expire


def test_every_key_shares_one_hash_slot(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    store = make_store()
    store.publish(varied_parts())
    client = _client(redis_server)
    keys = client.keys("*")
    assert len(keys) > 8
    assert len({key_slot(str(k).encode()) for k in keys}) == 1  # Redis Cluster's CRC16 slot of the hash tag


def test_write_errors_raise_store_error(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    store = make_store()
    with pytest.raises(StoreError, match="not a blocks record"):
        store.publish({Component.BLOCKS: Part(Component.BLOCKS, (Suspension("+81352535678"),))})
    redis_server.stop()
    with pytest.raises(StoreError, match="publishing blocks"):
        store.publish({Component.BLOCKS: Part(Component.BLOCKS, ())})
    with pytest.raises(StoreError):
        store.status()


@pytest.mark.parametrize("mode", ["script", "snapshot", "local"])
def test_an_incomplete_data_set_never_gives_a_verdict_about_the_number(
    make_store: StoreFactory, mode: str
) -> None:
    """Empty, then blocks only, then complete: the first two answer by the fail policy in every read mode."""
    from sipcheck.policy import PolicyConfig, decide
    from sipcheck.verdict import Reason

    store = make_store(local_snapshot=mode != "script", local_reads=mode == "local")
    parts = varied_parts()
    policy = PolicyConfig(fail_policy="closed").compile()
    numbers = [parse_number(t) for t in ("0352999999", "0352531111", "05012341111", "+14155550100")]

    def reasons() -> set[tuple[Reason, ...]]:
        return {decide(store.lookup(n, None, n.e164), policy, date(2026, 5, 1)).reasons for n in numbers}

    assert reasons() == {(Reason.DATA_UNAVAILABLE,)}
    version = store.publish({Component.BLOCKS: parts[Component.BLOCKS]})
    if store.snapshot is not None:
        assert store.snapshot.wait_for(version, 5)
    assert not store.status().complete
    assert [c.value for c in store.status().missing()] == ["certifications", "suspensions"]
    assert reasons() == {(Reason.DATA_UNAVAILABLE,)}
    version = store.publish({c: parts[c] for c in (Component.CERTIFICATIONS, Component.SUSPENSIONS)})
    if store.snapshot is not None:
        assert store.snapshot.wait_for(version, 5)
    assert store.status().complete
    got = reasons()
    assert not any(Reason.DATA_UNAVAILABLE in r for r in got)
    assert (Reason.BLOCK_NOT_DESIGNATED_STALE, Reason.DESIGNATION_DATA_STALE) in got  # 03's data is from 2024


def test_status_carries_the_coverage_table(make_store: StoreFactory) -> None:
    store = make_store()
    parts = varied_parts()
    store.publish(parts)
    coverage = store.status().coverage
    assert coverage == MemoryStore(parts).status().coverage
    by_range = {row.range: row for row in coverage}
    assert sorted(by_range) == ["03", "050", "080"]
    assert (by_range["050"].blocks, by_range["050"].operator_unknown) == (6, 1)
    assert by_range["050"].operators_as_of == date(2026, 1, 1)
    assert by_range["03"].source == "mic-03.xls"
    assert store.part(Component.BLOCKS).coverage == parts[Component.BLOCKS].coverage
