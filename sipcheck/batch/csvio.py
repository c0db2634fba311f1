"""CSV in, annotated CSV out: `screen_csv` streams a call-record file through `screen_array`.

The file is read in chunks of ``chunk_rows`` records, so memory stays bounded
by the chunk, not the file (a 10 GB CDR export screens in a few hundred MB).
Every input column is passed through untouched; the verdict columns are
appended. A malformed record (wrong field count, bytes that are not valid in
the file's encoding, a CSV syntax error) is reported with its file and line
and skipped, unless ``strict``; the run goes on, because one bad line in a
billion-row export must not cost the other rows.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Final

from tqdm import tqdm

from sipcheck.batch.screen import BatchResult, screen_array
from sipcheck.batch.tables import BatchTables, load_tables
from sipcheck.ingress import IngressMap
from sipcheck.policy import CompiledPolicy
from sipcheck.store import FactStore
from sipcheck.verdict import Action, Verdict

OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "action",
    "reasons",
    "e164",
    "kind",
    "block",
    "designated_operator",
    "designated_status",
    "serving_operator",
    "ingress_operator",
    "data_version",
)
DEFAULT_CHUNK_ROWS: Final = 200_000
KEEP_BAD_ROWS: Final = 1000
"""How many bad rows a summary lists in full; all of them are counted."""


class BatchError(ValueError):
    """The batch cannot run or was stopped: unknown column, strict mode and a bad row, unreadable file."""


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int  # physical line where the record starts, 1-based, header included
    reason: str

    def describe(self, source: str) -> str:
        return f"{source}:{self.line}: {self.reason}"


@dataclass(slots=True)
class BatchSummary:
    source: str
    rows: int = 0
    by_action: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in Action})
    bad_rows: int = 0
    bad: list[BadRow] = field(default_factory=list)
    seconds: float = 0.0
    data_version: str = ""
    engine: str = "python"
    distinct: int | None = None  # distinct (caller, ingress) pairs screened, where the engine counts them

    @property
    def rate(self) -> float:
        """Screened rows per second, wall clock, I/O included."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "by_action": dict(self.by_action),
            "bad_rows": self.bad_rows,
            "bad": [{"line": b.line, "reason": b.reason} for b in self.bad],
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rate, 1),
            "data_version": self.data_version,
            "engine": self.engine,
            "distinct": self.distinct,
        }


def signature_columns(verdict: Verdict) -> tuple[str, str, str, str, str, str, str]:
    """The per-verdict output columns (everything except the row's own e164, kind and block)."""
    by_role = {view.role: view for view in verdict.operators}
    designated = by_role.get("designated")
    serving = by_role.get("serving")
    ingress = by_role.get("ingress")
    return (
        verdict.action.value,
        ";".join(r.value for r in verdict.reasons),
        designated.name if designated else "",
        designated.status.value if designated else "",
        serving.name if serving else "",
        ingress.name if ingress else "",
        verdict.data_version,
    )


class _Lines:
    """Decoded physical lines of the input, remembering which ones had undecodable bytes.

    Decoding per line (not the whole stream) is what lets a bad byte be
    reported at its line and skipped instead of aborting the run.
    """

    def __init__(self, handle: IO[bytes] | IO[str], encoding: str) -> None:
        self.handle = handle
        self.encoding = encoding
        self.bad_lines: set[int] = set()
        self.bytes_read = 0

    def __iter__(self) -> Iterator[str]:
        first = True
        for lineno, raw in enumerate(self.handle, 1):
            if isinstance(raw, bytes):
                self.bytes_read += len(raw)
                if first and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    text = raw.decode(self.encoding)
                except UnicodeDecodeError:
                    self.bad_lines.add(lineno)
                    text = raw.decode(self.encoding, "replace")
            else:
                text = str(raw)
                self.bytes_read += len(text)
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = False
            yield text

    def any_bad(self, first_line: int, last_line: int) -> bool:
        return bool(self.bad_lines) and any(n in self.bad_lines for n in range(first_line, last_line + 1))


def _source_name(src: Path | str | IO[Any]) -> str:
    if isinstance(src, (str, Path)):
        return str(src)
    return str(getattr(src, "name", "<input>"))


