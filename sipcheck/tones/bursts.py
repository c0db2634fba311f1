"""Check one matched burst against the profile's tolerances: frequency, level, duration, purity,
modulation. Pure functions of a measured `ToneSegment` and an `ExpectedSegment`."""

from __future__ import annotations

import math
from typing import Any

from sipcheck.tones.analysis import ToneSegment
from sipcheck.tones.profiles import ExpectedSegment, ParametricProfile
from sipcheck.tones.result import BurstCheck, Failure

PAIRING_PCT = 10.0
"""A segment *resembles* a burst when every component is within this (loose on purpose: a tone 5 %
off is found, then failed for its frequency, rather than reported missing)."""


def same_components(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        abs(x.frequency_hz - y.frequency_hz) <= 0.01 * x.frequency_hz for x, y in zip(a, b, strict=True)
    )


def pct(measured: float, nominal: float) -> float:
    return (measured - nominal) / nominal * 100.0


def resembles(seg: ToneSegment, exp: ExpectedSegment) -> bool:
    return all(
        any(abs(pct(f, c.frequency_hz)) <= PAIRING_PCT for f in seg.frequencies_hz)
        for c in exp.segment.components
    )


def limits(short: float, long: float) -> str:
    """ "±20 ms", or "-20/+40 ms" when inferred concealment widened one side."""
    if round(short) == round(long):
        return f"±{long:.0f} ms"
    return f"-{short:.0f}/+{long:.0f} ms"


def level_fits(seg: ToneSegment, exp: ExpectedSegment, profile: ParametricProfile) -> bool:
    """Whether a segment is as loud as burst ``exp`` (within the level tolerance; always, when levels
    are not checked): an extra beep of the pattern is, a vowel's harmonic near the tone in babble is
    not."""
    tol = profile.tolerances.level_db
    if tol is None:
        return True
    expected = 10.0 * math.log10(sum(10.0 ** (c.level_dbm0 / 10.0) for c in exp.segment.components))
    return abs(seg.level_dbm0 - expected) <= tol


def describe(seg: ToneSegment) -> str:
    freqs = "+".join(f"{f:.1f}" for f in seg.frequencies_hz)
    return f"{freqs} Hz for {seg.duration_ms:.0f} ms at {seg.start_s:.3f} s"


def check_burst(
    i: int, exp: ExpectedSegment, seg: ToneSegment, profile: ParametricProfile, call_start_s: float
) -> BurstCheck:
    tol = profile.tolerances
    s = exp.segment
    fails: list[Failure] = []
    label = f"burst {i + 1}"
    errors: list[float] = []
    if len(seg.frequencies_hz) != len(s.components):
        fails.append(
            Failure(
                "component_count_mismatch",
                f"{label}: {len(seg.frequencies_hz)} frequency components measured, "
                f"{len(s.components)} expected",
                i,
            )
        )
    limit = tol.frequency_threshold_pct()
    for j, comp in enumerate(s.components):
        k = min(range(len(seg.frequencies_hz)), key=lambda n: abs(seg.frequencies_hz[n] - comp.frequency_hz))
        err = pct(seg.frequencies_hz[k], comp.frequency_hz)
        errors.append(err)
        if abs(err) > limit:
            fails.append(
                Failure(
                    "frequency_out_of_tolerance",
                    f"{label}: frequency {seg.frequencies_hz[k]:.1f} Hz, expected {comp.frequency_hz:g} Hz "
                    f"({err:+.2f} %, limit ±{limit:.2f} %)",
                    i,
                )
            )
        if tol.level_db is not None:
            level = seg.component_levels_dbm0[k]
            if abs(level - comp.level_dbm0) > tol.level_db:
                fails.append(
                    Failure(
                        "level_out_of_tolerance",
                        f"{label}: component {j + 1} level {level:.1f} dBm0, "
                        f"expected {comp.level_dbm0:g} dBm0 "
                        f"± {tol.level_db:g} dB",
                        i,
                    )
                )
    if seg.frequency_drift_pct > tol.frequency_pct:
        fails.append(
            Failure(
                "frequency_unstable",
                f"{label}: frequency drifts {seg.frequency_drift_pct:.2f} % within the burst "
                f"(limit {tol.frequency_pct:g} %)",
                i,
            )
        )
    dur_err = seg.duration_ms - s.duration_ms
    base = tol.duration_threshold_ms(s.duration_ms) + sum(seg.edge_loss_ms)
    # A delayed start (repeated silence) shortens the burst, an extended end (repeated tone) lengthens it.
    short, long = base + seg.edge_repeat_ms[0], base + seg.edge_repeat_ms[1]
    if not -short <= dur_err <= long:
        fails.append(
            Failure(
                "duration_out_of_tolerance",
                f"{label}: duration {seg.duration_ms:.0f} ms, expected {s.duration_ms:g} ms "
                f"({dur_err:+.0f} ms, limit {limits(short, long)})",
                i,
            )
        )
    if seg.tone_to_rest_db < tol.min_tone_to_rest_db:
        fails.append(
            Failure(
                "tone_to_rest_too_low",
                f"{label}: tone only {seg.tone_to_rest_db:.1f} dB above the rest of the signal "
                f"(minimum {tol.min_tone_to_rest_db:g} dB)",
                i,
            )
        )
    if seg.tone_dominance_db < tol.min_tone_dominance_db:
        fails.append(
            Failure(
                "tone_to_rest_too_low",
                f"{label}: tone only {seg.tone_dominance_db:.1f} dB above the strongest other spectral "
                f"component (minimum {tol.min_tone_dominance_db:g} dB)",
                i,
            )
        )
    contrast = tol.min_edge_contrast_db
    if contrast is not None and seg.edge_contrast_db < contrast:
        fails.append(
            Failure(
                "no_clear_edges",
                f"{label}: only {seg.edge_contrast_db:.1f} dB above the same frequency just before and "
                f"after it (minimum {contrast:g} dB): not switched on and off like a tone",
                i,
            )
        )
    if s.modulation is not None:
        if seg.modulation_hz is None:
            fails.append(
                Failure(
                    "modulation_missing", f"{label}: no {s.modulation.frequency_hz:g} Hz modulation found", i
                )
            )
        elif abs(pct(seg.modulation_hz, s.modulation.frequency_hz)) > tol.modulation_pct:
            fails.append(
                Failure(
                    "modulation_out_of_tolerance",
                    f"{label}: modulated at {seg.modulation_hz:.1f} Hz, "
                    f"expected {s.modulation.frequency_hz:g} Hz",
                    i,
                )
            )
    return BurstCheck(
        burst=i,
        segment_index=exp.segment_index,
        expected_frequencies_hz=tuple(c.frequency_hz for c in s.components),
        expected_duration_ms=s.duration_ms,
        expected_levels_dbm0=tuple(c.level_dbm0 for c in s.components),
        measured=seg,
        frequency_errors_pct=tuple(errors),
        duration_error_ms=dur_err,
        start_offset_ms=(seg.start_s - call_start_s) * 1000.0,
        failures=tuple(fails),
    )
