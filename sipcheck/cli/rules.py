"""`sipcheck rules list|add|remove`: range and stock suspensions and overrides from the command line.

The same rule fields as ``POST /v1/rules`` (`rules.RULE_FIELDS`), as options or as a JSON file of
many (``--file``, an array of rule objects); every rule is checked before anything is written, and
one bad rule refuses the whole change, naming the rule (file and position) and the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sipcheck.changes import change_rules, check_rules
from sipcheck.cli.common import EXIT_ALLOW, cli_identity, configured_store, error, print_table
from sipcheck.model import Component, Rule
from sipcheck.rules import RuleError, contractor_view, make_contractor
from sipcheck.settings import get_settings
from sipcheck.store import StoreError, live_rules
from sipcheck.verdict import rule_dict


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rules", help="range/stock suspensions and overrides (allow/deny)")
    commands = parser.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", required=True)
    listing = commands.add_parser("list", help="the live rules")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)

    add = commands.add_parser("add", help="add rules (all or nothing); the same rule twice is one rule")
    add.add_argument("action", nargs="?", choices=("suspend", "allow", "deny", "contract", "refuse"))
    target = add.add_argument_group("target (exactly one)")
    target.add_argument("--number", help="one number, e.g. 03-5253-5111")
    target.add_argument("--prefix", help="a national prefix (050-1000) or a range A..B")
    target.add_argument("--from", dest="from_", metavar="NUMBER", help="first number of a range (with --to)")
    target.add_argument("--to", metavar="NUMBER", help="last number of a range")
    target.add_argument("--operator", help="an operator id: its whole stock (suspend only)")
    add.add_argument(
        "--contractor",
        help="a registered contractor: who holds the range (contract), who is "
        "refused (refuse, no other target), whom a suspension concerns (suspend)",
    )
    add.add_argument(
        "--via", metavar="OPERATOR", help="contract: the operator the contractor holds the range through"
    )
    add.add_argument("--reason", help="why (shown in verdicts)")
    add.add_argument(
        "--reference", help="the request behind it (required to suspend or refuse), e.g. NPA-2026-0412"
    )
    add.add_argument("--source", help="where the request came from (police, JUSA, ...)")
    add.add_argument("--until", metavar="YYYY-MM-DD", help="last JST day in force (default: until removed)")
    add.add_argument("--author", help="who made the change (default: user@host)")
    add.add_argument("--file", type=Path, help="a JSON array of rule objects instead of the options")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=run_add)

    contractor = subparsers.add_parser(
        "contractor", help="contractors (契約者) and what the rules know of them"
    )
    ccommands = contractor.add_subparsers(dest="contractor_command", metavar="SUBCOMMAND", required=True)
    cadd = ccommands.add_parser("add", help="register (or update) a contractor")
    cadd.add_argument("--id", help="our id for it (default: its corporate number)")
    cadd.add_argument(
        "--name", action="append", default=[], required=True, help="its name (repeat for several)"
    )
    cadd.add_argument("--alias", action="append", default=[], help="another name it trades under (repeat)")
    cadd.add_argument(
        "--corporate-number", help="its 13-digit corporate number (法人番号), check digit verified"
    )
    cadd.set_defaults(func=run_contractor_add)
    show = ccommands.add_parser("show", help="everything known about one contractor, across operators")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_contractor_show)

    remove = commands.add_parser("remove", help="remove rules by id (all or nothing)")
    remove.add_argument("ids", nargs="+", metavar="ID")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(func=run_remove)


def _items(args: argparse.Namespace) -> tuple[list[dict[str, Any]], str]:
    """The rules as field dicts, and what to call them in errors (the file, or 'options')."""
    if args.file is not None:
        try:
            data = json.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RuleError("file", str(args.file), f"cannot be read as JSON: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise RuleError("file", str(args.file), "must hold a JSON array of rule objects")
        return data, str(args.file)
    fields = {
        "action": args.action,
        "number": args.number,
        "prefix": args.prefix,
        "from": args.from_,
        "to": args.to,
        "operator": args.operator,
        "contractor": args.contractor,
        "via": args.via,
        "reason": args.reason,
        "reference": args.reference,
        "source": args.source,
        "until": args.until,
    }
    return [{k: v for k, v in fields.items() if v is not None}], "options"


def run_add(args: argparse.Namespace) -> int:
    from sipcheck.screener import japan_date

    today = japan_date(
        get_settings().clock()()
    )  # the day verdicts are judged on: an expiry before it is refused
    who, origin = cli_identity(args.author)
    try:
        items, where = _items(args)
    except RuleError as exc:
        return error(str(exc))
    if not items:
        return error(f"{where}: no rules to add")
    try:
        with configured_store() as store:
            rules, found = check_rules(store, items, author=who, today=today)
            problems = [
                f"{f'{where}[{i}]' if where != 'options' else '--' + exc.field.split('.')[0]}: {exc}"
                for i, exc in found
            ]
            if problems:
                for line in problems:
                    print(f"sipcheck: error: {line}", file=sys.stderr)
                return error(f"{len(problems)} rule(s) refused; nothing was changed")
            change = change_rules(store, rules, [], who=who, origin=origin)
    except (StoreError, OSError) as exc:
        return error(str(exc))
    if args.json:
        print(
            json.dumps(
                {"added": list(change.added), "total": change.total, "data_version": change.data_version}
            )
        )
    else:
        for rule in rules:
            print(f"added {rule.id}")
        print(f"rules: {len(change.added)} added, {change.total} live (data version {change.data_version})")
    return EXIT_ALLOW


def run_remove(args: argparse.Namespace) -> int:
    who, origin = cli_identity()
    try:
        with configured_store() as store:
            change = change_rules(store, [], args.ids, who=who, origin=origin)
    except RuleError as exc:
        return error(f"{exc}; nothing was changed")
    except (StoreError, OSError) as exc:
        return error(str(exc))
    if args.json:
        print(
            json.dumps(
                {"removed": list(change.removed), "total": change.total, "data_version": change.data_version}
            )
        )
    else:
        print(
            f"rules: {len(change.removed)} removed, {change.total} live (data version {change.data_version})"
        )
    return EXIT_ALLOW


def run_list(args: argparse.Namespace) -> int:
    try:
        with configured_store() as store:
            part = store.part(Component.RULES)
            version = store.status().data_version
    except (StoreError, OSError) as exc:
        return error(str(exc))
    rules = sorted((r for r in part.records if isinstance(r, Rule)), key=lambda r: r.id)
    if args.json:
        print(
            json.dumps({"rules": [rule_dict(r) for r in rules], "data_version": version}, ensure_ascii=False)
        )
        return EXIT_ALLOW
    rows = [
        [r.id, r.reference or "", r.reason, r.until.isoformat() if r.until else "", r.author or ""]
        for r in rules
    ]
    print_table(["id", "reference", "reason", "until", "author"], rows)
    return EXIT_ALLOW


def run_contractor_add(args: argparse.Namespace) -> int:
    who, origin = cli_identity()
    try:
        contractor = make_contractor(
            id_=args.id, names=args.name, aliases=args.alias, corporate_number=args.corporate_number
        )
    except RuleError as exc:
        return error(f"--{exc.field.replace('_', '-')}: {exc}")
    try:
        with configured_store() as store:
            change = change_rules(store, [contractor], [], who=who, origin=origin)
    except (StoreError, OSError) as exc:
        return error(str(exc))
    print(f"contractor {contractor.id} registered (data version {change.data_version})")
    return EXIT_ALLOW


def run_contractor_show(args: argparse.Namespace) -> int:
    try:
        with configured_store() as store:
            rules = live_rules(store)
    except (StoreError, OSError) as exc:
        return error(str(exc))
    view = contractor_view(rules, args.id)
    if view is None:
        return error(f"no contractor {args.id!r} is registered")
    if args.json:
        print(json.dumps(view, ensure_ascii=False))
        return EXIT_ALLOW
    print(f"contractor {view['id']}: {' / '.join(view['names'])}")  # type: ignore[arg-type]
    if view["corporate_number"]:
        print(f"  corporate number {view['corporate_number']}")
    if view["aliases"]:
        print(f"  also known as {', '.join(view['aliases'])}")  # type: ignore[arg-type]
    holds = view["holds"]
    assert isinstance(holds, dict)
    for operator, targets in holds.items():
        print(f"  holds through {operator}: {', '.join(targets)}")
    for label in ("refusals", "suspensions"):
        found = view[label]
        assert isinstance(found, list)
        print(f"  {label}: {', '.join(found) if found else 'none'}")
    return EXIT_ALLOW
