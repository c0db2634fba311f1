"""Profiles: built-ins, TOML/JSON files, validation errors, tolerance arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sipcheck.tones.profiles import (
    ParametricProfile,
    ProfileError,
    ReferenceProfile,
    Tolerances,
    builtin_profiles,
    load_profile,
    load_profile_file,
)

EXAMPLE_TOML = """
id = "my-tone"
name = "Mine"
[[segments]]
duration_ms = 200
gap_ms = 100
repeat = 3
components = [{ frequency_hz = 852.0, level_dbm0 = -12.0 }, { frequency_hz = 1336.0, level_dbm0 = -10.0 }]
[tolerances]
frequency_pct = 1.5
level_db = 3
"""


def test_builtin_ids() -> None:
    assert set(builtin_profiles()) == {"jp-busy", "jp-ringback", "itu-sit", "example-call-start"}


def test_example_says_plainly_it_is_not_the_official_tone() -> None:
    p = load_profile("example-call-start")
    assert "NOT the official JUSA" in p.description
    assert "example" in p.description.lower()


def test_ringback_is_modulated_400hz() -> None:
    p = load_profile("jp-ringback")
    assert isinstance(p, ParametricProfile)
    assert p.segments[0].components[0].frequency_hz == 400
    assert p.segments[0].modulation is not None and p.segments[0].modulation.frequency_hz == 16


def test_toml_and_json_files_load_the_same(tmp_path: Path) -> None:
    toml_path = tmp_path / "p.toml"
    toml_path.write_text(EXAMPLE_TOML)
    a = load_profile(str(toml_path))
    json_path = tmp_path / "p.json"
    json_path.write_text(json.dumps(a.model_dump(mode="json")))
    b = load_profile_file(json_path)
    assert a == b
    assert isinstance(a, ParametricProfile)
    assert [e.start_ms for e in a.expected()] == [0, 300, 600]
    assert a.max_components == 2


def test_invalid_profile_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(EXAMPLE_TOML.replace("852.0", "9000.0"))
    with pytest.raises(ProfileError, match=r"bad\.toml.*frequency_hz"):
        load_profile(path)


def test_bad_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("id = ")
    with pytest.raises(ProfileError, match=r"broken\.toml: not valid TOML"):
        load_profile(path)


def test_too_many_components_rejected(tmp_path: Path) -> None:
    comps = ", ".join(f"{{ frequency_hz = {f} }}" for f in (400, 500, 600, 700))
    path = tmp_path / "four.toml"
    path.write_text(f'id = "x"\nname = "x"\n[[segments]]\nduration_ms = 100\ncomponents = [{comps}]\n')
    with pytest.raises(ProfileError, match="components"):
        load_profile(path)


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(ProfileError, match="jp-busy"):
        load_profile("no-such-tone")


def test_reference_profile_resolves_recording_next_to_file(tmp_path: Path) -> None:
    path = tmp_path / "official.toml"
    path.write_text('kind = "reference"\nid = "official"\nname = "x"\nrecording = "tone.wav"\n')
    p = load_profile(path)
    assert isinstance(p, ReferenceProfile)
    assert p.recording == tmp_path / "tone.wav"


def test_tolerance_thresholds_sit_between_accept_and_reject() -> None:
    t = Tolerances()
    assert t.frequency_threshold_pct() == pytest.approx(2.5)
    assert t.duration_threshold_ms(150) == pytest.approx(25.0)  # accept 20 ms, reject 30 ms
    assert t.duration_threshold_ms(500) == pytest.approx(75.0)  # accept 50 ms, reject 100 ms
    assert t.duration_threshold_ms(50) == pytest.approx(20.0)  # reject (10 ms) inside accept: accept wins
    with pytest.raises(ValueError):
        Tolerances(frequency_pct=4, frequency_reject_pct=3)


def test_with_offsets_moves_every_component() -> None:
    p = load_profile("itu-sit")
    assert isinstance(p, ParametricProfile)
    q = p.with_offsets(frequency_factor=1.05, duration_factor=0.8, level_offset_db=-6)
    assert [s.components[0].frequency_hz for s in q.segments] == pytest.approx([997.5, 1470, 1890])
    assert q.segments[0].duration_ms == pytest.approx(264)
    assert q.segments[0].components[0].level_dbm0 == pytest.approx(-20)


def test_pattern_rule_is_declared_and_validated(tmp_path: Path) -> None:
    assert load_profile_file(_write(tmp_path, "t.toml", EXAMPLE_TOML)).pattern == "fixed"  # type: ignore[union-attr]
    cadence = _write(tmp_path, "c.toml", 'pattern = "cadence"\n' + EXAMPLE_TOML)
    assert load_profile_file(cadence).pattern == "cadence"  # type: ignore[union-attr]
    bogus = _write(tmp_path, "b.toml", 'pattern = "forever"\n' + EXAMPLE_TOML)
    with pytest.raises(ProfileError, match=r"invalid profile at parametric\.pattern"):
        load_profile_file(bogus)
    kinds = {pid: p.pattern for pid, p in builtin_profiles().items() if isinstance(p, ParametricProfile)}
    assert kinds == {
        "jp-busy": "cadence",
        "jp-ringback": "cadence",
        "itu-sit": "fixed",
        "example-call-start": "fixed",
    }


def test_reference_tolerances_check_level_and_duration_by_default(tmp_path: Path) -> None:
    text = 'kind = "reference"\nid = "r"\nname = "R"\nrecording = "r.wav"\n'
    profile = load_profile_file(_write(tmp_path, "r.toml", text))
    assert isinstance(profile, ReferenceProfile)
    assert profile.tolerances.level_db == 6.0
    assert profile.tolerances.duration_threshold_ms(100.0) == 20.0
    assert profile.tolerances.duration_threshold_ms(1000.0) == 100.0
    off = profile.tolerances.model_copy(update={"duration_ms": None})
    assert off.duration_threshold_ms(1000.0) is None


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
