"""Judge received audio against a reference-recording profile, with the same checks as a parametric one.

The correlations of `match_reference` say whether the received audio *sounds like* the recording,
but they are blind to gain and barely notice a tone 10 % long: on their own a copy 30 dB too quiet,
or one that plays too long, passes. So level, duration and start offset are checked separately, with
the profile's tolerances, each with the same failure code a parametric burst would get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy.typing as npt

from sipcheck.tones.profiles import ReferenceProfile
from sipcheck.tones.reference import match_reference

if TYPE_CHECKING:
    from sipcheck.tones.validate import CallStartSource, Failure, ValidationResult

START_EARLY_MS = 20.0
"""A tone may seem to start this much before the call start (edge measurement, jitter)."""


def validate_reference(
    samples: npt.ArrayLike,
    sample_rate: int,
    profile: ReferenceProfile,
    reference_samples: npt.ArrayLike,
    reference_rate: int,
    *,
    call_start_s: float | None,
    call_start_source: CallStartSource,
) -> ValidationResult:
    """Correlate, then check level (±``level_db`` of the recording's), duration of the active span,
    start offset of the tone itself (not of the reference file's leading silence) and spectrum."""
    from sipcheck.tones.validate import Failure, ValidationResult

    ref = match_reference(samples, sample_rate, reference_samples, reference_rate)
    start = call_start_s or 0.0
    tol = profile.tolerances
    fails: list[Failure] = []
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
    if tol.level_db is not None and abs(ref.gain_db) > tol.level_db:
        fails.append(
            Failure(
                "level_out_of_tolerance",
                f"level {ref.gain_db:+.1f} dB from the reference recording's (limit ±{tol.level_db:g} dB)",
            )
        )
    fails.extend(_duration_failures(ref.duration_ms, ref.reference_duration_ms, profile))
    offset_ms = (ref.tone_start_s - start) * 1000.0
    if tol.max_start_delay_ms is not None and not (-START_EARLY_MS <= offset_ms <= tol.max_start_delay_ms):
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
        call_start_source=call_start_source,
        start_offset_ms=offset_ms,
        reference=ref,
    )


def _duration_failures(measured_ms: float, nominal_ms: float, profile: ReferenceProfile) -> list[Failure]:
    from sipcheck.tones.validate import Failure

    limit = profile.tolerances.duration_threshold_ms(nominal_ms)
    error = measured_ms - nominal_ms
    if limit is None or abs(error) <= limit:
        return []
    return [
        Failure(
            "duration_out_of_tolerance",
            f"tone lasts {measured_ms:.0f} ms, the reference {nominal_ms:.0f} ms "
            f"({error:+.0f} ms, limit ±{limit:.0f} ms)",
        )
    ]
