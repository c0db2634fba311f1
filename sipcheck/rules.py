"""Range and stock suspensions and overrides: how a rule is written, checked and matched.

Pure: no I/O, no clock. The stores compile a `RuleSet` once per rules version and ask it, per
call, which rules cover a number (`RuleSet.match`); `sipcheck.policy.decide` says what they mean.
Written once here so the memory store, the Redis store, the batch screen and Kamailio's view
cannot match a rule differently.

Why prefixes: a from–to range of equal-length numbers is exactly a short list of prefixes (its
*prefix cover*: 0312340000..0312349999 is ``031234``), and so is one number (its whole national
form: Japanese numbers under one prefix all have one length, so no valid number extends another).
One lookup structure then serves numbers, prefixes and ranges.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sipcheck.model import Contractor, Rule, RuleAction, RuleScope
from sipcheck.numbers import InvalidNumber, parse_number, prefix_rule

GATE_DIGITS = 6
"""MIC's plan classifies a number by its first 6 digits: what says a prefix's block length."""

MAX_RANGE_PREFIXES = 1000
"""A from–to range whose prefix cover is longer than this is refused: it is almost certainly a typo
(two ends of different ranges), and a deliberate one is better written as prefixes."""

_SEPARATORS = str.maketrans("", "", " -()\u2010\u2011\u2012\u2013\u2212\u30fc")
_RANGE_MARKS = ("..", "~", "〜", "～")


class RuleError(ValueError):
    """A rule that cannot be accepted; ``field`` names the part of the request that is wrong."""

    def __init__(self, field: str, value: object, detail: str) -> None:
        self.field = field
        self.value = value
        self.detail = detail
        super().__init__(f"{field} {value!r}: {detail}")


def _digits(field: str, text: str) -> str:
    """A national prefix from what people write: hyphens and spaces dropped, +81 turned into 0."""
    raw = text.strip().translate(_SEPARATORS)
    if raw.startswith("+81"):
        raw = "0" + raw[3:]
    elif raw.startswith("81") and len(raw) > 3 and raw[2] != "0":
        raw = "0" + raw[2:]
    if not raw or not (raw.isascii() and raw.isdigit()):
        raise RuleError(field, text, "a national prefix is digits (hyphens allowed), e.g. 050-1000")
    if not raw.startswith("0") or raw.startswith("00"):
        raise RuleError(field, text, "a national prefix starts with one 0 (e.g. 03, 050, 0120)")
    return raw


def _check_prefix_in_plan(field: str, text: str, prefix: str) -> None:
    """Refuse a prefix no valid number starts with (a typo would otherwise suspend nothing, silently)."""
    if len(prefix) >= GATE_DIGITS:
        head = prefix[:GATE_DIGITS]
        rule = prefix_rule(head)
        if rule is None:
            raise RuleError(field, text, "no number in MIC's numbering plan starts with it")
        if len(prefix) > rule[1]:
            raise RuleError(field, text, f"longer than the numbers it would cover ({rule[1]} digits)")
        return
    # Shorter than the plan's classifying depth: some valid 6-digit prefix must extend it.
    for tail in range(10 ** (GATE_DIGITS - len(prefix))):
        if prefix_rule(prefix + str(tail).zfill(GATE_DIGITS - len(prefix))) is not None:
            return
    raise RuleError(field, text, "no number in MIC's numbering plan starts with it")


def national_number(field: str, text: str) -> str:
    """One whole Japanese number in national form (parsed by the one number parser)."""
    try:
        number = parse_number(text)
    except InvalidNumber as exc:
        raise RuleError(field, text, exc.detail) from None
    if not number.national:
        raise RuleError(field, text, "rules cover Japanese numbers; an international number has no prefix")
    return number.national


def national_prefix(field: str, text: str) -> str:
    prefix = _digits(field, text)
    if len(prefix) < 2:
        raise RuleError(field, text, "a prefix of one digit would cover every number")
    _check_prefix_in_plan(field, text, prefix)
    return prefix


def prefix_cover(low: str, high: str) -> tuple[str, ...]:
    """The fewest prefixes whose numbers are exactly ``low``..``high`` (equal-length digit strings).

    Walks up from ``low``: at each step take the largest aligned block (a prefix with k free digits)
    that starts there and ends at or below ``high``. At most 18 prefixes per digit of length.
    """
    width = len(low)
    start, end = int(low), int(high)
    out: list[str] = []
    while start <= end:
        free = 0
        while free < width:
            size = 10 ** (free + 1)
            if start % size != 0 or start + size - 1 > end:
                break
            free += 1
        out.append(str(start).zfill(width)[: width - free])
        start += 10**free
    return tuple(out)


def number_range(field: str, low_text: str, high_text: str) -> tuple[str, ...]:
    low = national_number(field + ".from", low_text)
    high = national_number(field + ".to", high_text)
    if len(low) != len(high):
        raise RuleError(field, f"{low_text}..{high_text}", "the two ends have different lengths")
    if low > high:
        raise RuleError(field, f"{low_text}..{high_text}", "the range ends before it starts")
    cover = prefix_cover(low, high)
    if len(cover) > MAX_RANGE_PREFIXES:
        raise RuleError(
            field,
            f"{low_text}..{high_text}",
            f"covers {len(cover)} prefixes (more than {MAX_RANGE_PREFIXES}); write it as prefixes",
        )
    return cover


def split_range(text: str) -> tuple[str, str] | None:
    """``0312340000..0312349999`` (or with ``~``/``〜``) → its two ends; None when it is no range."""
    for mark in _RANGE_MARKS:
        if mark in text:
            low, _, high = text.partition(mark)
            return low.strip(), high.strip()
    return None


def rule_id(action: RuleAction, scope: RuleScope, key: str) -> str:
    """Deterministic: the same rule added twice is one rule (a retried request changes nothing)."""
    return f"{action.value}:{scope.value}:{key}"


def make_rule(
    action: RuleAction,
    *,
    number: str | None = None,
    prefix: str | None = None,
    range_: tuple[str, str] | None = None,
    operator: str | None = None,
    contractor: str | None = None,
    via: str | None = None,
    known_operators: Iterable[str] = (),
    known_contractors: Iterable[str] = (),
    reason: str = "",
    reference: str | None = None,
    source: str | None = None,
    author: str | None = None,
    created: datetime | None = None,
    until: date | None = None,
    today: date | None = None,
) -> Rule:
    """One checked rule; `RuleError` names what is wrong.

    Targets: exactly one of number, prefix, range, operator (a stock suspension) — or, for a
    refusal, the contractor alone. A contract (``contract``) names the numbers, the ``contractor``
    that holds them and optionally the operator ``via`` which it does; a suspension may name the
    contractor it concerns. ``known_operators`` / ``known_contractors`` are the ids of the live data
    (a rule naming an id nobody knows would match nothing and say it did). ``today`` (JST)
    refuses an ``until`` already past.
    """
    if action is RuleAction.NOTE:
        raise RuleError("action", action.value, "notes are derived by sipcheck, not written")
    given = [
        name
        for name, value in (("number", number), ("prefix", prefix), ("range", range_), ("operator", operator))
        if value is not None
    ]
    if action is RuleAction.REFUSE:
        if given:
            raise RuleError("target", given, "a refusal names the contractor only")
    elif len(given) != 1:
        raise RuleError("target", given, "give exactly one of number, prefix, range, operator")
    if until is not None and today is not None and until < today:
        raise RuleError("until", until.isoformat(), f"is in the past (today is {today.isoformat()} JST)")
    if action in (RuleAction.SUSPEND, RuleAction.REFUSE) and not (reference or "").strip():
        raise RuleError(
            "reference", reference, f"a {action.value} rule needs the reference of the request behind it"
        )
    who = (contractor or "").strip()
    if action in (RuleAction.CONTRACT, RuleAction.REFUSE) and not who:
        raise RuleError("contractor", contractor, f"a {action.value} rule names a contractor")
    if who and who not in set(known_contractors):
        raise RuleError("contractor", contractor, "is not a registered contractor (sipcheck contractor add)")
    if who and action in (RuleAction.ALLOW, RuleAction.DENY):
        raise RuleError("contractor", contractor, "an override names numbers, not a contractor")
    holder = (via or "").strip()
    if via is not None and action is not RuleAction.CONTRACT:
        raise RuleError("via", via, "only a contract names the operator a contractor holds numbers through")
    if holder and holder not in set(known_operators):
        raise RuleError("via", via, "is not the id of an operator in the loaded data")

    def build(scope: RuleScope, key: str, prefixes: tuple[str, ...], op: str = "") -> Rule:
        return Rule(
            rule_id(action, scope, key),
            action,
            scope,
            key,
            prefixes,
            op,
            reason,
            reference,
            source,
            author,
            created,
            until,
            who,
        )

    if action is RuleAction.REFUSE:
        return build(RuleScope.CONTRACTOR, who, ())
    if number is not None:
        national = national_number("number", number)
        return build(RuleScope.NUMBER, national, (national,), holder)
    if prefix is not None:
        ends = split_range(prefix)
        if ends is None:
            national = national_prefix("prefix", prefix)
            return build(RuleScope.PREFIX, national, (national,), holder)
        range_ = ends
    if range_ is not None:
        cover = number_range("range", *range_)
        low = national_number("range.from", range_[0])
        high = national_number("range.to", range_[1])
        return build(RuleScope.RANGE, f"{low}..{high}", cover, holder)
    assert operator is not None
    op = operator.strip()
    if op not in set(known_operators):
        raise RuleError("operator", operator, "is not the id of an operator in the loaded data")
    if action is not RuleAction.SUSPEND:
        raise RuleError("operator", operator, "only a suspension may name an operator's whole stock")
    return build(RuleScope.OPERATOR, op, (), op)


_CONTRACTOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_corporate_number(field: str, text: str) -> str:
    """A 13-digit corporate number (法人番号) with its check digit verified (国税庁's rule: the first
    digit is 9 − (Σ Pn·Qn mod 9) over the 12-digit base, Pn its n-th digit from the right, Qn 1 for
    odd n and 2 for even n)."""
    digits = text.strip().translate(_SEPARATORS)
    if len(digits) != 13 or not (digits.isascii() and digits.isdigit()):
        raise RuleError(field, text, "a corporate number (法人番号) has 13 digits")
    base = digits[1:]
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), 1))
    if int(digits[0]) != 9 - total % 9:
        raise RuleError(field, text, f"the check digit is wrong (expected {9 - total % 9})")
    return digits


def make_contractor(
    *, id_: str | None, names: Iterable[str], aliases: Iterable[str] = (), corporate_number: str | None = None
) -> Contractor:
    """One checked contractor; its id is its corporate number when it has one and no id is given."""
    number = check_corporate_number("corporate_number", corporate_number) if corporate_number else None
    cid = (id_ or number or "").strip()
    if not _CONTRACTOR_ID.fullmatch(cid):
        raise RuleError(
            "id", id_, "a contractor id is letters, digits, '.', '_', '-' (or give a corporate number)"
        )
    kept = tuple(n.strip() for n in names if n and n.strip())
    if not kept:
        raise RuleError("names", list(names), "a contractor needs at least one name")
    return Contractor(cid, kept, number, tuple(a.strip() for a in aliases if a and a.strip()))


def contractor_key(contractor_id: str) -> str:
    """A contractor's key in the rules component (rule ids start with an action, never with this)."""
    return f"contractor:{contractor_id}"


