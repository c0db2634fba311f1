"""The Arrow path: `screen_batch` row by row against `Screener.check`, and `screen_file` against the
line-exact Python CSV path, in every format it reads and writes."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import random
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from batchmix import COVERED_REASONS, PEERS, realistic_mix

from sipcheck.batch import BatchError, BatchTables, load_tables, screen_csv
from sipcheck.batch import columnar as _columns_module
from sipcheck.batch.arrowscreen import MEMO_PAIRS, PairMemo, Screened, screen_batch, screen_pairs
from sipcheck.batch.columnar import FileKind, screen_file
from sipcheck.batch.csvio import OUTPUT_COLUMNS, signature_columns
from sipcheck.model import Component, Part, Suspension
from sipcheck.policy import CompiledPolicy, PolicyConfig
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action


def expected_columns(screener: Screener, caller: str, peer: str | None, now: datetime) -> dict[str, str]:
    """The output columns `Screener.check` implies for one row."""
    verdict = screener.check(caller, peer or None, now=now)
    action, reasons, d_name, d_status, s_name, i_name, version = signature_columns(verdict)
    number = verdict.number
    return {
        "action": action,
        "reasons": reasons,
        "e164": number.e164 if number else "",
        "kind": number.kind.value if number else "",
        "block": number.block if number else "",
        "designated_operator": d_name,
        "designated_status": d_status,
        "serving_operator": s_name,
        "ingress_operator": i_name,
        "data_version": version,
    }


def test_a_record_batch_gets_the_screener_verdict_on_every_row(
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    # Repeats on purpose: the batch screens each distinct (caller, ingress) pair once.
    numbers = realistic_mix(parts, 6_000, seed=1)
    rng = random.Random(22)
    numbers += rng.choices(numbers, k=2_000)
    peers = [rng.choice(PEERS) for _ in numbers]
    batch = pa.record_batch(
        {"id": [str(i) for i in range(len(numbers))], "caller": numbers, "ingress": peers}
    )
    out, counts = screen_batch(batch, tables, policy, today)
    assert out.schema.names == ["id", "caller", "ingress", *OUTPUT_COLUMNS]
    assert out.column("id").to_pylist() == batch.column("id").to_pylist()
    rows = out.to_pylist()
    reasons: set[str] = set()
    for i, (caller, peer) in enumerate(zip(numbers, peers, strict=True)):
        got = {name: rows[i][name] for name in OUTPUT_COLUMNS}
        assert got == expected_columns(screener, caller, peer, now), f"row {i}: {caller!r} from {peer!r}"
        reasons.update(filter(None, got["reasons"].split(";")))
    assert counts.rows == len(numbers) and counts.distinct < len(numbers)
    assert sum(counts.by_action.values()) == len(numbers) and all(counts.by_action[a.value] for a in Action)
    # The comparison covers every reason the mix can give, not just the easy ones.
    assert {r.value for r in COVERED_REASONS} <= reasons, {r.value for r in COVERED_REASONS} - reasons


def test_nulls_and_dictionary_columns_read_as_text(
    tables: BatchTables, screener: Screener, policy: CompiledPolicy, today: date, now: datetime
) -> None:
    callers = pa.array(["0312345678", None, "anonymous", "0312345678"]).dictionary_encode()
    out, _ = screen_batch(pa.record_batch({"caller": callers}), tables, policy, today)
    expected = [
        expected_columns(screener, c, None, now) for c in ("0312345678", "", "anonymous", "0312345678")
    ]
    assert out.select(list(OUTPUT_COLUMNS)).to_pylist() == expected


def test_numbers_stored_as_integers_are_refused(
    tables: BatchTables, policy: CompiledPolicy, today: date
) -> None:
    batch = pa.record_batch({"caller": pa.array([312345678], pa.int64())})
    with pytest.raises(BatchError, match=r"<batch>: column 'caller' is int64, not text.*leading 0"):
        screen_batch(batch, tables, policy, today)


def write_calls(path: Path, numbers: list[str], peers: list[str]) -> None:
    """A CDR file as exports write them: quoted fields with commas, quotes and line breaks inside."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["call_id", "start", "caller", "ingress", "note"])
        for i, (number, peer) in enumerate(zip(numbers, peers, strict=True)):
            note = f'say "hi", {i}\nsecond line' if i % 97 == 0 else f"n{i}"
            writer.writerow([f"c{i}", "2026-03-01T10:00:00+09:00", number, peer, note])


