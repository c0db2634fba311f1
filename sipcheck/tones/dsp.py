"""Signal helpers shared by rendering and analysis."""

from __future__ import annotations

import math

import numpy as np

from sipcheck.tones.levels import FloatArray

ANALYSIS_RATE = 8000
"""Analysis runs on the telephone band at 8 kHz: what G.711 carries, and fast."""


def resample(samples: FloatArray, from_rate: int, to_rate: int) -> FloatArray:
    """Polyphase resampling with scipy's default anti-alias filter (exact for integer ratios)."""
    if from_rate == to_rate:
        return np.asarray(samples, dtype=np.float64)
    # Imported here: the SIP agent renders at the native rate and so never loads scipy (~70 MB per
    # agent process, and each holds only two calls).
    from scipy import signal

    g = math.gcd(from_rate, to_rate)
    out: FloatArray = signal.resample_poly(samples, to_rate // g, from_rate // g).astype(np.float64)
    return out