NO_RULES: tuple[Rule, ...] = ()

_Segments = tuple[list[str], list[str], list[tuple[Rule, ...]]]
"""Per block: segment starts, segment ends, the rules covering each (longest prefix first)."""


class RuleSet:
    """Rules compiled for matching: per designation block (one dict hit on the number's block key,
    whose hash the string already carries), wider prefixes by length, and by operator id."""

    __slots__ = (
        "_by_operator",
        "_by_prefix",
        "_wide",
        "_wide_lengths",
        "always",
        "blocks",
        "contractors",
        "count",
        "notes",
        "rules",
    )

    def __init__(self, records: Iterable[Rule | Contractor]) -> None:
        self.rules: dict[str, Rule] = {}
        self.contractors: dict[str, Contractor] = {}
        for record in records:
            if isinstance(record, Contractor):
                self.contractors[record.id] = record
            else:
                self.rules[record.id] = record
        refusals: dict[str, list[Rule]] = {}
        suspended: dict[str, list[Rule]] = {}
        for rule in self.rules.values():
            if rule.action is RuleAction.REFUSE:
                refusals.setdefault(rule.contractor, []).append(rule)
            elif rule.action is RuleAction.SUSPEND and rule.contractor:
                suspended.setdefault(rule.contractor, []).append(rule)
        # A contractor with suspensions gets a note on every range it holds: "suspended elsewhere".
        self.notes = {c: _note(c, found) for c, found in suspended.items()}
        by_prefix: dict[str, list[Rule]] = {}
        by_operator: dict[str, list[Rule]] = {}
        for rule in self.rules.values():
            # A contract carries its contractor's refusals and note with it: found with the range.
            carried = [rule]
            if rule.action is RuleAction.CONTRACT:
                carried += refusals.get(rule.contractor, [])
                if rule.contractor in self.notes:
                    carried.append(self.notes[rule.contractor])
            for prefix in rule.prefixes:
                by_prefix.setdefault(prefix, []).extend(carried)
            if rule.scope is RuleScope.OPERATOR:
                by_operator.setdefault(rule.operator, []).append(rule)
        self._by_prefix = {p: tuple(dict.fromkeys(rs)) for p, rs in by_prefix.items()}
        self._by_operator = {o: tuple(rs) for o, rs in by_operator.items()}
        in_block: dict[str, list[str]] = {}
        widths: dict[str, int] = {}
        wide: dict[str, tuple[Rule, ...]] = {}
        for p, found in self._by_prefix.items():
            plan = prefix_rule(p[:GATE_DIGITS]) if len(p) >= GATE_DIGITS else None
            if plan is not None and len(p) >= plan[2]:
                block = p[: plan[2]]
                in_block.setdefault(block, []).append(p)
                widths[block] = plan[1]
            else:
                wide[p] = found  # shorter than a block: covers whole blocks (rare)
        # Per block key, its segments; a number matches by prefix only in one of these blocks, unless
        # wide prefixes or stock suspensions are loaded (``always``): callers may skip `match` otherwise.
        self.blocks = {b: self._segments(prefixes, widths[b]) for b, prefixes in in_block.items()}
        self._wide = wide
        self._wide_lengths = tuple(sorted({len(p) for p in wide}, reverse=True))
        self.count = len(self.rules)
        self.always = bool(self._wide_lengths or self._by_operator)

    @classmethod
    def of(cls, records: Iterable[object]) -> RuleSet:
        """The rules and contractors among a component's records (the rules component holds both)."""
        return cls(r for r in records if isinstance(r, Rule | Contractor))

    def __bool__(self) -> bool:
        return self.count > 0

    def _segments(self, prefixes: list[str], width: int) -> _Segments:
        """The numbers of one block cut into segments that the same rules cover.

        Every number of a block has one length (MIC's plan), so a prefix is an interval of
        equal-width digit strings, compared as strings. Cutting at every interval's ends gives
        segments, each covered by a fixed set of rules; a number's rules are then one bisect.
        """
        spans = [(p + "0" * (width - len(p)), p + "9" * (width - len(p)), p) for p in prefixes]
        cuts = {low for low, _high, _p in spans}
        for _low, high, _p in spans:
            after = int(high) + 1
            if len(str(after)) <= width:
                cuts.add(str(after).zfill(width))
        starts: list[str] = []
        ends: list[str] = []
        hits: list[tuple[Rule, ...]] = []
        ordered = sorted(cuts)
        for i, start in enumerate(ordered):
            end = str(int(ordered[i + 1]) - 1).zfill(width) if i + 1 < len(ordered) else "9" * width
            covering = sorted((p for low, high, p in spans if low <= start <= high), key=len, reverse=True)
            if covering:
                starts.append(start)
                ends.append(end)
                hits.append(tuple(dict.fromkeys(r for p in covering for r in self._by_prefix[p])))
        return starts, ends, hits

    def match(self, block: str, national: str, designated: str, serving: str) -> tuple[Rule, ...]:
        """Every rule covering a number (its block key and national form, '' if foreign) whose
        designated / serving operator ids are given ('' = none): longest prefix first, then the
        operator's rules."""
        if not self.count:
            return NO_RULES
        found: tuple[Rule, ...] = NO_RULES
        if block:
            segments = self.blocks.get(block)
            if segments is not None:
                starts, ends, hits = segments
                i = bisect_right(starts, national) - 1
                if i >= 0 and national <= ends[i]:
                    found = hits[i]
        if self._wide_lengths and national:
            wide = self._wide
            for length in self._wide_lengths:
                hit = wide.get(national[:length])
                if hit is not None:
                    found += hit
        by_operator = self._by_operator
        if by_operator:
            if designated:
                hit = by_operator.get(designated)
                if hit is not None:
                    found += hit
            if serving and serving != designated:
                hit = by_operator.get(serving)
                if hit is not None:
                    found += hit
        return found

    def prefixes(self) -> tuple[str, ...]:
        """Every prefix a rule names (what Kamailio's view and the batch screen key their lookups on)."""
        return tuple(self._by_prefix)

    def records(self) -> tuple[Rule | Contractor, ...]:
        """What the rules component stores: the rules and the contractors (never the notes)."""
        return (*self.rules.values(), *self.contractors.values())

    def changed(
        self, add: Iterable[Rule | Contractor], remove: Iterable[str]
    ) -> tuple[RuleSet, list[str], list[str]]:
        """This set with ``add`` put in (replacing equal ids) and ``remove`` (rule ids, or
        ``contractor:<id>``) taken out: the new set, the ids added or replaced, and the ids removed.
        An id to remove that is not here is an error, so a mistyped removal is not reported as
        done; so is a contractor removed while a rule still names it."""
        records: dict[str, Rule | Contractor] = {r.id: r for r in self.rules.values()}
        records.update((contractor_key(c.id), c) for c in self.contractors.values())
        removed = []
        for rid in remove:
            if rid not in records:
                raise RuleError("remove", rid, "no rule has this id")
            del records[rid]
            removed.append(rid)
        added = []
        for record in add:
            key = contractor_key(record.id) if isinstance(record, Contractor) else record.id
            records[key] = record
            added.append(key)
        named = {r.contractor for r in records.values() if isinstance(r, Rule) and r.contractor}
        present = {r.id for r in records.values() if isinstance(r, Contractor)}
        orphaned = sorted(named - present)
        if orphaned:
            raise RuleError("remove", contractor_key(orphaned[0]), "rules still name this contractor")
        return RuleSet(records.values()), added, removed