def read_rows(path: Path) -> list[list[str]]:
    if FileKind.of(path).format == "parquet":
        table = pq.read_table(path)
        return [table.column_names, *([str(v) for v in row.values()] for row in table.to_pylist())]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def calls(parts: dict[Component, Part], tmp_path_factory: pytest.TempPathFactory) -> Path:
    numbers = [n for n in realistic_mix(parts, 5_000, seed=31) if "\x00" not in n]
    rng = random.Random(32)
    path = tmp_path_factory.mktemp("columnar") / "calls.csv"
    write_calls(path, numbers, [rng.choice(PEERS) or "" for _ in numbers])
    return path


@pytest.fixture(scope="module")
def python_rows(calls: Path, tables: BatchTables, policy: CompiledPolicy, today: date) -> list[list[str]]:
    """What the line-exact Python path writes for the same file: the Arrow path must match it."""
    out = calls.with_name("python.csv")
    screen_csv(calls, out, None, policy, today, tables=tables, progress=False)
    return read_rows(out)


def test_csv_to_csv_matches_the_python_path_in_several_batches(
    calls: Path, python_rows: list[list[str]], tables: BatchTables, policy: CompiledPolicy, today: date
) -> None:
    out = calls.with_name("arrow.csv")
    summary = screen_file(calls, out, None, policy, today, tables=tables, batch_rows=300, progress=False)
    assert summary.engine == "arrow" and summary.rows == len(python_rows) - 1 and summary.bad_rows == 0
    assert read_rows(out) == python_rows
    assert not out.with_name("arrow.csv.part").exists()
    # Unquoted where nothing needs quotes, as Python's csv module writes: the header too.
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(python_rows[0])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed_csv_and_parquet_in_and_out(
    codec: str,
    calls: Path,
    python_rows: list[list[str]],
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    tmp_path: Path,
) -> None:
    suffix = {"gzip": ".csv.gz", "zstd": ".csv.zst"}[codec]
    packed = tmp_path / f"calls{suffix}"
    with pa.output_stream(str(packed), compression=codec) as sink:
        sink.write(calls.read_bytes())
    as_parquet = tmp_path / "screened.parquet"
    summary = screen_file(packed, as_parquet, None, policy, today, tables=tables, progress=False)
    assert summary.rows == len(python_rows) - 1
    assert read_rows(as_parquet) == python_rows
    # Parquet in (every input column kept as it was), gzip CSV out.
    plain = tmp_path / "calls.parquet"
    pq.write_table(pacsv.read_csv(calls, convert_options=_all_text(calls)), plain)
    back = tmp_path / "screened.csv.gz"
    screen_file(plain, back, None, policy, today, tables=tables, progress=False)
    assert read_rows(back) == python_rows


def _all_text(path: Path) -> pacsv.ConvertOptions:
    names = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    return pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)


BAD = (
    b"caller,note\n"  # 1
    b"0312345678,ok\n"  # 2
    b"0312345679\n"  # 3: one field short
    b'"0312345670","multi\nline"\n'  # 4-5: fine
    b"0312345672,a,b\n"  # 6: one field too many
    b"\n"  # 7: blank, ignored
    b"0312345673,last\n"  # 8
)


