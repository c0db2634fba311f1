"""Find tone segments in audio and measure them.

Two stages, because one window cannot do both jobs:

1. **Timing** with short blocks (20 ms Hann, 10 ms hop, at 8 kHz). A block is
   *tonal* when its strongest 1–3 spectral peaks (±2 bins, the Hann main lobe)
   hold enough of the block's power and are loud enough. Consecutive tonal
   blocks whose peaks stay within one bin form a run; runs separated by a
   short hole with the same peaks are bridged (packet loss).
2. **Measurement** per run. Edges: complex demodulation at each component's
   frequency, a 5 ms moving average, and the half-amplitude crossing, which
   the renderer places exactly on the nominal edges. Frequencies, levels and
   tone-to-rest ratio: a Welch power spectrum over the segment's interior
   (64 ms Hann frames, 8× zero padding) with parabolic interpolation of the
   log-power peak, precise to a fraction of a hertz where 20 ms blocks would
   be ±25 Hz. Frequency drift compares the two halves (sweeps and speech drift;
   tones do not). Amplitude modulation is read from the demodulated envelope.
3. **Edges again** for bursts near a wanted frequency, now that it is known
   precisely: a narrowband (±100 Hz) envelope projected on the tone's own phase,
   which speech next to the tone does not stretch or cut (see `_refine_edges`).
   Pieces of one burst that now overlap are merged. Without a loss map, edges
   are checked for the traces of concealment by frame repetition
   (`sipcheck.tones.concealment`).

Everything here is pure: arrays in, frozen dataclasses out.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from sipcheck.tones.concealment import FRAME, REACH, repeat_mask, repeated_copies, repeated_cut_ms
from sipcheck.tones.dsp import ANALYSIS_RATE, resample
from sipcheck.tones.levels import DBM0_POWER, FloatArray, power_to_dbm0
from sipcheck.tones.shape import edge_contrast_db

BoolArray = npt.NDArray[np.bool_]
_BLOCK = 160  # 20 ms
_HOP = 80  # 10 ms
_LO_BIN, _HI_BIN = 2, 76  # 100 Hz .. 3800 Hz in 50 Hz bins
_CHUNK_BLOCKS = 6000  # one minute per FFT batch keeps memory flat
_EXTRA_COMPONENT_DB = 15.0  # peaks further below the strongest are not components
_EDGE_AVG = 40  # 5 ms moving average for edge envelopes
_WELCH = 512  # 64 ms frames for frequency and level


@dataclass(frozen=True)
class AnalysisParams:
    """Knobs of the detector. The validator derives ``max_components`` and ``bridge_ms`` from the profile."""

    max_components: int = 1
    min_block_ratio_db: float = 3.0
    """Candidate blocks: tone peaks over the rest of the block. Low on purpose (works to ~5 dB SNR);
    the profile's tone-to-rest minimum is applied later, over the whole segment."""
    min_level_dbm0: float = -50.0
    min_duration_ms: float = 30.0
    min_run_ratio_db: float = 4.0
    """A run is measured only if its median block ratio reaches this: cheap talk-off rejection."""
    bridge_ms: float = 10.0
    """Merge runs of the same tone separated by a hole up to this long (lost packets)."""
    target_hz: tuple[float, ...] = ()
    """The frequencies being looked for (the validator passes the profile's). A block whose strongest
    peak lies within ±10 % of one is also tonal when that peak stands ``min_block_dominance_db`` above
    every other 250 Hz band of the block: narrowband segmentation, which loud speech far from the
    tone's frequency (babble under a beep) does not break. Empty: broadband criterion only."""
    min_block_dominance_db: float = 6.0
    min_run_dominance_db: float = 8.0
    """A run found through ``target_hz`` is measured only if its median block dominance reaches this."""


@dataclass(frozen=True)
class ToneSegment:
    """One detected tone burst. Times are seconds from the start of the audio."""

    start_s: float
    end_s: float
    frequencies_hz: tuple[float, ...]
    component_levels_dbm0: tuple[float, ...]
    level_dbm0: float
    tone_to_rest_db: float
    """Broadband: the components' power over everything else in the burst's interior (0–4 kHz)."""
    frequency_drift_pct: float
    modulation_hz: float | None = None
    modulation_depth: float | None = None
    edge_loss_ms: tuple[float, float] = (0.0, 0.0)
    """Lost (concealed or silence-filled) audio near the start and end edges: their timing is uncertain."""
    tone_dominance_db: float = math.inf
    """Narrowband: the weakest component's power over the strongest other spectral band of the same
    width (the ~±31 Hz analysis bandwidth) anywhere in 100–3800 Hz, in the burst's interior. What a
    bank of narrowband detector filters sees: speech or babble far from the tone does not lower it."""
    lost_fraction: float = 0.0
    """Fraction of the burst (start to end) that was not received (known loss map only)."""
    edge_repeat_ms: tuple[float, float] = (0.0, 0.0)
    """Without a loss map: how much earlier than measured the start and end edges may truly lie,
    because the audio around them shows concealment by frame repetition (see `concealment`), which
    only ever delays an edge."""
    edge_contrast_db: float = math.inf
    """At the burst's frequency (±100 Hz): its level over the level just outside it, on the cleaner
    side (`shape`): a switched tone has edges, a vowel's held harmonic goes on beside them. inf: not
    measured (not near a wanted frequency) or a side could not be judged (lost, concealed, beyond
    the audio)."""

    @property
    def duration_ms(self) -> float:
        return (self.end_s - self.start_s) * 1000.0


