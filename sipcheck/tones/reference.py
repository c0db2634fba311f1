"""Match received audio against a reference recording (the licensed official tone).

Two normalised correlations, both blind to gain and robust to G.711:

* **envelope**: 10 ms RMS envelopes, normalised cross-correlation over every
  lag (a true NCC: the received window's mean and energy are removed at each
  lag, computed with cumulative sums). The best lag aligns the two.
* **spectrum**: Pearson correlation of the average magnitude spectra (32 ms
  Hann frames, 100–3800 Hz) of the reference and the aligned received audio.
  A frequency shift of a few percent moves the tone's peak off its reference
  bin and the correlation falls.

Both are blind to gain, and the envelope barely notices a tone 10 % long, so
the match also reports what the level and duration checks need: the gain, and
the *active span* (first to last sample whose 5 ms RMS is within
``ACTIVE_DB`` of that recording's loudest 5 ms and ``FLOOR_DB`` above its noise
floor) of the reference and of the
received audio around the aligned position. Leading or trailing silence in the
reference file then does not count as tone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sipcheck.tones.dsp import ANALYSIS_RATE, resample
from sipcheck.tones.levels import FloatArray

_HOP = 80  # 10 ms envelope frames
_FRAME = 256
_SPAN_RMS = 40  # 5 ms moving RMS for the active span
_TRIM_PAD = 160  # 20 ms of the reference file kept on each side of its active span
ACTIVE_DB = 20.0
"""A sample is *active* when its 5 ms RMS is at most this far below the recording's loudest..."""
FLOOR_DB = 10.0
"""...and at least this far above its noise floor (the quietest 5 % of 5 ms windows)."""


@dataclass(frozen=True)
class ReferenceMatch:
    """How well received audio matches the reference, and where the reference starts in it."""

    envelope_correlation: float
    spectrum_correlation: float
    start_s: float
    """Where the reference file's first sample lies in the received audio."""
    gain_db: float
    tone_start_s: float = 0.0
    """Received audio: start of the active span around the aligned position (seconds)."""
    duration_ms: float = 0.0
    """Received audio: length of that active span."""
    reference_duration_ms: float = 0.0
    """The reference's own active span: the nominal duration."""
    reference_offset_ms: float = 0.0
    """Where the reference's active span starts within its file (leading silence)."""


def _envelope(x: FloatArray) -> FloatArray:
    n = len(x) // _HOP
    frames = x[: n * _HOP].reshape(n, _HOP)
    env: FloatArray = np.sqrt(np.mean(frames**2, axis=1))
    return env


