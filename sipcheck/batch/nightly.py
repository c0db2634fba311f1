"""Screening a directory of call-record files as a nightly job: each file once per data version.

`screen_tree` screens every CDR file under the inputs (files, directories searched recursively,
or glob patterns) into ``out_dir``, mirroring their layout, and records each in a manifest
(``out_dir/.sipcheck-screened.json``): the input's size and modification time, the data version
it was screened with, and its summary. A file is screened again only when it changed or the data
did (a new designation list changes verdicts), so the same cron line can run every night. The
manifest is rewritten after each file (atomically), so a job killed halfway resumes where it stopped.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sipcheck.batch.cluster import jobs_for
from sipcheck.batch.csvio import BatchError, BatchSummary

MANIFEST: Final = ".sipcheck-screened.json"
_CDR_SUFFIXES: Final = (".csv", ".parquet", ".pq", ".parq")
_COMPRESSED: Final = (".gz", ".gzip", ".zst", ".zstd", ".bz2", ".lz4")


def is_cdr_file(path: Path) -> bool:
    """A name `columnar.FileKind` reads: .csv (optionally compressed) or .parquet."""
    name = path.name.lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.endswith(_CDR_SUFFIXES) and not path.name.startswith(".")


def find_inputs(items: Sequence[str]) -> list[Path]:
    """Every CDR file the items name: files as given, directories searched recursively, globs
    expanded; sorted, each once. An item that names nothing is an error (a typo in a cron line
    must not pass as "nothing to do")."""
    found: set[Path] = set()
    for item in items:
        path = Path(item)
        if path.is_file():
            found.add(path.resolve())
        elif path.is_dir():
            found.update(p.resolve() for p in path.rglob("*") if p.is_file() and is_cdr_file(p))
        else:
            matches = [Path(m) for m in glob.glob(item, recursive=True)]
            files = [m.resolve() for m in matches if m.is_file() and is_cdr_file(m)]
            if not files:
                raise BatchError(f"{item}: no such file, directory or matching call-record files")
            found.update(files)
    return sorted(found)


@dataclass
class TreeSummary:
    """What one run did: files screened, files skipped as already screened, and the totals."""

    screened: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        by_action: dict[str, int] = {}
        for entry in self.screened:
            for action, count in entry["by_action"].items():
                by_action[action] = by_action.get(action, 0) + count
        return {
            "files_screened": len(self.screened),
            "files_skipped": len(self.skipped),
            "rows": sum(entry["rows"] for entry in self.screened),
            "by_action": by_action,
            "bad_rows": sum(entry["bad_rows"] for entry in self.screened),
            "screened": self.screened,
            "skipped": self.skipped,
        }


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BatchError(
            f"{path}: unreadable manifest ({exc}); move it away to screen everything again"
        ) from exc
    if not isinstance(data, dict):
        raise BatchError(f"{path}: not a manifest (expected an object)")
    return data


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    path = out_dir / MANIFEST
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def screen_tree(
    inputs: Iterable[Path],
    out_dir: Path,
    data_version: str,
    screen: Callable[[Path, Path], BatchSummary],
    *,
    suffix: str | None = None,
    force: bool = False,
) -> TreeSummary:
    """Screen each input with ``screen(src, dst)`` unless the manifest says it was screened, unchanged,
    with ``data_version`` (``force``: screen all). See the module docstring."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out_dir)
    summary = TreeSummary()
    for job in jobs_for(list(inputs), out_dir, suffix):
        src, dst = Path(job.src), Path(job.dst)
        key = str(src)
        seen = manifest.get(key)
        current = {**_stamp(src), "data_version": data_version, "output": str(dst)}
        if (
            not force
            and isinstance(seen, dict)
            and dst.exists()
            and all(seen.get(k) == v for k, v in current.items())
        ):
            summary.skipped.append(key)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        result = screen(src, dst).to_dict()
        result.pop("bad", None)  # the manifest keeps counts; the run's own output lists the rows
        manifest[key] = {**current, "summary": result}
        _write_manifest(out_dir, manifest)
        summary.screened.append(result)
    return summary


__all__ = ["MANIFEST", "TreeSummary", "find_inputs", "is_cdr_file", "read_manifest", "screen_tree"]
