"""`sipcheck report FILE...`: flagged and blocked traffic per operator over a window.

For JUSA's report window (申告窓口) or a partner carrier: screened call records (`sipcheck screen`'s
output: CSV, .csv.gz, Parquet) and decision logs (.jsonl, .jsonl.gz, .ndjson), mixed freely,
counted over ``--since``/``--until`` (`sipcheck.report`). Writes ``--csv`` (one table, a ``section``
column), ``--html`` (one self-contained page), ``--json`` (the summary on standard output), or
without any of them a plain summary on standard output. Exit status 0 done, 4 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sipcheck.cli.audit import JST, since_moment
from sipcheck.cli.common import EXIT_ALLOW, error, print_table
from sipcheck.report.aggregate import DEFAULT_TOP, Counts, Report, aggregate
from sipcheck.report.read import TIME_COLUMNS, ReportInputError, read_batches
from sipcheck.report.render import label, window_text, write_csv, write_html


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="flagged/blocked traffic per operator over a window (CSV, HTML, JSON) from screened "
        "files and decision logs",
        description=(
            "Count screened calls over a window: totals, per designated/serving/ingress operator, "
            "top reasons, top flagged and blocked numbers, per JST day, data versions. Inputs are "
            "files `sipcheck screen` wrote (.csv, .csv.gz, .parquet) and decision logs (.jsonl, "
            ".jsonl.gz, .ndjson), mixed. Exit status 0 done, 4 bad input."
        ),
    )
    parser.add_argument("input", metavar="FILE", nargs="+", help="screened call records or decision logs")
    parser.add_argument(
        "--time-column",
        metavar="NAME",
        help=f"time column of screened files (default: the first of {', '.join(TIME_COLUMNS)}); ISO 8601 "
        "(naive = JST) or epoch seconds",
    )
    parser.add_argument(
        "--since",
        type=since_moment,
        metavar="YYYY-MM-DD[THH:MM]",
        help="from this moment, inclusive (a date is midnight JST)",
    )
    parser.add_argument(
        "--until",
        type=since_moment,
        metavar="YYYY-MM-DD[THH:MM]",
        help="up to this moment, exclusive (a date is midnight JST: --until 2026-12-01 ends November)",
    )
    parser.add_argument("--csv", metavar="OUT.csv", help="write the report as one CSV table")
    parser.add_argument("--html", metavar="OUT.html", help="write the report as one self-contained HTML page")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on standard output")
    parser.add_argument(
        "--top", type=int, default=DEFAULT_TOP, help=f"top reasons and numbers shown (default {DEFAULT_TOP})"
    )
    parser.add_argument("--title", help="the HTML page's title")
    parser.set_defaults(func=run)


def _counts_row(name: str, c: Counts) -> list[str]:
    def pct(n: int) -> str:
        return f"{100.0 * c.rate(n):.2f}%"

    return [
        name,
        str(c.calls),
        str(c.allowed),
        str(c.flagged),
        pct(c.flagged),
        str(c.blocked),
        pct(c.blocked),
    ]


HEADERS = ["", "CALLS", "ALLOWED", "FLAGGED", "FLAG %", "BLOCKED", "BLOCK %"]


def _print_text(report: Report) -> None:
    print(f"window: {window_text(report)}")
    print_table(HEADERS, [_counts_row("total", report.total)])
    for role in ("designated", "serving", "ingress"):
        print()
        rows = report.operators(role)
        print_table(
            [f"{role.upper()} OPERATOR", *HEADERS[1:]],
            [_counts_row(label(r.key), r.counts) for r in rows[: report.top]],
        )
        if len(rows) > report.top:
            print(f"… {len(rows) - report.top} more (--top, --csv)")
    print()
    print_table(
        ["REASON", *HEADERS[1:]], [_counts_row(r.key, r.counts) for r in report.reasons[: report.top]]
    )
    print()
    print_table(
        ["NUMBER", "FLAGGED", "BLOCKED", "REASONS"],
        [[n.e164, str(n.counts.flagged), str(n.counts.blocked), ",".join(n.reasons)] for n in report.numbers],
    )
    print()
    print_table(
        ["DATA VERSION", "CALLS"], [[r.key or "(none)", str(r.counts.calls)] for r in report.data_versions]
    )


def run(args: argparse.Namespace) -> int:
    from sipcheck.settings import get_settings

    if args.top < 1:
        return error("--top must be at least 1")
    if args.since and args.until and args.until <= args.since:
        return error("--until must be after --since")
    missing = [p for p in args.input if not Path(p).is_file()]
    if missing:
        return error(f"{missing[0]}: no such file")
    try:
        report = aggregate(
            read_batches(args.input, time_column=args.time_column),
            since=args.since,
            until=args.until,
            top=args.top,
        )
    except ReportInputError as exc:
        return error(str(exc))
    generated_at = get_settings().clock()()
    try:
        if args.csv:
            with open(args.csv, "w", encoding="utf-8", newline="") as out:
                write_csv(report, out)
        if args.html:
            write_html(report, args.html, generated_at=generated_at, title=args.title)
    except OSError as exc:
        return error(f"cannot write: {exc}")
    if args.json:
        summary = {
            "title": args.title,
            "generated_at": generated_at.astimezone(JST).isoformat(),
            **report.to_dict(),
        }
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not (args.csv or args.html):
        _print_text(report)
    else:
        t = report.total
        print(
            f"report: {t.calls} calls in the window: allow {t.allowed}, flag {t.flagged}, block {t.blocked}",
            file=sys.stderr,
        )
    return EXIT_ALLOW
