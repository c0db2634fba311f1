"""A month of screened traffic and a decision log, for the report tests (imported by them).

The calls are screened for real: the CDR halves go through `sipcheck.batch.screen_csv` (what
`sipcheck screen --engine python` runs) against the synthetic data set in a MemoryStore, the
first half of November at data version 1 and the second half at version 2 (more suspensions
published); the decision log holds `decision_record`s of real `Screener.check` verdicts.
`expected` recounts whatever a report says from the rows themselves, with the standard library.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sipcheck.batch import load_tables, screen_csv
from sipcheck.batch.synthetic import SAMPLE_DAY, mixed_numbers, number_in
from sipcheck.decisions import decision_record
from sipcheck.model import Block, Component, Part, Suspension
from sipcheck.policy import PolicyConfig
from sipcheck.report.aggregate import Counts, Report, Row
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore

JST = timezone(timedelta(hours=9))
PEERS = (
    "trunk-certified",
    "trunk-provisional",
    "trunk-revoked",
    "10.0.0.7",
    "trunk-ghost",
    "not-a-trunk",
    "",
)
MONTH_START = datetime(2026, 11, 1, tzinfo=JST)
MONTH_END = datetime(2026, 12, 1, tzinfo=JST)
HALF = datetime(2026, 11, 16, tzinfo=JST)
CALLS = 50_000
NOW = datetime(SAMPLE_DAY.year, SAMPLE_DAY.month, SAMPLE_DAY.day, 3, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Month:
    screened: tuple[Path, Path]  # first half (data version 1, ISO times with offset), second (v2, naive JST)
    rows: list[dict[str, str]]  # every screened row of both, as csv.DictReader reads them
    store: MemoryStore  # at data version 2


def _cdr(path: Path, moments: list[datetime], numbers: list[str], peers: list[str], naive: bool) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "time", "caller", "ingress", "duration"])
        for i, (moment, number, peer) in enumerate(zip(moments, numbers, peers, strict=True)):
            local = moment.astimezone(JST)
            text = local.strftime("%Y-%m-%d %H:%M:%S") if naive else local.isoformat()
            writer.writerow([f"c{i}", text, number, peer, str(i % 300)])


def make_month(parts: dict[Component, Part], directory: Path) -> Month:
    rng = random.Random(41)
    store = MemoryStore(parts)
    policy = PolicyConfig().compile()
    numbers = mixed_numbers(parts, CALLS, seed=42)
    # Some repeat callers, so the top numbers are not all ties at 1.
    hot = numbers[:40]
    numbers = [rng.choice(hot) if rng.random() < 0.03 else n for n in numbers]
    span = int((MONTH_END - MONTH_START).total_seconds())
    moments = sorted(MONTH_START + timedelta(seconds=rng.randrange(span)) for _ in numbers)
    peers = [rng.choice(PEERS) for _ in numbers]
    cut = next(i for i, m in enumerate(moments) if m >= HALF)
    halves = ((0, cut), (cut, len(numbers)))
    screened: list[Path] = []
    for half, (lo, hi) in enumerate(halves):
        if half == 1:
            # Data version 2: suspend some numbers in designated blocks (the second half's data).
            blocks = [b.prefix for b in parts[Component.BLOCKS].records if isinstance(b, Block)]
            extra = tuple(Suspension("+81" + number_in(rng.choice(blocks), rng)[1:]) for _ in range(200))
            old = parts[Component.SUSPENSIONS]
            store.publish({Component.SUSPENSIONS: Part(Component.SUSPENSIONS, old.records + extra)})
        cdr = directory / f"cdr-{half + 1}.csv"
        _cdr(cdr, moments[lo:hi], numbers[lo:hi], peers[lo:hi], naive=half == 1)
        out = directory / f"screened-{half + 1}.csv"
        screen_csv(cdr, out, None, policy, SAMPLE_DAY, tables=load_tables(store), progress=False)
        screened.append(out)
    rows: list[dict[str, str]] = []
    for path in screened:
        with open(path, encoding="utf-8", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    assert len(rows) == CALLS
    return Month((screened[0], screened[1]), rows, store)


def make_decision_log(store: MemoryStore, path: Path, count: int = 3_000) -> list[dict[str, Any]]:
    """Decision records of real verdicts, their moments from 2026-10-28 to 2026-12-04 JST."""
    rng = random.Random(43)
    screener = Screener(store, PolicyConfig().compile())
    parts = {c: store.part(c) for c in (Component.BLOCKS, Component.SUSPENSIONS)}
    numbers = mixed_numbers(parts, count, seed=44)
    start = datetime(2026, 10, 28, tzinfo=JST)
    span = int((datetime(2026, 12, 4, tzinfo=JST) - start).total_seconds())
    records = []
    for i, number in enumerate(numbers):
        peer = rng.choice(PEERS) or None
        verdict = screener.check(number, peer, now=NOW)
        at = start + timedelta(seconds=rng.randrange(span), milliseconds=rng.randrange(1000))
        records.append(decision_record(verdict, at=at, edge="sip", call_id=f"d{i}", ingress=peer))
    # Exactly on the window's edges: since is in, until is out.
    for i, at in enumerate((MONTH_START, MONTH_END, MONTH_END - timedelta(milliseconds=1))):
        verdict = screener.check("05099990000", None, now=NOW)
        records.append(decision_record(verdict, at=at, edge="http", call_id=f"edge{i}"))
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            if rng.random() < 0.01:
                fh.write("\n")  # blank lines are allowed
    return records


def moment_of(row: dict[str, Any]) -> datetime:
    """A row's moment as a reader of the file would take it: ISO, naive = JST."""
    moment = datetime.fromisoformat(str(row["time"]))
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


