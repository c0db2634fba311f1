"""`sipcheck screen calls.csv -o out.csv`: screen a call-record file into an annotated copy.

The edge around `sipcheck.batch.columnar.screen_file` (Arrow: CSV, compressed CSV, Parquet) and
`sipcheck.batch.screen_csv` (the line-exact Python reader, also for standard input/output):
argument parsing, the configured store, the summary on stderr. Exit status 0 when the file was
screened (bad rows are reported, not fatal, unless --strict), 4 on any error.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import IO, Any

from sipcheck.batch import BatchError, BatchSummary, load_tables, screen_csv
from sipcheck.batch.columnar import FileKind, screen_file
from sipcheck.batch.csvio import DEFAULT_CHUNK_ROWS
from sipcheck.batch.nightly import find_inputs, screen_tree
from sipcheck.cli.common import MAX_ERRORS_SHOWN, configured_store, error
from sipcheck.screener import japan_date
from sipcheck.settings import Settings, get_settings
from sipcheck.store import FactStore, StoreError

EXIT_OK = 0


def _open_store(settings: Settings) -> AbstractContextManager[FactStore]:
    """The store to screen against; a module-level seam so tests can hand in a MemoryStore."""
    return configured_store(settings)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "screen",
        help="screen a call-record file (CSV, .csv.gz/.zst, Parquet) into an annotated copy",
        description=(
            "Screen every calling number of a call-record file and write it back with verdict "
            "columns appended: action, reasons, e164, kind, block, designated_operator, "
            "designated_status, serving_operator, ingress_operator, data_version. Formats follow "
            "the file names: .csv (optionally .gz, .zst, .bz2, .lz4) or .parquet, in and out. "
            "Malformed rows are reported with their line and skipped (unless --strict). "
            "Exit status 0 done, 4 error."
        ),
    )
    parser.add_argument(
        "input",
        metavar="FILE",
        nargs="+",
        help="call records (CSV with a header row, or Parquet); - for standard input; with --out-dir "
        "also directories (searched recursively) and glob patterns",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "-o", "--output", metavar="FILE", help="annotated file to write; - for standard output"
    )
    target.add_argument(
        "--out-dir",
        metavar="DIR",
        help="screen every input file into DIR (their layout mirrored), skipping files already "
        "screened unchanged with the same data version (DIR/.sipcheck-screened.json): a nightly job",
    )
    parser.add_argument(
        "--to",
        choices=("csv", "parquet"),
        help="with --out-dir: write this format (default: each input's own)",
    )
    parser.add_argument("--force", action="store_true", help="with --out-dir: screen every file again")
    parser.add_argument(
        "--engine",
        choices=("auto", "arrow", "python"),
        default="auto",
        help="arrow: columnar, ~10x faster; python: the line-exact reader (standard input/output, "
        "and any damaged file); auto (default): arrow for files",
    )
    parser.add_argument(
        "--column", default="caller", help="column holding the calling number (default: caller)"
    )
    parser.add_argument(
        "--ingress-column",
        metavar="C",
        help="column holding the ingress trunk/peer (default: 'ingress' if the file has one)",
    )
    parser.add_argument("--strict", action="store_true", help="stop at the first malformed row")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary on stderr")
    parser.add_argument("--json-summary", action="store_true", help="print the run summary as JSON")
    parser.add_argument("--encoding", default="utf-8", help="input encoding, e.g. cp932 (default: utf-8)")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="screen as on this Japanese date (certifications in force then); default today",
    )
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def _print_summary(summary: BatchSummary) -> None:
    counts = summary.by_action
    print(
        f"screened {summary.rows} rows in {summary.seconds:.2f}s ({summary.rate:,.0f} rows/s): "
        f"allow {counts.get('allow', 0)}, flag {counts.get('flag', 0)}, block {counts.get('block', 0)}; "
        f"bad rows {summary.bad_rows}; data version {summary.data_version or '-'}; engine {summary.engine}",
        file=sys.stderr,
    )


def _use_arrow(engine: str, src: Path | IO[bytes], dst: Path | IO[str]) -> bool:
    """Whether the Arrow engine runs; a BatchError when what was asked cannot be done."""
    streams = not isinstance(src, Path) or not isinstance(dst, Path)
    parquet = any(isinstance(p, Path) and FileKind.of(p).format in ("parquet", "jsonl") for p in (src, dst))
    if engine == "python" and (
        parquet or any(isinstance(p, Path) and FileKind.of(p).codec for p in (src, dst))
    ):
        raise BatchError("--engine python reads and writes plain CSV only; use --engine arrow")
    if engine == "arrow" and streams:
        raise BatchError("--engine arrow reads and writes files, not standard input/output")
    if streams and parquet:
        raise BatchError("Parquet and decision logs (.jsonl) need a file, not standard input/output")
    return engine == "arrow" or (engine == "auto" and not streams)


def _run_tree(args: argparse.Namespace, settings: Settings, today: date) -> int:
    """``--out-dir``: every input file, once per data version (`sipcheck.batch.nightly`)."""
    if args.engine == "python":
        return error("--out-dir runs the Arrow engine; --engine python takes one file with -o")
    try:
        inputs = find_inputs(args.input)
        with _open_store(settings) as store:
            tables = load_tables(store)
            policy = settings.compiled_policy()

            def screen(src: Path, dst: Path) -> BatchSummary:
                summary = screen_file(
                    src,
                    dst,
                    None,
                    policy,
                    today,
                    tables=tables,
                    column=args.column,
                    ingress_column=args.ingress_column,
                    ingress_map=settings.ingress_map(),
                    progress=False if args.quiet else None,
                    strict=args.strict,
                    encoding=args.encoding,
                )
                if not args.quiet:
                    _report(summary)
                return summary

            suffix = {"csv": ".csv", "parquet": ".parquet", None: None}[args.to]
            tree = screen_tree(
                inputs, Path(args.out_dir), tables.data_version, screen, suffix=suffix, force=args.force
            )
    except (BatchError, StoreError, OSError, ValueError) as exc:
        return error(str(exc))
    totals = tree.to_dict()
    if not args.quiet:
        print(
            f"screened {totals['files_screened']} file(s), {totals['rows']} rows; skipped "
            f"{totals['files_skipped']} already screened with data version {tables.data_version}",
            file=sys.stderr,
        )
    if args.json_summary:
        print(json.dumps(totals, ensure_ascii=False))
    return EXIT_OK


def _report(summary: BatchSummary) -> None:
    for bad in summary.bad[:MAX_ERRORS_SHOWN]:
        print(f"sipcheck: bad row: {bad.describe(summary.source)}", file=sys.stderr)
    if summary.bad_rows > MAX_ERRORS_SHOWN:
        print(f"sipcheck: … and {summary.bad_rows - MAX_ERRORS_SHOWN} more bad rows", file=sys.stderr)
    _print_summary(summary)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    today = args.date or japan_date(settings.clock()())
    try:
        codecs.lookup(args.encoding)
    except LookupError:
        return error(f"unknown encoding {args.encoding!r}")
    if args.chunk_rows < 1:
        return error(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    if args.out_dir is not None:
        return _run_tree(args, settings, today)
    if args.to is not None or args.force:
        return error("--to and --force go with --out-dir")
    if len(args.input) != 1:
        return error(f"-o takes one input, got {len(args.input)}; use --out-dir for several")
    src: Path | IO[bytes] = sys.stdin.buffer if args.input[0] == "-" else Path(args.input[0])
    dst: Path | IO[str] = sys.stdout if args.output == "-" else Path(args.output)
    if isinstance(src, Path) and not src.is_file():
        return error(f"{src}: no such file")
    try:
        arrow = _use_arrow(args.engine, src, dst)
        with _open_store(settings) as store:
            common: dict[str, Any] = {
                "column": args.column,
                "ingress_column": args.ingress_column,
                "ingress_map": settings.ingress_map(),
                "progress": False if args.quiet else None,
                "strict": args.strict,
                "encoding": args.encoding,
            }
            if arrow:
                assert isinstance(src, Path) and isinstance(dst, Path)
                summary = screen_file(src, dst, store, settings.compiled_policy(), today, **common)
            else:
                summary = screen_csv(
                    src, dst, store, settings.compiled_policy(), today, chunk_rows=args.chunk_rows, **common
                )
    except (BatchError, StoreError, OSError) as exc:
        return error(str(exc))
    if not args.quiet:
        _report(summary)
    if args.json_summary:
        stream = sys.stderr if dst is sys.stdout else sys.stdout
        print(json.dumps(summary.to_dict(), ensure_ascii=False), file=stream)
    return EXIT_OK
