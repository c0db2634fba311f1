"""The picture a test engineer looks at first: spectrogram, detected bursts, tolerance boxes.

matplotlib is an optional extra (``pip install sipcheck[plot]``); it is
imported only when a plot is asked for, and its absence is a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sipcheck.tones.analysis import ToneSegment
from sipcheck.tones.dsp import ANALYSIS_RATE, resample
from sipcheck.tones.profiles import ParametricProfile, Profile
from sipcheck.tones.validate import ValidationResult


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


OUTLINE_HZ = 90.0
"""Half-height of a detected segment's outline: wide enough (3 FFT bins each side) that the tone's
own line stays visible inside it."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailableError(
            "plotting needs matplotlib: install it with `pip install 'sipcheck[plot]'`"
        ) from exc
    return plt


def plot_validation(
    samples: npt.ArrayLike,
    sample_rate: int,
    profile: Profile,
    result: ValidationResult,
    path: str | Path,
) -> None:
    """Write a PNG: spectrogram (0–4 kHz), each detected segment outlined (green if its burst passed,
    red otherwise, grey if unmatched), and each expected burst's tolerance box (dashed: the allowed
    frequency band × nominal time span with the duration tolerance)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    x = resample(np.asarray(samples, dtype=np.float64), sample_rate, ANALYSIS_RATE)
    fig, ax = plt.subplots(figsize=(11, 5), dpi=100)
    if len(x) >= 256:
        with np.errstate(divide="ignore"):
            # Digital silence is -inf dB, which matplotlib draws as "bad" (white): show it as black.
            cmap = plt.get_cmap("magma").with_extremes(bad="black")
            ax.specgram(x, NFFT=256, Fs=ANALYSIS_RATE, noverlap=192, cmap=cmap, vmin=-150)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_ylim(0, ANALYSIS_RATE / 2)
    verdict = "PASS" if result.passed else "FAIL: " + ", ".join(sorted(set(result.failure_codes)))
    ax.set_title(f"{profile.id}: {verdict}", fontsize=10)

    def outline(seg: ToneSegment, colour: str, width: float) -> None:
        """Outline a detected segment at each of its frequencies."""
        for f in seg.frequencies_hz:
            ax.add_patch(
                Rectangle(
                    (seg.start_s, f - OUTLINE_HZ),
                    seg.end_s - seg.start_s,
                    2 * OUTLINE_HZ,
                    fill=False,
                    edgecolor=colour,
                    lw=width,
                )
            )

    ax.axvline(
        result.call_start_s, color="cyan", linestyle=":", label=f"call start ({result.call_start_source})"
    )
    if isinstance(profile, ParametricProfile):
        tol = profile.tolerances
        pct = tol.frequency_threshold_pct() / 100.0
        anchor = None
        for check in result.bursts:
            if check.measured is not None:
                anchor = check.measured.start_s - profile.expected()[check.burst].start_ms / 1000.0
                break
        for check in result.bursts:
            exp = profile.expected()[check.burst]
            if anchor is not None:
                t0 = anchor + exp.start_ms / 1000.0
                dur = exp.segment.duration_ms / 1000.0
                slack = tol.duration_threshold_ms(exp.segment.duration_ms) / 1000.0
                for f in check.expected_frequencies_hz:
                    ax.add_patch(
                        Rectangle(
                            (t0 - slack / 2, f * (1 - pct)),
                            dur + slack,
                            2 * f * pct,
                            fill=False,
                            edgecolor="white",
                            linestyle="--",
                            linewidth=1.0,
                        )
                    )
            seg = check.measured
            if seg is not None:
                colour = "lime" if not check.failures else "red"
                outline(seg, colour, 1.2)
    for seg in result.unmatched_segments:
        outline(seg, "grey", 1.0)
    if result.failures:
        ax.text(
            0.01,
            0.02,
            "\n".join(f.message for f in result.failures[:6]),
            transform=ax.transAxes,
            fontsize=7,
            color="white",
            va="bottom",
            bbox={"facecolor": "black", "alpha": 0.6},
        )
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))
    plt.close(fig)
