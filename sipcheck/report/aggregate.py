"""Record batches in, a `Report` out: what the report says, computed, with no I/O.

Each batch (`sipcheck.report.read.SCHEMA`) is cut to the window and grouped with pyarrow (per
action; per designated, serving and ingress operator; per JST day; per data version; per reason,
a reason counted once per call; per flagged or blocked number). What stays in memory between
batches is the grouped counts, not the calls: a month of traffic streams through, and the partial
groupings are folded together whenever enough of them pile up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from sipcheck.report.read import ACTIONS, EPOCH, JST, JST_OFFSET_US

DAY_US: Final = 86_400 * 1_000_000
DEFAULT_TOP: Final = 20
MAX_FILLED_DAYS: Final = 1_000
"""A window up to this many days long lists every day in it, calls or not."""
_FOLD_AFTER: Final = 32
NONE_LABEL: Final = "(none)"
"""How a report shows an empty operator column (no such operator on the call)."""


@dataclass(frozen=True, slots=True)
class Counts:
    allowed: int = 0
    flagged: int = 0
    blocked: int = 0

    @property
    def calls(self) -> int:
        return self.allowed + self.flagged + self.blocked

    @property
    def attention(self) -> int:
        """Flagged + blocked: what a report is about, and what its tables sort by."""
        return self.flagged + self.blocked

    def rate(self, count: int) -> float:
        return count / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "allowed": self.allowed,
            "flagged": self.flagged,
            "blocked": self.blocked,
            "allowed_rate": round(self.rate(self.allowed), 6),
            "flagged_rate": round(self.rate(self.flagged), 6),
            "blocked_rate": round(self.rate(self.blocked), 6),
        }

    @classmethod
    def of(cls, by_action: dict[str, int]) -> Counts:
        return cls(by_action.get("allow", 0), by_action.get("flag", 0), by_action.get("block", 0))


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a per-something table: an operator name ('' = none), a reason, a day, a version."""

    key: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class NumberRow:
    e164: str
    counts: Counts  # its flagged and blocked calls (allowed calls of the number are not counted here)
    reasons: tuple[str, ...]  # every reason its flagged/blocked calls carried, most frequent first
    designated_operator: str


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime | None
    until: datetime | None
    first: datetime | None  # the first call in the window
    last: datetime | None
    total: Counts
    designated: tuple[Row, ...]
    serving: tuple[Row, ...]
    ingress: tuple[Row, ...]
    contractor: tuple[Row, ...]
    reasons: tuple[Row, ...]  # every reason, most calls first; counts are of calls carrying it
    numbers: tuple[NumberRow, ...]  # the top flagged/blocked numbers
    days: tuple[Row, ...]  # key: the JST date, ISO
    data_versions: tuple[Row, ...]
    sources: tuple[tuple[str, int], ...] = ()  # (input, records read), in the order read
    outside_window: int = 0  # records read but outside the window
    top: int = DEFAULT_TOP

    def operators(self, role: str) -> tuple[Row, ...]:
        return {
            "designated": self.designated,
            "serving": self.serving,
            "ingress": self.ingress,
            "contractor": self.contractor,
        }[role]

    def to_dict(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(JST).isoformat()

        def rows(items: tuple[Row, ...], name: str) -> list[dict[str, Any]]:
            return [{name: r.key, **r.counts.to_dict()} for r in items]

        return {
            "window": {"since": moment(self.since), "until": moment(self.until)},
            "first_call": moment(self.first),
            "last_call": moment(self.last),
            "total": self.total.to_dict(),
            "designated": rows(self.designated, "operator"),
            "serving": rows(self.serving, "operator"),
            "ingress": rows(self.ingress, "operator"),
            "contractor": rows(self.contractor, "contractor"),
            "reasons": rows(self.reasons, "reason"),
            "numbers": [
                {
                    "e164": n.e164,
                    "flagged": n.counts.flagged,
                    "blocked": n.counts.blocked,
                    "calls": n.counts.calls,
                    "reasons": list(n.reasons),
                    "designated_operator": n.designated_operator,
                }
                for n in self.numbers
            ],
            "days": rows(self.days, "day"),
            "data_versions": [{"data_version": r.key, "calls": r.counts.calls} for r in self.data_versions],
            "sources": [{"source": s, "records": n} for s, n in self.sources],
            "outside_window": self.outside_window,
            "top": self.top,
        }


def _micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=JST)
    return (aware.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _count(table: pa.Table, keys: list[str]) -> pa.Table:
    grouped = table.group_by(keys, use_threads=False).aggregate([([], "count_all")])
    return grouped.rename_columns([n if n != "count_all" else "n" for n in grouped.column_names])


def _fold(parts: list[pa.Table], keys: list[str]) -> pa.Table:
    table = pa.concat_tables(parts)
    grouped = table.group_by(keys, use_threads=False).aggregate([("n", "sum")])
    return grouped.rename_columns([n if n != "n_sum" else "n" for n in grouped.column_names])


@dataclass
class _Partial:
    keys: list[str]
    parts: list[pa.Table] = field(default_factory=list)

    def add(self, table: pa.Table) -> None:
        self.parts.append(table)
        if len(self.parts) >= _FOLD_AFTER:
            self.parts = [_fold(self.parts, self.keys)]

    def table(self) -> pa.Table | None:
        return _fold(self.parts, self.keys) if self.parts else None


class Aggregator:
    """Folds batches of `sipcheck.report.read.SCHEMA` into a `Report`; ``until`` is exclusive."""

    def __init__(
        self, since: datetime | None = None, until: datetime | None = None, *, top: int = DEFAULT_TOP
    ) -> None:
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        self.since, self.until, self.top = since, until, top
        self._since_us, self._until_us = _micros(since), _micros(until)
        self._sources: dict[str, int] = {}
        self._outside = 0
        self._first: int | None = None
        self._last: int | None = None
        self._views = {
            "total": _Partial(["action"]),
            "designated": _Partial(["designated_operator", "action"]),
            "serving": _Partial(["serving_operator", "action"]),
            "ingress": _Partial(["ingress_operator", "action"]),
            "contractor": _Partial(["contractor", "action"]),
            "day": _Partial(["day", "action"]),
            "version": _Partial(["data_version", "action"]),
            "reason": _Partial(["reason", "action"]),
            "number": _Partial(["e164", "action", "reasons", "designated_operator"]),
        }

    def add(self, batch: pa.RecordBatch, source: str = "") -> None:
        self._sources[source] = self._sources.get(source, 0) + batch.num_rows
        table = pa.Table.from_batches([batch])
        t = table.column("t_us")
        mask = None
        if self._since_us is not None:
            mask = pc.greater_equal(t, self._since_us)
        if self._until_us is not None:
            before = pc.less(t, self._until_us)
            mask = before if mask is None else pc.and_(mask, before)
        if mask is not None:
            table = table.filter(mask)
        self._outside += batch.num_rows - table.num_rows
        if table.num_rows == 0:
            return
        t = table.column("t_us")
        low, high = pc.min_max(t).values()
        self._first = low.as_py() if self._first is None else min(self._first, low.as_py())
        self._last = high.as_py() if self._last is None else max(self._last, high.as_py())
        day = pc.divide(pc.add(t, JST_OFFSET_US), DAY_US)  # integer division: days since 1970-01-01 JST
        table = table.append_column("day", day)
        for name in ("total", "designated", "serving", "ingress", "contractor", "day", "version"):
            view = self._views[name]
            view.add(_count(table, view.keys))
        self._add_reasons(table)
        attention = table.filter(
            pc.and_(pc.not_equal(table.column("action"), "allow"), pc.not_equal(table.column("e164"), ""))
        )
        if attention.num_rows:
            self._views["number"].add(_count(attention, self._views["number"].keys))

    def _add_reasons(self, table: pa.Table) -> None:
        lists = pc.split_pattern(table.column("reasons").combine_chunks(), ";")
        parent = pc.list_parent_indices(lists)
        reasons = pa.table(
            {
                "parent": parent,
                "reason": pc.list_flatten(lists),
                "action": pc.take(table.column("action"), parent),
            }
        )
        reasons = reasons.filter(pc.not_equal(reasons.column("reason"), ""))
        if reasons.num_rows == 0:
            return
        once = reasons.group_by(["parent", "reason", "action"], use_threads=False).aggregate([])
        self._views["reason"].add(_count(once, ["reason", "action"]))

    # --- the report ---

    def _by_key(self, name: str) -> dict[str, dict[str, int]]:
        table = self._views[name].table()
        out: dict[str, dict[str, int]] = {}
        if table is None:
            return out
        key = self._views[name].keys[0]
        for k, action, n in zip(
            table.column(key).to_pylist(),
            table.column("action").to_pylist(),
            table.column("n").to_pylist(),
            strict=True,
        ):
            out.setdefault(k, {})[action] = out.get(k, {}).get(action, 0) + n
        return out

    def _rows(self, name: str) -> tuple[Row, ...]:
        rows = [Row(k, Counts.of(v)) for k, v in self._by_key(name).items()]
        rows.sort(key=lambda r: (-r.counts.attention, -r.counts.blocked, -r.counts.calls, r.key))
        return tuple(rows)

    def _days(self) -> tuple[Row, ...]:
        seen = {int(k): Counts.of(v) for k, v in self._by_key("day").items()}
        start = self._day_of(self._since_us) if self._since_us is not None else None
        end = self._day_of(self._until_us - 1) if self._until_us is not None else None
        if seen:
            start = min(seen) if start is None else min(start, min(seen))
            end = max(seen) if end is None else max(end, max(seen))
        days = (
            range(start, end + 1)
            if start is not None and end is not None and end - start < MAX_FILLED_DAYS
            else sorted(seen)
        )
        origin = date(1970, 1, 1)
        return tuple(Row((origin + timedelta(days=d)).isoformat(), seen.get(d, Counts())) for d in days)

    @staticmethod
    def _day_of(micros: int) -> int:
        return (micros + JST_OFFSET_US) // DAY_US

    def _numbers(self) -> tuple[NumberRow, ...]:
        table = self._views["number"].table()
        if table is None:
            return ()
        per: dict[str, dict[str, int]] = {}
        reasons: dict[str, dict[str, int]] = {}
        operators: dict[str, dict[str, int]] = {}
        columns = [
            table.column(c).to_pylist() for c in ("e164", "action", "reasons", "designated_operator", "n")
        ]
        for e164, action, joined, operator, n in zip(*columns, strict=True):
            counts = per.setdefault(e164, {})
            counts[action] = counts.get(action, 0) + n
            ops = operators.setdefault(e164, {})
            ops[operator] = ops.get(operator, 0) + n
            mine = reasons.setdefault(e164, {})
            for reason in dict.fromkeys(r for r in joined.split(";") if r):
                mine[reason] = mine.get(reason, 0) + n
        ranked = sorted(per, key=lambda e: (-sum(per[e].values()), -per[e].get("block", 0), e))[: self.top]
        return tuple(
            NumberRow(
                e164,
                Counts.of(per[e164]),
                tuple(sorted(reasons[e164], key=lambda r: (-reasons[e164][r], r))),
                max(operators[e164].items(), key=lambda kv: (kv[1], kv[0]))[0],
            )
            for e164 in ranked
        )

    def report(self) -> Report:
        total = Counts.of(self._totals())
        return Report(
            since=self.since,
            until=self.until,
            first=None if self._first is None else _moment(self._first),
            last=None if self._last is None else _moment(self._last),
            total=total,
            designated=self._rows("designated"),
            serving=self._rows("serving"),
            ingress=self._rows("ingress"),
            contractor=self._rows("contractor"),
            reasons=self._rows("reason"),
            numbers=self._numbers(),
            days=self._days(),
            data_versions=tuple(sorted(self._rows("version"), key=lambda r: (-r.counts.calls, r.key))),
            sources=tuple(self._sources.items()),
            outside_window=self._outside,
            top=self.top,
        )

    def _totals(self) -> dict[str, int]:
        table = self._views["total"].table()
        if table is None:
            return {}
        return dict(zip(table.column("action").to_pylist(), table.column("n").to_pylist(), strict=True))


def aggregate(
    batches: Iterable[pa.RecordBatch | tuple[str, pa.RecordBatch]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = DEFAULT_TOP,
) -> Report:
    """The report over ``batches`` (as `sipcheck.report.read.read_batches` yields them, or bare)."""
    aggregator = Aggregator(since, until, top=top)
    for item in batches:
        if isinstance(item, tuple):
            aggregator.add(item[1], item[0])
        else:
            aggregator.add(item)
    return aggregator.report()


__all__ = [
    "ACTIONS",
    "DEFAULT_TOP",
    "NONE_LABEL",
    "Aggregator",
    "Counts",
    "NumberRow",
    "Report",
    "Row",
    "aggregate",
]
