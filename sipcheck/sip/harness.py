"""Drive real SIP on loopback: agent processes, SIPp and tshark, for the tests and the benchmark.

No pjsua2 here: the agent under test runs in a child process (an assertion
abort in pjsip must not take pytest down), SIPp plays callers and callees,
tshark captures the callee's RTP for `sipcheck.tones` to validate. Every
child gets its own process group and is killed with it; every wait has a
deadline.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from sipcheck.sip.agent import READY_PREFIX

SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "sip" / "scenarios"


def free_port(kind: int = socket.SOCK_DGRAM, both: bool = True) -> int:
    """A loopback port free for UDP (and TCP when ``both``)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not both:
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise OSError("no free loopback port")


def udp_port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something has bound UDP ``port`` (a server started in another process is listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port_block(count: int, start: int = 20000, stop: int = 60000) -> int:
    """The first port of ``count`` consecutive free UDP ports (media ranges, agent port runs).

    The search starts at a per-process offset (parallel test runs rarely collide) and wraps
    around, so it covers the whole range whatever the pid.
    """
    span = stop - count - start
    if span <= 0:
        raise ValueError(f"no room for {count} ports between {start} and {stop}")
    offset = (os.getpid() % 97) * 200 % span
    step = count + 7
    candidates = [*range(start + offset, stop - count, step), *range(start, start + offset, step)]
    for base in candidates:
        ok = True
        for port in range(base, base + count):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return int(base)
    raise OSError(f"no {count} consecutive free UDP ports")


def _kill_group(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _drain(stream: IO[str] | None, into: list[str]) -> threading.Thread:
    def run() -> None:
        if stream is not None:
            for line in stream:
                into.append(line)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@dataclass
class AgentProcess:
    """One ``python -m sipcheck.sip.agent`` child, started from a TOML settings file."""

    config: Path
    store: str = "memory-sample"
    agents: int = 1
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    ready: list[dict[str, Any]] = field(default_factory=list)

    def start(self, timeout: float = 20.0) -> AgentProcess:
        if self.agents > 1:
            cmd = [sys.executable, "-m", "sipcheck.cli.main", "--config", str(self.config), "sip-agent"]
            cmd += ["--agents", str(self.agents), "--store", self.store]
        else:
            cmd = [
                sys.executable,
                "-m",
                "sipcheck.sip.agent",
                "--config",
                str(self.config),
                "--store",
                self.store,
            ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, **self.env},
        )
        _drain(self.proc.stderr, self.stderr)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while len(self.ready) < self.agents:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"agent did not start: {''.join(self.stderr)[-2000:]}")
            line = self.proc.stdout.readline()
            self.stdout.append(line)
            if line.startswith(READY_PREFIX):
                self.ready.append(json.loads(line[len(READY_PREFIX) :]))
        _drain(self.proc.stdout, self.stdout)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL the group. Returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        code: int | None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        _kill_group(self.proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        return code

    @property
    def log(self) -> str:
        return "".join(self.stderr)


def options_status(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> dict[str, Any]:
    """Ask an agent's front for its load figures (out-of-dialog OPTIONS → ``X-Sipcheck-Status``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        call_id = uuid.uuid4().hex
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{call_id[:12]}\r\n"
            f"From: <sip:probe@127.0.0.1:{lport}>;tag=t{call_id[:6]}\r\n"
            f"To: <sip:{host}:{port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        s.sendto(msg.encode(), (host, port))
        data, _ = s.recvfrom(65535)
    text = data.decode("utf-8", "replace")
    status: dict[str, Any] = {"_status_line": text.split("\r\n", 1)[0]}
    for line in text.split("\r\n"):
        if line.lower().startswith("x-sipcheck-status:"):
            status.update(json.loads(line.split(":", 1)[1]))
    return status


@dataclass
class SippResult:
    returncode: int | None
    successful: int
    failed: int
    messages: str
    stats_rows: list[dict[str, str]]
    stderr: str

    def count(self, needle: str) -> int:
        return self.messages.count(needle)


class Sipp:
    """One SIPp instance (UAC or UAS) in its own working directory and process group."""

    running: ClassVar[list[Sipp]] = []

    @classmethod
    def kill_all(cls) -> None:
        """Kill every instance still running (test teardown: an assertion may skip a ``stop``)."""
        for sipp in cls.running:
            if sipp.proc is not None and sipp.proc.poll() is None:
                _kill_group(sipp.proc)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    sipp.proc.wait(5)
        cls.running.clear()

    def __init__(
        self, workdir: Path, name: str, scenario: Path, args: Sequence[str], stats_period_s: int = 1
    ):
        self.workdir = workdir
        self.name = name
        self.msg_file = workdir / f"{name}.msg"
        self.stat_file = workdir / f"{name}.csv"
        self.cmd = [
            "sipp",
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.msg_file),
            "-trace_stat",
            "-stf",
            str(self.stat_file),
            "-fd",
            str(stats_period_s),
            *args,
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.stderr: list[str] = []

    def start(self) -> Sipp:
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        _drain(self.proc.stderr, self.stderr)
        Sipp.running.append(self)
        return self

    def wait(self, timeout: float) -> SippResult:
        assert self.proc is not None
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        _kill_group(self.proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        return self.result(code)

    def stop(self) -> SippResult:
        """Stop a UAS (SIGUSR1 is SIPp's 'quit gracefully'; then the group is killed)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            _kill_group(self.proc, signal.SIGUSR1)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(3)
        return self.wait(2)

    def result(self, code: int | None) -> SippResult:
        rows: list[dict[str, str]] = []
        if self.stat_file.exists():
            with open(self.stat_file, newline="") as fh:
                rows = list(csv.DictReader(fh, delimiter=";"))
        last = rows[-1] if rows else {}
        messages = self.msg_file.read_text(errors="replace") if self.msg_file.exists() else ""
        return SippResult(
            code,
            int(last.get("SuccessfulCall(C)", 0) or 0),
            int(last.get("FailedCall(C)", 0) or 0),
            messages,
            rows,
            "".join(self.stderr),
        )


def scenario(name: str, workdir: Path, final_code: int | None = None) -> Path:
    """A scenario from ``tests/sip/scenarios``; ``uac_final`` gets its expected code filled in."""
    path = SCENARIOS / name
    if final_code is None:
        return path
    out = workdir / f"{path.stem}_{final_code}.xml"
    out.write_text(path.read_text().replace("FINAL_CODE", str(final_code)))
    return out


def caller_audio(workdir: Path, frequency_hz: float = 700.0, seconds: float = 2.5) -> Path:
    """``caller.ulaw`` in ``workdir``: a steady tone the caller SIPp streams (via `sipcheck.tones`)."""
    from sipcheck import tones

    profile = tones.ParametricProfile.model_validate(
        {
            "id": "caller-audio",
            "name": "caller audio",
            "segments": [
                {
                    "duration_ms": seconds * 1000,
                    "gap_ms": 0,
                    "components": [{"frequency_hz": frequency_hz, "level_dbm0": -12.0}],
                }
            ],
        }
    )
    path = workdir / "caller.ulaw"
    path.write_bytes(tones.render_g711(profile, "pcmu"))
    return path


@contextlib.contextmanager
def capture(path: Path, ports: Sequence[int], timeout: float = 20.0) -> Iterator[Path]:
    """Capture UDP on loopback for ``ports`` into ``path`` (pcap) while the block runs.

    dumpcap (tshark's capture engine) is used directly: lighter to start. The
    capture counts as started only once a marker datagram sent to ``ports[0]``
    has reached the file, so nothing the test sends afterwards can be missed
    (the marker is neither SIP nor RTP; readers ignore it).
    """
    tool = shutil.which("dumpcap") or "tshark"
    bpf = " or ".join(f"udp port {p}" for p in ports)
    proc = subprocess.Popen(
        [tool, "-q", "-i", "lo", "-P", "-w", str(path), "-f", bpf],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    _drain(proc.stderr, lines)
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as marker:
            while not (path.exists() and path.stat().st_size > 24):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"packet capture did not start: {''.join(lines)}")
                marker.sendto(b"sipcheck capture marker", ("127.0.0.1", ports[0]))
                time.sleep(0.05)
        yield path
    finally:
        time.sleep(0.3)  # let the last packets reach the capture
        _kill_group(proc, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait(5)


def write_agent_config(path: Path, **sip: Any) -> Path:
    """A TOML settings file with the given ``[sip]`` values (strings, numbers, lists, dicts)."""

    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v)

    lines = ["[sip]", *(f"{k} = {value(v)}" for k, v in sip.items())]
    path.write_text("\n".join(lines) + "\n")
    return path
