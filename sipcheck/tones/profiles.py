"""Tone profiles: what a tone is, and how far a received tone may stray from it.

A profile is either *parametric* (segments of 1–3 sine components with
durations, levels, gaps and repeats) or a *reference recording* (the licensed
official audio as a WAV file, matched by correlation). Profiles are plain
TOML or JSON files so a deployment can load the licensed JUSA definition
without code changes; a few illustrative profiles ship with the package.

The official JUSA identification tone (協会標準識別音) is not public: no
built-in profile claims to be it. ``example-call-start`` is an invented
two-beep stand-in with the same shape as operators' call-start beeps.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

MIN_FREQUENCY_HZ = 100.0
MAX_FREQUENCY_HZ = 3400.0
"""Components must lie in the telephone band: analysis runs at 8 kHz (G.711)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Model):
    """One sine component of a segment."""

    frequency_hz: float = Field(ge=MIN_FREQUENCY_HZ, le=MAX_FREQUENCY_HZ)
    level_dbm0: float = Field(default=-10.0, le=3.0, ge=-60.0, description="mean power of this component")


class Modulation(_Model):
    """Sinusoidal amplitude modulation, as in Japan's 400 Hz ringback modulated at 16 Hz.

    The envelope is ``1 + depth * sin(2π f t)``; the segment's level is the mean
    power of the *modulated* signal, so modulation does not change loudness.
    """

    frequency_hz: float = Field(gt=0.0, le=60.0)
    depth: float = Field(default=1.0, gt=0.0, le=1.0)


class Segment(_Model):
    """A tone burst, the silence after it, and how many times the pair repeats."""

    components: list[Component] = Field(min_length=1, max_length=3)
    duration_ms: float = Field(gt=0.0, le=60_000.0)
    gap_ms: float = Field(default=0.0, ge=0.0, le=60_000.0)
    repeat: int = Field(default=1, ge=1, le=100)
    modulation: Modulation | None = None


class Tolerances(_Model):
    """What a validation accepts.

    Telephony detectors *accept* frequency within ±1.5 % and *reject* beyond
    ±3.5 %; between the two either answer is allowed. The validator puts its
    decision threshold at the midpoint, so both promises hold with margin for
    measurement error. Duration works the same way: accepted within
    ``max(duration_ms, duration_pct)`` of nominal, rejected when off by
    ``duration_reject_pct``, decided at the midpoint.
    """

    frequency_pct: float = Field(default=1.5, gt=0.0, le=20.0)
    frequency_reject_pct: float = Field(default=3.5, gt=0.0, le=30.0)
    duration_ms: float = Field(default=20.0, ge=0.0)
    duration_pct: float = Field(default=10.0, ge=0.0, le=100.0)
    duration_reject_pct: float = Field(default=20.0, ge=0.0, le=200.0)
    level_db: float | None = Field(
        default=6.0, ge=0.0, description="±dB around the nominal level; null: not checked"
    )
    min_level_dbm0: float = Field(default=-45.0, description="quieter components count as absent")
    min_tone_to_rest_db: float = Field(
        default=0.0,
        description="broadband: tone power over everything else (0–4 kHz) in the segment's window",
    )
    min_tone_dominance_db: float = Field(
        default=10.0,
        description="narrowband: every tone component over the strongest other spectral band of the "
        "same (~62 Hz) width in the segment's window",
    )
    min_edge_contrast_db: float | None = Field(
        default=10.0,
        description="a burst's level at its frequency over the level just before or after it (the cleaner "
        "side, ~30 ms windows): a switched tone, not a vowel's held harmonic or a ringing note; null: not "
        "checked. Same-frequency bursts less than ~55 ms apart need it lower.",
    )
    max_start_delay_ms: float | None = Field(
        default=1000.0, ge=0.0, description="latest first-segment start after call start; null: not checked"
    )
    modulation_pct: float = Field(default=20.0, gt=0.0, description="±% on a profile's modulation frequency")

    @model_validator(mode="after")
    def _reject_beyond_accept(self) -> Tolerances:
        if self.frequency_reject_pct < self.frequency_pct:
            raise ValueError("frequency_reject_pct must be at least frequency_pct")
        return self

    def frequency_threshold_pct(self) -> float:
        """Relative frequency error (%) at which the validator starts failing a segment."""
        return (self.frequency_pct + self.frequency_reject_pct) / 2.0

    def duration_threshold_ms(self, nominal_ms: float) -> float:
        """Largest accepted |measured − nominal| duration for a segment of ``nominal_ms``."""
        accept = max(self.duration_ms, nominal_ms * self.duration_pct / 100.0)
        reject = nominal_ms * self.duration_reject_pct / 100.0
        return accept if reject <= accept else (accept + reject) / 2.0


