"""The Lua script and `TableSet.facts` must give the same facts, hence the same verdicts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import pytest
from cachedata import StoreFactory, numbers_for, rules_part, varied_parts

from sipcheck.facts import Facts
from sipcheck.model import Component, Part
from sipcheck.numbers import parse_number
from sipcheck.policy import PolicyConfig, decide
from sipcheck.store import MemoryStore

INGRESSES = (None, "10.0.0.1", "peer-cloudx", "peer-unknown", "peer-revo", "not-a-trunk")
TODAY = date(2026, 5, 1)


def _sample() -> dict[Component, Part] | None:
    try:
        from sipcheck.sample import sample_parts  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    parts: dict[Component, Part] = sample_parts()
    return parts


def _datasets() -> list[tuple[str, dict[Component, Part]]]:
    sets = [("varied", varied_parts()), ("rules", {**varied_parts(), Component.RULES: rules_part()})]
    sample = _sample()
    if sample is not None:
        sets.append(("sample", sample))
    return sets


def _strip(f: Facts) -> Facts:
    return replace(f, data_version="")


@pytest.mark.parametrize("mode", ["script", "snapshot", "local"])
@pytest.mark.parametrize("name_parts", _datasets(), ids=lambda v: v[0])
def test_lua_equals_tableset(
    make_store: StoreFactory, name_parts: tuple[str, dict[Component, Part]], mode: str
) -> None:
    """The script, the snapshot + script and local reads (data through Redis's encoding) agree with memory."""
    _name, parts = name_parts
    memory = MemoryStore(parts)
    snapshot = mode != "script"
    store = make_store(local_snapshot=snapshot, local_reads=mode == "local")
    version = store.publish(parts)
    if snapshot:
        assert store.snapshot is not None
        assert store.snapshot.wait_for(version, 5)
    if mode == "local":
        assert store.snapshot is not None and store.snapshot.wait_local(5)
    policy = PolicyConfig().compile()
    numbers = numbers_for(parts) if _name != "sample" else _sample_numbers(parts)
    assert len(numbers) > 40
    compared = 0
    for text in numbers:
        number = parse_number(text)
        for ingress in INGRESSES:
            expected = memory.lookup(number, ingress, text)
            got = store.lookup(number, ingress, text)
            assert got.available and not got.from_snapshot
            assert got.data_version == version
            assert _strip(got) == _strip(expected), (text, ingress)
            assert decide(got, policy, TODAY).reasons == decide(expected, policy, TODAY).reasons
            compared += 1
    assert compared == len(numbers) * len(INGRESSES)
    if snapshot:
        assert store.metrics.lookups == compared
    assert store.metrics.local_answers == (compared if mode == "local" else 0)


def _sample_numbers(parts: dict[Component, Part]) -> list[str]:
    """Numbers across the whole built-in designation file: in designated blocks, in their neighbours
    (mostly never designated), in resold ranges, suspended, and in ranges no data covers."""
    from sipcheck.model import Block, Suspension, Wholesale

    out: list[str] = ["0990123456", "0170123456", "06001234567", "02041234567"]
    blocks = [
        r for r in parts.get(Component.BLOCKS, Part(Component.BLOCKS, ())).records if isinstance(r, Block)
    ]
    for record in blocks[::60]:
        for prefix in (record.prefix, record.prefix[:-1] + str((int(record.prefix[-1]) + 5) % 10)):
            for length in (10, 11, 14):
                out.append((prefix + "2345678901234")[:length])
    for record in parts.get(Component.WHOLESALE, Part(Component.WHOLESALE, ())).records[:100]:
        if isinstance(record, Wholesale):
            out.append((record.prefix + "0123456789")[:11])
    for record in parts.get(Component.SUSPENSIONS, Part(Component.SUSPENSIONS, ())).records[:100]:
        if isinstance(record, Suspension):
            out.append(record.number)
    valid = []
    for text in out:
        try:
            parse_number(text)
        except ValueError:
            continue
        valid.append(text)
    return sorted(set(valid))


def test_async_lookup_equals_sync(make_store: StoreFactory) -> None:
    parts = varied_parts()
    store = make_store()
    store.publish(parts)
    numbers = [parse_number(t) for t in numbers_for(parts)]

    async def run() -> list[Facts]:
        assert await store.awarm() == store.settings.warm_connections
        results = await asyncio.gather(*(store.alookup(n, "peer-cloudx", n.e164) for n in numbers))
        await store.aclose()
        return list(results)

    got = asyncio.run(run())
    assert got == [store.lookup(n, "peer-cloudx", n.e164) for n in numbers]
    assert store.metrics.errors == 0 and store.metrics.timeouts == 0
