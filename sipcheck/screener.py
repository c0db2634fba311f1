"""The library entry point: `Screener.check(number, ingress)` → `Verdict`.

Glue only: parse the number, ask the store for the facts, let the policy
decide. The clock is injected so that certification dates can be tested and
reproduced exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime

from sipcheck.facts import Facts
from sipcheck.ingress import IngressMap
from sipcheck.numbers import InvalidNumber, is_anonymous, parse_number_cached
from sipcheck.policy import CompiledPolicy, PolicyConfig, decide, decide_anonymous
from sipcheck.store import FactStore
from sipcheck.verdict import Verdict

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# Certification dates are Japanese calendar dates.
_JST_OFFSET_SECONDS = 9 * 3600


def japan_date(moment: datetime) -> date:
    """The date in Japan at ``moment`` (certifications start and end on JST dates)."""
    return datetime.fromtimestamp(moment.timestamp() + _JST_OFFSET_SECONDS, UTC).date()


class Screener:
    """Screens calling numbers against a `FactStore` under one policy.

    ``ingress`` is resolved by ``ingress_map`` (`sipcheck.ingress`: peer address → trunk id) before
    the lookup, so an edge passes what it knows (the sending peer, or a trunk id) and every edge
    screens one peer as one ingress.
    """

    def __init__(
        self,
        store: FactStore,
        policy: PolicyConfig | CompiledPolicy | None = None,
        clock: Clock = utc_now,
        ingress_map: IngressMap | None = None,
    ) -> None:
        self.store = store
        self.ingress_map = ingress_map or IngressMap()
        if policy is None:
            policy = PolicyConfig()
        self.policy = policy if isinstance(policy, CompiledPolicy) else policy.compile()
        self.clock = clock
        self._day_cache: tuple[float, float, date] = (0.0, 0.0, date.min)

    def today(self) -> date:
        """The JST date on the screener's clock (what certification and data age are judged on)."""
        return self._today(None)

    def _today(self, now: datetime | None) -> date:
        """The JST date of ``now`` (or the clock), recomputed only when a day boundary is crossed."""
        moment = now if now is not None else self.clock()
        stamp = moment.timestamp()
        start, end, day = self._day_cache
        if not start <= stamp < end:
            day = japan_date(moment)
            start = (stamp + _JST_OFFSET_SECONDS) // 86400 * 86400 - _JST_OFFSET_SECONDS
            end = start + 86400
            self._day_cache = (start, end, day)
        return day

    def _unparsable(self, number: str, error: InvalidNumber, now: datetime | None) -> Verdict:
        """Anonymous callers are not invalid numbers: they get the anonymous verdict (433 if blocked)."""
        if is_anonymous(number):
            return decide_anonymous(number, self.policy)
        return decide(Facts.invalid(number, error), self.policy, self._today(now))

    def unavailable(self, number: str, ingress: str | None = None, *, now: datetime | None = None) -> Verdict:
        """The verdict for ``number`` when its facts could not be read in time: the fail policy's,
        judged on the screener's clock like every other verdict (an edge's time budget ran out)."""
        try:
            parsed = parse_number_cached(number)
        except InvalidNumber as exc:
            return self._unparsable(number, exc, now)
        facts = Facts.unavailable(number, parsed, self.ingress_map.resolve(ingress))
        return decide(facts, self.policy, self._today(now))

    def check(self, number: str, ingress: str | None = None, *, now: datetime | None = None) -> Verdict:
        try:
            parsed = parse_number_cached(number)
        except InvalidNumber as exc:
            return self._unparsable(number, exc, now)
        if ingress is not None:
            ingress = self.ingress_map.resolve(ingress)
        facts = self.store.lookup(parsed, ingress, number)
        return decide(facts, self.policy, self._today(now))

    async def acheck(
        self, number: str, ingress: str | None = None, *, now: datetime | None = None
    ) -> Verdict:
        try:
            parsed = parse_number_cached(number)
        except InvalidNumber as exc:
            return self._unparsable(number, exc, now)
        if ingress is not None:
            ingress = self.ingress_map.resolve(ingress)
        facts = await self.store.alookup(parsed, ingress, number)
        return decide(facts, self.policy, self._today(now))

    def check_many(
        self, numbers: Iterable[str], ingress: str | None = None, *, now: datetime | None = None
    ) -> list[Verdict]:
        moment = now if now is not None else self.clock()
        return [self.check(n, ingress, now=moment) for n in numbers]

    async def acheck_many(
        self, numbers: Sequence[str], ingress: str | None = None, *, now: datetime | None = None
    ) -> list[Verdict]:
        moment = now if now is not None else self.clock()
        return list(await asyncio.gather(*(self.acheck(n, ingress, now=moment) for n in numbers)))
