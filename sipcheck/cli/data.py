"""`sipcheck data status`: what the store holds, component by component."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sipcheck.cli.common import EXIT_ALLOW, configured_store, error, print_table
from sipcheck.store import StoreError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("data", help="inspect the loaded data")
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    status = commands.add_parser("status", help="versions, counts, as-of dates and load times")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    try:
        with configured_store() as store:
            status = store.status()
    except (StoreError, OSError) as exc:
        return error(str(exc))
    if args.json:
        print(json.dumps(status.to_dict(), ensure_ascii=False, indent=2))
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
    return EXIT_ALLOW
