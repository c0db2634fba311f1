"""`sipcheck data update`: MIC's designation page → the newest file per range → validate → publish.

(Being written: see the issue "Verdicts that hold on real Japanese traffic", item 6.)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sipcheck.cli.common import error


def register(commands: Any) -> None:
    parser = commands.add_parser("update", help="fetch MIC's designation files and publish them")
    parser.add_argument("--from", dest="source_dir", type=Path, metavar="DIR", help="an offline copy")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return error("data update is not available in this build yet")
