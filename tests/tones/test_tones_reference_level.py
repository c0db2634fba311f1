"""Reference-recording profiles are checked like parametric ones: level, duration, start offset, spectrum.

The "licensed recording" is a parametric tone rendered at 16 kHz into a WAV file; the received audio
goes through real G.711 (the project's codec and CPython's independent `audioop`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from g711pair import Codec, through

from sipcheck.tones import validate_file
from sipcheck.tones.profiles import ParametricProfile, ReferenceProfile, load_profile
from sipcheck.tones.result import ValidationResult
from sipcheck.tones.synth import synthesize
from sipcheck.tones.wavio import write_wav

CODECS: list[Codec] = [("sipcheck", "pcma"), ("audioop", "pcmu")]
LEAD_MS = 250.0  # silence before the tone in the reference file itself


def _official() -> ParametricProfile:
    p = load_profile("example-call-start")
    assert isinstance(p, ParametricProfile)
    return p


def _reference(tmp_path: Path, **tolerances: float | None) -> ReferenceProfile:
    write_wav(tmp_path / "official.wav", synthesize(_official(), 16000, lead_ms=LEAD_MS, tail_ms=200), 16000)
    lines = ['kind = "reference"', 'id = "official"', 'name = "licensed"', 'recording = "official.wav"']
    if tolerances:
        lines.append("[tolerances]")
        lines += [f"{k} = {v}" for k, v in tolerances.items() if v is not None]
    (tmp_path / "official.toml").write_text("\n".join(lines) + "\n")
    profile = load_profile(tmp_path / "official.toml")
    assert isinstance(profile, ReferenceProfile)
    if any(v is None for v in tolerances.values()):
        nulls = {k: None for k, v in tolerances.items() if v is None}
        profile = profile.model_copy(update={"tolerances": profile.tolerances.model_copy(update=nulls)})
    return profile


def _received(
    tmp_path: Path,
    codec: Codec,
    *,
    level_db: float = 0.0,
    duration: float = 1.0,
    lead_ms: float = 120.0,
) -> Path:
    tone = _official().with_offsets(level_offset_db=level_db, duration_factor=duration)
    path = tmp_path / "call.wav"
    write_wav(path, through(synthesize(tone, 8000, lead_ms=lead_ms, tail_ms=600), codec), 8000)
    return path


def _verify(tmp_path: Path, codec: Codec, profile: ReferenceProfile, **kw: float) -> ValidationResult:
    return validate_file(_received(tmp_path, codec, **kw), profile)


@pytest.mark.parametrize("codec", CODECS)
def test_a_faithful_copy_passes_with_its_own_numbers(tmp_path: Path, codec: Codec) -> None:
    result = _verify(tmp_path, codec, _reference(tmp_path), level_db=-4.0)
    assert result.passed, result.failures
    ref = result.reference
    assert ref is not None
    assert ref.gain_db == pytest.approx(-4.0, abs=0.3)
    assert ref.reference_duration_ms == pytest.approx(400.0, abs=10.0)
    assert ref.duration_ms == pytest.approx(ref.reference_duration_ms, abs=10.0)
    # Offset of the tone itself, not of the reference file's leading silence.
    assert result.start_offset_ms == pytest.approx(120.0, abs=10.0)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("level_db", [-30.0, -8.0, 7.0])
def test_a_copy_at_the_wrong_level_fails(tmp_path: Path, codec: Codec, level_db: float) -> None:
    # Lead longer than the reference file's: it aligns even where leading silence is matched too.
    result = _verify(tmp_path, codec, _reference(tmp_path), level_db=level_db, lead_ms=400.0)
    assert result.failure_codes == ("level_out_of_tolerance",), result.failures
    assert result.reference is not None and result.reference.gain_db == pytest.approx(level_db, abs=0.5)
    assert "limit ±6 dB" in result.failures[0].message


@pytest.mark.parametrize("codec", CODECS)
def test_the_level_tolerance_is_the_profiles(tmp_path: Path, codec: Codec) -> None:
    wide = _reference(tmp_path, level_db=10.0)
    assert _verify(tmp_path, codec, wide, level_db=-8.0).passed
    assert _verify(tmp_path, codec, wide, level_db=-12.0).failure_codes == ("level_out_of_tolerance",)
    unchecked = _reference(tmp_path, level_db=None)
    assert _verify(tmp_path, codec, unchecked, level_db=-30.0).passed


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("duration", [1.25, 0.75])
def test_a_copy_too_long_or_too_short_fails(tmp_path: Path, codec: Codec, duration: float) -> None:
    result = _verify(tmp_path, codec, _reference(tmp_path), duration=duration)
    assert "duration_out_of_tolerance" in result.failure_codes, result.failures
    assert "level_out_of_tolerance" not in result.failure_codes
    ok = _verify(tmp_path, codec, _reference(tmp_path), duration=1.04)
    assert ok.passed, ok.failures


@pytest.mark.parametrize("codec", CODECS)
def test_a_late_copy_fails_its_start_offset(tmp_path: Path, codec: Codec) -> None:
    late = _verify(tmp_path, codec, _reference(tmp_path), lead_ms=1400.0)
    assert late.failure_codes == ("start_offset_out_of_tolerance",), late.failures
    assert late.start_offset_ms == pytest.approx(1400.0, abs=10.0)


@pytest.mark.parametrize("codec", CODECS)
def test_a_copy_off_frequency_fails_the_spectral_match(tmp_path: Path, codec: Codec) -> None:
    sharp = _official().with_offsets(frequency_factor=1.05)
    path = tmp_path / "sharp.wav"
    write_wav(path, through(synthesize(sharp, 8000, lead_ms=100, tail_ms=500), codec), 8000)
    assert "reference_spectrum_mismatch" in validate_file(path, _reference(tmp_path)).failure_codes


@pytest.mark.parametrize("codec", CODECS)
def test_a_copy_on_a_noisy_line_passes(tmp_path: Path, codec: Codec) -> None:
    """Noise 20 dB below the tone is not more tone: the duration is measured above the noise floor."""
    x = synthesize(_official(), 8000, lead_ms=300, tail_ms=600)
    power = float(np.mean(x[np.abs(x) > 0] ** 2))
    noisy = x + np.random.default_rng(5).normal(0.0, np.sqrt(power / 100.0), len(x))
    path = tmp_path / "noisy.wav"
    write_wav(path, through(noisy, codec), 8000)
    result = validate_file(path, _reference(tmp_path))
    assert result.passed, result.failures
    assert result.reference is not None
    assert result.reference.duration_ms == pytest.approx(result.reference.reference_duration_ms, abs=20.0)
