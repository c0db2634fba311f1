"""`Screener.check` before and after a change, in one run: each version against its own dict.get baseline.

Runs ``bench/bench_screen.py`` of a base revision (a temporary git worktree) and of this tree in
alternating child processes, ``--rounds`` times, each on its own built-in data and its own
number mix, and prints per round the checks/s (CPU) and the ratio to the bare ``dict.get`` loop
that the same child measured; then the medians and the after/before ratio of those ratios.
The shared machine's speed drifts 2-3x within minutes, so only ratios measured side by side
mean anything: a regression shows as an after/before ratio well below 1 across rounds.

Usage: .venv/bin/python bench/bench_screen_compare.py [--base REV] [--rounds N] [--checks N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CHECK = re.compile(r"Screener\.check\s*:\s*([\d,]+) checks/s wall,\s*([\d,]+)/s CPU")
_BASE = re.compile(r"baseline dict\.get:\s*([\d,]+) lookups/s wall,\s*([\d,]+)/s CPU")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def run_one(tree: Path, checks: int, *extra: str) -> tuple[float, float, str]:
    """(checks/s CPU, dict.get/s CPU, where sipcheck was imported from) of one child run."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    code = "import sipcheck, sys; print(sipcheck.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=tree
    )
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / "bench_screen.py"), "--checks", str(checks), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
    ).stdout
    check, base = _CHECK.search(out), _BASE.search(out)
    if check is None or base is None:
        raise RuntimeError(f"unexpected output from {tree}:\n{out}")
    return _number(check.group(2)), _number(base.group(2)), where.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument(
        "--base", default="c93c046", help="the revision to compare with (default: before issue 10)"
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--checks", type=int, default=300_000)
    ap.add_argument(
        "--shape",
        default="050,0120,0800",
        help="also run this tree with only these ranges' blocks (the base's built-in data); '' to skip",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sipcheck-base-"))
    base_tree = work / "tree"
    add = ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), args.base]
    subprocess.run(add, check=True, capture_output=True)
    try:
        rows: list[tuple[float, float, float, float]] = []
        shaped: list[float] = []
        for i in range(args.rounds):
            before, before_base, where_before = run_one(base_tree, args.checks)
            after, after_base, where_after = run_one(ROOT, args.checks)
            if args.shape:
                same_shape, shape_base, _ = run_one(ROOT, args.checks, "--ranges", args.shape)
                shaped.append(same_shape / before)
                print(f"         this tree on the base's data shape ({args.shape}): {same_shape:,.0f}/s "
                      f"(dict.get {shape_base:,.0f}/s), after/before raw {shaped[-1]:.2f}")  # fmt: skip
            assert where_before.startswith(str(base_tree)) and where_after.startswith(str(ROOT)), (
                where_before,
                where_after,
            )
            rows.append((before, before_base, after, after_base))
            normalised = (after / after_base) / (before / before_base)
            print(
                f"round {i + 1}: before {before:>9,.0f}/s (dict.get {before_base:>11,.0f}/s) | after "
                f"{after:>9,.0f}/s (dict.get {after_base:>11,.0f}/s) | after/before raw "
                f"{after / before:.2f}, each over its dict.get {normalised:.2f}",
                flush=True,
            )
        ratios = [(a / ab) / (b / bb) for b, bb, a, ab in rows]
        raw = [a / b for b, _, a, _ in rows]
        print(f"base {args.base}: median {statistics.median(r[0] for r in rows):,.0f} checks/s CPU")
        print(f"this tree: median {statistics.median(r[2] for r in rows):,.0f} checks/s CPU")
        print(
            f"after/before, back to back: median {statistics.median(raw):.2f} "
            f"(range {min(raw):.2f}-{max(raw):.2f})"
        )
        print(
            f"after/before, each relative to its own dict.get: median {statistics.median(ratios):.2f} "
            f"(range {min(ratios):.2f}-{max(ratios):.2f})"
        )
        if shaped:
            print(
                "after/before raw, this tree on the base's data shape: "
                f"median {statistics.median(shaped):.2f} "
                f"(range {min(shaped):.2f}-{max(shaped):.2f})"
            )
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
