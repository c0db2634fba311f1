"""Caller privacy on relay: the pure rule (`sipcheck.sip.privacy`, no pjsua2), then end to end
(SIPp caller → agent → SIPp callee, and what the callee saw).

A caller who dialled 184 or sent ``Privacy: id`` reaches the next hop with an anonymous From,
``Privacy: id`` and their number only in P-Asserted-Identity; ``Privacy: none`` and 186 callers are
presented; Diversion and History-Info are carried unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from siphelpers import Relay, invite_to_callee, uac, uas

from sipcheck.numbers import InvalidNumber, PhoneNumber, parse_number
from sipcheck.sip.privacy import (
    ANONYMOUS_FROM,
    OutboundIdentity,
    outbound_identity,
    privacy_values,
)
from sipcheck.sip.sipmsg import SipMessage, caller_identity, name_addr, parse_message, uri_of, uri_user
from sipcheck.verdict import SipMapping

# ----- the rule, on parsed INVITEs -------------------------------------------------------------------


def relay_identity(
    *headers: str, frm: str = '"Taro" <sip:0352535111@198.51.100.1>;tag=t1'
) -> OutboundIdentity:
    """`outbound_identity` for an INVITE from a trusted peer with ``headers``, its caller parsed as the
    screener parses it (None when that fails)."""
    raw = (
        "INVITE sip:0399990000@127.0.0.1:5070 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK1\r\n"
        f"From: {frm}\r\nTo: <sip:0399990000@127.0.0.1>\r\nCall-ID: c1@x\r\nCSeq: 1 INVITE\r\n"
        + "".join(f"{h}\r\n" for h in headers)
        + "Content-Length: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    caller = caller_identity(msg, trusted=True)
    number: PhoneNumber | None
    try:
        number = parse_number(caller.number)
    except InvalidNumber:
        number = None
    return outbound_identity(caller, number, msg)


def withheld(pai: str | None, *carried: tuple[str, str]) -> OutboundIdentity:
    pais = () if pai is None else (("P-Asserted-Identity", pai),)
    return OutboundIdentity(ANONYMOUS_FROM, (*pais, ("Privacy", "id"), *carried), True)


@pytest.mark.parametrize(
    ("header", "values"),
    [
        (None, set()),
        ("id", {"id"}),
        ("Header ; ID;critical", {"header", "id", "critical"}),
        ("none", {"none"}),
    ],
)
def test_privacy_values(header: str | None, values: set[str]) -> None:
    assert privacy_values(header) == values


def test_a_184_caller_is_withheld_and_asserted_as_e164() -> None:
    got = relay_identity(frm='"Taro" <sip:1840352535111@198.51.100.1>;tag=t1')
    assert got == withheld("<tel:+81352535111>")


@pytest.mark.parametrize("value", ["id", "header", "user", "id;critical", "user;header"])
def test_privacy_asking_for_withholding_is_withheld(value: str) -> None:
    got = relay_identity(f"Privacy: {value}", "P-Asserted-Identity: <sip:0352535111@198.51.100.1;user=phone>")
    assert got == withheld("<tel:+81352535111>")  # the assertion, normalised; nothing of the inbound one


def test_184_wins_over_privacy_none() -> None:
    got = relay_identity("Privacy: none", frm="<sip:1840352535111@198.51.100.1>;tag=t1")
    assert got == withheld("<tel:+81352535111>")


def test_an_anonymous_caller_gets_no_assertion() -> None:
    got = relay_identity("Privacy: id", frm='"Anonymous" <sip:anonymous@anonymous.invalid>;tag=t1')
    assert got == withheld(None)


def test_an_unparsable_number_keeps_what_it_had_when_withheld() -> None:
    """184 still withholds a number the screener could not parse; the inbound assertion goes on as it is."""
    assert relay_identity(frm="<sip:18403123@198.51.100.1>;tag=t1") == withheld(None)
    got = relay_identity("Privacy: id", "P-Asserted-Identity: <sip:alice@example.com>")
    assert got == withheld("<sip:alice@example.com>")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), ()),
        (("Privacy: none",), (("Privacy", "none"),)),
        (("Privacy: session",), (("Privacy", "session"),)),
        (
            ("P-Asserted-Identity: <tel:+81352535111>", "Privacy: none"),
            (("P-Asserted-Identity", "<tel:+81352535111>"), ("Privacy", "none")),
        ),
    ],
)
def test_a_presenting_caller_is_presented_as_sent(
    headers: tuple[str, ...], expected: tuple[tuple[str, str], ...]
) -> None:
    got = relay_identity(*headers)
    assert got == OutboundIdentity('"Taro" <sip:0352535111@198.51.100.1>', expected, False)


def test_186_is_taken_off_the_presented_user_parts() -> None:
    got = relay_identity(frm='"Taro" <sip:1860352535111@198.51.100.1;user=phone>;tag=t1')
    assert got.from_value == '"Taro" <sip:0352535111@198.51.100.1;user=phone>' and not got.withheld
    got = relay_identity("P-Asserted-Identity: <tel:186-03-5253-5111>", frm="<sip:1860352535111@h>;tag=t")
    assert got == OutboundIdentity(
        "<sip:0352535111@h>", (("P-Asserted-Identity", "<tel:03-5253-5111>"),), False
    )


@pytest.mark.parametrize(
    "frm", ['"Taro" <sip:0352535111@198.51.100.1>;tag=t1', "<sip:1840352535111@h>;tag=t"]
)
def test_diversion_and_history_info_are_carried_in_order(frm: str) -> None:
    headers = (
        "Diversion: <sip:0312345678@h>;reason=unconditional",
        "History-Info: <sip:0399990000@h>;index=1, <sip:0312345678@h>;index=1.1",
        "Diversion: <sip:0598765432@h>;reason=user-busy;counter=2",
        "History-Info: <sip:0355550000@h?Reason=SIP%3Bcause%3D486>;index=1.1.1",
    )
    got = relay_identity(*headers, frm=frm)
    carried = tuple(tuple(h.split(": ", 1)) for h in headers)
    assert got.headers[-len(headers) :] == carried


def test_verdict_headers_are_named_with_the_policy_prefix() -> None:
    assert (
        SipMapping(False, None, None, (("X-Acme-Verdict", "allow"),)).header_name("Privacy")
        == "X-Acme-Privacy"
    )
    assert SipMapping(False, None, None, ()).header_name("Privacy") == "X-Sipcheck-Privacy"


# ----- end to end ------------------------------------------------------------------------------------


def relayed_invite(relay: Relay, caller: str, headers: Sequence[str] = ()) -> SipMessage:
    """Place one answered call from ``caller`` (extra INVITE ``headers``); the INVITE the callee got."""
    callee = uas(relay, "uas.xml")
    result = uac(relay, "uac.xml", caller, "-d", "300", headers=headers)
    callee_result = callee.wait(10)
    assert result.successful == 1, result.stderr + result.messages[-3000:]
    return parse_message(invite_to_callee(callee_result.messages))


def shown_outside_pai(invite: SipMessage, digits: str) -> list[tuple[str, str]]:
    """Headers other than P-Asserted-Identity whose value contains ``digits``."""
    return [(n, v) for n, v in invite.headers if n != "p-asserted-identity" and digits in v]


def test_184_caller_reaches_the_callee_anonymous(start_relay: Callable[..., Relay]) -> None:
    invite = relayed_invite(start_relay(), "1840352535111")
    assert name_addr(invite.get("from") or "") == ANONYMOUS_FROM, invite
    assert invite.get("privacy") == "id", invite
    assert invite.all("p-asserted-identity") == ["<tel:+81352535111>"], invite
    assert shown_outside_pai(invite, "352535111") == [], invite  # nor the 184, nor the number itself
    assert invite.get("x-sipcheck-verdict") == "allow", invite
    assert invite.get("x-sipcheck-privacy") == "withheld", invite


def test_privacy_id_from_a_trusted_peer_is_withheld(start_relay: Callable[..., Relay]) -> None:
    """The UA sent its number in From too: the relay anonymises it; the assertion is what is screened."""
    headers = ["Privacy: id", "P-Asserted-Identity: <sip:0352535111@[local_ip];user=phone>"]
    invite = relayed_invite(start_relay(), "0312340000", headers)
    assert name_addr(invite.get("from") or "") == ANONYMOUS_FROM, invite
    assert invite.get("privacy") == "id", invite
    assert invite.all("p-asserted-identity") == ["<tel:+81352535111>"], invite
    assert shown_outside_pai(invite, "312340000") == [], invite
    assert invite.get("x-sipcheck-privacy") == "withheld", invite


@pytest.mark.parametrize(
    ("caller", "headers", "privacy"),
    [("0352535111", ["Privacy: none"], "none"), ("1860352535111", [], None)],
    ids=["privacy-none", "186"],
)
def test_a_caller_who_presents_is_presented(
    start_relay: Callable[..., Relay], caller: str, headers: list[str], privacy: str | None
) -> None:
    """From as sent (186 taken off the user part: it is a dial prefix, not the number)."""
    invite = relayed_invite(start_relay(), caller, headers)
    sent = invite.get("from") or ""
    assert name_addr(sent).startswith('"caller" <sip:'), invite
    assert uri_user(uri_of(sent)) == "0352535111", invite
    assert invite.get("privacy") == privacy, invite
    assert invite.get("p-asserted-identity") is None, invite
    assert invite.get("x-sipcheck-privacy") is None, invite


def test_diversion_and_history_info_are_carried(start_relay: Callable[..., Relay]) -> None:
    diversion = [
        "<sip:0312345678@127.0.0.1>;reason=unconditional;counter=1",
        "<sip:0598765432@127.0.0.1>;reason=user-busy;counter=1",
    ]
    history = [
        "<sip:0399990000@127.0.0.1>;index=1",
        "<sip:0312345678@127.0.0.1?Reason=SIP%3Bcause%3D302>;index=1.1",
    ]
    headers = [
        f"Diversion: {diversion[0]}",
        f"History-Info: {history[0]}",
        f"Diversion: {diversion[1]}",
        f"History-Info: {history[1]}",
    ]
    invite = relayed_invite(start_relay(), "0352535111", headers)
    assert invite.all("diversion") == diversion, invite
    assert invite.all("history-info") == history, invite


def test_a_withheld_caller_keeps_the_forwarding_history(start_relay: Callable[..., Relay]) -> None:
    headers = ["Diversion: <sip:0312345678@127.0.0.1>;reason=no-answer"]
    invite = relayed_invite(start_relay(), "1840352535111", headers)
    assert name_addr(invite.get("from") or "") == ANONYMOUS_FROM, invite
    assert invite.all("diversion") == ["<sip:0312345678@127.0.0.1>;reason=no-answer"], invite