def _note(contractor: str, suspensions: list[Rule]) -> Rule:
    references = sorted({r.reference for r in suspensions if r.reference})
    return Rule(
        f"note:contractor:{contractor}",
        RuleAction.NOTE,
        RuleScope.CONTRACTOR,
        contractor,
        reason=f"{len(suspensions)} suspension(s) name this contractor",
        reference=", ".join(references) or None,
        contractor=contractor,
    )


EMPTY_RULES = RuleSet(())


def winning_override(rules: tuple[Rule, ...], today: date) -> Rule | None:
    """The override that speaks for a number: the most specific in force (a number before a prefix,
    a longer prefix before a shorter one); between an allow and a deny equally specific, the deny."""
    best: Rule | None = None
    best_key = (-1, -1)
    for rule in rules:
        if rule.action not in (RuleAction.ALLOW, RuleAction.DENY) or not rule.in_force(today):
            continue
        length = max((len(p) for p in rule.prefixes), default=0)
        key = (length, 1 if rule.action is RuleAction.DENY else 0)
        if key > best_key:
            best, best_key = rule, key
    return best


RULE_FIELDS = frozenset(
    (
        *("action", "number", "prefix", "from", "to", "operator", "contractor", "via"),
        *("reason", "reference", "source", "until"),
    )
)
CONTRACTOR_FIELDS = frozenset(("id", "names", "aliases", "corporate_number"))
"""The fields a rule is written with, in JSON (HTTP, a rules file) and as CLI options alike."""


