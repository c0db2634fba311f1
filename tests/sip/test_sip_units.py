"""The agent's pure parts: SIP text, caller identity, admission control, and the UDP front on real sockets."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from sipcheck.numbers import parse_number
from sipcheck.settings import Settings
from sipcheck.sip.admission import Admission, Offer, TokenBucket
from sipcheck.sip.agent import agent_env, for_index
from sipcheck.sip.front import INGRESS_HEADER, PeerFilter, SipFront
from sipcheck.sip.relay import next_hop_uri
from sipcheck.sip.sipmsg import (
    SipParseError,
    build_response,
    caller_identity,
    name_addr,
    parse_message,
    strip_header,
    uri_user,
)


def invite(
    *,
    frm: str = '"A" <sip:0352535111@198.51.100.1>;tag=abc',
    extra: str = "",
    to_tag: str = "",
    call_id: str = "c1@x",
    branch: str = "z9hG4bK1",
) -> bytes:
    return (
        "INVITE sip:0399990000@127.0.0.1:5070 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n"
        f"f: {frm}\r\n"
        f"To: <sip:0399990000@127.0.0.1>{to_tag}\r\n"
        f"i: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_parse_expands_compact_headers_and_folding() -> None:
    msg = parse_message(invite(extra="Subject: one\r\n two\r\n"))
    assert msg.is_request and msg.method == "INVITE"
    assert msg.call_id == "c1@x" and msg.get("From") == msg.get("f")
    assert msg.get("subject") == "one two"
    assert msg.via_branch == "z9hG4bK1" and msg.to_tag is None
    assert uri_user(msg.request_uri) == "0399990000"


def test_parse_rejects_non_sip() -> None:
    with pytest.raises(SipParseError):
        parse_message(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(SipParseError):
        parse_message(b"INVITE sip:a SIP/2.0\r\nno colon here\r\n\r\n")


def test_caller_prefers_pai_from_trusted_peer_only() -> None:
    msg = parse_message(invite(extra="P-Asserted-Identity: <tel:+81-3-5253-5678>\r\nPrivacy: id\r\n"))
    trusted = caller_identity(msg, trusted=True)
    assert trusted.source == "p-asserted-identity" and trusted.privacy == "id"
    assert parse_number(trusted.number or "").national == "0352535678"
    untrusted = caller_identity(msg, trusted=False)
    assert untrusted.source == "from" and untrusted.pai_value is None


def test_anonymous_caller_has_no_number() -> None:
    msg = parse_message(invite(frm='"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1'))
    assert caller_identity(msg, trusted=True).anonymous


def test_build_response_copies_dialog_headers_and_adds_a_tag() -> None:
    msg = parse_message(invite())
    resp = parse_message(build_response(msg, 503, "Service Unavailable", (("Retry-After", "1"),)))
    assert resp.status == 503 and resp.method == "INVITE"
    assert resp.call_id == "c1@x" and resp.via_branch == "z9hG4bK1"
    assert resp.to_tag and resp.get("retry-after") == "1"


def test_header_helpers() -> None:
    assert name_addr('"A" <sip:1@h>;tag=x') == '"A" <sip:1@h>'
    data = invite(extra=f"{INGRESS_HEADER}: 6.6.6.6:1\r\n")
    assert INGRESS_HEADER.encode() not in strip_header(data, INGRESS_HEADER)
    assert next_hop_uri("sip:127.0.0.1:5080", "0399990000") == "sip:0399990000@127.0.0.1:5080"
    assert next_hop_uri("10.0.0.1;transport=tcp", "") == "sip:10.0.0.1;transport=tcp"


def test_token_bucket_refills_with_time() -> None:
    bucket = TokenBucket(rate=2.0, burst=2.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.5)  # one token back after half a second at 2/s
    assert not bucket.take(0.5)


def test_admission_slots_rate_retransmissions_and_expiry() -> None:
    adm = Admission(max_calls=2, max_cps=100.0, pending_ttl=5.0, linger=10.0)
    assert adm.offer("a", 0.0) is Offer.ADMIT
    assert adm.offer("a", 0.1) is Offer.RETRANSMISSION
    assert adm.offer("b", 0.1) is Offer.ADMIT
    assert adm.offer("c", 0.2) is Offer.FULL
    assert adm.confirm("a") and not adm.confirm("zz")
    adm.release("a", 1.0)
    assert adm.offer("a", 1.1) is Offer.RETRANSMISSION  # a late retransmission is not a new call
    assert adm.offer("c", 1.2) is Offer.ADMIT
    # "b" was never confirmed by the relay: its slot expires.
    assert adm.offer("d", 5.2) is Offer.ADMIT
    assert adm.active == 2
    slow = Admission(max_calls=10, max_cps=1.0)
    assert slow.offer("x", 0.0) is Offer.ADMIT
    assert slow.offer("y", 0.1) is Offer.RATE and slow.rejected_rate == 1


def test_peer_filter() -> None:
    peers = PeerFilter(["127.0.0.1", "10.0.0.0/8", "::1", "192.0.2.7:5060"])
    assert peers.allows("127.0.0.1") and peers.allows("10.2.3.4") and peers.allows("::1")
    assert peers.allows("192.0.2.7") and not peers.allows("192.0.2.8") and not peers.allows("not-an-ip")
    with pytest.raises(ValueError, match=r"sip\.trusted_peers"):
        PeerFilter(["trunk-a"])


async def _front_roundtrip(
    trusted: list[str], datagrams: list[bytes], max_calls: int = 1
) -> tuple[list[bytes], list[bytes]]:
    """Run a front between a peer socket and a backend socket; return (to peer, to backend)."""
    loop = asyncio.get_running_loop()
    backend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    backend.bind(("127.0.0.1", 0))
    backend.setblocking(False)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    transport, front = await loop.create_datagram_endpoint(
        lambda: SipFront(
            backend.getsockname(),
            PeerFilter(trusted),
            Admission(max_calls=max_calls, max_cps=100.0),
            status=lambda: [("X-Sipcheck-Status", "{}")],
        ),
        local_addr=("127.0.0.1", 0),
    )
    front_addr = transport.get_extra_info("sockname")
    to_peer: list[bytes] = []
    to_backend: list[bytes] = []
    try:
        for data in datagrams:
            peer.sendto(data, front_addr)
        await asyncio.sleep(0.2)
        while True:
            try:
                to_backend.append(backend.recv(65535))
            except BlockingIOError:
                break
        # pjsip answers the forwarded INVITE to the front; the front must relay it to the peer by branch.
        for data in to_backend:
            msg = parse_message(data)
            backend.sendto(build_response(msg, 180, "Ringing"), front_addr)
        await asyncio.sleep(0.2)
        while True:
            try:
                to_peer.append(peer.recv(65535))
            except BlockingIOError:
                break
    finally:
        transport.close()
        backend.close()
        peer.close()
    assert isinstance(front, SipFront)
    return to_peer, to_backend


def test_front_forwards_trusted_invite_with_ingress_and_sheds_beyond_slots() -> None:
    spoofed = invite(extra=f"{INGRESS_HEADER}: 6.6.6.6:6\r\n")
    second = invite(call_id="c2@x", branch="z9hG4bK2")
    to_peer, to_backend = asyncio.run(_front_roundtrip(["127.0.0.1"], [spoofed, spoofed, second]))
    assert len(to_backend) == 2  # the INVITE and its retransmission; the second call was shed
    forwarded = parse_message(to_backend[0])
    assert forwarded.all(INGRESS_HEADER.lower()) == [forwarded.get(INGRESS_HEADER.lower())]
    assert forwarded.get(INGRESS_HEADER.lower()) != "6.6.6.6:6"
    statuses = sorted(parse_message(d).status or 0 for d in to_peer)
    assert statuses == [180, 180, 503]
    shed = next(parse_message(d) for d in to_peer if parse_message(d).status == 503)
    assert shed.call_id == "c2@x" and shed.get("retry-after") == "1"


def test_front_refuses_strangers_and_answers_options_itself() -> None:
    options = invite().replace(b"INVITE", b"OPTIONS")
    to_peer, to_backend = asyncio.run(_front_roundtrip(["192.0.2.1"], [invite(), b"not sip at all"]))
    assert to_backend == []
    assert [parse_message(d).status for d in to_peer] == [403]
    to_peer, to_backend = asyncio.run(_front_roundtrip(["127.0.0.1"], [options]))
    assert to_backend == [] and parse_message(to_peer[0]).get("x-sipcheck-status") == "{}"


def test_agent_i_of_a_service_gets_its_own_ports() -> None:
    settings = Settings(sip={"listen_port": 5070, "rtp_port": 20000, "rtp_port_range": 200, "agents": 3})
    third = for_index(settings, 2).sip
    assert (third.listen_port, third.rtp_port, third.agents) == (5072, 20400, 1)
    env = agent_env(settings, 2, base={})
    assert env["SIPCHECK_SIP__LISTEN_PORT"] == "5072" and env["SIPCHECK_SIP__RTP_PORT"] == "20400"


def test_free_port_block_finds_a_block_whatever_the_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-process start offset once overshot the range for some pids (a CI-only failure)."""
    from sipcheck.sip import harness

    for pid in range(0, 97 * 3, 5):
        monkeypatch.setattr(harness.os, "getpid", lambda pid=pid: pid)
        for start, count in ((44000, 4), (46000, 400), (30000, 402)):
            base = harness.free_port_block(count, start=start)
            assert start <= base and base + count <= 60000


