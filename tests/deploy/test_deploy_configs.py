"""The shipped deployment files agree with the settings and with each other.

deploy/kamailio/screen.cfg is `sipcheck kamailio config` for deploy/sipcheck.example.toml in the
data directory the systemd units use; the units name commands the CLI has and one config and data
directory; the ports Kamailio's carrier config talks to are the ones rtpengine's config listens on.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from sipcheck.cli.main import build_parser
from sipcheck.kamailio import cfg
from sipcheck.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def unit_values(path: Path, key: str) -> list[str]:
    """Every value of ``key`` in a unit file, with backslash-continued lines joined."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith(f"{key}=")]


def unit_environment(path: Path) -> dict[str, str]:
    return dict(value.split("=", 1) for value in unit_values(path, "Environment"))


def test_shipped_screen_cfg_is_generated_from_the_example_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = unit_environment(DEPLOY / "systemd" / "sipcheck-kamailio-sync.service")
    for name in [n for n in os.environ if n.startswith("SIPCHECK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIPCHECK_DATA_DIR", env["SIPCHECK_DATA_DIR"])
    settings = load_settings(DEPLOY / "sipcheck.example.toml")
    shipped = (DEPLOY / "kamailio" / "screen.cfg").read_text(encoding="utf-8")
    assert shipped == cfg.render(settings), (
        "deploy/kamailio/screen.cfg is stale: regenerate it with `SIPCHECK_DATA_DIR=/var/lib/sipcheck "
        "sipcheck --config deploy/sipcheck.example.toml kamailio config > deploy/kamailio/screen.cfg`"
    )


def test_every_unit_uses_one_config_and_data_directory() -> None:
    seen = {
        (env.get("SIPCHECK_CONFIG"), env.get("SIPCHECK_DATA_DIR"))
        for env in map(unit_environment, UNITS)
        if "SIPCHECK_CONFIG" in env
    }
    assert seen == {("/etc/sipcheck/sipcheck.toml", "/var/lib/sipcheck")}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_commands_are_commands_the_cli_has(unit: Path) -> None:
    parser = build_parser()
    commands = unit_values(unit, "ExecStartPre") + unit_values(unit, "ExecStart")
    sipcheck = [shlex.split(c) for c in commands if c.startswith("/opt/sipcheck/bin/sipcheck ")]
    for argv in sipcheck:
        parser.parse_args(argv[1:])  # SystemExit on an unknown command or option


def test_kamailio_unit_defines_exist_in_both_routing_configs() -> None:
    unit = DEPLOY / "systemd" / "sipcheck-kamailio.service"
    (start,) = unit_values(unit, "ExecStart")
    defines = set(re.findall(r"-A ([A-Z_]+)=", start))
    assert {"LISTEN", "NEXT_HOP"} <= defines
    for name in ("carrier.cfg", "screen-proxy.cfg"):
        text = (DEPLOY / "kamailio" / name).read_text(encoding="utf-8")
        for define in defines - {"TONE_FILE"} if name == "screen-proxy.cfg" else defines:
            assert f"#!ifndef {define}\n" in text, f"{name} has no default for {define}"


def test_carrier_cfg_talks_to_the_ng_port_rtpengine_listens_on() -> None:
    carrier = (DEPLOY / "kamailio" / "carrier.cfg").read_text(encoding="utf-8")
    conf = (DEPLOY / "rtpengine" / "rtpengine.conf").read_text(encoding="utf-8")
    (ng,) = re.findall(r'#!define RTPENGINE_NG "udp:([0-9.]+:[0-9]+)"', carrier)
    (listen,) = re.findall(r"^listen-ng = (\S+)$", conf, flags=re.M)
    assert ng == listen
    units = [u for u in UNITS if "rtpengine.conf" in u.read_text(encoding="utf-8")]
    assert units and all("--config-file=/etc/sipcheck/rtpengine.conf" in u.read_text() for u in units)
