"""`sipcheck data update [--from DIR]`: MIC's designation page → newest file per range → publish.

The terminal side only: the work is `sipcheck.update`. A failure prints what failed (the URL or
file and the problem, every bad row) and exits 4 with nothing published; success prints the
range, as-of date and URL of each range it replaced, then the new data version.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sipcheck.audit import change_record, record_change, wall_clock
from sipcheck.cli.common import (
    EXIT_ALLOW,
    MAX_ERRORS_SHOWN,
    cli_identity,
    configured_store,
    error,
    print_table,
)
from sipcheck.settings import get_settings
from sipcheck.store import StoreError, live_version

NOTHING_CHANGED = "nothing was published, the live data is unchanged"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "update",
        help="fetch MIC's designation files and publish them (all-or-nothing)",
        description=(
            "Read MIC's designation page (data.update_url, Shift_JIS), download every .xls/.xlsx file it "
            "links, keep the newest file per range by each file's own as-of date, validate every row, and "
            "publish the covered ranges at once, keeping the others. Any failure publishes nothing (exit 4)."
        ),
    )
    parser.add_argument(
        "--from",
        dest="source_dir",
        type=Path,
        metavar="DIR",
        help="an offline copy: DIR holds the saved page (number_shitei.html) and the files it links",
    )
    parser.add_argument(
        "--allow-older",
        action="store_true",
        help="also replace ranges whose live data is newer than the file offered (roll back on purpose)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sipcheck.update import UpdateFailed, prepare, publish

    try:
        prepared = prepare(get_settings().data, args.source_dir)
    except UpdateFailed as exc:
        for line in exc.details[:MAX_ERRORS_SHOWN]:
            print(line, file=sys.stderr)
        if len(exc.details) > MAX_ERRORS_SHOWN:
            print(f"... and {len(exc.details) - MAX_ERRORS_SHOWN} more", file=sys.stderr)
        return error(f"{exc}; {NOTHING_CHANGED}")
    who, origin = cli_identity()
    try:
        with configured_store() as store:
            before = live_version(store)
            outcome = publish(store, prepared, allow_older=args.allow_older)
            if outcome.version is not None:
                record = change_record(
                    at=wall_clock(),
                    who=who,
                    origin=origin,
                    kind="data.publish.mic",
                    version_before=before,
                    version_after=outcome.version,
                    counts={"ranges": len(outcome.replaced)},
                    keys=[c.range for c in outcome.replaced],
                    sources=[c.source for c in outcome.replaced],
                )
                record_change(store, record)
    except (StoreError, OSError) as exc:
        return error(f"{exc}; {NOTHING_CHANGED}")
    rows = [[c.range, c.as_of.isoformat(), "replaced", c.source] for c in outcome.replaced]
    rows += [[c.range, c.as_of.isoformat(), "unchanged", c.source] for c in outcome.unchanged]
    rows += [
        [
            offered.range,
            offered.as_of.isoformat(),
            f"kept: live data is of {live.as_of.isoformat()}",
            offered.source,
        ]
        for offered, live in outcome.older
    ]
    print_table(["RANGE", "AS OF", "ACTION", "SOURCE"], sorted(rows))
    for unused in prepared.unused:
        print(f"not used (a newer file covers its ranges): {unused.link.url}")
    for offered, live in outcome.older:
        print(
            f"sipcheck: warning: {offered.range}: the file offered ({offered.as_of}) is older than the live "
            f"data ({live.as_of}, {live.source}); kept the live data (--allow-older to replace it)",
            file=sys.stderr,
        )
    if outcome.version is None:
        print("nothing newer than the live data; nothing was published")
        return EXIT_ALLOW
    print(f"blocks: {len(outcome.replaced)} range(s) replaced; published data version {outcome.version}")
    return EXIT_ALLOW
