"""The real ``sipcheck serve`` under a flood of idle connections and a slowloris: probes are answered,
the log stays bounded; and `ConnectionGuard`'s decisions stepped by hand."""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import time
from pathlib import Path

import pytest
from test_api_serve import SIPCHECK, free_port, fresh_env, get, read_until

from sipcheck.api.connguard import ConnectionGuard

IDLE = 3_000
LIMIT = 500
SERVER_DESCRIPTORS = 1_024


def test_the_guard_sheds_the_longest_idle_connection_and_refuses_when_all_are_busy() -> None:
    guard = ConnectionGuard(limit=2, header_timeout_s=10)
    a, b = object(), object()
    assert guard.admit() is True
    guard.stats.active = 2
    guard.became_idle(a)  # type: ignore[arg-type]
    guard.became_idle(b)  # type: ignore[arg-type]
    guard.became_idle(a)  # type: ignore[arg-type]  # a answered a request and is idle again: b is older
    assert guard.admit() is b
    guard.became_busy(a)  # type: ignore[arg-type]
    assert guard.admit() is False  # the only other one is busy


def _raise_own_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.fail(f"the test needs {wanted} descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def test_idle_connections_beyond_the_limit_do_not_stop_probes(tmp_path: Path) -> None:
    _raise_own_limit(IDLE + 500)
    port = free_port()
    env = fresh_env(tmp_path)
    env["SIPCHECK_HTTP__MAX_CONNECTIONS"] = str(LIMIT)
    env["SIPCHECK_HTTP__HEADER_TIMEOUT_S"] = "1.5"
    # The server gets 1,024 descriptors, as many machines give a service: the flood is 3,000.
    proc = subprocess.Popen(
        [*SIPCHECK, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (SERVER_DESCRIPTORS, SERVER_DESCRIPTORS)
        ),
    )
    idle: list[socket.socket] = []
    try:
        read_until(proc, "Stop with Ctrl-C", timeout_s=60)
        for _ in range(IDLE):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
            idle.append(sock)
        # A slowloris: headers begun, never finished.
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        answered = []
        for _ in range(20):
            t0 = time.monotonic()
            status, _ = get(f"http://127.0.0.1:{port}/healthz")
            answered.append((status, time.monotonic() - t0))
        assert all(status == 200 for status, _ in answered), answered
        assert max(seconds for _, seconds in answered) < 3, answered
        slow.settimeout(5)
        try:
            closed = slow.recv(100) == b""
        except ConnectionResetError:
            closed = True  # shed: closed with a reset, as every shed connection is
        assert closed, "the slowloris connection was not closed"
        assert time.monotonic() - started < 5
        slow.close()
    finally:
        for sock in idle:
            sock.close()
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
    # Shedding is logged as a count, never a line (or a traceback) per connection.
    assert len(stderr) < 20_000, stderr[-2000:]
    assert "Traceback" not in stderr and "Too many open files" not in stderr
    assert "connection limit 500: closed" in stderr
