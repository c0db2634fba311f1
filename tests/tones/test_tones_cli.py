"""`sipcheck tone ...` in-process through `main`, and once as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sipcheck.cli.main import main
from sipcheck.tones import load_profile, render
from sipcheck.tones.profiles import ParametricProfile
from sipcheck.tones.wavio import write_wav


def test_profiles_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tone", "profiles"]) == 0
    out = capsys.readouterr().out
    for name in ("jp-busy", "jp-ringback", "itu-sit", "example-call-start"):
        assert name in out
    assert main(["tone", "profiles", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {p["id"] for p in data} >= {"example-call-start"}


@pytest.mark.parametrize("fmt", ["wav", "ulaw", "alaw", "pcap"])
def test_render_then_verify(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"t.{fmt}"
    assert main(["tone", "render", "--profile", "itu-sit", "--format", fmt, "-o", str(out)]) == 0
    assert main(["tone", "verify", str(out), "--profile", "itu-sit"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_verify_off_frequency_fails_with_json_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = load_profile("example-call-start")
    assert isinstance(profile, ParametricProfile)
    wav = tmp_path / "sharp.wav"
    write_wav(wav, render(profile.with_offsets(frequency_factor=1.05), 16000), 16000)
    png = tmp_path / "plot.png"
    code = main(["tone", "verify", str(wav), "--profile", "example-call-start", "--json", "--plot", str(png)])
    assert code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False
    assert "frequency_out_of_tolerance" in result["failure_codes"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_rate_for_wav_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "t48.wav"
    assert (
        main(["tone", "render", "--profile", "jp-busy", "--format", "wav", "--rate", "48000", "-o", str(wav)])
        == 0
    )
    assert int.from_bytes(wav.read_bytes()[24:28], "little") == 48000
    code = main(
        ["tone", "render", "--profile", "jp-busy", "--format", "ulaw", "--rate", "16000", "-o", "x.ul"]
    )
    assert code == 4
    assert "wav only" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "problem"), [(b"", "empty file"), (b"RIFF\x00\x00\x00\x00WAVE", "no fmt chunk")]
)
def test_bad_input_is_one_line_error(
    tmp_path: Path, content: bytes, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    assert main(["tone", "verify", str(bad), "--profile", "jp-busy"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and problem in err and "Traceback" not in err


def test_unknown_profile_is_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["tone", "render", "--profile", "nope", "--format", "wav", "-o", str(tmp_path / "x.wav")]) == 4
    )
    assert "unknown tone profile 'nope'" in capsys.readouterr().err


def test_real_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "call.pcap"
    cmd = [sys.executable, "-m", "sipcheck.cli.main", "tone"]
    subprocess.run(
        [*cmd, "render", "--profile", "jp-ringback", "--format", "pcap", "--codec", "pcma", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [*cmd, "verify", str(out), "--profile", "jp-ringback"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout and "sip-200-ok" in done.stdout
    wrong = subprocess.run([*cmd, "verify", str(out), "--profile", "jp-busy"], capture_output=True, text=True)
    assert wrong.returncode == 1


def test_verify_of_a_pcap_that_lost_a_whole_burst_is_inconclusive(tmp_path: Path) -> None:
    """A burst lost on the wire can be neither passed nor failed: exit 3 tells the tester to call again."""
    from sipcheck.tones import pcap, render_g711
    from sipcheck.tones.render import g711_pcap

    full = g711_pcap(render_g711(load_profile("example-call-start"), "pcmu"), "pcmu")
    datagrams = pcap.parse_capture(full)
    answer = next(d.time for d in datagrams if d.payload.startswith(b"SIP/2.0 200"))
    kept = [
        (d.time, pcap.udp_frame(d.src, d.sport, d.dst, d.dport, d.payload))
        for d in datagrams
        # Drop the RTP packets of the second beep (250-410 ms after answer); keep SIP and the rest.
        if not (d.payload[:1] == b"\x80" and 0.240 <= d.time - answer <= 0.420)
    ]
    path = tmp_path / "lossy.pcap"
    path.write_bytes(pcap.pcap_bytes(kept))
    assert main(["tone", "verify", str(path), "--profile", "example-call-start"]) == 3
