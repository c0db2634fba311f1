"""``sipcheck tone report``: many real recordings in, counts and reasons in JSON, an HTML page that a
real browser (headless Chromium) renders with every row and every plot decoded.

The campaign: recordings rendered from profiles through real G.711 (the project's codec), some
passing, some failing (wrong frequency, too quiet), one corrupt WAV, one empty file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sipcheck.cli.main import main
from sipcheck.cli.tone import _Progress
from sipcheck.tones import Codec, ParametricProfile, g711_encode, load_profile
from sipcheck.tones.levels import to_pcm16
from sipcheck.tones.render import g711_pcap
from sipcheck.tones.report import Entry, Report, render_html
from sipcheck.tones.synth import synthesize
from sipcheck.tones.wavio import wav_bytes

PROFILE = "example-call-start"
PASSING = ("call-01-pcmu.pcap", "call-02-pcma.pcap", "call-03.ulaw", "call-04-16k.wav")
FAILING = {"call-05-sharp.ulaw": "frequency_out_of_tolerance", "call-06-quiet.alaw": "level_out_of_tolerance"}
BROKEN = {"call-07-corrupt.wav": "data chunk before fmt chunk", "call-08-empty.pcap": "empty file"}
ALL = (*PASSING, *FAILING, *BROKEN)


def _profile() -> ParametricProfile:
    p = load_profile(PROFILE)
    assert isinstance(p, ParametricProfile)
    return p


def _g711(played: ParametricProfile, codec: Codec) -> bytes:
    """G.711 bytes of a recording from answer: 200 ms of silence, the tone, 1 s of silence."""
    x = synthesize(played, 8000, lead_ms=200, tail_ms=1000)
    return g711_encode(to_pcm16(x), codec)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("campaign")
    p = _profile()
    (folder / "call-01-pcmu.pcap").write_bytes(g711_pcap(_g711(p, "pcmu"), "pcmu"))
    (folder / "call-02-pcma.pcap").write_bytes(g711_pcap(_g711(p, "pcma"), "pcma"))
    (folder / "call-03.ulaw").write_bytes(_g711(p, "pcmu"))
    (folder / "call-04-16k.wav").write_bytes(wav_bytes(synthesize(p, 16000, lead_ms=100), 16000))
    (folder / "call-05-sharp.ulaw").write_bytes(_g711(p.with_offsets(frequency_factor=1.05), "pcmu"))
    (folder / "call-06-quiet.alaw").write_bytes(_g711(p.with_offsets(level_offset_db=-30.0), "pcma"))
    (folder / "call-07-corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEdata\x00\x00\x00\x00")
    (folder / "call-08-empty.pcap").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def report_dir(campaign: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full report over the campaign, in worker processes."""
    out = tmp_path_factory.mktemp("report")
    files = [str(campaign / name) for name in ALL]
    assert main(["tone", "report", *files, "--profile", PROFILE, "--jobs", "2", "--out", str(out)]) == 1
    return out


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(f["file"]).name: f for f in data["files"]}


def test_json_counts_and_reasons(report_dir: Path) -> None:
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert data["profile"] == PROFILE
    assert data["counts"] == {"pass": 4, "fail": 2, "inconclusive": 0, "error": 2, "total": 8}
    assert data["outcome"] == "fail"
    files = _by_name(data)
    assert [Path(f["file"]).name for f in data["files"]] == list(ALL), "the order the files were given"
    for name in PASSING:
        assert files[name]["outcome"] == "pass", files[name]["reasons"]
        assert files[name]["reasons"] == [] and files[name]["plot"] is True
        assert files[name]["result"]["passed"] is True
    for name, code in FAILING.items():
        entry = files[name]
        assert entry["outcome"] == "fail"
        assert set(entry["failure_codes"]) == {code}
        assert len(entry["reasons"]) == 2 and all(r.startswith("burst ") for r in entry["reasons"])
        assert entry["plot"] is True
    assert "1050.0 Hz" in files["call-05-sharp.ulaw"]["reasons"][0]
    assert (
        "level -40" in files["call-06-quiet.alaw"]["reasons"][0]
        or "level -39" in (files["call-06-quiet.alaw"]["reasons"][0])
    )
    for name, problem in BROKEN.items():
        entry = files[name]
        assert entry["outcome"] == "error" and entry["result"] is None and entry["plot"] is False
        assert name in entry["error"] and problem in entry["error"]
    # The pcaps' call start is their SIP 200 OK, found in the worker as by `tone verify`.
    assert files["call-01-pcmu.pcap"]["result"]["call_start_source"] == "sip-200-ok"
    assert "PCMA" in files["call-02-pcma.pcap"]["stream"]