@pytest.mark.parametrize("tail", [b"", b"0312345671,\xff\xfe broken\n0312345675,after\n"])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_damaged_file_is_screened_line_exact_by_the_python_reader(
    tail: bytes, suffix: str, tables: BatchTables, policy: CompiledPolicy, today: date, tmp_path: Path
) -> None:
    """Arrow counts records (the multi-line record above makes line 6 its record 5) and cannot
    place bad bytes: the line-exact reader takes a damaged file over, and says so."""
    data = BAD + tail
    plain = tmp_path / "plain.csv"
    plain.write_bytes(data)
    src = tmp_path / f"bad{suffix}"
    src.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    out = tmp_path / "out.csv"
    summary = screen_file(src, out, None, policy, today, tables=tables, progress=False)
    python = screen_csv(plain, tmp_path / "py.csv", None, policy, today, tables=tables, progress=False)
    assert summary.engine.startswith("python (the Arrow reader stopped: ")
    assert summary.source == str(src)
    bad = [(b.line, b.reason) for b in summary.bad]
    assert bad == [(b.line, b.reason) for b in python.bad]
    assert bad[:2] == [(3, "expected 2 fields, got 1"), (6, "expected 2 fields, got 3")]
    assert ((9, "bytes not valid in utf-8") in bad) == bool(tail)
    assert read_rows(out) == read_rows(tmp_path / "py.csv")
    with pytest.raises(BatchError, match=r"bad\.csv(\.gz)?:3: expected 2 fields, got 1"):
        screen_file(src, tmp_path / "strict.csv", None, policy, today, tables=tables, strict=True)
    assert not (tmp_path / "strict.csv").exists() and not (tmp_path / "strict.csv.part").exists()


