"""Just enough SIP to find when a call was answered in a capture, and to write one.

The call-start offset of the tone is measured from the answer: the first
``200 OK`` whose CSeq method is INVITE. Rendered pcaps carry a minimal
INVITE / 200 OK / ACK exchange so that offset round-trips.
"""

from __future__ import annotations

from collections.abc import Iterable

from sipcheck.tones.pcap import UdpDatagram


def is_invite_ok(payload: bytes) -> bool:
    """True for a SIP ``200`` response to an INVITE."""
    if not payload.startswith(b"SIP/2.0 200"):
        return False
    for line in payload.split(b"\r\n\r\n", 1)[0].split(b"\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"cseq":
            return value.split()[-1:] == [b"INVITE"]
    return False


def answer_time(datagrams: Iterable[UdpDatagram]) -> float | None:
    """Capture time of the first 200 OK to an INVITE, or None when the capture has none."""
    for d in datagrams:
        if is_invite_ok(d.payload):
            return d.time
    return None


def _message(start: str, headers: list[tuple[str, str]], body: str = "") -> bytes:
    lines = [start, *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines += ["Content-Type: application/sdp"]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def call_setup(
    caller: tuple[str, int], callee: tuple[str, int], rtp_port: int, payload_type: int
) -> tuple[bytes, bytes, bytes]:
    """A minimal INVITE, 200 OK and ACK between ``caller`` and ``callee`` (host, SIP port)."""
    codec = "PCMU" if payload_type == 0 else "PCMA"
    call_id = "sipcheck-tone-render@sipcheck.invalid"
    common = [
        ("Via", f"SIP/2.0/UDP {caller[0]}:{caller[1]};branch=z9hG4bK-sipcheck-1"),
        ("From", f"<sip:caller@{caller[0]}>;tag=a1"),
        ("To", f"<sip:callee@{callee[0]}>"),
        ("Call-ID", call_id),
    ]
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {callee[0]}\r\ns=-\r\nc=IN IP4 {callee[0]}\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP {payload_type}\r\na=rtpmap:{payload_type} {codec}/8000\r\n"
    )
    invite = _message(f"INVITE sip:callee@{callee[0]} SIP/2.0", [*common, ("CSeq", "1 INVITE")], sdp)
    ok_headers = [*common[:2], ("To", f"<sip:callee@{callee[0]}>;tag=b2"), common[3], ("CSeq", "1 INVITE")]
    ok = _message("SIP/2.0 200 OK", ok_headers, sdp)
    ack = _message(f"ACK sip:callee@{callee[0]} SIP/2.0", [*common, ("CSeq", "1 ACK")])
    return invite, ok, ack