_ANNOUNCER = """
import sys
from sipcheck.sip.agent import announce_ready
for i in range(int(sys.argv[1])):
    announce_ready({"pid": i, "next_hop": "sip:127.0.0.1:9", "pad": "x" * 120})
"""


def test_ready_lines_from_sibling_agents_never_interleave() -> None:
    """Sibling agents share one stdout pipe; each ready line must arrive whole.

    Unbuffered stdout is where ``print`` splits a line into two writes, so the
    writers run with ``PYTHONUNBUFFERED=1`` (as a service manager may set it).
    """
    import json
    import os
    import subprocess
    import sys

    from sipcheck.sip.agent import READY_PREFIX

    read_fd, write_fd = os.pipe()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    writers = [
        subprocess.Popen([sys.executable, "-c", _ANNOUNCER, "3000"], stdout=write_fd, env=env)
        for _ in range(3)
    ]
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        lines = pipe.read().splitlines()
    assert all(w.wait(30) == 0 for w in writers)
    assert len(lines) == 9000
    for line in lines:
        assert line.startswith(READY_PREFIX), line[:80]
        json.loads(line[len(READY_PREFIX) :])


def test_the_agent_renders_its_tone_without_loading_the_analysis_stack() -> None:
    """An agent process holds two calls, so its memory is the capacity per gigabyte: scipy (~70 MB)
    is for analysis, which the relay never runs."""
    code = (
        "import sys, tempfile, pathlib\n"
        "import sipcheck.sip.agent, sipcheck.sip.relay\n"
        "from sipcheck.sip.tone import render_tone_file\n"
        "tone = render_tone_file('example-call-start', pathlib.Path(tempfile.mkdtemp()))\n"
        "assert tone.duration_ms > 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'matplotlib')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
