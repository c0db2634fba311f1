"""What a validation says: the verdict, each failure's machine code and sentence, each burst's numbers.

Kept apart from the matching (`validate`) and the checks (`bursts`, `pattern`, `reference_check`) so
that every one of them, and every reader of results (CLI, plot, probe), shares one definition.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from sipcheck.tones.analysis import Analysis, ToneSegment
from sipcheck.tones.reference import ReferenceMatch

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
    "no_clear_edges",
    "modulation_missing",
    "modulation_out_of_tolerance",
    "start_offset_out_of_tolerance",
    "unexpected_segment",
    "extra_burst",
    "pattern_repeated",
    "second_tone",
    "too_few_cycles",
    "cadence_broken",
    "reference_envelope_mismatch",
    "reference_spectrum_mismatch",
]
FAILURE_CODES: tuple[str, ...] = get_args(FailureCode)
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
    """Detected segments that are none of the expected bursts (the text report lists each)."""
    inconclusive: tuple[Inconclusive, ...] = ()
    pattern: str = "fixed"
    """The profile's pattern rule (`ParametricProfile.pattern`); reference profiles: ``"fixed"``."""

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
class Common:
    """What every result of one validation shares; `result` builds one."""

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
        pattern: str = "fixed",
    ) -> ValidationResult:
        return ValidationResult(
            pattern=pattern,
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
