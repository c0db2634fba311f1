"""The real ``sipcheck serve``: 2 workers on a free port, embedded Redis with the sample data, SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

SIPCHECK = [sys.executable, "-m", "sipcheck.cli.main"]
TOKEN = "serve-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_env(tmp_path: Path) -> dict[str, str]:
    """A machine with no configuration: only a private data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIPCHECK_", "PROMETHEUS_"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["TMPDIR"] = str(tmp_path / "tmp")  # where the service streams uploads (watched by a test)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env["SIPCHECK_HTTP__TOKENS"] = json.dumps({"ops": TOKEN})
    # The machine running the tests may be busy: a Redis budget for correctness here, not for speed.
    env["SIPCHECK_REDIS__CHECK_BUDGET_MS"] = "2000"
    env["SIPCHECK_REDIS__COMMAND_TIMEOUT_MS"] = "2000"
    env["SIPCHECK_REDIS__CONNECT_TIMEOUT_MS"] = "2000"
    return env


def read_until(proc: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    """Read stdout (unbuffered, straight from the pipe) until ``marker`` appears."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = ""
    deadline = time.monotonic() + timeout_s
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError(f"no {marker!r} from sipcheck serve; stdout so far: {seen!r}")
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            seen += os.read(fd, 65536).decode()
    return seen


def get(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read()
        return response.status, body


def send_upload(port: int, path: str, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


def read_response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def wait_for_file(folder: Path, size: int, timeout_s: float) -> None:
    """Wait until the service has written an upload of ``size`` bytes to its temporary folder."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.stat().st_size == size for p in folder.rglob("*.csv") if p.is_file()):
            return
        time.sleep(0.005)  # the service gives no signal when the body is in; watch the file it writes
    raise AssertionError(f"no upload of {size} bytes appeared in {folder}")


@pytest.mark.slow
def test_serve_two_workers_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*SIPCHECK, "serve", "--port", str(port), "--workers", "2"],
        env=fresh_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = read_until(proc, "Stop with Ctrl-C", timeout_s=60)
        assert f"curl {base}/v1/check/0352535111" in banner
        state = json.loads((tmp_path / "xdg" / "sipcheck" / "redis" / "server.json").read_text())
        status, body = get(f"{base}/v1/check/0352535111")
        verdict = json.loads(body)
        assert status == 200 and verdict["action"] == "allow" and verdict["data_version"], verdict
        assert json.loads(get(f"{base}/v1/check/050-1000-9999")[1])["action"] == "block"
        for _ in range(18):  # new connection each: the kernel spreads them over both workers
            get(f"{base}/v1/check/0352535111")
        assert get(f"{base}/readyz")[0] == 200
        # Every worker's counts, whichever worker answers the scrape; workers publish theirs once a second.
        totals: list[float] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not totals or totals[-1] < 20.0):
            metrics = get(f"{base}/metrics")[1].decode()
            totals.append(
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in metrics.splitlines()
                    if line.startswith("sipcheck_checks_total")
                )
            )
            time.sleep(0.2)  # no event to wait for: the other worker flushes on its own clock
        assert totals[-1] == 20.0, totals

        # A request in flight when SIGTERM arrives is finished, not cut off: a large suspension
        # upload, signalled once its body is in and the importer is at work.
        rows = 50_000
        upload = b"op,number\n" + b"".join(b"add,035%07d\n" % i for i in range(rows))
        in_flight = send_upload(port, "/v1/suspensions", upload)
        wait_for_file(tmp_path / "tmp", len(upload), timeout_s=30)
        proc.send_signal(signal.SIGTERM)
        finished = read_response(in_flight)
        assert finished.startswith(b"HTTP/1.1 200"), finished[:300]
        assert json.loads(finished.split(b"\r\n\r\n", 1)[1])["added"] == rows
    finally:
        proc.send_signal(signal.SIGTERM)  # a second SIGTERM while stopping must not break the clean exit
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    events = [entry.get("event") for entry in logs]
    assert events.count("worker.ready") == 2 and events.count("worker.stopped") == 2, err
    assert "service.stop" in events
    audit = [e for e in logs if e.get("logger") == "sipcheck.audit"]
    assert [(a["who"], a["event"], a["rows"]) for a in audit] == [("ops", "data.suspensions.change", rows)]
    assert TOKEN not in err
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)  # the embedded Redis was stopped with the service
    with pytest.raises(OSError):
        get(f"{base}/healthz")


def test_serve_fails_clearly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SIPCHECK, "serve", "--port", str(port)],
            env=fresh_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 4
    assert f"127.0.0.1:{port} is already in use" in result.stderr


def test_serve_starts_the_sip_agents_when_relay_is_configured(tmp_path: Path) -> None:
    """With a next hop configured, `sipcheck serve` supervises the SIP agents beside the HTTP workers."""
    from sipcheck.sip.harness import free_port_block, options_status

    port = free_port()
    sip_base = free_port_block(2 + 400, start=31000)
    env = fresh_env(tmp_path)
    env.update(
        SIPCHECK_SIP__NEXT_HOP="sip:127.0.0.1:9",
        SIPCHECK_SIP__LISTEN_PORT=str(sip_base),
        SIPCHECK_SIP__AGENTS="2",
        SIPCHECK_SIP__RTP_PORT=str(sip_base + 2),
        SIPCHECK_SIP__RTP_PORT_RANGE="200",
    )
    proc = subprocess.Popen(
        [*SIPCHECK, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = read_until(proc, "SIP relay agents", timeout_s=90)
        assert f"2 on 127.0.0.1:{sip_base}-{sip_base + 1}" in banner
        for sip_port in (sip_base, sip_base + 1):
            assert options_status(sip_port)["_status_line"] == "SIP/2.0 200 OK"
        status, _body = get(f"http://127.0.0.1:{port}/v1/check/0352535111")
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Assert" not in err, err[-3000:]