@dataclass(frozen=True)
class Analysis:
    """All tone segments found, in time order."""

    segments: tuple[ToneSegment, ...]
    duration_s: float
    call_start_s: float | None = None
    lost_fraction: float = 0.0
    params: AnalysisParams = field(default_factory=AnalysisParams)
    lost_spans: tuple[tuple[float, float], ...] = ()
    """Stretches (start, end in seconds) of audio that was not received, when a loss map was given."""

    def lost_fraction_between(self, start_s: float, end_s: float) -> float:
        """Fraction of [start_s, end_s) that was not received (0 without a loss map)."""
        if end_s <= start_s:
            return 0.0
        covered = sum(max(0.0, min(end_s, b) - max(start_s, a)) for a, b in self.lost_spans)
        return min(1.0, covered / (end_s - start_s))


@dataclass(frozen=True)
class _Marks:
    """What is known or inferred about how the audio was received, sample by sample (8 kHz)."""

    lost: BoolArray | None = None
    """Not received (a loss map from the capture)."""
    repeated_in: FloatArray | None = None
    """The audio to search for sample-exact repeats of 20 ms frames (`concealment`) near each edge:
    only without a loss map, where they are the one trace concealment leaves."""


@dataclass(frozen=True)
class _Run:
    first: int  # block index
    last: int
    bins: tuple[int, ...]


def _median(x: FloatArray) -> float:
    """The median of a short 1-D array: `np.median`'s generic machinery costs ~30 µs a call, which
    over the ten thousand candidate runs of an hour of speech was a fifth of the analysis."""
    n = len(x)
    if n == 0:
        return float("nan")
    s = np.sort(x)
    h = n // 2
    return float(s[h]) if n % 2 else 0.5 * (float(s[h - 1]) + float(s[h]))


