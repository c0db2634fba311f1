"""Test support for the tone tests: a signal through one of two independent G.711 implementations.

The project's codec (`sipcheck.tones.g711`) and CPython's `audioop` (deprecated in 3.11, removed in
3.13, so imported with its warning silenced), µ-law or A-law: what a recording taken from a call
has been through. A module with a unique name, since test areas share one rootdir.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from sipcheck.tones import g711
from sipcheck.tones.levels import FloatArray, from_pcm16, to_pcm16

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

Codec = tuple[Literal["sipcheck", "audioop"], g711.Codec]


def through(x: FloatArray, codec: Codec) -> FloatArray:
    """``x`` encoded and decoded by one G.711 implementation."""
    impl, law = codec
    pcm = to_pcm16(x)
    if impl == "sipcheck":
        return from_pcm16(g711.decode(g711.encode(pcm, law), law))
    raw = pcm.astype("<i2").tobytes()
    coded = audioop.lin2ulaw(raw, 2) if law == "pcmu" else audioop.lin2alaw(raw, 2)
    back = audioop.ulaw2lin(coded, 2) if law == "pcmu" else audioop.alaw2lin(coded, 2)
    return from_pcm16(np.frombuffer(back, dtype="<i2"))
