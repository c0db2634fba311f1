"""The one pattern rule (profile ``pattern``): fixed-count tones versus cadences, each way it can fail.

Every recording goes through real G.711: the project's codec and CPython's independent `audioop`
(µ-law and A-law), as a recording taken from a call would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from g711pair import Codec, through

from sipcheck.cli.main import main
from sipcheck.tones import validate_audio
from sipcheck.tones.levels import FloatArray
from sipcheck.tones.profiles import ParametricProfile, PatternKind, load_profile
from sipcheck.tones.synth import synthesize
from sipcheck.tones.wavio import write_wav

RATE = 8000
CODECS: list[Codec] = [("sipcheck", "pcmu"), ("audioop", "pcma"), ("audioop", "pcmu")]


def _profile(name: str) -> ParametricProfile:
    p = load_profile(name)
    assert isinstance(p, ParametricProfile)
    return p


def _bursts(p: ParametricProfile, n: int, **changes: float) -> ParametricProfile:
    """``p`` (one segment) with ``n`` bursts instead of its own count."""
    return p.model_copy(update={"segments": [p.segments[0].model_copy(update={"repeat": n, **changes})]})


def _tone(p: ParametricProfile, *, lead_ms: float = 300.0, tail_ms: float = 400.0) -> FloatArray:
    return synthesize(p, RATE, lead_ms=lead_ms, tail_ms=tail_ms)


def _silence(ms: float) -> FloatArray:
    return np.zeros(round(ms * RATE / 1000))


# ---------------------------------------------------------------- fixed count (identification tone)


@pytest.mark.parametrize("codec", CODECS)
def test_fixed_pattern_played_once_passes(codec: Codec) -> None:
    p = _profile("example-call-start")
    result = validate_audio(through(_tone(p), codec), RATE, p)
    assert result.passed, result.failures
    assert result.pattern == "fixed" and len(result.bursts) == 2


@pytest.mark.parametrize("codec", CODECS)
def test_fixed_pattern_played_twice_fails_as_a_repeat(codec: Codec) -> None:
    p = _profile("example-call-start")
    four = _bursts(p, 4)  # the two-beep pattern twice, at the pattern's own spacing
    result = validate_audio(through(_tone(four), codec), RATE, p)
    assert result.failure_codes == ("pattern_repeated",), result.failures
    assert len(result.unmatched_segments) == 2
    paused = np.concatenate([_tone(p, tail_ms=0), _silence(700), _tone(p, lead_ms=0)])
    again = validate_audio(through(paused, codec), RATE, p)
    assert again.failure_codes == ("pattern_repeated",), again.failures


@pytest.mark.parametrize("codec", CODECS)
def test_fixed_pattern_with_one_extra_beep_fails(codec: Codec) -> None:
    p = _profile("example-call-start")
    result = validate_audio(through(_tone(_bursts(p, 3)), codec), RATE, p)
    assert result.failure_codes == ("extra_burst",), result.failures
    assert "after the pattern" in result.failures[0].message


@pytest.mark.parametrize("codec", CODECS)
def test_fixed_pattern_followed_by_a_second_tone_fails(codec: Codec) -> None:
    p = _profile("example-call-start")
    other = _profile("jp-busy").model_copy(update={"pattern": "fixed"})
    x = np.concatenate([_tone(p, tail_ms=0), _tone(_bursts(other, 1), lead_ms=50)])
    result = validate_audio(through(x, codec), RATE, p)
    assert result.failure_codes == ("second_tone",), result.failures
    assert "400.0 Hz" in result.failures[0].message


@pytest.mark.parametrize("codec", CODECS)
def test_the_connected_calls_audio_after_the_pattern_is_no_second_tone(codec: Codec) -> None:
    """A test caller streaming a steady 700 Hz tone from answer to BYE: the tone goes on until the
    recording ends, so it is the call, not a tone played after the identification tone; stopped
    1 s before the end, it is a second tone."""
    p = _profile("example-call-start")
    caller = _bursts(_profile("jp-busy"), 1, duration_ms=2500.0, gap_ms=0.0).with_offsets(
        frequency_factor=1.75
    )
    to_the_end = np.concatenate([_tone(p, tail_ms=0), _tone(caller, lead_ms=20, tail_ms=0)])
    result = validate_audio(through(to_the_end, codec), RATE, p)
    assert result.passed, result.failures
    assert any(abs(s.frequencies_hz[0] - 700.0) < 5 for s in result.unmatched_segments)
    stopped = np.concatenate([to_the_end, _silence(1000)])
    assert validate_audio(through(stopped, codec), RATE, p).failure_codes == ("second_tone",)


def test_text_report_lists_every_unmatched_burst(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _profile("example-call-start")
    wav = tmp_path / "twice.wav"
    write_wav(wav, through(_tone(_bursts(p, 4)), ("audioop", "pcmu")), RATE)
    assert main(["tone", "verify", str(wav), "--profile", "example-call-start"]) == 1
    out = capsys.readouterr().out
    unmatched = [line for line in out.splitlines() if line.strip().startswith("unmatched:")]
    assert len(unmatched) == 2, out
    assert "+800 ms" in unmatched[0] and "+1050 ms" in unmatched[1]
    assert "pattern_repeated" in out


# ---------------------------------------------------------------- cadence (busy, ringback)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("extra", [1, 2, 5])
def test_cadence_with_more_cycles_passes_and_every_cycle_is_checked(codec: Codec, extra: int) -> None:
    p = _profile("jp-busy")
    n = 3 + extra
    result = validate_audio(through(_tone(_bursts(p, n), tail_ms=0), codec), RATE, p)
    assert result.passed, result.failures
    assert result.pattern == "cadence"
    assert [b.burst for b in result.bursts if b.measured is not None] == list(range(n))
    assert not result.unmatched_segments


@pytest.mark.parametrize("codec", CODECS)
def test_cadence_cut_by_the_end_of_the_recording_passes(codec: Codec) -> None:
    p = _profile("jp-busy")
    x = _tone(_bursts(p, 6), tail_ms=0)[: round(5.55 * RATE)]  # 300 ms into the sixth burst
    result = validate_audio(through(x, codec), RATE, p)
    assert result.passed, result.failures
    assert len(result.bursts) == 6 and result.bursts[-1].measured is not None


@pytest.mark.parametrize("codec", CODECS)
def test_a_further_cycle_off_frequency_fails_for_that_burst(codec: Codec) -> None:
    p = _profile("jp-busy")
    sharp = _bursts(p, 1).with_offsets(frequency_factor=1.05)
    x = np.concatenate([_tone(p, tail_ms=0), _tone(sharp, lead_ms=0)])
    result = validate_audio(through(x, codec), RATE, p)
    assert result.failure_codes == ("frequency_out_of_tolerance",), result.failures
    assert result.failures[0].burst == 3


@pytest.mark.parametrize("codec", CODECS)
def test_a_burst_off_the_cadence_fails(codec: Codec) -> None:
    p = _profile("jp-busy")
    x = np.concatenate([_tone(p, tail_ms=0), _silence(300), _tone(_bursts(p, 1), lead_ms=0)])
    result = validate_audio(through(x, codec), RATE, p)
    assert result.failure_codes == ("cadence_broken",), result.failures


@pytest.mark.parametrize("codec", CODECS)
def test_cadence_shorter_than_its_minimum_fails(codec: Codec) -> None:
    p = _profile("jp-busy")
    result = validate_audio(through(_tone(_bursts(p, 2)), codec), RATE, p)
    assert result.failure_codes == ("too_few_cycles",), result.failures
    assert "2 burst(s), 1 short of the profile's minimum of 3" in result.failures[0].message


@pytest.mark.parametrize("codec", CODECS)
def test_ringback_cadence_goes_on(codec: Codec) -> None:
    p = _profile("jp-ringback")
    result = validate_audio(through(_tone(_bursts(p, 4), tail_ms=0), codec), RATE, p)
    assert result.passed, result.failures
    assert len(result.bursts) == 4


# ---------------------------------------------------------------- one rule, declared in the profile


@pytest.mark.parametrize(("pattern", "codes"), [("fixed", ("pattern_repeated",)), ("cadence", ())])
def test_the_profile_declares_the_rule(pattern: PatternKind, codes: tuple[str, ...]) -> None:
    """The same recording (a pattern heard twice) and the same segments: the profile's ``pattern``
    alone decides whether the repeat is a failure."""
    p = _profile("example-call-start").model_copy(update={"pattern": pattern})
    result = validate_audio(through(_tone(_bursts(p, 4)), ("sipcheck", "pcma")), RATE, p)
    assert result.failure_codes == codes, result.failures


@pytest.mark.parametrize("name", ["example-call-start", "jp-busy"])
@pytest.mark.parametrize("codec", CODECS)
def test_noise_around_the_pattern_breaks_no_rule(name: str, codec: Codec) -> None:
    """The rule judges beeps, not noise: the right pattern in white noise at 15 dB SNR (over 3 s of
    recording after it) passes."""
    p = _profile(name)
    x = _tone(p, tail_ms=3000)
    tone_power = float(np.mean(x[np.abs(x) > 0] ** 2))
    noise = np.random.default_rng(11).normal(0.0, np.sqrt(tone_power / 10**1.5), len(x))
    result = validate_audio(through(x + noise, codec), RATE, p)
    assert result.passed, result.failures
