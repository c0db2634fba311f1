"""Infer concealment by frame repetition from the audio itself (no loss map).

An endpoint that loses a 20 ms RTP frame often plays (and records) the frame
before it again. Nothing marks the repeat, but two traces prove it:

* **A repeated transition.** The frame holding a burst's ramp is played again:
  the burst's measured edge then lies inside a frame that is a sample-exact
  copy of the frame 20 ms earlier. A tone's ramp never equals the audio one
  frame before it (that is the steady body, or silence), so this is
  unambiguous; the true edge is exactly one frame earlier per copy, and is
  moved back there.
* **A cut after repeated noise.** The frame holding the ramp is lost and the
  frame before it fills the hole: the measured edge is an abrupt step where a
  run of sample-exact repeats ends, and the true edge lies somewhere in that
  run. This proves concealment only when the repeated audio does not repeat
  by itself: a noise-free digital tone (any frequency that is a multiple of
  50 Hz) and digital silence repeat exactly every 20 ms, so a tone that simply
  stops on the frame grid looks the same as a lost ramp frame. The run is
  therefore trusted only when the frame it copies differs from *its*
  predecessor in most samples at the same level (noise on a line), never when
  that difference is the tone's own onset.

Concealment by repetition only ever moves an edge *later* (a start is
delayed by repeated silence, an end extended by repeated tone), so a cut
says how much *earlier* the true edge may lie, never later. Exact
sample equality only survives in digital audio (G.711 decoded as is):
resampling or any processing destroys it, and the inference then finds
nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sipcheck.tones.levels import FloatArray

BoolArray = npt.NDArray[np.bool_]
FRAME = 160
"""20 ms at 8 kHz: the usual G.711 packet (and what a repetition concealer repeats)."""
_EDGE_SLACK = 3
"""Samples between a measured edge and the end of a repeat run that still count as "at" it: the
half-amplitude crossing of an abrupt step lies within a sample of the step."""

REACH = 8
"""Frames looked at either side of an edge (160 ms): longer repeat runs are not told apart."""


def repeat_mask(x: FloatArray, frame: int = FRAME) -> BoolArray:
    """``mask[i]`` is True when sample ``i`` equals the sample one frame earlier, exactly."""
    mask = np.zeros(len(x), dtype=np.bool_)
    if len(x) > frame:
        mask[frame:] = x[frame:] == x[:-frame]
    return mask


def _run(mask: BoolArray, i: int, reach: int) -> tuple[int, int]:
    """[start, stop) of the run of True values in ``mask`` that contains index ``i``, looking at most
    ``reach`` samples either way (keeps the cost per edge constant on long recordings)."""
    lo = max(0, i - reach)
    before = np.flatnonzero(~mask[lo : i + 1])
    after = np.flatnonzero(~mask[i : i + reach])
    start = lo + int(before[-1]) + 1 if len(before) else lo
    return start, i + int(after[0]) if len(after) else min(len(mask), i + reach)


def _noise_like(x: FloatArray, g: int, frame: int) -> bool:
    """Whether the frame before ``g`` differs from its own predecessor in most samples at the same level
    (±1 dB): audio that does not repeat by itself, so an exact copy of it from ``g`` on is concealment.
    A tone's onset makes the frames differ too, but in level or in only part of the frame."""
    if g < 2 * frame:
        return False
    src, pred = x[g - frame : g], x[g - 2 * frame : g - frame]
    if np.count_nonzero(src != pred) < frame // 2:
        return False
    p_src, p_pred = float(np.mean(src**2)), float(np.mean(pred**2))
    return p_src > 0 and p_pred > 0 and abs(10.0 * np.log10(p_src / p_pred)) <= 1.0


def repeated_copies(mask: BoolArray, at: float, *, frame: int = FRAME) -> int:
    """How many frames a measured edge at ``at`` (a sample index) lies after the transition it shows:
    k when it lies in the k-th sample-exact copy of the frame that held it (the true edge is exactly
    ``k * frame`` samples earlier), 0 when the audio around it is not a repeat."""
    i = round(at)
    if i < frame or i + _EDGE_SLACK >= len(mask) or not mask[i - _EDGE_SLACK : i + _EDGE_SLACK + 1].all():
        return 0
    start, stop = _run(mask, i, REACH * frame)
    return (i - start) // frame + 1 if stop - start >= frame else 0


def repeated_cut_ms(
    x: FloatArray, mask: BoolArray, at: float, *, rate: int = 8000, frame: int = FRAME
) -> float:
    """How much earlier (ms) than the measured position ``at`` an edge may truly lie because it is the
    abrupt end of a run of repeated noise (the lost frames, which held the true edge somewhere);
    0 when nothing proves it. ``mask`` is `repeat_mask` of ``x``."""
    last = round(at) - _EDGE_SLACK
    if last < 2 * frame or last >= len(mask) or not mask[last - frame + 1 : last + 1].all():
        return 0.0
    start, stop = _run(mask, last, REACH * frame)
    if start <= last - REACH * frame or not _noise_like(x, start, frame):
        return 0.0
    return round((stop - start) / frame) * frame * 1000.0 / rate
