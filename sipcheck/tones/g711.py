"""ITU-T G.711 µ-law and A-law, vectorised with lookup tables.

The tables are built once from the bit-exact reference algorithm (the Sun
``g711.c`` that CPython's ``audioop`` also uses), applied to 16-bit linear PCM:
µ-law works on the 14 most significant bits, A-law on the 13 most significant
bits, exactly as G.711 Tables 1a and 2a define. Encoding a whole signal is then
one fancy-indexing operation, which is what makes analysis and rendering fast.

Decoding yields 16-bit linear values (µ-law full scale ±32124, A-law ±32256),
the same scaling as ``audioop.ulaw2lin``/``alaw2lin``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Codec = Literal["pcmu", "pcma"]
"""``pcmu`` is µ-law (RTP payload type 0), ``pcma`` is A-law (payload type 8)."""

PAYLOAD_TYPES: dict[Codec, int] = {"pcmu": 0, "pcma": 8}
CODEC_BY_PAYLOAD_TYPE: dict[int, Codec] = {0: "pcmu", 8: "pcma"}

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int64)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int64)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    lin = np.arange(-32768, 32768, dtype=np.int64) >> 2  # 14-bit
    mask = np.where(lin < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(lin), 8159) + (0x84 >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0xF))
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    lin = np.arange(-32768, 32768, dtype=np.int64) >> 3  # 13-bit
    mask = np.where(lin >= 0, 0xD5, 0x55)
    mag = np.where(lin >= 0, lin, -lin - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    segc = np.minimum(seg, 7)
    mant = np.where(seg < 2, (mag >> 1) & 0xF, (mag >> segc) & 0xF)
    code = np.where(seg >= 8, 0x7F, (segc << 4) | mant)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int64) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int64) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ULAW_ENC = _build_ulaw_encode()
_ALAW_ENC = _build_alaw_encode()
_ULAW_DEC = _build_ulaw_decode()
_ALAW_DEC = _build_alaw_decode()


def encode(pcm16: npt.ArrayLike, codec: Codec) -> bytes:
    """Encode 16-bit linear PCM samples to G.711 bytes (one byte per sample)."""
    samples = np.asarray(pcm16)
    if samples.dtype != np.int16:
        raise TypeError(f"G.711 encode expects int16 samples, got {samples.dtype}")
    table = _ULAW_ENC if codec == "pcmu" else _ALAW_ENC
    index = samples.astype(np.int32) + 32768
    return table[index].tobytes()


def decode(data: bytes | bytearray | memoryview, codec: Codec) -> npt.NDArray[np.int16]:
    """Decode G.711 bytes to 16-bit linear PCM samples."""
    codes = np.frombuffer(data, dtype=np.uint8)
    table = _ULAW_DEC if codec == "pcmu" else _ALAW_DEC
    return table[codes]


def silence_byte(codec: Codec) -> int:
    """The code that decodes to (near) zero: what a gap is filled with on the wire."""
    return 0xFF if codec == "pcmu" else 0xD5


def parse_codec(name: str) -> Codec:
    """Accept the usual spellings (ulaw, mulaw, pcmu, alaw, pcma) and return a `Codec`."""
    key = name.strip().lower().replace("µ", "mu").replace("-", "")
    if key in {"pcmu", "ulaw", "mulaw", "mu", "u"}:
        return "pcmu"
    if key in {"pcma", "alaw", "a"}:
        return "pcma"
    raise ValueError(f"unknown G.711 codec {name!r}: use pcmu (µ-law) or pcma (A-law)")
