"""A police request made while a full suspension list is being written is not lost: the changes made
during the build are replayed onto the new list in the same script that switches to it."""

from __future__ import annotations

import threading
import time

from cachedata import StoreFactory, varied_parts

from sipcheck.cache.keys import KeySpace
from sipcheck.model import Component, Part, Suspension

ADDED = "+815099990001"  # suspended while the full list is being written
REMOVED = "+815099990002"  # in the new full list, lifted while it is being written
FULL = 200_000


def test_changes_made_during_a_full_suspension_reload_survive_the_switch(make_store: StoreFactory) -> None:
    store = make_store()
    store.publish(varied_parts())
    numbers = [f"+8150{7000_0000 + i:08d}" for i in range(FULL)] + [REMOVED]
    full = Part(Component.SUSPENSIONS, tuple(Suspension(n, None, "LIST-2026-12") for n in numbers))
    client = store._admin  # the test watches the build's progress in Redis itself
    keys = KeySpace.of(store.settings.key_prefix)
    building = keys.component(Component.SUSPENSIONS, str(int(client.get(keys.seq) or 0) + 1))
    errors: list[BaseException] = []

    def reload() -> None:
        try:
            make_store().publish({Component.SUSPENSIONS: full})
        except BaseException as exc:
            errors.append(exc)

    publisher = threading.Thread(target=reload)
    publisher.start()
    deadline = time.monotonic() + 60
    while not client.exists(building):
        assert time.monotonic() < deadline and publisher.is_alive(), "the reload never started writing"
        time.sleep(0.001)
    assert store.add_suspensions([Suspension(ADDED, None, "REQ-1", "police")]) == 1
    assert store.remove_suspensions([REMOVED]) == 0  # not in the old list; in the one being written
    during = publisher.is_alive()
    publisher.join(60)
    assert not errors, errors
    assert during, "the reload finished before the changes: the test proved nothing (make FULL larger)"
    live = {s.number for s in store.part(Component.SUSPENSIONS).records if isinstance(s, Suspension)}
    assert ADDED in live, "the police request made during the reload was lost"
    assert REMOVED not in live, "a lifted suspension came back with the reload"
    assert len(live) == FULL + 1
    assert not client.exists(keys.suspbuild) and not client.exists(keys.suspbuild_log)
