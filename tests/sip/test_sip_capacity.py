"""Capacity: the agent answers 503 + Retry-After beyond its slots, and many calls leave nothing behind."""

from __future__ import annotations

import time
from collections.abc import Callable

from siphelpers import Relay

from sipcheck.sip.harness import Sipp, options_status, scenario


def _calls(
    relay: Relay, count: int, rate: float, limit: int, hold_ms: int, timeout: float
) -> tuple[Sipp, Sipp]:
    uas_sc = scenario("uas.xml", relay.workdir)
    uac_sc = scenario("uac.xml", relay.workdir)
    uas = Sipp(
        relay.workdir,
        f"uas-load-{count}",
        uas_sc,
        ["-p", str(relay.callee_port), "-mp", str(relay.callee_media)],
    ).start()
    uac = Sipp(
        relay.workdir,
        f"uac-load-{count}",
        uac_sc,
        [
            "-mp",
            str(relay.caller_media),
            "-s",
            "0399990000",
            "-key",
            "caller",
            "0352535111",
            "-m",
            str(count),
            "-r",
            str(rate),
            "-l",
            str(limit),
            "-d",
            str(hold_ms),
            f"127.0.0.1:{relay.port}",
        ],
    ).start()
    return uas, uac


def test_third_concurrent_call_gets_503_with_retry_after(start_relay: Callable[..., Relay]) -> None:
    relay = start_relay(max_calls=2, max_cps=20)
    uas, uac = _calls(relay, count=3, rate=20, limit=3, hold_ms=1500, timeout=20)
    result = uac.wait(20)
    uas.stop()
    assert (result.successful, result.failed) == (2, 1), result.messages[-3000:]
    assert "SIP/2.0 503 Service Unavailable" in result.messages
    assert "Retry-After: 1" in result.messages
    status = options_status(relay.port)
    assert status["shed_full"] == 1 and status["admitted"] == 0, status


def test_many_calls_return_registry_and_memory_to_baseline(start_relay: Callable[..., Relay]) -> None:
    """Every Call, player and slot is released, and memory stays bounded.

    pjsip keeps each finished transaction for 32 s (timers D/J over UDP), so
    RSS climbs for the first half-minute of traffic and then stays flat
    (bench/bench_sip.py's soak shows the plateau over thousands of calls).
    Here the bound is per call: a leaked Call, player or pool is far bigger.
    """
    relay = start_relay(max_calls=2, max_cps=20)
    # Warm up (first calls allocate pools, codecs, caches), then measure.
    uas, uac = _calls(relay, count=10, rate=10, limit=2, hold_ms=50, timeout=30)
    assert uac.wait(30).successful == 10
    uas.stop()
    time.sleep(0.3)
    before = options_status(relay.port)
    n = 120
    uas, uac = _calls(relay, count=n, rate=20, limit=2, hold_ms=50, timeout=90)
    result = uac.wait(90)
    uas.stop()
    time.sleep(0.3)
    after = options_status(relay.port)
    assert result.successful + result.failed == n
    # With two slots and ~0.4 s per relayed call, a few 503s at 20 cps are the admission control working.
    assert result.successful >= n * 0.8, (result.successful, result.failed)
    assert (
        result.failed == after["shed_full"] + after["shed_rate"] - before["shed_full"] - before["shed_rate"]
    )
    for key in ("sessions", "calls", "media", "admitted"):
        assert after[key] == 0, after
    assert after["calls_created"] - before["calls_created"] == 2 * result.successful
    growth_kb = after["rss_kb"] - before["rss_kb"]
    assert growth_kb < 64 * n, f"RSS grew {growth_kb} KiB over {n} calls: {before} -> {after}"
