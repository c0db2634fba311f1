"""Exact numpy synthesis of parametric tone profiles.

Each burst gets raised-cosine ramps *centred on its nominal edges*: the
envelope crosses half amplitude exactly at the nominal start and end, so a
tone rendered for 150 ms measures 150 ms at the −6 dB points, and there are
no clicks. Component levels are exact mean powers in dBm0 (see
`sipcheck.tones.levels`); a modulated segment is scaled so its mean power,
modulation included, equals the nominal level.
"""

from __future__ import annotations

import math

import numpy as np

from sipcheck.tones.levels import DBM0_PEAK, FloatArray
from sipcheck.tones.profiles import ParametricProfile

STANDARD_RATES = (8000, 16000, 48000)
DEFAULT_RAMP_MS = 5.0
DEFAULT_LEAD_MS = 5.0


def _envelope(n: int, rate: int, start: float, end: float, ramp: float) -> FloatArray:
    """Raised-cosine on/off envelope over ``n`` samples with half-amplitude at ``start``/``end`` (s)."""
    t = np.arange(n, dtype=np.float64) / rate
    env = np.zeros(n)
    env[(t >= start + ramp / 2) & (t <= end - ramp / 2)] = 1.0
    if ramp > 0:
        up = (t > start - ramp / 2) & (t < start + ramp / 2)
        env[up] = 0.5 - 0.5 * np.cos(math.pi * (t[up] - (start - ramp / 2)) / ramp)
        down = (t > end - ramp / 2) & (t < end + ramp / 2)
        env[down] = 0.5 + 0.5 * np.cos(math.pi * (t[down] - (end - ramp / 2)) / ramp)
    return env


def synthesize(
    profile: ParametricProfile,
    sample_rate: int = 8000,
    *,
    lead_ms: float = DEFAULT_LEAD_MS,
    tail_ms: float = 0.0,
    ramp_ms: float = DEFAULT_RAMP_MS,
) -> FloatArray:
    """Render ``profile`` as float audio (full scale 1.0).

    The first burst's nominal start is at ``lead_ms``; the result ends
    ``tail_ms`` after the profile's last gap. Rates other than 8/16/48 kHz
    work but only those are tested; components must stay below Nyquist.
    """
    if sample_rate < 8000:
        raise ValueError(f"sample rate {sample_rate} Hz is below 8000 Hz")
    lead = lead_ms / 1000.0
    total = lead + profile.total_ms() / 1000.0 + tail_ms / 1000.0
    n = round(total * sample_rate)
    out = np.zeros(n)
    for exp in profile.expected():
        seg = exp.segment
        start = lead + exp.start_ms / 1000.0
        end = start + seg.duration_ms / 1000.0
        ramp = min(ramp_ms / 1000.0, seg.duration_ms / 1000.0, max(seg.gap_ms / 1000.0, ramp_ms / 1000.0))
        lo = max(0, math.floor((start - ramp / 2) * sample_rate))
        hi = min(n, math.ceil((end + ramp / 2) * sample_rate) + 1)
        if hi <= lo:
            continue
        t = np.arange(lo, hi, dtype=np.float64) / sample_rate
        env = _envelope(hi - lo, sample_rate, start - lo / sample_rate, end - lo / sample_rate, ramp)
        burst = np.zeros(hi - lo)
        for comp in seg.components:
            if comp.frequency_hz >= sample_rate / 2:
                raise ValueError(f"{comp.frequency_hz} Hz is above Nyquist for {sample_rate} Hz")
            peak = DBM0_PEAK * 10.0 ** (comp.level_dbm0 / 20.0)
            burst += peak * np.sin(2 * math.pi * comp.frequency_hz * (t - (start - ramp / 2)))
        if seg.modulation is not None:
            m = seg.modulation.depth
            burst *= (1.0 + m * np.sin(2 * math.pi * seg.modulation.frequency_hz * (t - start))) / math.sqrt(
                1.0 + m * m / 2.0
            )
        out[lo:hi] += burst * env
    return out
