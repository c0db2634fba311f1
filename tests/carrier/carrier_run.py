"""Running the carrier path for a test: rtpengine, Kamailio with carrier.cfg (+ screen.cfg), SIPp on both
sides and a loopback capture, then reading the capture back (SIP messages, RTP streams, tone checks).

Every port comes from one block of free loopback UDP ports (`PortPool`), so the capture filter is one port
range and no two servers of one run can be handed the same port. Every process runs in its own session
and is stopped (its process group) when its context ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sipcheck.sip.harness import free_port_block, udp_port_in_use
from sipcheck.tones import pcap, rtp

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).with_name("scenarios")
CARRIER_CFG = ROOT / "deploy" / "kamailio" / "carrier.cfg"
RTPENGINE_CONF = ROOT / "deploy" / "rtpengine" / "rtpengine.conf"
KAMAILIO_UNIT = ROOT / "deploy" / "systemd" / "sipcheck-kamailio.service"
FIXED_NOW = "2026-08-01T12:00:00+09:00"
PROFILE = "example-call-start"


def rtpengine_setting(key: str) -> str:
    """A ``key = value`` of the shipped rtpengine.conf: the tests wait and size by what deploy/ ships."""
    for line in RTPENGINE_CONF.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key and not line.lstrip().startswith("#"):
            return value.strip()
    raise AssertionError(f"{RTPENGINE_CONF}: no {key} setting")


def shipped_tone_rate() -> int:
    """The sample rate the shipped Kamailio unit renders the tone WAV at (``tone render --rate N``)."""
    words = KAMAILIO_UNIT.read_text(encoding="utf-8").split()
    renders = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--rate"]
    assert len(renders) == 1, f"{KAMAILIO_UNIT}: expected one tone render --rate, found {renders}"
    return int(renders[0])


DELETE_DELAY_S = int(rtpengine_setting("delete-delay"))


def binary(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f for f in fallbacks if Path(f).exists()), None)


def binaries() -> dict[str, str | None]:
    return {
        "kamailio": binary("kamailio", "/usr/sbin/kamailio"),
        "rtpengine": binary("rtpengine", "/usr/bin/rtpengine", "/usr/sbin/rtpengine"),
        "sipp": binary("sipp", "/usr/bin/sipp"),
        "dumpcap": binary("dumpcap", "/usr/bin/dumpcap"),
    }


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return f"<{path} unreadable>"


def wait_for(what: str, probe: Callable[[], bool], timeout_s: float = 20.0, step_s: float = 0.02) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(step_s)


class PortPool:
    """Consecutive free loopback UDP ports, handed out in order."""

    def __init__(self, size: int) -> None:
        self.first = free_port_block(size)
        self.last = self.first + size - 1
        self._next = self.first

    def take(self, count: int = 1) -> int:
        """The first of ``count`` consecutive ports not handed out before."""
        port = self._next
        assert port + count - 1 <= self.last, "the port pool is exhausted"
        self._next += count
        return port


@contextlib.contextmanager
def process(args: Sequence[str], log: Path | None, **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """``args`` in a new session (stderr and stdout to ``log``), its process group stopped at the end."""
    out: IO[bytes] | int = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )
    finally:
        if not isinstance(out, int):
            out.close()
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    else:
        # The leader is gone; anything it left in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


# --- rtpengine's NG protocol (bencode over UDP) ---------------------------------------------------------


def bencode(value: object) -> bytes:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list | tuple):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    def parse(pos: int) -> tuple[Any, int]:
        kind = data[pos : pos + 1]
        if kind == b"i":
            end = data.index(b"e", pos)
            return int(data[pos + 1 : end]), end + 1
        if kind in (b"l", b"d"):
            items: list[Any] = []
            pos += 1
            while data[pos : pos + 1] != b"e":
                item, pos = parse(pos)
                items.append(item)
            if kind == b"l":
                return items, pos + 1
            return dict(zip(items[::2], items[1::2], strict=True)), pos + 1
        colon = data.index(b":", pos)
        length = int(data[pos:colon])
        text = data[colon + 1 : colon + 1 + length]
        return text.decode(errors="replace"), colon + 1 + length

    value, _ = parse(0)
    return value


class NgClient:
    """Commands to rtpengine's NG control socket."""

    def __init__(self, port: int, timeout_s: float = 1.0) -> None:
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout_s)

    def command(self, command: str, **args: object) -> dict[str, Any]:
        cookie = secrets.token_hex(8).encode()
        self.sock.sendto(cookie + b" " + bencode({"command": command, **args}), self.address)
        while True:
            data = self.sock.recv(65535)
            got, _, body = data.partition(b" ")
            if got == cookie:
                reply: dict[str, Any] = bdecode(body)
                return reply

    def alive(self) -> bool:
        try:
            return self.command("ping").get("result") == "pong"
        except OSError:
            return False

    def calls(self) -> list[str]:
        reply = self.command("list", limit=1000)
        assert reply.get("result") == "ok", reply
        return list(reply.get("calls", []))

    def close(self) -> None:
        self.sock.close()