def rule_from_fields(
    fields: Mapping[str, object],
    *,
    known_operators: Iterable[str],
    author: str | None,
    created: datetime | None,
    today: date | None,
    known_contractors: Iterable[str] = (),
) -> Rule:
    """One rule from its written fields (see `RULE_FIELDS`); `RuleError` names the first bad one."""
    unknown = sorted(set(fields) - RULE_FIELDS)
    if unknown:
        raise RuleError(
            unknown[0], fields[unknown[0]], f"is no rule field (fields: {', '.join(sorted(RULE_FIELDS))})"
        )
    text: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise RuleError(name, value, "must be a string")
        text[name] = value
    try:
        action = RuleAction(text.get("action", ""))
    except ValueError:
        raise RuleError(
            "action", fields.get("action"), "must be suspend, allow, deny, contract or refuse"
        ) from None
    until = None
    if "until" in text:
        try:
            until = date.fromisoformat(text["until"])
        except ValueError:
            raise RuleError(
                "until", text["until"], "must be a date, YYYY-MM-DD (the last JST day in force)"
            ) from None
    if ("from" in text) != ("to" in text):
        raise RuleError(
            "from" if "to" not in text else "to",
            text.get("from") or text.get("to"),
            "a range needs both from and to",
        )
    return make_rule(
        action,
        number=text.get("number"),
        prefix=text.get("prefix"),
        range_=(text["from"], text["to"]) if "from" in text else None,
        operator=text.get("operator"),
        contractor=text.get("contractor"),
        via=text.get("via"),
        known_operators=known_operators,
        known_contractors=known_contractors,
        reason=text.get("reason", ""),
        reference=text.get("reference"),
        source=text.get("source"),
        author=author,
        created=created,
        until=until,
        today=today,
    )