PatternKind = Literal["fixed", "cadence"]
"""How a profile's bursts relate to the rest of the recording (`ParametricProfile.pattern`)."""


class ParametricProfile(_Model):
    """A tone described by its segments; rendered exactly and validated by measurement.

    ``pattern`` is the one rule for what may follow the segments, because a tester needs the same
    answer for the same situation whatever the tone:

    * ``"fixed"`` (an identification tone): the segments are played exactly once. An extra burst, a
      repeat of the whole pattern, or a second, different tone right after it each fail with their
      own reason (``extra_burst``, ``pattern_repeated``, ``second_tone``).
    * ``"cadence"`` (busy, ringback, congestion): the expanded segments are the *least* that must be
      heard (``too_few_cycles`` otherwise); they repeat as a cycle until the recording ends, and every
      further burst is checked like the first ones. A burst off the cadence fails ``cadence_broken``;
      the tone may stop (the network or the call ended it), and the last burst may be cut by the
      recording's end.
    """

    kind: Literal["parametric"] = "parametric"
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    description: str = ""
    pattern: PatternKind = "fixed"
    segments: list[Segment] = Field(min_length=1)
    tolerances: Tolerances = Field(default_factory=Tolerances)

    @property
    def max_components(self) -> int:
        return max(len(s.components) for s in self.segments)

    def expected(self) -> list[ExpectedSegment]:
        """The segments in play order with repeats expanded and start times from the tone's start."""
        out: list[ExpectedSegment] = []
        t = 0.0
        for index, seg in enumerate(self.segments):
            for _ in range(seg.repeat):
                out.append(ExpectedSegment(index, t, seg))
                t += seg.duration_ms + seg.gap_ms
        return out

    def total_ms(self) -> float:
        return sum((s.duration_ms + s.gap_ms) * s.repeat for s in self.segments)

    def with_offsets(
        self, *, frequency_factor: float = 1.0, duration_factor: float = 1.0, level_offset_db: float = 0.0
    ) -> ParametricProfile:
        """A copy with every frequency, duration and level moved: for impaired test tones.

        Rendering ``p.with_offsets(frequency_factor=1.05)`` gives a tone 5 % sharp
        that validation against ``p`` must reject.
        """
        segments = [
            s.model_copy(
                update={
                    "duration_ms": s.duration_ms * duration_factor,
                    "components": [
                        Component(
                            frequency_hz=c.frequency_hz * frequency_factor,
                            level_dbm0=c.level_dbm0 + level_offset_db,
                        )
                        for c in s.components
                    ],
                }
            )
            for s in self.segments
        ]
        return self.model_copy(update={"segments": segments})

    def with_tolerances(self, **changes: Any) -> ParametricProfile:
        """A copy with some tolerances replaced (validated)."""
        merged = self.tolerances.model_dump() | changes
        return self.model_copy(update={"tolerances": Tolerances.model_validate(merged)})


@dataclass(frozen=True)
class ExpectedSegment:
    """One burst of a parametric profile, in play order (repeats expanded)."""

    segment_index: int
    start_ms: float
    segment: Segment


