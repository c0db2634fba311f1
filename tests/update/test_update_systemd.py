"""deploy/systemd/sipcheck-data-update.{service,timer}: they parse, run `sipcheck data update` daily,
keep sipcheck.service's hardening, and `systemd-analyze verify` accepts them where it is installed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICE = SYSTEMD / "sipcheck-data-update.service"
TIMER = SYSTEMD / "sipcheck-data-update.timer"


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as sections → key → values (systemd allows a key more than once: Environment=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            assert line[1:-1] not in sections, f"{path.name}:{number}: section repeated"
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: a setting outside any section"
        key, sep, value = line.partition("=")
        assert sep and key.strip(), f"{path.name}:{number}: not a key=value line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_service_runs_data_update_once_with_the_service_settings() -> None:
    service = unit(SERVICE)
    assert set(service) == {"Unit", "Service"}
    body = service["Service"]
    assert body["Type"] == ["oneshot"]
    (exec_start,) = body["ExecStart"]
    argv = shlex.split(exec_start)
    assert Path(argv[0]).name == "sipcheck" and argv[1:] == ["data", "update"]
    main = unit(SYSTEMD / "sipcheck.service")["Service"]
    # The same store as the HTTP service: same config, same data directory, same user.
    assert body["Environment"] == main["Environment"]
    assert body["User"] == main["User"] and body["Group"] == main["Group"]
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "ReadWritePaths"):
        assert body[hardening] == main[hardening], hardening
    assert "network-online.target" in service["Unit"]["Wants"][0]


def test_timer_starts_the_service_daily() -> None:
    timer = unit(TIMER)
    assert timer["Timer"]["OnCalendar"] == ["daily"]
    assert timer["Timer"]["Unit"] == [SERVICE.name]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists: point it at this environment's sipcheck.
    installed = Path(sys.executable).parent / "sipcheck"
    binary = installed if installed.exists() else Path(sys.executable)
    service = SERVICE.read_text(encoding="utf-8").replace("/opt/sipcheck/bin/sipcheck", str(binary))
    (tmp_path / SERVICE.name).write_text(service, encoding="utf-8")
    shutil.copy(TIMER, tmp_path / TIMER.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", SERVICE.name, TIMER.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are warnings (exit 0): none may name these units.
    complaints = [line for line in result.stderr.splitlines() if "sipcheck-data-update" in line]
    assert complaints == []
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", "daily"], capture_output=True, text=True, timeout=60
    )
    assert calendar.returncode == 0 and "*-*-* 00:00:00" in calendar.stdout
