"""How fast a police suspension reaches Kamailio's view: set in place vs a full rebuild.

`ViewSync` applies a change that touches only suspensions as ``htable.sets``/``htable.delete`` on the
table in use (plus a rewrite of its file); anything else rebuilds the view into the idle table and
reloads it. This times one sync step for 1, 10, 100 and 1,000 suspension changes, and a full
rebuild (the day window moved) in the same run, on the built-in data against a real Kamailio
(the tests' harness, so the config is the one the tests prove). Medians of ``--rounds``.

    .venv/bin/python bench/bench_kamailio_suspension.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "kamailio"))

from kamailio_run import kamailio_settings, running_kamailio  # noqa: E402

from sipcheck.kamailio.sync import ViewSync  # noqa: E402
from sipcheck.model import Suspension  # noqa: E402
from sipcheck.sample import sample_parts  # noqa: E402
from sipcheck.sip.harness import free_port  # noqa: E402
from sipcheck.store import MemoryStore  # noqa: E402

JST = timezone(timedelta(hours=9))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sipcheck-bench-susp-") as scratch:
        rows, rebuild = measure(Path(scratch), args.rounds)
    print(f"{'sync step':<28} {'median s':>9} {'vs rebuild':>11}")
    for name, seconds in rows:
        print(f"{name:<28} {seconds:>9.3f} {rebuild / seconds:>10.0f}x")
    print(f"{'full rebuild (idle table)':<28} {rebuild:>9.3f} {1:>10.0f}x")
    return 0


def measure(tmp: Path, rounds: int) -> tuple[list[tuple[str, float]], float]:
    """(name, median seconds) per delta size, and the full rebuild's median seconds."""
    settings = kamailio_settings(tmp)
    store = MemoryStore(sample_parts())
    moment = [datetime(2026, 8, 1, 12, 0, tzinfo=JST)]
    rows: list[tuple[str, float]] = []
    with running_kamailio(tmp, settings, free_port()) as rpc:
        sync = ViewSync(
            lambda: store.tables, rpc, tmp / "view", settings.compiled_policy(), lambda: moment[0]
        )
        assert sync.step().rebuilt
        for changes in (1, 10, 100, 1000):
            times = []
            for r in range(rounds):
                numbers = [f"+813525{r:02d}{i:04d}" for i in range(changes)]
                store.add_suspensions([Suspension(n, reference="bench", source="bench") for n in numbers])
                started = time.perf_counter()
                result = sync.step()
                times.append(time.perf_counter() - started)
                assert result.vouched and not result.rebuilt and result.suspension_changes == changes, result
                store.remove_suspensions(numbers)
                assert sync.step().suspension_changes == changes
            rows.append((f"{changes} suspension(s) in place", statistics.median(times)))
        times = []
        for _ in range(rounds):
            moment[0] += timedelta(days=7)  # out of the published window: a full rebuild
            started = time.perf_counter()
            assert sync.step().rebuilt
            times.append(time.perf_counter() - started)
    return rows, statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
