"""RFC 4475's torture messages: the strict request check, the front over UDP, and the agent over TCP.

The corpus (tests/data/rfc4475, bytes as published, with manifest.tsv) holds 50 messages: valid ones
must pass untouched, the invalid ones be refused with the RFC's code and a Warning naming the fault.
"""

from __future__ import annotations

import asyncio
import csv
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from siphelpers import Relay

from sipcheck.sip.admission import Admission
from sipcheck.sip.front import PeerFilter, SipFront
from sipcheck.sip.harness import free_port
from sipcheck.sip.sipmsg import parse_message
from sipcheck.sip.strict import request_problem

CORPUS = Path(__file__).parent.parent / "data" / "rfc4475"
with open(CORPUS / "manifest.tsv", encoding="utf-8") as _fh:
    MANIFEST = {row["file"]: row for row in csv.DictReader(_fh, delimiter="\t")}

REFUSED = {
    # invalid (RFC 4475 3.1.2)
    "badinv01.sip": 400,
    "clerr.sip": 400,
    "ncl.sip": 400,
    "scalar02.sip": 400,
    "quotbal.sip": 400,
    "ltgtruri.sip": 400,
    "lwsruri.sip": 400,
    "lwsstart.sip": 400,
    "trws.sip": 400,
    "escruri.sip": 400,
    "regbadct.sip": 400,
    "badaspec.sip": 400,
    "baddn.sip": 400,
    "badvers.sip": 505,
    "mismatch01.sip": 400,
    "mismatch02.sip": 400,
    # valid syntax, refused by the application layer (3.3)
    "insuf.sip": 400,
    "unkscm.sip": 416,
    "novelsc.sip": 416,
    "multi01.sip": 400,
    "mcl01.sip": 400,
}
"""What the strict check refuses. The rest of the requests pass it: the valid ones, baddate (the RFC
allows being liberal), and those whose answer is the SIP stack's (420 Require, 415, 401, 406)."""


def _requests() -> list[tuple[str, bytes]]:
    out = []
    for name in sorted(MANIFEST):
        data = (CORPUS / name).read_bytes()
        if not data.startswith(b"SIP/2.0 ") and name != "test.sip":  # test.sip: not in any section
            out.append((name, data))
    return out


def test_the_corpus_is_the_published_one() -> None:
    import hashlib

    assert len(MANIFEST) == 50  # 49 messages of the RFC and test.sip, found beside them in both copies
    for name, row in MANIFEST.items():
        assert hashlib.sha256((CORPUS / name).read_bytes()).hexdigest() == row["sha256"], name


@pytest.mark.parametrize(("name", "data"), _requests(), ids=lambda v: v if isinstance(v, str) else "")
def test_strict_check_refuses_exactly_what_rfc_4475_says(name: str, data: bytes) -> None:
    msg = parse_message(data)
    problem = request_problem(data, msg, datagram=True)
    expected = REFUSED.get(name)
    if expected is None:
        assert problem is None, (name, MANIFEST[name]["class"], problem)
    else:
        assert problem is not None and problem.code == expected, (name, problem)
        assert problem.detail and problem.warning()[1].startswith('399 sipcheck "')


