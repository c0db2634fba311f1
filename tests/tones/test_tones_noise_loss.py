"""Speech-like noise under the tone, and bursts lost to packet loss: inconclusive, never pass/fail."""

from __future__ import annotations

import json

import numpy as np

from sipcheck.tones import INCONCLUSIVE_CODES, ParametricProfile, load_profile, render, validate_audio
from sipcheck.tones.analysis import analyse
from sipcheck.tones.validate import params_for

RATE = 8000


def _profile() -> ParametricProfile:
    p = load_profile("example-call-start")
    assert isinstance(p, ParametricProfile)
    return p


def _babble(n: int, rng: np.random.Generator) -> np.ndarray:
    """Voiced-speech-like noise: six talkers of harmonic series (low pitch, falling spectrum) with
    syllable-rate envelopes, strongest far below the 1 kHz tone."""
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for _ in range(6):
        f0 = rng.uniform(100, 240)
        env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.3)) ** 2
        for h in range(1, int(3800 / f0)):
            out += env * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h**1.2
    return out


def test_babble_at_10_db_under_the_tone_passes() -> None:
    profile = _profile()
    rng = np.random.default_rng(7)
    tone = render(profile, RATE)
    tone = np.concatenate((np.zeros(2400), tone, np.zeros(2400)))
    on = np.abs(tone) > 0
    for _ in range(5):
        noise = _babble(len(tone), rng)
        noise *= np.sqrt(np.mean(tone[on] ** 2) / 10 / np.mean(noise**2))  # 10 dB SNR, whole band
        result = validate_audio(tone + noise, RATE, profile, call_start_s=0.3)
        assert result.passed, result.failures
        for b in result.bursts:
            assert b.measured is not None and b.measured.tone_dominance_db > 10


def test_narrowband_segmentation_only_near_the_wanted_frequency() -> None:
    profile = _profile()
    params = params_for(profile)
    assert params.target_hz == (1000.0,)
    # A steady 440 Hz tone is still found (broadband route), with its dominance reported.
    t = np.arange(RATE // 2) / RATE
    seg = analyse(0.3 * np.sin(2 * np.pi * 440 * t), RATE, params=params).segments
    assert len(seg) == 1 and seg[0].tone_dominance_db > 30


def test_strict_dominance_fails_with_named_reason() -> None:
    profile = _profile().with_tolerances(min_tone_dominance_db=60.0)
    result = validate_audio(render(profile, RATE), RATE, profile)
    assert result.outcome == "fail"
    assert set(result.failure_codes) == {"tone_to_rest_too_low"}
    assert "strongest other spectral component" in result.failures[0].message


def _lose(x: np.ndarray, start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    lost = np.zeros(len(x), dtype=bool)
    lost[int(start_s * RATE) : int(end_s * RATE)] = True
    y = x.copy()
    y[lost] = 0.0
    return y, lost


def test_burst_lost_to_packet_loss_is_inconclusive_not_fail() -> None:
    profile = _profile()
    x = render(profile, RATE)  # 5 ms lead-in: bursts at 5–155 ms and 255–405 ms
    y, lost = _lose(x, 0.240, 0.420)  # the whole second burst
    result = validate_audio(y, RATE, profile, lost=lost, call_start_s=0.0)
    assert result.outcome == "inconclusive"
    assert not result.passed and result.failures == ()
    assert result.inconclusive_codes == ("lost_packets",)
    (unsure,) = result.inconclusive
    assert unsure.burst == 1 and unsure.lost_fraction > 0.9
    assert "lost_packets" in INCONCLUSIVE_CODES
    d = result.to_dict()
    assert d["outcome"] == "inconclusive" and d["inconclusive_codes"] == ["lost_packets"]
    json.dumps(d)


def test_mostly_lost_burst_is_inconclusive() -> None:
    profile = _profile()
    x = render(profile, RATE)
    y, lost = _lose(x, 0.040, 0.160)  # 80 % of the first burst
    result = validate_audio(y, RATE, profile, lost=lost, call_start_s=0.0)
    assert result.outcome == "inconclusive", result.failures
    assert result.bursts[0].inconclusive is not None
    assert result.bursts[0].lost_fraction > 0.7


def test_loss_never_hides_a_bad_tone() -> None:
    profile = _profile()
    x = render(profile.with_offsets(frequency_factor=1.05), RATE)
    y, lost = _lose(x, 0.240, 0.420)
    result = validate_audio(y, RATE, profile, lost=lost, call_start_s=0.0)
    assert result.outcome == "fail"
    assert "frequency_out_of_tolerance" in result.failure_codes


def test_small_loss_still_passes_and_no_map_still_fails() -> None:
    profile = _profile()
    x = render(profile, RATE)
    y, lost = _lose(x, 0.060, 0.080)  # one frame inside burst 1
    ok = validate_audio(y, RATE, profile, lost=lost, call_start_s=0.0)
    assert ok.outcome == "pass", (ok.failures, ok.inconclusive)
    # Without a loss map a missing burst is a plain failure: nothing says it was lost.
    z, _ = _lose(x, 0.240, 0.420)
    assert validate_audio(z, RATE, profile, call_start_s=0.0).failure_codes == ("segment_missing",)


def test_everything_lost_is_inconclusive() -> None:
    profile = _profile()
    x = render(profile, RATE)
    x = np.concatenate((x, np.zeros(RATE)))
    y, lost = _lose(x, 0.0, len(x) / RATE)
    result = validate_audio(y, RATE, profile, lost=lost, call_start_s=0.0)
    assert result.outcome == "inconclusive" and result.inconclusive_codes == ("lost_packets",)
