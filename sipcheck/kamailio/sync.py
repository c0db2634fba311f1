"""The sync daemon: keeps Kamailio's view equal to the shared data, and says when it is not.

One `ViewSync.step` per heartbeat:

====================  =========================================================================
read the data         the live data set (Redis); a failure or an incomplete set ends the step
                      without vouching, so Kamailio falls to the fail policy after
                      ``stale_after_s`` (what the SIP agent and HTTP do when Redis is down)
rebuild, if needed    the data set changed, or the JST day moved out of the published window:
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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sipcheck.kamailio import dbtext
from sipcheck.kamailio.cfg import TABLES
from sipcheck.kamailio.rpc import KamailioRpc, RpcError
from sipcheck.kamailio.view import View, build_view, day_key
from sipcheck.policy import CompiledPolicy
from sipcheck.screener import japan_date
from sipcheck.store import TableSet

_log = logging.getLogger("sipcheck.kamailio")

REBUILD_ALLOWANCE_S = 30
"""How long the previous view is vouched for while a new one is built and loaded (a few seconds for
the real data set; the margin covers a loaded machine)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one heartbeat did, for logs, ``--once`` and tests."""

    vouched: bool
    rebuilt: bool = False
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
            rebuilt = self._publish(tables, today)
            current = self._published
            assert current is not None
            if not rebuilt:
                self._repoint(current)
            self.rpc.set_int("sipcheck_day", int(day_key(today)))
            self.rpc.set_int("sipcheck_until", int(self.wall()) + self.stale_after_s)
        except (RpcError, OSError) as exc:
            return StepResult(False, day=today, problem=f"kamailio unreachable: {exc}")
        return StepResult(True, rebuilt, current.generation, tables.data_version, today)

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
        self._published = _Published(tables, view, generation, days)
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
