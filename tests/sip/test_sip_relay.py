"""End to end over loopback: SIPp caller → sipcheck agent (pjsua2, child process) → SIPp callee.

The callee side's RTP is captured with tshark and validated with
`sipcheck.tones`: the identification tone must start within 100 ms of the
callee's 200 OK, pass the profile's tolerances, and be followed by the
caller's audio (a 700 Hz tone streamed by the calling SIPp).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siphelpers import Relay, invite_to_callee, uac, uas

from sipcheck import tones
from sipcheck.cache import EmbeddedRedis
from sipcheck.sip.harness import capture, options_status

ALLOWED = "0352535111"
FLAGGED = "05010001234"  # resold by a provisional reseller (serving_operator_provisional)
BLOCKED = "05010009999"  # suspended
CALLER_HZ = 700.0


def test_allowed_call_gets_tone_then_caller_audio(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    pcap = relay.workdir / "callee.pcap"
    with capture(pcap, [relay.callee_port, relay.callee_media]):
        callee = uas(relay, "uas.xml")
        result = uac(relay, "uac.xml", ALLOWED, "-d", "2000")
        callee_result = callee.wait(10)
    assert result.returncode == 0 and result.successful == 1, result.stderr + result.messages[-3000:]
    assert callee_result.successful == 1, callee_result.messages[-3000:]
    invite = invite_to_callee(callee_result.messages)
    assert "X-Sipcheck-Verdict: allow" in invite
    assert "0352535111@" in invite.split("From:", 1)[1].split("\n", 1)[0], invite
    assert "BYE sip:" in callee_result.messages  # the caller's BYE reached the callee

    profile = tones.load_profile("example-call-start")
    check = tones.validate_file(pcap, profile, port=relay.callee_media)
    assert check.call_start_source == "sip-200-ok"
    assert check.passed, [f.message for f in check.failures]
    assert check.start_offset_ms is not None and check.start_offset_ms <= 100.0, check.start_offset_ms
    tone_end = check.call_start_s + (check.start_offset_ms + profile.total_ms()) / 1000.0
    assert check.analysis is not None
    after = [s for s in check.analysis.segments if s.start_s >= tone_end - 0.05]
    assert any(abs(f - CALLER_HZ) < 10 for s in after for f in s.frequencies_hz), check.analysis.segments


def test_flagged_call_is_relayed_with_verdict_headers(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = uas(relay, "uas.xml")
    result = uac(relay, "uac.xml", FLAGGED, "-d", "300")
    callee_result = callee.wait(10)
    assert result.successful == 1, result.messages[-3000:]
    invite = invite_to_callee(callee_result.messages)
    assert "X-Sipcheck-Verdict: flag" in invite
    assert "X-Sipcheck-Reasons: serving_operator_provisional" in invite


def test_an_empty_store_relays_by_the_fail_policy_never_608(
    start_relay: Callable[..., Relay], redis_server: EmbeddedRedis
) -> None:
    """Pointed at a Redis with nothing loaded, a 090 caller is relayed flagged data_unavailable (open)."""
    relay = start_relay(store="redis", env={"SIPCHECK_REDIS__URL": redis_server.url})
    callee = uas(relay, "uas.xml")
    result = uac(relay, "uac.xml", "09012345678", "-d", "300")
    callee_result = callee.wait(10)
    assert result.successful == 1, result.messages[-3000:]
    invite = invite_to_callee(callee_result.messages)
    assert "X-Sipcheck-Verdict: flag" in invite and "X-Sipcheck-Reasons: data_unavailable" in invite, invite


def test_blocked_call_is_rejected_and_not_relayed(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = uas(relay, "uas.xml")
    result = uac(relay, "uac_final.xml", BLOCKED, final_code=608)
    callee_result = callee.stop()
    assert result.successful == 1, result.messages[-3000:]
    assert 'Reason: SIP;cause=608;text="suspended"' in result.messages
    assert "X-Sipcheck-Verdict: block" in result.messages
    assert "INVITE sip:" not in callee_result.messages


def test_untrusted_peer_is_refused_and_nothing_relayed(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay(trusted_peers=["192.0.2.1"])
    callee = uas(relay, "uas.xml")
    result = uac(relay, "uac_final.xml", ALLOWED, final_code=403)
    callee_result = callee.stop()
    assert result.successful == 1, result.messages[-3000:]
    assert "INVITE sip:" not in callee_result.messages
    status = options_status(relay.port)
    assert status["_status_line"] == "SIP/2.0 403 Forbidden"  # OPTIONS from a stranger too


def test_callee_busy_is_passed_back(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = uas(relay, "uas_busy.xml")
    result = uac(relay, "uac_final.xml", ALLOWED, final_code=486)
    assert result.successful == 1, result.messages[-3000:]
    assert callee.wait(10).successful == 1


def test_cancel_before_answer_cancels_the_callee(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = uas(relay, "uas_ring.xml")
    result = uac(relay, "uac_cancel.xml", ALLOWED)
    callee_result = callee.wait(10)
    assert result.successful == 1, result.messages[-3000:]
    assert callee_result.successful == 1, callee_result.messages[-3000:]
    assert "CANCEL sip:" in callee_result.messages


def test_bye_from_callee_ends_both_legs(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay()
    callee = uas(relay, "uas_bye.xml", "-d", "800")
    result = uac(relay, "uac_wait_bye.xml", ALLOWED)
    callee_result = callee.wait(10)
    assert result.successful == 1, result.messages[-3000:]
    assert callee_result.successful == 1, callee_result.messages[-3000:]
    status: dict[str, Any] = options_status(relay.port)
    assert status["sessions"] == 0 and status["calls"] == 0 and status["media"] == 0, status


def test_tcp_caller_relayed_and_tcp_stranger_refused_by_relay(start_relay: Callable[..., Relay]) -> None:
    """Over TCP there is no front: the relay itself checks the peer (defence in depth)."""
    relay = start_relay(transports=["udp", "tcp"])
    callee = uas(relay, "uas.xml")
    result = uac(relay, "uac.xml", ALLOWED, "-t", "t1", "-d", "300")
    assert result.successful == 1, result.messages[-3000:]
    assert "X-Sipcheck-Verdict: allow" in invite_to_callee(callee.wait(10).messages)

    stranger = start_relay(transports=["tcp"], trusted_peers=["192.0.2.1"])
    callee = uas(stranger, "uas.xml")
    result = uac(stranger, "uac_final.xml", ALLOWED, "-t", "t1", final_code=403)
    assert result.successful == 1, result.messages[-3000:]
    assert "INVITE sip:" not in callee.stop().messages
