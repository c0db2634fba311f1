"""Admission control for new INVITEs: call slots and a rate limit, decided before pjsip sees them.

Why here and not in pjsua2: the wheel holds 4 calls per process (a relayed
call takes two), and a burst of INVITEs, even rejected ones, can abort pjsip
(DOMAIN.md). So the UDP front asks `Admission.offer` for every new INVITE and
answers ``503`` with ``Retry-After`` itself when the answer is no: overload
never reaches the library. Pure: the clock is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Offer(StrEnum):
    ADMIT = "admit"  # a new call: forward it, it holds a slot until released
    RETRANSMISSION = "retransmission"  # an INVITE for a call already admitted: forward, no new slot
    FULL = "full"  # every slot is taken
    RATE = "rate"  # over the INVITE rate limit


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = -1.0
    last: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.last = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class Admission:
    """Slots for relayed calls, keyed by Call-ID.

    A slot is taken when the front forwards a new INVITE and given back by
    `release` when the relay has let both legs go. A slot the relay never
    confirms (the INVITE was lost or malformed) expires after ``pending_ttl``
    seconds; a released Call-ID is remembered for ``linger`` seconds so a late
    retransmission is not counted as a new call.
    """

    max_calls: int
    max_cps: float
    burst: float = 0.0
    pending_ttl: float = 8.0
    linger: float = 32.0
    _bucket: TokenBucket = field(init=False)
    _active: dict[str, float | None] = field(default_factory=dict)  # call-id -> pending expiry / None
    _recent: dict[str, float] = field(default_factory=dict)  # released call-id -> forget time
    rejected_full: int = 0
    rejected_rate: int = 0
    admitted: int = 0

    def __post_init__(self) -> None:
        self._bucket = TokenBucket(self.max_cps, max(1.0, self.burst or self.max_cps))

    @property
    def active(self) -> int:
        return len(self._active)

    def offer(self, call_id: str, now: float) -> Offer:
        self._expire(now)
        if call_id in self._active or call_id in self._recent:
            return Offer.RETRANSMISSION
        if len(self._active) >= self.max_calls:
            self.rejected_full += 1
            return Offer.FULL
        if not self._bucket.take(now):
            self.rejected_rate += 1
            return Offer.RATE
        self._active[call_id] = now + self.pending_ttl
        self.admitted += 1
        return Offer.ADMIT

    def confirm(self, call_id: str) -> bool:
        """The relay has the call: keep the slot until `release`. False for an unknown Call-ID."""
        if call_id in self._active:
            self._active[call_id] = None
            return True
        return False

    def release(self, call_id: str, now: float) -> None:
        if call_id in self._active:
            del self._active[call_id]
            self._recent[call_id] = now + self.linger

    def _expire(self, now: float) -> None:
        stale = [cid for cid, expiry in self._active.items() if expiry is not None and expiry <= now]
        for cid in stale:
            self.release(cid, now)
        if self._recent:
            for cid in [cid for cid, t in self._recent.items() if t <= now]:
                del self._recent[cid]
