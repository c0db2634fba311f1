"""Concealment by frame repetition with no loss map, and edges under speech energy near the tone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sipcheck.tones import ParametricProfile, g711, load_profile, rtp, validate_audio
from sipcheck.tones.concealment import repeat_mask, repeated_copies, repeated_cut_ms
from sipcheck.tones.levels import from_pcm16, to_pcm16
from sipcheck.tones.synth import synthesize
from sipcheck.tones.validate import _check_burst

RATE = 8000
LEAD_MS = 213.0  # burst 1: 213–363 ms, burst 2: 463–613 ms; the 20 ms frame grid starts at 0


def _profile() -> ParametricProfile:
    p = load_profile("example-call-start")
    assert isinstance(p, ParametricProfile)
    return p


def _concealed(x: np.ndarray, lost_frames: list[int]) -> np.ndarray:
    """µ-law RTP, drop ``lost_frames`` (20 ms frame indices), rebuild by repeating the previous frame:
    an endpoint's recording, where nobody knows what was lost."""
    packets = rtp.packetize(g711.encode(to_pcm16(x), "pcmu"), "pcmu", ssrc=1)
    kept = [p for i, p in enumerate(packets) if i not in lost_frames]
    return np.asarray(rtp.depacketize(kept, conceal="repeat").samples)


def _tone(duration_factor: float = 1.0, noise_db: float | None = None) -> np.ndarray:
    x = synthesize(
        _profile().with_offsets(duration_factor=duration_factor), RATE, lead_ms=LEAD_MS, tail_ms=300
    )
    if noise_db is not None:
        rng = np.random.default_rng(11)
        power = float(np.mean(x[np.abs(x) > 0] ** 2))
        x = x + rng.normal(0.0, np.sqrt(power / 10 ** (noise_db / 10)), len(x))
    return x


def test_repeated_ramp_frame_is_moved_back_to_the_original() -> None:
    # Frame 18 (360–380 ms) holds burst 1's ramp-down; frames 19 and 20 are lost and filled with it,
    # so the received burst ends 40 ms late and the gap is 60 ms (limit ±20 ms). Used to fail.
    y = _concealed(_tone(), [19, 20])
    result = validate_audio(y, RATE, _profile(), call_start_s=0.0)
    assert result.outcome == "pass", result.failures
    first = result.bursts[0].measured
    assert first is not None and abs(first.end_s * 1000 - 363.0) < 1.0


def test_repeated_ramp_frame_does_not_rescue_a_short_tone() -> None:
    # 120 ms bursts (-20 %): burst 1 is 213–333 ms, its ramp frame 16 (320–340) repeated twice. The
    # received burst measures 160 ms, in tolerance; its true length is 120 ms and it must still fail.
    y = _concealed(_tone(duration_factor=0.8), [17, 18])
    result = validate_audio(y, RATE, _profile(), call_start_s=0.0)
    assert result.outcome == "fail"
    assert "duration_out_of_tolerance" in result.failure_codes


def test_cut_after_repeated_noise_allows_the_lost_frames() -> None:
    # A tone on a noisy line (30 dB SNR). Frames 17–19 (340–400 ms: the end of burst 1 and its ramp)
    # are lost and filled with frame 16: the burst now ends abruptly at 400 ms, 37 ms late, after
    # three exact copies of noisy audio, which only concealment makes. Used to fail.
    y = _concealed(_tone(noise_db=30.0), [17, 18, 19])
    result = validate_audio(y, RATE, _profile(), call_start_s=0.0)
    assert result.outcome == "pass", result.failures
    first = result.bursts[0].measured
    assert first is not None and first.edge_repeat_ms == (0.0, 60.0)


def test_noise_free_cut_gets_no_benefit_of_the_doubt() -> None:
    # Noise-free digital tone: every frame of its body repeats the one before, so a lost ramp frame
    # filled with body looks exactly like a tone that stops on the frame grid. A 20 % long tone
    # concealed that way must still fail, and no allowance is inferred.
    y = _concealed(_tone(duration_factor=1.2), [20])
    result = validate_audio(y, RATE, _profile(), call_start_s=0.0)
    assert result.outcome == "fail"
    assert "duration_out_of_tolerance" in result.failure_codes
    assert all(b.measured is None or b.measured.edge_repeat_ms == (0.0, 0.0) for b in result.bursts)