def test_json_matches_tone_verify(
    report_dir: Path, campaign: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report's verdicts are `tone verify`'s, file by file (one verifier, not two)."""
    data = _by_name(json.loads((report_dir / "report.json").read_text(encoding="utf-8")))
    capsys.readouterr()
    for name in (*PASSING, *FAILING):
        code = main(["tone", "verify", str(campaign / name), "--profile", PROFILE, "--json"])
        verified = json.loads(capsys.readouterr().out)
        assert verified["outcome"] == data[name]["outcome"]
        assert verified["failure_codes"] == data[name]["failure_codes"]
        assert code == (0 if verified["outcome"] == "pass" else 1)


def test_html_is_self_contained(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all(x.startswith(("data:image/png;base64,", "#")) for x in links), set(links) - {
        x for x in links if x.startswith(("data:", "#"))
    }
    assert page.count('<tr class="entry"') == 8
    assert page.count("data:image/png;base64,") == 6


def test_all_passing_exit_zero_in_process_without_workers(campaign: Path, tmp_path: Path) -> None:
    files = [str(campaign / name) for name in PASSING]
    assert (
        main(
            [
                "tone",
                "report",
                *files,
                "--profile",
                PROFILE,
                "--jobs",
                "1",
                "--no-plot",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["counts"]["pass"] == 4 and data["jobs"] == 1
    assert all(f["plot"] is False for f in data["files"])
    assert "data:image/png" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_unreadable_file_alone_exits_as_bad_input(campaign: Path, tmp_path: Path) -> None:
    files = [str(campaign / PASSING[0]), str(campaign / "call-07-corrupt.wav"), str(tmp_path / "missing.wav")]
    assert (
        main(["tone", "report", *files, "--profile", PROFILE, "--no-plot", "--out", str(tmp_path / "r")]) == 4
    )
    data = _by_name(json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8")))
    assert data["missing.wav"]["outcome"] == "error" and "cannot read" in data["missing.wav"]["error"]
    assert data[PASSING[0]]["outcome"] == "pass"


def test_folder_argument_and_usage_errors(
    campaign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["tone", "report", str(campaign), "--profile", PROFILE, "--no-plot", "--out", str(tmp_path)])
        == 1
    )
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["counts"]["total"] == 8, "a folder stands for the recordings in it"
    capsys.readouterr()
    assert main(["tone", "report", str(campaign), "--profile", "nope", "--out", str(tmp_path)]) == 4
    assert "unknown tone profile 'nope'" in capsys.readouterr().err
    assert main(["tone", "report", str(campaign), "--profile", PROFILE, "--jobs", "0"]) == 4
    empty = tmp_path / "no-recordings"
    empty.mkdir()
    assert main(["tone", "report", str(empty), "--profile", PROFILE, "--out", str(tmp_path)]) == 4
    assert "no recording or capture found" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["tone", "report", str(campaign), "--profile", PROFILE, "--out", str(blocker / "sub")]) == 4
    assert "cannot create the report folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["tone", "report", "--profile", PROFILE])
    assert exc.value.code == 2, "argparse's usage error: FILES are required"


def test_subprocess_plain_counter_on_stderr(campaign: Path, tmp_path: Path) -> None:
    """Not a terminal: one line per file on stderr, the summary on stdout."""
    files = [str(campaign / name) for name in (PASSING[0], "call-05-sharp.ulaw", "call-08-empty.pcap")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    opts = ["--jobs", "2", "--no-plot", "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", "tone", "report", *files, "--profile", PROFILE, *opts],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert sorted(line.split("]")[0] for line in lines) == ["[1/3", "[2/3", "[3/3"]
    assert sum("FAIL" in line for line in lines) == 1 and sum("ERROR" in line for line in lines) == 1
    assert "\r" not in done.stderr
    assert "3 files against example-call-start: 1 pass, 1 fail, 0 inconclusive, 1 unreadable" in done.stdout
    assert (tmp_path / "report.html").exists()


def test_progress_bar_on_a_terminal() -> None:
    """On a real pseudo-terminal the progress is one bar redrawn in place."""
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        progress = _Progress(tty)
        assert progress.tty
        for done, outcome in ((1, "pass"), (2, "fail"), (3, "pass"), (4, "pass")):
            progress(done, 4, Entry(file=f"f{done}.wav", outcome=outcome))
    written = b""
    while chunk := _read_available(master):
        written += chunk
    os.close(master)
    text = written.decode()
    assert text.count("\r[") == 4
    assert "[" + "#" * 15 + "-" * 15 + "] 2/4 files, 1 not passed" in text
    assert text.rstrip().endswith("[" + "#" * 30 + "] 4/4 files, 1 not passed")


def _read_available(fd: int) -> bytes:
    import select

    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def test_html_escapes_file_names() -> None:
    report = Report(PROFILE, "x", (Entry(file="<b>&evil.wav", outcome="error", reasons=("<i>bad</i>",)),))
    page = render_html(report)
    assert "<b>&evil" not in page and "&lt;b&gt;&amp;evil.wav" in page and "&lt;i&gt;bad" in page


# --- headless Chromium --------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            capture_output=True,
            env=env,
            timeout=1200,
        )
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip("chromium is not installed and could not be installed (apt-get install chromium)")


CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.dataset.images = String(imgs.length);
  document.body.dataset.decoded = String(imgs.filter(i => i.complete && i.naturalWidth > 0).length);
  document.body.dataset.widths = imgs.map(i => i.naturalWidth).join(",");
  document.body.dataset.rows = String(document.querySelectorAll("#summary tbody tr").length);
});
</script>"""


def _run_chromium(args: list[str]) -> subprocess.CompletedProcess[str]:
    base = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage"]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=180)


def test_chromium_renders_rows_and_decodes_every_plot(report_dir: Path, tmp_path: Path) -> None:
    # A copy with a probe script: the report itself has none.
    page = (
        (report_dir / "report.html").read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>")
    )
    probe = tmp_path / "probe.html"
    probe.write_text(page, encoding="utf-8")
    done = _run_chromium(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()])
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', body.group(1)))
    assert attrs.get("rows") == "8", attrs
    assert attrs.get("images") == "6" and attrs.get("decoded") == "6", attrs
    # The plots are 12 in × 72 dpi wide.
    assert set(attrs["widths"].split(",")) == {"864"}
    rows = re.findall(r'<tr class="entry" data-file="([^"]+)" data-outcome="([a-z]+)"', dom)
    assert sorted((Path(f).name, o) for f, o in rows) == sorted(
        [(n, "pass") for n in PASSING] + [(n, "fail") for n in FAILING] + [(n, "error") for n in BROKEN]
    )
    assert [o for _, o in rows] == ["fail"] * 2 + ["error"] * 2 + ["pass"] * 4, "what needs attention first"
    assert re.search(r'id="count-fail" data-count="2"', dom)


def test_chromium_screenshot_is_not_blank(report_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    done = _run_chromium(
        [f"--screenshot={shot}", "--window-size=1200,2000", (report_dir / "report.html").as_uri()]
    )
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 20.0, "more than a blank page"
    # The first plot (a failing file) is on screen: the spectrogram's near-black and the red of FAIL.
    dark = (pixels.max(axis=2) < 30).mean()
    red = ((pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)).mean()
    assert dark > 0.02 and red > 0.0005, (dark, red)
