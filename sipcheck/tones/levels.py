"""The one level convention used by rendering and analysis alike.

Audio is handled as float64 with full scale 1.0 ⇔ 16-bit linear 32768.

**0 dBm0** is the ITU-T G.711 digital milliwatt: a sine whose peak is 3.17 dB
below full scale, i.e. peak ``10**(-3.17/20) ≈ 0.6939`` (22 737 in 16-bit PCM,
RMS ≈ 16 078). The same reference is used for µ-law and A-law: G.711 puts the
A-law maximum at +3.14 dBm0, 0.03 dB from µ-law's +3.17, well below anything a
tone check cares about. Decoding the standard digital-milliwatt sequences
gives −0.04 dBm0 (µ-law) and +0.03 dBm0 (A-law) under this convention.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DBM0_PEAK = 10.0 ** (-3.17 / 20.0)
"""Peak amplitude (full scale 1.0) of a 0 dBm0 sine."""
DBM0_POWER = DBM0_PEAK**2 / 2.0
"""Mean-square value (full scale 1.0) of a 0 dBm0 signal."""
_TINY = 1e-30


def dbm0_to_power(level_dbm0: float) -> float:
    """Mean-square value of a signal at ``level_dbm0``."""
    return float(DBM0_POWER * 10.0 ** (level_dbm0 / 10.0))


def power_to_dbm0(mean_square: float) -> float:
    """Level in dBm0 of a signal with mean-square ``mean_square`` (−inf-safe: floors at −300)."""
    return 10.0 * math.log10(max(float(mean_square), _TINY) / DBM0_POWER)


def to_pcm16(samples: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """Round float audio (full scale 1.0) to 16-bit PCM, saturating rather than wrapping."""
    x = np.asarray(samples, dtype=np.float64) * 32768.0
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def from_pcm16(samples: npt.ArrayLike) -> FloatArray:
    """16-bit PCM to float audio (full scale 1.0)."""
    return np.asarray(samples, dtype=np.float64) / 32768.0