def _block_stage(x: FloatArray, params: AnalysisParams) -> list[_Run]:
    """Tonal runs of blocks, bridged over holes up to ``bridge_ms``; vectorised over one-minute
    batches. Longer holes made by known packet loss are left to the validator, which knows whether
    the profile has a gap there."""
    if len(x) < _BLOCK:
        return []
    k_max = params.max_components
    window = np.hanning(_BLOCK + 2)[1:-1]
    scale = np.full(_BLOCK // 2 + 1, 2.0)
    scale[0] = scale[-1] = 1.0
    scale /= _BLOCK * float(np.sum(window**2))
    floor = DBM0_POWER * 10.0 ** (params.min_level_dbm0 / 10.0)
    min_ratio = 10.0 ** (params.min_block_ratio_db / 10.0)
    n_blocks = (len(x) - _BLOCK) // _HOP + 1
    frames_all = np.lib.stride_tricks.sliding_window_view(x, _BLOCK)[::_HOP]
    tonal = np.zeros(n_blocks, dtype=np.bool_)
    ratio_db = np.zeros(n_blocks)
    sig = np.full((n_blocks, k_max), -100, dtype=np.int64)
    offsets = np.arange(-2, 3)
    bin_hz = ANALYSIS_RATE / _BLOCK
    targets = np.asarray(params.target_hz, dtype=np.float64)
    near_hz = 0.1 * targets + bin_hz / 2
    near = np.zeros(n_blocks, dtype=np.bool_)
    dom_db = np.zeros(n_blocks)
    for c0 in range(0, n_blocks, _CHUNK_BLOCKS):
        frames = frames_all[c0 : c0 + _CHUNK_BLOCKS]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2 * scale
        total = power.sum(axis=1)
        cum = np.concatenate((np.zeros((len(power), 1)), np.cumsum(power, axis=1)), axis=1)
        search = power[:, _LO_BIN : _HI_BIN + 1].copy()
        rows = np.arange(len(power))
        tone = np.zeros(len(power))
        bins = np.full((len(power), k_max), -100, dtype=np.int64)
        strongest = np.zeros(len(power))
        for j in range(k_max):
            k = np.argmax(search, axis=1) + _LO_BIN
            band = cum[rows, np.minimum(k + 3, cum.shape[1] - 1)] - cum[rows, k - 2]
            if j == 0:
                strongest = band
                keep = np.ones(len(power), dtype=np.bool_)
            else:
                keep = band >= strongest * 10.0 ** (-_EXTRA_COMPONENT_DB / 10.0)
            tone += np.where(keep, band, 0.0)
            bins[:, j] = np.where(keep, k, -100)
            cols = np.clip(k[:, None] + offsets - _LO_BIN, 0, search.shape[1] - 1)
            search[rows[:, None], cols] = -1.0
        rest = np.maximum(total - tone, 1e-30)
        is_tonal = (tone >= floor) & (tone >= min_ratio * rest)
        if targets.size:
            # Narrowband route: the strongest peak near a wanted frequency, over the strongest other
            # 5-bin band (tone lobes are masked to -1 in ``search``).
            k0 = bins[:, 0]
            near_t = np.any(np.abs(k0[:, None] * bin_hz - targets[None, :]) <= near_hz[None, :], axis=1)
            oc = np.concatenate(
                (np.zeros((len(power), 1)), np.cumsum(np.maximum(search, 0.0), axis=1)), axis=1
            )
            other = np.max(oc[:, 5:] - oc[:, :-5], axis=1)
            dom = 10.0 * np.log10(np.maximum(strongest, 1e-30) / np.maximum(other, 1e-30))
            is_tonal |= (tone >= floor) & near_t & (dom >= params.min_block_dominance_db)
            near[c0 : c0 + len(power)] = near_t
            dom_db[c0 : c0 + len(power)] = dom
        tonal[c0 : c0 + len(power)] = is_tonal
        ratio_db[c0 : c0 + len(power)] = 10.0 * np.log10(np.maximum(tone, 1e-30) / rest)
        sig[c0 : c0 + len(power)] = np.sort(bins, axis=1)
    same = np.all(np.abs(np.diff(sig, axis=0)) <= 1, axis=1)
    cont = tonal[1:] & tonal[:-1] & same
    starts = np.flatnonzero(tonal & np.concatenate(([True], ~cont)))
    ends = np.flatnonzero(tonal & np.concatenate((~cont, [True])))
    chains = _bridge(starts.tolist(), ends.tolist(), sig, params.bridge_ms)
    min_blocks = max(1, math.ceil((params.min_duration_ms - 20.0) / 10.0))
    out = []
    for members in chains:
        first, last = members[0][0], members[-1][1]
        if last - first + 1 < min_blocks:
            continue
        # Statistics over the run's own blocks only, not over other peaks it was bridged across.
        own = np.concatenate([np.arange(a, b + 1) for a, b in members])
        if _median(ratio_db[own]) < params.min_run_ratio_db and not (
            bool(np.all(near[own])) and _median(dom_db[own]) >= params.min_run_dominance_db
        ):
            continue
        main = sig[own, -1]  # sorted: the last column is always present
        if int(main.max() - main.min()) > 2:  # the peak wandered > 100 Hz: a glide, not a tone
            continue
        out.append(_Run(first, last, tuple(int(b) for b in sig[first] if b >= 0)))
    return out


def _bridge(
    starts: list[int], ends: list[int], sig: npt.NDArray[np.int64], bridge_ms: float
) -> list[list[tuple[int, int]]]:
    """Group chains of tonal blocks ([first, last] block indices) into runs of one tone: a chain joins
    the latest earlier run of the same tone ending at most ``bridge_ms`` before it, even past chains of
    other peaks in between (a loud syllable can out-peak the tone for a block or two).

    "The same tone" is judged against the run's first *and* last blocks: comparing with the last alone
    let babble near the tone's frequency walk a run away one bin per bridge (1000, 950, 900 Hz …) until
    the glide check threw the whole run, tone included, away.
    """
    runs: list[list[tuple[int, int]]] = []
    for s, e in zip(starts, ends, strict=True):
        home = next(
            (
                prev
                for prev in reversed(runs[-3:])
                # A block holding any tone looks tonal, so a hole of n quiet blocks is ~n*10+20 ms long.
                if (s - prev[-1][1] - 1) * 10.0 + 20.0 <= bridge_ms
                and np.all(np.abs(sig[prev[0][0]] - sig[s]) <= 1)
                and np.all(np.abs(sig[prev[-1][1]] - sig[s]) <= 1)
            ),
            None,
        )
        if home is None:
            runs.append([(s, e)])
        else:
            home.append((s, e))
    return runs


@functools.lru_cache(maxsize=64)
def _hann(n: int) -> tuple[FloatArray, float]:
    """The periodic-free Hann window of ``n`` samples and its mean square (the same few lengths recur for
    every candidate run of an hour of audio)."""
    window: FloatArray = np.hanning(n + 2)[1:-1]
    window.flags.writeable = False
    return window, float(np.mean(window**2))


_PHASOR_N = 8000  # 1 s: runs longer than this (a long tone) compute their phasor directly


@functools.lru_cache(maxsize=128)
def _phasor_table(frequency: float) -> npt.NDArray[np.complex128]:
    t = np.arange(_PHASOR_N) / ANALYSIS_RATE
    table: npt.NDArray[np.complex128] = np.exp(-2j * math.pi * frequency * t)
    table.flags.writeable = False
    return table


def _phasor(frequency: float, t: FloatArray) -> npt.NDArray[np.complex128]:
    """``exp(-2jπ f t)`` for ``t = arange(n) / 8000``, the same numbers, from a per-frequency table: the
    coarse frequencies are the 75 block-bin centres, and every candidate run recomputed them."""
    if len(t) <= _PHASOR_N:
        return _phasor_table(frequency)[: len(t)]
    out: npt.NDArray[np.complex128] = np.exp(-2j * math.pi * frequency * t)
    return out


def _welch(x: FloatArray) -> tuple[FloatArray, float, int]:
    """One-sided power spectrum (sums to the mean square), its bin width in Hz, and the main-lobe half
    width in bins."""
    n = min(_WELCH, len(x))
    nfft = 1 << max(8, (8 * n - 1).bit_length())
    hop = max(1, n // 2)
    window, mean_square = _hann(n)
    # = sliding_window_view(x, n)[::hop], without its ~80 µs of checks per call (a run per syllable).
    step = x.strides[0]
    frames = np.lib.stride_tricks.as_strided(
        x, shape=((len(x) - n) // hop + 1, n), strides=(hop * step, step), writeable=False
    )
    power = np.mean(np.abs(np.fft.rfft(frames * window, nfft, axis=1)) ** 2, axis=0)
    power[1:-1] *= 2.0
    power /= nfft * n * mean_square
    return power, ANALYSIS_RATE / nfft, math.ceil(2 * nfft / n)


def _peaks(power: FloatArray, bin_hz: float, lobe: int, max_k: int) -> list[tuple[float, float]]:
    """Up to ``max_k`` (frequency, band power) peaks, strongest first, interpolated."""
    lo, hi = int(100 / bin_hz), min(len(power) - 2, int(3800 / bin_hz))
    search = power.copy()
    search[:lo] = -1.0
    search[hi:] = -1.0
    out: list[tuple[float, float]] = []
    for _ in range(max_k):
        k = int(np.argmax(search))
        if search[k] <= 0:
            break
        band = float(power[max(0, k - lobe) : k + lobe + 1].sum())
        if out and band < out[0][1] * 10.0 ** (-_EXTRA_COMPONENT_DB / 10.0):
            break
        a, b, c = np.log(power[k - 1 : k + 2] + 1e-300)
        denom = a - 2 * b + c
        delta = 0.5 * (a - c) / denom if denom < 0 else 0.0
        out.append(((k + delta) * bin_hz, band))
        search[max(0, k - lobe) : k + lobe + 1] = -1.0
    return out


def _dominance_db(power: FloatArray, bin_hz: float, lobe: int, peaks: list[tuple[float, float]]) -> float:
    """The weakest peak's band power over the strongest other band of the same width (2·lobe+1 bins)
    in 100–3800 Hz, skipping two lobe widths around every peak (its own leakage)."""
    lo, hi = int(100 / bin_hz), min(len(power), int(3800 / bin_hz))
    other = power.copy()
    other[:lo] = 0.0
    other[hi:] = 0.0
    for f, _ in peaks:
        c = round(f / bin_hz)
        other[max(0, c - 2 * lobe) : c + 2 * lobe + 1] = 0.0
    w = 2 * lobe + 1
    cum = np.concatenate(([0.0], np.cumsum(other)))
    strongest_other = float(np.max(cum[w:] - cum[:-w])) if len(cum) > w else 0.0
    weakest = min(p for _, p in peaks)
    return 10.0 * math.log10(max(weakest, 1e-30) / max(strongest_other, 1e-30))


def _moving_average(z: npt.NDArray[np.complex128], n: int) -> npt.NDArray[np.complex128]:
    cum = np.concatenate(([0], np.cumsum(z)))
    out = (cum[n:] - cum[:-n]) / n
    pad = n // 2
    return np.concatenate((np.full(pad, out[0]), out, np.full(n - 1 - pad, out[-1])))


def _box(z: npt.NDArray[np.complex128], n: int) -> npt.NDArray[np.complex128]:
    """Centred ``n``-sample moving average taking the signal as zero outside the array (before the
    recording starts there is no tone, not more of the first sample)."""
    pad = n // 2
    padded = np.concatenate(
        (np.zeros(pad, dtype=np.complex128), z, np.zeros(n - 1 - pad, dtype=np.complex128))
    )
    cum = np.concatenate((np.zeros(1, dtype=np.complex128), np.cumsum(padded)))
    return (cum[n:] - cum[:-n]) / n


def _crossing(env: FloatArray, thr: float, rising: bool) -> float:
    """Sub-sample index of the first (rising) or last (falling) crossing of ``thr``."""
    above = np.flatnonzero(env >= thr)
    if len(above) == 0:
        return 0.0 if rising else float(len(env))
    i = int(above[0] if rising else above[-1])
    j = i - 1 if rising else i + 1
    if not 0 <= j < len(env):
        return float(i)
    frac = float(env[i] - thr) / max(float(env[i] - env[j]), 1e-30)
    return i - frac if rising else i + frac


def _edge_loss(lost: BoolArray | None, at: float) -> float:
    """Total length (ms) of the lost stretches that come within 25 ms of an edge: the edge may lie
    anywhere inside them."""
    if lost is None or not lost.any():
        return 0.0
    lo, hi = max(0, int(at) - 200), min(len(lost), int(at) + 200)
    if not lost[lo:hi].any():
        return 0.0
    while lo > 0 and lost[lo - 1]:
        lo -= 1
    while hi < len(lost) and lost[hi]:
        hi += 1
    return float(np.count_nonzero(lost[lo:hi])) / ANALYSIS_RATE * 1000.0


def _near(x: FloatArray, at: float) -> tuple[FloatArray, BoolArray, float]:
    """The audio around an edge, its `repeat_mask` and the edge's position in it: a window is enough
    (runs are followed at most ``REACH`` frames) and keeps the cost per edge, not per recording."""
    lo = max(0, int(at) - (REACH + 2) * FRAME)
    w = x[lo : int(at) + (REACH + 1) * FRAME]
    return w, repeat_mask(w), at - lo


def _unrepeat(x: FloatArray | None, start: float, end: float) -> tuple[float, float]:
    """Edges measured in a sample-exact repeat of the frame that held them, moved back to the original
    (`concealment.repeated_copies`): an end extended by a repeated ramp frame, exactly."""
    if x is None:
        return start, end
    return _unrepeated_at(x, start), _unrepeated_at(x, end)


def _unrepeated_at(x: FloatArray, at: float) -> float:
    _, mask, i = _near(x, at)
    return at - FRAME * repeated_copies(mask, i)


def _edge_repeats(x: FloatArray | None, start: float, end: float) -> tuple[float, float]:
    if x is None:
        return (0.0, 0.0)
    return (repeated_cut_ms(*_near(x, start)), repeated_cut_ms(*_near(x, end)))


def _drift_pct(baseband: npt.NDArray[np.complex128], frequency: float) -> float:
    """Frequency change between the two halves of a burst, from the demodulated phase slope.

    Steady tones give ~0; speech glides and sweeps do not. Lag-8 phase
    differences are unambiguous for offsets up to ±500 Hz, beyond the
    demodulator's ±200 Hz passband.
    """
    half = len(baseband) // 2
    if half < 32:
        return 0.0
    lag = 8
    rates = []
    for part in (baseband[:half], baseband[half:]):
        r = np.sum(part[lag:] * np.conj(part[:-lag]))
        rates.append(float(np.angle(r)) * ANALYSIS_RATE / (2 * math.pi * lag))
    return abs(rates[1] - rates[0]) / frequency * 100.0


def _modulation(env: FloatArray) -> tuple[float | None, float | None]:
    """Dominant 4–60 Hz amplitude modulation of an amplitude envelope, if deep enough to matter."""
    if len(env) < ANALYSIS_RATE // 10:
        return None, None
    mean = float(np.mean(env))
    if mean <= 0:
        return None, None
    env_d = env[::20]  # 400 Hz is plenty for a ≤60 Hz envelope
    nfft = 1 << (8 * len(env_d) - 1).bit_length()
    win = np.hanning(len(env_d))
    spec = np.abs(np.fft.rfft((env_d - np.mean(env_d)) * win, nfft))
    rate = ANALYSIS_RATE / 20
    lo, hi = int(4 * nfft / rate), int(60 * nfft / rate) + 1
    k = lo + int(np.argmax(spec[lo:hi]))
    depth = 2.0 * float(spec[k]) / float(np.sum(win)) / mean
    if depth < 0.2:
        return None, None
    return k * rate / nfft, depth


def _measure(
    x: FloatArray, run: _Run, marks: _Marks, params: AnalysisParams, min_dip: int
) -> list[ToneSegment]:
    lost = marks.lost
    lo = max(0, run.first * _HOP - _HOP)
    hi = min(len(x), run.last * _HOP + _BLOCK + _HOP)
    region = x[lo:hi]
    # Bin centres are within 25 Hz: close enough for a 5 ms (±200 Hz) demodulator.
    coarse = [b * ANALYSIS_RATE / _BLOCK for b in run.bins] or [1000.0]
    t = np.arange(len(region)) / ANALYSIS_RATE
    env_power = np.zeros(len(region))
    main_bb = np.zeros(len(region), dtype=np.complex128)
    for i, f in enumerate(coarse):
        bb = _moving_average(region * _phasor(f, t), _EDGE_AVG)
        env_power += np.abs(bb) ** 2
        if i == 0:
            main_bb = bb
    core = env_power[_BLOCK : max(_BLOCK + 1, len(env_power) - _BLOCK)]
    thr = 0.25 * _median(core if len(core) else env_power)
    out = []
    for s0, s1 in _stretches(env_power >= thr, None if lost is None else lost[lo:hi], min_dip):
        a = s0 + _crossing(env_power[s0:s1], thr, rising=True)
        b = s0 + _crossing(env_power[s0:s1], thr, rising=False)
        if s0 > 0 and env_power[s0 - 1] < thr:  # interpolate across the sample before the stretch
            a = s0 - float(env_power[s0] - thr) / max(float(env_power[s0] - env_power[s0 - 1]), 1e-30)
        if s1 < len(env_power) and env_power[s1] < thr:
            b = s1 - 1 + float(env_power[s1 - 1] - thr) / max(float(env_power[s1 - 1] - env_power[s1]), 1e-30)
        # Still above threshold where the block run's region ends: the run cut the burst short.
        reach = (
            _REFINE_REACH if s0 == 0 and env_power[0] >= thr else _HOP,
            _REFINE_REACH if s1 == len(env_power) and env_power[-1] >= thr else _HOP,
        )
        seg = _measure_span(x, lo, region, (main_bb, coarse[0]), (a, b), marks, params, min_dip, reach)
        if seg is not None:
            out.append(seg)
    return out


_REFINE_REACH = 1200  # 150 ms: how far past a clipped coarse edge a refined edge may lie
_RAMP = 24  # 3 ms: a 20 ms triangle's step response goes from 0.5 to 0.75 in 2.9 ms
_REFINE_AVG = 80  # two 10 ms moving averages: a 20 ms triangle, first nulls at ±100 Hz


def _refine_edges(
    x: FloatArray,
    coarse: tuple[float, float],
    freqs: list[float],
    interior: tuple[int, int],
    lost: BoolArray | None,
    min_dip: int,
    reach: tuple[int, int],
) -> tuple[float, float]:
    """The burst's edges again, now that its frequencies are known to a fraction of a hertz.

    The first edges come from a 5 ms (±200 Hz) envelope at a 50 Hz bin centre, which speech energy
    near the tone (babble) stretches or cuts short, and from block runs a loud syllable can clip or
    split. Here each component is demodulated at its measured frequency, low-passed by a 20 ms
    triangle (±100 Hz, sidelobes −27 dB) and projected on the tone's own phase in the interior:
    speech at another frequency or phase averages out instead of adding its power. The edges are
    the half-amplitude crossings (the 0.5 point of a symmetric filter's response to the renderer's
    symmetric ramp stays on the nominal edge) of the stretch holding the interior, joined across
    dips shorter than ``min_dip`` (AM troughs, repeated frames) and across lost audio. An edge may
    move outwards by at most ``reach`` samples: a block (10 ms) normally, farther (150 ms) where the
    block run cut the first estimate off; inwards it may move freely. Returns ``coarse`` when there
    is no clear plateau.
    """
    lo = max(0, int(coarse[0]) - reach[0] - _REFINE_AVG)  # + the filter's half length: real audio
    hi = min(len(x), int(coarse[1]) + reach[1] + 1 + _REFINE_AVG)
    i0, i1 = interior[0] - lo, interior[1] - lo
    seg = x[lo:hi]
    t = np.arange(lo, hi) / ANALYSIS_RATE
    amp = np.zeros(hi - lo)
    for f in freqs:
        z = _box(_box(seg * np.exp(-2j * math.pi * f * t), _REFINE_AVG), _REFINE_AVG)
        phase = complex(np.mean(z[i0:i1]))
        if abs(phase) == 0:
            return coarse
        proj = np.real(z * np.conj(phase)) / abs(phase)
        level = _median(proj[i0:i1])  # robust to coarse edges that overran the burst
        if level <= 0:
            return coarse
        amp += proj / level / len(freqs)
    # Not beyond the allowed reach: a weak steady sound (a sung vowel near the tone) would otherwise
    # grow to wherever it keeps half of its own level.
    a0, b0 = max(0, int(coarse[0]) - lo - reach[0]), int(coarse[1]) - lo + reach[1] + 1
    amp[:a0] = 0.0
    amp[b0:] = 0.0
    # Beyond the first estimate, only a steady plateau counts as more of the tone: a tone keeps its
    # level under speech, speech near the tone's pitch fades in and out.
    c0, c1 = max(a0, int(coarse[0]) - lo), min(b0, int(coarse[1]) - lo + 1)
    amp[:c0] = _plateau(amp[:c0][::-1])[::-1]
    amp[c1:] = _plateau(amp[c1:])
    spans = _stretches(amp >= 0.5, None if lost is None else lost[lo:hi], min_dip)
    overlap = [min(s1, i1) - max(s0, i0) for s0, s1 in spans]
    if not spans or max(overlap) <= 0:
        return coarse
    s0, s1 = spans[int(np.argmax(overlap))]
    start = float(s0) if s0 == 0 else _cross_between(amp, s0 - 1, s0)
    end = float(s1) if s1 == len(amp) else _cross_between(amp, s1, s1 - 1)
    return lo + start, lo + end


_PLATEAU = 0.75


def _plateau(amp: FloatArray) -> FloatArray:
    """``amp`` (running away from the burst) up to where it first drops below the plateau level,
    then 0 from ``_RAMP`` samples later on (room for the half-amplitude crossing of a real edge)."""
    low = np.flatnonzero(amp < _PLATEAU)
    out = amp.copy()
    if len(low):
        out[int(low[0]) + _RAMP :] = 0.0
    return out


def _wanted(frequency: float, targets: tuple[float, ...]) -> bool:
    """Near a frequency being looked for (±10 %, as the block stage's narrowband route), or no target
    given: only such segments are worth the narrowband edge search (speech elsewhere is not)."""
    return not targets or any(abs(frequency - t) <= 0.1 * t + ANALYSIS_RATE / _BLOCK / 2 for t in targets)


def _cross_between(amp: FloatArray, below: int, above: int) -> float:
    """Sub-sample position of the 0.5 crossing between a sample below it and its neighbour above."""
    lo_v, hi_v = float(amp[below]), float(amp[above])
    if not lo_v < 0.5 <= hi_v:
        return float(below)
    return below + (above - below) * (0.5 - lo_v) / (hi_v - lo_v)


def _stretches(above: BoolArray, lost: BoolArray | None, min_dip: int) -> list[tuple[int, int]]:
    """[start, stop) stretches where the envelope is above threshold, joined across dips shorter than
    ``min_dip`` samples (the bridge: modulation troughs, short fades) or mostly made of lost audio
    (unknown, so no evidence of a gap). A longer real dip splits: a loud syllable at the tone's
    frequency can fill the gap between two bursts at block resolution."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
    spans: list[tuple[int, int]] = []
    for s0, s1 in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if spans:
            p0, p1 = spans[-1]
            dip_lost = lost is not None and float(np.mean(lost[p1:s0])) >= 0.5
            if s0 - p1 < min_dip or dip_lost:
                spans[-1] = (p0, s1)
                continue
        spans.append((s0, s1))
    return [(s0, s1) for s0, s1 in spans if s1 - s0 >= 16]


def _measure_span(
    x: FloatArray,
    lo: int,
    region: FloatArray,
    main: tuple[npt.NDArray[np.complex128], float],
    edges: tuple[float, float],
    marks: _Marks,
    params: AnalysisParams,
    min_dip: int,
    reach: tuple[int, int],
) -> ToneSegment | None:
    lost = marks.lost
    a, b = edges
    main_bb, coarse_hz = main
    if b - a < 16:
        return None
    start, end = lo + a, lo + b
    # Interior: 10 ms in from each edge (or the middle half of a short burst).
    margin = min(80.0, (b - a) / 4)
    i0, i1 = math.ceil(a + margin), int(b - margin)
    interior = region[i0:i1]
    if lost is not None:
        ok = ~lost[lo + i0 : lo + i1]
        if np.count_nonzero(ok) >= 64 and not ok.all():
            interior = interior[ok]  # measure what arrived, not the fill
    power, bin_hz, lobe = _welch(interior)
    peaks = _peaks(power, bin_hz, lobe, params.max_components)
    if not peaks:
        return None
    if abs(peaks[0][0] - coarse_hz) > ANALYSIS_RATE / _BLOCK:
        reach = (_HOP, _HOP)  # the run was found at another peak: do not let it grow into this tone
    wanted = _wanted(peaks[0][0], params.target_hz)
    if wanted:
        start, end = _refine_edges(
            x, (start, end), [f for f, _ in peaks], (lo + i0, lo + i1), lost, min_dip, reach
        )
    repeated_in = marks.repeated_in if wanted else None
    start, end = _unrepeat(repeated_in, start, end)
    edge_loss = (_edge_loss(lost, start), _edge_loss(lost, end))
    edge_repeat = _edge_repeats(repeated_in, start, end)
    unknown = (edge_loss[0] > 0 or edge_repeat[0] > 0, edge_loss[1] > 0 or edge_repeat[1] > 0)
    contrast = edge_contrast_db(x, start, end, peaks[0][0], lost, unknown) if wanted else math.inf
    total = float(power.sum())
    tone = sum(p for _, p in peaks)
    drift = _drift_pct(main_bb[i0:i1], peaks[0][0])
    mod_hz, mod_depth = _modulation(np.abs(main_bb[i0:i1]))
    order = sorted(range(len(peaks)), key=lambda i: peaks[i][0])
    return ToneSegment(
        start_s=start / ANALYSIS_RATE,
        end_s=end / ANALYSIS_RATE,
        frequencies_hz=tuple(peaks[i][0] for i in order),
        component_levels_dbm0=tuple(power_to_dbm0(peaks[i][1]) for i in order),
        level_dbm0=power_to_dbm0(tone),
        tone_to_rest_db=10.0 * math.log10(tone / max(total - tone, 1e-30)),
        frequency_drift_pct=drift,
        modulation_hz=mod_hz,
        modulation_depth=mod_depth,
        edge_loss_ms=edge_loss,
        tone_dominance_db=_dominance_db(power, bin_hz, lobe, peaks),
        edge_repeat_ms=edge_repeat,
        edge_contrast_db=contrast,
        lost_fraction=(
            float(np.mean(lost[int(start) : max(int(start) + 1, int(end))]))
            if lost is not None and len(lost)
            else 0.0
        ),
    )


def analyse(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    params: AnalysisParams | None = None,
    lost: npt.ArrayLike | None = None,
    call_start_s: float | None = None,
) -> Analysis:
    """Find and measure every tone segment in mono float audio (full scale 1.0) at any rate.

    ``lost`` (same length as ``samples``) marks samples that were not received,
    so edges next to them are flagged as uncertain. Without it, 8 kHz audio is
    searched for the traces of concealment by frame repetition instead
    (`ToneSegment.edge_repeat_ms`). ``call_start_s`` is passed through for the
    validator.
    """
    params = params or AnalysisParams()
    x = np.asarray(samples, dtype=np.float64)
    lost_mask: BoolArray | None = None
    repeated_in: FloatArray | None = None
    if lost is not None:
        lost_mask = np.asarray(lost, dtype=np.bool_)
        if len(lost_mask) != len(x):
            raise ValueError("lost mask length differs from the samples")
    elif sample_rate == ANALYSIS_RATE:
        # G.711 as decoded: the only audio in which a repeated frame is still sample-exact.
        repeated_in = x
    if sample_rate != ANALYSIS_RATE:
        x = resample(x, sample_rate, ANALYSIS_RATE)
        if lost_mask is not None:
            idx = np.minimum((np.arange(len(x)) * sample_rate) // ANALYSIS_RATE, len(lost_mask) - 1)
            lost_mask = lost_mask[idx]
    marks = _Marks(lost_mask, repeated_in)
    segments = []
    min_dip = max(80, int(params.bridge_ms * ANALYSIS_RATE / 1000))
    for run in _block_stage(x, params):
        segments += _measure(x, run, marks, params, min_dip)
    merged = _merge_overlapping(sorted(segments, key=lambda seg: seg.start_s))
    return Analysis(
        segments=tuple(seg for seg in merged if seg.duration_ms >= params.min_duration_ms),
        duration_s=len(x) / ANALYSIS_RATE,
        call_start_s=call_start_s,
        lost_fraction=float(np.mean(lost_mask)) if lost_mask is not None and len(lost_mask) else 0.0,
        params=params,
        lost_spans=_spans(lost_mask),
    )


def _merge_overlapping(segments: list[ToneSegment]) -> tuple[ToneSegment, ...]:
    """One segment per burst: pieces of one burst (split at block level by a loud syllable) whose
    refined edges overlap are the same tone. The measurements of the piece that stands highest above
    the rest are kept (a piece found at another peak, a syllable next to the tone, measured the
    tone through the syllable)."""
    out: list[ToneSegment] = []
    for seg in segments:
        prev = out[-1] if out else None
        if (
            prev is not None
            and seg.start_s < prev.end_s
            and len(seg.frequencies_hz) == len(prev.frequencies_hz)
            and all(
                abs(a - b) <= 0.01 * a for a, b in zip(prev.frequencies_hz, seg.frequencies_hz, strict=True)
            )
        ):
            cleanest = max((prev, seg), key=lambda p: p.tone_dominance_db)
            out[-1] = replace(
                cleanest,
                start_s=min(prev.start_s, seg.start_s),
                end_s=max(prev.end_s, seg.end_s),
                edge_loss_ms=(
                    min((prev, seg), key=lambda p: p.start_s).edge_loss_ms[0],
                    max((prev, seg), key=lambda p: p.end_s).edge_loss_ms[1],
                ),
                edge_repeat_ms=(
                    min((prev, seg), key=lambda p: p.start_s).edge_repeat_ms[0],
                    max((prev, seg), key=lambda p: p.end_s).edge_repeat_ms[1],
                ),
            )
            continue
        out.append(seg)
    return tuple(out)


def _spans(mask: BoolArray | None) -> tuple[tuple[float, float], ...]:
    if mask is None or not mask.any():
        return ()
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return tuple(
        (a / ANALYSIS_RATE, b / ANALYSIS_RATE)
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
    )
