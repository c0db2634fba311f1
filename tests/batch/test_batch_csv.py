"""`screen_csv`: the CSV format in and out, bad rows, chunking, encodings."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime
from pathlib import Path

import pytest
from batchmix import PEERS, realistic_mix

from sipcheck.batch import BatchError, BatchTables, screen_csv
from sipcheck.batch.csvio import OUTPUT_COLUMNS
from sipcheck.model import Component, Part, RangeCoverage
from sipcheck.policy import CompiledPolicy
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore


def run(
    data: bytes | str,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    **kwargs: object,
) -> tuple[list[list[str]], object]:
    src: io.BytesIO | io.StringIO = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
    out = io.StringIO()
    summary = screen_csv(src, out, None, policy, today, tables=tables, **kwargs)  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(out.getvalue()))), summary


def test_pass_through_columns_quoting_and_verdicts(
    parts: dict[Component, Part],
    tables: BatchTables,
    screener: Screener,
    policy: CompiledPolicy,
    today: date,
    now: datetime,
    tmp_path: Path,
) -> None:
    numbers = realistic_mix(parts, 3_000, seed=11)
    numbers = [n for n in numbers if "\x00" not in n]  # csv cannot carry NUL
    rng = random.Random(12)
    peers = [rng.choice(PEERS) or "" for _ in numbers]
    src = tmp_path / "calls.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["call_id", "start", "caller", "ingress", "note"])
        for i, (number, peer) in enumerate(zip(numbers, peers, strict=True)):
            writer.writerow(
                [f"c{i}", "2026-03-01T10:00:00+09:00", number, peer, f'say "hi", {i}\nsecond line']
            )
    dst = tmp_path / "out.csv"
    summary = screen_csv(src, dst, None, policy, today, tables=tables, chunk_rows=257, progress=False)
    assert not (tmp_path / "out.csv.part").exists()
    with open(dst, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["call_id", "start", "caller", "ingress", "note", *OUTPUT_COLUMNS]
    assert len(rows) == len(numbers) + 1
    assert summary.rows == len(numbers) and summary.bad_rows == 0
    assert sum(summary.by_action.values()) == len(numbers)
    for i, row in enumerate(rows[1:]):
        record = dict(zip(rows[0], row, strict=True))
        assert record["call_id"] == f"c{i}"
        assert record["caller"] == numbers[i]
        assert record["note"] == f'say "hi", {i}\nsecond line'
        verdict = screener.check(numbers[i], peers[i] or None, now=now)
        assert record["action"] == verdict.action.value, numbers[i]
        assert record["reasons"] == ";".join(r.value for r in verdict.reasons)
        assert record["e164"] == (verdict.number.e164 if verdict.number else "")
        assert record["kind"] == (verdict.number.kind.value if verdict.number else "")
        assert record["block"] == (verdict.number.block if verdict.number else "")
        views = {v.role: v for v in verdict.operators}
        assert record["designated_operator"] == (views["designated"].name if "designated" in views else "")
        assert record["designated_status"] == (
            views["designated"].status.value if "designated" in views else ""
        )
        assert record["serving_operator"] == (views["serving"].name if "serving" in views else "")
        assert record["ingress_operator"] == (views["ingress"].name if "ingress" in views else "")
        assert record["data_version"] == verdict.data_version
    assert summary.by_action == {
        a: sum(1 for r in rows[1:] if r[len(rows[0]) - len(OUTPUT_COLUMNS)] == a) for a in summary.by_action
    }


def test_chunk_boundaries_do_not_change_the_output(
    parts: dict[Component, Part], tables: BatchTables, policy: CompiledPolicy, today: date
) -> None:
    numbers = [n for n in realistic_mix(parts, 500, seed=13) if "\x00" not in n]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["caller"])
    writer.writerows([n] for n in numbers)
    outputs = [
        run(buf.getvalue(), tables, policy, today, chunk_rows=size)[0] for size in (1, 2, 7, 499, 10_000)
    ]
    assert all(o == outputs[0] for o in outputs)
    assert len(outputs[0]) == len(numbers) + 1


def test_bom_cp932_and_custom_columns(
    tables: BatchTables, screener: Screener, policy: CompiledPolicy, today: date, now: datetime
) -> None:
    expected = screener.check("0501000 1234", "trunk-certified", now=now).action.value
    text = "番号,経由,備考\n0501000 1234,trunk-certified,東京\n非通知,,匿名\n"
    for data, encoding in (
        (
            ("\ufeff" + text).encode("utf-8"),
            "utf-8",
        ),
        (text.encode("cp932"), "cp932"),
        (("\ufeff" + text), "utf-8"),
    ):
        rows, summary = run(
            data, tables, policy, today, column="番号", ingress_column="経由", encoding=encoding
        )
        assert rows[0][:3] == ["番号", "経由", "備考"], encoding
        assert rows[1][:3] == ["0501000 1234", "trunk-certified", "東京"]
        assert rows[1][3] == expected
        assert rows[1][5] == "+815010001234"
        assert rows[1][12] != ""  # ingress operator resolved
        assert rows[2][2] == "匿名" and rows[2][4] == "anonymous"
        assert summary.rows == 2  # type: ignore[attr-defined]


def test_malformed_rows_are_reported_with_lines_and_skipped(
    tables: BatchTables, policy: CompiledPolicy, today: date
) -> None:
    data = (
        b"caller,note\n"  # 1
        b"0312345678,ok\n"  # 2
        b"0312345679\n"  # 3: one field short
        b'"0312345670","multi\nline"\n'  # 4-5: fine
        b"0312345671,\xff\xfe broken\n"  # 6: not UTF-8
        b"0312345672,a,b\n"  # 7: one field too many
        b"\n"  # 8: blank, ignored
        b'"0312345674"x,quote\n'  # 9: CSV syntax (text after a closing quote)
        b"0312345673,last\n"  # 10
    )
    rows, summary = run(data, tables, policy, today, chunk_rows=2)
    assert [r[0] for r in rows[1:]] == ["0312345678", "0312345670", "0312345673"]
    assert [(b.line, b.reason) for b in summary.bad] == [  # type: ignore[attr-defined]
        (3, "expected 2 fields, got 1"),
        (6, "bytes not valid in utf-8"),
        (7, "expected 2 fields, got 3"),
        (9, "CSV syntax: ',' expected after '\"'"),
    ]
    assert summary.bad_rows == 4  # type: ignore[attr-defined]
    with pytest.raises(BatchError, match=r"<input>:3: expected 2 fields, got 1"):
        run(data, tables, policy, today, strict=True)


def test_unknown_column_names_the_columns_present(
    tables: BatchTables, policy: CompiledPolicy, today: date
) -> None:
    with pytest.raises(BatchError, match=r"no column 'caller'; columns present: 'from', 'to'"):
        run("from,to\n0312345678,0312345679\n", tables, policy, today)
    with pytest.raises(BatchError, match=r"no ingress column 'trunk'; columns present: 'caller'"):
        run("caller\n0312345678\n", tables, policy, today, ingress_column="trunk")
    with pytest.raises(BatchError, match=r"already has output column\(s\) action"):
        run("caller,action\n0312345678,x\n", tables, policy, today)


def test_empty_file_and_header_only(tables: BatchTables, policy: CompiledPolicy, today: date) -> None:
    rows, summary = run(b"", tables, policy, today)
    assert rows == [] and summary.rows == 0  # type: ignore[attr-defined]
    rows, summary = run(b"caller,x\r\n", tables, policy, today)
    assert rows == [["caller", "x", *OUTPUT_COLUMNS]] and summary.rows == 0  # type: ignore[attr-defined]


def test_failed_run_leaves_no_output_file(
    tables: BatchTables, policy: CompiledPolicy, today: date, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("caller\n0312345678\n0312345678,extra\n", encoding="utf-8")
    dst = tmp_path / "out.csv"
    with pytest.raises(BatchError, match=r"in\.csv:3"):
        screen_csv(src, dst, None, policy, today, tables=tables, strict=True)
    assert not dst.exists() and not (tmp_path / "out.csv.part").exists()
    with pytest.raises(BatchError, match="cannot read"):
        screen_csv(tmp_path / "missing.csv", dst, None, policy, today, tables=tables)


def test_reads_the_store_through_parts(
    parts: dict[Component, Part], policy: CompiledPolicy, today: date
) -> None:
    """Given a store and no tables, the data comes from store.part(); a later publish is picked up."""
    store = MemoryStore(parts)
    out = io.StringIO()
    summary = screen_csv(io.StringIO("caller\n0312345678\n"), out, store, policy, today)
    assert summary.data_version == store.status().data_version
    store.publish({Component.BLOCKS: Part(Component.BLOCKS, ())})
    out = io.StringIO()
    summary = screen_csv(io.StringIO("caller\n05010001234\n"), out, store, policy, today)
    assert summary.data_version == store.status().data_version
    assert "designation_unknown" in out.getvalue()  # no blocks and no coverage: nothing is known
    store.publish({Component.BLOCKS: Part(Component.BLOCKS, (), coverage=(RangeCoverage("050", today),))})
    out = io.StringIO()
    screen_csv(io.StringIO("caller\n05010001234\n"), out, store, policy, today)
    assert "block_not_designated" in out.getvalue()  # 050 covered and empty: never designated
