"""RTP (RFC 3550) packetization and depacketization for G.711.

Depacketizing reorders by extended sequence number, drops duplicates, and
places each payload by its RTP timestamp, so a missing packet leaves a hole
of exactly its duration. Holes where sequence numbers are missing are reported
in a ``lost`` mask so validation knows which tone edges it cannot trust; a hole
between consecutive sequence numbers was never sent and is plain silence. Lost
holes are filled either with silence or by repeating the previous frame
(simple concealment, as a phone does).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from sipcheck.tones import g711
from sipcheck.tones.levels import FloatArray, from_pcm16

Concealment = Literal["silence", "repeat"]
FRAME_SAMPLES = 160
"""20 ms at 8 kHz: the usual G.711 packet."""
_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet (no CSRCs or extension are written; both are skipped on parse)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _HEADER.pack(0x80, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc) + (
            self.payload
        )


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse an RTP packet; raises ValueError when the bytes are not RTP version 2."""
    if len(data) < 12:
        raise ValueError("shorter than an RTP header")
    first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError("not RTP version 2")
    pos = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(data) < pos + 4:
            raise ValueError("truncated RTP header extension")
        (words,) = struct.unpack_from("!H", data, pos + 2)
        pos += 4 + 4 * words
    end = len(data)
    if first & 0x20:
        if end == 0 or data[-1] == 0 or data[-1] > end - pos:
            raise ValueError("invalid RTP padding")
        end -= data[-1]
    if pos > end:
        raise ValueError("truncated RTP packet")
    return RtpPacket(second & 0x7F, seq, ts, ssrc, bytes(data[pos:end]), bool(second & 0x80))


def packetize(
    codes: bytes,
    codec: g711.Codec,
    *,
    ssrc: int,
    first_sequence: int = 0,
    first_timestamp: int = 0,
    frame_samples: int = FRAME_SAMPLES,
) -> list[RtpPacket]:
    """Split G.711 bytes into RTP packets of ``frame_samples`` (the last one may be short).

    Sequence numbers and timestamps wrap modulo 2**16 and 2**32; the first
    packet carries the marker bit (start of a talkspurt).
    """
    pt = g711.PAYLOAD_TYPES[codec]
    return [
        RtpPacket(
            pt,
            (first_sequence + i) & 0xFFFF,
            (first_timestamp + off) & 0xFFFFFFFF,
            ssrc,
            codes[off : off + frame_samples],
            marker=i == 0,
        )
        for i, off in enumerate(range(0, len(codes), frame_samples))
    ]


def extend_sequences(sequences: Sequence[int]) -> list[int]:
    """Unwrap 16-bit sequence numbers (in arrival order) into a monotonic-ish extended count."""
    out: list[int] = []
    prev: int | None = None
    for s in sequences:
        if prev is None:
            ext = s
        else:
            delta = (s - (prev & 0xFFFF) + 0x8000) % 0x10000 - 0x8000
            ext = prev + delta
        out.append(ext)
        prev = ext if prev is None or ext > prev else prev
    return out


@dataclass(frozen=True)
class Depacketized:
    """Audio rebuilt from one RTP stream; ``lost[i]`` marks samples no packet carried."""

    samples: FloatArray
    lost: npt.NDArray[np.bool_]
    codec: g711.Codec
    offsets: npt.NDArray[np.int64]
    """Sample offset of each packet kept, in the order of `kept_indices`."""
    kept_indices: npt.NDArray[np.int64]
    """Index (in the input sequence) of each packet kept after de-duplication."""


def depacketize(packets: Sequence[RtpPacket], *, conceal: Concealment = "silence") -> Depacketized:
    """Rebuild 8 kHz audio from G.711 RTP packets of one stream, given in arrival order."""
    if not packets:
        raise ValueError("no RTP packets")
    codec = g711.CODEC_BY_PAYLOAD_TYPE.get(packets[0].payload_type)
    if codec is None:
        raise ValueError(f"RTP payload type {packets[0].payload_type} is not PCMU (0) or PCMA (8)")
    ext = extend_sequences([p.sequence for p in packets])
    order = sorted(range(len(packets)), key=lambda i: (ext[i], i))
    kept: list[int] = []
    seen: set[int] = set()
    for i in order:
        if ext[i] not in seen and g711.CODEC_BY_PAYLOAD_TYPE.get(packets[i].payload_type) == codec:
            seen.add(ext[i])
            kept.append(i)
    ts0 = packets[kept[0]].timestamp
    offsets = np.array(
        [((packets[i].timestamp - ts0 + 0x80000000) % 0x100000000) - 0x80000000 for i in kept], dtype=np.int64
    )
    if offsets.min() < 0:
        offsets -= offsets.min()
    total = int(max(off + len(packets[i].payload) for off, i in zip(offsets, kept, strict=True)))
    if total > 8000 * 3600 * 4:
        raise ValueError("RTP timestamps span more than four hours")
    pcm = np.zeros(total, dtype=np.float64)
    lost = np.ones(total, dtype=np.bool_)
    for off, i in zip(offsets, kept, strict=True):
        payload = packets[i].payload
        pcm[off : off + len(payload)] = from_pcm16(g711.decode(payload, codec))
        lost[off : off + len(payload)] = False
    _clear_unsent_holes(lost, offsets, [packets[i] for i in kept], [ext[i] for i in kept])
    if conceal == "repeat":
        _conceal_by_repetition(pcm, lost)
    return Depacketized(pcm, lost, codec, offsets, np.array(kept, dtype=np.int64))


def _clear_unsent_holes(
    lost: npt.NDArray[np.bool_], offsets: npt.NDArray[np.int64], kept: list[RtpPacket], ext: list[int]
) -> None:
    """Unmark holes the sender never filled (in place): a timestamp jump between packets whose
    sequence numbers are consecutive.

    RFC 3550 numbers every packet sent, so a hole bracketed by consecutive sequence numbers held no
    packet: the sender sent no audio for that time (silence suppression, a player that skipped).
    That silence is a fact to judge, not loss: a tone burst that belonged there fails. A hole with a
    sequence gap had packets sent that never reached the capture, so it stays lost (inconclusive).
    """
    for k in range(len(kept) - 1):
        if ext[k + 1] != ext[k] + 1:
            continue
        end = int(offsets[k]) + len(kept[k].payload)
        start = int(offsets[k + 1])
        if start > end:
            lost[end:start] = False


def _conceal_by_repetition(pcm: FloatArray, lost: npt.NDArray[np.bool_]) -> None:
    """Fill each hole by repeating the 20 ms before it (in place); a hole at the start stays silent."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], lost.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if start < FRAME_SAMPLES:
            continue
        src = pcm[start - FRAME_SAMPLES : start]
        reps = -(-(stop - start) // FRAME_SAMPLES)
        pcm[start:stop] = np.tile(src, reps)[: stop - start]
