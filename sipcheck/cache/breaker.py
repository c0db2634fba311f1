"""Resilience pieces for the call path: counters and a circuit breaker.

The breaker stops a process from asking a Redis that is not answering (each
attempt would cost a timeout on every call) and lets one probe through after
``reset_ms`` to find out whether it is back. The clock is passed in, so its
state transitions are tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import IntEnum


class BreakerState(IntEnum):
    """Exported as a gauge: 0 closed (asking Redis), 1 open (not asking), 2 half-open (probing)."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


@dataclass(slots=True)
class CacheMetrics:
    """Plain counters for the metrics exporter; read them, never reset them in place."""

    lookups: int = 0
    errors: int = 0
    timeouts: int = 0
    breaker_state: int = 0
    breaker_opens: int = 0
    snapshot_answers: int = 0
    unavailable_answers: int = 0
    snapshot_refreshes: int = 0
    batches: int = 0  # coalesced script calls of the async path (lookups / batches = mean batch size)
    local_answers: int = 0  # lookups answered from the in-step local snapshot, no round trip

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class CircuitBreaker:
    """Consecutive-failure breaker: ``failures`` in a row open it; after ``reset_ms`` one probe may pass.

    The streak must also last ``min_span_ms``: when a busy process stalls, every call in flight
    times out in the same instant, which says nothing about Redis; a dead Redis keeps failing
    for as long as it is asked.
    """

    def __init__(
        self,
        failures: int,
        reset_ms: float,
        metrics: CacheMetrics,
        clock: Callable[[], float] = time.monotonic,
        min_span_ms: float = 0.0,
    ) -> None:
        self.failures = max(1, failures)
        self.reset_s = reset_ms / 1000.0
        self.min_span_s = min_span_ms / 1000.0
        self._streak_start = 0.0
        self.metrics = metrics
        self.clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        return self._state

    def _set(self, state: BreakerState) -> None:
        self._state = state
        self.metrics.breaker_state = int(state)

    def allow(self) -> bool:
        """May this call ask Redis? In half-open state only one caller at a time (the probe) may."""
        if self._state is BreakerState.CLOSED:
            return True
        with self._lock:
            if self._state is BreakerState.OPEN:
                if self.clock() - self._opened_at < self.reset_s:
                    return False
                self._set(BreakerState.HALF_OPEN)
                self._probing = False
            if self._state is BreakerState.HALF_OPEN:
                if self._probing:
                    return False
                self._probing = True
                return True
            return True

    def success(self) -> None:
        if self._state is BreakerState.CLOSED and self._consecutive == 0:
            return
        with self._lock:
            self._consecutive = 0
            self._probing = False
            self._set(BreakerState.CLOSED)

    def failure(self) -> None:
        with self._lock:
            now = self.clock()
            if self._consecutive == 0:
                self._streak_start = now
            self._consecutive += 1
            self._probing = False
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED
                and self._consecutive >= self.failures
                and now - self._streak_start >= self.min_span_s
            ):
                self._opened_at = now
                self._set(BreakerState.OPEN)
                self.metrics.breaker_opens += 1
