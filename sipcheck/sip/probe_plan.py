"""The probe's pure parts: when the next call may start, how long to record, what a call came to.

No pjsua2 here, so the pacing rules and the outcome's accounting can be stepped by hand in tests;
`sipcheck.sip.probe_call` drives real calls with them.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipcheck import tones

PROBE_RTP_PORTS_BASE = 20
"""RTP/RTCP ports the probe keeps spare for calls in teardown, on top of `ports_per_call` per call."""

PORTS_PER_LEG = 4
"""RTP and RTCP of one leg, twice over: pjmedia takes a fresh pair for the next call while the old
one is still being released."""


def rtp_ports_needed(concurrency: int, answer_calls: bool) -> int:
    """How many local RTP/RTCP ports ``concurrency`` calls at once need (two legs each when the probe
    also answers the forwarded call)."""
    legs = concurrency * (2 if answer_calls else 1)
    return PROBE_RTP_PORTS_BASE + PORTS_PER_LEG * legs


def record_seconds(profile: tones.Profile) -> float:
    """How long to record from answer: the whole tone, its allowed start delay, and half a second.

    A reference profile lasts as long as its recording (read from the WAV header, which is cheap);
    an unreadable recording is the validator's to report, so it gets a generous 5 s here.
    """
    tolerance = profile.tolerances.max_start_delay_ms or 1000.0
    if isinstance(profile, tones.ParametricProfile):
        length_ms = profile.total_ms()
    else:
        try:
            with wave.open(str(profile.recording), "rb") as wav:
                length_ms = 1000.0 * wav.getnframes() / wav.getframerate()
        except (OSError, EOFError, wave.Error):
            length_ms = 5000.0
    return (length_ms + tolerance) / 1000.0 + 0.5


@dataclass
class Pacer:
    """When the next probe call may start.

    At most ``concurrency`` calls at once; with ``rate_cps`` the n-th call starts no earlier than
    n / rate after the first (a steady offered load, as SIPp's -r); without a rate, a freed slot is
    used again ``interval_s`` after the call in it *ended* (a tester's spaced calls, and time for the
    target to release its own slot: reusing it at once met the agent's 503 now and then).
    """

    concurrency: int = 1
    rate_cps: float | None = None
    interval_s: float = 1.0
    first_start: float | None = None
    started: int = 0
    last_end: float | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rate_cps is not None and self.rate_cps <= 0:
            raise ValueError("rate must be positive")
        if self.interval_s < 0:
            raise ValueError("interval must not be negative")

    def next_start(self, now: float, active: int) -> float | None:
        """The earliest time (>= ``now``) the next call may start, or None while every slot is busy."""
        if active >= self.concurrency:
            return None
        if self.first_start is None:
            return now
        if self.rate_cps is not None:
            return max(now, self.first_start + self.started / self.rate_cps)
        if self.last_end is not None:
            return max(now, self.last_end + self.interval_s)
        return now

    def on_start(self, now: float) -> None:
        if self.first_start is None:
            self.first_start = now
        self.started += 1

    def on_end(self, now: float) -> None:
        self.last_end = now


_TOKEN = re.compile(r"sipcheck-probe-([0-9a-f]{8})-(\d+)")


def probe_display_name(run: str, index: int) -> str:
    """The From display name that lets the probe pair a forwarded call with the call it placed: a B2BUA
    gives the forwarded leg its own Call-ID, but carries the caller's From (display name included)."""
    return f"sipcheck-probe-{run}-{index}"


def probe_index(from_value: str, run: str) -> int | None:
    """The probe call index a forwarded call's From names, when it is this run's."""
    match = _TOKEN.search(from_value)
    if match is None or match.group(1) != run:
        return None
    return int(match.group(2))


def with_display_name(caller: str, name: str) -> str:
    """``caller`` (a SIP URI or name-addr) as a name-addr with display name ``name``."""
    text = caller.strip()
    if "<" in text:
        text = text[text.index("<") :]
    elif not text.startswith("<"):
        text = f"<{text}>"
    return f'"{name}" {text}'


@dataclass
class PartyOutcome:
    """What one party heard from answer on: its recording and that recording's validation."""

    recording: Path | None = None
    validation: tones.ValidationResult | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.validation is not None and self.validation.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "recording": str(self.recording) if self.recording else None,
            "passed": self.passed,
            "error": self.error,
            "validation": self.validation.to_dict() if self.validation else None,
        }


@dataclass
class ProbeOutcome:
    """One probe call: how SIP went, what the caller (and, answering, the called party) heard.

    ``shed`` says the target answered 503 itself (it is at capacity): such a call is counted on its
    own, neither passed nor failed, so a load probe above the agent's capacity measures the capacity
    rather than failing. A 503 the probe's own stack made up (a transport error) is no shed call.
    """

    index: int
    target: str
    status_code: int = 0
    reason: str = ""
    answered: bool = False
    recording: Path | None = None
    validation: tones.ValidationResult | None = None
    error: str | None = None
    setup_ms: float | None = None
    codec: str | None = None
    last_response: str | None = None  # the status line of the last response from the network
    shed: bool = False
    callee: PartyOutcome | None = None  # set when the probe also answers the forwarded call
    placed_at: float | None = None  # wall-clock seconds (time.time()) of the INVITE
    ended_at: float | None = None  # ... and of the caller leg's end

    @property
    def passed(self) -> bool:
        caller_ok = self.validation is not None and self.validation.passed
        return caller_ok and (self.callee is None or self.callee.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "target": self.target,
            "status_code": self.status_code,
            "reason": self.reason,
            "answered": self.answered,
            "setup_ms": self.setup_ms,
            "codec": self.codec,
            "last_response": self.last_response,
            "shed": self.shed,
            "placed_at": self.placed_at,
            "ended_at": self.ended_at,
            "recording": str(self.recording) if self.recording else None,
            "passed": self.passed,
            "error": self.error,
            "validation": self.validation.to_dict() if self.validation else None,
            "callee": self.callee.to_dict() if self.callee else None,
        }


def no_answer_message(target: str, timeout_s: float, last_response: str | None) -> str:
    heard = f"last response: {last_response}" if last_response else "no SIP response"
    return f"no answer from {target} within {timeout_s:g} s ({heard})"


def summarize(target: str, profile_id: str, outcomes: list[ProbeOutcome], workdir: Path) -> dict[str, Any]:
    """The run's figures: shed calls apart, start offsets over the caller side's validations."""
    shed = sum(1 for o in outcomes if o.shed)
    passed = sum(1 for o in outcomes if o.passed)
    offsets = sorted(
        o.validation.start_offset_ms
        for o in outcomes
        if o.validation is not None and o.validation.start_offset_ms is not None
    )
    answering = [o.callee for o in outcomes if o.callee is not None]
    return {
        "target": target,
        "profile": profile_id,
        "calls": len(outcomes),
        "passed": passed,
        "failed": len(outcomes) - passed - shed,
        "shed_503": shed,
        "callee_checked": len(answering),
        "callee_passed": sum(1 for c in answering if c.passed),
        "codecs": sorted({o.codec for o in outcomes if o.codec}),
        "start_offset_ms_p50": offsets[len(offsets) // 2] if offsets else None,
        "start_offset_ms_max": offsets[-1] if offsets else None,
        "recordings": str(workdir),
    }