@dataclass
class RtpEngine:
    ng: NgClient
    log: Path
    port_min: int
    port_max: int
    pid: int | None = None


@contextlib.contextmanager
def running_rtpengine(
    workdir: Path, pool: PortPool, media_ports: int = 40, extra_args: Sequence[str] = ()
) -> Iterator[RtpEngine]:
    """rtpengine with deploy/rtpengine/rtpengine.conf, its ports overridden on the command line
    (``extra_args`` after them: more overrides, e.g. ``--num-threads=N``)."""
    exe = binaries()["rtpengine"] or "rtpengine"
    ng_port, cli_port = pool.take(), pool.take()
    port_min = pool.take(media_ports)
    port_max = port_min + media_ports - 1
    base = [exe, "--foreground", "--log-stderr", "--log-level=6", "--table=-1", "--interface=127.0.0.1"]
    base += [f"--listen-ng=127.0.0.1:{ng_port}", f"--listen-cli=127.0.0.1:{cli_port}"]
    base += [f"--port-min={port_min}", f"--port-max={port_max}"]
    log = workdir / "rtpengine.log"
    ng = NgClient(ng_port, timeout_s=0.3)
    try:
        # The shipped config first; rtpengine run as a user that may not read it falls back to none.
        # Without the file, its delete-delay still (the release checks wait for it).
        fallback = ["--config-file=none", f"--delete-delay={DELETE_DELAY_S}"]
        for config in ([f"--config-file={RTPENGINE_CONF}"], fallback):
            with process([*base, *config, *extra_args], log) as proc:
                deadline = time.monotonic() + 15
                while proc.poll() is None and not ng.alive():
                    assert time.monotonic() < deadline, "rtpengine did not answer ping: " + tail(log)
                if proc.poll() is not None:
                    continue
                ng.sock.settimeout(2.0)
                yield RtpEngine(ng, log, port_min, port_max, proc.pid)
                return
        raise AssertionError("rtpengine did not start: " + tail(log))
    finally:
        ng.close()


# --- Kamailio -------------------------------------------------------------------------------------------


