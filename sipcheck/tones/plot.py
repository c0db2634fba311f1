"""The picture a test engineer looks at first, and hands on: spectrogram, level envelope, tolerances.

Two panels over one time axis, fitted to the expected pattern plus margins:

* a spectrogram (0–4 kHz) in dBm0 per bin, with a colour bar from the profile's level −60 dB to
  a little above it (a pure tone reads its own level; G.711 quantisation noise sits near the
  bottom and stays dark), each detected burst outlined by how it fared, each expected burst's
  tolerance box (allowed frequency band × nominal span widened by the duration tolerance);
* the level envelope (broadband and at each of the profile's frequencies) with the level
  tolerance band of every expected burst.

Every kind of mark drawn has its legend entry; the title carries the verdict and its reasons.
`validation_figure` returns the matplotlib Figure (for inspection or embedding), `plot_validation`
writes it to a file and `plot_png_bytes` returns PNG bytes.

matplotlib is an optional extra (``pip install sipcheck[plot]``); it is
imported only when a plot is asked for, and its absence is a clear error.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sipcheck.tones.analysis import ToneSegment
from sipcheck.tones.dsp import ANALYSIS_RATE, resample
from sipcheck.tones.levels import DBM0_POWER, FloatArray
from sipcheck.tones.profiles import ParametricProfile, Profile, ReferenceProfile
from sipcheck.tones.validate import ValidationResult


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


OUTLINE_HZ = 90.0
"""Half-height of a detected segment's outline: wide enough (3 FFT bins each side) that the tone's
own line stays visible inside it."""
COLOUR_RANGE_DB = 60.0
"""The colour bar spans the profile's level minus this to the level plus `COLOUR_HEADROOM_DB`."""
COLOUR_HEADROOM_DB = 6.0
ENVELOPE_BAND_HZ = 100.0
"""Half-width of the band around each of the profile's frequencies whose level the envelope shows
(the main lobe of the 20 ms Hann window, so a tone a few per cent off still reads its level)."""
MIN_MARGIN_S = 0.25
MARGIN_FRACTION = 0.15
EDGE_PAD_FRACTION = 0.015
NO_AUDIO_COLOUR = "#3a3a3a"
"""Spectrogram background where there is no audio (before its start, after its end)."""
_SPEC_N, _SPEC_HOP = 256, 32  # 32 ms frames every 4 ms: 31 Hz bins
_ENV_N, _ENV_HOP = 160, 40  # 20 ms frames every 5 ms
_FLOOR = 1e-30

MARK_LABELS: dict[str, str] = {
    "burst-ok": "detected burst within tolerance",
    "burst-fail": "detected burst out of tolerance",
    "burst-unsure": "detected burst, too much lost to judge",
    "unmatched": "detected tone not part of the pattern",
    "expected": "expected burst: frequency band × duration tolerance",
    "expected-missing": "expected burst not found",
    "call-start": "call start",
    "reference": "reference recording's span",
    "level-band": "expected level ± tolerance",
    "duration-tolerance": "duration tolerance at each edge",
    "level-floor": "detection floor (quieter counts as absent)",
    "broadband": "broadband level",
}
"""Legend text for every kind of mark; each drawn artist carries ``gid = "mark:<kind>"``."""


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


def ensure_available() -> None:
    """Raise `PlotUnavailableError` now, before any work, when matplotlib is missing."""
    _pyplot()


@dataclass(frozen=True)
class ExpectedBox:
    """Where an expected burst belongs on the plot (seconds into the audio)."""

    burst: int
    start_s: float
    end_s: float
    slack_s: float
    """The duration tolerance: the box is widened by half of it on each side."""
    frequencies_hz: tuple[float, ...]
    levels_dbm0: tuple[float, ...]
    found: bool


@dataclass(frozen=True)
class PlotLayout:
    """What the plot shows, derived from the profile and the result (pure; no matplotlib)."""

    x_range: tuple[float, float]
    colour_range: tuple[float, float]
    reference_level_dbm0: float
    boxes: tuple[ExpectedBox, ...]
    pattern_span: tuple[float, float] | None
    verdict: str
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    summary: str = "every burst within tolerance"
    """What a pass means here (for a reference profile: how well it matched)."""