def resolve_column_names(
    names: list[str], column: str, ingress_column: str | None, source: str
) -> str | None:
    """The ingress column to use (None: none), or a BatchError naming what is wrong with ``names``.

    Every batch path's rule: the caller column must exist, an explicit ingress column too
    ("ingress" is used when present), and no input column may share an output column's name.
    """
    present = ", ".join(repr(h) for h in names)
    if column not in names:
        raise BatchError(f"{source}: no column {column!r}; columns present: {present}")
    if ingress_column is None:
        ingress_column = "ingress" if "ingress" in names else None
    elif ingress_column not in names:
        raise BatchError(f"{source}: no ingress column {ingress_column!r}; columns present: {present}")
    clash = [c for c in OUTPUT_COLUMNS if c in names]
    if clash:
        raise BatchError(
            f"{source}: the input already has output column(s) {', '.join(clash)}; rename them first"
        )
    return ingress_column


def _resolve_columns(
    header: list[str], column: str, ingress_column: str | None, source: str
) -> tuple[int, int | None]:
    ingress = resolve_column_names(header, column, ingress_column, source)
    return header.index(column), None if ingress is None else header.index(ingress)


def screen_csv(
    src: Path | str | IO[bytes] | IO[str],
    dst: Path | str | IO[str],
    store: FactStore | None,
    policy: CompiledPolicy,
    today: date,
    *,
    column: str = "caller",
    ingress_column: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool | None = None,
    strict: bool = False,
    encoding: str = "utf-8",
    tables: BatchTables | None = None,
    ingress_map: IngressMap | None = None,
    source: str | None = None,
) -> BatchSummary:
    """Screen the call records in ``src`` into ``dst``: input columns + `OUTPUT_COLUMNS`.

    ``source`` names the input in errors and the summary (default: its path or handle name).

    ``store`` is read once (all components, via ``store.part``) unless
    ``tables`` are given. ``ingress_column`` None means "ingress" if the file has
    one; its values are resolved by ``ingress_map`` (`sipcheck.ingress`), as every edge does.
    ``progress`` None shows a bar only when stderr is a terminal. A path
    ``dst`` is written to a temporary name and renamed when complete, so a
    failed run never leaves a half-written file that looks finished.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if tables is None:
        if store is None:
            raise ValueError("screen_csv needs a store or tables")
        tables = load_tables(store)
    source = source or _source_name(src)
    started = time.perf_counter()
    summary = BatchSummary(source=source, data_version=tables.data_version)
    show = sys.stderr.isatty() if progress is None else progress

    with _open_input(src) as handle:
        total = os.fstat(handle.fileno()).st_size if isinstance(src, (str, Path)) else None
        with _open_output(dst) as (out, commit):
            lines = _Lines(handle, encoding)
            reader = csv.reader(lines, strict=True)
            writer = csv.writer(out)
            bar = tqdm(
                total=total, unit="B", unit_scale=True, desc="screen", disable=not show, file=sys.stderr
            )
            try:
                _run(
                    reader,
                    writer,
                    lines,
                    summary,
                    tables,
                    policy,
                    today,
                    column,
                    ingress_column,
                    chunk_rows,
                    strict,
                    bar,
                    ingress_map,
                )
            finally:
                bar.close()
            commit()
    summary.seconds = time.perf_counter() - started
    return summary


def _run(
    reader: Any,
    writer: Any,
    lines: _Lines,
    summary: BatchSummary,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    column: str,
    ingress_column: str | None,
    chunk_rows: int,
    strict: bool,
    bar: tqdm[Any],
    ingress_map: IngressMap | None,
) -> None:
    source = summary.source
    header: list[str] | None = None
    caller_index = 0
    ingress_index: int | None = None
    width = 0
    chunk: list[list[str]] = []
    reported_bytes = 0

    def bad(line: int, reason: str) -> None:
        if strict:
            raise BatchError(f"{source}:{line}: {reason}")
        summary.bad_rows += 1
        if len(summary.bad) < KEEP_BAD_ROWS:
            summary.bad.append(BadRow(line, reason))

    def flush() -> None:
        nonlocal reported_bytes
        if chunk:
            _screen_chunk(
                chunk, caller_index, ingress_index, tables, policy, today, writer, summary, ingress_map
            )
            chunk.clear()
        bar.update(lines.bytes_read - reported_bytes)
        reported_bytes = lines.bytes_read

    bad_lines = lines.bad_lines
    append = chunk.append
    last_line = 0  # physical line where the previous record ended
    while True:
        try:
            # The hot loop: one record per iteration, checks ordered by how rarely they fail.
            for row in reader:
                first_line, last_line = last_line + 1, reader.line_num
                if len(row) == width and header is not None and not bad_lines:
                    append(row)
                    if len(chunk) >= chunk_rows:
                        flush()
                    continue
                if not row:
                    continue  # a blank line carries nothing
                if bad_lines and lines.any_bad(first_line, last_line):
                    bad(first_line, f"bytes not valid in {lines.encoding}")
                    continue
                if header is None:
                    header = row
                    width = len(header)
                    caller_index, ingress_index = _resolve_columns(header, column, ingress_column, source)
                    writer.writerow([*header, *OUTPUT_COLUMNS])
                    continue
                if len(row) != width:
                    bad(first_line, f"expected {width} fields, got {len(row)}")
                    continue
                append(row)
                if len(chunk) >= chunk_rows:
                    flush()
            break
        except csv.Error as exc:
            first_line, last_line = last_line + 1, reader.line_num
            bad(first_line, f"CSV syntax: {exc}")
    flush()


def _screen_chunk(
    rows: list[list[str]],
    caller_index: int,
    ingress_index: int | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    writer: Any,
    summary: BatchSummary,
    ingress_map: IngressMap | None,
) -> None:
    callers = [row[caller_index] for row in rows]
    ingress = None if ingress_index is None else [row[ingress_index] or None for row in rows]
    result: BatchResult = screen_array(callers, ingress, tables, policy, today, ingress_map)
    per_signature = [signature_columns(v) for v in result.verdicts]
    for row, sig, e164, kind, block in zip(
        rows, result.inverse.tolist(), result.e164(), result.kinds(), result.blocks(), strict=True
    ):
        action, reasons, d_name, d_status, s_name, i_name, version = per_signature[sig]
        row.extend((action, reasons, e164, kind, block, d_name, d_status, s_name, i_name, version))
    writer.writerows(rows)
    summary.rows += len(rows)
    for action, count in result.counts().items():
        summary.by_action[action.value] += count


class _open_input:
    """Context manager: a path opens in binary; a given handle is used as is and left open."""

    def __init__(self, src: Path | str | IO[bytes] | IO[str]) -> None:
        self.src = src
        self.owned: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes] | IO[str]:
        if isinstance(self.src, (str, Path)):
            try:
                self.owned = open(self.src, "rb")
            except OSError as exc:
                raise BatchError(f"{self.src}: cannot read: {exc.strerror}") from exc
            return self.owned
        return self.src

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None:
            self.owned.close()


class _open_output:
    """Context manager yielding (text handle, commit); a path is written to ``<name>.part`` then renamed."""

    def __init__(self, dst: Path | str | IO[str]) -> None:
        self.dst = dst
        self.owned: IO[str] | None = None
        self.tmp: Path | None = None
        self.committed = False

    def __enter__(self) -> tuple[IO[str], Any]:
        if isinstance(self.dst, (str, Path)):
            final = Path(self.dst)
            self.tmp = final.with_name(final.name + ".part")
            try:
                self.owned = open(self.tmp, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise BatchError(f"{final}: cannot write: {exc.strerror}") from exc
            return self.owned, self._commit
        return self.dst, lambda: None

    def _commit(self) -> None:
        assert self.owned is not None and self.tmp is not None
        self.owned.close()
        os.replace(self.tmp, Path(self.dst))  # type: ignore[arg-type]
        self.committed = True

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None and not self.committed:
            self.owned.close()
            if self.tmp is not None:
                self.tmp.unlink(missing_ok=True)


__all__ = [
    "OUTPUT_COLUMNS",
    "BadRow",
    "BatchError",
    "BatchSummary",
    "resolve_column_names",
    "screen_csv",
    "signature_columns",
]
