"""The batch screen beyond one machine: many call-record files over a Dask cluster.

A month of CDRs arrives as many files (or a partitioned Parquet data set). `screen_files` sends
the compiled designation data to every worker once: pickled once on the client (~11 MB for the
built-in data set, 0.2 s), scattered as those bytes to every worker, unpickled once per worker
and kept for its tasks. (Scattering the tables object itself took 2.3 s: Dask walks it with its
own serialisers.) Then it screens one file per task with `columnar.screen_file`, the same code
and the same `policy.decide` a single machine runs, writing one output file per input. Nothing
is gathered to the client but the summaries, so the cluster's disks, not the client, carry the rows.

Dask (``dask.distributed``) is an optional dependency (``pip install 'sipcheck[distributed]'``);
Spark users call `arrowscreen.screen_batch` from ``mapInArrow`` instead (docs/batch.md).
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sipcheck.batch.columnar import screen_file
from sipcheck.batch.csvio import BatchSummary
from sipcheck.batch.tables import BatchTables
from sipcheck.ingress import IngressMap
from sipcheck.policy import CompiledPolicy


@dataclass(frozen=True, slots=True)
class FileJob:
    """One input file and where its screened copy goes."""

    src: str
    dst: str


def jobs_for(inputs: Sequence[Path | str], out_dir: Path | str, suffix: str | None = None) -> list[FileJob]:
    """One job per input, its output under ``out_dir`` at the input's path below the inputs'
    common directory, so a partitioned data set (``day=01/part-0.parquet``…) keeps its layout.
    ``suffix`` replaces each name's format suffix (".parquet": CSV in, Parquet out). Two inputs
    that would write one output are refused."""
    paths = [Path(item).resolve() for item in inputs]
    root = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    jobs: list[FileJob] = []
    seen: dict[Path, Path] = {}
    for path in paths:
        relative = path.relative_to(root)
        if suffix is not None:
            relative = relative.with_name(relative.name.split(".", 1)[0] + suffix)
        dst = Path(out_dir) / relative
        if dst in seen:
            raise ValueError(f"{seen[dst]} and {path} would both be written to {dst}")
        seen[dst] = path
        jobs.append(FileJob(str(path), str(dst)))
    return jobs


_loaded: dict[int, tuple[bytes, BatchTables]] = {}
_loading = threading.Lock()


def _tables_from(blob: bytes) -> BatchTables:
    """The tables in ``blob``, unpickled once per worker process: every task of one run receives the
    same scattered bytes object, so its identity is the key (the bytes are kept, so it is not reused)."""
    with _loading:
        hit = _loaded.get(id(blob))
        if hit is not None and hit[0] is blob:
            return hit[1]
        tables = pickle.loads(blob)
        if not isinstance(tables, BatchTables):
            raise TypeError(f"expected BatchTables, got {type(tables).__name__}")
        _loaded.clear()  # one run's data at a time
        _loaded[id(blob)] = (blob, tables)
        return tables


def _screen_job(
    job: FileJob,
    blob: bytes,
    policy: CompiledPolicy,
    today: date,
    column: str,
    ingress_column: str | None,
    ingress_map: IngressMap | None,
) -> dict[str, Any]:
    from distributed import get_worker  # on the worker: where this job ran

    tables = _tables_from(blob)
    Path(job.dst).parent.mkdir(parents=True, exist_ok=True)
    summary: BatchSummary = screen_file(
        job.src,
        job.dst,
        None,
        policy,
        today,
        column=column,
        ingress_column=ingress_column,
        progress=False,
        tables=tables,
        ingress_map=ingress_map,
    )
    return {**summary.to_dict(), "output": job.dst, "worker": get_worker().address}


def screen_files(
    client: Any,
    jobs: Sequence[FileJob],
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    *,
    column: str = "caller",
    ingress_column: str | None = None,
    ingress_map: IngressMap | None = None,
) -> list[dict[str, Any]]:
    """Screen every job's file on ``client``'s cluster (a ``distributed.Client``). Returns each
    job's summary (`BatchSummary.to_dict` plus ``output`` and the ``worker`` it ran on), in the
    jobs' order. A job that fails raises its error here, naming its file (`BatchError` as on one
    machine)."""
    shared = client.scatter(pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL), broadcast=True)
    futures = [
        client.submit(
            _screen_job, job, shared, policy, today, column, ingress_column, ingress_map, pure=False
        )
        for job in jobs
    ]
    results: list[dict[str, Any]] = client.gather(futures)
    return results


__all__ = ["FileJob", "jobs_for", "screen_files"]
