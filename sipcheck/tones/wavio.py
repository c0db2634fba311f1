"""WAV (RIFF) reading and writing.

The stdlib ``wave`` module reads only integer PCM; recordings in the field
also come as 32-bit float, WAVE_FORMAT_EXTENSIBLE, or G.711 inside WAV
(format tags 6 and 7), so this parses the chunks itself. Every failure is an
`AudioFormatError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sipcheck.tones import g711
from sipcheck.tones.errors import AudioFormatError
from sipcheck.tones.levels import FloatArray, from_pcm16, to_pcm16

_PCM, _FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


@dataclass(frozen=True)
class WavData:
    """Decoded WAV content: ``frames`` is float (full scale 1.0), shape (samples, channels)."""

    frames: FloatArray
    sample_rate: int
    bits_per_sample: int
    format_tag: int

    @property
    def channels(self) -> int:
        return int(self.frames.shape[1])


def _decode_samples(raw: bytes, tag: int, bits: int, source: str) -> FloatArray:
    if tag == _PCM:
        if bits == 8:
            return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
        if bits == 16:
            return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
        if bits == 24:
            b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            return v.astype(np.float64) / float(1 << 23)
        if bits == 32:
            return np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    elif tag == _FLOAT and bits in (32, 64):
        return np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float64)
    elif tag in (_ALAW, _MULAW) and bits == 8:
        return from_pcm16(g711.decode(raw, "pcma" if tag == _ALAW else "pcmu"))
    raise AudioFormatError(source, f"unsupported WAV encoding (format tag {tag}, {bits} bits per sample)")


def parse_wav(data: bytes, source: str = "<wav>") -> WavData:
    """Parse a complete WAV file held in memory."""
    if len(data) == 0:
        raise AudioFormatError(source, "empty file")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise AudioFormatError(source, "not a WAV file (no RIFF/WAVE header)")
    if data[:4] == b"RIFX":
        raise AudioFormatError(source, "big-endian RIFX WAV is not supported")
    fmt: tuple[int, int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioFormatError(source, "truncated WAV fmt chunk")
            tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE:
                if len(body) < 26:
                    raise AudioFormatError(source, "truncated WAVE_FORMAT_EXTENSIBLE fmt chunk")
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError(source, "WAV data chunk before fmt chunk")
            tag, channels, rate, block_align, bits = fmt
            if channels < 1 or rate < 1 or block_align < 1:
                raise AudioFormatError(source, f"invalid WAV format ({channels} channels, {rate} Hz)")
            if len(body) < size:
                raise AudioFormatError(
                    source, f"truncated WAV: data chunk declares {size} bytes but only {len(body)} present"
                )
            if block_align * 8 != channels * bits and not (bits == 24 and block_align == 3 * channels):
                raise AudioFormatError(source, f"inconsistent WAV block alignment {block_align}")
            usable = len(body) - len(body) % block_align
            samples = _decode_samples(body[:usable], tag, bits, source)
            return WavData(samples.reshape(-1, channels), rate, bits, tag)
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFormatError(source, "truncated WAV: no fmt chunk")
    raise AudioFormatError(source, "truncated WAV: no data chunk")


def read_wav(path: str | Path) -> WavData:
    """Read a WAV file from disk."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AudioFormatError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    return parse_wav(data, str(p))


def wav_bytes(samples: npt.ArrayLike, sample_rate: int) -> bytes:
    """Mono float audio (full scale 1.0) as a 16-bit PCM WAV file."""
    pcm = to_pcm16(samples).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, _PCM, 1, sample_rate, sample_rate * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm


def write_wav(path: str | Path, samples: npt.ArrayLike, sample_rate: int) -> None:
    """Write mono float audio as a 16-bit PCM WAV file."""
    Path(path).write_bytes(wav_bytes(samples, sample_rate))
