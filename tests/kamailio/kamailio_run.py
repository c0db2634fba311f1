"""Running a real Kamailio with screen.cfg for a test, and sending it INVITEs (shared by the tests here)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from sipcheck.kamailio import cfg
from sipcheck.kamailio.rpc import KamailioRpc, RpcError
from sipcheck.settings import Settings
from sipcheck.sip.harness import free_port

HARNESS = Path(__file__).with_name("harness.cfg")


def kamailio_binary() -> str:
    return shutil.which("kamailio") or "/usr/sbin/kamailio"


@contextlib.contextmanager
def running_kamailio(workdir: Path, settings: Settings, sip_port: int) -> Iterator[KamailioRpc]:
    """Kamailio on ``sip_port`` running harness.cfg + screen.cfg for ``settings``; its RPC client once it
    answers (it answers only after loading the view's tables)."""
    cfg.write(settings, workdir / "screen.cfg")
    shutil.copy(HARNESS, workdir / "harness.cfg")
    args = [kamailio_binary(), "-m", "256", "-DD", "-E", "-f", str(workdir / "harness.cfg")]
    args += ["-Y", str(workdir), "-w", str(workdir), "-A", f"LISTEN=udp:127.0.0.1:{sip_port}"]
    log_path = workdir / "kamailio.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    rpc = KamailioRpc(settings.kamailio.rpc_address(), timeout_s=0.5)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                rpc.get_int("sipcheck_gen")
                break
            except RpcError:
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "kamailio did not answer RPC"
        rpc.timeout_s = 5
        yield rpc
    finally:
        rpc.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def kamailio_settings(workdir: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=workdir,
        kamailio={"rpc": f"udp:127.0.0.1:{free_port()}", "view_dir": str(workdir / "view")},
        **extra,  # type: ignore[arg-type]
    )


def invite(sock: socket.socket, port: int, caller: str, n: int) -> tuple[int, dict[str, str]]:
    """One INVITE from ``caller`` carrying a forged verdict header; the reply's code and headers."""
    here = sock.getsockname()
    msg = (
        f"INVITE sip:callee@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {here[0]}:{here[1]};branch=z9hG4bKt{n}\r\n"
        f"From: <sip:{caller}@pbx.example>;tag=f{n}\r\nTo: <sip:callee@127.0.0.1>\r\nCall-ID: t{n}@test\r\n"
        "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nX-Sipcheck-Verdict: allow\r\nContent-Length: 0\r\n\r\n"
    )
    sock.sendto(msg.encode(), ("127.0.0.1", port))
    lines = sock.recvfrom(65535)[0].decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers
