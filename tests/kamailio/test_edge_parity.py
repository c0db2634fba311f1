"""One caller table through every edge: the library, the CLI, HTTP, the batch screen, the SIP agent
and Kamailio must give each case the same verdict (action, reasons, and the SIP reject code where
the edge has one).

The library (`parse_message` + `caller_identity` + `Screener`) is the reference. All edges share one
real Redis loaded with the built-in data, one TOML file (fixed day, one mapped trunk peer) and the
same two sending peers: a port mapped to ``trunk-a`` and another port of 127.0.0.1 (no known trunk).
Every INVITE carries a forged verdict; it must never survive into what the agent relays or what
Kamailio answers.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kamailio_run import running_kamailio

from sipcheck.cache import EmbeddedRedis
from sipcheck.cache.store import RedisStore
from sipcheck.kamailio.sync import ViewSync
from sipcheck.sample import SAMPLE_NUMBERS, sample_parts
from sipcheck.screener import Screener
from sipcheck.settings import RedisSettings, Settings, load_settings
from sipcheck.sip.harness import AgentProcess, free_port, free_port_block
from sipcheck.sip.sipmsg import SipMessage, build_response, caller_identity, parse_message

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI")
    and not (
        (shutil.which("kamailio") or Path("/usr/sbin/kamailio").exists()) and shutil.which("sipp") is not None
    ),
    reason="kamailio and sipp are installed by scripts/test (apt-get); absent here",
)

FIXED_NOW = "2026-08-01T12:00:00+09:00"
TRUNK = "trunk"  # the peer port mapped to trunk-a
OTHER = "other"  # another port of 127.0.0.1: screened as ingress "127.0.0.1", no known trunk
CLI = (sys.executable, "-m", "sipcheck.cli.main")
ANON = '"Anonymous" <sip:anonymous@anonymous.invalid>'

Key = tuple[str, tuple[str, ...], int | None]
"""A verdict as compared: action, reasons, the reject code (None when the call continues)."""


@dataclass(frozen=True)
class Case:
    name: str
    peer: str  # TRUNK | OTHER
    from_: str  # the From header value, without its tag
    pai: str | None = None
    privacy: str | None = None


def _sip(user: str, host: str = "pbx.example") -> str:
    return f"<sip:{user}@{host}>"


CASES: tuple[Case, ...] = (
    *(Case(f"sample-{number}", TRUNK, _sip(number)) for number, _why in SAMPLE_NUMBERS),
    Case("other-0352535111", OTHER, _sip("0352535111")),
    Case("other-05010009999", OTHER, _sip("05010009999")),
    Case("other-05010005678", OTHER, _sip("05010005678")),
    Case("e164-user", TRUNK, _sip("+81352535111")),
    Case("tel-from", TRUNK, "<tel:+81352535111>"),
    Case("dashes", TRUNK, _sip("03-5253-5111")),
    Case("user-phone", TRUNK, "<sip:0352535111@pbx.example;user=phone>"),
    Case("prefix-184", TRUNK, _sip("1840352535111")),
    Case("prefix-186", TRUNK, _sip("1860352535111")),
    Case("prefix-184-suspended", TRUNK, _sip("18405010009999")),
    Case("anonymous-from", TRUNK, ANON),
    Case("anonymous-from-pai", TRUNK, ANON, pai=_sip("0352535111")),
    Case("anonymous-from-pai-privacy-suspended", TRUNK, ANON, pai=_sip("05010009999"), privacy="id"),
    Case("pai-wins", TRUNK, _sip("0352535111"), pai=_sip("05099990000")),
    Case("anonymous-pai-skipped", TRUNK, _sip("05010009999"), pai="<sip:anonymous@anonymous.invalid>"),
    Case("anonymous-trunk-host-allow", TRUNK, _sip("0352535111", "anonymous-trunk.example")),
    Case("anonymous-trunk-host-suspended", TRUNK, _sip("05010009999", "anonymous-trunk.example")),
    Case("unavailable", TRUNK, _sip("Unavailable")),
    Case("hitsuchi-percent", TRUNK, _sip(urllib.parse.quote("非通知"))),
    Case("payphone-percent", TRUNK, _sip(urllib.parse.quote("公衆電話"))),
    Case("payphone-word", TRUNK, _sip("Payphone")),
    Case("no-user-part", TRUNK, "<sip:pbx.example>"),
    Case("foreign", TRUNK, _sip("+12025550123")),
    Case("pai-tel-suspended", TRUNK, _sip("0352535111"), pai="<tel:+815010009999>"),
)

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def invite_text(case: Case, src_port: int, dst_port: int, tag: str) -> str:
    """The case's INVITE as sent from 127.0.0.1:src_port, with a forged verdict and a small SDP."""
    lines = [
        f"INVITE sip:callee@127.0.0.1:{dst_port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{src_port};branch=z9hG4bK{tag}",
        "Max-Forwards: 70",
        f"From: {case.from_};tag=f{tag}",
        "To: <sip:callee@127.0.0.1>",
        f"Call-ID: {tag}@parity.test",
        "CSeq: 1 INVITE",
        f"Contact: <sip:caller@127.0.0.1:{src_port}>",
    ]
    if case.pai is not None:
        lines.append(f"P-Asserted-Identity: {case.pai}")
    if case.privacy is not None:
        lines.append(f"Privacy: {case.privacy}")
    lines += [
        "X-Sipcheck-Verdict: allow",
        "X-Sipcheck-Reasons: forged",
        "Content-Type: application/sdp",
        f"Content-Length: {len(SDP.encode())}",
    ]
    return "\r\n".join(lines) + "\r\n\r\n" + SDP


