"""The edges of a burst at its own frequency: is it switched on and off?

A beep is switched: at its frequency there is much less energy just before or just after it than
inside it (white or babble noise at 5 dB SNR still leaves 15 dB or more, see `bench/bench_tones.py`).
Speech and music that pass every spectral check of a beep often do not: a vowel's harmonic held
near 1 kHz goes on at the same level beyond the stretch the detector cut out of it (0.6 dB), and a
struck note rings on after the detected end (6.4 dB). These were the two single-burst false
detections of the talk-off corpus.

Measured on a narrowband (±100 Hz: two 10 ms moving averages) magnitude envelope at the burst's
measured frequency. Magnitude, not a projection on the tone's phase, so a partial that drifts in
phase still counts as energy beside the burst. The outside windows are `OUTSIDE_MS` long, `GUARD_MS`
away from the edges (the filter's reach), so they fit in a 50 ms gap; a side whose window is
unknown (beyond the audio, mostly lost, or flagged as concealed) is taken as clean.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from sipcheck.tones.dsp import ANALYSIS_RATE
from sipcheck.tones.levels import FloatArray

BoolArray = npt.NDArray[np.bool_]
_AVG = 80  # 10 ms, twice: a 20 ms triangle
GUARD_MS = 12.5
OUTSIDE_MS = 30.0
_GUARD = round(GUARD_MS * ANALYSIS_RATE / 1000)
_OUTSIDE = round(OUTSIDE_MS * ANALYSIS_RATE / 1000)
_TINY = 1e-12


def _triangle_magnitude(x: FloatArray, frequency: float, first: int) -> FloatArray:
    """|x demodulated at ``frequency``| through two 10 ms moving averages (a 20 ms triangle), valid
    outputs only: element ``k`` describes ``x[k + _AVG - 1]``. Real arithmetic (cos and sin) and
    cumulative sums: this runs for every candidate burst near a wanted frequency."""
    w = 2.0 * math.pi * frequency / ANALYSIS_RATE
    phase = np.arange(first, first + len(x), dtype=np.float64) * w
    parts = []
    for carrier in (np.cos(phase), np.sin(phase)):
        y = x * carrier
        for _ in range(2):
            c = np.cumsum(y)
            y = np.concatenate((c[_AVG - 1 : _AVG], c[_AVG:] - c[:-_AVG])) / _AVG
        parts.append(y)
    out: FloatArray = np.hypot(parts[0], parts[1])
    return out


def _median(x: FloatArray) -> float:
    """Median without `np.median`'s per-call overhead (~70 µs, most of this module's cost)."""
    n = len(x)
    if n == 0:
        return 0.0
    s = np.sort(x)
    h = n // 2
    return float(s[h]) if n % 2 else 0.5 * (float(s[h - 1]) + float(s[h]))


def edge_contrast_db(
    x: FloatArray,
    start: float,
    end: float,
    frequency: float,
    lost: BoolArray | None,
    unknown_side: tuple[bool, bool],
) -> float:
    """The interior's median level over the median level just outside the burst ``[start, end)``
    (samples at 8 kHz), on the cleaner side; inf when a side cannot be judged."""
    lo = max(0, int(start) - _GUARD - _OUTSIDE - _AVG)
    hi = min(len(x), int(end) + _GUARD + _OUTSIDE + _AVG + 1)
    if hi - lo <= 2 * _AVG:
        return math.inf
    mag = _triangle_magnitude(x[lo:hi], frequency, lo)
    lo += _AVG - 1  # mag[k] describes x[lo + k]
    a, b = start - lo, end - lo
    margin = min(80.0, (b - a) / 4)
    i0, i1 = math.ceil(a + margin), int(b - margin)
    inside = mag[i0:i1]
    if len(inside) < 3:
        return math.inf
    level = max(_median(inside), _TINY)
    sides = (
        (int(a) - _GUARD - _OUTSIDE, int(a) - _GUARD, unknown_side[0]),
        (math.ceil(b) + _GUARD, math.ceil(b) + _GUARD + _OUTSIDE, unknown_side[1]),
    )
    contrasts: list[float] = []
    for w0, w1, unknown in sides:
        if unknown or w0 < 0 or w1 > len(mag):
            return math.inf
        if lost is not None and float(np.mean(lost[lo + w0 : lo + w1])) >= 0.5:
            return math.inf
        contrasts.append(20.0 * math.log10(level / max(_median(mag[w0:w1]), _TINY)))
    return max(contrasts)
