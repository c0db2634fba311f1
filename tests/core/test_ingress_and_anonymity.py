"""One ingress mapping and one anonymity rule, as every edge uses them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sipcheck.ingress import IngressMap, split_peer
from sipcheck.numbers import is_anonymous
from sipcheck.sample import sample_parts
from sipcheck.screener import Screener
from sipcheck.sip.sipmsg import caller_identity, parse_message
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action, Reason

JST = timezone(timedelta(hours=9))
NOW = datetime(2026, 8, 1, 12, 0, tzinfo=JST)
MAP = IngressMap({"10.0.0.5": "trunk-a", "10.0.0.6:5070": "trunk-b", "[2001:db8::1]:5060": "trunk-a"})


@pytest.mark.parametrize(
    ("peer", "ingress"),
    [
        ("10.0.0.5:5060", "trunk-a"),  # an IP entry covers every port
        ("10.0.0.5", "trunk-a"),
        ("10.0.0.6:5070", "trunk-b"),
        ("10.0.0.6:5060", "10.0.0.6"),  # an IP:port entry only that port; else screened by its IP
        ("[2001:db8::1]:5060", "trunk-a"),
        ("2001:db8::2", "2001:db8::2"),
        ("trunk-b", "trunk-b"),  # a trunk id is kept as it is
        (" 10.0.0.5:5060 ", "trunk-a"),
        ("", None),
        (None, None),
    ],
)
def test_ingress_map_resolves_peers_and_keeps_trunk_ids(peer: str | None, ingress: str | None) -> None:
    assert MAP.resolve(peer) == ingress
    assert MAP.resolve(peer) == ingress  # the cached answer is the same


def test_split_peer_handles_v4_v6_and_bare_hosts() -> None:
    assert split_peer("10.0.0.5:5060") == ("10.0.0.5", "5060")
    assert split_peer("[::1]:5060") == ("::1", "5060")
    assert split_peer("::1") == ("::1", None)
    assert split_peer("10.0.0.5") == ("10.0.0.5", None)


@pytest.mark.parametrize(
    ("text", "anonymous"),
    [
        ("sip:anonymous@anonymous.invalid", True),
        ('"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', True),
        ("sip:Unavailable@pbx.example", True),
        ("sip:%E9%9D%9E%E9%80%9A%E7%9F%A5@pbx.example", True),  # 非通知
        ("<sip:pbx.example>;tag=9", True),  # no user part: no number was given
        ("tel:", True),
        ("sip:0352535111@anonymous-trunk.example", False),  # a host is not the caller
        ("sip:05010009999@anonymous.example", False),
        ("0352535111", False),
        ("", False),  # no input at all is not a SIP caller: invalid, not anonymous
    ],
)
def test_one_anonymity_rule(text: str, anonymous: bool) -> None:
    assert is_anonymous(text) is anonymous


def _invite(from_uri: str, pai: str | None = None) -> str:
    lines = ["INVITE sip:callee@127.0.0.1 SIP/2.0", f"From: <{from_uri}>;tag=1", "To: <sip:callee@127.0.0.1>"]
    if pai:
        lines.append(f"P-Asserted-Identity: <{pai}>")
    return "\r\n".join([*lines, "Call-ID: c1", "CSeq: 1 INVITE", "", ""])


def test_the_agent_screens_a_suspended_number_from_an_anonymous_looking_host() -> None:
    screener = Screener(MemoryStore(sample_parts()), clock=lambda: NOW, ingress_map=MAP)
    caller = caller_identity(parse_message(_invite("sip:05010009999@anonymous-trunk.example")), trusted=True)
    assert not caller.anonymous
    verdict = screener.check(caller.number, "10.0.0.5:5060")
    assert (verdict.action, verdict.reasons) == (Action.BLOCK, (Reason.SUSPENDED,))
    anonymous_pai = _invite("sip:05010009999@pbx.example", "sip:anonymous@anonymous.invalid")
    assert caller_identity(parse_message(anonymous_pai), trusted=True).number == "sip:05010009999@pbx.example"
    withheld = caller_identity(parse_message(_invite("sip:anonymous@anonymous.invalid")), trusted=True)
    assert withheld.anonymous
    assert screener.check(withheld.number).reasons == (Reason.ANONYMOUS,)


def test_screener_resolves_ingress_and_its_timeout_verdict_is_the_fail_policy() -> None:
    screener = Screener(MemoryStore(sample_parts()), clock=lambda: NOW, ingress_map=MAP)
    mapped = screener.check("0352535111", "10.0.0.5:5060")
    unmapped = screener.check("0352535111", "10.0.0.9:5060")
    assert mapped.action is Action.ALLOW and Reason.INGRESS_UNKNOWN not in mapped.reasons
    assert Reason.INGRESS_UNKNOWN in unmapped.reasons
    late = screener.unavailable("0352535111", "10.0.0.5:5060")
    assert (late.action, late.reasons) == (Action.FLAG, (Reason.DATA_UNAVAILABLE,))
    assert screener.unavailable("sip:anonymous@x.example").reasons == (Reason.ANONYMOUS,)
