"""The one decision: facts → verdict, through the in-memory store and the Screener."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from sipcheck.model import (
    Block,
    Certification,
    CertStatus,
    Component,
    Operator,
    Part,
    RangeCoverage,
    Suspension,
    Trunk,
    Wholesale,
)
from sipcheck.numbers import NumberKind
from sipcheck.policy import PolicyConfig, decide_anonymous
from sipcheck.screener import Screener, japan_date
from sipcheck.store import FactStore, MemoryStore
from sipcheck.verdict import Action, Reason

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 1)
COVERAGE = (RangeCoverage("03", AS_OF), RangeCoverage("06", AS_OF), RangeCoverage("050", AS_OF))


def parts() -> dict[Component, Part]:
    return {
        Component.OPERATORS: Part(
            Component.OPERATORS,
            (
                Operator("kddi", "KDDI株式会社", ("ケーディーディーアイ",), "9011101031552"),
                Operator("reseller", "転売通信株式会社"),
            ),
        ),
        Component.CERTIFICATIONS: Part(
            Component.CERTIFICATIONS,
            (
                Certification("kddi", CertStatus.CERTIFIED, date(2026, 2, 1), date(2027, 1, 31), "2026-02"),
                Certification("reseller", CertStatus.PROVISIONAL, date(2026, 2, 1), date(2027, 1, 31)),
                Certification("悪質電話株式会社", CertStatus.REVOKED, name="悪質電話株式会社"),
                Certification(
                    "old", CertStatus.CERTIFIED, date(2025, 2, 1), date(2026, 1, 31), name="旧通信株式会社"
                ),
            ),
        ),
        Component.BLOCKS: Part(
            Component.BLOCKS,
            (
                Block("035253", NumberKind.FIXED, "ＫＤＤＩ株式会社"),  # full-width, as MIC writes it
                Block("035254", NumberKind.FIXED, "ＫＤＤＩ株式会社", in_use=False),
                Block("066666", NumberKind.FIXED, "悪質電話株式会社"),
                Block("066667", NumberKind.FIXED, ""),  # designated; the source names no operator
                Block("066668", NumberKind.FIXED, "", in_use=False),
                Block("0501234", NumberKind.IP, "旧通信株式会社"),
                Block("0505555", NumberKind.IP, "知らない通信株式会社"),
            ),
            coverage=COVERAGE,
        ),
        Component.WHOLESALE: Part(Component.WHOLESALE, (Wholesale("03525350", "reseller"),)),
        Component.TRUNKS: Part(Component.TRUNKS, (Trunk("trunk-a", "kddi"), Trunk("trunk-r", "reseller"))),
        Component.SUSPENSIONS: Part(
            Component.SUSPENSIONS, (Suspension("+81352539999", reference="NPA-1", source="police"),)
        ),
    }


@pytest.fixture
def screener() -> Screener:
    return Screener(MemoryStore(parts()), clock=lambda: NOW)


def test_memory_store_is_a_fact_store() -> None:
    assert isinstance(MemoryStore(), FactStore)


@pytest.mark.parametrize(
    ("number", "ingress", "action", "reasons"),
    [
        ("0352531111", None, Action.ALLOW, ()),
        ("０３-5253-1111", "trunk-a", Action.ALLOW, ()),
        ("0352531111", "trunk-r", Action.FLAG, (Reason.INGRESS_OPERATOR_PROVISIONAL,)),
        ("0352531111", "stranger", Action.FLAG, (Reason.INGRESS_UNKNOWN,)),
        ("0352539999", None, Action.BLOCK, (Reason.SUSPENDED,)),
        ("0399990000", None, Action.BLOCK, (Reason.BLOCK_NOT_DESIGNATED,)),
        ("0352541111", None, Action.FLAG, (Reason.BLOCK_NOT_IN_USE,)),
        ("0666661111", None, Action.BLOCK, (Reason.DESIGNATED_OPERATOR_REVOKED,)),
        ("05012341111", None, Action.FLAG, (Reason.DESIGNATED_OPERATOR_EXPIRED,)),
        ("05055551111", None, Action.FLAG, (Reason.DESIGNATED_OPERATOR_UNCERTIFIED,)),
        ("0352535000", None, Action.FLAG, (Reason.SERVING_OPERATOR_PROVISIONAL,)),
        ("+14155550100", None, Action.FLAG, (Reason.INTERNATIONAL_NUMBER,)),
        ("035253", None, Action.BLOCK, (Reason.INVALID_NUMBER,)),
    ],
)
def test_default_policy(
    screener: Screener, number: str, ingress: str | None, action: Action, reasons: tuple[Reason, ...]
) -> None:
    verdict = screener.check(number, ingress)
    assert verdict.action is action
    assert verdict.reasons == reasons
    assert verdict.sip.reject is (action is Action.BLOCK)


def test_block_maps_to_608_with_reason_header(screener: Screener) -> None:
    verdict = screener.check("0352539999")
    assert verdict.sip.code == 608 and verdict.sip.reason_phrase == "Rejected"
    headers = dict(verdict.sip.headers)
    assert headers["Reason"] == 'SIP;cause=608;text="suspended"'
    assert headers["X-Sipcheck-Verdict"] == "block"
    assert headers["X-Sipcheck-Data-Version"] == verdict.data_version != ""


def test_continue_headers_carry_reasons(screener: Screener) -> None:
    verdict = screener.check("0352531111", "trunk-r")
    headers = dict(verdict.sip.headers)
    assert headers["X-Sipcheck-Verdict"] == "flag"
    assert headers["X-Sipcheck-Reasons"] == "ingress_operator_provisional"
    assert "Reason" not in headers


def test_operators_involved_carry_their_status(screener: Screener) -> None:
    verdict = screener.check("0352535000", "trunk-a")
    roles = {op.role: (op.id, op.status) for op in verdict.operators}
    assert roles == {
        "designated": ("kddi", CertStatus.CERTIFIED),
        "serving": ("reseller", CertStatus.PROVISIONAL),
        "ingress": ("kddi", CertStatus.CERTIFIED),
    }


def test_which_reasons_block_is_configurable() -> None:
    policy = PolicyConfig(
        actions={Reason.SUSPENDED: Action.FLAG, Reason.BLOCK_NOT_IN_USE: Action.BLOCK}, reject_code=603
    )
    screener = Screener(MemoryStore(parts()), policy, clock=lambda: NOW)
    assert screener.check("0352539999").action is Action.FLAG
    blocked = screener.check("0352541111")
    assert (
        blocked.action is Action.BLOCK and blocked.sip.code == 603 and blocked.sip.reason_phrase == "Decline"
    )


def test_invalid_reject_code_is_refused() -> None:
    with pytest.raises(ValueError, match="reject_code"):
        PolicyConfig(reject_code=200)
    # Inside 400-699 but no SIP response: a typo must not go out on the wire.
    with pytest.raises(ValueError, match=r"reject_code 499 is not a SIP final error response"):
        PolicyConfig(reject_code=499)
    with pytest.raises(ValueError, match=r"reject_codes\.anonymous 434 is not a SIP final error response"):
        PolicyConfig(reject_codes={Reason.ANONYMOUS: 434})


@pytest.mark.parametrize(("code", "phrase"), [(486, "Busy Here"), (403, "Forbidden"), (607, "Unwanted")])
def test_a_reject_code_goes_out_with_its_own_reason_phrase(code: int, phrase: str) -> None:
    policy = PolicyConfig(actions={Reason.BLOCK_NOT_IN_USE: Action.BLOCK}, reject_code=code).compile()
    blocked = Screener(MemoryStore(parts()), policy, clock=lambda: NOW).check("0352541111")
    assert blocked.action is Action.BLOCK and (blocked.sip.code, blocked.sip.reason_phrase) == (code, phrase)


def test_certification_dates_follow_the_clock() -> None:
    store = MemoryStore(parts())
    before = Screener(store, clock=lambda: datetime(2026, 1, 15, tzinfo=UTC))
    assert before.check("05012341111").action is Action.ALLOW  # still within its round
    # 2026-01-31T15:30Z is already 2026-02-01 in Japan: the certification has expired there.
    assert japan_date(datetime(2026, 1, 31, 15, 30, tzinfo=UTC)) == date(2026, 2, 1)
    after = Screener(store, clock=lambda: datetime(2026, 1, 31, 15, 30, tzinfo=UTC))
    assert after.check("05012341111").reasons == (Reason.DESIGNATED_OPERATOR_EXPIRED,)


def test_fail_policy_decides_unavailable_data() -> None:
    from sipcheck.facts import Facts
    from sipcheck.numbers import parse_number
    from sipcheck.policy import decide

    facts = Facts.unavailable("0352531111", parse_number("0352531111"), None)
    for fail_policy, action in (("open", Action.FLAG), ("closed", Action.BLOCK)):
        verdict = decide(facts, PolicyConfig(fail_policy=fail_policy).compile(), date(2026, 11, 22))
        assert verdict.action is action and verdict.reasons == (Reason.DATA_UNAVAILABLE,)


def test_anonymous_caller_is_flagged_and_maps_to_433_when_blocked() -> None:
    assert decide_anonymous("anonymous", PolicyConfig().compile()).action is Action.FLAG
    strict = PolicyConfig(actions={Reason.ANONYMOUS: Action.BLOCK}).compile()
    verdict = decide_anonymous("anonymous", strict)
    assert verdict.sip.code == 433 and verdict.sip.reason_phrase == "Anonymity Disallowed"


def test_publish_replaces_only_given_components_and_bumps_version() -> None:
    store = MemoryStore(parts())
    first = store.status().data_version
    version = store.publish({Component.SUSPENSIONS: Part(Component.SUSPENSIONS, ())})
    assert version != first
    screener = Screener(store, clock=lambda: NOW)
    assert screener.check("0352539999").action is Action.ALLOW
    assert screener.check("0399990000").action is Action.BLOCK  # blocks untouched
    status = store.status().to_dict()
    assert status["components"]["blocks"]["count"] == 7  # type: ignore[index]
    assert status["components"]["suspensions"]["count"] == 0  # type: ignore[index]


def test_incremental_suspensions_apply_to_live_data() -> None:
    store = MemoryStore(parts())
    screener = Screener(store, clock=lambda: NOW)
    assert store.add_suspensions([Suspension("+81352531111")]) == 1
    assert screener.check("0352531111").reasons == (Reason.SUSPENDED,)
    assert store.remove_suspensions(["+81352531111", "+81300000000"]) == 1
    assert screener.check("0352531111").action is Action.ALLOW
    assert len(store.part(Component.SUSPENSIONS).records) == 1


def test_async_and_many_agree_with_check(screener: Screener) -> None:
    numbers = ["0352531111", "0352539999", "bad", "05055551111"]
    sync = [v.to_dict() for v in screener.check_many(numbers)]
    asyn = [v.to_dict() for v in asyncio.run(screener.acheck_many(numbers))]
    assert sync == asyn
    assert [v["action"] for v in sync] == ["allow", "block", "block", "flag"]


def test_verdict_json_shape_is_stable(screener: Screener) -> None:
    data = screener.check("sip:+81352539999@example.jp;user=phone").to_dict()
    assert list(data) == [
        "input", "action", "reasons", "number", "error", "operators", "data_version", "sip", "rules"
    ]  # fmt: skip
    assert data["number"] == {
        "e164": "+81352539999",
        "national": "0352539999",
        "kind": "fixed",
        "block": "035253",
        "privacy": None,
    }
    assert data["reasons"] == ["suspended"]
    assert data["sip"]["action"] == "reject" and data["sip"]["code"] == 608
    invalid = screener.check("03-52").to_dict()
    assert invalid["error"]["code"] == "bad_length" and invalid["number"] is None


@pytest.mark.parametrize(
    "text",
    [
        "anonymous",
        "sip:anonymous@anonymous.invalid",
        '"Anonymous" <sip:anonymous@anonymous.invalid>',
        "非通知",
    ],
)
def test_anonymous_callers_are_not_invalid_numbers(screener: Screener, text: str) -> None:
    verdict = screener.check(text)
    assert verdict.reasons == (Reason.ANONYMOUS,)
    assert verdict.action is Action.FLAG


@pytest.mark.parametrize(
    "text", ["公衆電話", "sip:%E5%85%AC%E8%A1%86%E9%9B%BB%E8%A9%B1@ntt.example", "Payphone"]
)
def test_a_payphone_is_a_caller_kind_of_its_own(text: str) -> None:
    """Blocking anonymous callers must not reject the payphones people call from (433 for both)."""
    policy = PolicyConfig(actions={Reason.ANONYMOUS: Action.BLOCK}).compile()
    screener = Screener(MemoryStore(parts()), policy, clock=lambda: NOW)
    payphone = screener.check(text)
    assert payphone.reasons == (Reason.PAYPHONE,) and payphone.action is Action.FLAG
    withheld = screener.check("非通知")
    assert withheld.action is Action.BLOCK and withheld.sip.code == 433
    blocking = PolicyConfig(actions={Reason.PAYPHONE: Action.BLOCK}).compile()
    refused = Screener(MemoryStore(parts()), blocking, clock=lambda: NOW).check(text)
    assert refused.action is Action.BLOCK and (refused.sip.code, refused.sip.reason_phrase) == (
        608,
        "Rejected",
    )


def test_garbage_is_still_an_invalid_number(screener: Screener) -> None:
    assert screener.check("sip:alice@example.com").reasons == (Reason.INVALID_NUMBER,)


def test_the_day_changes_at_midnight_in_japan_with_a_running_clock() -> None:
    """The screener caches the day; the cache must roll over at JST midnight, not UTC midnight."""
    store = MemoryStore(parts())
    ticks = iter(
        [
            datetime(2026, 1, 31, 14, 59, 59, tzinfo=UTC),  # 23:59:59 JST on the 31st: still certified
            datetime(2026, 1, 31, 15, 0, 0, tzinfo=UTC),  # 00:00 JST on 1 February: expired
            datetime(2026, 1, 31, 14, 0, 0, tzinfo=UTC),  # a clock stepping back is honoured too
        ]
    )
    screener = Screener(store, clock=lambda: next(ticks))
    assert screener.check("05012341111").action is Action.ALLOW
    assert screener.check("05012341111").reasons == (Reason.DESIGNATED_OPERATOR_EXPIRED,)
    assert screener.check("05012341111").action is Action.ALLOW


def test_a_range_the_data_does_not_cover_says_nothing_about_the_number() -> None:
    """The same number: spoofed when its range is covered and its block absent, unknown when not covered."""
    covered = MemoryStore(parts())
    uncovered_parts = dict(parts())
    blocks = uncovered_parts[Component.BLOCKS]
    uncovered_parts[Component.BLOCKS] = Part(Component.BLOCKS, blocks.records, coverage=COVERAGE[1:])
    uncovered = MemoryStore(uncovered_parts)
    number = "0399990000"
    assert Screener(covered, clock=lambda: NOW).check(number).reasons == (Reason.BLOCK_NOT_DESIGNATED,)
    verdict = Screener(uncovered, clock=lambda: NOW).check(number)
    assert verdict.reasons == (Reason.DESIGNATION_UNKNOWN,) and verdict.action is Action.ALLOW
    # A designated block is designated whatever the coverage says.
    assert Screener(uncovered, clock=lambda: NOW).check("0352531111").reasons == ()


@pytest.mark.parametrize(
    "missing", [(), (Component.BLOCKS,), (Component.CERTIFICATIONS,), (Component.SUSPENSIONS,)]
)
def test_an_incomplete_store_answers_by_the_fail_policy(missing: tuple[Component, ...]) -> None:
    """Empty, or lacking one of the three sources: no verdict about the number, ever."""
    given = {c: p for c, p in parts().items() if c not in missing} if missing else {}
    store = MemoryStore(given)
    assert not store.status().complete
    for fail_policy, action in (("open", Action.FLAG), ("closed", Action.BLOCK)):
        screener = Screener(store, PolicyConfig(fail_policy=fail_policy), clock=lambda: NOW)  # type: ignore[arg-type]
        for number in ("0399990000", "0352531111", "0352539999", "+14155550100"):
            verdict = screener.check(number)
            assert verdict.reasons == (Reason.DATA_UNAVAILABLE,), (missing, number)
            assert verdict.action is action
    # An invalid number is still invalid: that needs no data.
    assert Screener(store, clock=lambda: NOW).check("0312341111").reasons == (Reason.INVALID_NUMBER,)


def test_empty_required_components_still_make_a_complete_data_set() -> None:
    store = MemoryStore(parts())
    store.publish({Component.SUSPENSIONS: Part(Component.SUSPENSIONS, ())})
    assert store.status().complete
    assert Screener(store, clock=lambda: NOW).check("0352539999").reasons == ()


def test_stale_designation_data_is_said_and_allowed() -> None:
    store = MemoryStore(parts())
    policy = PolicyConfig().compile(max_age_days=30)
    fresh = Screener(store, policy, clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))  # 30 days after AS_OF
    assert fresh.check("0352531111").reasons == ()
    stale = Screener(store, policy, clock=lambda: datetime(2026, 12, 2, tzinfo=UTC))  # 31 days
    assert stale.check("0352531111").reasons == (Reason.DESIGNATION_DATA_STALE,)
    assert stale.check("0352531111").action is Action.ALLOW
    # Not designated as of data too old to trust for "spoofed": said as such, and flagged, not blocked.
    assert fresh.check("0399990000").reasons == (Reason.BLOCK_NOT_DESIGNATED,)
    assert fresh.check("0399990000").action is Action.BLOCK
    spoof_on_old_data = stale.check("0399990000")
    assert spoof_on_old_data.reasons == (Reason.BLOCK_NOT_DESIGNATED_STALE, Reason.DESIGNATION_DATA_STALE)
    assert spoof_on_old_data.action is Action.FLAG
    assert stale.check("0120123456").reasons == (Reason.DESIGNATION_UNKNOWN,)  # no data, no age
    assert store.status().stale(date(2026, 12, 2), 30) == store.status().coverage
    assert store.status().stale(date(2026, 12, 1), 30) == ()
