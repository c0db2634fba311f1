"""`sipcheck check NUMBER...`: screen numbers and print verdicts (table or JSON Lines)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sipcheck.cli.common import (
    EXIT_ALLOW,
    EXIT_BLOCK,
    EXIT_FLAG,
    configured_store,
    error,
    hide_url_password,
    print_table,
)
from sipcheck.screener import Screener
from sipcheck.settings import get_settings
from sipcheck.store import StoreError
from sipcheck.verdict import Action, Reason, Verdict

EXIT_BY_ACTION = {Action.ALLOW: EXIT_ALLOW, Action.FLAG: EXIT_FLAG, Action.BLOCK: EXIT_BLOCK}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="screen calling numbers",
        description=(
            "Screen numbers and print a verdict for each. Exit status: 0 all allowed, "
            "10 some flagged, 20 some blocked, 4 error. Use - to read numbers from standard input."
        ),
    )
    parser.add_argument(
        "numbers", nargs="+", metavar="NUMBER", help="any shape: 03-5253-5111, +81..., sip:..."
    )
    parser.add_argument("--ingress", metavar="ID", help="the trunk or peer that handed us the call")
    parser.add_argument("--json", action="store_true", help="one JSON verdict per line (stable schema)")
    parser.set_defaults(func=run)


def _numbers(args: argparse.Namespace) -> list[str]:
    numbers: list[str] = []
    for item in args.numbers:
        if item == "-":
            numbers.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            numbers.append(item)
    return numbers


def _row(verdict: Verdict) -> list[str]:
    number = verdict.number
    designated = next((op for op in verdict.operators if op.role == "designated"), None)
    return [
        verdict.input,
        number.e164 if number else "-",
        number.kind.value if number else "-",
        verdict.action.value.upper(),
        ",".join(r.value for r in verdict.reasons) or "-",
        f"{designated.name} ({designated.status.value})" if designated else "-",
    ]


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        with configured_store(settings) as store:
            screener = Screener(store, settings.compiled_policy(), settings.clock(), settings.ingress_map())
            verdicts = screener.check_many(_numbers(args), args.ingress)
    except (StoreError, OSError) as exc:
        return error(str(exc))
    if args.json:
        for verdict in verdicts:
            print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    else:
        print_table(
            ["INPUT", "NUMBER", "KIND", "VERDICT", "REASONS", "DESIGNATED OPERATOR"],
            [_row(v) for v in verdicts],
        )
        if verdicts and verdicts[0].data_version:
            print(f"data version {verdicts[0].data_version}", file=sys.stderr)
    unavailable = [v for v in verdicts if Reason.DATA_UNAVAILABLE in v.reasons]
    if unavailable:
        # The verdicts are true (the data could not be read) but say nothing about the callers:
        # a script reading only the exit code must still be told, on stderr, why.
        where = hide_url_password(settings.redis.url) if settings.redis.url else "the embedded store"
        cause = next((v.error for v in unavailable if v.error), None) or f"{where} did not answer"
        print(
            f"sipcheck: warning: no data to screen with ({cause}); {len(unavailable)} verdict(s) "
            f"follow the fail policy ({settings.policy.fail_policy}): reason data_unavailable",
            file=sys.stderr,
        )
    worst = max((v.action for v in verdicts), key=lambda a: EXIT_BY_ACTION[a], default=Action.ALLOW)
    return EXIT_BY_ACTION[worst]
