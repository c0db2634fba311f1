"""`sipcheck screen`, in process: through the store seam with a MemoryStore, and against a real Redis."""

from __future__ import annotations

import contextlib
import csv
import json
import random
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from batchmix import PEERS, realistic_mix

from sipcheck.batch.synthetic import SAMPLE_DAY
from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.cli import screen as screen_cli
from sipcheck.cli.main import main
from sipcheck.model import Component, Part
from sipcheck.policy import CompiledPolicy
from sipcheck.screener import Screener
from sipcheck.settings import RedisSettings, Settings, get_settings
from sipcheck.store import FactStore, MemoryStore

DAY = SAMPLE_DAY.isoformat()


def write_calls(path: Path, numbers: list[str], peers: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "caller", "ingress"])
        writer.writerows([str(i), n, p] for i, (n, p) in enumerate(zip(numbers, peers, strict=True)))


@pytest.fixture
def memory_seam(monkeypatch: pytest.MonkeyPatch, store: MemoryStore) -> MemoryStore:
    """Hand the CLI the session MemoryStore instead of the configured Redis (store injection only)."""

    @contextlib.contextmanager
    def open_memory(_settings: Settings) -> Iterator[FactStore]:
        yield store

    monkeypatch.setattr(screen_cli, "_open_store", open_memory)
    return store