def sip_options(port: int, timeout_s: float = 0.3) -> int | None:
    """The status of an OPTIONS to ourselves at Kamailio, or None without an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout_s)
        here = sock.getsockname()
        tag = secrets.token_hex(4)
        msg = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {here[0]}:{here[1]};branch=z9hG4bK{tag}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={tag}\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: {tag}@probe\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            return int(sock.recv(65535).split(b" ", 2)[1])
        except (OSError, ValueError, IndexError):
            return None


@contextlib.contextmanager
def running_kamailio(
    workdir: Path,
    sip_port: int,
    next_hop: int,
    ng_port: int,
    tone: Path,
    screen: Path | None,
    children: int = 4,
) -> Iterator[Path]:
    """Kamailio with deploy/kamailio/carrier.cfg (and ``screen`` as its screen.cfg) on ``sip_port``; its log.

    ``children`` is its SIP worker count (CHILDREN).

    Kamailio answers SIP (OPTIONS) only once it has loaded: with screen.cfg, after the view's tables.
    """
    run = workdir / "kamailio"
    run.mkdir()
    shutil.copy(CARRIER_CFG, run / "carrier.cfg")
    if screen is not None:
        shutil.copy(screen, run / "screen.cfg")
    args = [binaries()["kamailio"] or "kamailio", "-m", "256", "-DD", "-E", "-f", str(run / "carrier.cfg")]
    args += ["-Y", str(run), "-w", str(run)]
    defines = {
        "LISTEN": f"udp:127.0.0.1:{sip_port}",
        "NEXT_HOP": f'"sip:127.0.0.1:{next_hop}"',
        "RTPENGINE_NG": f'"udp:127.0.0.1:{ng_port}"',
        "TONE_FILE": f'"{tone}"',
        "CHILDREN": str(children),
    }
    for name, value in defines.items():
        args += ["-A", f"{name}={value}"]
    log = workdir / "kamailio.log"
    with process(args, log) as proc:
        deadline = time.monotonic() + 30
        while sip_options(sip_port) != 200:
            assert proc.poll() is None, "kamailio exited: " + tail(log)
            assert time.monotonic() < deadline, "kamailio did not answer OPTIONS: " + tail(log)
        yield log
        assert proc.poll() is None, "kamailio died during the test: " + tail(log)


def sipcheck_cli(
    *args: str, config: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SIPCHECK_FIXED_NOW=FIXED_NOW)
    env.pop("SIPCHECK_CONFIG", None)
    argv = [sys.executable, "-m", "sipcheck.cli.main"]
    if config is not None:
        argv += ["--config", str(config)]
    result = subprocess.run([*argv, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"sipcheck {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


# --- Capture --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def capture(workdir: Path, name: str, pool: PortPool, bpf: str | None = None) -> Iterator[Path]:
    """dumpcap on ``lo`` for every port of the pool; the file holds every datagram sent in the context.

    ``bpf`` narrows what is kept to UDP matching that filter (the probes below are always kept).

    dumpcap hands packets over from the kernel's ring in blocks, and on SIGINT drops what it was not yet
    given: so a probe datagram must be in the file before the context starts (capturing) and another one
    before dumpcap is stopped (everything sent before it is written)."""
    path = workdir / f"{name}.pcapng"
    probe = pool.take()
    exe = binaries()["dumpcap"] or "dumpcap"
    if bpf is None:
        bpf = f"udp and portrange {pool.first}-{pool.last}"
    else:
        bpf = f"udp and (dst port {probe} or ({bpf}))"
    log = workdir / f"{name}-dumpcap.log"
    with (
        process([exe, "-q", "-i", "lo", "-f", bpf, "-w", str(path)], log) as proc,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):

        def written(marker: bytes) -> bool:
            sock.sendto(marker, ("127.0.0.1", probe))
            time.sleep(0.05)
            assert proc.poll() is None, "dumpcap exited: " + tail(log)
            if not path.exists() or path.stat().st_size == 0:
                return False
            with contextlib.suppress(Exception):  # a block half written
                return any(d.dport == probe and d.payload == marker for d in pcap.read_capture(path))
            return False

        wait_for("dumpcap to capture", lambda: written(b"sipcheck capture: start"), timeout_s=20, step_s=0)
        yield path
        wait_for("dumpcap to write", lambda: written(b"sipcheck capture: end"), timeout_s=20, step_s=0)
        stop(proc, signal.SIGINT)


@dataclass(frozen=True)
class SipMessage:
    time: float
    sport: int
    dport: int
    start: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def status(self) -> int | None:
        return int(self.start.split()[1]) if self.start.startswith("SIP/2.0 ") else None

    @property
    def method(self) -> str:
        """The request's method, or the CSeq method of a response."""
        return self.header("CSeq").split()[-1] if self.status else self.start.split()[0]

    def header(self, name: str) -> str:
        values = self.all(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def media_port(self) -> int | None:
        for line in self.body.splitlines():
            if line.startswith("m=audio "):
                return int(line.split()[1])
        return None


@dataclass(frozen=True)
class RtpSeen:
    time: float
    sport: int
    dport: int
    ssrc: int
    seq: int


@dataclass
class Capture:
    path: Path
    sip: list[SipMessage] = field(default_factory=list)
    rtp: list[RtpSeen] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path, sip_port: int) -> Capture:
        result = cls(path)
        for d in pcap.read_capture(path):
            if sip_port in (d.sport, d.dport):
                result.sip.append(parse_sip(d))
                continue
            try:
                packet = rtp.parse_rtp(d.payload)
            except ValueError:
                continue
            result.rtp.append(RtpSeen(d.time, d.sport, d.dport, packet.ssrc, packet.sequence))
        return result

    def messages(
        self, call_id: str, start: str = "", sport: int | None = None, dport: int | None = None
    ) -> list[SipMessage]:
        return [
            m
            for m in self.sip
            if m.header("Call-ID") == call_id
            and m.start.startswith(start)
            and (sport is None or m.sport == sport)
            and (dport is None or m.dport == dport)
        ]

    def answers(self, call_id: str, sport: int | None = None, dport: int | None = None) -> list[SipMessage]:
        """The 200 OKs of the call's INVITE (a retransmission counts again)."""
        oks = self.messages(call_id, "SIP/2.0 200", sport=sport, dport=dport)
        return [m for m in oks if m.method == "INVITE"]

    def to_port(self, port: int) -> list[RtpSeen]:
        return [p for p in self.rtp if p.dport == port]

    def from_port(self, port: int) -> list[RtpSeen]:
        return [p for p in self.rtp if p.sport == port]


