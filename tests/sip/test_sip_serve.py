"""`sipcheck serve` with relay mode configured runs the SIP agents beside the HTTP workers."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sipcheck.sip.harness import free_port_block, options_status


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_until(proc: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    """Read stdout straight from the pipe (no text buffer to hide data from select)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = ""
    deadline = time.monotonic() + timeout_s
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and proc.poll() is None, f"no {marker!r} in: {seen[-2000:]}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            seen += os.read(fd, 65536).decode()
    return seen


def test_serve_starts_the_sip_agents_when_relay_is_configured(tmp_path: Path) -> None:
    http_port = _free_tcp_port()
    sip_base = free_port_block(2 + 400, start=31000)
    env = dict(os.environ)
    env.pop("SIPCHECK_CONFIG", None)
    env.update(
        SIPCHECK_DATA_DIR=str(tmp_path / "data"),
        SIPCHECK_SIP__NEXT_HOP="sip:127.0.0.1:9",
        SIPCHECK_SIP__LISTEN_PORT=str(sip_base),
        SIPCHECK_SIP__AGENTS="2",
        SIPCHECK_SIP__RTP_PORT=str(sip_base + 2),
        SIPCHECK_SIP__RTP_PORT_RANGE="200",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sipcheck.cli.main", "serve", "--port", str(http_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = _read_until(proc, "SIP relay agents", timeout_s=90)
        assert f"2 on 127.0.0.1:{sip_base}-{sip_base + 1}" in banner
        for port in (sip_base, sip_base + 1):
            assert options_status(port)["_status_line"] == "SIP/2.0 200 OK"
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/check/0312345678", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Assert" not in err, err[-3000:]