def _magnitude_spectrum(x: FloatArray) -> FloatArray:
    from scipy import signal  # see dsp.resample: scipy only where analysis runs

    if len(x) < _FRAME:
        x = np.concatenate((x, np.zeros(_FRAME - len(x))))
    _, p = signal.welch(x, fs=ANALYSIS_RATE, window="hann", nperseg=_FRAME, noverlap=_FRAME // 2)
    lo, hi = int(100 * _FRAME / ANALYSIS_RATE), int(3800 * _FRAME / ANALYSIS_RATE)
    out: FloatArray = np.sqrt(p[lo:hi])
    return out


def active_span(x: FloatArray) -> tuple[int, int] | None:
    """First and one-past-last sample whose 5 ms RMS is within `ACTIVE_DB` of the loudest 5 ms: where
    the tone is, without the file's silence or noise floor. None for silence."""
    if len(x) < _SPAN_RMS:
        return None
    cs = np.concatenate(([0.0], np.cumsum(x * x)))
    rms = np.sqrt(np.maximum(cs[_SPAN_RMS:] - cs[:-_SPAN_RMS], 0.0) / _SPAN_RMS)
    peak = float(rms.max())
    if peak <= 0.0:
        return None
    # Above the noise floor too (10 dB over the quietest 5 % of the window), so that a line with
    # noise 20 dB down is not all "tone"; never closer than 6 dB to the peak.
    floor = float(np.percentile(rms, 5)) * 10.0 ** (FLOOR_DB / 20.0)
    threshold = min(max(peak * 10.0 ** (-ACTIVE_DB / 20.0), floor), peak * 10.0 ** (-6.0 / 20.0))
    on = np.flatnonzero(rms >= threshold)
    # Centre the 5 ms window on the sample it describes.
    return int(on[0]) + _SPAN_RMS // 2, int(on[-1]) + _SPAN_RMS // 2 + 1


def _pearson(a: FloatArray, b: FloatArray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom > 0 else 0.0


def match_reference(
    samples: npt.ArrayLike, sample_rate: int, reference: npt.ArrayLike, reference_rate: int
) -> ReferenceMatch:
    """Find the reference in ``samples`` and score the match (correlations in [-1, 1])."""
    x = resample(np.asarray(samples, dtype=np.float64), sample_rate, ANALYSIS_RATE)
    whole = resample(np.asarray(reference, dtype=np.float64), reference_rate, ANALYSIS_RATE)
    # Only the tone is matched: silence around it in the file need not be in the received audio (a
    # tone played 100 ms after answer has no room for a reference with 250 ms of leading silence).
    span = active_span(whole) or (0, len(whole))
    trim = max(0, span[0] - _TRIM_PAD)
    ref = whole[trim : span[1] + _TRIM_PAD]
    r = _envelope(ref)
    if len(r) < 2 or float(np.ptp(r)) == 0.0:
        raise ValueError("reference recording is too short or silent to match against")
    y = _envelope(x)
    if len(y) < len(r):
        y = np.concatenate((y, np.zeros(len(r) - len(y))))
    m = len(r)
    rc = r - r.mean()
    from scipy import signal

    num = signal.correlate(y, rc, mode="valid", method="fft")
    cs = np.concatenate(([0.0], np.cumsum(y)))
    cs2 = np.concatenate(([0.0], np.cumsum(y * y)))
    win_sum = cs[m:] - cs[:-m]
    win_var = np.maximum(cs2[m:] - cs2[:-m] - win_sum**2 / m, 0.0)
    ncc = num / (np.linalg.norm(rc) * np.sqrt(win_var) + 1e-12)
    lag = int(np.argmax(ncc))
    aligned = x[lag * _HOP : lag * _HOP + len(ref)]
    ref_power = float(np.mean(ref**2))
    got_power = float(np.mean(aligned**2)) if len(aligned) else 0.0
    gain = 10.0 * np.log10(max(got_power, 1e-30) / max(ref_power, 1e-30))
    ref_span = (span[0] - trim, span[1] - trim)
    # Received: the aligned stretch widened by half the reference (at most 0.5 s) on each side, so
    # that a tone played too long is measured too long, not cut to the reference's length.
    margin = min(len(ref) // 2, ANALYSIS_RATE // 2)
    lo = max(0, lag * _HOP - margin)
    got_span = active_span(x[lo : lag * _HOP + len(ref) + margin])
    got_start, got_end = (lo + got_span[0], lo + got_span[1]) if got_span else (lag * _HOP, lag * _HOP)
    return ReferenceMatch(
        envelope_correlation=float(ncc[lag]),
        spectrum_correlation=_pearson(_magnitude_spectrum(aligned), _magnitude_spectrum(ref)),
        start_s=(lag * _HOP - trim) / ANALYSIS_RATE,
        gain_db=float(gain),
        tone_start_s=got_start / ANALYSIS_RATE,
        duration_ms=(got_end - got_start) * 1000.0 / ANALYSIS_RATE,
        reference_duration_ms=(ref_span[1] - ref_span[0]) * 1000.0 / ANALYSIS_RATE,
        reference_offset_ms=span[0] * 1000.0 / ANALYSIS_RATE,
    )
