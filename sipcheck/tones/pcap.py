"""Capture files: read UDP datagrams from pcap/pcapng, write Ethernet/IPv4/UDP pcap.

Reading understands the link types captures really come in (Ethernet with
VLAN tags, Linux cooked v1/v2, raw IPv4/IPv6, BSD loopback) and both classic
pcap (either byte order, µs or ns) and pcapng. Everything that is not UDP is
skipped; fragments after the first are skipped. Written files are classic
pcap, Ethernet, µs timestamps: what every tool opens.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sipcheck.tones.errors import AudioFormatError

_LINK_NULL, _LINK_ETHERNET, _LINK_RAW, _LINK_LOOP, _LINK_SLL, _LINK_IPV4, _LINK_IPV6, _LINK_SLL2 = (
    0,
    1,
    101,
    108,
    113,
    228,
    229,
    276,
)


@dataclass(frozen=True)
class UdpDatagram:
    """A UDP payload with its capture time (s since the epoch) and endpoints."""

    time: float
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


def _udp_from_ip(packet: bytes, time: float) -> UdpDatagram | None:
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        (total_len,) = struct.unpack_from("!H", packet, 2)
        (frag,) = struct.unpack_from("!H", packet, 6)
        if packet[9] != 17 or frag & 0x1FFF:
            return None
        src, dst = str(ipaddress.IPv4Address(packet[12:16])), str(ipaddress.IPv4Address(packet[16:20]))
        body = packet[ihl : max(ihl, min(len(packet), total_len or len(packet)))]
    elif version == 6:
        if len(packet) < 40:
            return None
        nxt, pos = packet[6], 40
        while nxt in (0, 43, 60) and pos + 2 <= len(packet):  # hop-by-hop, routing, destination options
            nxt, pos = packet[pos], pos + 8 * (packet[pos + 1] + 1)
        if nxt == 44 and pos + 8 <= len(packet):  # fragment header: first fragment only
            (off,) = struct.unpack_from("!H", packet, pos + 2)
            if off & 0xFFF8:
                return None
            nxt, pos = packet[pos], pos + 8
        if nxt != 17:
            return None
        src, dst = str(ipaddress.IPv6Address(packet[8:24])), str(ipaddress.IPv6Address(packet[24:40]))
        body = packet[pos:]
    else:
        return None
    if len(body) < 8:
        return None
    sport, dport, length = struct.unpack_from("!HHH", body)
    payload = body[8 : length if 8 <= length <= len(body) else len(body)]
    return UdpDatagram(time, src, sport, dst, dport, bytes(payload))


def _ip_from_link(frame: bytes, linktype: int) -> bytes | None:
    if linktype == _LINK_ETHERNET:
        pos, ethertype = 14, struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
        while ethertype in (0x8100, 0x88A8) and len(frame) >= pos + 4:
            ethertype, pos = struct.unpack_from("!H", frame, pos + 2)[0], pos + 4
        return frame[pos:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == _LINK_SLL:
        return frame[16:] if len(frame) >= 16 and frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == _LINK_SLL2:
        return frame[20:] if len(frame) >= 20 and frame[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype in (_LINK_RAW, _LINK_IPV4, _LINK_IPV6):
        return frame
    if linktype in (_LINK_NULL, _LINK_LOOP):
        return frame[4:]
    return None


def _classic_records(data: bytes, source: str) -> Iterator[tuple[float, int, bytes]]:
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    endian, unit = formats[magic]
    if len(data) < 24:
        raise AudioFormatError(source, "truncated pcap header")
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    pos = 24
    rec = struct.Struct(endian + "IIII")
    while pos + 16 <= len(data):
        sec, frac, incl, _ = rec.unpack_from(data, pos)
        pos += 16
        if pos + incl > len(data):
            break  # a capture cut off mid-packet: keep what came before
        yield sec + frac * unit, linktype & 0xFFFF, data[pos : pos + incl]
        pos += incl


def _pcapng_records(data: bytes, source: str) -> Iterator[tuple[float, int, bytes]]:
    endian = "<"
    links: list[tuple[int, float]] = []
    pos = 0
    while pos + 12 <= len(data):
        (btype,) = struct.unpack_from(endian + "I", data, pos)
        if btype == 0x0A0D0D0A:
            endian = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        (blen,) = struct.unpack_from(endian + "I", data, pos + 4)
        if blen < 12 or pos + blen > len(data):
            break
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1 and len(body) >= 8:  # interface description
            linktype = struct.unpack_from(endian + "H", body)[0]
            unit = 1e-6
            opt = 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opt)
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[opt + 4]
                    unit = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -(v & 0x7F)
                opt += 4 + olen + (-olen % 4)
            links.append((linktype, unit))
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, hi, lo, cap = struct.unpack_from(endian + "IIII", body)
            if iface < len(links):
                linktype, unit = links[iface]
                yield ((hi << 32) | lo) * unit, linktype, body[20 : 20 + cap]
        elif btype == 3 and len(body) >= 4 and links:  # simple packet
            yield 0.0, links[0][0], body[4:]
        pos += blen
    if not links and pos == 0:
        raise AudioFormatError(source, "truncated pcapng file")


def parse_capture(data: bytes, source: str = "<pcap>") -> list[UdpDatagram]:
    """All UDP datagrams in a pcap or pcapng file held in memory, in capture order."""
    if len(data) == 0:
        raise AudioFormatError(source, "empty file")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        records = _classic_records(data, source)
    elif magic == b"\x0a\x0d\x0d\x0a":
        records = _pcapng_records(data, source)
    else:
        raise AudioFormatError(source, "not a pcap or pcapng capture (unknown magic number)")
    out: list[UdpDatagram] = []
    for time, linktype, frame in records:
        ip = _ip_from_link(frame, linktype)
        if ip is not None:
            dgram = _udp_from_ip(ip, time)
            if dgram is not None:
                out.append(dgram)
    return out


def read_capture(path: str | Path) -> list[UdpDatagram]:
    """Read every UDP datagram from a capture file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AudioFormatError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    return parse_capture(data, str(p))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes, ident: int = 0) -> bytes:
    """An Ethernet II / IPv4 / UDP frame with valid IP and UDP checksums."""
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    udp_len = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    udp_sum = _checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + udp_len, ident & 0xFFFF, 0x4000, 64, 17, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


def pcap_bytes(records: Sequence[tuple[float, bytes]]) -> bytes:
    """A classic pcap (Ethernet, µs) holding ``(time, frame)`` records."""
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, _LINK_ETHERNET)]
    for time, frame in records:
        sec = int(time)
        usec = round((time - sec) * 1e6)
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        parts.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        parts.append(frame)
    return b"".join(parts)
