"""The `sipcheck` command as a user runs it: real processes, the embedded Redis, the sample data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sipcheck.cache import EmbeddedRedis

EXIT_ALLOW, EXIT_FLAG, EXIT_BLOCK, EXIT_ERROR = 0, 10, 20, 4
SAMPLE_NOW = "2026-08-01T12:00:00+09:00"  # sipcheck.sample.SAMPLE_DAY: the built-in designations are fresh


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private data directory, so the embedded Redis and its data belong to this test alone."""
    environment = dict(os.environ)
    environment["SIPCHECK_DATA_DIR"] = str(tmp_path / "data")
    environment["SIPCHECK_FIXED_NOW"] = SAMPLE_NOW  # verdicts must not depend on today's date
    environment.pop("SIPCHECK_CONFIG", None)
    environment.pop("SIPCHECK_REDIS__URL", None)
    return environment


def sipcheck(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_full_width_and_sip_uri_give_the_same_canonical_number(env: dict[str, str]) -> None:
    result = sipcheck(env, "check", "０３-5253-5111", "sip:+81352535111@example.jp;user=phone", "--json")
    assert result.returncode == EXIT_ALLOW, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["number"] == second["number"]
    assert first["number"]["e164"] == "+81352535111"
    assert first["action"] == second["action"] == "allow"
    assert first["data_version"]


def test_exit_code_is_the_worst_verdict(env: dict[str, str]) -> None:
    assert sipcheck(env, "check", "0352535111").returncode == EXIT_ALLOW
    assert sipcheck(env, "check", "0352535111", "05010001234").returncode == EXIT_FLAG
    blocked = sipcheck(env, "check", "0352535111", "05010001234", "05099990000")
    assert blocked.returncode == EXIT_BLOCK
    assert "block_not_designated" in blocked.stdout and "BLOCK" in blocked.stdout


def test_numbers_from_standard_input(env: dict[str, str]) -> None:
    result = sipcheck(env, "check", "-", "--json", stdin="0352535111\n\n05010009999\n")
    actions = [json.loads(line)["action"] for line in result.stdout.splitlines()]
    assert actions == ["allow", "block"]


def test_bad_file_loads_nothing_and_names_every_bad_row(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "feed.csv"
    bad.write_text(
        "number,since,reference,source\n"
        "0352531111,2026-11-01,NPA-7,police\n"
        "03-5253-567,2026-11-01,NPA-8,police\n"
        "0352531112,yesterday,NPA-9,police\n",
        encoding="utf-8",
    )
    before = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    result = sipcheck(env, "load", "suspended", str(bad))
    assert result.returncode == EXIT_ERROR
    assert "feed.csv:3:number:03-5253-567" in result.stderr
    assert "feed.csv:4:since:yesterday" in result.stderr
    assert "nothing was loaded" in result.stderr
    after = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    assert after == before
    # The sample's suspended number is still suspended; the good row of the bad file was not applied.
    assert sipcheck(env, "check", "05010009999").returncode == EXIT_BLOCK
    assert sipcheck(env, "check", "0352531111").returncode == EXIT_ALLOW


def test_good_load_publishes_a_new_version_and_changes_apply(env: dict[str, str], tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("number,since,reference,source\n0352531111,2026-11-01,NPA-7,police\n", encoding="utf-8")
    result = sipcheck(env, "load", "suspended", str(feed))
    assert result.returncode == EXIT_ALLOW, result.stderr
    status = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    assert status["components"]["suspensions"]["count"] == 1
    assert status["components"]["blocks"]["count"] > 3000  # the other components stayed
    assert sipcheck(env, "check", "0352531111").returncode == EXIT_BLOCK
    changes = tmp_path / "changes.csv"
    changes.write_text("op,number,since,reference,source\nremove,0352531111,,,\n", encoding="utf-8")
    assert sipcheck(env, "load", "suspended", "--changes", str(changes)).returncode == EXIT_ALLOW
    assert sipcheck(env, "check", "0352531111").returncode == EXIT_ALLOW


def test_changes_flag_only_for_suspensions(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("peer,operator\ntrunk-z,sample-east\n", encoding="utf-8")
    result = sipcheck(env, "load", "trunks", "--changes", str(path))
    assert result.returncode == EXIT_ERROR and "--changes" in result.stderr


def test_missing_file_is_an_error(env: dict[str, str], tmp_path: Path) -> None:
    result = sipcheck(env, "load", "certified", str(tmp_path / "nope.csv"))
    assert result.returncode == EXIT_ERROR and "no such file" in result.stderr


def test_data_status_table(env: dict[str, str]) -> None:
    result = sipcheck(env, "data", "status")
    assert result.returncode == EXIT_ALLOW
    assert "backend redis" in result.stdout
    for component in ("blocks", "operators", "certifications", "wholesale", "trunks", "suspensions"):
        assert component in result.stdout


def test_no_command_prints_help_and_fails() -> None:
    from sipcheck.cli.main import main

    assert main([]) == EXIT_ERROR


def test_real_numbers_of_the_built_in_data_are_allowed(env: dict[str, str]) -> None:
    """What a new user tries first: a mobile, a regional fixed line, MIC's switchboard, a navi dial."""
    result = sipcheck(env, "check", "090-1234-5678", "0467-22-1234", "03-5253-5111", "0570-064-556", "--json")
    assert result.returncode == EXIT_ALLOW, result.stdout + result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["action"] for v in verdicts] == ["allow"] * 4
    assert verdicts[3]["reasons"] == ["designated_operator_unknown"]
    designated = verdicts[2]["operators"][0]
    assert designated["role"] == "designated" and designated["id"] == "ntt-east"
    assert designated["name"] == "東日本電信電話株式会社"
    table = sipcheck(env, "check", "03-5253-5111").stdout
    assert "東日本電信電話株式会社" in table and "ALLOW" in table


def test_invalid_and_spoofed_are_told_apart(env: dict[str, str]) -> None:
    result = sipcheck(env, "check", "03-1234-5678", "050-9999-0000", "0990-123-456", "--json")
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["reasons"] for v in verdicts] == [
        ["invalid_number"],
        ["block_not_designated"],
        ["designation_unknown"],
    ]
    assert verdicts[0]["error"]["code"] == "bad_local_code"
    assert [v["action"] for v in verdicts] == ["block", "block", "allow"]


def test_stale_data_is_said_on_a_later_day(env: dict[str, str]) -> None:
    env["SIPCHECK_FIXED_NOW"] = "2026-12-02T12:00:00+09:00"
    result = sipcheck(env, "check", "03-5253-5111", "050-9999-0000", "--json")
    verdict, undesignated = (json.loads(line) for line in result.stdout.splitlines())
    assert verdict["action"] == "allow" and verdict["reasons"] == ["designation_data_stale"]
    # MIC may have issued 050-9999 since 2026-07-04: on data that old it is flagged, not blocked as spoofed.
    assert undesignated["action"] == "flag"
    assert undesignated["reasons"] == ["block_not_designated_stale", "designation_data_stale"]
    status = sipcheck(env, "data", "status")
    assert "STALE" in status.stdout
    assert "older than data.max_age_days=60" in status.stderr and "sipcheck data update" in status.stderr


def test_data_status_shows_the_coverage_of_every_range(env: dict[str, str]) -> None:
    status = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    rows = {row["range"]: row for row in status["coverage"]}
    expected = ["01", "0120", "02", "020", "0200", "03", "04", "05", "050", "0570", "06", "060", "07", "070"]
    expected += ["08", "080", "0800", "09", "090"]
    assert sorted(rows) == expected
    assert sum(row["blocks"] for row in rows.values()) == 30_627
    assert rows["090"]["blocks"] == 900 and rows["0200"]["blocks"] == 610
    assert rows["0570"]["operator_unknown"] == 106
    assert rows["050"]["as_of"] == "2026-07-04" and rows["0120"]["as_of"] == "2024-09-16"
    assert rows["03"]["operators_as_of"] == "2017-08-21"
    assert rows["0120"]["stale"] is True and rows["090"]["stale"] is False
    assert status["complete"] is True and status["missing"] == []
    table = sipcheck(env, "data", "status").stdout
    assert "designation coverage on 2026-08-01" in table
    assert "mic-designations-2026.csv" in table


@pytest.mark.parametrize(
    ("fail_policy", "code", "action"), [("open", EXIT_FLAG, "flag"), ("closed", EXIT_BLOCK, "block")]
)
def test_an_empty_redis_never_calls_a_caller_spoofed(
    env: dict[str, str], redis_server: EmbeddedRedis, fail_policy: str, code: int, action: str
) -> None:
    """A configured Redis with nothing loaded: the fail policy answers, with data_unavailable."""
    env["SIPCHECK_REDIS__URL"] = redis_server.url
    env["SIPCHECK_POLICY__FAIL_POLICY"] = fail_policy
    result = sipcheck(env, "check", "090-1234-5678", "050-9999-0000", "--json")
    assert result.returncode == code, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["reasons"] for v in verdicts] == [["data_unavailable"], ["data_unavailable"]]
    assert [v["action"] for v in verdicts] == [action, action]
    status = sipcheck(env, "data", "status")
    assert "no complete data set (blocks, certifications, suspensions not loaded)" in status.stderr


def test_an_unreachable_store_is_said_on_stderr_and_its_password_is_not(env: dict[str, str]) -> None:
    from sipcheck.sip.harness import free_port

    env = {**env, "SIPCHECK_REDIS__URL": f"redis://ops:pw-9x7@127.0.0.1:{free_port()}/0"}
    result = sipcheck(env, "check", "0352535111")
    assert result.returncode == EXIT_FLAG  # the default fail policy, open: flag, never a silent allow
    assert "data_unavailable" in result.stdout
    assert "warning: no data to screen with (redis://ops:***@127.0.0.1:" in result.stderr
    assert "follow the fail policy (open)" in result.stderr and "pw-9x7" not in result.stderr