def _front_exchange(datagrams: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Send each datagram to a real front on loopback; what came back, and what reached the backend."""

    async def run() -> tuple[list[bytes], list[bytes]]:
        loop = asyncio.get_running_loop()
        backend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        backend.bind(("127.0.0.1", 0))
        backend.setblocking(False)
        front = SipFront(
            backend.getsockname(), PeerFilter(["127.0.0.1"]), Admission(max_calls=100, max_cps=1000.0)
        )
        transport, _ = await loop.create_datagram_endpoint(lambda: front, local_addr=("127.0.0.1", 0))
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.setblocking(False)
        replies: list[bytes] = []
        forwarded: list[bytes] = []
        try:
            for data in datagrams:
                client.sendto(data, transport.get_extra_info("sockname"))
                got_reply = got_forward = None
                deadline = loop.time() + 0.5
                while loop.time() < deadline and got_reply is None and got_forward is None:
                    await asyncio.sleep(0.002)
                    for sock, into in ((client, replies), (backend, forwarded)):
                        try:
                            into.append(sock.recv(65536))
                            got_reply = True
                        except BlockingIOError:
                            pass
                if got_reply is None:
                    replies.append(b"")
        finally:
            transport.close()
            client.close()
            backend.close()
        return replies, forwarded

    return asyncio.run(run())


def test_the_front_answers_invalid_requests_itself_and_forwards_the_valid_ones() -> None:
    requests = [(n, d) for n, d in _requests() if not d.startswith(b"OPTIONS") or n in REFUSED]
    for name, data in requests:
        replies, forwarded = _front_exchange([data])
        expected = REFUSED.get(name)
        if expected is not None:
            assert forwarded == [] and replies[0].startswith(f"SIP/2.0 {expected} ".encode()), (name, replies)
            assert b"Warning: 399 sipcheck" in replies[0], name
        elif parse_message(data).method == "ACK":
            assert forwarded and replies == [b""], name
        else:
            assert len(forwarded) == 1 and b"399 sipcheck" not in b"".join(replies), (name, replies)


def test_strict_syntax_off_restores_the_lenient_front() -> None:
    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        backend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        backend.bind(("127.0.0.1", 0))
        front = SipFront(
            backend.getsockname(),
            PeerFilter(["127.0.0.1"]),
            Admission(max_calls=2, max_cps=20.0),
            strict_syntax=False,
        )
        transport, _ = await loop.create_datagram_endpoint(lambda: front, local_addr=("127.0.0.1", 0))
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.settimeout(2)
        client.sendto((CORPUS / "mismatch01.sip").read_bytes(), transport.get_extra_info("sockname"))
        try:
            return await asyncio.to_thread(client.recv, 65536)
        finally:
            transport.close()
            client.close()
            backend.close()

    assert asyncio.run(run()).startswith(b"SIP/2.0 200 OK")


def _tcp_exchange(port: int, data: bytes, wait_s: float = 3.0) -> bytes:
    """Send ``data`` over a new TCP connection whose own port is put in the Via (``PORT``), as a real
    client's is: pjsip sends a response over the connection its Via names."""
    with socket.socket() as conn:
        conn.bind(("127.0.0.1", 0))
        conn.settimeout(wait_s)
        conn.connect(("127.0.0.1", port))
        conn.sendall(data.replace(b"127.0.0.1:PORT", f"127.0.0.1:{conn.getsockname()[1]}".encode()))
        received = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not _finals(received):
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received


def _tcp_invite(
    port: int, n: int, *, start: str = "", frm: str = "", to: str = "", cseq: str = "", mf: str = "70"
) -> bytes:
    start = start or f"INVITE sip:0399990000@127.0.0.1:{port};transport=tcp SIP/2.0"
    return (
        f"{start}\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:PORT;rport;branch=z9hG4bKtcp{n}\r\n"
        f"From: {frm or '<sip:0352535111@127.0.0.1>'};tag=t{n}\r\n"
        f"To: {to or '<sip:0399990000@127.0.0.1>'}\r\n"
        f"Call-ID: tcp-{n}@127.0.0.1\r\n"
        f"CSeq: {cseq or '1 INVITE'}\r\n"
        f"Max-Forwards: {mf}\r\n"
        f"Contact: <sip:0352535111@127.0.0.1:PORT;transport=tcp>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _finals(reply: bytes) -> list[bytes]:
    lines = reply.split(b"\r\n")
    return [line for line in lines if line.startswith(b"SIP/2.0 ") and not line.startswith(b"SIP/2.0 1")]


def test_over_tcp_the_agent_refuses_malformed_invites_and_relays_nothing(
    start_relay: Callable[..., Relay],
) -> None:
    hop = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the next hop
    hop.bind(("127.0.0.1", free_port()))
    hop.settimeout(0.5)
    relay = start_relay(transports=["udp", "tcp"], next_hop=f"sip:127.0.0.1:{hop.getsockname()[1]}")
    port = relay.port
    # RFC 4475's faults that pjsip's parser lets through reach the agent; its strict check refuses them
    # (what pjsip cannot parse, such as an unterminated quote, it drops itself: nothing is relayed).
    # (The corpus files themselves carry example.com Vias, which over TCP would send pjsip's answers off
    # loopback: they are checked over UDP, where the front answers the datagram's source.)
    faults = {
        "trws": _tcp_invite(port, 1, start=f"INVITE sip:0399990000@127.0.0.1:{port} SIP/2.0 "),
        "baddn": _tcp_invite(port, 2, frm="Bell, Alexander <sip:0352535111@127.0.0.1>"),
        "badaspec": _tcp_invite(port, 3, to="< sip:0399990000@127.0.0.1 >"),
        "scalar02": _tcp_invite(port, 5, mf="300"),
    }
    said = {}
    for again in range(2):  # twice: refusing over TCP once used to abort the agent on the next INVITE
        for fault, data in faults.items():
            fresh = data.replace(b"tcp-", f"tcp{again}-".encode()).replace(b"bKtcp", f"bK{again}tcp".encode())
            reply = _tcp_exchange(port, fresh)
            finals = _finals(reply)
            said[fault] = (finals[0].decode() if finals else "", b"Warning: 399 sipcheck" in reply)
    with pytest.raises(TimeoutError):
        print("relayed:", hop.recv(65536)[:200])
    assert all(code == "SIP/2.0 400 Bad Request" and ours for code, ours in said.values()), said
    # The same INVITE without a fault is relayed: the checks above could have failed.
    _tcp_exchange(port, _tcp_invite(port, 9), wait_s=1.0)
    assert hop.recv(65536).startswith(b"INVITE sip:0399990000@127.0.0.1")
    hop.close()


def test_over_tcp_an_untrusted_peer_is_refused_and_the_agent_survives(
    start_relay: Callable[..., Relay],
) -> None:
    relay = start_relay(transports=["udp", "tcp"], trusted_peers=["192.0.2.1"])
    for n in range(3):
        reply = _tcp_exchange(relay.port, _tcp_invite(relay.port, 20 + n))
        assert _finals(reply)[:1] == [b"SIP/2.0 403 Forbidden"], reply[:300]
    # the fixture checks at teardown that the agent exits 0, not aborted
