"""`sipcheck report` as a user runs it: a real process, a fixed clock, a private data directory."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reportdata import MONTH_END, MONTH_START, Month, expected, in_window

EXIT_OK, EXIT_ERROR = 0, 4
FIXED_NOW = "2026-12-02T10:00:00+09:00"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment["SIPCHECK_DATA_DIR"] = str(tmp_path / "data")
    environment["SIPCHECK_FIXED_NOW"] = FIXED_NOW  # the generated-at stamp must not depend on today
    environment.pop("SIPCHECK_CONFIG", None)
    environment.pop("SIPCHECK_REDIS__URL", None)
    return environment


def sipcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_month_and_log_to_csv_html_json(
    env: dict[str, str], month: Month, decision_log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    log, records = decision_log
    out_csv, out_html = tmp_path / "report.csv", tmp_path / "report.html"
    done = sipcheck(
        env,
        *map(str, (*month.screened, log)),
        "--since",
        "2026-11-01",
        "--until",
        "2026-12-01",
        "--csv",
        str(out_csv),
        "--html",
        str(out_html),
        "--json",
        "--top",
        "7",
        "--title",
        "JUSA 申告 2026-11",
    )
    assert done.returncode == EXIT_OK, done.stderr
    summary = json.loads(done.stdout)
    want = expected(in_window([*month.rows, *records], MONTH_START, MONTH_END), top=7)
    assert summary["generated_at"] == FIXED_NOW
    assert summary["title"] == "JUSA 申告 2026-11"
    assert summary["window"] == {"since": "2026-11-01T00:00:00+09:00", "until": "2026-12-01T00:00:00+09:00"}
    total = summary["total"]
    assert {k: total[k] for k in ("allowed", "flagged", "blocked")} == {
        k: want["total"].get(k, 0) for k in ("allowed", "flagged", "blocked")
    }
    designated = {r["operator"]: (r["flagged"], r["blocked"]) for r in summary["designated"]}
    assert designated == {
        k: (v.get("flagged", 0), v.get("blocked", 0)) for k, v in want["designated"].items()
    }
    assert [n["e164"] for n in summary["numbers"]] == [e for e, _, _ in want["numbers"]]
    assert len(summary["days"]) == 30
    with open(out_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    (total_row,) = (r for r in rows if r["section"] == "summary")
    assert int(total_row["calls"]) == total["calls"]
    page = out_html.read_text(encoding="utf-8")
    assert "2026-12-02 10:00:00 JST" in page
    assert "JUSA 申告 2026-11" in page
    assert f'data-count="{total["calls"]}"' in page


def test_plain_summary_without_outputs(env: dict[str, str], month: Month) -> None:
    done = sipcheck(env, str(month.screened[0]), "--top", "3")
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith("window: the first call – the last call")
    assert "DESIGNATED OPERATOR" in done.stdout and "REASON" in done.stdout and "(none)" in done.stdout


def _head(src: Path, dst: Path, lines: int) -> list[str]:
    text = src.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]
    dst.write_text("".join(text), encoding="utf-8")
    return text


def assert_bad(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == EXIT_ERROR, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("sipcheck: error: "), done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_bad_time_names_file_line_and_field(env: dict[str, str], month: Month, tmp_path: Path) -> None:
    bad = tmp_path / "bad-time.csv"
    lines = _head(month.screened[0], bad, 12)
    header = next(csv.reader([lines[0]]))
    row = next(csv.reader([lines[6]]))
    row[header.index("time")] = "yesterday"
    lines[6] = ",".join(f'"{v}"' for v in row) + "\n"
    bad.write_text("".join(lines), encoding="utf-8")
    assert_bad(sipcheck(env, str(bad)), f"{bad}:7: time: cannot parse 'yesterday'")


def test_missing_columns(env: dict[str, str], month: Month, tmp_path: Path) -> None:
    cdr = month.screened[0].parent / "cdr-1.csv"  # the raw CDR: not screened
    assert_bad(sipcheck(env, str(cdr)), f"{cdr}: missing verdict column(s) action, reasons")
    small = tmp_path / "small.csv"
    _head(month.screened[0], small, 5)
    assert_bad(sipcheck(env, str(small), "--time-column", "setup"), f"{small}: no time column 'setup'")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(small.read_text(encoding="utf-8").replace("id,time,", "id,when,", 1), encoding="utf-8")
    assert_bad(sipcheck(env, str(renamed)), f"{renamed}: no time column", "--time-column", "'when'")
    assert sipcheck(env, str(renamed), "--time-column", "when").returncode == EXIT_OK


def test_malformed_csv_line(env: dict[str, str], month: Month, tmp_path: Path) -> None:
    bad = tmp_path / "short-row.csv"
    lines = _head(month.screened[0], bad, 9)
    lines.insert(5, "c-broken,2026-11-01T00:00:00+09:00\n")
    bad.write_text("".join(lines), encoding="utf-8")
    assert_bad(sipcheck(env, str(bad)), f"{bad}:6: expected 15 fields, got 2")


def test_unknown_action(env: dict[str, str], month: Month, tmp_path: Path) -> None:
    bad = tmp_path / "bad-action.csv"
    lines = _head(month.screened[0], bad, 6)
    for action in ("allow", "flag", "block"):
        if f",{action}," in lines[4]:
            lines[4] = lines[4].replace(f",{action},", ",maybe,", 1)
            break
    bad.write_text("".join(lines), encoding="utf-8")
    assert_bad(sipcheck(env, str(bad)), f"{bad}:5: action: 'maybe'")


def test_bad_decision_logs(
    env: dict[str, str], decision_log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, records = decision_log
    good = [json.dumps(r, ensure_ascii=False) for r in records[:4]]
    missing = tmp_path / "missing.jsonl"
    broken = dict(records[4])
    del broken["action"]
    missing.write_text("\n".join([*good[:2], json.dumps(broken), *good[2:]]) + "\n", encoding="utf-8")
    assert_bad(sipcheck(env, str(missing)), f"{missing}:3: missing field(s) action")
    not_json = tmp_path / "notjson.ndjson"
    not_json.write_text(good[0] + "\n{oops\n", encoding="utf-8")
    assert_bad(sipcheck(env, str(not_json)), f"{not_json}:2: not JSON")
    bad_time = tmp_path / "badtime.jsonl"
    bad_time.write_text("\n".join([*good[:3], json.dumps({**records[5], "time": "soon"})]) + "\n", "utf-8")
    assert_bad(sipcheck(env, str(bad_time)), f"{bad_time}:4: time: cannot parse 'soon'")


def test_usage_errors(env: dict[str, str], tmp_path: Path, month: Month) -> None:
    assert_bad(sipcheck(env, str(tmp_path / "nothere.csv")), "nothere.csv: no such file")
    assert_bad(
        sipcheck(env, str(month.screened[0]), "--since", "2026-11-05", "--until", "2026-11-01"), "--until"
    )
    assert sipcheck(env, str(month.screened[0]), "--since", "someday").returncode == 2
