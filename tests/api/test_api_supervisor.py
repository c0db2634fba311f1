"""The process supervisor on its own: a crashed worker is restarted, SIGTERM stops everything cleanly."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from sipcheck.api.supervisor import ProcessSpec, RestartBudget, StartupFailed, Supervisor


def test_crashed_worker_is_restarted_then_sigterm_stops_all(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "crashed-once"

    def target(index: int, ready: object) -> int:
        assert callable(ready)
        ready()
        if not marker.exists():
            marker.touch()
            return 3  # crash after start
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        os.kill(os.getppid(), signal.SIGTERM)  # the restarted worker asks the service to stop
        signal.sigwait({signal.SIGTERM})  # ... and is told to stop in turn
        return 0

    with (
        caplog.at_level(logging.INFO, logger="sipcheck.supervisor"),
        Supervisor([ProcessSpec("t", 1, target)], stop_timeout_s=10, metrics_dir=False) as sup,
    ):
        sup.start()
        code = sup.wait()
    assert code == 0, [(c.pid, c.exit_code) for c in sup.children.values()]
    events = [getattr(r, "event", None) for r in caplog.records]
    assert events.count("worker.start") == 2
    assert "worker.exit" in events and "service.stop" in events
    exits = [r for r in caplog.records if getattr(r, "event", None) == "worker.exit"]
    assert exits[0].code == 3  # type: ignore[attr-defined]


def test_worker_failing_at_start_is_reported() -> None:
    def target(index: int, ready: object) -> int:
        return 4  # e.g. the port could not be bound

    with (
        Supervisor([ProcessSpec("t", 2, target)], metrics_dir=False) as sup,
        pytest.raises(StartupFailed, match="exited with code 4 while starting"),
    ):
        sup.start()


def test_restart_budget() -> None:
    budget = RestartBudget(limit=2, window_s=10)
    assert budget.allow(0) and budget.allow(1) and not budget.allow(2)
    assert budget.allow(11.5)