def _total_level(levels: tuple[float, ...] | list[float]) -> float:
    return 10.0 * math.log10(sum(10.0 ** (v / 10.0) for v in levels))


def _anchor(profile: ParametricProfile, result: ValidationResult) -> float:
    """Where the pattern's first burst starts: from the first measured burst, else the call start."""
    expected = profile.expected()
    for check in result.bursts:
        if check.measured is not None:
            return check.measured.start_s - expected[check.burst].start_ms / 1000.0
    return result.call_start_s


def expected_boxes(profile: ParametricProfile, result: ValidationResult) -> tuple[ExpectedBox, ...]:
    """Every expected burst placed on the audio's clock, as validation aligned it."""
    anchor = _anchor(profile, result)
    found = {c.burst for c in result.bursts if c.measured is not None}
    tol = profile.tolerances
    out: list[ExpectedBox] = []
    for i, exp in enumerate(profile.expected()):
        s = exp.segment
        t0 = anchor + exp.start_ms / 1000.0
        out.append(
            ExpectedBox(
                burst=i,
                start_s=t0,
                end_s=t0 + s.duration_ms / 1000.0,
                slack_s=tol.duration_threshold_ms(s.duration_ms) / 1000.0,
                frequencies_hz=tuple(c.frequency_hz for c in s.components),
                levels_dbm0=tuple(c.level_dbm0 for c in s.components),
                found=i in found,
            )
        )
    return tuple(out)


def reasons_of(result: ValidationResult) -> tuple[str, ...]:
    """The sentences that explain a verdict: failures, then what could not be judged."""
    return tuple(f.message for f in result.failures) + tuple(i.message for i in result.inconclusive)


def notes_of(result: ValidationResult) -> tuple[str, ...]:
    """What a tester should know beside the verdict: detected tones that are not part of the
    pattern (the validator did not judge them)."""
    n = len(result.unmatched_segments)
    if not n:
        return ()
    return (f"note: {n} detected tone{'s' if n > 1 else ''} not part of the pattern (not judged)",)


def layout(
    profile: Profile,
    result: ValidationResult,
    duration_s: float,
    *,
    reference_duration_s: float | None = None,
    reference_level_dbm0: float | None = None,
) -> PlotLayout:
    """Decide the time window, colour range and tolerance boxes of a plot.

    The window is the expected pattern (or the matched reference) plus margins, widened to show the
    call start and any detected tone within one pattern length of it (an extra beep must be seen),
    and clipped to the audio.
    """
    boxes: tuple[ExpectedBox, ...] = ()
    span: tuple[float, float] | None = None
    if isinstance(profile, ParametricProfile):
        boxes = expected_boxes(profile, result)
        span = (boxes[0].start_s - boxes[0].slack_s / 2, max(b.end_s + b.slack_s / 2 for b in boxes))
        level = max(_total_level(b.levels_dbm0) for b in boxes)
    else:
        if result.reference is not None and reference_duration_s is not None:
            start = result.reference.start_s
            span = (start, start + reference_duration_s)
        level = reference_level_dbm0 if reference_level_dbm0 is not None else -10.0
        if result.reference is not None and reference_level_dbm0 is not None:
            level += result.reference.gain_db
    if span is None:
        lo, hi = 0.0, duration_s
    else:
        width = span[1] - span[0]
        reach = max(width, 1.0)
        lo, hi = span
        lo = min(lo, result.call_start_s)
        for seg in _all_segments(result):
            if span[0] - reach <= seg.start_s <= span[1] + reach:
                lo, hi = min(lo, seg.start_s), max(hi, seg.end_s)
        margin = max(MIN_MARGIN_S, MARGIN_FRACTION * (hi - lo))
        lo, hi = max(lo - margin, min(0.0, result.call_start_s)), min(hi + margin, max(duration_s, span[1]))
    if hi <= lo:
        hi = lo + 1.0
    # A little room before the first instant, so that a mark on it (the call start) is not hidden
    # by the axis.
    lo -= EDGE_PAD_FRACTION * (hi - lo)
    verdict = result.outcome.upper()
    return PlotLayout(
        x_range=(lo, hi),
        colour_range=(level - COLOUR_RANGE_DB, level + COLOUR_HEADROOM_DB),
        reference_level_dbm0=level,
        boxes=boxes,
        pattern_span=span,
        verdict=verdict,
        reasons=reasons_of(result),
        notes=notes_of(result),
        summary=_summary(result),
    )


