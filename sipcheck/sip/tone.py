"""The identification tone as the WAV file pjsua2's `AudioMediaPlayer` plays at answer.

Rendering is `sipcheck.tones`' job; this module only decides where the file
goes and how long it lasts (the relay bridges the legs when it has played).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sipcheck import tones

TONE_RATE = 8000
"""G.711 runs at 8 kHz: rendering there spares pjsua2 a resampler."""


@dataclass(frozen=True, slots=True)
class ToneFile:
    profile_id: str
    path: Path
    duration_ms: float


def render_tone_file(profile_name: str, directory: Path) -> ToneFile:
    """Render the profile ``profile_name`` (built-in id or file path) to ``directory``/<id>.wav.

    Raises `sipcheck.tones.ProfileError` for an unknown or invalid profile.
    """
    profile = tones.load_profile(profile_name)
    samples = tones.render(profile, TONE_RATE)
    path = directory / f"tone-{profile.id}.wav"
    path.write_bytes(tones.render_bytes(profile, "wav", TONE_RATE))
    return ToneFile(profile.id, path, 1000.0 * len(samples) / TONE_RATE)