@pytest.fixture
def calls(parts: dict[Component, Part], tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    numbers = [n for n in realistic_mix(parts, 1_500, seed=21) if "\x00" not in n]
    rng = random.Random(22)
    peers = [rng.choice(PEERS) or "" for _ in numbers]
    path = tmp_path / "calls.csv"
    write_calls(path, numbers, peers)
    return path, numbers, peers


def assert_matches(
    out: Path, numbers: list[str], peers: list[str], screener: Screener, now: datetime
) -> None:
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(numbers)
    for row, number, peer in zip(rows, numbers, peers, strict=True):
        verdict = screener.check(number, peer or None, now=now)
        assert row["caller"] == number
        assert row["action"] == verdict.action.value, number
        assert row["reasons"] == ";".join(r.value for r in verdict.reasons), number


def test_screen_command_writes_annotated_csv_and_summary(
    memory_seam: MemoryStore,
    calls: tuple[Path, list[str], list[str]],
    screener: Screener,
    now: datetime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, numbers, peers = calls
    out = tmp_path / "out.csv"
    code = main(["screen", str(src), "-o", str(out), "--date", DAY, "--json-summary", "--chunk-rows", "100"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert_matches(out, numbers, peers, screener, now)
    summary = json.loads(captured.out)
    assert summary["rows"] == len(numbers)
    assert sum(summary["by_action"].values()) == len(numbers)
    assert summary["bad_rows"] == 0
    assert f"screened {len(numbers)} rows" in captured.err
    assert "data version" in captured.err


def test_screen_command_engines_and_formats(
    memory_seam: MemoryStore,
    calls: tuple[Path, list[str], list[str]],
    screener: Screener,
    now: datetime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, numbers, peers = calls
    python_out, arrow_out = tmp_path / "python.csv", tmp_path / "arrow.csv"
    assert (
        main(["screen", str(src), "-o", str(python_out), "--date", DAY, "--engine", "python", "--quiet"]) == 0
    )
    assert main(["screen", str(src), "-o", str(arrow_out), "--date", DAY]) == 0
    assert "engine arrow" in capsys.readouterr().err
    with (
        open(python_out, encoding="utf-8", newline="") as a,
        open(arrow_out, encoding="utf-8", newline="") as b,
    ):
        assert list(csv.reader(a)) == list(csv.reader(b))
    assert_matches(arrow_out, numbers, peers, screener, now)
    parquet = tmp_path / "calls.parquet"
    assert main(["screen", str(src), "-o", str(parquet), "--date", DAY, "--quiet", "--json-summary"]) == 0
    assert json.loads(capsys.readouterr().out)["engine"] == "arrow"
    # Parquet back to CSV: the screened columns are input columns now, so they clash by name.
    assert main(["screen", str(parquet), "-o", str(tmp_path / "again.csv"), "--quiet"]) == 4
    assert "already has output column(s) action" in capsys.readouterr().err
    assert main(["screen", str(src), "-o", str(parquet), "--engine", "python", "--quiet"]) == 4
    assert "--engine python reads and writes plain CSV only" in capsys.readouterr().err
    assert main(["screen", str(src), "-o", "-", "--engine", "arrow", "--quiet"]) == 4
    assert "not standard input/output" in capsys.readouterr().err


def test_screen_command_errors_exit_4(
    memory_seam: MemoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "calls.csv"
    src.write_text("from,to\n0312345678,0312345679\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["screen", str(src), "-o", str(out), "--quiet"]) == 4
    assert "no column 'caller'; columns present: 'from', 'to'" in capsys.readouterr().err
    assert main(["screen", str(src), "-o", str(out), "--column", "from", "--quiet"]) == 0
    assert out.exists()
    assert main(["screen", str(tmp_path / "missing.csv"), "-o", str(out)]) == 4
    assert "no such file" in capsys.readouterr().err
    assert main(["screen", str(src), "-o", str(out), "--column", "from", "--encoding", "nope"]) == 4
    assert "unknown encoding" in capsys.readouterr().err


def test_bad_rows_reported_and_strict(
    memory_seam: MemoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "calls.csv"
    src.write_bytes(b"caller,x\n0312345678,1\n0312345678\n\x81\x82,2\n")
    out = tmp_path / "out.csv"
    assert main(["screen", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{src}:3: expected 2 fields, got 1" in err
    assert f"{src}:4: bytes not valid in utf-8" in err
    assert "bad rows 2" in err
    assert main(["screen", str(src), "-o", str(out), "--encoding", "cp932", "--quiet"]) == 0
    assert main(["screen", str(src), "-o", str(tmp_path / "strict.csv"), "--strict", "--quiet"]) == 4
    assert f"{src}:3: expected 2 fields" in capsys.readouterr().err
    assert not (tmp_path / "strict.csv").exists()


def test_screen_against_real_redis(
    redis_server: EmbeddedRedis,
    parts: dict[Component, Part],
    policy: CompiledPolicy,
    calls: tuple[Path, list[str], list[str]],
    now: datetime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No seam: the CLI opens the configured Redis; the batch reads it through store.part()."""
    redis_store = RedisStore(RedisSettings(url=redis_server.url))
    try:
        redis_store.publish(parts)
        monkeypatch.setenv("SIPCHECK_REDIS__URL", redis_server.url)
        monkeypatch.setenv("SIPCHECK_DATA_DIR", str(tmp_path / "data"))
        get_settings.cache_clear()
        src, numbers, peers = calls
        out = tmp_path / "out.csv"
        assert main(["screen", str(src), "-o", str(out), "--date", DAY, "--quiet"]) == 0
        assert_matches(out, numbers, peers, Screener(MemoryStore(parts), policy), now)
        assert_matches(out, numbers, peers, Screener(redis_store, policy), now)
    finally:
        redis_store.close()
        get_settings.cache_clear()


def test_date_option_changes_certification_day(
    memory_seam: MemoryStore, calls: tuple[Path, list[str], list[str]], tmp_path: Path
) -> None:
    src, _, _ = calls
    early, late = tmp_path / "early.csv", tmp_path / "late.csv"
    assert main(["screen", str(src), "-o", str(early), "--date", "2025-01-01", "--quiet"]) == 0
    assert main(["screen", str(src), "-o", str(late), "--date", date(2026, 7, 1).isoformat(), "--quiet"]) == 0
    assert early.read_text(encoding="utf-8") != late.read_text(encoding="utf-8")


def test_out_dir_screens_a_tree_once_per_data_version(
    memory_seam: MemoryStore,
    calls: tuple[Path, list[str], list[str]],
    screener: Screener,
    now: datetime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A nightly job: every CDR file under a directory, its layout mirrored; the second night
    skips what is unchanged, a changed file is screened again, and new data screens all again."""
    src, numbers, peers = calls
    tree = tmp_path / "cdr"
    for day in ("01", "02"):
        (tree / f"day={day}").mkdir(parents=True)
        (tree / f"day={day}" / "calls.csv").write_bytes(src.read_bytes())
    (tree / "README.txt").write_text("not a CDR file", encoding="utf-8")
    out = tmp_path / "screened"
    argv = [
        "screen",
        str(tree),
        "--out-dir",
        str(out),
        "--to",
        "parquet",
        "--date",
        DAY,
        "--quiet",
        "--json-summary",
    ]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["files_screened"], first["files_skipped"], first["rows"]) == (2, 0, 2 * len(numbers))
    table = pq.read_table(out / "day=02" / "calls.parquet").to_pylist()
    for row, number, peer in zip(table, numbers, peers, strict=True):
        assert row["action"] == screener.check(number, peer or None, now=now).action.value, number
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["files_skipped"] == 2
    with open(tree / "day=01" / "calls.csv", "a", encoding="utf-8") as fh:
        fh.write("9999,0312345678,\n")
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["files_screened"], again["files_skipped"]) == (1, 1)
    assert again["screened"][0]["rows"] == len(numbers) + 1
    # New data (another version): everything is screened again.
    memory_seam.publish({Component.SUSPENSIONS: memory_seam.part(Component.SUSPENSIONS)})
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["files_screened"] == 2
    assert main(["screen", str(tmp_path / "nothing*.csv"), "--out-dir", str(out), "--quiet"]) == 4
    assert "no such file, directory or matching call-record files" in capsys.readouterr().err
    assert main(["screen", str(src), str(src), "-o", str(tmp_path / "x.csv"), "--quiet"]) == 4
    assert "-o takes one input" in capsys.readouterr().err
