"""Compare what was measured with what a profile promises, and say why it fails.

Matching: the first detected segment resembling the profile's first burst
(every component within ±10 %, loose on purpose so that a tone 5 % off is
*found* and then failed for its frequency, not reported missing) anchors the
pattern; every other expected burst is looked for near its predicted start.
Each matched burst is then checked against the profile's tolerances. Every
failure carries a stable machine code (`FAILURE_CODES`) and a sentence.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

import numpy.typing as npt

from sipcheck.tones.analysis import Analysis, AnalysisParams, ToneSegment, analyse
from sipcheck.tones.profiles import ExpectedSegment, ParametricProfile, Profile, ReferenceProfile
from sipcheck.tones.reference import ReferenceMatch, match_reference

FailureCode = Literal[
    "tone_not_found",
    "segment_missing",
    "component_count_mismatch",
    "frequency_out_of_tolerance",
    "frequency_unstable",
    "duration_out_of_tolerance",
    "gap_out_of_tolerance",
    "level_out_of_tolerance",
    "tone_to_rest_too_low",
    "modulation_missing",
    "modulation_out_of_tolerance",
    "start_offset_out_of_tolerance",
    "unexpected_segment",
    "reference_envelope_mismatch",
    "reference_spectrum_mismatch",
]
FAILURE_CODES: tuple[str, ...] = get_args(FailureCode)
PAIRING_PCT = 10.0
MAX_ANCHORS = 16
CallStartSource = Literal["sip-200-ok", "user", "file-start"]
InconclusiveCode = Literal["lost_packets"]
INCONCLUSIVE_CODES: tuple[str, ...] = get_args(InconclusiveCode)
Outcome = Literal["pass", "fail", "inconclusive"]
LOST_INCONCLUSIVE = 0.5
"""An expected burst whose span (nominal or as measured) is at least this much lost audio cannot be
verified either way: it makes the result inconclusive instead of failing or passing it."""


@dataclass(frozen=True)
class Failure:
    """Why a validation failed. ``burst`` is the expected burst (play order, from 0) it concerns."""

    code: FailureCode
    message: str
    burst: int | None = None


@dataclass(frozen=True)
class Inconclusive:
    """Why part of the tone could not be judged. ``lost_fraction``: share of the burst's span that was
    not received (``lost_packets``)."""

    code: InconclusiveCode
    message: str
    burst: int | None = None
    lost_fraction: float = 0.0


@dataclass(frozen=True)
class BurstCheck:
    """One expected burst, what was measured for it, and how that compares."""

    burst: int
    segment_index: int
    expected_frequencies_hz: tuple[float, ...]
    expected_duration_ms: float
    expected_levels_dbm0: tuple[float, ...]
    measured: ToneSegment | None
    frequency_errors_pct: tuple[float, ...] = ()
    duration_error_ms: float | None = None
    start_offset_ms: float | None = None
    """Start relative to the call start."""
    failures: tuple[Failure, ...] = ()
    lost_fraction: float = 0.0
    """Share of the burst's span (nominal or measured, whichever is longer) not received."""
    inconclusive: Inconclusive | None = None


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on a received tone.

    ``outcome`` is ``"fail"`` when anything that was received contradicts the profile (``failures``),
    else ``"inconclusive"`` when a burst could not be verified because its audio was lost
    (``inconclusive``, e.g. ``lost_packets``: re-run the call), else ``"pass"``. ``passed`` is True
    only for ``"pass"``.
    """

    profile_id: str
    passed: bool
    failures: tuple[Failure, ...]
    bursts: tuple[BurstCheck, ...] = ()
    call_start_s: float = 0.0
    call_start_source: CallStartSource = "file-start"
    start_offset_ms: float | None = None
    analysis: Analysis | None = None
    reference: ReferenceMatch | None = None
    unmatched_segments: tuple[ToneSegment, ...] = field(default=())
    inconclusive: tuple[Inconclusive, ...] = ()

    @property
    def failure_codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.failures)

    @property
    def outcome(self) -> Outcome:
        if self.failures:
            return "fail"
        return "inconclusive" if self.inconclusive else "pass"

    @property
    def inconclusive_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.inconclusive)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json``)."""
        out = asdict(self)
        out["failure_codes"] = list(self.failure_codes)
        out["outcome"] = self.outcome
        out["inconclusive_codes"] = list(self.inconclusive_codes)
        cleaned: dict[str, Any] = _finite(out)
        return cleaned


