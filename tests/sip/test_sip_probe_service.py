"""`sipcheck probe` against the agent and against a callee that plays no tone; N agents as one service."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from siphelpers import AGENT_ENV, Relay

from sipcheck.sip.harness import (
    AgentProcess,
    Sipp,
    free_port_block,
    options_status,
    scenario,
    udp_port_in_use,
    write_agent_config,
)


def _probe(target: str, workdir: Path, *args: str) -> tuple[int, dict[str, object]]:
    report = workdir / f"probe-{abs(hash(target))}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", "probe", target, "--report", str(report), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.exists(), proc.stderr
    return proc.returncode, json.loads(report.read_text())


def _callee(relay: Relay, count: int) -> Sipp:
    sc = scenario("uas.xml", relay.workdir)
    args = ["-p", str(relay.callee_port), "-mp", str(relay.callee_media), "-m", str(count)]
    return Sipp(relay.workdir, "uas-probe", sc, args).start()


def test_probe_through_agent_passes_and_direct_call_fails(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = _callee(relay, 3)
    caller = "<sip:0352535111@127.0.0.1>"
    code, report = _probe(
        f"sip:0399990000@127.0.0.1:{relay.port}",
        relay.workdir,
        "--caller",
        caller,
        "--count",
        "2",
        "--interval",
        "0.1",
    )
    summary = report["summary"]
    assert code == 0 and summary["passed"] == 2, report  # type: ignore[index]
    assert 0 <= summary["start_offset_ms_max"] <= 100, summary  # type: ignore[index,operator]
    # The callee itself plays no tone: the probe must say so, with exit code 1.
    code, report = _probe(f"sip:0399990000@127.0.0.1:{relay.callee_port}", relay.workdir)
    assert code == 1 and report["summary"]["failed"] == 1  # type: ignore[index]
    assert report["calls"][0]["validation"]["failure_codes"] == ["tone_not_found"]  # type: ignore[index]
    assert callee.wait(10).successful == 3


def test_agents_service_runs_n_processes_on_consecutive_ports(tmp_path: Path) -> None:
    base = free_port_block(2 + 400, start=30000)
    config = write_agent_config(
        tmp_path / "service.toml",
        listen_port=base,
        next_hop="sip:127.0.0.1:9",
        rtp_port=base + 2,
        rtp_port_range=200,
    )
    service = AgentProcess(config, agents=2, env=AGENT_ENV).start(timeout=30)
    try:
        assert sorted(r["udp"] for r in service.ready) == [base, base + 1]
        assert len({r["pid"] for r in service.ready}) == 2
        for port in (base, base + 1):
            assert options_status(port)["_status_line"] == "SIP/2.0 200 OK"
    finally:
        code = service.stop()
    assert code == 0, service.log[-3000:]
    assert "Assert" not in service.log and "Traceback" not in service.log, service.log[-3000:]


def test_agents_take_their_private_pjsip_port_from_the_settings(tmp_path: Path) -> None:
    base = free_port_block(4 + 400, start=33000)
    config = write_agent_config(
        tmp_path / "service.toml",
        listen_port=base,
        private_port=base + 2,
        next_hop="sip:127.0.0.1:9",
        rtp_port=base + 4,
        rtp_port_range=200,
    )
    service = AgentProcess(config, agents=2, env=AGENT_ENV).start(timeout=30)
    try:
        assert sorted(r["pjsip_udp"] for r in service.ready) == [base + 2, base + 3]
    finally:
        code = service.stop()
    assert code == 0, service.log[-3000:]


def test_the_probe_uses_the_ports_it_is_given(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = _callee(relay, 1)
    ports = free_port_block(2 + 20, start=36000)
    report = relay.workdir / "fixed-ports.json"
    target = f"sip:0399990000@127.0.0.1:{relay.callee_port}"
    args = ["--report", str(report), "--sip-port", str(ports), "--rtp-port", str(ports + 2)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sipcheck.cli.main", "probe", target, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_sip = seen_rtp = False
    while proc.poll() is None:
        seen_sip = seen_sip or udp_port_in_use(ports)
        seen_rtp = seen_rtp or any(udp_port_in_use(p) for p in range(ports + 2, ports + 22, 2))
        time.sleep(0.01)
    _, stderr = proc.communicate(timeout=60)
    assert report.exists(), stderr
    assert seen_sip and seen_rtp, (seen_sip, seen_rtp, stderr[-2000:])
    assert callee.wait(10).successful == 1
