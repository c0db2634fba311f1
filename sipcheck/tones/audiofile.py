"""Reading audio to analyse (WAV, raw G.711, RTP in a capture) and writing rendered tones.

This is the I/O edge of the tone package: everything here touches files and
turns them into an `Audio` (mono float samples plus what the container told
us: lost samples, call-answer time) for the pure analysis code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from sipcheck.tones import g711, pcap, rtp, sipmsg, wavio
from sipcheck.tones.errors import AudioFormatError
from sipcheck.tones.levels import FloatArray, from_pcm16

AudioFormat = Literal["wav", "ulaw", "alaw", "pcap"]
AUDIO_FORMATS: tuple[AudioFormat, ...] = ("wav", "ulaw", "alaw", "pcap")
_SUFFIXES: dict[str, AudioFormat] = {
    ".wav": "wav",
    ".wave": "wav",
    ".ul": "ulaw",
    ".ulaw": "ulaw",
    ".mulaw": "ulaw",
    ".pcmu": "ulaw",
    ".al": "alaw",
    ".alaw": "alaw",
    ".pcma": "alaw",
    ".pcap": "pcap",
    ".pcapng": "pcap",
    ".cap": "pcap",
}
MIN_RTP_PACKETS = 3
"""Fewer packets than this with the same SSRC are treated as stray UDP, not a stream."""


@dataclass(frozen=True)
class Audio:
    """Mono audio ready for analysis.

    ``lost`` marks samples no packet carried (RTP input only); ``call_start_s``
    is the call answer time on this audio's clock (from the SIP 200 OK in a
    capture), possibly negative when media started before the answer.
    """

    samples: FloatArray
    sample_rate: int
    source: str
    lost: npt.NDArray[np.bool_] | None = None
    call_start_s: float | None = None
    description: str = ""


@dataclass(frozen=True)
class RtpStream:
    """One G.711 RTP stream seen in a capture."""

    ssrc: int
    src: str
    sport: int
    dst: str
    dport: int
    payload_type: int
    packets: int

    def describe(self) -> str:
        codec = "PCMU" if self.payload_type == 0 else "PCMA"
        return (
            f"SSRC 0x{self.ssrc:08x} {self.src}:{self.sport} -> {self.dst}:{self.dport} "
            f"{codec}, {self.packets} packets"
        )


def guess_format(path: Path, head: bytes) -> AudioFormat:
    """The format from the file name, else from the first bytes."""
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    if head[:4] == b"RIFF":
        return "wav"
    if head[:4] in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
        b"\n\r\r\n",
    ):
        return "pcap"
    raise AudioFormatError(
        str(path), "cannot tell the audio format from the name or content; give the format"
    )


def _stream_key(d: pcap.UdpDatagram, packet: rtp.RtpPacket) -> tuple[int, str, int, str, int]:
    return (packet.ssrc, d.src, d.sport, d.dst, d.dport)


def rtp_streams(datagrams: list[pcap.UdpDatagram]) -> list[RtpStream]:
    """Every G.711 RTP stream in the capture, most packets first."""
    counts: Counter[tuple[int, str, int, str, int]] = Counter()
    pts: dict[tuple[int, str, int, str, int], int] = {}
    for d in datagrams:
        try:
            packet = rtp.parse_rtp(d.payload)
        except ValueError:
            continue
        if packet.payload_type in g711.CODEC_BY_PAYLOAD_TYPE:
            key = _stream_key(d, packet)
            counts[key] += 1
            pts.setdefault(key, packet.payload_type)
    return [
        RtpStream(*key, payload_type=pts[key], packets=n)
        for key, n in counts.most_common()
        if n >= MIN_RTP_PACKETS
    ]


def audio_from_capture(
    datagrams: list[pcap.UdpDatagram],
    source: str,
    *,
    ssrc: int | None = None,
    port: int | None = None,
    conceal: rtp.Concealment = "silence",
) -> Audio:
    """Pick one RTP stream (by SSRC, or by the UDP port it is sent *to*; else the longest),
    rebuild its audio, and place the SIP answer on its clock."""
    streams = rtp_streams(datagrams)
    if not streams:
        raise AudioFormatError(source, "no G.711 RTP stream (PCMU/PCMA) found in the capture")
    chosen = [s for s in streams if (ssrc is None or s.ssrc == ssrc) and (port is None or s.dport == port)]
    if not chosen:
        wanted = " and ".join(
            x for x in (f"SSRC 0x{ssrc:08x}" if ssrc is not None else "", f"port {port}" if port else "") if x
        )
        listing = "; ".join(s.describe() for s in streams)
        raise AudioFormatError(source, f"no RTP stream with {wanted}; streams present: {listing}")
    stream = chosen[0]
    key = (stream.ssrc, stream.src, stream.sport, stream.dst, stream.dport)
    packets: list[rtp.RtpPacket] = []
    times: list[float] = []
    for d in datagrams:
        try:
            packet = rtp.parse_rtp(d.payload)
        except ValueError:
            continue
        if _stream_key(d, packet) == key:
            packets.append(packet)
            times.append(d.time)
    result = rtp.depacketize(packets, conceal=conceal)
    arrival = np.array(times)[result.kept_indices]
    # The stream's first packet (lowest sequence number) pins its clock: a party's jitter buffer
    # starts playing on it. Media servers send ahead of real time (rtpengine's player bursts up to
    # ~170 ms), so the least-delayed later packet would place the tone too late by that lead.
    t0 = float(arrival[0] - result.offsets[0] / 8000.0)
    answered = sipmsg.answer_time(datagrams)
    return Audio(
        samples=result.samples,
        sample_rate=8000,
        source=source,
        lost=result.lost,
        call_start_s=None if answered is None else answered - t0,
        description=stream.describe(),
    )


def audio_from_bytes(
    data: bytes,
    fmt: AudioFormat,
    source: str,
    *,
    channel: int = 0,
    ssrc: int | None = None,
    port: int | None = None,
    conceal: rtp.Concealment = "silence",
) -> Audio:
    """Decode a file's bytes in the given format (see `read_audio`)."""
    if fmt == "wav":
        wav = wavio.parse_wav(data, source)
        if not 0 <= channel < wav.channels:
            raise AudioFormatError(source, f"channel {channel} requested but the WAV has {wav.channels}")
        if wav.frames.shape[0] == 0:
            raise AudioFormatError(source, "WAV holds no samples")
        return Audio(wav.frames[:, channel].copy(), wav.sample_rate, source, description=f"channel {channel}")
    if fmt in ("ulaw", "alaw"):
        if not data:
            raise AudioFormatError(source, "empty file")
        codec: g711.Codec = "pcmu" if fmt == "ulaw" else "pcma"
        return Audio(from_pcm16(g711.decode(data, codec)), 8000, source, description=f"raw {fmt}")
    datagrams = pcap.parse_capture(data, source)
    return audio_from_capture(datagrams, source, ssrc=ssrc, port=port, conceal=conceal)


