"""Compare what was measured with what a profile promises, and say why it fails.

Matching: the first detected segment resembling the profile's first burst
(every component within ±10 %, loose on purpose so that a tone 5 % off is
*found* and then failed for its frequency, not reported missing) anchors the
pattern; every other expected burst is looked for near its predicted start,
and for a cadence every further cycle until the recording ends. Each matched
burst is then checked against the profile's tolerances (`bursts`); what no
burst explains is judged by the profile's pattern rule (`pattern`). Every
failure carries a stable machine code (`FAILURE_CODES`) and a sentence.

Reference-recording profiles are judged in `reference_check`. The result types
live in `result` and are re-exported here.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy.typing as npt

from sipcheck.tones.analysis import Analysis, AnalysisParams, ToneSegment, analyse
from sipcheck.tones.bursts import PAIRING_PCT, check_burst, describe, limits, resembles, same_components
from sipcheck.tones.pattern import cycle_burst, leftover_failures
from sipcheck.tones.profiles import ExpectedSegment, ParametricProfile, Profile, ReferenceProfile
from sipcheck.tones.reference_check import validate_reference
from sipcheck.tones.result import (
    FAILURE_CODES,
    INCONCLUSIVE_CODES,
    LOST_INCONCLUSIVE,
    BurstCheck,
    CallStartSource,
    Common,
    Failure,
    FailureCode,
    Inconclusive,
    InconclusiveCode,
    Outcome,
    ValidationResult,
)

__all__ = [
    "FAILURE_CODES",
    "INCONCLUSIVE_CODES",
    "LOST_INCONCLUSIVE",
    "PAIRING_PCT",
    "BurstCheck",
    "CallStartSource",
    "Failure",
    "FailureCode",
    "Inconclusive",
    "InconclusiveCode",
    "Outcome",
    "ValidationResult",
    "params_for",
    "validate",
    "validate_audio",
]

MAX_ANCHORS = 16
END_CUT_S = 0.03
"""A cadence burst that should end later than this before the end of the recording was cut by it, and
is not failed for being short. Judged by where the cadence puts its end, not by where it was measured
to end: the last frames of a recording are easily taken for concealment (`concealment`)."""
_check_burst = check_burst  # the name the benchmark and older tests use


def params_for(profile: ParametricProfile) -> AnalysisParams:
    """Detector settings a profile implies: its component count, and a bridge for lost packets
    shorter than half of any gap between like bursts (at most 60 ms)."""
    exp = profile.expected()
    gaps = [
        e.segment.gap_ms
        for e, nxt in itertools.pairwise(exp)
        if same_components(e.segment.components, nxt.segment.components)
    ]
    bridge = min([60.0, *(g / 2 for g in gaps)])
    shortest = min(e.segment.duration_ms for e in exp)
    return AnalysisParams(
        max_components=profile.max_components,
        bridge_ms=bridge,
        min_duration_ms=min(30.0, shortest / 2),
        min_level_dbm0=min(-50.0, profile.tolerances.min_level_dbm0),
        min_run_ratio_db=4.0,
        target_hz=tuple(sorted({c.frequency_hz for s in profile.segments for c in s.components})),
    )


def validate(
    analysis: Analysis,
    profile: ParametricProfile,
    *,
    call_start_s: float | None = None,
    call_start_source: CallStartSource | None = None,
) -> ValidationResult:
    """Judge an `Analysis` against a parametric profile.

    ``call_start_s`` (seconds into the audio) defaults to the analysis' own
    (from a SIP 200 OK), else the start of the audio.
    """
    if call_start_s is None:
        call_start_s = analysis.call_start_s
        source: CallStartSource = "sip-200-ok" if call_start_s is not None else "file-start"
    else:
        source = call_start_source or "user"
    start = call_start_s or 0.0
    expected = profile.expected()
    segments = sorted(analysis.segments, key=lambda s: s.start_s)
    common = Common(profile.id, start, source, analysis)
    anchors: list[float] = []
    for exp in expected:
        for seg in segments:
            if seg.start_s >= start - 0.5 and resembles(seg, exp):
                a = seg.start_s - exp.start_ms / 1000.0
                if all(abs(a - b) > 0.01 for b in anchors):
                    anchors.append(a)
    if not anchors:
        want = " / ".join(
            "+".join(f"{c.frequency_hz:g}" for c in e.segment.components) + " Hz"
            for e in expected[: len(profile.segments)]
        )
        found = "; found " + ", ".join(describe(s) for s in segments[:5]) if segments else "; no tone at all"
        window_end = start + ((profile.tolerances.max_start_delay_ms or 0.0) + profile.total_ms()) / 1000.0
        lost = analysis.lost_fraction_between(start, window_end)
        if lost >= LOST_INCONCLUSIVE:
            unsure = Inconclusive(
                "lost_packets",
                f"no tone found, but {lost:.0%} of the audio where it belongs was not received (packet loss)",
                None,
                lost,
            )
            return common.result(failures=(), unmatched=tuple(segments), inconclusive=(unsure,))
        failure = Failure("tone_not_found", f"no tone near {want} (±{PAIRING_PCT:g} %){found}")
        return common.result(failures=(failure,), unmatched=tuple(segments))
    # Speech or noise before the tone can resemble a burst: try every plausible alignment (earliest
    # first) and keep the one that explains the most bursts with the fewest failures.
    results = [_judge(a, segments, profile, start, common) for a in sorted(anchors)[:MAX_ANCHORS]]
    return min(
        results,
        key=lambda r: (
            sum(1 for b in r.bursts if b.measured is None and b.inconclusive is None) + len(r.inconclusive),
            len(r.failures),
            len(r.inconclusive),
        ),
    )


MAX_LOSS_HOLE_S = 0.2


def _candidates(
    segments: list[ToneSegment], used: set[int], exp: ExpectedSegment
) -> list[tuple[tuple[int, ...], ToneSegment]]:
    """Segments that could be burst ``exp``: each unused resembling segment alone, and joined with the
    pieces that follow it across holes made by packet loss (both edges of the hole touch lost audio).

    Whether to join is decided here, not in the analysis, because only the profile says whether a
    lost stretch hid a gap or the middle of a burst: the caller keeps the candidate that fits best.
    """
    out: list[tuple[tuple[int, ...], ToneSegment]] = []
    for n, seg in enumerate(segments):
        if n in used or not resembles(seg, exp):
            continue
        out.append(((n,), seg))
        members = [n]
        while True:
            last = segments[members[-1]]
            k = members[-1] + 1
            if k >= len(segments) or k in used or not resembles(segments[k], exp):
                break
            nxt = segments[k]
            if not (
                last.edge_loss_ms[1] > 0
                and nxt.edge_loss_ms[0] > 0
                and nxt.start_s - last.end_s <= MAX_LOSS_HOLE_S
            ):
                break
            members.append(k)
            out.append((tuple(members), _join([segments[m] for m in members])))
    return out


def _join(pieces: list[ToneSegment]) -> ToneSegment:
    """One segment from pieces of a burst split by packet loss: measurements from the longest piece."""
    longest = max(pieces, key=lambda p: p.duration_ms)
    return replace(
        longest,
        start_s=pieces[0].start_s,
        end_s=pieces[-1].end_s,
        tone_to_rest_db=min(p.tone_to_rest_db for p in pieces),
        frequency_drift_pct=max(p.frequency_drift_pct for p in pieces),
        edge_loss_ms=(pieces[0].edge_loss_ms[0], pieces[-1].edge_loss_ms[1]),
        edge_repeat_ms=(pieces[0].edge_repeat_ms[0], pieces[-1].edge_repeat_ms[1]),
    )


def _missing(i: int, exp: ExpectedSegment, predicted: float, lost: float, code: FailureCode) -> BurstCheck:
    comps = "+".join(f"{c.frequency_hz:g}" for c in exp.segment.components)
    unsure = _lost_packets(i, lost) if lost >= LOST_INCONCLUSIVE else None
    failure = Failure(code, f"burst {i + 1}: no {comps} Hz tone near {predicted:.3f} s", i)
    return BurstCheck(
        i,
        exp.segment_index,
        tuple(c.frequency_hz for c in exp.segment.components),
        exp.segment.duration_ms,
        tuple(c.level_dbm0 for c in exp.segment.components),
        None,
        failures=() if unsure else (failure,),
        lost_fraction=lost,
        inconclusive=unsure,
    )


def _gap_failure(
    i: int, gap_ms: float, prev: ToneSegment, seg: ToneSegment, profile: ParametricProfile
) -> Failure | None:
    """``gap_ms`` (nominal) before burst ``i``, measured between ``prev`` and ``seg``."""
    gap = (seg.start_s - prev.end_s) * 1000.0
    base = profile.tolerances.duration_threshold_ms(gap_ms) + prev.edge_loss_ms[1] + seg.edge_loss_ms[0]
    # An extended end before the gap shortens it; a delayed start after it lengthens it.
    short, long = base + prev.edge_repeat_ms[1], base + seg.edge_repeat_ms[0]
    if -short <= gap - gap_ms <= long:
        return None
    return Failure(
        "gap_out_of_tolerance",
        f"burst {i + 1}: preceded by a {gap:.0f} ms gap, expected {gap_ms:g} ms "
        f"(limit {limits(short, long)})",
        i,
    )


def _judge(
    anchor: float, segments: list[ToneSegment], profile: ParametricProfile, start: float, common: Common
) -> ValidationResult:
    """Match and check every expected burst assuming the pattern starts at ``anchor``; for a cadence,
    go on cycle after cycle while the recording lasts and the cadence is found."""
    minimum = profile.expected()
    total_ms = profile.total_ms()
    cadence = profile.pattern == "cadence"
    audio_end = common.analysis.duration_s
    used: set[int] = set()
    checks: list[BurstCheck] = []
    failures: list[Failure] = []
    inconclusive: list[Inconclusive] = []
    prev: ToneSegment | None = None
    last_matched: ToneSegment | None = None
    # Fixed: the pattern ends with its last burst (a repeat may follow after the usual gap, and is
    # then after the pattern, not inside it). Cadence: up to the next burst the cadence would play.
    last_burst = minimum[-1]
    span_end = anchor + (last_burst.start_ms + last_burst.segment.duration_ms) / 1000.0
    if cadence:
        span_end = anchor + total_ms / 1000.0
    for i in itertools.count():
        exp = cycle_burst(minimum, total_ms, i) if cadence else minimum[i] if i < len(minimum) else None
        if exp is None:
            break
        required = i < len(minimum)
        predicted = anchor + exp.start_ms / 1000.0
        if not required and predicted + min(0.04, exp.segment.duration_ms / 2000.0) >= audio_end:
            break  # the recording ends before another burst could be heard
        window = max(0.15, exp.segment.duration_ms / 2000.0)
        candidates = [
            (abs(seg.start_s - predicted) + abs(seg.duration_ms - exp.segment.duration_ms) / 1000.0, ns, seg)
            for ns, seg in _candidates(segments, used, exp)
            if abs(seg.start_s - predicted) <= window
        ]
        nominal_end = predicted + exp.segment.duration_ms / 1000.0
        if not candidates:
            lost = common.analysis.lost_fraction_between(predicted, nominal_end)
            if not required:
                if lost >= LOST_INCONCLUSIVE:
                    prev = None
                    continue  # a further cycle lost to packet loss: not needed, not a stop
                break  # the cadence stopped: allowed once the minimum was heard
            check = _missing(i, exp, predicted, lost, "segment_missing")
            if check.inconclusive:
                inconclusive.append(check.inconclusive)
            checks.append(check)
            failures.extend(check.failures)
            prev = None
            continue
        _, chosen, seg = min(candidates, key=lambda c: c[0])
        used.update(chosen)
        check = check_burst(i, exp, seg, profile, start)
        if cadence and nominal_end >= audio_end - END_CUT_S and seg.duration_ms < exp.segment.duration_ms:
            # Cut by the end of the recording, not played too short.
            check = replace(
                check, failures=tuple(f for f in check.failures if f.code != "duration_out_of_tolerance")
            )
        lost = max(
            common.analysis.lost_fraction_between(predicted, nominal_end),
            common.analysis.lost_fraction_between(seg.start_s, seg.end_s),
        )
        gap_fail = None
        if prev is not None and i > 0:
            before = cycle_burst(minimum, total_ms, i - 1) if cadence else minimum[i - 1]
            gap_fail = _gap_failure(i, before.segment.gap_ms, prev, seg, profile)
        check = replace(
            check, failures=check.failures + ((gap_fail,) if gap_fail else ()), lost_fraction=lost
        )
        if lost >= LOST_INCONCLUSIVE:
            # Most of this burst never arrived: what was measured cannot fail (or pass) it.
            unsure = _lost_packets(i, lost)
            check = replace(check, failures=(), inconclusive=unsure)
            if required:  # a further cadence cycle is not needed: its loss leaves the outcome alone
                inconclusive.append(unsure)
        checks.append(check)
        failures.extend(check.failures)
        prev = last_matched = seg
        if cadence:
            span_end = max(
                span_end, anchor + (exp.start_ms + exp.segment.duration_ms + exp.segment.gap_ms) / 1000.0
            )
    if cadence and last_matched is not None:
        checks, failures = _too_few_cycles(checks, failures, len(minimum))
    first_measured = next((c for c in checks if c.measured is not None), None)
    offset_ms = first_measured.start_offset_ms if first_measured is not None else None
    if first_measured is not None and first_measured.burst > 0 and offset_ms is not None:
        offset_ms -= cycle_burst(minimum, total_ms, first_measured.burst).start_ms
    max_delay = profile.tolerances.max_start_delay_ms
    if offset_ms is not None and max_delay is not None and not (-20.0 <= offset_ms <= max_delay):
        failures.append(
            Failure(
                "start_offset_out_of_tolerance",
                f"tone starts {offset_ms:.0f} ms after the call start (allowed 0–{max_delay:g} ms)",
            )
        )
    unmatched = tuple(s for n, s in enumerate(segments) if n not in used)
    failures += leftover_failures(
        profile,
        unmatched,
        span=(anchor, span_end),
        last_end_s=last_matched.end_s if last_matched is not None else None,
        call_start_s=start,
        audio_end_s=audio_end,
    )
    return common.result(
        failures=tuple(failures),
        bursts=tuple(checks),
        start_offset_ms=offset_ms,
        unmatched=unmatched,
        inconclusive=tuple(inconclusive),
        pattern=profile.pattern,
    )


def _too_few_cycles(
    checks: list[BurstCheck], failures: list[Failure], minimum: int
) -> tuple[list[BurstCheck], list[Failure]]:
    """A cadence whose required bursts stop before the minimum: the missing ones after the last burst
    heard are one ``too_few_cycles`` failure (their burst checks say ``too_few_cycles`` too), not a
    list of ``segment_missing``: the tone ended early, nothing was lost inside it."""
    last = max(c.burst for c in checks if c.measured is not None)
    short = [c for c in checks if c.burst > last and c.measured is None and c.inconclusive is None]
    if not short:
        return checks, failures
    ids = {c.burst for c in short}
    kept = [f for f in failures if not (f.code == "segment_missing" and f.burst in ids)]
    heard = sum(1 for c in checks if c.measured is not None)
    kept.append(
        Failure(
            "too_few_cycles",
            f"the cadence stops after {heard} burst(s), {len(short)} short of the profile's minimum of "
            f"{minimum}",
            short[0].burst,
        )
    )
    retagged = [
        replace(c, failures=tuple(replace(f, code="too_few_cycles") for f in c.failures))
        if c.burst in ids
        else c
        for c in checks
    ]
    return retagged, kept


def _lost_packets(burst: int, lost: float) -> Inconclusive:
    return Inconclusive(
        "lost_packets",
        f"burst {burst + 1}: {lost:.0%} of it was not received (packet loss); it cannot be verified",
        burst,
        lost,
    )


def validate_audio(
    samples: npt.ArrayLike,
    sample_rate: int,
    profile: Profile,
    *,
    lost: npt.ArrayLike | None = None,
    call_start_s: float | None = None,
    call_start_source: CallStartSource | None = None,
    reference_samples: npt.ArrayLike | None = None,
    reference_rate: int | None = None,
) -> ValidationResult:
    """Analyse mono float audio (full scale 1.0, any rate) and judge it against ``profile``.

    For the SIP agent: record from answer, then
    ``validate_audio(pcm16 / 32768, 8000, profile, call_start_s=0.0)``.
    A reference profile needs its recording's samples (``reference_samples``,
    ``reference_rate``); `validate_file` reads them for you.
    """
    source = call_start_source or ("user" if call_start_s is not None else "file-start")
    if isinstance(profile, ReferenceProfile):
        if reference_samples is None or reference_rate is None:
            raise ValueError("a reference profile needs reference_samples and reference_rate")
        return validate_reference(
            samples,
            sample_rate,
            profile,
            reference_samples,
            reference_rate,
            call_start_s=call_start_s,
            call_start_source=source,
        )
    analysis = analyse(samples, sample_rate, params=params_for(profile), lost=lost, call_start_s=None)
    return validate(analysis, profile, call_start_s=call_start_s, call_start_source=source)
