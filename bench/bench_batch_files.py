"""Call-record files screened end to end: rows/s for CSV→CSV, Parquet→Parquet and a Dask cluster.

Each figure has its baseline from the same run: the same reader reading and the same writer
writing the same file without screening (``copy``), so the ratio is what screening costs on top
of I/O. Lines:

  csv copy / csv screen            Arrow CSV reader and writer, one thread (`screen_file`). The copy
                                   parses every field and writes every field back; the screen
                                   parses only the caller column of chunks whose lines need no
                                   quotes (no quote, CR or blank line in the chunk) and writes each
                                   line's own bytes back, then its screened columns: the same
                                   output bytes, less work than the copy's for the input columns
  csv screen, chunks of N rows     the same with smaller chunks: a caller screened in one chunk is
                                   looked up, not screened again, in the next (`PairMemo`)
  csv screen (python engine)       the line-exact reader (`screen_csv`), the engine before Arrow
  parquet copy / parquet screen    Parquet in and out
  dask copy / dask screen, N wk    the file split into --files Parquet files on a LocalCluster of
                                   N worker processes of one thread (`cluster.screen_files`); the
                                   screen includes scattering the tables to every worker

Callers are drawn from a pool of --distinct numbers (`mixed_numbers`: plain, E.164, decorated,
undesignated, invalid, suspended, foreign), as a trunk's records repeat callers; the batch
screens each distinct caller once per chunk, so ``--distinct`` equal to ``--rows`` is the worst
case; later chunks find the callers earlier chunks screened. Arrow's thread pools are set to one
thread for the one-core lines.

    .venv/bin/python bench/bench_batch_files.py [--rows 1000000] [--distinct 100000] [--runs 3] [--only csv]

The machine has 2 cores shared with other work and its speed drifts: each baseline and its screens
are run in turn (copy, screen, copy, screen…) and each figure is a median; compare ratios from one
run.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sipcheck.batch import load_tables, screen_csv
from sipcheck.batch.cluster import jobs_for, screen_files
from sipcheck.batch.columnar import (
    DEFAULT_BATCH_ROWS,
    FileKind,
    _csv_batches,
    _parquet,
    _parquet_batches,
    _Writer,
    screen_file,
)
from sipcheck.batch.synthetic import mixed_numbers, sample_or_synthetic_parts
from sipcheck.policy import PolicyConfig
from sipcheck.store import MemoryStore

DAY = date(2026, 8, 1)


def write_cdrs(path: Path, rows: int, distinct: int, parts: dict) -> None:  # type: ignore[type-arg]
    """A CDR export of ``rows`` calls, ~60 bytes a row, as the issue's 58 MB per million."""
    pool = mixed_numbers(parts, distinct, seed=1)
    rng = random.Random(2)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("call_id,start,caller,callee,duration\n")
        for i in range(rows):
            caller = rng.choice(pool)
            if any(c in caller for c in ',"\n'):
                caller = '"' + caller.replace('"', '""') + '"'
            fh.write(f"c{i},2026-11-01T10:{i % 60:02d}:{i % 59:02d}+09:00,{caller},0312345678,{i % 300}\n")


def copy(src: Path, dst: Path) -> int:
    """The baseline: the engine's own reader and writer, no screening."""
    kind = FileKind.of(src)
    batches = (
        _parquet_batches(_parquet(src), 1 << 20)
        if kind.format == "parquet"
        else _csv_batches(src, None, "utf-8", 1 << 20)
    )
    writer = _Writer(dst)
    rows = 0
    for batch in batches:
        writer.write(batch, None)
        rows += batch.num_rows
    writer.commit()
    return rows


