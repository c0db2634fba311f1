"""A multi-file Parquet data set screened on a real Dask cluster (LocalCluster, worker processes on
loopback), every row compared with `Screener.check`."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batchmix import COVERED_REASONS, PEERS, realistic_mix
from test_batch_columnar import expected_columns

from sipcheck.batch import BatchError, BatchTables
from sipcheck.batch.cluster import jobs_for, screen_files
from sipcheck.batch.csvio import OUTPUT_COLUMNS
from sipcheck.model import Component, Part
from sipcheck.policy import CompiledPolicy
from sipcheck.screener import Screener

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    # Two worker processes, one thread each: tasks really cross process boundaries (pickling the
    # scattered tables, the policy and the results), as on a cluster.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_a_parquet_data_set_screened_on_two_workers_matches_the_screener(
    client: object,
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
    tmp_path: Path,
) -> None:
    numbers = realistic_mix(parts, 6_000, seed=1)
    rng = random.Random(2)
    peers = [rng.choice(PEERS) or "" for _ in numbers]
    inputs = []
    for part in range(6):
        rows = slice(part * 1000, (part + 1) * 1000)
        path = tmp_path / "in" / f"day={part:02d}" / "calls.parquet"
        path.parent.mkdir(parents=True)
        ids = [f"{part}-{i}" for i in range(1000)]
        pq.write_table(pa.table({"id": ids, "caller": numbers[rows], "ingress": peers[rows]}), path)
        inputs.append(path)
    jobs = jobs_for(inputs, tmp_path / "out")
    assert [job.dst for job in jobs] == [
        str(tmp_path / "out" / f"day={i:02d}" / "calls.parquet") for i in range(6)
    ]
    summaries = screen_files(client, jobs, tables, policy, today)
    assert [s["output"] for s in summaries] == [job.dst for job in jobs]
    assert sum(s["rows"] for s in summaries) == len(numbers)
    workers = {s["worker"] for s in summaries}
    assert len(workers) == 2, f"every file ran on one worker: {workers}"
    got = pa.concat_tables(pq.read_table(job.dst) for job in jobs).to_pylist()
    assert len(got) == len(numbers)
    reasons = {r for row in got for r in row["reasons"].split(";") if r}
    assert {r.value for r in COVERED_REASONS} <= reasons
    for i, row in enumerate(got):
        assert row["id"] == f"{i // 1000}-{i % 1000}"
        expected = expected_columns(screener, numbers[i], peers[i], now)
        assert {c: row[c] for c in OUTPUT_COLUMNS} == expected, f"row {i}: {numbers[i]!r} from {peers[i]!r}"


def test_two_inputs_for_one_output_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="would both be written to"):
        jobs_for([tmp_path / "calls.csv", tmp_path / "calls.parquet"], tmp_path / "out", suffix=".parquet")


def test_a_failing_file_names_itself(
    client: object, tables: BatchTables, policy: CompiledPolicy, today: date, tmp_path: Path
) -> None:
    bad = tmp_path / "calls.parquet"
    pq.write_table(pa.table({"from": ["0312345678"]}), bad)
    with pytest.raises(BatchError, match=r"calls\.parquet: no column 'caller'; columns present: 'from'"):
        screen_files(client, jobs_for([bad], tmp_path / "out"), tables, policy, today)
    assert not (tmp_path / "out" / "calls.parquet").exists()
