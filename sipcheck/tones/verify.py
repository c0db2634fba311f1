"""File-level verification: read a recording or capture, then validate it against a profile.

The one place where reading and judging meet, shared by the CLI and any
caller holding a file rather than samples.
"""

from __future__ import annotations

from pathlib import Path

from sipcheck.tones.audiofile import Audio, AudioFormat, read_audio
from sipcheck.tones.profiles import Profile, ReferenceProfile
from sipcheck.tones.rtp import Concealment
from sipcheck.tones.validate import CallStartSource, ValidationResult, validate_audio


def validate_recording(audio: Audio, profile: Profile, *, offset_ms: float | None = None) -> ValidationResult:
    """Validate already-read audio. ``offset_ms`` is the call start within the audio, overriding the
    capture's SIP answer time; with neither, the audio's start is the call start."""
    call_start: float | None = None
    source: CallStartSource = "file-start"
    if offset_ms is not None:
        call_start, source = offset_ms / 1000.0, "user"
    elif audio.call_start_s is not None:
        call_start, source = audio.call_start_s, "sip-200-ok"
    ref_samples, ref_rate = None, None
    if isinstance(profile, ReferenceProfile):
        ref = read_audio(profile.recording, fmt="wav")
        ref_samples, ref_rate = ref.samples, ref.sample_rate
    return validate_audio(
        audio.samples,
        audio.sample_rate,
        profile,
        lost=audio.lost,
        call_start_s=call_start,
        call_start_source=source,
        reference_samples=ref_samples,
        reference_rate=ref_rate,
    )


def validate_file(
    path: str | Path,
    profile: Profile,
    *,
    fmt: AudioFormat | None = None,
    channel: int = 0,
    ssrc: int | None = None,
    port: int | None = None,
    conceal: Concealment = "silence",
    offset_ms: float | None = None,
) -> ValidationResult:
    """Read ``path`` (see `read_audio`) and validate it against ``profile``."""
    audio = read_audio(path, fmt=fmt, channel=channel, ssrc=ssrc, port=port, conceal=conceal)
    return validate_recording(audio, profile, offset_ms=offset_ms)