def contractor_from_fields(fields: Mapping[str, object]) -> Contractor:
    """One contractor from its written fields (id, names, aliases, corporate_number)."""
    unknown = sorted(set(fields) - CONTRACTOR_FIELDS)
    if unknown:
        raise RuleError(
            unknown[0], fields[unknown[0]], f"is no contractor field ({', '.join(sorted(CONTRACTOR_FIELDS))})"
        )
    names, aliases = fields.get("names", ()), fields.get("aliases", ())
    for name, value in (("names", names), ("aliases", aliases)):
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):  # type: ignore[attr-defined]
            raise RuleError(name, value, "must be a list of strings")
    cid, number = fields.get("id"), fields.get("corporate_number")
    for name, value in (("id", cid), ("corporate_number", number)):
        if value is not None and not isinstance(value, str):
            raise RuleError(name, value, "must be a string")
    return make_contractor(
        id_=cid,  # type: ignore[arg-type]
        names=names,  # type: ignore[arg-type]
        aliases=aliases,  # type: ignore[arg-type]
        corporate_number=number,  # type: ignore[arg-type]
    )


def contractor_view(rules: RuleSet, contractor_id: str) -> dict[str, object] | None:
    """Everything the rules know about one contractor, across operators (`sipcheck contractor show`):
    its record, the ranges it holds by the operator it holds them through, its refusals, and the
    suspensions that name it. None when no such contractor is registered."""
    contractor = rules.contractors.get(contractor_id)
    if contractor is None:
        return None
    naming = sorted((r for r in rules.rules.values() if r.contractor == contractor_id), key=lambda r: r.id)
    by_operator: dict[str, list[str]] = {}
    for rule in naming:
        if rule.action is RuleAction.CONTRACT:
            by_operator.setdefault(rule.operator or "(operator not named)", []).append(rule.target)
    return {
        "id": contractor.id,
        "names": list(contractor.names),
        "aliases": list(contractor.aliases),
        "corporate_number": contractor.corporate_number,
        "holds": {op: sorted(targets) for op, targets in sorted(by_operator.items())},
        "refusals": [r.id for r in naming if r.action is RuleAction.REFUSE],
        "suspensions": [r.id for r in naming if r.action is RuleAction.SUSPEND],
        "rules": [r.id for r in naming],
    }