@dataclass(frozen=True)
class _Common:
    profile_id: str
    call_start_s: float
    call_start_source: CallStartSource
    analysis: Analysis

    def result(
        self,
        *,
        failures: tuple[Failure, ...],
        bursts: tuple[BurstCheck, ...] = (),
        start_offset_ms: float | None = None,
        unmatched: tuple[ToneSegment, ...] = (),
        inconclusive: tuple[Inconclusive, ...] = (),
    ) -> ValidationResult:
        return ValidationResult(
            profile_id=self.profile_id,
            passed=not failures and not inconclusive,
            inconclusive=inconclusive,
            failures=failures,
            bursts=bursts,
            call_start_s=self.call_start_s,
            call_start_source=self.call_start_source,
            start_offset_ms=start_offset_ms,
            analysis=self.analysis,
            unmatched_segments=unmatched,
        )


def _finite(value: Any) -> Any:
    """JSON has no inf/nan: turn them into None. Tone segments also get their ``duration_ms``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        if "start_s" in value and "end_s" in value and "frequencies_hz" in value:
            value = {**value, "duration_ms": (value["end_s"] - value["start_s"]) * 1000.0}
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def params_for(profile: ParametricProfile) -> AnalysisParams:
    """Detector settings a profile implies: its component count, and a bridge for lost packets
    shorter than half of any gap between like bursts (at most 60 ms)."""
    exp = profile.expected()
    gaps = [
        e.segment.gap_ms
        for e, nxt in itertools.pairwise(exp)
        if _same_components(e.segment.components, nxt.segment.components)
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


def _same_components(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        abs(x.frequency_hz - y.frequency_hz) <= 0.01 * x.frequency_hz for x, y in zip(a, b, strict=True)
    )


def _pct(measured: float, nominal: float) -> float:
    return (measured - nominal) / nominal * 100.0


def _resembles(seg: ToneSegment, exp: ExpectedSegment) -> bool:
    return all(
        any(abs(_pct(f, c.frequency_hz)) <= PAIRING_PCT for f in seg.frequencies_hz)
        for c in exp.segment.components
    )


def _limits(short: float, long: float) -> str:
    """ "±20 ms", or "-20/+40 ms" when inferred concealment widened one side."""
    if round(short) == round(long):
        return f"±{long:.0f} ms"
    return f"-{short:.0f}/+{long:.0f} ms"


def _level_fits(seg: ToneSegment, exp: ExpectedSegment, profile: ParametricProfile) -> bool:
    """Whether a segment is as loud as burst ``exp`` (within the level tolerance; always, when levels
    are not checked): an extra beep of the pattern is, a vowel's harmonic near the tone in babble is
    not."""
    tol = profile.tolerances.level_db
    if tol is None:
        return True
    expected = 10.0 * math.log10(sum(10.0 ** (c.level_dbm0 / 10.0) for c in exp.segment.components))
    return abs(seg.level_dbm0 - expected) <= tol


def _describe(seg: ToneSegment) -> str:
    freqs = "+".join(f"{f:.1f}" for f in seg.frequencies_hz)
    return f"{freqs} Hz for {seg.duration_ms:.0f} ms at {seg.start_s:.3f} s"


def _check_burst(
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
        err = _pct(seg.frequencies_hz[k], comp.frequency_hz)
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
                f"({dur_err:+.0f} ms, limit {_limits(short, long)})",
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
    if s.modulation is not None:
        if seg.modulation_hz is None:
            fails.append(
                Failure(
                    "modulation_missing", f"{label}: no {s.modulation.frequency_hz:g} Hz modulation found", i
                )
            )
        elif abs(_pct(seg.modulation_hz, s.modulation.frequency_hz)) > tol.modulation_pct:
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
    common = _Common(profile.id, start, source, analysis)
    anchors: list[float] = []
    for exp in expected:
        for seg in segments:
            if seg.start_s >= start - 0.5 and _resembles(seg, exp):
                a = seg.start_s - exp.start_ms / 1000.0
                if all(abs(a - b) > 0.01 for b in anchors):
                    anchors.append(a)
    if not anchors:
        want = " / ".join(
            "+".join(f"{c.frequency_hz:g}" for c in e.segment.components) + " Hz"
            for e in expected[: len(profile.segments)]
        )
        found = "; found " + ", ".join(_describe(s) for s in segments[:5]) if segments else "; no tone at all"
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
            r.failure_codes.count("segment_missing") + len(r.inconclusive),
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
        if n in used or not _resembles(seg, exp):
            continue
        out.append(((n,), seg))
        members = [n]
        while True:
            last = segments[members[-1]]
            k = members[-1] + 1
            if k >= len(segments) or k in used or not _resembles(segments[k], exp):
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


def _judge(
    anchor: float, segments: list[ToneSegment], profile: ParametricProfile, start: float, common: _Common
) -> ValidationResult:
    """Match and check every expected burst assuming the pattern starts at ``anchor``."""
    expected = profile.expected()
    used: set[int] = set()
    checks: list[BurstCheck] = []
    failures: list[Failure] = []
    inconclusive: list[Inconclusive] = []
    prev: ToneSegment | None = None
    for i, exp in enumerate(expected):
        predicted = anchor + exp.start_ms / 1000.0
        window = max(0.15, exp.segment.duration_ms / 2000.0)
        candidates = [
            (abs(seg.start_s - predicted) + abs(seg.duration_ms - exp.segment.duration_ms) / 1000.0, ns, seg)
            for ns, seg in _candidates(segments, used, exp)
            if abs(seg.start_s - predicted) <= window
        ]
        nominal_end = predicted + exp.segment.duration_ms / 1000.0
        if not candidates:
            comps = "+".join(f"{c.frequency_hz:g}" for c in exp.segment.components)
            lost = common.analysis.lost_fraction_between(predicted, nominal_end)
            failure = Failure(
                "segment_missing", f"burst {i + 1}: no {comps} Hz tone near {predicted:.3f} s", i
            )
            unsure = _lost_packets(i, lost) if lost >= LOST_INCONCLUSIVE else None
            checks.append(
                BurstCheck(
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
            )
            if unsure:
                inconclusive.append(unsure)
            else:
                failures.append(failure)
            prev = None
            continue
        _, chosen, seg = min(candidates, key=lambda c: c[0])
        used.update(chosen)
        check = _check_burst(i, exp, seg, profile, start)
        lost = max(
            common.analysis.lost_fraction_between(predicted, nominal_end),
            common.analysis.lost_fraction_between(seg.start_s, seg.end_s),
        )
        extra: list[Failure] = []
        if prev is not None and i > 0:
            nominal_gap = expected[i - 1].segment.gap_ms
            gap = (seg.start_s - prev.end_s) * 1000.0
            base = (
                profile.tolerances.duration_threshold_ms(nominal_gap)
                + prev.edge_loss_ms[1]
                + seg.edge_loss_ms[0]
            )
            # An extended end before the gap shortens it; a delayed start after it lengthens it.
            short, long = base + prev.edge_repeat_ms[1], base + seg.edge_repeat_ms[0]
            if not -short <= gap - nominal_gap <= long:
                extra.append(
                    Failure(
                        "gap_out_of_tolerance",
                        f"burst {i + 1}: preceded by a {gap:.0f} ms gap, expected {nominal_gap:g} ms "
                        f"(limit {_limits(short, long)})",
                        i,
                    )
                )
        check = replace(check, failures=check.failures + tuple(extra), lost_fraction=lost)
        if lost >= LOST_INCONCLUSIVE:
            # Most of this burst never arrived: what was measured cannot fail (or pass) it.
            check = replace(check, failures=(), inconclusive=_lost_packets(i, lost))
            inconclusive.append(_lost_packets(i, lost))
        checks.append(check)
        failures.extend(check.failures)
        prev = seg
    first_measured = next((c for c in checks if c.measured is not None), None)
    offset_ms = first_measured.start_offset_ms if first_measured is not None else None
    if first_measured is not None and first_measured.burst > 0 and offset_ms is not None:
        offset_ms -= expected[first_measured.burst].start_ms
    max_delay = profile.tolerances.max_start_delay_ms
    if offset_ms is not None and max_delay is not None and not (-20.0 <= offset_ms <= max_delay):
        failures.append(
            Failure(
                "start_offset_out_of_tolerance",
                f"tone starts {offset_ms:.0f} ms after the call start (allowed 0–{max_delay:g} ms)",
            )
        )
    span_end = anchor + profile.total_ms() / 1000.0
    shortest = min(e.segment.duration_ms for e in expected)
    unmatched = tuple(s for n, s in enumerate(segments) if n not in used)
    for s in unmatched:
        if (
            anchor <= s.start_s < span_end
            and any(_resembles(s, e) and _level_fits(s, e, profile) for e in expected)
            and s.edge_loss_ms == (0.0, 0.0)
            and s.edge_repeat_ms == (0.0, 0.0)
            and s.duration_ms >= min(40.0, shortest / 2)
            and s.tone_to_rest_db >= profile.tolerances.min_tone_to_rest_db
            and s.tone_dominance_db >= profile.tolerances.min_tone_dominance_db
            # A steady tone, not speech near the tone's pitch: it would fail ``frequency_unstable``.
            and s.frequency_drift_pct <= profile.tolerances.frequency_pct
        ):
            failures.append(
                Failure("unexpected_segment", f"unexpected tone {_describe(s)} inside the pattern")
            )
    return common.result(
        failures=tuple(failures),
        bursts=tuple(checks),
        start_offset_ms=offset_ms,
        unmatched=unmatched,
        inconclusive=tuple(inconclusive),
    )


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
    if isinstance(profile, ReferenceProfile):
        if reference_samples is None or reference_rate is None:
            raise ValueError("a reference profile needs reference_samples and reference_rate")
        ref = match_reference(samples, sample_rate, reference_samples, reference_rate)
        start = call_start_s or 0.0
        fails: list[Failure] = []
        tol = profile.tolerances
        if ref.envelope_correlation < tol.min_envelope_correlation:
            fails.append(
                Failure(
                    "reference_envelope_mismatch",
                    f"envelope correlation {ref.envelope_correlation:.3f} with the reference "
                    f"(minimum {tol.min_envelope_correlation:g})",
                )
            )
        if ref.spectrum_correlation < tol.min_spectrum_correlation:
            fails.append(
                Failure(
                    "reference_spectrum_mismatch",
                    f"spectrum correlation {ref.spectrum_correlation:.3f} with the reference "
                    f"(minimum {tol.min_spectrum_correlation:g})",
                )
            )
        offset_ms = (ref.start_s - start) * 1000.0
        if tol.max_start_delay_ms is not None and not (-20.0 <= offset_ms <= tol.max_start_delay_ms):
            fails.append(
                Failure(
                    "start_offset_out_of_tolerance",
                    f"tone starts {offset_ms:.0f} ms after the call start "
                    f"(allowed 0–{tol.max_start_delay_ms:g} ms)",
                )
            )
        return ValidationResult(
            profile_id=profile.id,
            passed=not fails,
            failures=tuple(fails),
            call_start_s=start,
            call_start_source=call_start_source or ("user" if call_start_s is not None else "file-start"),
            start_offset_ms=offset_ms,
            reference=ref,
        )
    analysis = analyse(samples, sample_rate, params=params_for(profile), lost=lost, call_start_s=None)
    return validate(
        analysis,
        profile,
        call_start_s=call_start_s,
        call_start_source=call_start_source or ("user" if call_start_s is not None else "file-start"),
    )