def parse_sip(d: pcap.UdpDatagram) -> SipMessage:
    head, _, body = d.payload.decode(errors="replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = tuple((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return SipMessage(d.time, d.sport, d.dport, lines[0], headers, body)


def verify_tone(path: Path, ssrc: int | None = None, port: int | None = None) -> dict[str, Any]:
    """`sipcheck tone verify` on one RTP stream of a capture (by SSRC, or what goes to a port), as JSON."""
    choose = ["--ssrc", hex(ssrc)] if ssrc is not None else ["--port", str(port)]
    result = sipcheck_cli("tone", "verify", str(path), "--profile", PROFILE, *choose, "--json", check=False)
    assert result.returncode in (0, 1, 3), result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


# --- SIPp -----------------------------------------------------------------------------------------------


@dataclass
class Sipp:
    """Where one SIPp instance listens and sends its media from."""

    name: str
    sip_port: int
    media_port: int
    log: Path


def sipp_args(
    scenario: str,
    party: Sipp,
    workdir: Path,
    *extra: str,
    calls: int = 1,
    timeout_s: float = 20,
    scenarios: Path = SCENARIOS,
) -> list[str]:
    """SIPp for ``calls`` calls of ``scenario`` (a file in ``scenarios``), quitting with an error after
    ``timeout_s``; ``extra`` goes first (options, the remote host)."""
    exe = binaries()["sipp"] or "sipp"
    return [
        exe,
        *extra,
        "-sf",
        str(scenarios / scenario),
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
        "-p",
        str(party.sip_port),
        "-mp",
        str(party.media_port),
        "-m",
        str(calls),
        "-timeout",
        f"{timeout_s:g}s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / f"{party.name}-errors.log"),
    ]


@contextlib.contextmanager
def sipp_uas(
    scenario: str,
    party: Sipp,
    workdir: Path,
    *extra: str,
    calls: int = 1,
    timeout_s: float = 20,
    scenarios: Path = SCENARIOS,
) -> Iterator[subprocess.Popen[bytes]]:
    """A SIPp callee, listening before this yields (``extra`` and the options as for `sipp_args`)."""
    args = sipp_args(scenario, party, workdir, *extra, calls=calls, timeout_s=timeout_s, scenarios=scenarios)
    with process(args, party.log, cwd=workdir) as proc:
        wait_for(
            f"SIPp {party.name} to listen", lambda: proc.poll() is not None or udp_port_in_use(party.sip_port)
        )
        assert proc.poll() is None, tail(party.log) + tail(workdir / f"{party.name}-errors.log")
        yield proc


@contextlib.contextmanager
def sipp_uac(
    scenario: str,
    party: Sipp,
    workdir: Path,
    proxy: int,
    caller: str,
    duration_ms: int = 1000,
    extra: Sequence[str] = (),
    calls: int = 1,
    timeout_s: float = 20,
    scenarios: Path = SCENARIOS,
) -> Iterator[subprocess.Popen[bytes]]:
    """A SIPp caller placing one call from ``caller`` through the proxy (`finish` waits for it); with
    ``calls=N`` (and e.g. ``extra=["-r", "50"]``) N of them (the options as for `sipp_args`)."""
    args = sipp_args(
        scenario,
        party,
        workdir,
        *extra,
        f"127.0.0.1:{proxy}",
        calls=calls,
        timeout_s=timeout_s,
        scenarios=scenarios,
    )
    args += ["-s", "0352000000", "-key", "caller", caller, "-d", str(duration_ms)]
    with process(args, party.log, cwd=workdir) as proc:
        yield proc


def finish(proc: subprocess.Popen[bytes], party: Sipp, workdir: Path, timeout_s: float = 30) -> None:
    """Wait for a SIPp instance to end its one call; it must have succeeded."""
    try:
        code = proc.wait(timeout=timeout_s)
    finally:
        stop(proc)
    assert code == 0, (
        f"SIPp {party.name} exited {code}: " + tail(workdir / f"{party.name}-errors.log") + tail(party.log)
    )


def wait_released(ng: NgClient, *call_ids: str) -> None:
    """Wait until rtpengine holds none of these calls, which it frees ``delete-delay`` after their
    delete, then check that a query for each is refused (the session and its ports are gone)."""
    gone = set(call_ids) if call_ids else None

    def released() -> bool:
        listed = set(ng.calls())
        return not (listed & gone if gone is not None else listed)

    wait_for(f"rtpengine to free {call_ids or 'every call'}", released, timeout_s=DELETE_DELAY_S + 5)
    for call_id in call_ids:
        assert ng.command("query", **{"call-id": call_id})["result"] == "error"


def rtpengine_lines(log: Path, call_id: str, needle: str) -> list[str]:
    """rtpengine log lines about ``call_id`` containing ``needle``."""
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if f"[{call_id}" in line and needle in line
    ]
