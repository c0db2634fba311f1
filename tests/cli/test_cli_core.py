"""The `sipcheck` command as a user runs it: real processes, the embedded Redis, the sample data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXIT_ALLOW, EXIT_FLAG, EXIT_BLOCK, EXIT_ERROR = 0, 10, 20, 4


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private data directory, so the embedded Redis and its data belong to this test alone."""
    environment = dict(os.environ)
    environment["SIPCHECK_DATA_DIR"] = str(tmp_path / "data")
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
    result = sipcheck(env, "check", "０３-1234-5678", "sip:+81312345678@example.jp;user=phone", "--json")
    assert result.returncode == EXIT_ALLOW, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["number"] == second["number"]
    assert first["number"]["e164"] == "+81312345678"
    assert first["action"] == second["action"] == "allow"
    assert first["data_version"]


def test_exit_code_is_the_worst_verdict(env: dict[str, str]) -> None:
    assert sipcheck(env, "check", "0312345678").returncode == EXIT_ALLOW
    assert sipcheck(env, "check", "0312345678", "0661001234").returncode == EXIT_FLAG
    blocked = sipcheck(env, "check", "0312345678", "0661001234", "05099990000")
    assert blocked.returncode == EXIT_BLOCK
    assert "block_not_designated" in blocked.stdout and "BLOCK" in blocked.stdout


def test_numbers_from_standard_input(env: dict[str, str]) -> None:
    result = sipcheck(env, "check", "-", "--json", stdin="0312345678\n\n0312349999\n")
    actions = [json.loads(line)["action"] for line in result.stdout.splitlines()]
    assert actions == ["allow", "block"]


def test_bad_file_loads_nothing_and_names_every_bad_row(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "feed.csv"
    bad.write_text(
        "number,since,reference,source\n"
        "0312341111,2026-11-01,NPA-7,police\n"
        "03-1234-567,2026-11-01,NPA-8,police\n"
        "0312341112,yesterday,NPA-9,police\n",
        encoding="utf-8",
    )
    before = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    result = sipcheck(env, "load", "suspended", str(bad))
    assert result.returncode == EXIT_ERROR
    assert "feed.csv:3:number:03-1234-567" in result.stderr
    assert "feed.csv:4:since:yesterday" in result.stderr
    assert "nothing was loaded" in result.stderr
    after = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    assert after == before
    # The sample's suspended number is still suspended; the good row of the bad file was not applied.
    assert sipcheck(env, "check", "0312349999").returncode == EXIT_BLOCK
    assert sipcheck(env, "check", "0312341111").returncode == EXIT_ALLOW


def test_good_load_publishes_a_new_version_and_changes_apply(env: dict[str, str], tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("number,since,reference,source\n0312341111,2026-11-01,NPA-7,police\n", encoding="utf-8")
    result = sipcheck(env, "load", "suspended", str(feed))
    assert result.returncode == EXIT_ALLOW, result.stderr
    status = json.loads(sipcheck(env, "data", "status", "--json").stdout)
    assert status["components"]["suspensions"]["count"] == 1
    assert status["components"]["blocks"]["count"] > 3000  # the other components stayed
    assert sipcheck(env, "check", "0312341111").returncode == EXIT_BLOCK
    changes = tmp_path / "changes.csv"
    changes.write_text("op,number,since,reference,source\nremove,0312341111,,,\n", encoding="utf-8")
    assert sipcheck(env, "load", "suspended", "--changes", str(changes)).returncode == EXIT_ALLOW
    assert sipcheck(env, "check", "0312341111").returncode == EXIT_ALLOW


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
