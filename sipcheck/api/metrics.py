"""Prometheus metrics for the API, correct with one process or many.

With several worker processes a scrape reaches one of them, so each worker's
numbers must be visible from all: prometheus-client's multiprocess mode does
that through memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``, a temporary
directory the supervisor creates (and removes) for the service's lifetime.
Without that variable (tests, a library embedding the app) each app keeps its
own registry, so several apps in one process never clash.

Hot-path cost: a request only bumps plain integers in this process
(`HotCounters`: a list index per verdict action and reason, a bisect for the
latency bucket). `flush()` moves them into the Prometheus metrics once a
second and before every scrape. In multiprocess mode each Prometheus
increment is a locked write to a memory-mapped file, and doing four of them
per request cost about a quarter of the check endpoint's throughput.

The store's own counters (lookups, errors, timeouts, breaker) are plain
per-process numbers; `StoreMetricsSync` turns their growth into Prometheus
counter increments every second, so sums over workers stay right after a
worker restarts.
"""

from __future__ import annotations

import calendar
import os
import time
from bisect import bisect_left
from collections.abc import Mapping
from datetime import date
from typing import Any, Final, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from sipcheck.model import DataStatus
from sipcheck.verdict import Action, Reason, Verdict

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
K = TypeVar("K")

LATENCY_BUCKETS: Final = (0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# store.metrics field -> (metric name, help) for the counters copied from the store.
STORE_COUNTERS: Final[dict[str, tuple[str, str]]] = {
    "lookups": ("sipcheck_store_lookups", "lookups asked of the data store"),
    "errors": ("sipcheck_store_errors", "data store (Redis) errors"),
    "timeouts": ("sipcheck_store_timeouts", "data store (Redis) timeouts"),
    "breaker_opens": ("sipcheck_store_breaker_opens", "times the store's circuit breaker opened"),
    "snapshot_answers": ("sipcheck_store_snapshot_answers", "lookups answered from the local snapshot"),
    "unavailable_answers": ("sipcheck_store_unavailable_answers", "lookups answered with data unavailable"),
    "local_answers": (
        "sipcheck_store_local_answers",
        "lookups answered from the in-step local snapshot (no round trip)",
    ),
    "batches": (
        "sipcheck_store_batches",
        "round trips carrying coalesced lookups (lookups / batches = batch size)",
    ),
}

# The cache's BreakerState values; a state given by name is mapped the same way.
BREAKER_STATES: Final[dict[str, float]] = {"closed": 0.0, "open": 1.0, "half_open": 2.0, "half-open": 2.0}

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def _ensure_value_class() -> None:
    """Use the multiprocess value store if the directory is set, even if prometheus_client was imported first.

    prometheus-client picks its value class at import; a forked worker may
    have inherited a parent that imported it before the supervisor set the
    directory. Metrics constructed after this call use the right class.
    """
    if multiprocess_dir() and values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class ApiMetrics:
    """All metrics of one app, with label children bound once."""

    def __init__(self) -> None:
        _ensure_value_class()
        self.multiprocess = multiprocess_dir() is not None
        # In multiprocess mode the registry is only for our own bookkeeping; exposition
        # reads the files. Otherwise it is what /metrics renders.
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.checks = Counter("sipcheck_checks", "numbers checked, by verdict action", ["action"], registry=r)
        self.reasons = Counter(
            "sipcheck_check_reasons",
            "reasons given in verdicts (a verdict may give several)",
            ["reason"],
            registry=r,
        )
        self.latency = Histogram(
            "sipcheck_check_duration_seconds",
            "time to answer a check request, by endpoint (single number or batch)",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_numbers = Counter(
            "sipcheck_batch_numbers", "numbers checked through the batch endpoint", registry=r
        )
        self.changes = Counter(
            "sipcheck_data_changes", "data changes made through the API, by kind", ["what"], registry=r
        )
        self.change_rows = Counter(
            "sipcheck_data_change_rows", "rows changed through the API, by kind", ["what"], registry=r
        )
        self.store_counters = {
            field: Counter(name, help_text, registry=r) for field, (name, help_text) in STORE_COUNTERS.items()
        }
        self.breaker_state = Gauge(
            "sipcheck_store_breaker_state",
            "circuit breaker: 0 closed, 1 open, 2 half-open (max over workers)",
            registry=r,
            multiprocess_mode="max",
        )
        self.local_in_sync = Gauge(
            "sipcheck_store_local_in_sync",
            "1: checks answered from the in-step local copy; 0: they ask Redis (min over workers)",
            registry=r,
            multiprocess_mode="min",
        )
        self.data_version = Gauge(
            "sipcheck_data_version",
            "live data version (numeric versions; 0 if none or not numeric)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.data_records = Gauge(
            "sipcheck_data_records",
            "records in each data component",
            ["component"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.data_age = Gauge(
            "sipcheck_data_age_seconds",
            "seconds since each component was loaded (-1 if never)",
            ["component"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.data_as_of = Gauge(
            "sipcheck_data_as_of_timestamp_seconds",
            "the as-of date of each component (0 if unknown)",
            ["component"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.data_complete = Gauge(
            "sipcheck_data_complete",
            "1: blocks, certifications and suspensions are loaded; 0: every check meets the fail policy",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.designation_as_of = Gauge(
            "sipcheck_designation_as_of_timestamp_seconds",
            "the as-of date (00:00 JST) of the designation data of each covered range",
            ["range"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.designation_age = Gauge(
            "sipcheck_designation_age_days",
            "age in days of the designation data of each covered range, on the screener's JST date",
            ["range"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.designation_stale = Gauge(
            "sipcheck_designation_stale",
            "1 where a covered range's designation data is older than data.max_age_days",
            ["range"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.designation_blocks = Gauge(
            "sipcheck_designation_blocks",
            "designated blocks loaded per covered range",
            ["range"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._action_children = {a: self.checks.labels(a.value) for a in Action}
        self._reason_children = {r_: self.reasons.labels(r_.value) for r_ in Reason}
        self.single = HotHistogram(self.latency.labels("single"), LATENCY_BUCKETS)
        self.batch = HotHistogram(self.latency.labels("batch"), LATENCY_BUCKETS)
        self._actions = dict.fromkeys(Action, 0)
        self._reasons = dict.fromkeys(Reason, 0)
        self._batch_numbers = 0
        self._store_seen: dict[str, float] = {}

    def count_verdict(self, verdict: Verdict) -> None:
        """Count one verdict (plain integers; see `flush`)."""
        self._actions[verdict.action] += 1
        reasons = self._reasons
        for reason in verdict.reasons:
            reasons[reason] += 1

    def count_batch(self, numbers: int) -> None:
        self._batch_numbers += numbers

    def flush(self) -> None:
        """Move the counts gathered since the last flush into the Prometheus metrics."""
        _drain(self._actions, self._action_children)
        _drain(self._reasons, self._reason_children)
        if self._batch_numbers:
            numbers, self._batch_numbers = self._batch_numbers, 0
            self.batch_numbers.inc(numbers)
        self.single.flush()
        self.batch.flush()

    def count_change(self, what: str, rows: int) -> None:
        self.changes.labels(what).inc()
        self.change_rows.labels(what).inc(rows)

    def sync_store_metrics(self, metrics: Any) -> None:
        """Copy the store's counters (an object or a mapping) into Prometheus, as increments."""
        if metrics is None:
            return
        for field, counter in self.store_counters.items():
            value = _field(metrics, field)
            if value is None:
                continue
            seen = self._store_seen.get(field, 0.0)
            if value > seen:
                counter.inc(value - seen)
            self._store_seen[field] = value
        state = _field_raw(metrics, "breaker_state")
        if isinstance(state, str):
            self.breaker_state.set(BREAKER_STATES.get(state.lower(), 1.0))
        elif isinstance(state, int | float):
            self.breaker_state.set(float(state))

    def sync_local(self, in_sync: bool | None) -> None:
        """Whether the store answers locally (None: a store without local reads, nothing to say)."""
        if in_sync is not None:
            self.local_in_sync.set(1.0 if in_sync else 0.0)

    def sync_status(
        self, status: DataStatus, today: date, max_age_days: int, now: float | None = None
    ) -> None:
        moment = time.time() if now is None else now
        self.data_complete.set(1.0 if status.complete else 0.0)
        for row in status.coverage:
            midnight_jst = calendar.timegm(row.as_of.timetuple()) - 9 * 3600
            self.designation_as_of.labels(row.range).set(midnight_jst)
            self.designation_age.labels(row.range).set(row.age_days(today))
            self.designation_stale.labels(row.range).set(1.0 if row.age_days(today) > max_age_days else 0.0)
            self.designation_blocks.labels(row.range).set(row.blocks)
        version = status.data_version
        self.data_version.set(float(version) if version.isdigit() else 0.0)
        for comp in status.components:
            name = comp.component.value
            self.data_records.labels(name).set(comp.count)
            self.data_age.labels(name).set(moment - comp.loaded_at.timestamp() if comp.loaded_at else -1.0)
            as_of = 0.0
            if comp.as_of is not None:
                as_of = time.mktime(comp.as_of.timetuple())
            self.data_as_of.labels(name).set(as_of)

    def render(self) -> bytes:
        self.flush()
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def _drain(counts: dict[K, int], children: Mapping[K, Counter]) -> None:
    for key, count in counts.items():
        if count:
            counts[key] = 0
            children[key].inc(count)


class HotHistogram:
    """Latency observations kept as per-bucket integers until `flush` adds them to a Prometheus histogram.

    Adding whole bucket counts needs the histogram child's bucket values, which
    prometheus-client does not expose publicly; if they are not there (another
    version), flush falls back to one ``observe`` per observation at its bucket's bound.
    """

    __slots__ = ("_bounds", "_child", "_counts", "_sum")

    def __init__(self, child: Histogram, bounds: tuple[float, ...]) -> None:
        self._child = child
        self._bounds = (*bounds, float("inf"))
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect_left(self._bounds, seconds)] += 1
        self._sum += seconds

    def flush(self) -> None:
        counts, total = self._counts, self._sum
        if not any(counts):
            return
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        buckets = getattr(self._child, "_buckets", None)
        sum_value = getattr(self._child, "_sum", None)
        if buckets is not None and sum_value is not None and len(buckets) == len(counts):
            for bucket, count in zip(buckets, counts, strict=True):
                if count:
                    bucket.inc(count)
            sum_value.inc(total)
            return
        for bound, count in zip(self._bounds, counts, strict=True):
            for _ in range(count):
                self._child.observe(bound if bound != float("inf") else total / max(sum(counts), 1))


def _field_raw(metrics: Any, name: str) -> Any:
    if isinstance(metrics, Mapping):
        return metrics.get(name)
    return getattr(metrics, name, None)


def _field(metrics: Any, name: str) -> float | None:
    value = _field_raw(metrics, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "ApiMetrics", "multiprocess_dir"]
