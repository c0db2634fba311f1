"""How fast is a full suspension snapshot imported? (target: 1,000,000 CSV rows in ≤ 5 s on one core)

Writes a 1M-row CSV (valid mobile/050/fixed numbers, date and date-time
``since``, reference, source) to a temp dir and times
`sipcheck.importers.load_component("suspended", …)` against two baselines
measured in the same run:

- floor: the standard csv reader alone over the same file (no validation);
- pydantic: the `SuspensionRow` model per row (what the fast path replaces),
  timed on a slice and scaled up.

Figures are wall-clock on a shared 2-core machine: expect ±20 % noise.
Usage: .venv/bin/python bench/bench_import_suspensions.py [rows]
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from sipcheck.importers import load_component
from sipcheck.importers.rows import SuspensionRow


def write_feed(path: Path, rows: int) -> None:
    rng = random.Random(1)
    prefixes = ("090", "080", "070", "050")
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("number,since,reference,source\n")
        for i in range(rows):
            number = f"{prefixes[i % 4]}{i:08d}"
            day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            since = day if i % 2 else f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+09:00"
            out.write(f"{number},{since},REF-{i},police\n")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suspended.csv"
        write_feed(path, rows)
        size_mb = path.stat().st_size / 1e6

        start = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as f:
            floor_count = sum(1 for _ in csv.reader(f)) - 1
        floor = time.perf_counter() - start

        start, cpu_start = time.perf_counter(), time.process_time()
        part = load_component("suspended", [path])
        fast, fast_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        assert len(part.records) == rows == floor_count

        sample = 100_000 if rows > 100_000 else rows
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            raw = [next(reader) for _ in range(sample)]
        start = time.perf_counter()
        for item in raw:
            SuspensionRow.model_validate(item)
        model = (time.perf_counter() - start) * rows / sample

    print(f"rows: {rows:,} ({size_mb:.0f} MB CSV)")
    print(f"importer (parse+validate+records): {fast:6.2f} s  {rows / fast:,.0f} rows/s  target ≤ 5 s")
    print(f"importer CPU time (one core):      {fast_cpu:6.2f} s  (less sensitive to other jobs)")
    print(f"baseline csv.reader only:          {floor:6.2f} s  importer/floor = {fast / floor:.1f}x")
    print(
        f"baseline pydantic row model:       {model:6.2f} s  (scaled from {sample:,})  "
        f"model/importer = {model / fast:.1f}x"
    )
    print("note: shared 2-core machine, other jobs running; figures are noisy (±20 %)")


if __name__ == "__main__":
    main()
