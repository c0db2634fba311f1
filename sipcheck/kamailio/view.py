"""Kamailio's view of a data set: flat key → value entries whose verdicts `policy.decide` wrote.

A routing engine at thousands of calls a second should not ask a server per call, and must not
decide anything itself, or it would disagree with the library. So the decision is made here,
ahead of time, for every *class* of call the data can tell apart, and the script only looks
entries up (see `sipcheck.kamailio.lookup`, the script's steps in Python):

``f:<len>:<chars>``  the caller form trie (`sipcheck.kamailio.forms`): digits → national / E.164
``n:<len>:<prefix>`` national number prefixes → ``<class>|<longest key below>``: every valid
                     6-digit prefix of MIC's plan, every designated block, every wholesale range
                     inside a block, every rule prefix (range suspensions, overrides; `rules.py`).
                     Longest match wins, as in the store.
``s:<e164>``         a suspended number
``t:<ip>``           an ingress address → its trunk class (``u``: unknown peer); ``p<class>`` when the
                     address also has trunks by port: then ``t:<ip>:<port>``, else ``<class>``
                     (one read per call for a peer whose trunk is not by port)
``a:<user>``         a user part that says "no number" → its verdict key (``v:anon``; ``v:pay`` for
                     公衆電話, a payphone: a caller kind of its own)
``v:<day>:<class>:<suspended>:<trunk>`` → ``<code>|<phrase>|<headers>``: the verdict, per JST day
                     (certification dates move verdicts at midnight without a reload); code 0 = relay
``w:…``              the same under the snapshot fail policy (source down: answer from this view)
``v:inv`` / ``v:anon`` / ``v:pay`` the invalid-number, anonymous and payphone verdicts

Two numbers in one class have the same facts apart from suspension and ingress: the same
designated block state, operators and coverage date. That holds because each class entry is
decided from a representative number that lies under its key and under no longer key, so it
shares every longest match with any number that ends at that key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import quote

from sipcheck.facts import Facts, OperatorFacts
from sipcheck.ingress import split_peer
from sipcheck.kamailio.forms import form_entries
from sipcheck.model import Rule, Suspension
from sipcheck.numbers import NO_NUMBER_USERS, PAYPHONE_USERS, PLAN, InvalidNumber, parse_number, prefix_rule
from sipcheck.policy import CompiledPolicy, decide, decide_anonymous
from sipcheck.store import TableSet
from sipcheck.verdict import Verdict

VERDICT_SEPARATOR = "|"
UNKNOWN_TRUNK = "u"
BY_PORT_MARK = "p"
"""Starts a ``t:<ip>`` value whose address has trunks by port (trunk classes are ``u`` or ``t<n>``)."""
ANONYMOUS_KEY = "v:anon"
PAYPHONE_KEY = "v:pay"
"""The verdict entries of the two no-number kinds; an ``a:<user>`` entry names one of them."""
SUSPENSION_PREFIX = "s:"
"""A suspended number's key is this plus its E.164 form; the sync daemon changes these in place."""
INTERNATIONAL_CLASS = "I"
_SAMPLE_SUSPENSION = Suspension(number="+810000000000", reference="view")
_SAMPLE_FOREIGN = "+14155550100"
_PEER = "kamailio"  # any non-None peer: over SIP the ingress peer is always known


@dataclass(frozen=True, slots=True)
class View:
    """Every entry Kamailio reads for one data version, and what they were built from."""

    entries: dict[str, str]
    data_version: str
    days: tuple[date, ...]
    classes: int
    trunk_classes: int
    counts: dict[str, int] = field(default_factory=dict)


def encode_verdict(verdict: Verdict) -> str:
    """``<code>|<phrase>|<header lines>``: what the script replies (code > 0) or adds (code 0)."""
    sip = verdict.sip
    lines = "".join(f"{name}: {value}\r\n" for name, value in sip.headers)
    code = sip.code if sip.reject and sip.code is not None else 0
    phrase = sip.reason_phrase or "" if code else ""
    for text in (phrase, lines):
        if VERDICT_SEPARATOR in text:
            raise ValueError(f"a verdict header holds {VERDICT_SEPARATOR!r}, which the view uses: {text!r}")
    return f"{code}{VERDICT_SEPARATOR}{phrase}{VERDICT_SEPARATOR}{lines}"


