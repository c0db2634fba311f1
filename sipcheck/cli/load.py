"""`sipcheck load KIND FILE...`: validate whole files, then publish all-or-nothing.

A file with any bad row publishes nothing: every bad row is printed as
file:line:field:value and the live data stays as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sipcheck.changes import change_suspensions, publish_component
from sipcheck.cli.common import EXIT_ALLOW, MAX_ERRORS_SHOWN, cli_identity, configured_store, error
from sipcheck.model import Component
from sipcheck.store import StoreError

KINDS: dict[str, Component] = {
    "mic": Component.BLOCKS,
    "certified": Component.CERTIFICATIONS,
    "suspended": Component.SUSPENSIONS,
    "operators": Component.OPERATORS,
    "trunks": Component.TRUNKS,
    "wholesale": Component.WHOLESALE,
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load a data set from files (all-or-nothing)",
        description=(
            "Load MIC block files (.xls/.xlsx/.csv), the certified-operator list, the suspension feed, "
            "operators and aliases, ingress trunks or wholesale assignments. See docs/data-formats.md."
        ),
    )
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--changes",
        action="store_true",
        help="suspended only: the files hold incremental add/remove changes, applied to the live data",
    )
    parser.set_defaults(func=run)


def _report_failure(exc: Exception) -> int:
    errors = list(getattr(exc, "errors", []))
    for row in errors[:MAX_ERRORS_SHOWN]:
        print(row, file=sys.stderr)
    if len(errors) > MAX_ERRORS_SHOWN:
        print(f"... and {len(errors) - MAX_ERRORS_SHOWN} more bad rows", file=sys.stderr)
    return error(f"{len(errors) or 'the'} bad row(s); nothing was loaded, the live data is unchanged")


def run(args: argparse.Namespace) -> int:
    from sipcheck.importers import (
        ImportFailed,
        load_component,
        load_mic,
        load_suspension_changes,
        merge_blocks,
    )

    if args.changes and args.kind != "suspended":
        return error("--changes applies to 'suspended' only")
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        return error(f"no such file: {', '.join(missing)}")
    try:
        if args.kind == "mic":
            new_blocks = load_mic(args.files)
        elif args.changes:
            changes = load_suspension_changes(args.files)
        else:
            part = load_component(args.kind, args.files)
    except ImportFailed as exc:
        return _report_failure(exc)
    who, origin = cli_identity()
    sources = [p.name for p in args.files]
    try:
        with configured_store() as store:
            if args.kind == "mic":
                part = merge_blocks(store.part(Component.BLOCKS), new_blocks)
            if args.changes:
                added, removed, version = change_suspensions(
                    store, changes, who=who, origin=origin, sources=sources
                )
                print(f"suspensions: {added} added, {removed} removed (live data version {version})")
                return EXIT_ALLOW
            version = publish_component(store, part, kind=args.kind, who=who, origin=origin, sources=sources)
    except (StoreError, OSError) as exc:
        return error(str(exc))
    as_of = f", as of {part.as_of.isoformat()}" if part.as_of else ""
    print(f"{KINDS[args.kind].value}: {len(part.records)} records{as_of}; published data version {version}")
    return EXIT_ALLOW