class ReferenceTolerances(_Model):
    """How close received audio must be to the reference recording.

    The correlations are blind to gain and to small timing errors, so level and duration are checked
    on their own, with the same defaults as a parametric profile's `Tolerances`: the recording is the
    nominal tone, its level the nominal level.
    """

    min_envelope_correlation: float = Field(default=0.9, ge=-1.0, le=1.0)
    min_spectrum_correlation: float = Field(default=0.9, ge=-1.0, le=1.0)
    max_start_delay_ms: float | None = Field(default=1000.0, ge=0.0)
    level_db: float | None = Field(
        default=6.0, ge=0.0, description="±dB of received level around the recording's; null: not checked"
    )
    duration_ms: float | None = Field(
        default=20.0, ge=0.0, description="accepted |duration error| (at least); null: duration not checked"
    )
    duration_pct: float = Field(
        default=10.0, ge=0.0, le=100.0, description="accepted |error| in % of nominal"
    )

    def duration_threshold_ms(self, nominal_ms: float) -> float | None:
        """Largest accepted |measured − nominal| duration of the tone, None when not checked."""
        if self.duration_ms is None:
            return None
        return max(self.duration_ms, nominal_ms * self.duration_pct / 100.0)


class ReferenceProfile(_Model):
    """The licensed official recording; validation correlates received audio against it.

    ``recording`` is a WAV path, relative to the profile file's directory when
    not absolute.
    """

    kind: Literal["reference"] = "reference"
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    description: str = ""
    recording: Path
    tolerances: ReferenceTolerances = Field(default_factory=ReferenceTolerances)


Profile = Annotated[ParametricProfile | ReferenceProfile, Field(discriminator="kind")]
_PROFILE_ADAPTER: TypeAdapter[ParametricProfile | ReferenceProfile] = TypeAdapter(Profile)


class ProfileError(ValueError):
    """A profile file or name that cannot be used; the message names it and says why."""


def parse_profile(data: dict[str, Any], *, source: str = "<data>", base_dir: Path | None = None) -> Profile:
    """Validate a profile from already-parsed TOML/JSON data."""
    data = dict(data)
    data.setdefault("kind", "parametric")
    try:
        profile = _PROFILE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{source}: invalid profile at {where or 'top level'}: {first['msg']}") from exc
    if isinstance(profile, ReferenceProfile) and base_dir is not None and not profile.recording.is_absolute():
        profile = profile.model_copy(update={"recording": base_dir / profile.recording})
    return profile


def load_profile_file(path: str | Path) -> Profile:
    """Load a profile from a ``.toml`` or ``.json`` file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read profile: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw) if p.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProfileError(
            f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{p}: a profile must be a table/object")
    return parse_profile(data, source=str(p), base_dir=p.parent)


def _builtin_files() -> Iterator[tuple[str, str]]:
    folder = resources.files("sipcheck.tones").joinpath("profiles")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            yield entry.name, entry.read_text(encoding="utf-8")


def builtin_profiles() -> dict[str, Profile]:
    """The profiles shipped with sipcheck, by id (``jp-busy``, ``jp-ringback``, ``itu-sit``,
    ``example-call-start``)."""
    out: dict[str, Profile] = {}
    for name, text in _builtin_files():
        profile = parse_profile(tomllib.loads(text), source=f"built-in {name}")
        out[profile.id] = profile
    return out


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by id, or a profile file by path (``.toml``/``.json``).

    This is what the SIP agent calls with its ``sip.tone_profile`` setting
    (default ``example-call-start``).
    """
    text = str(name_or_path)
    builtins = builtin_profiles()
    if text in builtins:
        return builtins[text]
    p = Path(text)
    if p.suffix.lower() in {".toml", ".json"} or p.exists():
        return load_profile_file(p)
    raise ProfileError(f"unknown tone profile {text!r}: built-in profiles are {', '.join(sorted(builtins))}")
