"""The Kamailio view against the library: the script's walk over the view gives `decide`'s verdict.

`sipcheck.kamailio.lookup` is the routing script's steps in Python; these tests run it over a view
built from the real built-in data and require the exact verdict (code, phrase, every header) the
library gives for the same caller and peer, on structured and random inputs.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from sipcheck.ingress import IngressMap
from sipcheck.kamailio import dbtext, forms
from sipcheck.kamailio.lookup import lookup
from sipcheck.kamailio.view import View, build_view, day_key, encode_verdict
from sipcheck.model import Certification, CertStatus, Component
from sipcheck.numbers import InvalidNumber, parse_number
from sipcheck.policy import PolicyConfig
from sipcheck.sample import sample_parts
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore

DAY = date(2026, 8, 1)
JST = timezone(timedelta(hours=9))
# By address, by port, a port of an address mapped as a whole to a trunk the data does not name (it must
# not borrow the address's trunk), and IPv6 both ways (Kamailio's $si has no brackets).
INGRESS = IngressMap(
    {
        "127.0.0.2": "trunk-a",
        "127.0.0.3:5070": "trunk-b",
        "127.0.0.2:5099": "trunk-unnamed",
        "[::1]:5080": "trunk-b",
        "::2": "trunk-a",
    }
)
PEERS = [("127.0.0.1", 5060), ("127.0.0.2", 5060), ("127.0.0.2", 5099), ("127.0.0.3", 5070), ("127.0.0.3", 9)]
PEERS += [("::1", 5080), ("::1", 5060), ("::2", 7)]


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    return MemoryStore(sample_parts())


@pytest.fixture(scope="module")
def view(store: MemoryStore) -> View:
    return build_view(store.tables, PolicyConfig().compile(), [DAY], INGRESS.peers, INGRESS.resolve)


def screener(store: MemoryStore, day: date = DAY) -> Screener:
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=JST)
    return Screener(store, PolicyConfig().compile(), lambda: moment, INGRESS)


def test_the_form_trie_reads_digits_as_parse_number_does() -> None:
    entries = forms.form_entries()
    rng = random.Random(11)
    heads = [
        "",
        "+",
        "+81",
        "+810",
        "81",
        "810",
        "184",
        "186",
        "1840",
        "18401081",
        "184010",
        "010",
        "01081",
        "010810",
        "0",
        "03",
        "090",
        "0120",
        "1",
        "8",
        "+1",
        "+44",
        "0101",
        "00",
        "+0",
    ]
    checked = 0
    for _ in range(40_000):
        user = rng.choice(heads) + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 16)))
        walked = forms.walk(entries, user)
        try:
            number = parse_number(user)
        except InvalidNumber:
            continue  # a national number's validity is the n: table's job, checked below
        assert walked is not None, user
        assert walked.apply(user) == (number.national or number.e164), user
        checked += 1
    assert checked > 4_000


def test_the_walk_over_the_view_gives_the_library_verdict(store: MemoryStore, view: View) -> None:
    scr = screener(store)
    rng = random.Random(5)
    blocks = sorted(store.tables.blocks)
    heads = ["0", "+81", "81", "1840", "010", "+1", "+44", "+810", "0120", "050", "090", "0501000", "0570"]
    heads += rng.sample(blocks, 400)
    specials = [
        "05010009999",
        "+81669409999",
        "09012349999",
        "anonymous",
        "Unknown",
        "0312345678",
        "0990123456",
        "05099990000",
        "0352535111",
        "+14155550100",
        "%E9%9D%9E%E9%80%9A%E7%9F%A5",  # 非通知 as a URI carries it
        "",
    ]
    seen: set[str] = set()
    for i in range(30_000):
        user = (
            specials[i]
            if i < len(specials)
            else rng.choice(heads) + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 12)))
        )
        ip, port = rng.choice(PEERS)
        peer = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        # The library screens the URI the user part came from (it unescapes it, as the script must).
        expected = encode_verdict(scr.check(f"sip:{user}@pbx.example", peer))
        answer = lookup(view.entries, user, ip, port, day_key(DAY))
        assert answer.value == expected, (user, ip, port, answer.steps)
        seen.add(expected.split("|", 1)[0] + expected.split("\r\n")[0])
    assert len(seen) >= 3  # allow, flag and block all occurred


def test_a_peer_costs_one_trunk_read_unless_its_address_has_trunks_by_port(view: View) -> None:
    trunks = {k: v for k, v in view.entries.items() if k.startswith("t:")}
    by_address = {k: v for k, v in trunks.items() if k.count(":") == 1 or k == "t:::2"}
    assert by_address["t:127.0.0.2"].startswith("p") and by_address["t:127.0.0.3"] == "pu"
    assert trunks["t:127.0.0.2:5099"] == "u" and trunks["t:::1:5080"] == trunks["t:127.0.0.3:5070"]
    assert not trunks["t:::2"].startswith("p") and "t:127.0.0.1" not in trunks


def test_a_suspended_caller_gets_the_block_with_its_reason(view: View) -> None:
    answer = lookup(view.entries, "+81669409999", "127.0.0.2", 5060, day_key(DAY))
    assert answer.code == 608
    assert "suspended" in answer.headers["X-Sipcheck-Reasons"]


def test_verdicts_follow_certification_dates_across_jst_midnight(store: MemoryStore) -> None:
    parts = sample_parts()
    certs = parts[Component.CERTIFICATIONS]
    ending = tuple(
        replace(c, valid_until=DAY) if isinstance(c, Certification) and c.operator == "ntt-east" else c
        for c in certs.records
    )
    changed = MemoryStore({**parts, Component.CERTIFICATIONS: replace(certs, records=ending)})
    assert any(isinstance(c, Certification) and c.status is CertStatus.CERTIFIED for c in ending)
    after = DAY + timedelta(days=1)
    view = build_view(changed.tables, PolicyConfig().compile(), [DAY, after], INGRESS.peers, INGRESS.resolve)
    today = lookup(view.entries, "0352535111", "127.0.0.2", 5060, day_key(DAY))
    tomorrow = lookup(view.entries, "0352535111", "127.0.0.2", 5060, day_key(after))
    assert today.value == encode_verdict(screener(changed, DAY).check("0352535111", "trunk-a"))
    assert tomorrow.value == encode_verdict(screener(changed, after).check("0352535111", "trunk-a"))
    assert "designated_operator_expired" in tomorrow.headers["X-Sipcheck-Reasons"]
    assert "X-Sipcheck-Reasons" not in today.headers


def test_a_day_the_view_does_not_hold_has_no_verdict(view: View) -> None:
    answer = lookup(view.entries, "0352535111", "127.0.0.1", 5060, day_key(DAY + timedelta(days=30)))
    assert answer.value is None  # the script then applies the fail policy


def test_an_incomplete_data_set_builds_no_view() -> None:
    with pytest.raises(ValueError, match="not complete"):
        build_view(MemoryStore().tables, PolicyConfig().compile(), [DAY])


def test_the_db_text_table_round_trips_every_entry(view: View, tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    path = dbtext.write_table(directory, "sipcheck_a", view.entries)
    assert dbtext.read_table(path) == view.entries
    assert "sipcheck_a:1" in (directory / "version").read_text()


def test_rules_reach_the_view_as_the_library_decides_them() -> None:
    """Range and stock suspensions and overrides: the walk gives the library's verdict under them."""
    from sipcheck.model import Block, Operator, Part, RuleAction
    from sipcheck.rules import make_rule

    parts = sample_parts()
    blocks = sorted((r for r in parts[Component.BLOCKS].records if isinstance(r, Block) and r.operator),
                    key=lambda b: b.prefix)  # fmt: skip
    ops = [r.id for r in parts[Component.OPERATORS].records if isinstance(r, Operator)]
    stock_block = next(b for b in blocks[200:] if MemoryStore(parts).tables.designated[b.prefix] is not None)
    stock = MemoryStore(parts).tables.designated[stock_block.prefix]
    assert stock is not None and stock.id in ops
    fixed = next(b for b in blocks if b.prefix.startswith("03"))
    ip = next(b for b in blocks if b.prefix.startswith("050"))
    rules = (
        make_rule(
            RuleAction.SUSPEND, range_=(fixed.prefix + "2000", fixed.prefix + "2499"), reference="POL-1"
        ),
        make_rule(RuleAction.SUSPEND, operator=stock.id, known_operators=ops, reference="POL-2"),
        make_rule(RuleAction.DENY, prefix=ip.prefix, reason="wave"),
        make_rule(RuleAction.ALLOW, prefix=ip.prefix + "12", reason="known PBX"),
        make_rule(RuleAction.ALLOW, number=ip.prefix + "9999", reason="one caller"),
        make_rule(
            RuleAction.CONTRACT, prefix=fixed.prefix + "3", contractor="c-hop", known_contractors=["c-hop"]
        ),
        make_rule(RuleAction.REFUSE, contractor="c-hop", reference="JUSA-1", known_contractors=["c-hop"]),
    )
    from sipcheck.rules import make_contractor

    hopper = make_contractor(id_="c-hop", names=["渡り"])
    store = MemoryStore({**parts, Component.RULES: Part(Component.RULES, (*rules, hopper))})
    view = build_view(store.tables, PolicyConfig().compile(), [DAY], INGRESS.peers, INGRESS.resolve)
    scr = screener(store)
    rng = random.Random(9)
    heads = [fixed.prefix + tail for tail in ("", "2", "24", "25", "3")]
    heads += [ip.prefix + tail for tail in ("", "1", "12", "999")] + [stock_block.prefix]
    seen: set[str] = set()
    for _ in range(4_000):
        user = rng.choice(heads) + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 6)))
        expected = encode_verdict(scr.check(f"sip:{user}@pbx.example", "127.0.0.2:5060"))
        answer = lookup(view.entries, user, "127.0.0.2", 5060, day_key(DAY))
        assert answer.value == expected, (user, answer.steps)
        seen.add(expected)
    reasons = "".join(seen)
    assert "override_allow" in reasons and "override_deny" in reasons and "suspended" in reasons
    assert "contractor_refused" in reasons