def timed(runs: int, job: Callable[[], object]) -> float:
    """Median wall seconds of ``runs`` runs."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        job()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def timed_together(runs: int, *jobs: Callable[[], object]) -> list[float]:
    """Median wall seconds of each job, the jobs run in turn ``runs`` times: as the machine's speed
    drifts, each job meets the same drift, so their ratios hold where absolute figures do not."""
    seconds: list[list[float]] = [[] for _ in jobs]
    for _ in range(runs):
        for job, took in zip(jobs, seconds, strict=True):
            started = time.perf_counter()
            job()
            took.append(time.perf_counter() - started)
    return [statistics.median(took) for took in seconds]


def line(name: str, rows: int, seconds: float, baseline: float | None = None) -> str:
    """One figure; with its baseline, the rate as a fraction of the baseline's (same run)."""
    ratio = f"   {baseline / seconds:4.2f} of the copy's rate" if baseline else ""
    return f"  {name:38s} {rows / seconds:12,.0f} rows/s  ({seconds:6.2f} s){ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=100_000, help="distinct callers in the file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=8, help="Parquet files for the Dask lines")
    parser.add_argument("--workers", default="1,2", help="Dask worker processes to measure")
    parser.add_argument("--no-python", action="store_true", help="skip the Python engine (slow)")
    parser.add_argument("--chunk-rows", type=int, default=250_000, help="rows per chunk for the chunked line")
    parser.add_argument("--only", choices=["csv", "parquet", "dask"], help="measure one format only")
    args = parser.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    parts, source = sample_or_synthetic_parts()
    tables = load_tables(MemoryStore(parts))
    policy = PolicyConfig().compile()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-files-"))
    try:
        csv_in = work / "calls.csv"
        write_cdrs(csv_in, args.rows, args.distinct, parts)
        size = csv_in.stat().st_size
        print(
            f"bench_batch_files: {args.rows:,} rows, {args.distinct:,} distinct callers, "
            f"{size / 1e6:.0f} MB CSV, data {source}; median of {args.runs}; Arrow thread pools: 1"
        )
        out = work / "out.csv"

        def screen(src: Path, dst: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
            screen_file(src, dst, None, policy, DAY, tables=tables, progress=False, batch_rows=batch_rows)

        if args.only in (None, "csv"):
            csv_copy, csv_screen, chunked = timed_together(
                args.runs,
                lambda: copy(csv_in, out),
                lambda: screen(csv_in, out),
                lambda: screen(csv_in, out, args.chunk_rows),
            )
            print(line("csv copy (baseline)", args.rows, csv_copy))
            print(line("csv screen, arrow engine", args.rows, csv_screen, csv_copy))
            print(line(f"csv screen, chunks of {args.chunk_rows:,} rows", args.rows, chunked, csv_copy))
        if args.only in (None, "csv") and not args.no_python:
            python = timed(
                1, lambda: screen_csv(csv_in, out, None, policy, DAY, tables=tables, progress=False)
            )
            print(line("csv screen, python engine (1 run)", args.rows, python, csv_copy))
            print(f"  arrow engine / python engine: {python / csv_screen:.1f}x")
        pq_in = work / "calls.parquet"
        copy(csv_in, pq_in)
        pq_out = work / "out.parquet"
        if args.only in (None, "parquet"):
            pq_copy, pq_screen = timed_together(
                args.runs, lambda: copy(pq_in, pq_out), lambda: screen(pq_in, pq_out)
            )
            print(line("parquet copy (baseline)", args.rows, pq_copy))
            print(line("parquet screen", args.rows, pq_screen, pq_copy))
        if args.only in (None, "dask"):
            _dask(args, work, pq_in, tables, policy)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _dask(args: argparse.Namespace, work: Path, pq_in: Path, tables: object, policy: object) -> None:
    try:
        import distributed
    except ImportError:
        print("  dask: not installed (pip install 'sipcheck[distributed]')")
        return
    table = pq.read_table(pq_in)
    per_file = -(-table.num_rows // args.files)
    inputs = []
    for i in range(args.files):
        path = work / "dataset" / f"part-{i:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(i * per_file, per_file), path)
        inputs.append(path)
    copy_jobs = jobs_for(inputs, work / "copied")
    screen_jobs = jobs_for(inputs, work / "screened")
    for job in copy_jobs + screen_jobs:
        Path(job.dst).parent.mkdir(parents=True, exist_ok=True)
    figures = {}
    for workers in (int(w) for w in args.workers.split(",")):
        with (
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                worker_dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):

            def copy_all() -> None:
                client.gather(
                    client.map(
                        copy, [Path(j.src) for j in copy_jobs], [Path(j.dst) for j in copy_jobs], pure=False
                    )
                )

            base = timed(args.runs, copy_all)
            run = timed(args.runs, lambda: screen_files(client, screen_jobs, tables, policy, DAY))  # type: ignore[arg-type]
        figures[workers] = run
        print(line(f"dask copy, {workers} worker(s) (baseline)", table.num_rows, base))
        print(line(f"dask screen, {workers} worker(s)", table.num_rows, run, base))
    if 1 in figures and 2 in figures:
        print(f"  dask screen, 2 workers / 1 worker: {figures[1] / figures[2]:.2f}x the rate")


if __name__ == "__main__":
    sys.exit(main())