def ack_text(request: str, response: SipMessage) -> bytes:
    """The ACK for a final non-2xx response to ``request`` (RFC 3261 17.1.1.3)."""
    req = parse_message(request)
    lines = [
        f"ACK {req.request_uri} SIP/2.0",
        f"Via: {req.all('via')[0]}",
        "Max-Forwards: 70",
        f"From: {req.get('from')}",
        f"To: {response.get('to')}",
        f"Call-ID: {req.call_id}",
        "CSeq: 1 ACK",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def header_key(msg: SipMessage, code: int | None) -> Key:
    reasons = msg.get("x-sipcheck-reasons") or ""
    return (msg.get("x-sipcheck-verdict") or "", tuple(r for r in reasons.split(",") if r), code)


@dataclass
class World:
    workdir: Path
    config: Path
    settings: Settings
    store: RedisStore
    ports: dict[str, int]  # TRUNK/OTHER → the sending port
    http_port: int
    agent_port: int
    callee_port: int
    kamailio_port: int
    sync: ViewSync

    def peer(self, case: Case) -> str:
        return f"127.0.0.1:{self.ports[case.peer]}"


def _wait_http(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        assert time.monotonic() < deadline, "sipcheck serve did not get ready:\n" + log.read_text()[-3000:]
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("parity")
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(EmbeddedRedis(workdir / "redis", persist=False))
        store = RedisStore(RedisSettings(url=redis.url))
        stack.callback(store.close)
        store.publish(sample_parts())
        ports = {TRUNK: free_port(), OTHER: free_port()}
        agent_port, callee_port, kamailio_port, http_port = free_port(), free_port(), free_port(), free_port()
        media = free_port_block(420)
        view_dir = workdir / "view"
        common = (
            f'data_dir = "{workdir}"\nfixed_now = "{FIXED_NOW}"\n'
            f'[redis]\nurl = "{redis.url}"\n'
            f'[kamailio]\nrpc = "udp:127.0.0.1:{free_port()}"\nview_dir = "{view_dir}"\n'
            '[sip]\ntrusted_peers = ["127.0.0.1"]\n'
            f'peer_trunks = {{ "127.0.0.1:{ports[TRUNK]}" = "trunk-a" }}\n'
        )
        # No next_hop here: with one, `serve` would run SIP agents of its own.
        config = workdir / "sipcheck.toml"
        config.write_text(common, encoding="utf-8")
        agent_config = workdir / "agent.toml"
        agent_config.write_text(
            common
            + f'listen_port = {agent_port}\nnext_hop = "sip:127.0.0.1:{callee_port}"\n'
            + f"rtp_port = {media + 20}\nrtp_port_range = 400\nmax_cps = 20\nlog_level = 1\n",
            encoding="utf-8",
        )
        settings = load_settings(config)

        log = workdir / "serve.log"
        serve = subprocess.Popen(
            [*CLI, "--config", str(config), "serve", "--port", str(http_port), "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=stack.enter_context(open(log, "wb")),
            start_new_session=True,
        )
        stack.callback(_stop, serve)
        _wait_http(http_port, serve, log)

        agent = AgentProcess(agent_config, store="redis", env={"SIPCHECK_FIXED_NOW": FIXED_NOW}).start()
        stack.callback(agent.stop)

        kam_dir = workdir / "kamailio"
        kam_dir.mkdir()
        rpc = stack.enter_context(running_kamailio(kam_dir, settings, kamailio_port))
        ingress = settings.ingress_map()
        sync = ViewSync(
            store.table_reader(),
            rpc,
            settings.kamailio.directory(settings.data_dir),
            settings.compiled_policy(),
            settings.clock(),
            ingress.peers,
            ingress.resolve,
            stale_after_s=300,
        )
        step = sync.step()
        assert step.vouched, step.problem
        yield World(
            workdir, config, settings, store, ports, http_port, agent_port, callee_port, kamailio_port, sync
        )


def library_numbers(world: World) -> dict[str, str]:
    """Each case's screened number: what `caller_identity` takes from its INVITE."""
    out = {}
    for n, case in enumerate(CASES):
        port = world.ports[case.peer]
        msg = parse_message(invite_text(case, port, world.agent_port, f"lib{n}"))
        out[case.name] = caller_identity(msg, trusted=True).number
    return out


@pytest.fixture(scope="module")
def reference(world: World) -> dict[str, Key]:
    settings = world.settings
    screener = Screener(world.store, settings.compiled_policy(), settings.clock(), settings.ingress_map())
    numbers = library_numbers(world)
    out: dict[str, Key] = {}
    for case in CASES:
        v = screener.check(numbers[case.name], world.peer(case))
        code = v.sip.code if v.sip.reject else None
        out[case.name] = (v.action.value, tuple(r.value for r in v.reasons), code)
    return out


# --- the edges ---------------------------------------------------------------------------------


def _json_key(data: dict[str, object]) -> Key:
    sip = data["sip"]
    assert isinstance(sip, dict)
    reasons = data["reasons"]
    assert isinstance(reasons, list)
    code = sip["code"] if sip["action"] == "reject" else None
    return (str(data["action"]), tuple(str(r) for r in reasons), code if isinstance(code, int) else None)


def edge_cli(world: World) -> dict[str, Key]:
    numbers = library_numbers(world)
    out: dict[str, Key] = {}
    for peer in (TRUNK, OTHER):
        group = [c for c in CASES if c.peer == peer]
        ingress = f"127.0.0.1:{world.ports[peer]}"
        args = [*CLI, "--config", str(world.config), "check", *(numbers[c.name] for c in group)]
        proc = subprocess.run(
            [*args, "--ingress", ingress, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert len(lines) == len(group), f"exit {proc.returncode}: {proc.stdout}\n{proc.stderr}"
        for case, line in zip(group, lines, strict=True):
            out[case.name] = _json_key(json.loads(line))
    return out


def edge_http(world: World) -> dict[str, Key]:
    numbers = library_numbers(world)
    out: dict[str, Key] = {}
    for case in CASES:
        url = (
            f"http://127.0.0.1:{world.http_port}/v1/check/{urllib.parse.quote(numbers[case.name], safe='')}"
            f"?ingress={urllib.parse.quote(world.peer(case), safe='')}"
        )
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:  # a non-200 answer is a mismatch, not a crash
            out[case.name] = (f"http {exc.code}: {exc.read()[:200]!r}", (), None)
            continue
        out[case.name] = _json_key(json.loads(body))
    return out


def edge_batch(world: World) -> dict[str, Key]:
    numbers = library_numbers(world)
    src, dst = world.workdir / "calls.csv", world.workdir / "screened.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", "caller", "ingress"])
        writer.writerows([c.name, numbers[c.name], world.peer(c)] for c in CASES)
    proc = subprocess.run(
        [*CLI, "--config", str(world.config), "screen", str(src), "-o", str(dst), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Key] = {}
    with open(dst, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["case"]] = (row["action"], tuple(r for r in row["reasons"].split(";") if r), None)
    return out


def _udp(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _agent_call(
    world: World, caller: socket.socket, callee: socket.socket, case: Case, n: int, seen: list[str]
) -> Key:
    """One call through the agent; the verdict its relayed INVITE or its final response carries."""
    answered: dict[str, bytes] = {}  # relayed Call-ID → our 486, for retransmissions
    for attempt in range(40):
        tag = f"ag{n}x{attempt}x{time.monotonic_ns() % 10**9}"
        request = invite_text(case, world.ports[case.peer], world.agent_port, tag)
        caller.sendto(request.encode(), ("127.0.0.1", world.agent_port))
        relayed: SipMessage | None = None
        deadline = time.monotonic() + 15
        final: SipMessage | None = None
        while final is None:
            left = deadline - time.monotonic()
            assert left > 0, f"{case.name}: no final response from the agent"
            ready, _, _ = select.select([caller, callee], [], [], left)
            for sock in ready:
                data, addr = sock.recvfrom(65535)
                text = data.decode("utf-8", "replace")
                seen.append(text)
                msg = parse_message(data)
                if sock is callee:
                    if msg.is_request and msg.method == "INVITE":
                        if msg.call_id not in answered:
                            if relayed is None:
                                relayed = msg
                            answered[msg.call_id] = build_response(msg, 486, "Busy Here", to_tag=f"c{tag}")
                        callee.sendto(answered[msg.call_id], addr)
                    continue  # ACKs of our 486
                status = msg.status or 0
                if msg.is_request or status < 200 or msg.call_id != f"{tag}@parity.test":
                    continue
                final = msg
        caller.sendto(ack_text(request, final), ("127.0.0.1", world.agent_port))
        if final.status == 503 and relayed is None:
            time.sleep(0.3)
            continue
        if relayed is not None:
            return header_key(relayed, None)
        return header_key(final, final.status)
    raise AssertionError(f"{case.name}: the agent stayed busy")


def edge_agent(world: World) -> dict[str, Key]:
    out: dict[str, Key] = {}
    seen: list[str] = []
    socks = {peer: _udp(port) for peer, port in world.ports.items()}
    callee = _udp(world.callee_port)
    try:
        for n, case in enumerate(CASES):
            out[case.name] = _agent_call(world, socks[case.peer], callee, case, n, seen)
            time.sleep(0.06)  # under max_cps 20
    finally:
        for sock in (*socks.values(), callee):
            sock.close()
    leaked = [text.split("\r\n", 1)[0] for text in seen if "forged" in text]
    assert not leaked, f"the forged verdict got through the agent: {leaked}"
    return out


def edge_kamailio(world: World) -> dict[str, Key]:
    step = world.sync.step()  # the view stays vouched for the whole run
    assert step.vouched, step.problem
    out: dict[str, Key] = {}
    leaked: list[str] = []
    socks = {peer: _udp(port) for peer, port in world.ports.items()}
    try:
        for n, case in enumerate(CASES):
            sock = socks[case.peer]
            sock.settimeout(5)
            tag = f"km{n}x{time.monotonic_ns() % 10**9}"
            sock.sendto(
                invite_text(case, world.ports[case.peer], world.kamailio_port, tag).encode(),
                ("127.0.0.1", world.kamailio_port),
            )
            while True:
                data = sock.recvfrom(65535)[0]
                msg = parse_message(data)
                if msg.call_id == f"{tag}@parity.test" and (msg.status or 0) >= 200:
                    break
            if "forged" in data.decode("utf-8", "replace"):
                leaked.append(case.name)
            code = msg.status
            out[case.name] = header_key(msg, None if code == 299 else code)
    finally:
        for s in socks.values():
            s.close()
    assert not leaked, f"the forged verdict got through Kamailio: {leaked}"
    return out


EDGES: dict[str, tuple[Callable[[World], dict[str, Key]], bool]] = {
    # name → (collector, whether the edge has a reject code)
    "cli": (edge_cli, True),
    "http": (edge_http, True),
    "batch": (edge_batch, False),
    "agent": (edge_agent, True),
    "kamailio": (edge_kamailio, True),
}


# --- the tests ---------------------------------------------------------------------------------


def test_the_table_covers_every_action_and_the_anonymous_trunk_cases(reference: dict[str, Key]) -> None:
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)
    assert {key[0] for key in reference.values()} == {"allow", "flag", "block"}
    assert reference["anonymous-trunk-host-allow"][:2] == ("allow", ())
    assert reference["anonymous-trunk-host-suspended"][:2] == ("block", ("suspended",))
    assert reference["payphone-percent"][:2] == reference["payphone-word"][:2] == ("flag", ("payphone",))
    for number, why in SAMPLE_NUMBERS:  # from the trunk, the sample verdicts as written
        action, reasons = why.split(" ", 2)[:2]
        expected = tuple(r for r in reasons.strip("[]").split(",") if r)
        assert reference[f"sample-{number}"][:2] == (action, expected), number


@pytest.mark.parametrize("edge", list(EDGES))
def test_every_edge_gives_the_library_verdict(edge: str, world: World, reference: dict[str, Key]) -> None:
    collect, has_code = EDGES[edge]
    started = time.monotonic()
    got = collect(world)
    expected = reference if has_code else {k: (a, r, None) for k, (a, r, _c) in reference.items()}
    mismatches = [
        f"  {name}: library {expected[name]} != {edge} {got.get(name)}"
        for name in expected
        if got.get(name) != expected[name]
    ]
    print(f"{edge}: {len(CASES)} cases in {time.monotonic() - started:.1f}s")
    assert not mismatches, f"{edge} disagrees with the library on {len(mismatches)} case(s):\n" + "\n".join(
        mismatches
    )
