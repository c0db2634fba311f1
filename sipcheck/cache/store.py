"""`RedisStore`: the `FactStore` every process of a deployment shares.

Call path (``lookup``/``alookup``): one EVALSHA of LOOKUP_MANY per check (``lookup``: a
batch of one), or, for ``alookup``, one per event-loop iteration carrying every check
queued in it (at most ``batch_max``; see `_LoopClient`); both decode the reply with
`_reply`/`_answer`. Bounded by the check budget,
retried only while it allows, guarded by a circuit breaker, and never raising:
when Redis does not answer, the facts say so (``available=False``) or, under the
``snapshot`` fail policy, come from the process's last snapshot with
``from_snapshot=True``. `sipcheck.policy.decide` turns either into a verdict.

Admin path (``publish``, ``part``, ``status``, suspension changes): a separate
client with generous timeouts; errors raise `StoreError` with the cause.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Literal

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from sipcheck.audit import ChangeRecord
from sipcheck.cache import audit, codec, loader
from sipcheck.cache.breaker import BreakerState, CacheMetrics, CircuitBreaker
from sipcheck.cache.keys import KeySpace
from sipcheck.cache.scripts import LOOKUP_MANY, SUSPEND
from sipcheck.cache.snapshot import Snapshot, SnapshotState
from sipcheck.facts import Facts, OperatorFacts, Role
from sipcheck.model import (
    Component,
    ComponentStatus,
    Contractor,
    DataStatus,
    Part,
    ResolvedOperator,
    Rule,
    Suspension,
)
from sipcheck.numbers import PhoneNumber
from sipcheck.rules import EMPTY_RULES, RuleSet
from sipcheck.settings import RedisSettings
from sipcheck.store import RuleChange, StoreError, TableSet

log = logging.getLogger(__name__)

FailPolicy = Literal["open", "closed", "snapshot"]
_FULL, _CURRENT, _INCOMPLETE = 0, 1, 2  # LOOKUP_MANY reply modes (see scripts.py)
_ADMIN_TIMEOUT_S = 60.0
_SUSPEND_BATCH = 2_000
_DECODE_CACHE_MAX = 65_536
_GRACE_S = 0.002  # past a batch's deadline, how long its reply may still be read (see _run_batch)


def _record(number: PhoneNumber, ingress: str | None) -> str:
    """One check as a LOOKUP_MANY record (see scripts.py): the peer, the only free text, is sent
    hex-encoded (``%``) when it contains the record or field separator, else as is (``=``)."""
    if ingress is None:
        peer = ""
    elif "\x1e" in ingress or "\x1f" in ingress:
        peer = "%" + ingress.encode().hex()
    else:
        peer = "=" + ingress
    return f"{number.block}\x1f{number.national}\x1f{number.e164}\x1f{peer}"


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a batch call's outcome as seen (a call cancelled or abandoned must not log "never retrieved")."""
    if not task.cancelled():
        task.exception()


class _Waiter:
    """One queued async check: what to look up, where to put the answer, and by when."""

    __slots__ = ("deadline", "future", "ingress", "number", "text")

    def __init__(
        self,
        number: PhoneNumber,
        ingress: str | None,
        text: str,
        future: asyncio.Future[Facts],
        deadline: float,
    ) -> None:
        self.number = number
        self.ingress = ingress
        self.text = text
        self.future = future
        self.deadline = deadline


class _LoopClient:
    """One event loop's client, scripts and queue of checks waiting for the next batch.

    ``alookup`` appends a `_Waiter` and, if none is scheduled, schedules a flush with
    ``call_soon``: it runs in the loop's next iteration, after every task that runs in this one
    had its chance to queue, and sends them all as one LOOKUP_MANY call (split at ``batch_max``).
    While ``batch_inflight`` batches are in flight, checks queue and go when one ends.
    """

    __slots__ = ("client", "inflight", "loop", "many", "pending", "scheduled", "tasks")

    def __init__(self, loop: asyncio.AbstractEventLoop, client: Any, many: Any) -> None:
        self.loop = loop
        self.client = client
        self.many = many
        self.pending: list[_Waiter] = []
        self.scheduled = False
        self.inflight = 0
        self.tasks: set[asyncio.Task[None]] = set()


