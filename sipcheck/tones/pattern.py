"""The pattern rule: what may come before, inside and after the expected bursts (`ParametricProfile.pattern`).

One rule for every profile, so the same situation gets the same answer: a detected segment that is
none of the expected bursts but *looks like one of them* (`tone_like`: right frequency, right level,
steady, clean) is never silently ignored.

* Inside the pattern's span it is ``unexpected_segment`` (both kinds).
* ``fixed``: outside the span, extras that make up the whole pattern again are
  ``pattern_repeated`` (one failure per repeat); any other that passes every check of one of the
  profile's bursts (`check_burst`: a beep, not a syllable that merely looks like one) is
  ``extra_burst``; a steady, pure tone of another frequency starting within
  `SECOND_TONE_WINDOW_S` of the pattern's end, and stopping before the recording does, is
  ``second_tone``.
* ``cadence``: the validator goes on matching the cycle until the recording ends (`cycle_burst`), so
  a beep (as for ``extra_burst``) left outside the span is off the cadence: ``cadence_broken``.

Audio long after an identification tone is the conversation, so a different frequency counts as a
second tone only right after the pattern; a burst like the tone's own counts wherever it is, because
speech rarely imitates it (`bench/bench_tones.py`, talk-off) and a replayed tone is what a tester
must hear about.
"""

from __future__ import annotations

from sipcheck.tones.analysis import ToneSegment
from sipcheck.tones.bursts import check_burst, describe, level_fits, resembles
from sipcheck.tones.profiles import ExpectedSegment, ParametricProfile
from sipcheck.tones.result import Failure

SECOND_TONE_WINDOW_S = 2.0
"""A tone of another frequency starting this soon after the pattern's last burst is a second tone."""
SECOND_TONE_MIN_PURITY_DB = 18.0
"""...if it is this pure (tone over the rest of the signal, and over any other band): a tone, not a
vowel, a note or a DTMF digit measured as one component. The talk-off corpus (1.03 h of speech and
music) has 29 steady segments per hour at 10 dB, none at 15 dB."""
SECOND_TONE_END_MARGIN_S = 0.25
"""...and if it stops at least this long before the recording does. A tone that goes on to the end
is the connected call's own audio (a test caller streaming a tone until its BYE), not a tone the
network played after the identification tone."""
START_SLACK_S = 0.5
"""Segments this far before the call start are still considered (as the anchors are)."""


