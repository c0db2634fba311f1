"""The local snapshot (pub/sub invalidation) and version consistency under concurrent reloads."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from cachedata import StoreFactory, numbers_for, varied_parts

from sipcheck.facts import Facts
from sipcheck.model import Block, Certification, CertStatus, Component, Part, Suspension
from sipcheck.numbers import NumberKind, parse_number
from sipcheck.store import MemoryStore


def _strip(f: Facts) -> Facts:
    return replace(f, data_version="")


def test_snapshot_answers_and_is_invalidated_by_pubsub(make_store: StoreFactory) -> None:
    reader = make_store(local_snapshot=True)
    writer = make_store()
    parts = varied_parts()
    v1 = writer.publish(parts)
    assert reader.snapshot is not None and reader.snapshot.wait_for(v1, 5)
    number = parse_number("0352990000")
    assert reader.lookup(number, None, "t").block is None
    blocks = parts[Component.BLOCKS]
    new = replace(blocks, records=(*blocks.records, Block("035299", NumberKind.FIXED, "kddi")))
    v2 = writer.publish({Component.BLOCKS: new})
    # Before the snapshot reloads the answer is already right: Redis sees the newer version, answers fully.
    assert reader.lookup(number, None, "t").block is not None
    assert reader.snapshot.wait_for(v2, 5)  # pub/sub message -> reload
    facts = reader.lookup(number, None, "t")
    assert facts.block is not None and facts.data_version == v2 and not facts.from_snapshot
    # A suspension-only publish changes the data version but not the static tables: no full reload needed.
    v3 = writer.publish({Component.SUSPENSIONS: Part(Component.SUSPENSIONS, (Suspension(number.e164),))})
    facts = reader.lookup(number, None, "t")
    assert facts.suspension == Suspension(number.e164) and facts.data_version == v3
    assert reader.snapshot.state is not None and reader.snapshot.state.static == v2


def test_incremental_suspension_is_seen_at_once_with_snapshot(make_store: StoreFactory) -> None:
    reader = make_store(local_snapshot=True)
    writer = make_store()
    version = writer.publish(varied_parts())
    assert reader.snapshot is not None and reader.snapshot.wait_for(version, 5)
    number = parse_number("05012345555")
    assert reader.lookup(number, None, "t").suspension is None
    refreshes = reader.metrics.snapshot_refreshes
    seq = reader.snapshot.applied_seq
    writer.add_suspensions([Suspension(number.e164, reference="X")])
    assert reader.lookup(number, None, "t").suspension == Suspension(number.e164, None, "X", None)
    # ...and the local copy used by the snapshot fail policy follows via pub/sub, as a delta (no reload).
    assert reader.snapshot.wait_seq(seq + 1, 5)
    assert reader.snapshot.state.tables.suspensions[number.e164].reference == "X"  # type: ignore[union-attr]
    assert reader.metrics.snapshot_refreshes == refreshes


def _dataset(status: CertStatus, operator: str) -> dict[Component, Part]:
    parts = varied_parts()
    blocks = tuple(
        replace(b, operator=operator) for b in parts[Component.BLOCKS].records if isinstance(b, Block)
    )
    certs = (Certification(operator, status, None, None, "R"),)
    return {
        **parts,
        Component.BLOCKS: Part(Component.BLOCKS, blocks),
        Component.CERTIFICATIONS: Part(Component.CERTIFICATIONS, certs),
    }


@pytest.mark.parametrize("mode", ["script", "snapshot", "local"])
def test_reload_under_load_never_mixes_versions(make_store: StoreFactory, mode: str) -> None:
    """Callers check while a publisher alternates two data sets; every answer matches its version's set."""
    a = _dataset(CertStatus.CERTIFIED, "kddi")
    b = _dataset(CertStatus.REVOKED, "revo")
    expected = {1: MemoryStore(a), 0: MemoryStore(b)}  # odd versions are A, even versions B
    writer = make_store()
    writer.publish(a)
    numbers = [parse_number(t) for t in numbers_for(a)]
    stop = threading.Event()
    errors: list[str] = []
    checked = [0]

    def caller() -> None:
        store = make_store(local_snapshot=mode != "script", local_reads=mode == "local")
        i = 0
        while not stop.is_set() and i < 200_000:
            n = numbers[i % len(numbers)]
            got = store.lookup(n, "peer-cloudx", "t")
            i += 1
            if not got.available:
                errors.append(f"unavailable answer at check {i}")
                return
            want = expected[int(got.data_version) % 2].lookup(n, "peer-cloudx", "t")
            if _strip(replace(got, suspension=None)) != _strip(replace(want, suspension=None)):
                errors.append(f"version {got.data_version} mixed for {n.e164}: {got} != {want}")
                return
        checked[0] += i

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(12):
        writer.publish(b if i % 2 == 0 else a)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert checked[0] > 100
