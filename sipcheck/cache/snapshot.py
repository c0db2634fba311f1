"""The process-local snapshot: blocks, operators, certifications, wholesale and trunks in memory.

These tables are small and change with a load, not with each call; keeping
them as a `TableSet` lets a check ask Redis only for the suspension flag (and
the live version), which is a smaller script run. The snapshot is also what
the ``snapshot`` fail policy answers from when Redis is down, so suspensions
are kept too when there are at most ``suspensions_max`` of them.

A keeper thread subscribes to the deployment's events channel: a ``publish``
message reloads the tables, a ``suspensions`` message reloads the local
suspension copy. The call path also asks for a reload when Redis reports a
version the snapshot does not have, so a lost message costs one slower check,
never a wrong answer.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import redis

from sipcheck.cache import codec, loader
from sipcheck.cache.breaker import CacheMetrics
from sipcheck.cache.keys import KeySpace
from sipcheck.model import Component, Part, Suspension
from sipcheck.store import TableSet


@dataclass(frozen=True, slots=True)
class SnapshotState:
    tables: TableSet
    static: str  # the version of refs/ops (changes with any non-suspension component)
    version: str  # the live data version when it was read


class Snapshot:
    """Holds the latest `SnapshotState` and keeps it fresh from a background thread."""

    def __init__(
        self, client: redis.Redis, keys: KeySpace, metrics: CacheMetrics, suspensions_max: int
    ) -> None:
        self.client = client
        self.keys = keys
        self.metrics = metrics
        self.suspensions_max = suspensions_max
        self.state: SnapshotState | None = None
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def refresh(self) -> SnapshotState | None:
        """Read the live version into a new `TableSet` and swap it in (one reference assignment)."""
        version, manifest = loader.live_manifest(self.client, self.keys)
        if not version:
            return None
        parts: dict[Component, Part] = {
            c: loader.read_part(self.client, self.keys, manifest, c) for c in loader.STATIC_COMPONENTS
        }
        susp_version = manifest.get(Component.SUSPENSIONS.value)
        if susp_version:
            key = self.keys.component(Component.SUSPENSIONS, susp_version)
            if self.client.hlen(key) <= self.suspensions_max:
                parts[Component.SUSPENSIONS] = loader.read_part(
                    self.client, self.keys, manifest, Component.SUSPENSIONS
                )
        versions = {c: manifest.get(c.value, "") for c in Component}
        state = SnapshotState(TableSet(parts, versions, version), manifest.get("static", ""), version)
        self._set(state)
        return state

    def refresh_suspensions(self) -> None:
        state = self.state
        if state is None:
            return
        _version, manifest = loader.live_manifest(self.client, self.keys)
        susp_version = manifest.get(Component.SUSPENSIONS.value)
        if manifest.get("static") != state.static or not susp_version:
            self.refresh()
            return
        key = self.keys.component(Component.SUSPENSIONS, susp_version)
        fresh: dict[str, Suspension] = {}
        if self.client.hlen(key) <= self.suspensions_max:
            for number, value in loader.read_fields(self.client, key).items():
                fresh[number] = codec.decode_suspension(number, value)
        state.tables.suspensions = fresh  # one reference swap; readers see the old or the new dict
        self._set(state)

    def _set(self, state: SnapshotState) -> None:
        with self._changed:
            self.state = state
            self.metrics.snapshot_refreshes += 1
            self._changed.notify_all()

    def wait_for(self, static: str, timeout: float) -> bool:
        """Block until the snapshot holds static version ``static`` (tests, benchmarks)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.state is not None and self.state.static == static, timeout
            )

    def wait_refresh(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` refreshes have happened in total."""
        with self._changed:
            return self._changed.wait_for(lambda: self.metrics.snapshot_refreshes >= count, timeout)

    def request_refresh(self) -> None:
        self._wanted.set()

    def start(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self.refresh()
        self._thread = threading.Thread(target=self._run, name="sipcheck-snapshot", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        """Listen for events; on a connection error back off (bounded) and reload once reconnected."""
        backoff = 0.05
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.keys.events)
                self._safe_refresh(full=True)  # anything published while we were not listening
                backoff = 0.05
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    full = self._wanted.is_set()
                    suspensions = False
                    while message is not None:
                        data = str(message.get("data", ""))
                        if data.startswith("publish"):
                            full = True
                        elif data.startswith("suspensions"):
                            suspensions = True
                        message = pubsub.get_message(timeout=0)  # drain: many events, one reload
                    if full:
                        self._wanted.clear()
                        self._safe_refresh(full=True)
                    elif suspensions:
                        self._safe_refresh(full=False)
            except (redis.RedisError, OSError):
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()

    def _safe_refresh(self, full: bool) -> None:
        if full or self.state is None:
            self.refresh()
        else:
            self.refresh_suspensions()
