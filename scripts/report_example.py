"""Make docs/images/report-example.png: a month of synthetic traffic, screened, reported, screenshotted.

    PYTHONPATH=. .venv/bin/python scripts/report_example.py [OUT.png]

50,000 calls over November 2026 (JST) from `sipcheck.batch.synthetic` (real MIC blocks, synthetic
operators' certifications, suspensions and trunks), screened for real with `screen_csv`, then
`sipcheck report --html` (clock fixed by SIPCHECK_FIXED_NOW) and headless Chromium's screenshot.
Independent of the tests; needs chromium on PATH, and a Japanese font (fonts-ipafont-gothic) for the names.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

JST = timezone(timedelta(hours=9))
PEERS = (
    "trunk-certified",
    "trunk-provisional",
    "trunk-revoked",
    "10.0.0.7",
    "trunk-ghost",
    "not-a-trunk",
    "",
)


def _crop_page(shot: Path, out: Path) -> None:
    """The page without the blank window below it."""
    import numpy as np
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    pixels = np.asarray(image)
    used = np.flatnonzero((pixels < 245).any(axis=(1, 2)))
    bottom = int(used[-1]) + 40 if used.size else image.height
    page = image.crop((0, 0, image.width, min(bottom, image.height)))
    page.quantize(colors=128).save(out, optimize=True)  # a screenshot: a palette keeps it small


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/report-example.png").resolve()
    os.environ["SIPCHECK_FIXED_NOW"] = "2026-12-02T10:00:00+09:00"
    from sipcheck.batch import load_tables, screen_csv
    from sipcheck.batch.synthetic import SAMPLE_DAY, mixed_numbers, synthetic_parts
    from sipcheck.cli.main import main as sipcheck
    from sipcheck.policy import PolicyConfig
    from sipcheck.store import MemoryStore

    parts = synthetic_parts(seed=7, suspensions=1_500)
    rng = random.Random(1)
    numbers = mixed_numbers(parts, 50_000, seed=2)
    hot = numbers[:40]
    numbers = [rng.choice(hot) if rng.random() < 0.03 else n for n in numbers]
    start = datetime(2026, 11, 1, tzinfo=JST)
    moments = sorted(start + timedelta(seconds=rng.randrange(30 * 86_400)) for _ in numbers)
    with tempfile.TemporaryDirectory() as tmp:
        cdr, screened, page = Path(tmp, "cdr.csv"), Path(tmp, "screened.csv"), Path(tmp, "report.html")
        with open(cdr, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "time", "caller", "ingress"])
            for i, (moment, number) in enumerate(zip(moments, numbers, strict=True)):
                writer.writerow([f"c{i}", moment.isoformat(), number, rng.choice(PEERS)])
        tables = load_tables(MemoryStore(parts))
        screen_csv(cdr, screened, None, PolicyConfig().compile(), SAMPLE_DAY, tables=tables, progress=False)
        title = "迷惑電話 申告: 2026年11月 (example, synthetic data)"
        os.chdir(tmp)  # the page lists its inputs: a relative name, not a temporary folder
        args = [screened.name, "--since", "2026-11-01", "--until", "2026-12-01", "--top", "10"]
        code = sipcheck(["report", *args, "--html", str(page), "--title", title])
        if code:
            return code
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            print("chromium is not on PATH", file=sys.stderr)
            return 1
        shot = Path(tmp, "shot.png")
        subprocess.run(
            [
                chromium,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                f"--screenshot={shot}",
                "--window-size=1200,8000",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
        _crop_page(shot, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