def _read_file(path: str | Path) -> tuple[Path, bytes]:
    """The file's bytes; an unreadable or empty file is an `AudioFormatError` naming it."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AudioFormatError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    if not data:
        raise AudioFormatError(str(p), "empty file")
    return p, data


def read_audio(
    path: str | Path,
    *,
    fmt: AudioFormat | None = None,
    channel: int = 0,
    ssrc: int | None = None,
    port: int | None = None,
    conceal: rtp.Concealment = "silence",
) -> Audio:
    """Read audio to analyse.

    ``fmt`` defaults from the suffix (``.wav``, ``.ulaw``/``.ul``/``.pcmu``,
    ``.alaw``/``.al``/``.pcma``, ``.pcap``/``.pcapng``) or the content. WAV may
    have any rate, width and channel count (``channel`` picks one); raw G.711
    is 8 kHz headerless; a capture yields one RTP stream (``ssrc`` or ``port``
    select it) with lost packets filled per ``conceal``.
    Raises `AudioFormatError` naming the file and the problem.
    """
    p, data = _read_file(path)
    return audio_from_bytes(
        data, fmt or guess_format(p, data[:4]), str(p), channel=channel, ssrc=ssrc, port=port, conceal=conceal
    )


def read_audio_candidates(
    path: str | Path,
    *,
    fmt: AudioFormat | None = None,
    channel: int = 0,
    ssrc: int | None = None,
    port: int | None = None,
    conceal: rtp.Concealment = "silence",
) -> list[Audio]:
    """What `read_audio` reads, but for a capture with no ``ssrc``: every RTP stream (sent to
    ``port`` when given), most packets first, from one parse of the file.

    A port can carry more than one stream: rtpengine plays the tone with an SSRC of its own beside
    the party's forwarded audio, so "the stream to port N" is not one stream; the caller judges
    which holds what it looks for. Anything else is the one `read_audio` result.
    """
    p, data = _read_file(path)
    fmt = fmt or guess_format(p, data[:4])
    if fmt != "pcap" or ssrc is not None:
        return [audio_from_bytes(data, fmt, str(p), channel=channel, ssrc=ssrc, port=port, conceal=conceal)]
    datagrams = pcap.parse_capture(data, str(p))
    streams = [s for s in rtp_streams(datagrams) if port is None or s.dport == port]
    ssrcs: list[int | None] = [s.ssrc for s in streams] if len(streams) > 1 else [None]
    return [audio_from_capture(datagrams, str(p), ssrc=x, port=port, conceal=conceal) for x in ssrcs]