def test_traces_of_repetition() -> None:
    rng = np.random.default_rng(3)
    noise = from_pcm16(to_pcm16(rng.normal(0, 0.05, 1600)))
    y = noise.copy()
    y[800:1120] = np.tile(y[640:800], 2)  # frames 5 and 6 repeat frame 4
    mask = repeat_mask(y)
    assert mask[800:1120].all() and not mask[640:800].any()
    assert repeated_copies(mask, 700.0) == 0
    assert repeated_copies(mask, 1000.0) == 2  # in the second copy: the original is 320 samples back
    assert repeated_cut_ms(y, mask, 1120.0) == 40.0  # a cut where the repeats end: up to 40 ms early
    assert repeated_cut_ms(noise, repeat_mask(noise), 1120.0) == 0.0
    silence = np.zeros(1600)
    assert repeated_cut_ms(silence, repeat_mask(silence), 1120.0) == 0.0  # digital silence repeats itself


def test_inferred_concealment_only_ever_delays_an_edge() -> None:
    profile = _profile()
    exp = profile.expected()[0]
    y = _concealed(_tone(noise_db=30.0), [17, 18, 19])
    seg = validate_audio(y, RATE, profile, call_start_s=0.0).bursts[0].measured
    assert seg is not None
    # An end 60 ms early at worst: a long burst may be concealment, a short one never is.
    long = replace(seg, start_s=0.2, end_s=0.2 + 0.230)
    short = replace(seg, start_s=0.2, end_s=0.2 + 0.110)
    assert not _check_burst(0, exp, long, profile, 0.0).failures
    codes = [f.code for f in _check_burst(0, exp, short, profile, 0.0).failures]
    assert codes == ["duration_out_of_tolerance"]


def _voiced(n: int, start: int, stop: int, rel_db: float, tone_rms: float) -> np.ndarray:
    """A loud voiced syllable (130 Hz pitch, harmonics falling as 1/h, none within 60 Hz of 1 kHz)
    ``rel_db`` above the tone's RMS: it out-peaks the beep in every 20 ms block it covers."""
    t = np.arange(stop - start) / RATE
    sig = sum(
        np.sin(2 * np.pi * 130.0 * h * t + 1.3 * h) / h for h in range(1, 27) if abs(130.0 * h - 1000) > 60
    )
    sig = np.asarray(sig) * tone_rms * 10 ** (rel_db / 20) / np.sqrt(np.mean(np.asarray(sig) ** 2))
    out = np.zeros(n)
    out[start:stop] = sig * np.hanning(stop - start) ** 0.25
    return out


def test_a_syllable_over_a_beeps_start_does_not_cut_it_short() -> None:
    # A syllable 3 dB above the tone from 455 to 510 ms covers the first 47 ms of burst 2 (463–613 ms).
    # No block there is tonal, so the block run starts ~40 ms late; the old edge search could not look
    # before the run and measured burst 2 27 ms short (limit ±25 ms). The narrowband envelope at the
    # measured frequency sees the beep through the syllable.
    profile = _profile()
    x = synthesize(profile, RATE, lead_ms=LEAD_MS, tail_ms=300)
    tone_rms = float(np.sqrt(np.mean(x[np.abs(x) > 0] ** 2)))
    rng = np.random.default_rng(1)
    y = x + rng.normal(0, tone_rms * 10 ** (-30 / 20), len(x))
    y += _voiced(len(x), int(0.455 * RATE), int(0.510 * RATE), 3.0, tone_rms)
    result = validate_audio(y, RATE, profile, call_start_s=0.0)
    assert result.outcome == "pass", result.failures
    for check in result.bursts:
        assert check.duration_error_ms is not None and abs(check.duration_error_ms) < 2.0


def test_bridging_does_not_walk_away_from_the_tone() -> None:
    # Block peaks: the tone at bin 20 (1 kHz), then babble at 19, 18, 17 after short holes. Each is
    # within one bin of the block before it; only the first is within one bin of the tone's run.
    from sipcheck.tones.analysis import _bridge

    sig = np.array([[20]] * 10 + [[0]] * 2 + [[19]] * 2 + [[0]] * 2 + [[18]] * 2 + [[17]] * 2, dtype=np.int64)
    runs = _bridge([0, 12, 16, 18], [9, 13, 17, 19], sig, bridge_ms=50.0)
    assert runs[0] == [(0, 9), (12, 13)]
    assert runs[1][0] == (16, 17)  # a run of its own (later dropped as a glide), not part of the tone