def _parse_sentinels(items: list[str]) -> list[tuple[str, int]]:
    out = []
    for item in items:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise StoreError(f"redis.sentinels: {item!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    return out


class RedisStore:
    """A `FactStore` on Redis (single server or Sentinel-managed primary); see the module docstring."""

    backend = "redis"

    def __init__(
        self,
        settings: RedisSettings,
        *,
        url: str | None = None,
        fail_policy: FailPolicy = "open",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.url = url or settings.url
        self.keys = KeySpace.of(settings.key_prefix)
        self.fail_policy = fail_policy
        self.clock = clock
        self.metrics = CacheMetrics()
        self.breaker = CircuitBreaker(
            settings.breaker_failures,
            settings.breaker_reset_ms,
            self.metrics,
            clock,
            min_span_ms=settings.breaker_min_span_ms,
        )
        if not self.url and not settings.sentinels:
            raise StoreError("RedisStore needs redis.url or redis.sentinels (or use open_store())")
        budget = settings.check_budget_ms / 1000.0
        self._budget_s = budget
        # The command timeout divides the budget between attempts; with no retries to make room for,
        # the one attempt may use the whole budget (a busy process would otherwise fail checks whose
        # reply is already in the socket buffer).
        self._command_s = min(settings.command_timeout_ms / 1000.0, budget) if settings.retries else budget
        self._connect_s = min(settings.connect_timeout_ms / 1000.0, budget)
        self._client = self._make_client(self._call_kwargs(), blocking=True)
        self._admin = self._make_client(self._admin_kwargs(), blocking=False)
        self._many = self._client.register_script(LOOKUP_MANY)
        self._suspend = self._admin.register_script(SUSPEND)
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._aclients_lock = threading.Lock()
        self._batch_max = max(1, settings.batch_max)
        self._inflight_max = max(1, settings.batch_inflight)
        self._hot: _LoopClient | None = None  # the last loop's client: skips the weak-dict lookup
        self._decoded: dict[str, ResolvedOperator] = {}
        self._coverage_cache: dict[str, dict[str, date]] = {}
        self._last_version = ""
        self._rules: tuple[str, RuleSet] = ("", EMPTY_RULES)  # the last rules version read, compiled
        self.snapshot: Snapshot | None = None
        self._use_snapshot = settings.local_snapshot
        self._local: Snapshot | None = None  # the snapshot when local reads are on
        if settings.local_snapshot or fail_policy == "snapshot":
            local_reads = settings.local_snapshot and settings.local_reads
            self.snapshot = Snapshot(
                self._admin,
                self.keys,
                self.metrics,
                settings.snapshot_suspensions_max,
                local_reads=local_reads,
                sync_timeout_s=settings.sync_timeout_ms / 1000.0,
                clock=clock,
            )
            self._local = self.snapshot if local_reads else None
            self.snapshot.start()

    # -- clients -----------------------------------------------------------------------------------

    def _call_kwargs(self) -> dict[str, Any]:
        # redis-py's own retry is off: the budget loop below decides, so a dead server costs one timeout.
        return {
            "socket_timeout": self._command_s,
            "socket_connect_timeout": self._connect_s,
            "retry": Retry(NoBackoff(), 0),
            "retry_on_timeout": False,
            "health_check_interval": 0,
            "decode_responses": True,
        }

    def _admin_kwargs(self) -> dict[str, Any]:
        return {
            "socket_timeout": _ADMIN_TIMEOUT_S,
            "socket_connect_timeout": max(self.settings.connect_timeout_ms / 1000.0, 1.0),
            "retry": Retry(NoBackoff(), 1),
            "decode_responses": True,
        }

    def _sentinel_kwargs(self) -> dict[str, Any]:
        # Asking Sentinel who the primary is happens on (re)connect only; give it a little more time.
        timeout = max(self._connect_s, 0.2)
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout}

    def _make_client(self, kwargs: dict[str, Any], blocking: bool) -> redis.Redis:
        if self.settings.sentinels:
            sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
                _parse_sentinels(self.settings.sentinels), sentinel_kwargs=self._sentinel_kwargs(), **kwargs
            )
            client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call,unused-ignore]
                self.settings.sentinel_service, max_connections=self.settings.pool_size
            )
            return client
        assert self.url is not None
        pool: redis.ConnectionPool
        if blocking:
            pool = redis.BlockingConnectionPool.from_url(
                self.url, max_connections=self.settings.pool_size, timeout=self._budget_s, **kwargs
            )
        else:
            pool = redis.ConnectionPool.from_url(self.url, max_connections=self.settings.pool_size, **kwargs)
        return redis.Redis(connection_pool=pool)

    def _async_client(self) -> _LoopClient:
        """This event loop's client, scripts and batch queue, created on first use."""
        loop = asyncio.get_running_loop()
        found = self._aclients.get(loop)
        if found is None:
            found = self._build_async_client(loop)
            self._aclients[loop] = found
        return found

    async def awarm(self) -> int:
        """Open this loop's pool connections now (a server's start-up), not in its first burst of checks.

        Lazily, the first burst of concurrent checks on a fresh loop spends its budget on connection
        handshakes and answers with the fail policy although Redis is fine. Returns the connections
        opened; a Redis that is down just leaves the pool to connect lazily.
        """
        pool = self._async_client().client.connection_pool
        count = min(self.settings.pool_size, self.settings.warm_connections)
        connections: list[Any] = []
        try:
            async with asyncio.timeout(max(self.settings.connect_timeout_ms / 1000.0, 1.0)):
                for _ in range(count):
                    connections.append(await pool.get_connection())
        except (TimeoutError, redis.RedisError, OSError):
            pass
        finally:
            for connection in connections:
                await pool.release(connection)
        return len(connections)

    def _build_async_client(self, loop: asyncio.AbstractEventLoop) -> _LoopClient:
        with self._aclients_lock:
            kwargs = self._call_kwargs()
            # In asyncio a timeout also counts the time the loop was busy with other callers; a burst of
            # callers opening the pool at once would time out connects that took microseconds. The check
            # budget (asyncio.timeout below) still bounds every call.
            kwargs["socket_connect_timeout"] = self._budget_s
            kwargs["retry"] = AsyncRetry(NoBackoff(), 0)  # redis-py 8 warns about a sync Retry here
            if self.settings.sentinels:
                sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
                    _parse_sentinels(self.settings.sentinels),
                    sentinel_kwargs=self._sentinel_kwargs(),
                    **kwargs,
                )
                client = sentinel.master_for(self.settings.sentinel_service)
            else:
                assert self.url is not None
                pool = redis.asyncio.BlockingConnectionPool.from_url(
                    self.url, max_connections=self.settings.pool_size, timeout=self._budget_s, **kwargs
                )
                client = redis.asyncio.Redis(connection_pool=pool)
            return _LoopClient(loop, client, client.register_script(LOOKUP_MANY))

    # -- call path ---------------------------------------------------------------------------------

    def _current_snapshot(self) -> SnapshotState | None:
        return self.snapshot.state if (self._use_snapshot and self.snapshot is not None) else None

    def _local_facts(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts | None:
        """The answer from process memory when local reads are on and the snapshot is in step."""
        local = self._local
        if local is None:
            return None
        state = local.local()
        if state is None:
            return None
        if self.breaker.state is not BreakerState.CLOSED:
            # A local answer means Redis answered the keeper within the sync timeout: it is back,
            # and the call path, which may not ask it again for hours, must say so.
            self.breaker.success()
        self.metrics.local_answers += 1
        return state.tables.facts(number, ingress, text)

    @property
    def local_in_sync(self) -> bool:
        """Whether checks are answered from process memory right now (a gauge for operations)."""
        return self._local is not None and self._local.local() is not None

    def lookup(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        metrics = self.metrics
        metrics.lookups += 1
        facts = self._local_facts(number, ingress, text)
        if facts is not None:
            return facts
        breaker = self.breaker
        if not breaker.allow():
            return self._fallback(number, ingress, text)
        state = self._current_snapshot()
        args = self._batch_args([_record(number, ingress)], state)
        deadline = self.clock() + self._budget_s
        attempt = 0
        while True:
            try:
                raw = self._many(keys=[self.keys.live], args=args)
            except redis.TimeoutError:
                metrics.timeouts += 1
            except (redis.RedisError, OSError):
                metrics.errors += 1
            else:
                breaker.success()
                version, mode = self._reply(raw, 1, state)
                return self._answer(raw, 0, version, mode, state, number, ingress, text)
            breaker.failure()
            attempt += 1
            if (
                attempt > self.settings.retries
                or self.clock() + self._command_s > deadline
                or breaker.state is not BreakerState.CLOSED
            ):
                return self._fallback(number, ingress, text)

    async def alookup(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        """Queue the check for this loop's next batch and wait for its answer (see `_LoopClient`).

        Each waiter is answered by its own deadline (the reply, or the fail policy; see `_run_batch`);
        a waiter that is cancelled just leaves its slot unanswered.
        """
        self.metrics.lookups += 1
        facts = self._local_facts(number, ingress, text)
        if facts is not None:
            return facts
        if not self.breaker.allow():
            return self._fallback(number, ingress, text)
        loop = asyncio.get_running_loop()
        lc = self._hot
        if lc is None or lc.loop is not loop:
            lc = self._hot = self._async_client()
        future: asyncio.Future[Facts] = loop.create_future()
        pending = lc.pending
        pending.append(_Waiter(number, ingress, text, future, loop.time() + self._budget_s))
        if len(pending) >= self._batch_max:
            self._send(lc)
        elif not lc.scheduled and lc.inflight < self._inflight_max:
            lc.scheduled = True
            loop.call_soon(self._flush, lc)
        return await future

    def _flush(self, lc: _LoopClient) -> None:
        """The call_soon callback: send what this iteration queued, unless enough batches are in flight."""
        lc.scheduled = False
        if lc.pending and lc.inflight < self._inflight_max:
            self._send(lc)

    def _send(self, lc: _LoopClient) -> None:
        batch = lc.pending
        lc.pending = []
        lc.inflight += 1
        task = lc.loop.create_task(self._run_batch(lc, batch))
        lc.tasks.add(task)
        task.add_done_callback(lambda t: self._batch_done(lc, t))

    def _batch_done(self, lc: _LoopClient, task: asyncio.Task[None]) -> None:
        """A batch ended: what queued behind it goes now, together with what its woken callers queued."""
        lc.tasks.discard(task)
        lc.inflight -= 1
        if lc.pending and lc.inflight < self._inflight_max:
            self._send(lc)

    def _batch_args(self, records: list[str], state: SnapshotState | None) -> list[str]:
        """LOOKUP_MANY's arguments for these `_record`s."""
        return [self.keys.prefix, state.static if state is not None else "", "\x1e".join(records)]

    async def _run_batch(self, lc: _LoopClient, batch: list[_Waiter]) -> None:
        """Send one batch; answer each waiter from the reply, or with the fail policy at its own deadline.

        Waiters are queued in order, so their deadlines are too: one timer (``asyncio.wait``) runs to
        the earliest deadline still waiting; those past it get the fail-policy answer and the call
        goes on for the rest. When every waiter is answered or gone the call is cancelled.
        """
        metrics = self.metrics
        breaker = self.breaker
        loop = lc.loop
        metrics.batches += 1
        state = self._current_snapshot()
        waiting = batch
        attempt = 0
        call: asyncio.Task[Any] | None = None
        try:
            while True:
                sent = waiting  # the reply answers these, in this order
                args = self._batch_args([_record(w.number, w.ingress) for w in sent], state)
                call = loop.create_task(lc.many(keys=[self.keys.live], args=args))
                call.add_done_callback(_retrieve)
                grace = True
                while not call.done():
                    now = loop.time()
                    if grace and now >= waiting[0].deadline:
                        # After a stall of this process (a full GC, CPU starvation) the reply may already
                        # be in the socket buffer: let the loop read it before giving up (a few iterations;
                        # at most _GRACE_S when Redis really did not answer).
                        grace = False
                        await asyncio.wait((call,), timeout=_GRACE_S)
                        continue
                    expired = 0
                    for w in waiting:
                        if w.deadline > now:
                            break
                        expired += 1
                        if not w.future.done():
                            metrics.timeouts += 1
                            w.future.set_result(self._fallback(w.number, w.ingress, w.text))
                    waiting = [w for w in waiting[expired:] if not w.future.done()]
                    if not waiting:
                        break
                    await asyncio.wait((call,), timeout=waiting[0].deadline - now)
                if not call.done():  # nobody is waiting any more: Redis did not answer in anyone's budget
                    call.cancel()
                    breaker.failure()
                    return
                try:
                    raw = call.result()
                except redis.TimeoutError:
                    metrics.timeouts += sum(1 for w in waiting if not w.future.done())
                except (redis.RedisError, OSError):
                    metrics.errors += sum(1 for w in waiting if not w.future.done())
                else:
                    breaker.success()
                    self._resolve(sent, raw, state)  # skips the waiters already answered or gone
                    return
                breaker.failure()
                attempt += 1
                waiting = [w for w in waiting if not w.future.done()]
                if (
                    not waiting
                    or attempt > self.settings.retries
                    or loop.time() + self._command_s > waiting[0].deadline
                    or breaker.state is not BreakerState.CLOSED
                ):
                    return
        finally:
            # Whatever happened (failure, a malformed reply, this task cancelled at shutdown): every
            # waiter still waiting gets the fail-policy answer, none is left hanging.
            if call is not None and not call.done():
                call.cancel()
            for w in batch:
                if not w.future.done():
                    w.future.set_result(self._fallback(w.number, w.ingress, w.text))

    def _resolve(self, batch: list[_Waiter], raw: list[Any], state: SnapshotState | None) -> None:
        version, mode = self._reply(raw, len(batch), state)
        for i, w in enumerate(batch):
            future = w.future
            if future.done():
                continue
            try:
                facts = self._answer(raw, i, version, mode, state, w.number, w.ingress, w.text)
            except Exception as exc:  # the waiter's own error, raised as the unbatched call does
                future.set_exception(exc)
            else:
                future.set_result(facts)

    def _reply(self, raw: list[Any], count: int, state: SnapshotState | None) -> tuple[str | None, int]:
        """A LOOKUP_MANY reply for ``count`` checks: (data version or None if nothing was ever
        published, the reply's mode: 0 full answers, 1 the caller's snapshot is current, 2 the data
        set is incomplete). Raises on a reply of the wrong size."""
        version = raw[0]
        if version is None:
            return None, _INCOMPLETE
        self._last_version = version
        mode = int(raw[2])
        expected = {_FULL: 5 + 8 * count, _CURRENT: 4 + count, _INCOMPLETE: 4}.get(mode)
        if len(raw) != expected:
            raise ValueError(f"LOOKUP_MANY answered {len(raw)} values in mode {mode} for {count} checks")
        if mode == _FULL and state is not None and self.snapshot is not None:
            self.snapshot.request_refresh()  # Redis has a newer static version than our snapshot
        return version, mode

    def _answer(
        self,
        raw: list[Any],
        i: int,
        version: str | None,
        mode: int,
        state: SnapshotState | None,
        number: PhoneNumber,
        ingress: str | None,
        text: str,
    ) -> Facts:
        """The facts of the ``i``-th check of a LOOKUP_MANY reply (see `_reply`).

        Nothing published, or a data set without a required component: no facts to speak of, and
        the fail policy answers (an empty store must never call a caller spoofed).
        """
        if version is None or mode == _INCOMPLETE:
            return Facts.unavailable(text, number, ingress, version or "")
        rules_version = raw[3] or ""
        if mode == _CURRENT:
            assert state is not None
            tables = state.tables
            facts = tables.facts(number, ingress, text)
            susp = raw[4 + i]
            suspension = codec.decode_suspension(number.e164, susp) if susp is not None else None
            if facts.suspension != suspension or facts.data_version != version:
                facts = replace(facts, suspension=suspension, data_version=version)
            if tables.versions.get(Component.RULES, "") != rules_version:
                facts = self._with_live_rules(facts, rules_version)
            return facts
        j = 5 + 8 * i
        facts = self._full_facts(version, raw[4], raw[j : j + 8], number, ingress, text)
        return self._with_live_rules(facts, rules_version) if rules_version else facts

    def _with_live_rules(self, facts: Facts, rules_version: str) -> Facts:
        """``facts`` with the rules of the live rules version: a change is in force at the next check
        in every process, as a suspension is. Rules that cannot be read leave nothing true to say:
        the facts are unavailable (the fail policy answers) rather than silently rule-free."""
        try:
            rules = self._rule_set(rules_version)
        except (redis.RedisError, OSError, ValueError) as exc:
            log.warning("could not read rules version %s: %s", rules_version, exc)
            number = facts.number
            assert number is not None
            return Facts.unavailable(facts.input, number, facts.ingress_peer, facts.data_version)
        designated, serving, number = facts.designated, facts.serving, facts.number
        assert number is not None
        matched = rules.match(
            number.block,
            number.national,
            designated.id if designated is not None else "",
            serving.id if serving is not None else "",
        )
        return replace(facts, rules=matched) if matched != facts.rules else facts

    def _rule_set(self, rules_version: str) -> RuleSet:
        """The compiled rules of one version: from the snapshot when it holds that version, else read
        once (a rules hash is small) and kept until the next change."""
        cached_version, cached = self._rules
        if cached_version == rules_version:
            return cached
        if not rules_version:
            found = EMPTY_RULES
        else:
            state = self.snapshot.state if self.snapshot is not None else None
            if state is not None and state.tables.versions.get(Component.RULES, "") == rules_version:
                found = state.tables.rules
            else:
                fields = loader.read_fields(self._admin, self.keys.component(Component.RULES, rules_version))
                records = codec.decode_records(Component.RULES, fields)
                found = RuleSet.of(records)
        self._rules = (rules_version, found)
        return found

    def _fallback(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        if self.fail_policy == "snapshot" and self.snapshot is not None:
            state = self.snapshot.state
            if state is not None:
                self.metrics.snapshot_answers += 1
                return replace(state.tables.facts(number, ingress, text), from_snapshot=True)
        self.metrics.unavailable_answers += 1
        return Facts.unavailable(text, number, ingress, self._last_version)

    def _operator(self, role: Role, ref: str, raw: str | None) -> OperatorFacts:
        if raw is None:
            return OperatorFacts(role, "", ref, None)
        op = self._decoded.get(raw)
        if op is None:
            if len(self._decoded) >= _DECODE_CACHE_MAX:
                self._decoded.clear()
            op = codec.decode_resolved(raw)
            self._decoded[raw] = op
        return OperatorFacts.of(role, op)

    def _coverage(self, field: str) -> dict[str, date]:
        """The manifest's coverage field, decoded once per distinct value."""
        found = self._coverage_cache.get(field)
        if found is None:
            if len(self._coverage_cache) > 16:
                self._coverage_cache.clear()
            found = self._coverage_cache[field] = codec.decode_coverage_field(field)
        return found

    def _full_facts(
        self, version: str, coverage: str, raw: list[Any], number: PhoneNumber, ingress: str | None, text: str
    ) -> Facts:
        """Facts from a full answer: suspension, block, dref, djson, sref, sjson, iref, ijson."""
        susp, block_raw, dref, djson, sref, sjson, iref, ijson = raw
        suspension = codec.decode_suspension(number.e164, susp) if susp is not None else None
        block = codec.decode_block(number.block, block_raw) if block_raw is not None else None
        return Facts(
            input=text,
            number=number,
            block=block,
            designated=self._operator(Role.DESIGNATED, dref, djson) if block is not None and dref else None,
            serving=self._operator(Role.SERVING, sref, sjson) if sref is not None else None,
            ingress_peer=ingress,
            ingress=self._operator(Role.INGRESS, iref, ijson) if iref is not None else None,
            suspension=suspension,
            data_version=version,
            designations_as_of=self._coverage(coverage).get(number.range),
        )

    # -- admin path --------------------------------------------------------------------------------

    def publish(self, parts: Mapping[Component, Part]) -> str:
        try:
            version = loader.publish(
                self._admin,
                self.keys,
                parts,
                self.settings.gc_grace_ms,
                lock_wait_s=self.settings.lock_wait_ms / 1000,
            )
        except redis.RedisError as exc:
            names = ", ".join(c.value for c in parts)
            raise StoreError(f"publishing {names} to Redis failed: {exc}") from exc
        self._last_version = version
        if self.snapshot is not None:
            self.snapshot.expect(version=version)
        return version

    def _suspend_call(self, op: str, args: list[str]) -> int:
        argv = [self.keys.prefix, self.keys.events, op, *args]
        count, seq = (int(x) for x in self._suspend(keys=[self.keys.live], args=argv))
        if count < 0:
            # No live version, or one without a suspensions component yet: create an empty one first.
            self.publish({Component.SUSPENSIONS: Part(Component.SUSPENSIONS, ())})
            count, seq = (int(x) for x in self._suspend(keys=[self.keys.live], args=argv))
        if self.snapshot is not None:
            self.snapshot.expect(seq=seq)
        return count

    def add_suspensions(self, items: Iterable[Suspension]) -> int:
        total = 0
        batch: list[str] = []
        try:
            for s in items:
                batch += [s.number, codec.encode_suspension(s)]
                if len(batch) >= 2 * _SUSPEND_BATCH:
                    total += self._suspend_call("add", batch)
                    batch = []
            if batch:
                total += self._suspend_call("add", batch)
        except redis.RedisError as exc:
            raise StoreError(f"adding suspensions failed after {total}: {exc}") from exc
        return total

    def remove_suspensions(self, numbers: Iterable[str]) -> int:
        total = 0
        batch: list[str] = []
        try:
            for n in numbers:
                batch.append(n)
                if len(batch) >= _SUSPEND_BATCH:
                    total += self._suspend_call("remove", batch)
                    batch = []
            if batch:
                total += self._suspend_call("remove", batch)
        except redis.RedisError as exc:
            raise StoreError(f"removing suspensions failed after {total}: {exc}") from exc
        return total

    def change_rules(self, add: Iterable[Rule | Contractor], remove: Iterable[str]) -> RuleChange:
        additions, removals = list(add), list(remove)
        outcome: list[tuple[list[str], list[str], int]] = []

        def change(live: Part) -> Part:
            current = RuleSet.of(live.records)
            rules, added, removed = current.changed(additions, removals)  # RuleError: nothing written
            outcome.append((added, removed, rules.count))
            return replace(live, records=rules.records(), loaded_at=None)

        try:
            version, _part = loader.change_rules(
                self._admin,
                self.keys,
                change,
                self.settings.gc_grace_ms,
                lock_wait_s=self.settings.lock_wait_ms / 1000,
            )
        except redis.RedisError as exc:
            raise StoreError(f"changing rules in Redis failed: {exc}") from exc
        self._last_version = version
        if self.snapshot is not None:
            self.snapshot.expect(version=version)
        added, removed, total = outcome[-1]
        return RuleChange(version, tuple(added), tuple(removed), total)

    def append_audit(self, record: ChangeRecord) -> str:
        try:
            return audit.append(self._admin, self.keys, record, self.settings.audit_retention_days)
        except redis.RedisError as exc:
            raise StoreError(f"writing the audit trail to Redis failed: {exc}") from exc

    def read_audit(self, since: datetime | None, limit: int) -> list[ChangeRecord]:
        try:
            return audit.read(self._admin, self.keys, since, limit)
        except redis.RedisError as exc:
            raise StoreError(f"reading the audit trail from Redis failed: {exc}") from exc

    def part(self, component: Component) -> Part:
        try:
            _version, manifest = loader.live_manifest(self._admin, self.keys)
            return loader.read_part(self._admin, self.keys, manifest, component)
        except redis.RedisError as exc:
            raise StoreError(f"reading {component.value} from Redis failed: {exc}") from exc

    def status(self) -> DataStatus:
        try:
            version, manifest = loader.live_manifest(self._admin, self.keys)
            components = []
            for component in Component:
                meta_raw = manifest.get(component.value + ".meta")
                meta = codec.decode_meta(component, meta_raw)
                cv = manifest.get(component.value, "")
                count = codec.meta_count(meta_raw)
                if component is Component.SUSPENSIONS and cv:
                    count = int(self._admin.hlen(self.keys.component(component, cv)))
                components.append(
                    ComponentStatus(component, cv, count, meta.as_of, meta.loaded_at, meta.sources)
                )
            coverage = codec.meta_coverage_rows(manifest.get(Component.BLOCKS.value + ".meta"))
        except redis.RedisError as exc:
            raise StoreError(f"reading the data status from Redis failed: {exc}") from exc
        return DataStatus(version, tuple(components), self.backend, coverage)

    def table_reader(self) -> Callable[[], TableSet | None]:
        """A reader of the whole live data set, suspensions included, as one `TableSet`.

        For consumers that publish the data elsewhere (the Kamailio view): each call brings its own
        copy up to the live version and returns the same object while nothing changed, so a caller
        can tell a change by identity. It raises `redis.RedisError` when Redis cannot be read.
        """
        reader = Snapshot(self._admin, self.keys, self.metrics, suspensions_max=sys.maxsize, clock=self.clock)

        def read() -> TableSet | None:
            state = reader.refresh()
            return state.tables if state is not None and state.complete else None

        return read

    def memory_bytes(self) -> int:
        """``used_memory`` of the server (benchmarks, status)."""
        info = self._admin.info("memory")
        return int(info["used_memory"])

    def close(self) -> None:
        if self.snapshot is not None:
            self.snapshot.stop()
        for client in (self._client, self._admin):
            client.close()
            client.connection_pool.disconnect()
        # Async clients belong to their loops; drop them (a closed loop cannot run aclose()).
        self._aclients.clear()
        self._hot = None

    async def aclose(self) -> None:
        """Close this loop's async client (call before the loop ends to release its sockets)."""
        loop = asyncio.get_running_loop()
        found = self._aclients.pop(loop, None)
        if self._hot is found:
            self._hot = None
        if found is not None:
            while found.tasks:  # answer what is queued or in flight before the client goes
                await asyncio.gather(*list(found.tasks), return_exceptions=True)
            await found.client.aclose()
