"""`sipcheck data status`: what the store holds, component by component, and which number ranges its
designation data covers, as of when.

`sipcheck data update` (MIC's page → newest file per range → all-or-nothing publish) lives in
`sipcheck.cli.data_update`; it registers under the same ``data`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from sipcheck.cli.common import EXIT_ALLOW, configured_store, error, print_table
from sipcheck.model import DataStatus
from sipcheck.screener import japan_date
from sipcheck.settings import get_settings
from sipcheck.store import StoreError


def register(subparsers: Any) -> None:
    from sipcheck.cli import data_update

    parser = subparsers.add_parser("data", help="inspect and update the loaded data")
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    status = commands.add_parser(
        "status", help="versions, counts, as-of dates, load times, and the ranges the designations cover"
    )
    status.add_argument("--json", action="store_true")
    status.add_argument(
        "--date", metavar="YYYY-MM-DD", type=date.fromisoformat, help="judge freshness on this day (JST)"
    )
    status.set_defaults(func=run_status)
    data_update.register(commands)


def run_status(args: argparse.Namespace) -> int:
    settings = get_settings()
    today = args.date or japan_date(settings.clock()())
    max_age = settings.data.max_age_days
    try:
        with configured_store() as store:
            status = store.status()
    except (StoreError, OSError) as exc:
        return error(str(exc))
    if args.json:
        body = status.to_dict(today, max_age)
        body["today"] = today.isoformat()
        body["max_age_days"] = max_age
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return EXIT_ALLOW
    print(f"backend {status.backend}, data version {status.data_version or '(empty)'}")
    print_table(
        ["COMPONENT", "VERSION", "COUNT", "AS OF", "LOADED AT", "SOURCES"],
        [
            [
                c.component.value,
                c.version or "-",
                str(c.count),
                c.as_of.isoformat() if c.as_of else "-",
                c.loaded_at.isoformat(timespec="seconds") if c.loaded_at else "-",
                ", ".join(c.sources) or "-",
            ]
            for c in status.components
        ],
    )
    print()
    print_coverage(status, today, max_age)
    for line in warnings(status, today, max_age):
        print(f"sipcheck: warning: {line}", file=sys.stderr)
    return EXIT_ALLOW


def print_coverage(status: DataStatus, today: date, max_age_days: int) -> None:
    """The designation coverage table: a number outside every listed range gets designation_unknown."""
    if not status.coverage:
        print("designation coverage: none (every number's designation is unknown)")
        return
    print(f"designation coverage on {today.isoformat()} (stale after {max_age_days} days):")
    print_table(
        ["RANGE", "KIND", "BLOCKS", "OPERATOR UNKNOWN", "AS OF", "AGE", "OPERATORS AS OF", "SOURCE"],
        [
            [
                row.range,
                row.kind,
                str(row.blocks),
                str(row.operator_unknown),
                row.as_of.isoformat(),
                f"{row.age_days(today)} d" + (" STALE" if row.age_days(today) > max_age_days else ""),
                row.operators_as_of.isoformat() if row.operators_as_of else "-",
                row.source,
            ]
            for row in status.coverage
        ],
    )


def warnings(status: DataStatus, today: date, max_age_days: int) -> list[str]:
    """What an operator must know before trusting verdicts: missing components, stale ranges."""
    out: list[str] = []
    missing = status.missing()
    if missing:
        names = ", ".join(c.value for c in missing)
        out.append(f"no complete data set ({names} not loaded): every check answers by the fail policy")
    stale = status.stale(today, max_age_days)
    if stale:
        ranges = ", ".join(f"{row.range} ({row.age_days(today)} d)" for row in stale)
        out.append(
            f"designation data older than data.max_age_days={max_age_days}: {ranges}; "
            "run `sipcheck data update`"
        )
    return out