def day_key(day: date) -> str:
    """A JST day as the view keys it (and as the sync daemon sets ``$shv(sipcheck_day)``)."""
    return str(day.toordinal())


_ClassKey = tuple[bool, bool, date | None, OperatorFacts | None, OperatorFacts | None, tuple[Rule, ...]]


def _class_key(facts: Facts) -> _ClassKey:
    block = facts.block
    return (
        block is None,
        bool(block and block.in_use),
        facts.designations_as_of,
        facts.designated,
        facts.serving,
        facts.rules,
    )


class _Classes:
    """Class ids by the facts that tell numbers apart, each with a representative's facts."""

    def __init__(self) -> None:
        self.ids: dict[_ClassKey, str] = {}
        self.facts: dict[str, Facts] = {}

    def of(self, facts: Facts) -> str:
        key = _class_key(facts)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = f"c{len(self.ids)}"
            self.facts[found] = facts
        return found


def _representative(key: str, length: int, children: Sequence[str]) -> str | None:
    """A national number of ``length`` digits under ``key`` and under none of ``children``
    (longer keys below ``key``), or None when the children cover every such number."""
    taken = set(children)
    inside = {c[:n] for c in children for n in range(len(key), len(c) + 1)}

    def extend(prefix: str) -> str | None:
        if prefix in taken:
            return None
        if len(prefix) == length:
            return prefix
        if prefix not in inside:
            return prefix + "0" * (length - len(prefix))
        for digit in "0123456789":
            found = extend(prefix + digit)
            if found is not None:
                return found
        return None

    return extend(key)


def _number_keys(tables: TableSet) -> dict[str, list[str]]:
    """Every valid 6-digit prefix → the longer keys below it (blocks, wholesale ranges in blocks)."""
    depth = PLAN.classify_depth
    below: dict[str, list[str]] = {}
    for i in range(10 ** (depth - 1)):
        prefix = "0" + str(i).zfill(depth - 1)
        if prefix_rule(prefix) is not None:
            below[prefix] = []
    longer = {b for b in tables.blocks if len(b) > depth}
    for prefix in tables.wholesale:
        block = next(
            (prefix[:n] for n in range(len(prefix) - 1, depth - 1, -1) if prefix[:n] in tables.blocks), None
        )
        if block is not None and len(prefix) > max(len(block), depth):
            longer.add(prefix)
    # A rule's prefix longer than the classifying depth is a key of its own (a range inside a block, one
    # number): numbers under it share its rules; shorter ones cover whole 6-digit keys already.
    longer.update(p for p in tables.rules.prefixes() if len(p) > depth)
    for key in sorted(longer):
        if key[:depth] in below:
            below[key[:depth]].append(key)
    return below


def _facts_of(tables: TableSet, national: str) -> Facts:
    number = parse_number(national)
    return tables.facts(number, None, national)


def _trunk_entries(peer_tokens: dict[str, str]) -> dict[str, str]:
    """The ``t:`` entries for each peer's trunk class, keyed as the script builds them from ``$si``
    (an IPv6 address without brackets) and ``$sp``. A port's class is written even when unknown,
    so that the address's class never stands in for it."""
    by_host: dict[str, str] = {}
    by_port: dict[str, dict[str, str]] = {}
    for peer, token in peer_tokens.items():
        host, port = split_peer(peer)
        if port is None:
            by_host[host] = token
        else:
            by_port.setdefault(host, {})[port] = token
    entries = {f"t:{host}": token for host, token in by_host.items() if token != UNKNOWN_TRUNK}
    for host, ports in by_port.items():
        entries[f"t:{host}"] = BY_PORT_MARK + by_host.get(host, UNKNOWN_TRUNK)
        entries.update({f"t:{host}:{port}": token for port, token in ports.items()})
    return entries


