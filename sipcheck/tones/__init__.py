"""The JUSA forwarding identification tone: profiles, generation, analysis, validation.

The official tone (協会標準識別音) is licensed and not public, so a deployment
loads it as a profile (parametric TOML/JSON, or a reference recording);
sipcheck renders it exactly and proves from audio that it was played as
specified.

Typical use by the SIP agent::

    from sipcheck import tones

    profile = tones.load_profile("example-call-start")        # or a path to the licensed profile
    frames = tones.render_g711_frames(profile, "pcmu")        # bytes, 160 per 20 ms frame
    pcm = tones.render_pcm16(profile, 8000)                   # int16 samples

    # later, with a WAV recorded from answer (8 or 16 kHz):
    result = tones.validate_file("call.wav", profile, offset_ms=0)
    # or with samples in memory (float, full scale 1.0):
    result = tones.validate_audio(samples, 8000, profile, call_start_s=0.0)
    if result.outcome == "fail":                               # "pass" | "fail" | "inconclusive"
        print([f.code for f in result.failures])
    elif result.outcome == "inconclusive":                     # e.g. a burst lost to packet loss
        print([i.code for i in result.inconclusive])           # re-run the call

Levels follow one convention (see `sipcheck.tones.levels`): 0 dBm0 is a
sine with peak 3.17 dB below 16-bit full scale, for µ-law and A-law alike.
"""

from sipcheck.tones.analysis import Analysis, AnalysisParams, ToneSegment, analyse
from sipcheck.tones.audiofile import Audio, read_audio
from sipcheck.tones.errors import AudioFormatError
from sipcheck.tones.g711 import Codec
from sipcheck.tones.g711 import decode as g711_decode
from sipcheck.tones.g711 import encode as g711_encode
from sipcheck.tones.profiles import (
    ParametricProfile,
    Profile,
    ProfileError,
    ReferenceProfile,
    Tolerances,
    builtin_profiles,
    load_profile,
)
from sipcheck.tones.render import render, render_bytes, render_g711, render_g711_frames, render_pcm16
from sipcheck.tones.validate import (
    FAILURE_CODES,
    INCONCLUSIVE_CODES,
    Failure,
    Inconclusive,
    ValidationResult,
    validate,
    validate_audio,
)
from sipcheck.tones.verify import validate_file, validate_recording

__all__ = [
    "FAILURE_CODES",
    "INCONCLUSIVE_CODES",
    "Analysis",
    "AnalysisParams",
    "Audio",
    "AudioFormatError",
    "Codec",
    "Failure",
    "Inconclusive",
    "ParametricProfile",
    "Profile",
    "ProfileError",
    "ReferenceProfile",
    "Tolerances",
    "ToneSegment",
    "ValidationResult",
    "analyse",
    "builtin_profiles",
    "g711_decode",
    "g711_encode",
    "load_profile",
    "read_audio",
    "render",
    "render_bytes",
    "render_g711",
    "render_g711_frames",
    "render_pcm16",
    "validate",
    "validate_audio",
    "validate_file",
    "validate_recording",
]
