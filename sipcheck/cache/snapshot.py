"""The process-local snapshot: the data set in memory, kept in step with Redis by pub/sub.

Blocks, operators, certifications, wholesale and trunks are small and change
with a load, not with each call; keeping them as a `TableSet` lets a check ask
Redis only for the suspension flag. Suspensions are copied too when there are
at most ``suspensions_max`` of them: for the ``snapshot`` fail policy, and for
*local reads*, where a check asks Redis nothing at all.

A keeper thread subscribes to the deployment's events channel. ``publish N``
reloads everything. ``suspensions N SEQ OP`` carries an incremental change
(the numbers, and for ``add`` their values), numbered by ``{p}:suspseq``; the
keeper applies it to the local copy in order. Why numbering: a lost message
(a reconnect) shows as a gap, and the keeper then reloads instead of serving a
copy that silently missed a suspension. A reload reads the counter *before*
the data, while already subscribed, so every change after that point arrives
as a delta; replaying a change the reload already saw is harmless (each delta
sets its numbers' final state, and deltas apply in order).

Local reads are allowed only while the copy is provably in step (`local`):
subscribed, reloaded, every delta applied, nothing pending, and Redis answered
a ping within ``sync_timeout``. The ping is a message the keeper publishes to
a channel of its own on the same subscription: Redis delivers to a subscriber
in the order it executed the publishes, so its arrival proves that the whole
path works and that every change made before it has arrived. (Not ``PING``:
redis-py mis-parses its reply on a subscribed RESP3 connection.)
Otherwise checks ask Redis (one round trip), and so meet its fail policy when
it is gone. A process's own writes are waited for: after it publishes version
N or makes change SEQ, it reads locally again only once its copy holds them.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from sipcheck.cache import codec, loader
from sipcheck.cache.breaker import CacheMetrics
from sipcheck.cache.keys import KeySpace
from sipcheck.model import Component, Part
from sipcheck.store import TableSet


@dataclass(frozen=True, slots=True)
class SnapshotState:
    tables: TableSet
    static: str  # the version of refs/ops (changes with any non-suspension component)
    version: str  # the live data version when it was read
    complete: bool = False  # suspensions copied too: the state can answer a check on its own

    @property
    def number(self) -> int:
        return int(self.version) if self.version.isdigit() else 0


class Snapshot:
    """Holds the latest `SnapshotState` and keeps it in step with Redis from a background thread."""

    def __init__(
        self,
        client: redis.Redis,
        keys: KeySpace,
        metrics: CacheMetrics,
        suspensions_max: int,
        *,
        local_reads: bool = False,
        sync_timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.keys = keys
        self.metrics = metrics
        self.suspensions_max = suspensions_max
        self.local_reads = local_reads
        self.sync_timeout_s = sync_timeout_s
        self.clock = clock
        self.state: SnapshotState | None = None
        self.applied_seq = 0  # the last incremental suspension change the copy holds
        self._synced = False  # keeper: subscribed, reloaded, deltas contiguous, no reload pending
        self._heard_at = float("-inf")  # when Redis last answered a ping on the subscription
        self._expect_seq = 0  # this process's own writes, which local reads must reflect
        self._expect_version = 0
        self._expect_lock = threading.Lock()
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._ping_channel = f"{keys.events}:sync:{uuid.uuid4().hex}"  # this process's own
        self._reconnected = False

    # -- the call path ---------------------------------------------------------------------------

    def local(self) -> SnapshotState | None:
        """The state to answer a check from without asking Redis, or None (ask Redis)."""
        state = self.state
        if (
            self._synced
            and state is not None
            and self.applied_seq >= self._expect_seq
            and state.number >= self._expect_version
            and self.clock() - self._heard_at < self.sync_timeout_s
        ):
            return state
        return None

    def request_refresh(self) -> None:
        """Redis has data this copy lacks (seen by a check): stop local reads and reload."""
        self._synced = False
        self._wanted.set()

    def expect(self, *, seq: int = 0, version: str = "") -> None:
        """This process wrote change ``seq`` / published ``version``: read locally again once held."""
        with self._expect_lock:
            self._expect_seq = max(self._expect_seq, seq)
            if version.isdigit():
                self._expect_version = max(self._expect_version, int(version))

    # -- loading ---------------------------------------------------------------------------------

    def refresh(self) -> SnapshotState | None:
        """Bring the copy up to the live version: keep it if nothing changed, reload only suspensions if
        only they changed, else read everything into a new `TableSet`; swap it in (one assignment).

        Why the shortcuts: every process reloads at once after a publish or a Redis restart, and a
        full reload of a large data set holds the interpreter for a second or more.
        """
        seq = int(self.client.get(self.keys.suspseq) or 0)  # first: later changes arrive as deltas
        version, manifest = loader.live_manifest(self.client, self.keys)
        if seq < self.applied_seq:  # the counter went back: Redis lost data; old expectations are void
            with self._expect_lock:
                self._expect_seq = 0
        if not version:
            self.applied_seq = seq
            return None
        old = self.state
        static = manifest.get("static", "")
        if old is not None and old.version == version and old.static == static and seq == self.applied_seq:
            return old  # no publish and no change since this copy was made (a reconnect, a restart)
        versions = {c: manifest.get(c.value, "") for c in Component}
        rules_version = versions[Component.RULES]
        if (
            old is not None
            and old.static == static
            and old.complete
            and seq == self.applied_seq
            and old.tables.versions.get(Component.SUSPENSIONS, "") == versions[Component.SUSPENSIONS]
        ):
            # Only the rules moved (a rule change is a publish of them alone): every other table of the
            # copy is current, suspension deltas included; re-read the rules, not the suspensions.
            rules = (
                loader.read_part(self.client, self.keys, manifest, Component.RULES)
                if old.tables.versions.get(Component.RULES, "") != rules_version
                else old.tables.parts.get(Component.RULES) or Part(Component.RULES, ())
            )
            state = SnapshotState(
                old.tables.with_rules(rules, versions, version), static, version, old.complete
            )
            self._set(state)
            return state
        suspensions = self._read_suspensions(manifest)
        complete = suspensions is not None or not manifest.get(Component.SUSPENSIONS.value)
        if old is not None and old.static == static and old.complete and suspensions is not None:
            tables = old.tables.with_suspensions(suspensions, versions, version)
            if old.tables.versions.get(Component.RULES, "") != rules_version:
                rules = loader.read_part(self.client, self.keys, manifest, Component.RULES)
                tables = tables.with_rules(rules, versions, version)
        else:
            parts: dict[Component, Part] = {
                c: loader.read_part(self.client, self.keys, manifest, c)
                for c in (*loader.STATIC_COMPONENTS, Component.RULES)
            }
            if suspensions is not None:
                parts[Component.SUSPENSIONS] = suspensions
            tables = TableSet(parts, versions, version)
        state = SnapshotState(tables, static, version, complete)
        self.applied_seq = seq
        self._set(state)
        return state

    def _read_suspensions(self, manifest: loader.Manifest) -> Part | None:
        """The live suspensions, or None when there are none or more than ``suspensions_max``."""
        susp_version = manifest.get(Component.SUSPENSIONS.value)
        if not susp_version:
            return None
        key = self.keys.component(Component.SUSPENSIONS, susp_version)
        if self.client.hlen(key) > self.suspensions_max:
            return None
        return loader.read_part(self.client, self.keys, manifest, Component.SUSPENSIONS)

    def apply(self, message: str) -> bool:
        """Apply one ``suspensions N SEQ OP`` delta; False when it cannot be (a gap, another version)."""
        head, _, body = message.partition("\n")
        words = head.split(" ")
        if len(words) != 4 or not words[2].isdigit():
            return False
        _, version, seq_text, op = words
        seq = int(seq_text)
        if seq <= self.applied_seq:
            return True  # the last reload already read it
        state = self.state
        if seq != self.applied_seq + 1 or state is None or version != state.version:
            return False
        if state.complete:
            fields = body.split("\x1f") if body else []
            suspensions = state.tables.suspensions  # dict updates are atomic for readers
            if op == "add":
                for i in range(0, len(fields) - 1, 2):
                    number = fields[i]
                    suspensions[number] = codec.decode_suspension(number, fields[i + 1])
            else:
                for number in fields:
                    suspensions.pop(number, None)
        self.applied_seq = seq
        with self._changed:
            self._changed.notify_all()
        return True

    def _set(self, state: SnapshotState) -> None:
        with self._changed:
            self.state = state
            self.metrics.snapshot_refreshes += 1
            self._changed.notify_all()
        # The tables are hundreds of thousands of long-lived objects. Left to the collector, every
        # full collection walks them all, holding the GIL: the next reload's allocations set one off
        # and the event loop answering checks stalled 150-220 ms, past the check budget, so checks
        # met the fail policy during reloads. Frozen, a full collection walks only what is new
        # (~20 ms); tables that are replaced are still freed by reference counting (no cycles).
        gc.freeze()

    # -- waiting (tests, benchmarks) ----------------------------------------------------------------

    def wait_for(self, static: str, timeout: float) -> bool:
        """Block until the snapshot holds static version ``static``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.state is not None and self.state.static == static, timeout
            )

    def wait_refresh(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` refreshes have happened in total."""
        with self._changed:
            return self._changed.wait_for(lambda: self.metrics.snapshot_refreshes >= count, timeout)

    def wait_seq(self, seq: int, timeout: float) -> bool:
        """Block until the copy holds incremental change ``seq``."""
        with self._changed:
            return self._changed.wait_for(lambda: self.applied_seq >= seq, timeout)

    def wait_local(self, timeout: float) -> bool:
        """Poll until local reads are possible (they also depend on the clock, so no condition)."""
        deadline = time.monotonic() + timeout
        while self.local() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    # -- the keeper thread ---------------------------------------------------------------------------

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
        """Subscribe, reload, follow the events; on a connection error back off (bounded), start over."""
        backoff = 0.05
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
            try:
                pubsub.subscribe(self.keys.events, self._ping_channel)
                self._reconnected = False
                # redis-py reconnects a broken subscription by itself and resubscribes: messages sent
                # in between are lost without a word. Hear of it, and start over with a reload.
                connection = pubsub.connection
                if connection is not None:  # set by subscribe; redis-py 8 types it Optional
                    connection.register_connect_callback(self._on_reconnect)
                self._resync()  # anything published while we were not listening
                backoff = 0.05
                self._follow(pubsub)
            except (redis.RedisError, OSError):
                self._synced = False
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                self._synced = False
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()

    def _on_reconnect(self, _connection: Any) -> None:
        self._synced = False
        self._reconnected = True

    def _resync(self) -> None:
        self._synced = False
        self._wanted.clear()
        state = self.refresh()
        self._synced = self.local_reads and state is not None and state.complete

    def _follow(self, pubsub: Any) -> None:
        """Apply events as they come; ping every quarter of the sync timeout; give up on a silent server."""
        interval = self.sync_timeout_s / 4
        next_ping = self.clock()
        pinged_since_heard = 0
        while not self._stop.is_set():
            now = self.clock()
            if now >= next_ping:
                if pinged_since_heard >= 8:  # two sync timeouts without an answer: reconnect
                    raise redis.ConnectionError("no answer to pings on the events subscription")
                self.client.publish(self._ping_channel, "ping")
                pinged_since_heard += 1
                next_ping = now + interval
            message = pubsub.get_message(timeout=min(0.2, max(0.0, next_ping - self.clock())))
            if self._reconnected:
                raise redis.ConnectionError("the events subscription was reconnected: messages may be lost")
            reload = self._wanted.is_set()
            while message is not None:
                if message.get("channel") == self._ping_channel:
                    self._heard_at = self.clock()
                    pinged_since_heard = 0
                else:
                    reload = self._on_event(str(message.get("data", "")), reload)
                message = pubsub.get_message(timeout=0)  # drain: many events, at most one reload
            if reload:
                self._resync()

    def _on_event(self, data: str, reload: bool) -> bool:
        """Handle one event; return whether a reload is (still) due."""
        if data.startswith("publish"):
            self._synced = False
            return True
        if data.startswith("suspensions") and not reload and not self.apply(data):
            self._synced = False
            return True
        return reload
