"""`sipcheck rules` as an operator runs it: real processes, the embedded Redis, the built-in data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXIT_ALLOW, EXIT_FLAG, EXIT_BLOCK, EXIT_ERROR = 0, 10, 20, 4
SAMPLE_NOW = "2026-08-01T12:00:00+09:00"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment["SIPCHECK_DATA_DIR"] = str(tmp_path / "data")
    environment["SIPCHECK_FIXED_NOW"] = SAMPLE_NOW
    environment.pop("SIPCHECK_CONFIG", None)
    environment.pop("SIPCHECK_REDIS__URL", None)
    return environment


def sipcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_prefix_suspension_and_an_override_from_the_cli(env: dict[str, str]) -> None:
    assert sipcheck(env, "check", "0352535111").returncode == EXIT_ALLOW
    added = sipcheck(
        env,
        "rules",
        "add",
        "suspend",
        "--prefix",
        "03-5253",
        "--reference",
        "NPA-2026-0412",
        "--source",
        "police",
    )
    assert added.returncode == EXIT_ALLOW, added.stderr
    assert "added suspend:prefix:035253" in added.stdout
    blocked = sipcheck(env, "check", "0352535111", "--json")
    assert blocked.returncode == EXIT_BLOCK
    verdict = json.loads(blocked.stdout)
    assert "suspended" in verdict["reasons"] and verdict["rules"][0]["reference"] == "NPA-2026-0412"
    # An allow override does not lift a police suspension; a deny elsewhere blocks at once.
    allow = sipcheck(env, "rules", "add", "allow", "--number", "0352535111", "--reason", "false positive")
    assert allow.returncode == EXIT_ALLOW, allow.stderr
    assert sipcheck(env, "check", "0352535111").returncode == EXIT_BLOCK
    listed = json.loads(sipcheck(env, "rules", "list", "--json").stdout)
    assert sorted(r["id"] for r in listed["rules"]) == ["allow:number:0352535111", "suspend:prefix:035253"]
    removed = sipcheck(env, "rules", "remove", "suspend:prefix:035253")
    assert removed.returncode == EXIT_ALLOW, removed.stderr
    assert sipcheck(env, "check", "0352535111").returncode == EXIT_ALLOW


def test_bad_rules_are_refused_and_nothing_is_changed(env: dict[str, str], tmp_path: Path) -> None:
    cases = [
        (
            ["suspend", "--operator", "no-such-op", "--reference", "R"],
            "--operator",
            "not the id of an operator",
        ),
        (
            ["suspend", "--from", "0352535999", "--to", "0352535000", "--reference", "R"],
            "--range",
            "ends before",
        ),
        (["deny", "--prefix", "0101"], "--prefix", "numbering plan"),
        (["allow", "--number", "0352535111", "--until", "2026-07-31"], "--until", "in the past"),
        (["suspend", "--prefix", "050-1000"], "--reference", "needs the reference"),
    ]
    for argv, label, fragment in cases:
        result = sipcheck(env, "rules", "add", *argv)
        assert result.returncode == EXIT_ERROR, (argv, result.stdout)
        assert label in result.stderr and fragment in result.stderr, (argv, result.stderr)
        assert "Traceback" not in result.stderr
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            [
                {"action": "deny", "number": "0352535111", "reason": "wave"},
                {"action": "deny", "prefix": "05O-1000"},
            ]
        )
    )
    result = sipcheck(env, "rules", "add", "--file", str(rules))
    assert result.returncode == EXIT_ERROR and f"{rules}[1]" in result.stderr, result.stderr
    missing = sipcheck(env, "rules", "remove", "deny:number:0999")
    assert missing.returncode == EXIT_ERROR and "no rule has this id" in missing.stderr
    assert json.loads(sipcheck(env, "rules", "list", "--json").stdout)["rules"] == []
    assert sipcheck(env, "check", "0352535111").returncode == EXIT_ALLOW


def test_every_cli_change_is_in_the_audit_trail(env: dict[str, str], tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("number,since,reference,source\n0352531111,2026-11-01,NPA-7,police\n", encoding="utf-8")
    assert sipcheck(env, "load", "suspended", str(feed)).returncode == EXIT_ALLOW
    changes = tmp_path / "changes.csv"
    changes.write_text("op,number,since,reference,source\nadd,0352532222,,NPA-8,police\n", encoding="utf-8")
    assert sipcheck(env, "load", "suspended", "--changes", str(changes)).returncode == EXIT_ALLOW
    added = sipcheck(
        env, "rules", "add", "deny", "--prefix", "050-1000", "--reason", "wave", "--author", "noc-kato"
    )
    assert added.returncode == EXIT_ALLOW, added.stderr
    result = sipcheck(env, "audit", "--json")
    assert result.returncode == EXIT_ALLOW, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds[-3:] == ["data.publish.suspended", "data.suspensions.change", "rules.change"], kinds
    publish, change, rule = records[-3:]
    assert publish["sources"] == ["feed.csv"] and publish["counts"]["rows"] == 1
    assert publish["origin"].startswith("cli ") and "@" in publish["who"]
    assert change["keys"] == ["+81352532222"] and change["references"] == ["NPA-8"]
    assert change["version_before"] == publish["version_after"]
    assert rule["who"] == "noc-kato" and rule["keys"] == ["deny:prefix:0501000"]
    # The questions an operator asks: what touched this number, and what changed rules.
    by_number = sipcheck(env, "audit", "--number", "03-5253-2222", "--json").stdout.splitlines()
    assert [json.loads(line)["kind"] for line in by_number] == ["data.suspensions.change"]
    table = sipcheck(env, "audit", "--kind", "rules")
    assert "deny:prefix:0501000" in table.stdout and "data.publish" not in table.stdout
    assert sipcheck(env, "audit", "--since", "yesterday").returncode == 2  # argparse's usage error


def test_a_contractor_from_the_cli(env: dict[str, str]) -> None:
    bad = sipcheck(env, "contractor", "add", "--name", "渡り商事", "--corporate-number", "9011101031553")
    assert bad.returncode == EXIT_ERROR and "--corporate-number" in bad.stderr and "check digit" in bad.stderr
    ok = sipcheck(
        env, "contractor", "add", "--name", "渡り商事株式会社", "--corporate-number", "9011101031552"
    )
    assert ok.returncode == EXIT_ALLOW, ok.stderr
    contract = sipcheck(
        env, "rules", "add", "contract", "--prefix", "03-5253-5", "--contractor", "9011101031552"
    )
    assert contract.returncode == EXIT_ALLOW, contract.stderr
    assert sipcheck(env, "check", "0352535111").returncode == EXIT_ALLOW  # held, nothing against it yet
    refuse = sipcheck(env, "rules", "add", "refuse", "--contractor", "9011101031552", "--reference", "JUSA-9")
    assert refuse.returncode == EXIT_ALLOW, refuse.stderr
    flagged = sipcheck(env, "check", "0352535111", "--json")
    assert flagged.returncode == EXIT_FLAG and "contractor_refused" in json.loads(flagged.stdout)["reasons"]
    shown = sipcheck(env, "contractor", "show", "9011101031552")
    assert shown.returncode == EXIT_ALLOW, shown.stderr
    assert (
        "渡り商事株式会社" in shown.stdout
        and "0352535" in shown.stdout
        and "refuse:contractor" in shown.stdout
    )
    missing = sipcheck(env, "contractor", "show", "nobody")
    assert missing.returncode == EXIT_ERROR and "no contractor" in missing.stderr
