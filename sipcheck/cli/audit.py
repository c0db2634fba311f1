"""`sipcheck audit`: the durable record of every data change (who, when, from where, what, which keys).

Reads the store's audit trail (`sipcheck.audit`); ``--number`` finds the changes that named a
number or a rule covering it, so "who suspended this number, on whose request" is one command.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sipcheck.audit import select
from sipcheck.cli.common import EXIT_ALLOW, configured_store, error, print_table
from sipcheck.store import StoreError

JST = timezone(timedelta(hours=9))
DEFAULT_LIMIT = 1000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="who changed the data, when, from where, and what")
    parser.add_argument(
        "--since",
        type=since_moment,
        metavar="YYYY-MM-DD[THH:MM]",
        help="from this moment (a date is midnight JST; default: the whole retention)",
    )
    parser.add_argument(
        "--kind", help="only this kind (a dotted prefix: data.publish, rules, data.suspensions)"
    )
    parser.add_argument("--number", help="only changes that named this number or a rule covering it")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help="read at most this many newest records"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def since_moment(text: str) -> datetime:
    """A date (midnight JST) or an ISO moment (naive = JST), as a UTC datetime."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=JST).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM-DD or an ISO date-time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=JST)).astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return error("--limit must be at least 1")
    try:
        with configured_store() as store:
            records = store.read_audit(args.since, args.limit)
    except (StoreError, OSError) as exc:
        return error(str(exc))
    records = select(records, kind=args.kind, number=args.number)
    if args.json:
        for record in records:
            print(json.dumps(record.to_dict(), ensure_ascii=False))
        return EXIT_ALLOW
    rows = []
    for r in records:
        keys = ", ".join(r.keys[:3]) + (f" (+{r.keys_total - 3})" if r.keys_total > 3 else "")
        counts = " ".join(f"{k}={v}" for k, v in r.counts.items())
        rows.append(
            [
                r.at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
                r.who,
                r.origin,
                r.kind,
                f"{r.version_before or '-'}→{r.version_after}",
                counts,
                ",".join(r.references),
                keys,
            ]
        )
    print_table(["AT (JST)", "WHO", "FROM", "KIND", "VERSION", "COUNTS", "REFERENCES", "KEYS"], rows)
    return EXIT_ALLOW
