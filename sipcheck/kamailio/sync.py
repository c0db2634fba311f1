"""The sync daemon: keeps Kamailio's view equal to the shared data, and says when it is not.

One `ViewSync.step` per heartbeat:

====================  =========================================================================
read the data         the live data set (Redis); a failure or an incomplete set ends the step
                      without vouching, so Kamailio falls to the fail policy after
                      ``stale_after_s`` (what the SIP agent and HTTP do when Redis is down)
apply, if only       only the suspensions changed (a police request, a removal), and by at most
suspensions moved     ``MAX_SUSPENSION_DELTA`` numbers: ``htable.sets``/``htable.delete`` each
                      ``s:`` key in the table in use and rewrite its file (a restart reloads it);
                      in effect within a heartbeat instead of a rebuild's seconds
rebuild, if needed    anything else changed, or the JST day moved out of the published window:
                      build the view (`policy.decide` for every class), write it to the idle
                      table, ``htable.reload`` it, then point ``sipcheck_gen`` at it
re-point, if needed   Kamailio restarted (its ``sipcheck_gen`` is not ours): reload our table
                      from its file and point at it again
vouch                 ``sipcheck_day`` = today in Japan by the settings' clock (verdicts move at
                      JST midnight with no reload), ``sipcheck_until`` = now + ``stale_after_s``
====================  =========================================================================

Why two tables: ``htable.reload`` swaps a table slot by slot, so a call reading the table being
reloaded could see old and new entries mixed. The idle table is reloaded while calls read the
other, and one shared-variable write moves every later call to the new one.

Why suspensions may change in place: a suspension is one ``s:`` key that no other entry depends on
(verdicts are published for suspended and not, per class), and htable sets or deletes one key
under its slot's lock. A call therefore reads each number's suspension either before or after
the change, never a torn entry; what it cannot see is a *set* of changes as one, which is also
true of the incremental feed the changes come from. Bigger changes (a full snapshot that moved
many numbers) go through the idle table like any rebuild.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from sipcheck.kamailio import dbtext
from sipcheck.kamailio.cfg import TABLES
from sipcheck.kamailio.rpc import KamailioRpc, RpcError
from sipcheck.kamailio.view import SUSPENSION_PREFIX, View, build_view, day_key
from sipcheck.model import Component
from sipcheck.policy import CompiledPolicy
from sipcheck.screener import japan_date
from sipcheck.store import TableSet

_log = logging.getLogger("sipcheck.kamailio")

MAX_SUSPENSION_DELTA = 2000
"""Above this many suspension changes at once, a rebuild into the idle table (one RPC per key costs
about what reloading the whole table does at a few thousand keys)."""
REBUILD_ALLOWANCE_S = 30
"""How long the previous view is vouched for while a new one is built and loaded (a few seconds for
the real data set; the margin covers a loaded machine)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one heartbeat did, for logs, ``--once`` and tests."""

    vouched: bool
    rebuilt: bool = False
    suspension_changes: int = 0
    """Suspension keys set or deleted in the table in use this step (0 when it rebuilt)."""
    generation: int = 0
    data_version: str = ""
    day: date | None = None
    problem: str = ""


@dataclass(slots=True)
class _Published:
    tables: TableSet
    view: View
    generation: int  # 1: sipcheck_a, 2: sipcheck_b
    days: tuple[date, ...]
    suspended: frozenset[str]
    """The numbers the table holds as suspended (``s:`` keys)."""


@dataclass(slots=True)
class ViewSync:
    """Publishes the data to one Kamailio; see the module docstring for a step."""

    read_tables: Callable[[], TableSet | None]
    rpc: KamailioRpc
    view_dir: Path
    policy: CompiledPolicy
    clock: Callable[[], datetime]
    peers: Iterable[str] = ()
    resolve: Callable[[str], str | None] = lambda peer: peer
    days_ahead: int = 7
    stale_after_s: int = 3
    snapshot_verdicts: bool = False
    wall: Callable[[], float] = time.time
    """Kamailio compares ``sipcheck_until`` with its own clock ($TS): the real time, never the
    settings' (fixed in tests) clock."""
    _published: _Published | None = field(default=None, init=False)

    def step(self) -> StepResult:
        today = japan_date(self.clock())
        try:
            tables = self.read_tables()
        except Exception as exc:  # the store's failure, whatever its kind: Kamailio must not be told
            return StepResult(False, day=today, problem=f"data unavailable: {exc}")
        if tables is None or not tables.complete:
            return StepResult(False, day=today, problem="no complete data set is published")
        try:
            changed = self._apply_suspensions(tables, today)
            rebuilt = changed is None and self._publish(tables, today)
            current = self._published
            assert current is not None
            if not rebuilt:
                self._repoint(current)
            self.rpc.set_int("sipcheck_day", int(day_key(today)))
            self.rpc.set_int("sipcheck_until", int(self.wall()) + self.stale_after_s)
        except (RpcError, OSError) as exc:
            return StepResult(False, day=today, problem=f"kamailio unreachable: {exc}")
        return StepResult(True, rebuilt, changed or 0, current.generation, tables.data_version, today)

    def _apply_suspensions(self, tables: TableSet, today: date) -> int | None:
        """Change the table in use in place when only suspensions moved (see the module docstring);
        the number of keys changed, or None when this step needs the full publish path.

        Compared with the numbers last published, not with the last data set: an in-process store
        changes its suspension dict in place, under the same data version."""
        current = self._published
        if current is None or today not in current.days[1:-1]:
            return None
        before = current.tables
        others = (set(before.versions) | set(tables.versions)) - {Component.SUSPENSIONS}
        if tables is not before and any(before.versions.get(c) != tables.versions.get(c) for c in others):
            return None
        now = set(tables.suspensions)
        added = sorted(now - current.suspended)
        removed = sorted(current.suspended - now)
        if len(added) + len(removed) > MAX_SUSPENSION_DELTA:
            return None
        table = TABLES[current.generation - 1]
        entries = current.view.entries
        if added or removed:
            entries = dict(entries)
            for number in added:
                self.rpc.call("htable.sets", table, f"{SUSPENSION_PREFIX}{number}", "1")
                entries[f"{SUSPENSION_PREFIX}{number}"] = "1"
            for number in removed:
                self.rpc.call("htable.delete", table, f"{SUSPENSION_PREFIX}{number}")
                entries.pop(f"{SUSPENSION_PREFIX}{number}", None)
            dbtext.write_table(self.view_dir, table, entries)
            _log.info(
                "kamailio view %s: data %s, %d suspensions added and %d removed in place",
                table,
                tables.data_version,
                len(added),
                len(removed),
            )
        view = replace(current.view, entries=entries, data_version=tables.data_version)
        self._published = _Published(tables, view, current.generation, current.days, frozenset(now))
        return len(added) + len(removed)

    def _publish(self, tables: TableSet, today: date) -> bool:
        """Rebuild and switch when the data or the day window changed; True when it did."""
        current = self._published
        if current is not None and current.tables is tables and today in current.days[1:-1]:
            return False
        days = tuple(today + timedelta(days=n) for n in range(-1, self.days_ahead + 1))
        if current is not None:
            # The data was read this moment; the view in use stays current while its successor is
            # built and loaded (seconds), rather than lapsing into the fail policy at every publish.
            self.rpc.set_int("sipcheck_until", int(self.wall()) + self.stale_after_s + REBUILD_ALLOWANCE_S)
        view = build_view(
            tables, self.policy, days, self.peers, self.resolve, snapshot_verdicts=self.snapshot_verdicts
        )
        generation = 1 if current is None or current.generation == 2 else 2
        table = TABLES[generation - 1]
        dbtext.write_table(self.view_dir, table, view.entries)
        self.rpc.reload(table)
        self.rpc.set_int("sipcheck_gen", generation)
        cut = len(SUSPENSION_PREFIX)
        suspended = frozenset(k[cut:] for k in view.entries if k.startswith(SUSPENSION_PREFIX))
        self._published = _Published(tables, view, generation, days, suspended)
        _log.info(
            "kamailio view %s: data %s, %d entries, days %s..%s",
            table,
            tables.data_version,
            len(view.entries),
            days[0],
            days[-1],
        )
        return True

    def _repoint(self, current: _Published) -> None:
        """After a Kamailio restart its shared variables are back to 0: reload ours and point at it."""
        if self.rpc.get_int("sipcheck_gen") == current.generation:
            return
        table = TABLES[current.generation - 1]
        _log.warning("kamailio lost the current view (restarted?): reloading %s", table)
        self.rpc.reload(table)
        self.rpc.set_int("sipcheck_gen", current.generation)

    def run(self, heartbeat_s: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Step every ``heartbeat_s`` until ``stop()``; logs each change of state once."""
        problem = None
        while not stop():
            started = time.monotonic()
            result = self.step()
            if result.problem != problem:
                if result.problem:
                    _log.error("kamailio view not vouched for: %s", result.problem)
                elif problem is not None:
                    _log.warning("kamailio view current again (data %s)", result.data_version)
                problem = result.problem
            time.sleep(max(0.0, heartbeat_s - (time.monotonic() - started)))
