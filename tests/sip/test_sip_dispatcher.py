"""deploy/kamailio: a real Kamailio spreads calls over two agent processes and fails over on 503."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from siphelpers import AGENT_ENV

from sipcheck.sip.harness import (
    AgentProcess,
    Sipp,
    caller_audio,
    free_port,
    free_port_block,
    options_status,
    scenario,
    write_agent_config,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kamailio"


def _kamailio(workdir: Path, port: int, agents: list[int]) -> subprocess.Popen[str]:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    assert os.path.exists(binary), "the dispatcher test needs kamailio (Debian: apt-get install kamailio)"
    listing = workdir / "dispatcher.list"
    listing.write_text("".join(f"1 sip:127.0.0.1:{p}\n" for p in agents))
    cfg = (DEPLOY / "kamailio.cfg").read_text()
    cfg = cfg.replace('"deploy/kamailio/dispatcher.list"', f'"{listing}"')
    cfg = cfg.replace("listen=udp:127.0.0.1:5060", f"listen=udp:127.0.0.1:{port}")
    (workdir / "kamailio.cfg").write_text(cfg)
    proc = subprocess.Popen(
        [binary, "-DD", "-E", "-f", str(workdir / "kamailio.cfg"), "-Y", str(workdir), "-w", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if options_status(port, timeout=0.3)["_status_line"] == "SIP/2.0 200 OK":
                return proc
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("kamailio did not start")


def test_kamailio_spreads_calls_and_fails_over_on_503(tmp_path: Path) -> None:
    base = free_port_block(2, start=34000)
    callee, callee_media = free_port(), free_port_block(4, start=44000)
    config = write_agent_config(
        tmp_path / "agents.toml",
        listen_port=base,
        next_hop=f"sip:127.0.0.1:{callee}",
        rtp_port=free_port_block(400, start=46000),
        rtp_port_range=200,
        peer_trunks={"127.0.0.1": "trunk-a"},
    )
    service = AgentProcess(config, agents=2, env=AGENT_ENV).start(timeout=30)
    proxy_port = free_port()
    kamailio = _kamailio(tmp_path, proxy_port, [base, base + 1])
    caller_audio(tmp_path)
    try:
        uas_args = ["-p", str(callee), "-mp", str(callee_media)]
        uas = Sipp(tmp_path, "uas", scenario("uas.xml", tmp_path), uas_args).start()
        # Four calls at once: more than one agent holds (2), exactly what two agents hold.
        args = ["-mp", str(free_port()), "-s", "0399990000", "-key", "caller", "0352535111"]
        args += ["-m", "4", "-l", "4", "-r", "20", "-d", "1500", f"127.0.0.1:{proxy_port}"]
        result = Sipp(tmp_path, "uac", scenario("uac.xml", tmp_path), args).start().wait(30)
        uas.stop()
        assert (result.successful, result.failed) == (4, 0), result.messages[-3000:]
        figures = [options_status(p) for p in (base, base + 1)]
        assert [f["max_sessions"] for f in figures] == [2, 2], figures
        assert sum(f["completed"] for f in figures) == 4
    finally:
        os.killpg(kamailio.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            kamailio.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(kamailio.pid, signal.SIGKILL)
        code = service.stop()
    assert code == 0, service.log[-3000:]
