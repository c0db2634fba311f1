"""Synthesis: exact levels, exact timing at the half-amplitude points, no clicks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sipcheck.tones.levels import DBM0_PEAK, power_to_dbm0, to_pcm16
from sipcheck.tones.profiles import ParametricProfile, Segment, builtin_profiles, load_profile
from sipcheck.tones.synth import synthesize


def _single(freq: float, level: float, dur: float = 200, gap: float = 50, **seg: object) -> ParametricProfile:
    return ParametricProfile(
        id="t",
        name="t",
        segments=[
            Segment.model_validate(
                {
                    "components": [{"frequency_hz": freq, "level_dbm0": level}],
                    "duration_ms": dur,
                    "gap_ms": gap,
                }
                | seg
            )
        ],
    )


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize("level", [0.0, -10.0, -33.0])
def test_level_is_exact(rate: int, level: float) -> None:
    x = synthesize(_single(1000, level, dur=400), rate, lead_ms=0)
    steady = x[int(0.05 * rate) : int(0.35 * rate)]  # 300 whole periods
    assert power_to_dbm0(float(np.mean(steady**2))) == pytest.approx(level, abs=0.01)


def test_zero_dbm0_sine_peak_is_3_17_db_below_full_scale() -> None:
    x = synthesize(_single(1000, 0.0, dur=100), 8000, lead_ms=0)
    assert np.max(np.abs(x)) == pytest.approx(DBM0_PEAK, rel=1e-3)
    assert 20 * math.log10(np.max(np.abs(x))) == pytest.approx(-3.17, abs=0.01)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_half_amplitude_points_fall_on_nominal_edges(rate: int) -> None:
    lead, dur = 20.0, 150.0
    x = synthesize(_single(1000, -10, dur=dur), rate, lead_ms=lead)
    env = np.abs(x) / (DBM0_PEAK * 10 ** (-10 / 20))
    # The envelope's local maxima per period track the ramp: find where it first/last exceeds 0.5.
    above = np.flatnonzero(env >= 0.5)
    assert above[0] / rate * 1000 == pytest.approx(lead, abs=1000 / 1000 + 1000 / rate)
    assert above[-1] / rate * 1000 == pytest.approx(lead + dur, abs=1000 / 1000 + 1000 / rate)


def test_no_clicks_at_edges() -> None:
    rate = 48000
    x = synthesize(_single(1000, 0, dur=100), rate, lead_ms=10)
    peak_step = 2 * math.pi * 1000 / rate * DBM0_PEAK
    assert np.max(np.abs(np.diff(x))) <= peak_step * 1.01
    # Energy far from the tone (>3 kHz) stays tiny: the ramps do not splatter.
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    assert spec[freqs > 3000].sum() / spec.sum() < 1e-4


def test_modulated_segment_keeps_nominal_mean_power() -> None:
    p = _single(400, -13, dur=1000, modulation={"frequency_hz": 16, "depth": 0.85})
    x = synthesize(p, 8000, lead_ms=0)
    assert power_to_dbm0(float(np.mean(x[: 8000 * 1000 // 1000] ** 2))) == pytest.approx(-13, abs=0.05)


def test_every_builtin_renders_at_every_rate_without_clipping() -> None:
    for profile in builtin_profiles().values():
        assert isinstance(profile, ParametricProfile)
        for rate in (8000, 16000, 48000):
            x = synthesize(profile, rate)
            assert len(x) == round((5 + profile.total_ms()) / 1000 * rate)
            assert np.max(np.abs(x)) < 1.0
            assert np.count_nonzero(to_pcm16(x)) > 0


def test_rate_below_8k_is_refused() -> None:
    with pytest.raises(ValueError, match="below 8000"):
        synthesize(load_profile("jp-busy"), 4000)  # type: ignore[arg-type]