def in_window(rows: Iterable[dict[str, Any]], since: datetime | None, until: datetime | None) -> list[Any]:
    return [
        r
        for r in rows
        if (since is None or moment_of(r) >= since) and (until is None or moment_of(r) < until)
    ]


def expected(rows: list[dict[str, Any]], top: int = 20) -> dict[str, Any]:
    """Every figure of a report, recounted from the rows with plain Python."""
    field = {"allow": "allowed", "flag": "flagged", "block": "blocked"}

    def tally(key: str) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {}
        for r in rows:
            out.setdefault(r[key], Counter())[field[r["action"]]] += 1
        return {k: dict(v) for k, v in out.items()}

    total = dict(Counter(field[r["action"]] for r in rows))
    reasons: dict[str, Counter[str]] = {}
    for r in rows:
        for reason in set(filter(None, r["reasons"].split(";"))):
            reasons.setdefault(reason, Counter())[field[r["action"]]] += 1
    days: dict[str, Counter[str]] = {}
    for r in rows:
        day: date = moment_of(r).astimezone(JST).date()
        days.setdefault(day.isoformat(), Counter())[field[r["action"]]] += 1
    numbers: dict[str, Counter[str]] = {}
    number_reasons: dict[str, set[str]] = {}
    for r in rows:
        if r["action"] != "allow" and r["e164"]:
            numbers.setdefault(r["e164"], Counter())[field[r["action"]]] += 1
            number_reasons.setdefault(r["e164"], set()).update(filter(None, r["reasons"].split(";")))
    ranked = sorted(numbers, key=lambda e: (-sum(numbers[e].values()), -numbers[e]["blocked"], e))[:top]
    return {
        "total": total,
        "designated": tally("designated_operator"),
        "serving": tally("serving_operator"),
        "ingress": tally("ingress_operator"),
        "reasons": {k: dict(v) for k, v in reasons.items()},
        "days": {k: dict(v) for k, v in days.items()},
        "data_versions": dict(Counter(r["data_version"] for r in rows)),
        "numbers": [(e, dict(numbers[e]), number_reasons[e]) for e in ranked],
    }


FIELDS = ("allowed", "flagged", "blocked")


def as_dict(c: Counts) -> dict[str, int]:
    return {f: getattr(c, f) for f in FIELDS if getattr(c, f)}


def table(rows: tuple[Row, ...]) -> dict[str, dict[str, int]]:
    return {r.key: as_dict(r.counts) for r in rows}


def assert_matches(report: Report, want: dict[str, Any]) -> None:
    assert as_dict(report.total) == want["total"]
    assert table(report.designated) == want["designated"]
    assert table(report.serving) == want["serving"]
    assert table(report.ingress) == want["ingress"]
    assert table(report.reasons) == want["reasons"]
    assert {k: v for k, v in table(report.days).items() if v} == want["days"]
    assert {r.key: r.counts.calls for r in report.data_versions} == want["data_versions"]
    got = [(n.e164, as_dict(n.counts), set(n.reasons)) for n in report.numbers]
    assert got == want["numbers"]
