"""The HTML report in headless Chromium: every chart decodes, the totals and the names are on the page.

Drives ``chromium --headless`` the way tests/tones/test_tones_report.py does; chromium is a test
dependency (`scripts/test` installs it), so it is required here, not skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from reportdata import JST, MONTH_END, MONTH_START, Month

from sipcheck.report import aggregate, read_batches
from sipcheck.report.aggregate import Report
from sipcheck.report.render import write_html

GENERATED = datetime(2026, 12, 2, 10, 0, tzinfo=JST)
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.dataset.images = String(imgs.length);
  document.body.dataset.decoded = String(imgs.filter(i => i.complete && i.naturalWidth > 0).length);
  document.body.dataset.widths = imgs.map(i => i.naturalWidth).join(",");
  document.body.dataset.designated = String(document.querySelectorAll("#designated tbody tr").length);
  document.body.dataset.days = String(document.querySelectorAll("#days tbody tr").length);
});
</script>"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("chromium")
    assert found, "chromium is required (scripts/test installs it: apt-get install chromium)"
    base = [found, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage"]
    return subprocess.run([*base, *args], capture_output=True, text=True, encoding="utf-8", timeout=180)


@pytest.fixture(scope="module")
def page(month: Month, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    report = aggregate(read_batches(month.screened), since=MONTH_START, until=MONTH_END, top=10)
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_html(report, path, generated_at=GENERATED, title="JUSA 申告窓口 2026年11月")
    return path, report


def test_dom_has_totals_names_and_decoded_charts(page: tuple[Path, Report], tmp_path: Path) -> None:
    path, report = page
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', body.group(1)))
    assert attrs["images"] == attrs["decoded"] == "3", attrs
    assert set(attrs["widths"].split(",")) == {"864"}, "12 in x 72 dpi"
    assert attrs["designated"] == str(len(report.designated))
    assert attrs["days"] == "30"
    total = report.total
    assert f'data-row="calls"><td class="key">calls</td><td class="n" data-count="{total.calls}">' in dom
    assert f"{total.calls:,}" in dom and f"{total.blocked:,}" in dom and f"{total.flagged:,}" in dom
    top = report.designated[0].key
    assert any("\u3040" <= ch <= "\u9fff" for ch in top), top
    assert f'<td class="key">{top}</td>' in dom
    assert "JUSA 申告窓口 2026年11月" in dom
    assert "2026-12-02 10:00:00 JST" in dom


def test_screenshot_is_not_blank(page: tuple[Path, Report], tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--hide-scrollbars", "--window-size=1200,1600", page[0].as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 20.0, "more than a blank page"
    dark = (pixels.max(axis=2) < 80).mean()  # text
    red = (
        (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    ).mean()  # blocked rows' marks
    assert dark > 0.005 and red > 0.0005, (dark, red)