def _summary(result: ValidationResult) -> str:
    ref = result.reference
    if ref is None:
        return "every burst within tolerance"
    return (
        f"matches the reference: envelope r={ref.envelope_correlation:.3f}, "
        f"spectrum r={ref.spectrum_correlation:.3f}, gain {ref.gain_db:+.1f} dB"
    )


def _all_segments(result: ValidationResult) -> list[ToneSegment]:
    measured = [c.measured for c in result.bursts if c.measured is not None]
    return [*measured, *result.unmatched_segments]


def _frames(x: FloatArray, n: int, hop: int) -> tuple[FloatArray, FloatArray]:
    """Hann-windowed frames of ``x`` and each frame's centre (in samples)."""
    if len(x) < n:
        x = np.concatenate((x, np.zeros(n - len(x))))
    count = 1 + (len(x) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(count)[:, None]
    w = np.hanning(n)
    frames: FloatArray = x[idx] * w
    centres: FloatArray = (hop * np.arange(count) + n / 2.0).astype(np.float64)
    return frames, centres


def spectrogram_dbm0(x: FloatArray, rate: int = ANALYSIS_RATE) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(times s, frequencies Hz, level dBm0 [freq, time]): each bin scaled so that a steady sine's
    peak bin reads the sine's level."""
    frames, centres = _frames(x, _SPEC_N, _SPEC_HOP)
    w = np.hanning(_SPEC_N)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2 * 2.0 / float(np.sum(w)) ** 2
    db = 10.0 * np.log10(np.maximum(spec, _FLOOR) / DBM0_POWER)
    freqs: FloatArray = np.fft.rfftfreq(_SPEC_N, 1.0 / rate).astype(np.float64)
    return centres / rate, freqs, db.T


def envelope_dbm0(
    x: FloatArray, frequencies_hz: tuple[float, ...], rate: int = ANALYSIS_RATE, *, smooth_s: float = 0.0
) -> tuple[FloatArray, FloatArray, dict[float, FloatArray]]:
    """(times s, broadband level dBm0, level within ±`ENVELOPE_BAND_HZ` of each frequency) in 20 ms
    frames every 5 ms (Parseval-scaled: a sine inside the band reads its level). ``smooth_s``
    averages the power over that long (one modulation period: a modulated tone's level is its
    mean power)."""
    frames, centres = _frames(x, _ENV_N, _ENV_HOP)
    w = np.hanning(_ENV_N)
    sum_w2 = float(np.sum(w**2))
    width = max(1, round(smooth_s * rate / _ENV_HOP))

    def smooth(power: FloatArray) -> FloatArray:
        if width == 1:
            return power
        out: FloatArray = np.convolve(power, np.ones(width) / width, mode="same")
        return out

    broadband = smooth(np.sum(frames**2, axis=1) / sum_w2)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(_ENV_N, 1.0 / rate)
    bands: dict[float, FloatArray] = {}
    for f in frequencies_hz:
        sel = np.abs(freqs - f) <= ENVELOPE_BAND_HZ
        power = smooth(2.0 * np.sum(spec[:, sel], axis=1) / (_ENV_N * sum_w2))
        bands[f] = 10.0 * np.log10(np.maximum(power, _FLOOR) / DBM0_POWER)
    bb: FloatArray = 10.0 * np.log10(np.maximum(broadband, _FLOOR) / DBM0_POWER)
    return centres / rate, bb, bands


def _reference_facts(profile: Profile) -> tuple[float | None, float | None]:
    """A reference recording's duration and loudest 20 ms level, when it can be read."""
    if not isinstance(profile, ReferenceProfile):
        return None, None
    from sipcheck.tones.audiofile import read_audio  # the recording is a file
    from sipcheck.tones.errors import AudioFormatError

    try:
        ref = read_audio(profile.recording, fmt="wav")
    except (AudioFormatError, OSError):
        return None, None
    x = resample(ref.samples, ref.sample_rate, ANALYSIS_RATE)
    _, bb, _ = envelope_dbm0(x, ())
    return len(x) / ANALYSIS_RATE, float(np.max(bb)) if len(bb) else None


def _title(profile: Profile, lay: PlotLayout, source: str | None, max_reasons: int = 4) -> str:
    head = f"{lay.verdict}  {profile.id}" + (f"  ·  {source}" if source else "")
    if lay.verdict == "PASS":
        return "\n".join([head, lay.summary, *lay.notes])
    lines = [r if len(r) <= 120 else r[:117] + "..." for r in lay.reasons[:max_reasons]]
    if len(lay.reasons) > max_reasons:
        lines.append(f"... and {len(lay.reasons) - max_reasons} more")
    return "\n".join([head, *lines, *lay.notes])


VERDICT_COLOURS = {"PASS": "#1a7f37", "FAIL": "#c62828", "INCONCLUSIVE": "#b26a00"}
_BAND_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#2ca02c", "#8c564b", "#e377c2")


def validation_figure(
    samples: npt.ArrayLike,
    sample_rate: int,
    profile: Profile,
    result: ValidationResult,
    *,
    source: str | None = None,
) -> Any:
    """The plot as a matplotlib Figure (not shown, not saved; close it with ``plt.close(fig)``).

    ``source`` (e.g. the file name) goes into the title beside the verdict.
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    x = resample(np.asarray(samples, dtype=np.float64), sample_rate, ANALYSIS_RATE)
    duration = len(x) / ANALYSIS_RATE
    ref_duration, ref_level = _reference_facts(profile)
    lay = layout(profile, result, duration, reference_duration_s=ref_duration, reference_level_dbm0=ref_level)
    lo, hi = lay.x_range
    vmin, vmax = lay.colour_range
    # Analyse only what is shown (plus a frame either side): long recordings stay cheap.
    first = max(0, math.floor(lo * ANALYSIS_RATE) - _SPEC_N)
    last = min(len(x), math.ceil(hi * ANALYSIS_RATE) + _SPEC_N)
    shown = x[first:last] if last > first else np.zeros(_SPEC_N)
    offset = first / ANALYSIS_RATE
    # Frames centred on the first and last samples: the picture covers the audio edge to edge.
    pad = _SPEC_N // 2
    padded = np.concatenate((np.zeros(pad), shown, np.zeros(pad)))

    # Placed by hand once the title and legend are known (`_place`): constrained layout would
    # draw the figure twice and take most of the time a report spends per file.
    fig = plt.figure(figsize=(FIG_W_IN, FIG_H_IN), dpi=100)
    ax = fig.add_axes((0.07, 0.45, 0.83, 0.45))
    ax_env = fig.add_axes((0.07, 0.1, 0.83, 0.3), sharex=ax)
    cax = fig.add_axes((0.915, 0.45, 0.012, 0.45))
    handles: dict[str, Any] = {}
    labels = dict(MARK_LABELS)

    def mark(kind: str, artist: Any, proxy: Any) -> None:
        artist.set_gid(f"mark:{kind}")
        handles.setdefault(kind, proxy)

    times, freqs, db = spectrogram_dbm0(padded)
    times = times + offset - pad / ANALYSIS_RATE
    ax.set_facecolor(NO_AUDIO_COLOUR)
    dt = _SPEC_HOP / ANALYSIS_RATE
    df = freqs[1] - freqs[0]
    image = ax.imshow(
        np.clip(db, vmin, None),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(times[0] - dt / 2, times[-1] + dt / 2, -df / 2, freqs[-1] + df / 2),
        cmap="magma",
        vmin=vmin,
        vmax=vmax,
    )
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("level per 31 Hz bin (dBm0)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_ylim(0, ANALYSIS_RATE / 2)
    ax.set_xlim(lo, hi)
    ax.tick_params(labelbottom=False)

    def outline(seg: ToneSegment, kind: str, colour: str, style: Any) -> None:
        for f in seg.frequencies_hz:
            r = Rectangle(
                (seg.start_s, f - OUTLINE_HZ),
                seg.end_s - seg.start_s,
                2 * OUTLINE_HZ,
                fill=False,
                edgecolor=colour,
                linestyle=style,
                lw=1.6,
            )
            ax.add_patch(r)
            mark(kind, r, Patch(fill=False, edgecolor=colour, linestyle=style, lw=1.6))

    line = ax.axvline(result.call_start_s, color="white", linestyle=":", lw=1.2)
    mark("call-start", line, Line2D([], [], color="black", linestyle=":", lw=1.2))
    handles["call-start"].set_label(f"call start ({result.call_start_source})")
    band_frequencies: tuple[float, ...] = ()
    if isinstance(profile, ParametricProfile):
        pct = profile.tolerances.frequency_threshold_pct() / 100.0
        for box in lay.boxes:
            kind, colour = ("expected", "white") if box.found else ("expected-missing", "#ff5252")
            for f in box.frequencies_hz:
                r = Rectangle(
                    (box.start_s - box.slack_s / 2, f * (1 - pct)),
                    box.end_s - box.start_s + box.slack_s,
                    2 * f * pct,
                    fill=False,
                    edgecolor=colour,
                    linestyle="--",
                    linewidth=1.3,
                )
                ax.add_patch(r)
                proxy_colour = "grey" if colour == "white" else colour
                mark(kind, r, Patch(fill=False, edgecolor=proxy_colour, linestyle="--"))
        for check in result.bursts:
            if check.measured is None:
                continue
            if check.inconclusive is not None:
                outline(check.measured, "burst-unsure", "orange", "-")
            elif check.failures:
                outline(check.measured, "burst-fail", "red", "-")
            else:
                outline(check.measured, "burst-ok", "lime", "-")
        band_frequencies = tuple(sorted({f for b in lay.boxes for f in b.frequencies_hz}))
    elif lay.pattern_span is not None:
        span = ax.axvspan(*lay.pattern_span, fill=False, edgecolor="white", linestyle="--", lw=1.0)
        mark("reference", span, Patch(fill=False, edgecolor="grey", linestyle="--"))
    for seg in result.unmatched_segments:
        if seg.end_s >= lo and seg.start_s <= hi:
            outline(seg, "unmatched", "#40c4ff", "-.")

    # The envelope panel.
    modulations = (
        [s.modulation.frequency_hz for s in profile.segments if s.modulation is not None]
        if isinstance(profile, ParametricProfile)
        else []
    )
    smooth_s = 1.0 / min(modulations) if modulations else 0.0
    env_pad = _ENV_N // 2
    env_t, broadband, bands = envelope_dbm0(
        np.concatenate((np.zeros(env_pad), shown, np.zeros(env_pad))), band_frequencies, smooth_s=smooth_s
    )
    env_t = env_t + offset - env_pad / ANALYSIS_RATE
    # Below the panel's range (digital silence is -300 dBm0) is drawn along its floor.
    bottom = vmin + 0.5
    (bb_line,) = ax_env.plot(env_t, np.maximum(broadband, bottom), color="0.55", lw=1.0)
    mark("broadband", bb_line, Line2D([], [], color="0.55", lw=1.0))
    band_colour = {f: _BAND_COLOURS[i % len(_BAND_COLOURS)] for i, f in enumerate(band_frequencies)}
    for f, level in bands.items():
        (band_line,) = ax_env.plot(env_t, np.maximum(level, bottom), color=band_colour[f], lw=1.3)
        kind = f"band-{f:g}"
        labels[kind] = f"level at {f:g} Hz (±{ENVELOPE_BAND_HZ:g} Hz)" + (
            f", mean over {smooth_s * 1000:.0f} ms (modulation)" if smooth_s else ""
        )
        mark(kind, band_line, Line2D([], [], color=band_colour[f], lw=1.3))
    if isinstance(profile, ParametricProfile):
        tol_db = profile.tolerances.level_db
        for box in lay.boxes:
            for f, nominal in zip(box.frequencies_hz, box.levels_dbm0, strict=True):
                if tol_db is not None:
                    r = Rectangle(
                        (box.start_s, nominal - tol_db),
                        box.end_s - box.start_s,
                        2 * tol_db,
                        facecolor=band_colour[f],
                        alpha=0.18,
                        edgecolor="none",
                    )
                    ax_env.add_patch(r)
                    first_colour = band_colour[band_frequencies[0]]
                    mark("level-band", r, Patch(facecolor=first_colour, alpha=0.18))
                # The duration tolerance at each edge, as on the spectrogram.
                for edge in (box.start_s, box.end_s):
                    s = ax_env.axvspan(
                        edge - box.slack_s / 2, edge + box.slack_s / 2, color="0.85", alpha=0.5, lw=0
                    )
                    mark("duration-tolerance", s, Patch(facecolor="0.85", alpha=0.5))
        floor = ax_env.axhline(profile.tolerances.min_level_dbm0, color="0.3", linestyle=":", lw=1.0)
        mark("level-floor", floor, Line2D([], [], color="0.3", linestyle=":", lw=1.0))
    ax_env.set_ylim(vmin, vmax + 4.0)
    ax_env.set_ylabel("level (dBm0)")
    ax_env.set_xlabel("time from the start of the audio (s)")
    ax_env.grid(True, color="0.9", lw=0.6)
    ax_env.set_xlim(lo, hi)

    order = [k for k in labels if k in handles]
    legend_handles = []
    for kind in order:
        h = handles[kind]
        if kind != "call-start":
            h.set_label(labels[kind])
        legend_handles.append(h)
    title = _title(profile, lay, source)
    _place(fig, ax, ax_env, cax, title_lines=title.count("\n") + 1, legend_rows=-(-len(legend_handles) // 3))
    fig.legend(
        handles=legend_handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.005),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        title,
        fontsize=10,
        color=VERDICT_COLOURS.get(lay.verdict, "black"),
        ha="left",
        va="top",
        x=0.01,
        y=1.0 - 0.06 / FIG_H_IN,
    )
    return fig


FIG_W_IN, FIG_H_IN = 12.0, 8.0
_LINE_IN = 0.175  # one 10 pt title line; legend rows are 8 pt


def _place(fig: Any, ax: Any, ax_env: Any, cax: Any, *, title_lines: int, legend_rows: int) -> None:
    """Lay the panels out between the title (top) and the legend (bottom), in inches."""
    top = 0.12 + title_lines * _LINE_IN + 0.08
    bottom = 0.12 + legend_rows * 0.17 + 0.5  # legend, then the time axis' ticks and label
    gap = 0.12
    left, right = 0.75, 1.05  # the y labels; the colour bar and its label
    height = FIG_H_IN - top - bottom - gap
    spec_h, env_h = height * 3 / 4.7, height * 1.7 / 4.7
    width = FIG_W_IN - left - right

    def rect(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x / FIG_W_IN, y / FIG_H_IN, w / FIG_W_IN, h / FIG_H_IN)

    ax_env.set_position(rect(left, bottom, width, env_h))
    ax.set_position(rect(left, bottom + env_h + gap, width, spec_h))
    cax.set_position(rect(left + width + 0.15, bottom + env_h + gap, 0.15, spec_h))


def plot_validation(
    samples: npt.ArrayLike,
    sample_rate: int,
    profile: Profile,
    result: ValidationResult,
    path: str | Path,
    *,
    source: str | None = None,
) -> None:
    """Write the plot (`validation_figure`) to ``path`` (PNG unless the suffix says otherwise)."""
    plt = _pyplot()
    fig = validation_figure(samples, sample_rate, profile, result, source=source)
    try:
        fig.savefig(str(path))
    finally:
        plt.close(fig)


def plot_png_bytes(
    samples: npt.ArrayLike,
    sample_rate: int,
    profile: Profile,
    result: ValidationResult,
    *,
    source: str | None = None,
    dpi: int = 80,
) -> bytes:
    """The plot as PNG bytes (for embedding in a report)."""
    plt = _pyplot()
    fig = validation_figure(samples, sample_rate, profile, result, source=source)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()