def cycle_burst(expected: list[ExpectedSegment], total_ms: float, k: int) -> ExpectedSegment:
    """Burst ``k`` (from 0) of a cadence: the expanded segments repeat with period ``total_ms``."""
    n = len(expected)
    base = expected[k % n]
    return ExpectedSegment(base.segment_index, base.start_ms + (k // n) * total_ms, base.segment)


def tone_like(seg: ToneSegment, profile: ParametricProfile) -> bool:
    """Whether an unmatched segment would pass for one of the profile's bursts: a steady, clean tone at a
    burst's frequencies and level, long enough and with both edges received."""
    tol = profile.tolerances
    expected = profile.expected()
    shortest = min(e.segment.duration_ms for e in expected)
    return (
        any(resembles(seg, e) and level_fits(seg, e, profile) for e in expected)
        and seg.edge_loss_ms == (0.0, 0.0)
        and seg.edge_repeat_ms == (0.0, 0.0)
        and seg.duration_ms >= min(40.0, shortest / 2)
        and seg.tone_to_rest_db >= tol.min_tone_to_rest_db
        and seg.tone_dominance_db >= tol.min_tone_dominance_db
        and (tol.min_edge_contrast_db is None or seg.edge_contrast_db >= tol.min_edge_contrast_db)
        # A steady tone, not speech near the tone's pitch: it would fail ``frequency_unstable``.
        and seg.frequency_drift_pct <= tol.frequency_pct
    )


def _a_beep(seg: ToneSegment, profile: ParametricProfile) -> bool:
    """Whether ``seg`` passes every check of one of the profile's bursts: what a lone extra must do to
    fail the pattern (the talk-off corpus has none per hour; looser `tone_like` segments, 1 per hour,
    count only as part of a whole repeat, or inside the pattern)."""
    return any(not check_burst(0, e, seg, profile, 0.0).failures for e in profile.expected())


def _second_tone(seg: ToneSegment, profile: ParametricProfile) -> bool:
    tol = profile.tolerances
    shortest = min(e.segment.duration_ms for e in profile.expected())
    return (
        not any(resembles(seg, e) for e in profile.expected())
        and seg.edge_loss_ms == (0.0, 0.0)
        and seg.duration_ms >= max(40.0, shortest / 2)
        and seg.level_dbm0 >= tol.min_level_dbm0
        and seg.tone_to_rest_db >= max(SECOND_TONE_MIN_PURITY_DB, tol.min_tone_to_rest_db)
        and seg.tone_dominance_db >= max(SECOND_TONE_MIN_PURITY_DB, tol.min_tone_dominance_db)
        and seg.frequency_drift_pct <= tol.frequency_pct
    )


def _repeats(
    extras: list[ToneSegment], profile: ParametricProfile
) -> tuple[list[list[ToneSegment]], list[ToneSegment]]:
    """Split extra bursts into whole repeats of the pattern (each burst where the pattern puts it,
    ±the validator's matching window) and the rest."""
    expected = profile.expected()
    left = sorted(extras, key=lambda s: s.start_s)
    repeats: list[list[ToneSegment]] = []
    i = 0
    while i < len(left):
        first = left[i]
        if not resembles(first, expected[0]):
            i += 1
            continue
        anchor = first.start_s - expected[0].start_ms / 1000.0
        found: list[ToneSegment] = []
        for exp in expected:
            window = max(0.15, exp.segment.duration_ms / 2000.0)
            predicted = anchor + exp.start_ms / 1000.0
            match = next(
                (
                    s
                    for s in left
                    if s not in found and resembles(s, exp) and abs(s.start_s - predicted) <= window
                ),
                None,
            )
            if match is None:
                break
            found.append(match)
        if len(found) == len(expected):
            repeats.append(found)
            left = [s for s in left if s not in found]
        else:
            i += 1
    return repeats, left


def leftover_failures(
    profile: ParametricProfile,
    unmatched: tuple[ToneSegment, ...],
    *,
    span: tuple[float, float],
    last_end_s: float | None,
    call_start_s: float,
    audio_end_s: float,
) -> list[Failure]:
    """Failures for the segments no expected burst explained. ``span``: where the pattern (a cadence:
    as far as it was followed) lies; ``last_end_s``: end of its last matched burst."""
    start, end = span
    out: list[Failure] = []
    outside: list[ToneSegment] = []
    for s in unmatched:
        if s.start_s < call_start_s - START_SLACK_S or not tone_like(s, profile):
            continue
        if start <= s.start_s < end:
            out.append(Failure("unexpected_segment", f"unexpected tone {describe(s)} inside the pattern"))
        else:
            outside.append(s)
    if profile.pattern == "cadence":
        out.extend(
            Failure(
                "cadence_broken",
                f"burst {describe(s)} is off the cadence (which runs {start:.3f}–{end:.3f} s)",
            )
            for s in outside
            if _a_beep(s, profile)
        )
        return out
    for side, extras in (
        ("before", [s for s in outside if s.start_s < start]),
        ("after", [s for s in outside if s.start_s >= end]),
    ):
        repeats, rest = _repeats(extras, profile)
        out.extend(
            Failure(
                "pattern_repeated",
                f"the whole pattern plays again {side} it, from {r[0].start_s:.3f} s ({len(r)} bursts): "
                "a fixed pattern is played once",
            )
            for r in repeats
        )
        out.extend(
            Failure(
                "extra_burst", f"extra burst {describe(s)} {side} the pattern: a fixed pattern is played once"
            )
            for s in rest
            if _a_beep(s, profile)
        )
    if last_end_s is not None:
        out.extend(
            Failure("second_tone", f"a second tone {describe(s)} right after the pattern")
            for s in unmatched
            if last_end_s - 0.01 <= s.start_s <= last_end_s + SECOND_TONE_WINDOW_S
            and s.end_s <= audio_end_s - SECOND_TONE_END_MARGIN_S
            and _second_tone(s, profile)
        )
    return out