def build_view(
    tables: TableSet,
    policy: CompiledPolicy,
    days: Sequence[date],
    peers: Iterable[str] = (),
    resolve: Callable[[str], str | None] = lambda peer: peer,
    *,
    snapshot_verdicts: bool = False,
) -> View:
    """The view of ``tables`` under ``policy`` for ``days``: see the module docstring.

    ``peers`` are the peer addresses to publish ("IP" or "IP:port": the ingress mapping's keys and
    the trunk data's), ``resolve`` the one ingress mapping every edge uses (peer → ingress text).
    Raises ValueError for a data set that is not complete (a view never stands for missing data).
    """
    if not tables.complete:
        raise ValueError("the data set is not complete: no view is built from missing data")
    entries: dict[str, str] = dict(form_entries())
    classes = _Classes()
    depth = PLAN.classify_depth
    for prefix, children in _number_keys(tables).items():
        rule = prefix_rule(prefix)
        assert rule is not None
        length = rule[1]
        rep = _representative(prefix, length, children)
        own = classes.of(_facts_of(tables, rep)) if rep is not None else ""
        longest = max((len(c) for c in children), default=0)
        entries[f"n:{length}:{prefix}"] = f"{own}|{min(longest, length) if longest > depth else 0}"
        for child in children:
            deeper = [c for c in children if len(c) > len(child) and c.startswith(child)]
            rep = _representative(child, length, deeper)
            if rep is not None:
                entries[f"n:{length}:{child}"] = f"{classes.of(_facts_of(tables, rep))}|0"
    foreign = tables.facts(parse_number(_SAMPLE_FOREIGN), None, _SAMPLE_FOREIGN)
    class_facts = dict(classes.facts)
    class_facts[INTERNATIONAL_CLASS] = foreign
    for number in tables.suspensions:
        entries[f"{SUSPENSION_PREFIX}{number}"] = "1"
    for user in NO_NUMBER_USERS:
        key = PAYPHONE_KEY if user in PAYPHONE_USERS else ANONYMOUS_KEY
        entries[f"a:{user.lower()}"] = key
        # As a URI carries it (非通知 percent-encoded): the script also looks up the raw user part.
        entries[f"a:{quote(user).lower()}"] = key
    trunk_ops: dict[str, OperatorFacts | None] = {UNKNOWN_TRUNK: None}
    trunk_ids: dict[OperatorFacts, str] = {}
    peer_tokens: dict[str, str] = {}
    for peer in sorted(set(peers) | set(tables.trunks)):
        ingress = resolve(peer)
        op = tables.trunks.get(ingress) if ingress is not None else None
        if op is None:
            peer_tokens[peer] = UNKNOWN_TRUNK
            continue
        token = trunk_ids.get(op)
        if token is None:
            token = trunk_ids[op] = f"t{len(trunk_ids)}"
            trunk_ops[token] = op
        peer_tokens[peer] = token
    entries.update(_trunk_entries(peer_tokens))
    variants = [("v", False)] + ([("w", True)] if snapshot_verdicts else [])
    for day in days:
        dk = day_key(day)
        for cid, base in class_facts.items():
            for susp in (False, True):
                for token, op in trunk_ops.items():
                    facts = replace(
                        base,
                        suspension=_SAMPLE_SUSPENSION if susp else None,
                        ingress_peer=_PEER,
                        ingress=op,
                    )
                    for letter, snap in variants:
                        verdict = decide(replace(facts, from_snapshot=snap), policy, day)
                        entries[f"{letter}:{dk}:{cid}:{int(susp)}:{token}"] = encode_verdict(verdict)
    entries["v:inv"] = encode_verdict(
        decide(
            Facts.invalid("view", InvalidNumber("view", "view", "")), policy, days[0] if days else date.min
        )
    )
    entries[ANONYMOUS_KEY] = encode_verdict(decide_anonymous("anonymous", policy))
    entries[PAYPHONE_KEY] = encode_verdict(decide_anonymous(next(iter(sorted(PAYPHONE_USERS))), policy))
    counts = {
        "forms": sum(1 for k in entries if k.startswith("f:")),
        "numbers": sum(1 for k in entries if k.startswith("n:")),
        "suspensions": len(tables.suspensions),
        "verdicts": sum(1 for k in entries if k[:2] in ("v:", "w:")),
    }
    return View(entries, tables.data_version, tuple(days), len(class_facts), len(trunk_ops), counts)