def test_header_only_bad_names_and_a_failed_run_leave_nothing_behind(
    tables: BatchTables, policy: CompiledPolicy, today: date, tmp_path: Path
) -> None:
    src = tmp_path / "empty.csv"
    src.write_text("caller,x\n", encoding="utf-8")
    screen_file(src, tmp_path / "empty-out.csv", None, policy, today, tables=tables, progress=False)
    assert read_rows(tmp_path / "empty-out.csv") == [["caller", "x", *OUTPUT_COLUMNS]]
    src.write_text("from,to\n0312345678,0312345679\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"no column 'caller'; columns present: 'from', 'to'"):
        screen_file(src, tmp_path / "out.csv", None, policy, today, tables=tables)
    assert list(tmp_path.glob("out.csv*")) == []
    src.write_text("caller,x,caller\n1,2,3\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"appear twice in the header: 'caller'"):
        screen_file(src, tmp_path / "out.csv", None, policy, today, tables=tables)
    with pytest.raises(BatchError, match="Parquet compresses its own pages"):
        screen_file(src, tmp_path / "out.parquet.gz", None, policy, today, tables=tables)
    with pytest.raises(BatchError, match="no such file"):
        screen_file(tmp_path / "missing.csv", tmp_path / "out.csv", None, policy, today, tables=tables)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(BatchError, match="not a readable Parquet file"):
        screen_file(tmp_path / "junk.parquet", tmp_path / "out.csv", None, policy, today, tables=tables)
    assert list(tmp_path.glob("out*")) == []


def test_cp932_input(
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
    tmp_path: Path,
) -> None:
    src = tmp_path / "sjis.csv"
    src.write_bytes("発信者,備考\n0312345678,東京\n".encode("cp932"))
    out = tmp_path / "out.csv"
    summary = screen_file(
        src, out, None, policy, today, tables=tables, column="発信者", encoding="cp932", progress=False
    )
    assert summary.engine == "arrow"
    rows = read_rows(out)
    assert (
        rows[1][:2] == ["0312345678", "東京"]
        and rows[1][2] == expected_columns(screener, "0312345678", None, now)["action"]
    )


def test_summary_is_json_ready(calls: Path, tables: BatchTables, policy: CompiledPolicy, today: date) -> None:
    summary = screen_file(calls, calls.with_name("j.csv"), None, policy, today, tables=tables, progress=False)
    data = summary.to_dict()
    assert data["engine"] == "arrow" and data["rows"] == summary.rows and data["distinct"] == summary.distinct
    assert sum(data["by_action"].values()) == summary.rows
    assert json.loads(json.dumps(data)) == data


def _plain_rows(parts: dict[Component, Part], count: int, seed: int) -> list[list[str]]:
    """CDR rows whose fields need no quotes (the common export): the path that keeps the lines."""
    rng = random.Random(seed)
    numbers = [n for n in realistic_mix(parts, count, seed=seed) if not any(c in n for c in ',"\r\n\x00')]
    return [[f"c{i}", number, rng.choice(PEERS) or "", f"n{i}"] for i, number in enumerate(numbers)]


def _lf_bytes(path: Path) -> bytes:
    """The rows of a CSV file as the Arrow engine writes them: Python's csv quoting, LF line ends."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(read_rows(path))
    return out.getvalue().encode("utf-8")


def _write_lines(path: Path, rows: list[list[str]], end: str = "\n") -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator=end).writerows([["call_id", "caller", "ingress", "note"], *rows])


@pytest.mark.parametrize("codec", [None, "gzip"])
def test_lines_kept_as_read_then_quoted_lines_give_the_python_paths_bytes(
    codec: str | None,
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
    tmp_path: Path,
) -> None:
    """Chunks of plain lines are written back as read, each with its screened columns; from the
    first chunk with a quoted field on, Arrow's reader takes over: the bytes are the Python
    engine's rows as the field-by-field writer writes them either way (minimal quotes, LF), and
    every row has `Screener.check`'s verdict."""
    rows = _plain_rows(parts, 12_000, seed=41)
    for i in range(9_000, len(rows), 50):
        rows[i][3] = f'say "hi", {i}\nsecond line'  # quotes only late in the file
    plain = tmp_path / "calls.csv"
    _write_lines(plain, rows)
    data = plain.read_bytes().rstrip(b"\n")  # and no line end after the last record
    plain.write_bytes(data)
    src = plain if codec is None else tmp_path / "calls.csv.gz"
    if codec is not None:
        src.write_bytes(gzip.compress(data))
    # 64 KiB chunks: several keep their lines before the quotes start.
    types = _columns_module._all_text(plain, None, "utf-8")
    chunks = _columns_module._csv_chunks(src, codec, "utf-8", 300, types, ["caller", "ingress"])
    kept = [c.lines is not None for c in chunks]
    assert kept.count(True) >= 3 and kept[-1] is False, kept
    out = tmp_path / "arrow.csv"
    summary = screen_file(src, out, None, policy, today, tables=tables, batch_rows=300, progress=False)
    python = tmp_path / "python.csv"
    screen_csv(plain, python, None, policy, today, tables=tables, progress=False)
    assert summary.engine == "arrow" and summary.rows == len(rows)
    assert out.read_bytes() == _lf_bytes(python)
    got = read_rows(out)
    assert got[0] == ["call_id", "caller", "ingress", "note", *OUTPUT_COLUMNS]
    for i, (row, line) in enumerate(zip(rows, got[1:], strict=True)):
        assert line[:4] == row, f"row {i}"
        expected = expected_columns(screener, row[1], row[2], now)
        assert dict(zip(OUTPUT_COLUMNS, line[4:], strict=True)) == expected, f"row {i}: {row[1]!r}"


@pytest.mark.parametrize("shape", ["crlf", "crlf mid-file", "blank lines", "one chunk"])
def test_lines_the_writer_would_change_are_not_kept(
    shape: str,
    parts: dict[Component, Part],
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    tmp_path: Path,
) -> None:
    """CRLF line ends and blank lines are not written back as read: the output is the Python
    engine's rows with LF ends and no blank lines, whether the odd line comes first or mid-file."""
    rows = _plain_rows(parts, 3_000, seed=43)
    src = tmp_path / "calls.csv"
    _write_lines(src, rows, "\r\n" if shape == "crlf" else "\n")
    text = src.read_bytes().split(b"\n")
    if shape == "blank lines":
        text[2_500:2_500] = [b"", b""]
    elif shape == "crlf mid-file":
        text[2_500:] = [line + b"\r" for line in text[2_500:-1]] + [b""]
    src.write_bytes(b"\n".join(text))
    out, python = tmp_path / "arrow.csv", tmp_path / "python.csv"
    batch_rows = 300 if shape != "one chunk" else 1 << 20
    summary = screen_file(src, out, None, policy, today, tables=tables, batch_rows=batch_rows, progress=False)
    screen_csv(src, python, None, policy, today, tables=tables, progress=False)
    assert summary.engine == "arrow" and summary.rows == len(rows)
    assert out.read_bytes() == _lf_bytes(python)
    assert b"\r" not in out.read_bytes() and b"\n\n" not in out.read_bytes()


@pytest.mark.parametrize("damage", ["bad bytes", "short row"])
def test_damage_in_a_kept_line_still_goes_to_the_line_exact_reader(
    damage: str,
    parts: dict[Component, Part],
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    tmp_path: Path,
) -> None:
    """The kept lines are checked as Arrow's reader checks every field: bytes invalid in UTF-8 in a
    column that is not screened, or a row with too few fields, hand the file to the Python reader,
    which names the line."""
    rows = _plain_rows(parts, 3_000, seed=44)
    src = tmp_path / "calls.csv"
    _write_lines(src, rows)
    lines = src.read_bytes().split(b"\n")
    lines[2_000] = lines[2_000] + b"\xff\xfe" if damage == "bad bytes" else b"0312345678,x"
    src.write_bytes(b"\n".join(lines))
    out = tmp_path / "out.csv"
    summary = screen_file(src, out, None, policy, today, tables=tables, batch_rows=300, progress=False)
    assert summary.engine.startswith("python (the Arrow reader stopped: ")
    reason = "bytes not valid in utf-8" if damage == "bad bytes" else "expected 4 fields, got 2"
    assert [(b.line, b.reason) for b in summary.bad] == [(2_001, reason)]
    assert summary.rows == len(rows) - 1


def _expect_rows(
    screened: Screened, callers: list[str], peers: list[str] | None, screener: Screener, now: datetime
) -> None:
    columns = [c.to_pylist() for c in screened.columns()]
    for i, caller in enumerate(callers):
        peer = None if peers is None else peers[i]
        got = {name: values[i] for name, values in zip(OUTPUT_COLUMNS, columns, strict=True)}
        assert got == expected_columns(screener, caller, peer, now), f"row {i}: {caller!r} from {peer!r}"


@pytest.mark.parametrize("limit", [MEMO_PAIRS, 150])
def test_pairs_remembered_across_chunks_get_the_screener_verdict(
    limit: int,
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    """Chunks that repeat earlier chunks' pairs take their answers from the memo (and a memo that
    fills up starts again from the latest chunk): every row still has `Screener.check`'s verdict."""
    pool = realistic_mix(parts, 600, seed=52)
    rng = random.Random(53)
    memo = PairMemo(limit=limit)
    seen = 0
    for chunk in range(5):
        callers = rng.choices(pool, k=400)
        peers = [rng.choice(PEERS) or "" for _ in callers]
        screened = screen_pairs(pa.array(callers), pa.array(peers), tables, policy, today, memo=memo)
        _expect_rows(screened, callers, peers, screener, now)
        assert sum(screened.counts.by_action.values()) == len(callers)
        assert len(memo) <= limit
        if chunk:
            assert memo.hits > seen  # later chunks found pairs already screened
        seen = memo.hits
    # The CSV text the file path writes is built from the same remembered columns.
    tails = [next(csv.reader([t])) for t in screened.csv_tails().to_pylist()]
    assert tails == [list(r) for r in zip(*(c.to_pylist() for c in screened.columns()), strict=True)]


def test_a_memo_never_answers_for_other_data_policy_or_day(
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
) -> None:
    """A memo is emptied when called with another tables object (here: the same data plus
    suspensions of numbers it already answered for), policy or day."""
    callers = realistic_mix(parts, 800, seed=54)
    japanese = [
        c
        for c in callers
        if (n := screener.check(c, now=now).number) is not None and n.e164.startswith("+81")
    ]
    assert len(japanese) > 50
    suspensions = parts[Component.SUSPENSIONS]
    more = tuple(Suspension(screener.check(c, now=now).number.e164) for c in japanese[:50])  # type: ignore[union-attr]
    other_parts = {
        **parts,
        Component.SUSPENSIONS: dataclasses.replace(suspensions, records=suspensions.records + more),
    }
    other_store = MemoryStore(other_parts)
    other_tables, other_screener = load_tables(other_store), Screener(other_store, policy)
    memo = PairMemo()
    first = screen_pairs(pa.array(callers), None, tables, policy, today, memo=memo)
    _expect_rows(first, callers, None, screener, now)
    again = screen_pairs(pa.array(callers), None, tables, policy, today, memo=memo)
    assert memo.hits == first.counts.distinct  # the same scope: every pair remembered
    hits = memo.hits
    second = screen_pairs(pa.array(callers), None, other_tables, policy, today, memo=memo)
    assert memo.hits == hits  # other tables: nothing taken from the memo
    _expect_rows(second, callers, None, other_screener, now)
    assert first.counts.by_action != second.counts.by_action  # the suspensions changed verdicts
    assert again.counts.by_action == first.counts.by_action
    later = date.fromordinal(today.toordinal() + 400)
    screen_pairs(pa.array(callers), None, other_tables, policy, later, memo=memo)
    screen_pairs(pa.array(callers), None, other_tables, PolicyConfig().compile(), later, memo=memo)
    assert memo.hits == hits


def test_a_file_whose_callers_come_back_in_later_chunks(
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
    tmp_path: Path,
) -> None:
    """End to end: the second half of the file repeats the first half's callers from other peers
    and in another order, chunks of ~1,500 rows; every row is `Screener.check`'s."""
    first = _plain_rows(parts, 4_000, seed=55)
    rng = random.Random(56)
    again = [
        [f"r{i}", row[1], rng.choice(PEERS) or "", "x"] for i, row in enumerate(rng.sample(first, len(first)))
    ]
    rows = first + again + first[:500]
    src = tmp_path / "calls.csv"
    _write_lines(src, rows)
    out = tmp_path / "out.csv"
    summary = screen_file(src, out, None, policy, today, tables=tables, batch_rows=300, progress=False)
    assert summary.rows == len(rows) and summary.engine == "arrow"
    got = read_rows(out)[1:]
    for i, (row, line) in enumerate(zip(rows, got, strict=True)):
        assert line[:4] == row
        assert dict(zip(OUTPUT_COLUMNS, line[4:], strict=True)) == expected_columns(
            screener, row[1], row[2], now
        ), i


def test_remembered_pairs_are_told_apart_by_caller_and_peer_both(
    tables: BatchTables, screener: Screener, policy: CompiledPolicy, today: date, now: datetime
) -> None:
    """A caller and a peer that run together into another pair's text are another pair."""
    memo = PairMemo()
    for callers, peers in ((["0312345678"], [""]), (["031234567", "03123456"], ["8", "78"])):
        screened = screen_pairs(pa.array(callers), pa.array(peers), tables, policy, today, memo=memo)
        _expect_rows(screened, callers, peers, screener, now)
    assert memo.hits == 0
