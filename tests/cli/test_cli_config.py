"""The settings: one object, a file, the environment, and an example that cannot drift."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sipcheck.cli.config import render_toml
from sipcheck.cli.main import main
from sipcheck.settings import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "sipcheck.example.toml"


def test_example_file_is_the_generated_defaults() -> None:
    generated = render_toml(Settings(_env_prefix="SIPCHECK_DEFAULTS_ONLY_"), defaults=True)  # type: ignore[call-arg]
    assert EXAMPLE.read_text(encoding="utf-8") == generated, (
        "deploy/sipcheck.example.toml is stale: regenerate it with "
        "`sipcheck config show --defaults > deploy/sipcheck.example.toml`"
    )


def test_example_file_loads_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SIPCHECK_"):
            monkeypatch.delenv(name)
    loaded = load_settings(EXAMPLE)
    assert loaded.model_dump(exclude={"data_dir"}) == Settings().model_dump(exclude={"data_dir"})


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "s.toml"
    config.write_text('[redis]\nurl = "redis://file:6379/0"\n[policy]\nreject_code = 603\n', encoding="utf-8")
    monkeypatch.setenv("SIPCHECK_REDIS__URL", "redis://env:6379/0")
    settings = load_settings(config)
    assert settings.redis.url == "redis://env:6379/0"
    assert settings.policy.reject_code == 603


def test_unknown_keys_and_bad_values_are_named(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("[redis]\nurll = 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="urll"):
        load_settings(config)
    config.write_text("[policy]\nreject_code = 200\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reject_code"):
        load_settings(config)
    config.write_text("[policy\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_settings(config)


def test_cli_reports_a_bad_settings_file_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sipcheck.cli.main import main
    from sipcheck.settings import get_settings

    config = tmp_path / "bad.toml"
    config.write_text("[redis]\nurll = 'x'\n", encoding="utf-8")
    try:
        assert main(["--config", str(config), "data", "status"]) == 4
    finally:
        import sipcheck.settings as settings_module

        settings_module._config_file = None
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "bad settings" in err and "redis.urll" in err and "Traceback" not in err


def test_show_never_prints_a_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sipcheck.toml"
    config.write_text(
        '[redis]\nurl = "redis://ops:s3cret-pw@127.0.0.1:6390/2"\n'
        '[http.tokens]\n"noc" = "tok-abcdef0123456789"\n"ops" = "tok-ghijkl9876543210"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "config", "show"]) == 0
    out = capsys.readouterr().out
    for secret in ("s3cret-pw", "tok-abcdef0123456789", "tok-ghijkl9876543210"):
        assert secret not in out
    assert 'url = "redis://ops:***@127.0.0.1:6390/2"' in out
    assert '# "noc" = (hidden: a secret is never printed)' in out and '# "ops" =' in out
    # The output, used as a settings file, loads and grants nothing.
    shown = tmp_path / "shown.toml"
    shown.write_text(out, encoding="utf-8")
    assert main(["--config", str(shown), "config", "show"]) == 0
    assert "tok-" not in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`sipcheck config show | head -0`: the reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sipcheck.cli.main", "config", "show", "--defaults"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.stderr.decode() == ""
    assert proc.returncode == 141
