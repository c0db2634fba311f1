"""The decision log: one JSON line per screened call, from the library writer, HTTP and the SIP agent;
read back by `sipcheck screen` like a call-record file."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sipcheck.decisionlog import DecisionLog
from sipcheck.decisions import DECISION_FIELDS, decision_record
from sipcheck.policy import PolicyConfig
from sipcheck.sample import sample_parts
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore

NOW = datetime(2026, 8, 1, 1, 32, 5, 123000, tzinfo=UTC)  # 10:32:05 JST


def _screener() -> Screener:
    return Screener(MemoryStore(sample_parts()), PolicyConfig(), clock=lambda: NOW)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_record_says_when_who_how_and_why() -> None:
    verdict = _screener().check("050-9999-0000", "trunk-a")
    record = decision_record(verdict, at=NOW, edge="sip", call_id="abc@host", ingress="127.0.0.2:5060")
    assert tuple(record) == DECISION_FIELDS
    assert record["time"] == "2026-08-01T01:32:05.123Z" and record["call_id"] == "abc@host"
    assert record["action"] == verdict.action.value == "block"
    assert record["reasons"] == ";".join(r.value for r in verdict.reasons)
    assert record["e164"] == "+815099990000" and record["data_version"] == verdict.data_version


def test_the_writer_writes_rotates_and_counts_what_it_drops(tmp_path: Path) -> None:
    screener = _screener()
    log = DecisionLog(tmp_path, "test", max_bytes=20_000, backups=2, queue_max=100_000)
    verdicts = [screener.check(n) for n in ("0352535111", "05099990000", "anonymous")]
    for i in range(300):
        log.record(verdicts[i % 3], at=NOW, edge="library", call_id=str(i))
    assert log.flush(10)
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [
        "decisions-test.jsonl",
        "decisions-test.jsonl.1",
        "decisions-test.jsonl.2",
    ]
    assert all(f.stat().st_size <= 20_000 for f in files)
    kept = [r for f in reversed(files) for r in _lines(f)]
    ids = [int(str(r["call_id"])) for r in kept]
    assert ids == sorted(ids) and ids[-1] == 299  # the newest are kept, in order, none torn
    assert log.written == 300 and log.dropped == 0
    full = DecisionLog(tmp_path / "full", "x", max_bytes=10**6, backups=1, queue_max=3)
    for i in range(1000):  # far faster than the writer wakes: the queue fills
        full.record(verdicts[0], at=NOW, edge="library", call_id=str(i))
    assert full.flush(10)
    full.close()
    assert full.dropped > 0 and full.written + full.dropped == 1000
    assert len(_lines(full.path)) == full.written


def test_http_checks_are_logged_with_their_call_id(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
    from aiohttp.test_utils import TestClient, TestServer
    from apihelpers import api_settings, screener_for

    from sipcheck.api import create_app

    store = MemoryStore(sample_parts())
    settings = api_settings()
    log = DecisionLog(tmp_path, "http-0", max_bytes=10**6, backups=1, queue_max=1000)

    async def body() -> None:
        app = create_app(screener_for(store, settings), store, settings, decisions=log)
        async with TestClient(TestServer(app)) as client:
            one = await client.get("/v1/check/05099990000", params={"call_id": "c-1", "ingress": "trunk-a"})
            assert one.status == 200
            batch = await client.post("/v1/check", json={"numbers": ["0352535111", "bogus"]})
            assert batch.status == 200

    asyncio.run(body())
    assert log.flush(10)
    log.close()
    records = _lines(log.path)
    assert [(r["caller"], r["call_id"], r["edge"], r["action"]) for r in records] == [
        ("05099990000", "c-1", "http", "block"),
        ("0352535111", None, "http", "allow"),
        ("bogus", None, "http", "block"),
    ]
    assert records[0]["ingress"] == "trunk-a" and "block_not_designated" in str(records[0]["reasons"])


def test_screen_reads_a_decision_log_back_like_a_cdr(tmp_path: Path) -> None:
    screener = _screener()
    logs = tmp_path / "logs"
    log = DecisionLog(logs, "sip-5060", max_bytes=10**6, backups=1, queue_max=1000)
    for i, number in enumerate(("0352535111", "05099990000", "09012345678")):
        log.record(screener.check(number), at=NOW, edge="sip", call_id=f"call-{i}")
    assert log.flush(10)
    log.close()
    env = dict(
        os.environ, SIPCHECK_DATA_DIR=str(tmp_path / "data"), SIPCHECK_FIXED_NOW="2026-08-01T12:00:00+09:00"
    )
    env.pop("SIPCHECK_CONFIG", None)
    out = tmp_path / "again.csv"
    result = subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", "screen", str(log.path), "-o", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["call_id"] for r in rows] == ["call-0", "call-1", "call-2"]
    assert [r["logged_action"] for r in rows] == [r["action"] for r in rows]  # same data: same verdicts
    assert rows[1]["action"] == "block" and rows[1]["logged_reasons"] == rows[1]["reasons"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"caller": "0352535111"}\nnot json\n')
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "sipcheck.cli.main",
            "screen",
            str(bad),
            "-o",
            str(tmp_path / "x.csv"),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 4 and f"{bad}:2: not JSON" in refused.stderr, refused.stderr


def test_a_report_over_a_decision_log_counts_per_contractor(tmp_path: Path) -> None:
    from sipcheck.model import Component, Part, RuleAction
    from sipcheck.report.aggregate import aggregate
    from sipcheck.report.read import read_batches
    from sipcheck.rules import make_contractor, make_rule

    hopper = make_contractor(id_="c-hop", names=["渡り商事"])
    rules = (
        make_rule(RuleAction.CONTRACT, prefix="03-5253-5", contractor="c-hop", known_contractors=["c-hop"]),
        make_rule(RuleAction.REFUSE, contractor="c-hop", reference="JUSA-1", known_contractors=["c-hop"]),
        hopper,
    )
    screener = Screener(
        MemoryStore({**sample_parts(), Component.RULES: Part(Component.RULES, rules)}), clock=lambda: NOW
    )
    log = DecisionLog(tmp_path, "http-0", max_bytes=10**6, backups=1, queue_max=1000)
    numbers = ["0352535111", "0352535999", "0352536111", "05099990000"]
    for number in numbers:
        log.record(screener.check(number), at=NOW, edge="http")
    assert log.flush(10)
    log.close()
    assert [r["contractor"] for r in _lines(log.path)] == ["c-hop", "c-hop", "", ""]
    report = aggregate(batch for _source, batch in read_batches([log.path]))
    by_contractor = {row.key: row.counts for row in report.contractor}
    assert by_contractor["c-hop"].calls == 2 and by_contractor["c-hop"].flagged == 2
    assert by_contractor[""].calls == 2
