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

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sipcheck.model import Rule, RuleAction, RuleScope
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
    known_operators: Iterable[str] = (),
    reason: str = "",
    reference: str | None = None,
    source: str | None = None,
    author: str | None = None,
    created: datetime | None = None,
    until: date | None = None,
    today: date | None = None,
) -> Rule:
    """One checked rule from exactly one target; `RuleError` names what is wrong.

    ``known_operators`` are the operator ids of the live data: a stock suspension of an id nobody
    knows would suspend nothing and say it did. ``today`` (JST) refuses an ``until`` already past.
    """
    given = [
        name
        for name, value in (("number", number), ("prefix", prefix), ("range", range_), ("operator", operator))
        if value is not None
    ]
    if len(given) != 1:
        raise RuleError("target", given, "give exactly one of number, prefix, range, operator")
    if until is not None and today is not None and until < today:
        raise RuleError("until", until.isoformat(), f"is in the past (today is {today.isoformat()} JST)")
    if action is RuleAction.SUSPEND and not (reference or "").strip():
        raise RuleError("reference", reference, "a suspension needs the reference of the request behind it")

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
        )

    if number is not None:
        national = national_number("number", number)
        return build(RuleScope.NUMBER, national, (national,))
    if prefix is not None:
        ends = split_range(prefix)
        if ends is None:
            national = national_prefix("prefix", prefix)
            return build(RuleScope.PREFIX, national, (national,))
        range_ = ends
    if range_ is not None:
        cover = number_range("range", *range_)
        low = national_number("range.from", range_[0])
        high = national_number("range.to", range_[1])
        return build(RuleScope.RANGE, f"{low}..{high}", cover)
    assert operator is not None
    op = operator.strip()
    if op not in set(known_operators):
        raise RuleError("operator", operator, "is not the id of an operator in the loaded data")
    if action is not RuleAction.SUSPEND:
        raise RuleError(
            "operator", operator, "an override names numbers; only a suspension may name an operator"
        )
    return build(RuleScope.OPERATOR, op, (), op)


NO_RULES: tuple[Rule, ...] = ()

_Segments = tuple[list[str], list[str], list[tuple[Rule, ...]]]
"""Per block: segment starts, segment ends, the rules covering each (longest prefix first)."""


class RuleSet:
    """Rules compiled for matching: per designation block (one dict hit on the number's block key,
    whose hash the string already carries), wider prefixes by length, and by operator id."""

    __slots__ = ("_blocks", "_by_operator", "_by_prefix", "_wide", "_wide_lengths", "count", "rules")

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: dict[str, Rule] = {r.id: r for r in rules}
        by_prefix: dict[str, list[Rule]] = {}
        by_operator: dict[str, list[Rule]] = {}
        for rule in self.rules.values():
            for prefix in rule.prefixes:
                by_prefix.setdefault(prefix, []).append(rule)
            if rule.operator:
                by_operator.setdefault(rule.operator, []).append(rule)
        self._by_prefix = {p: tuple(rs) for p, rs in by_prefix.items()}
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
        self._blocks = {b: self._segments(prefixes, widths[b]) for b, prefixes in in_block.items()}
        self._wide = wide
        self._wide_lengths = tuple(sorted({len(p) for p in wide}, reverse=True))
        self.count = len(self.rules)

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
                hits.append(tuple(r for p in covering for r in self._by_prefix[p]))
        return starts, ends, hits

    def match(self, block: str, national: str, designated: str, serving: str) -> tuple[Rule, ...]:
        """Every rule covering a number (its block key and national form, '' if foreign) whose
        designated / serving operator ids are given ('' = none): longest prefix first, then the
        operator's rules."""
        if not self.count:
            return NO_RULES
        found: tuple[Rule, ...] = NO_RULES
        if block:
            segments = self._blocks.get(block)
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

    def changed(self, add: Iterable[Rule], remove: Iterable[str]) -> tuple[RuleSet, list[str], list[str]]:
        """This set with ``add`` put in (replacing equal ids) and ``remove`` (ids) taken out: the new
        set, the ids added or replaced, and the ids removed. An id to remove that is not here is an
        error, so a mistyped removal is not reported as done."""
        rules = dict(self.rules)
        removed = []
        for rid in remove:
            if rid not in rules:
                raise RuleError("remove", rid, "no rule has this id")
            del rules[rid]
            removed.append(rid)
        added = []
        for rule in add:
            rules[rule.id] = rule
            added.append(rule.id)
        return RuleSet(rules.values()), added, removed


EMPTY_RULES = RuleSet(())


def winning_override(rules: tuple[Rule, ...], today: date) -> Rule | None:
    """The override that speaks for a number: the most specific in force (a number before a prefix,
    a longer prefix before a shorter one); between an allow and a deny equally specific, the deny."""
    best: Rule | None = None
    best_key = (-1, -1)
    for rule in rules:
        if rule.action is RuleAction.SUSPEND or not rule.in_force(today):
            continue
        length = max((len(p) for p in rule.prefixes), default=0)
        key = (length, 1 if rule.action is RuleAction.DENY else 0)
        if key > best_key:
            best, best_key = rule, key
    return best


def rules_by_id(rules: Mapping[str, Rule]) -> list[Rule]:
    return sorted(rules.values(), key=lambda r: r.id)


RULE_FIELDS = frozenset(
    ("action", "number", "prefix", "from", "to", "operator", "reason", "reference", "source", "until")
)
"""The fields a rule is written with, in JSON (HTTP, a rules file) and as CLI options alike."""


def rule_from_fields(
    fields: Mapping[str, object],
    *,
    known_operators: Iterable[str],
    author: str | None,
    created: datetime | None,
    today: date | None,
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
        raise RuleError("action", fields.get("action"), "must be suspend, allow or deny") from None
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
        known_operators=known_operators,
        reason=text.get("reason", ""),
        reference=text.get("reference"),
        source=text.get("source"),
        author=author,
        created=created,
        until=until,
        today=today,
    )
