"""The `sipcheck` console command.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)``; the handler it installs as ``func`` returns the
process exit code. Keeping registration explicit (a list, not discovery) makes
the command set readable in one place.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from sipcheck import __version__

# Modules that contribute sub-commands, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "sipcheck.cli.check",
    "sipcheck.cli.load",
    "sipcheck.cli.screen",
    "sipcheck.cli.report",
    "sipcheck.cli.data",
    "sipcheck.cli.rules",
    "sipcheck.cli.audit",
    "sipcheck.cli.tone",
    "sipcheck.cli.serve",
    "sipcheck.cli.agent",
    "sipcheck.cli.probe",
    "sipcheck.cli.config",
    "sipcheck.cli.kamailio",
)

EXIT_ERROR = 4
"""Exit code for a usage or input error; verdict exit codes live in sipcheck.cli.check."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sipcheck",
        description="Screen Japanese calling numbers and validate the forwarding identification tone.",
    )
    parser.add_argument("--version", action="version", version=f"sipcheck {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="settings file (TOML); environment variables SIPCHECK_* override it"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    from sipcheck.settings import get_settings, use_config_file

    if args.config:
        use_config_file(args.config)
    try:
        get_settings()  # a bad file or variable is reported once, here, not as a traceback later
    except (OSError, ValueError) as exc:
        print(f"sipcheck: error: bad settings: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe can be answered, not at interpreter exit
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sipcheck data status | head`: the reader has gone; stop quietly, as Unix tools do
        # (128 + SIGPIPE), with stdout pointed at /dev/null so the exit flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
