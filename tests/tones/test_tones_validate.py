"""Render → verify for every built-in through every format; impaired tones fail for the right reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sipcheck.tones import (
    FAILURE_CODES,
    AudioFormatError,
    ParametricProfile,
    builtin_profiles,
    load_profile,
    read_audio,
    render,
    render_bytes,
    validate_audio,
    validate_file,
)
from sipcheck.tones.render import g711_pcap, render_g711
from sipcheck.tones.wavio import wav_bytes, write_wav

BUILTINS = sorted(builtin_profiles())
SUFFIX = {"wav": ".wav", "ulaw": ".ulaw", "alaw": ".alaw", "pcap": ".pcap"}


def _parametric(name: str) -> ParametricProfile:
    p = load_profile(name)
    assert isinstance(p, ParametricProfile)
    return p


@pytest.mark.parametrize("fmt", ["wav", "ulaw", "alaw", "pcap"])
@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_round_trips_through_every_format(tmp_path: Path, name: str, fmt: str) -> None:
    profile = load_profile(name)
    path = tmp_path / f"tone{SUFFIX[fmt]}"
    path.write_bytes(render_bytes(profile, fmt))
    result = validate_file(path, profile)
    assert result.passed, result.failures
    assert result.start_offset_ms == pytest.approx(5.0, abs=2.0)
    assert len(result.bursts) == len(_parametric(name).expected())


@pytest.mark.parametrize("rate", [16000, 48000])
def test_wav_at_other_rates_and_channels(tmp_path: Path, rate: int) -> None:
    profile = _parametric("itu-sit")
    x = render(profile, rate)
    stereo = np.stack([np.zeros_like(x), x], axis=1)
    # 24-bit stereo WAV written by hand: the tone is on channel 1 only.
    pcm = np.clip(np.rint(stereo * 2**23), -(2**23), 2**23 - 1).astype("<i4")
    raw = b"".join(v.to_bytes(4, "little", signed=True)[:3] for v in pcm.ravel().tolist())
    fmt = (16).to_bytes(4, "little") + b"\x01\x00\x02\x00" + rate.to_bytes(4, "little")
    fmt += (rate * 6).to_bytes(4, "little") + b"\x06\x00\x18\x00"
    body = b"WAVE" + b"fmt " + fmt + b"data" + len(raw).to_bytes(4, "little") + raw
    path = tmp_path / "stereo.wav"
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    assert validate_file(path, profile, channel=1).passed
    left = validate_file(path, profile, channel=0)
    assert left.failure_codes == ("tone_not_found",)
    with pytest.raises(AudioFormatError, match="channel 2 requested but the WAV has 2"):
        read_audio(path, channel=2)


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("factor", [1.05, 0.95])
def test_five_percent_off_fails_naming_frequency(name: str, factor: float) -> None:
    profile = _parametric(name)
    x = render(profile.with_offsets(frequency_factor=factor))
    result = validate_audio(x, 8000, profile)
    assert not result.passed
    assert set(result.failure_codes) == {"frequency_out_of_tolerance"}
    assert "frequency" in result.failures[0].message and "limit" in result.failures[0].message


@pytest.mark.parametrize("factor", [1.005, 0.985, 1.015])
def test_small_frequency_offsets_pass(factor: float) -> None:
    profile = _parametric("example-call-start")
    assert validate_audio(render(profile.with_offsets(frequency_factor=factor)), 8000, profile).passed


@pytest.mark.parametrize(("factor", "passes"), [(1.05, True), (0.95, True), (1.2, False), (0.8, False)])
def test_duration(factor: float, passes: bool) -> None:
    profile = _parametric("jp-busy")
    result = validate_audio(render(profile.with_offsets(duration_factor=factor)), 8000, profile)
    assert result.passed is passes
    if not passes:
        assert "duration_out_of_tolerance" in result.failure_codes


def test_level_out_of_tolerance() -> None:
    profile = _parametric("example-call-start")
    result = validate_audio(render(profile.with_offsets(level_offset_db=-12)), 8000, profile)
    assert set(result.failure_codes) == {"level_out_of_tolerance"}
    unchecked = profile.with_tolerances(level_db=None)
    assert validate_audio(render(profile.with_offsets(level_offset_db=-25)), 8000, unchecked).passed


def test_missing_burst_and_extra_burst() -> None:
    profile = _parametric("example-call-start")
    x = render(profile)
    one = x.copy()
    one[int(0.2 * 8000) :] = 0.0
    assert validate_audio(one, 8000, profile).failure_codes == ("segment_missing",)
    three = _parametric("example-call-start").model_copy(
        update={"segments": [profile.segments[0].model_copy(update={"repeat": 3, "gap_ms": 60})]}
    )
    result = validate_audio(render(three), 8000, profile)
    assert not result.passed and "gap_out_of_tolerance" in result.failure_codes


def test_start_offset_from_user_and_too_late() -> None:
    profile = _parametric("example-call-start")
    x = np.concatenate([np.zeros(8000 * 2), render(profile)])
    late = validate_audio(x, 8000, profile)
    assert late.failure_codes == ("start_offset_out_of_tolerance",)
    ok = validate_audio(x, 8000, profile, call_start_s=1.8)
    assert ok.passed and ok.start_offset_ms == pytest.approx(205, abs=2)
    assert ok.call_start_source == "user"


def test_noise_and_speechlike_interference_are_not_the_tone() -> None:
    rng = np.random.default_rng(7)
    profile = _parametric("example-call-start")
    noise = rng.normal(0, 0.05, 8000 * 3)
    assert validate_audio(noise, 8000, profile).failure_codes == ("tone_not_found",)
    t = np.arange(8000 * 2) / 8000
    sweep = 0.3 * np.sin(2 * np.pi * (700 * t + 150 * t**2))  # passes 1 kHz at 1 s
    assert not validate_audio(sweep, 8000, profile).passed


def test_ringback_modulation_is_checked() -> None:
    profile = _parametric("jp-ringback")
    result = validate_audio(render(profile), 8000, profile)
    assert result.passed
    seg = result.bursts[0].measured
    assert seg is not None and seg.modulation_hz == pytest.approx(16, abs=1)
    flat = profile.model_copy(
        update={"segments": [profile.segments[0].model_copy(update={"modulation": None})]}
    )
    assert validate_audio(render(flat), 8000, profile).failure_codes == (
        "modulation_missing",
        "modulation_missing",
    )


def test_failure_codes_are_declared() -> None:
    assert "frequency_out_of_tolerance" in FAILURE_CODES
    assert len(set(FAILURE_CODES)) == len(FAILURE_CODES)


def test_result_to_dict_is_json_ready() -> None:
    import json

    profile = _parametric("itu-sit")
    d = validate_audio(render(profile), 8000, profile).to_dict()
    text = json.dumps(d)
    assert '"passed": true' in text and d["bursts"][0]["measured"]["duration_ms"] > 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.wav", b"", "empty file"),
        ("trunc.wav", None, "truncated WAV"),
        ("noriff.wav", b"OggS" + bytes(40), "not a WAV file"),
        ("empty.ulaw", b"", "empty file"),
        (
            "float.wav",
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x02\x00\x01\x00" + bytes(12),
            "no data chunk",
        ),
    ],
)
def test_malformed_audio_gives_clear_errors(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is None:
        content = wav_bytes(render(load_profile("jp-busy")), 8000)[:1000]
    path.write_bytes(content)
    with pytest.raises(AudioFormatError) as err:
        validate_file(path, load_profile("jp-busy"))
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="cannot read"):
        read_audio(tmp_path / "nope.wav")


def test_reference_profile_matches_through_gain_delay_and_g711(tmp_path: Path) -> None:
    official = _parametric("example-call-start")
    write_wav(tmp_path / "official.wav", render(official, 16000), 16000)
    (tmp_path / "official.toml").write_text(
        'kind = "reference"\nid = "official"\nname = "licensed recording"\nrecording = "official.wav"\n'
    )
    ref = load_profile(tmp_path / "official.toml")
    received = tmp_path / "call.pcap"
    quieter = official.with_offsets(level_offset_db=-5)  # within the default ±6 dB level tolerance
    received.write_bytes(g711_pcap(render_g711(quieter, "pcma"), "pcma"))
    good = validate_file(received, ref)
    assert good.passed, good.failures
    assert good.reference is not None and good.reference.gain_db == pytest.approx(-5, abs=0.5)
    wrong = tmp_path / "wrong.wav"
    write_wav(wrong, render(official.with_offsets(frequency_factor=1.05)), 8000)
    bad = validate_file(wrong, ref)
    assert "reference_spectrum_mismatch" in bad.failure_codes
    busy = tmp_path / "busy.wav"
    write_wav(busy, render(load_profile("jp-busy")), 8000)
    assert not validate_file(busy, ref).passed


def test_a_burst_without_edges_at_its_frequency_is_not_the_tone() -> None:
    """Talk-off: a stretch cut out of a partial that goes on at the same level (a held vowel's
    harmonic) passes every spectral check of a beep; it has no edges at its frequency."""
    from dataclasses import replace

    from sipcheck.tones import g711
    from sipcheck.tones.levels import from_pcm16, to_pcm16
    from sipcheck.tones.shape import edge_contrast_db
    from sipcheck.tones.validate import _check_burst

    profile = _parametric("example-call-start")
    beeps = render(profile)
    decoded = from_pcm16(g711.decode(g711.encode(to_pcm16(beeps), "pcmu"), "pcmu"))
    result = validate_audio(decoded, 8000, profile)
    assert result.passed, result.failures
    measured = [b.measured for b in result.bursts if b.measured is not None]
    assert len(measured) == 2 and all(m.edge_contrast_db > 30.0 for m in measured)
    t = np.arange(8000) / 8000
    held = from_pcm16(to_pcm16(0.2 * np.sin(2 * np.pi * 1000.0 * t)))
    flat = edge_contrast_db(held, 3000.0, 4200.0, 1000.0, None, (False, False))
    assert abs(flat) < 1.0
    seg = replace(measured[0], edge_contrast_db=flat)
    codes = [f.code for f in _check_burst(0, profile.expected()[0], seg, profile, 0.0).failures]
    assert codes == ["no_clear_edges"]
    unchecked = profile.with_tolerances(min_edge_contrast_db=None)
    assert not _check_burst(0, unchecked.expected()[0], seg, unchecked, 0.0).failures
