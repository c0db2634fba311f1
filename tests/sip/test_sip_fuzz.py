"""Fuzzing that stays: malformed SIP never crashes the parser, the caller identity, or the agent's UDP
front (real sockets on loopback), and the front still answers afterwards.

Run longer with ``SIPCHECK_FUZZ_EXAMPLES=5000 pytest tests/sip/test_sip_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcheck.sip.admission import Admission
from sipcheck.sip.front import PeerFilter, SipFront
from sipcheck.sip.sipmsg import SipParseError, caller_identity, parse_message

EXAMPLES = int(os.environ.get("SIPCHECK_FUZZ_EXAMPLES", "150"))

START_LINES = st.one_of(
    st.sampled_from(
        [
            "INVITE sip:0399990000@127.0.0.1 SIP/2.0",
            "OPTIONS sip:127.0.0.1 SIP/2.0",
            "ACK sip:x@127.0.0.1 SIP/2.0",
            "BYE sip:x SIP/2.0",
            "CANCEL sip:x SIP/2.0",
            "SIP/2.0 200 OK",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 999",
            " SIP/2.0",
            "INVITE  SIP/2.0",
        ]
    ),
    st.text(max_size=60).map(lambda t: t + " SIP/2.0"),
)
HEADER_NAMES = st.sampled_from(
    [
        "Via",
        "v",
        "From",
        "f",
        "To",
        "t",
        "Call-ID",
        "i",
        "CSeq",
        "P-Asserted-Identity",
        "Privacy",
        "Contact",
        "m",
        "Content-Length",
        "l",
        "Max-Forwards",
        "X-Sipcheck-Ingress",
        "X-Sipcheck-Verdict",
        "",
    ]
)
HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1",
            "SIP/2.0/UDP 127.0.0.1;branch=",
            "<sip:0352535111@127.0.0.1>;tag=1",
            '"Anonymous" <sip:anonymous@anonymous.invalid>',
            "<tel:+81352535111>",
            "<sip:%E5%85%AC%E8%A1%86%E9%9B%BB%E8%A9%B1@x>",
            "<sip:@>",
            "<<<>>>",
            "id",
            "1 INVITE",
            "-1",
            "99999999999999999999",
        ]
    ),
    st.text(max_size=80),
)
HEADER = st.tuples(HEADER_NAMES, HEADER_VALUES, st.sampled_from([": ", ":", " : ", "", "\r\n\t"]))


@st.composite
def sip_like(draw: Any) -> bytes:
    start = draw(START_LINES)
    headers = draw(st.lists(HEADER, max_size=12))
    ending = draw(st.sampled_from(["\r\n\r\n", "\n\n", "\r\n", ""]))
    body = draw(st.text(max_size=100))
    text = start + "\r\n" + "".join(f"{n}{sep}{v}\r\n" for n, v, sep in headers) + ending + body
    encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
    return text.encode(encoding, "replace")


DATAGRAMS = st.one_of(sip_like(), st.binary(max_size=1500))


@settings(max_examples=EXAMPLES * 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATAGRAMS, st.booleans())
def test_parsing_and_caller_identity_raise_only_their_own_error(data: bytes, trusted: bool) -> None:
    try:
        msg = parse_message(data)
    except SipParseError:
        return
    caller = caller_identity(msg, trusted)
    assert isinstance(caller.number, str) and isinstance(caller.anonymous, bool)
    for name in ("via_branch", "to_tag", "call_id", "is_request"):
        getattr(msg, name)
    if msg.is_request:
        assert isinstance(msg.method, str)


OPTIONS = (
    b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-probe\r\n"
    b"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DATAGRAMS, min_size=1, max_size=15))
def test_the_front_survives_any_datagram_and_still_answers(datagrams: list[bytes]) -> None:
    errors: list[dict[str, Any]] = []

    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        backend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        backend.bind(("127.0.0.1", 0))
        backend.setblocking(False)
        front = SipFront(
            backend.getsockname(), PeerFilter(["127.0.0.1"]), Admission(max_calls=2, max_cps=20.0)
        )
        transport, _ = await loop.create_datagram_endpoint(lambda: front, local_addr=("127.0.0.1", 0))
        address = transport.get_extra_info("sockname")
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.setblocking(False)
        try:
            for data in datagrams:
                client.sendto(data, address)
                await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            client.sendto(OPTIONS, address)
            deadline = loop.time() + 2
            while loop.time() < deadline:
                try:
                    reply = client.recv(65536)
                except BlockingIOError:
                    await asyncio.sleep(0.002)
                    continue
                if b"Call-ID: probe" in reply or b"call-id: probe" in reply.lower():
                    return reply
            return b""
        finally:
            transport.close()
            client.close()
            backend.close()

    reply = asyncio.run(run())
    assert errors == [], errors[:3]
    assert reply.startswith(b"SIP/2.0 200 OK"), reply[:200]
