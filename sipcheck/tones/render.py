"""A profile as playable media: float/PCM samples, G.711 bytes and frames, WAV, pcap.

This is what the SIP agent uses to play the tone at call start::

    profile = load_profile(settings.sip.tone_profile)
    frames = render_g711_frames(profile, "pcmu")   # 160-byte frames, 20 ms each
    pcm = render_pcm16(profile, 8000)               # or int16 for an AudioMediaPort

All functions are deterministic: the same profile gives the same bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sipcheck.tones import g711, pcap, rtp, sipmsg, wavio
from sipcheck.tones.dsp import resample
from sipcheck.tones.levels import FloatArray, to_pcm16
from sipcheck.tones.profiles import ParametricProfile, Profile
from sipcheck.tones.synth import DEFAULT_LEAD_MS, synthesize

RENDER_FORMATS = ("wav", "ulaw", "alaw", "pcap")
PCAP_EPOCH = 1_700_000_000.0
"""Capture time of the INVITE in rendered pcaps; the 200 OK follows 100 ms later and RTP starts with it."""
PCAP_SSRC = 0x5CA1AB1E
PCAP_FIRST_SEQUENCE = 0xFFF0
"""Close to the 16-bit wrap on purpose, so every rendered pcap exercises it."""
CALLER = ("192.0.2.10", 5060)
CALLEE = ("192.0.2.20", 5060)
CALLER_RTP_PORT, CALLEE_RTP_PORT = 40000, 50000


def render(profile: Profile, sample_rate: int = 8000, *, lead_ms: float = DEFAULT_LEAD_MS) -> FloatArray:
    """The tone as float samples (full scale 1.0) at ``sample_rate``.

    A reference profile yields its recording, resampled (this reads the file).
    """
    if isinstance(profile, ParametricProfile):
        return synthesize(profile, sample_rate, lead_ms=lead_ms)
    from sipcheck.tones.audiofile import read_audio  # reference recordings are files

    audio = read_audio(profile.recording, fmt="wav")
    return resample(audio.samples, audio.sample_rate, sample_rate)


def render_pcm16(profile: Profile, sample_rate: int = 8000) -> npt.NDArray[np.int16]:
    """The tone as 16-bit PCM samples (what a pjsua2 media port or a WAV wants)."""
    return to_pcm16(render(profile, sample_rate))


def render_g711(profile: Profile, codec: g711.Codec) -> bytes:
    """The tone as G.711 bytes at 8 kHz."""
    return g711.encode(render_pcm16(profile, 8000), codec)


def render_g711_frames(profile: Profile, codec: g711.Codec, frame_ms: int = 20) -> list[bytes]:
    """The tone as equal G.711 frames (``frame_ms`` × 8 bytes), the last padded with silence."""
    size = frame_ms * 8
    codes = render_g711(profile, codec)
    codes += bytes([g711.silence_byte(codec)]) * (-len(codes) % size)
    return [codes[i : i + size] for i in range(0, len(codes), size)]


def g711_pcap(codes: bytes, codec: g711.Codec) -> bytes:
    """A pcap of a call whose callee answers and then sends ``codes`` as 20 ms RTP packets.

    The 200 OK's capture time is the call start; the first RTP packet goes
    out at the same instant, so a tone's start offset in the pcap equals its
    lead-in within ``codes``.
    """
    pt = g711.PAYLOAD_TYPES[codec]
    invite, ok, ack = sipmsg.call_setup(CALLER, CALLEE, CALLEE_RTP_PORT, pt)
    answer = PCAP_EPOCH + 0.1
    records: list[tuple[float, bytes]] = [
        (PCAP_EPOCH, pcap.udp_frame(CALLER[0], CALLER[1], CALLEE[0], CALLEE[1], invite)),
        (answer, pcap.udp_frame(CALLEE[0], CALLEE[1], CALLER[0], CALLER[1], ok)),
        (answer + 0.01, pcap.udp_frame(CALLER[0], CALLER[1], CALLEE[0], CALLEE[1], ack)),
    ]
    packets = rtp.packetize(
        codes, codec, ssrc=PCAP_SSRC, first_sequence=PCAP_FIRST_SEQUENCE, first_timestamp=0
    )
    for i, packet in enumerate(packets):
        frame = pcap.udp_frame(CALLEE[0], CALLEE_RTP_PORT, CALLER[0], CALLER_RTP_PORT, packet.to_bytes(), i)
        records.append((answer + i * 0.02, frame))
    records.sort(key=lambda r: r[0])
    return pcap.pcap_bytes(records)


def render_bytes(profile: Profile, fmt: str, sample_rate: int = 8000, *, codec: g711.Codec = "pcmu") -> bytes:
    """The file content for ``fmt``: ``wav`` (16-bit, any rate), ``ulaw``/``alaw`` (raw 8 kHz),
    ``pcap`` (RTP in ``codec``, after a SIP 200 OK that marks the call start)."""
    if fmt == "wav":
        return wavio.wav_bytes(render(profile, sample_rate), sample_rate)
    if fmt not in RENDER_FORMATS:
        raise ValueError(f"unknown render format {fmt!r}: use one of {', '.join(RENDER_FORMATS)}")
    if sample_rate != 8000:
        raise ValueError(f"{fmt} output is 8000 Hz G.711; --rate {sample_rate} applies to wav only")
    if fmt == "ulaw":
        return render_g711(profile, "pcmu")
    if fmt == "alaw":
        return render_g711(profile, "pcma")
    return g711_pcap(render_g711(profile, codec), codec)
