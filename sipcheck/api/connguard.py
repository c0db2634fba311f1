"""A bound on the HTTP worker's connections: a flood of idle ones cannot take the service down.

aiohttp keeps a connection that never sends a request open for ever, has no connection limit and
no deadline for a request's headers, so 5,000 idle connections ran a worker out of descriptors
(``accept`` failing with EMFILE, one logged traceback per failure) and health probes timed out.
`ConnectionGuard` wraps the worker's protocol factory:

- at most ``limit`` connections per worker (capped by the descriptor limit, which the worker
  raises to its hard maximum); a new connection beyond it takes the place of the connection
  idle the longest, so probes and real clients keep being answered while idle ones are shed;
  when every connection is busy the new one is closed at once;
- a connection must deliver its request headers within ``header_timeout_s`` of opening or of
  its last response (slowloris); aiohttp's keep-alive timeout still closes idle keep-alives;
- what it sheds is counted, and logged at most once per ``log_every_s``, never per connection.

State is a handful of counters and one ordered dict of idle connections; the decisions
(`admit`) are made in plain methods a test can step without sockets.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

log = logging.getLogger("sipcheck.api")

DESCRIPTORS_RESERVED = 256
"""Descriptors a worker keeps for everything but client connections: its store pool, log files,
the listening socket, the supervisor's pipes."""


def raise_descriptor_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


@dataclass
class GuardStats:
    active: int = 0
    evicted_idle: int = 0  # idle connections closed to admit a new one
    refused_busy: int = 0  # new connections closed because every connection was busy
    header_timeouts: int = 0  # connections closed for sending no complete request in time


class ConnectionGuard:
    """The connection bound of one worker: see the module docstring."""

    def __init__(
        self,
        limit: int,
        header_timeout_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        log_every_s: float = 10.0,
    ) -> None:
        self.limit = max(1, limit)
        self.header_timeout_s = header_timeout_s
        self.clock = clock
        self.log_every_s = log_every_s
        self.stats = GuardStats()
        self._idle: OrderedDict[int, _Guarded] = OrderedDict()
        self.by_handler: dict[
            int, _Guarded
        ] = {}  # id(aiohttp's protocol) -> its connection (it has __slots__)
        self._logged_at = float("-inf")
        self._logged = GuardStats()

    # -- decisions (no I/O) ----------------------------------------------------------------------

    def admit(self) -> _Guarded | bool:
        """For a new connection: True (room), the idle connection to close first, or False (full)."""
        if self.stats.active < self.limit:
            return True
        if self._idle:
            _, oldest = self._idle.popitem(last=False)
            return oldest
        return False

    def became_idle(self, conn: _Guarded) -> None:
        self._idle[id(conn)] = conn
        self._idle.move_to_end(id(conn))

    def became_busy(self, conn: _Guarded) -> None:
        self._idle.pop(id(conn), None)

    def gone(self, conn: _Guarded) -> None:
        self._idle.pop(id(conn), None)

    def maybe_log(self) -> None:
        """One line for what was shed since the last one, at most every ``log_every_s``."""
        now = self.clock()
        if now - self._logged_at < self.log_every_s:
            return
        s, last = self.stats, self._logged
        shed = (s.evicted_idle - last.evicted_idle, s.refused_busy - last.refused_busy)
        timeouts = s.header_timeouts - last.header_timeouts
        if not any(shed) and not timeouts:
            return
        self._logged_at = now
        self._logged = GuardStats(s.active, s.evicted_idle, s.refused_busy, s.header_timeouts)
        log.warning(
            "connection limit %d: closed %d idle connection(s) for new ones, refused %d while all "
            "were busy, closed %d that sent no request within %.0f s; %d open",
            self.limit,
            shed[0],
            shed[1],
            timeouts,
            self.header_timeout_s,
            s.active,
            extra={"event": "http.connections_shed"},
        )

    # -- wiring ----------------------------------------------------------------------------------

    def factory(self, inner: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` around aiohttp's own (``runner.server``)."""
        return lambda: _Guarded(self, inner())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Marks the connection busy while a request is handled (the headers have arrived)."""
        conn = self.by_handler.get(id(request.protocol))
        if conn is None:
            return await handler(request)  # type: ignore[no-any-return]
        conn.request_started()
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            conn.request_done()


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, the guard's bookkeeping around it."""

    def __init__(self, guard: ConnectionGuard, inner: Any) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.counted = False
        self.in_flight = 0
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        guard = self.guard
        verdict = guard.admit()
        if verdict is False:
            guard.stats.refused_busy += 1
            guard.maybe_log()
            transport.abort()
            return
        if isinstance(verdict, _Guarded):
            guard.stats.evicted_idle += 1
            verdict.close()
        guard.stats.active += 1
        self.counted = True
        guard.by_handler[id(self.inner)] = self
        self.inner.connection_made(transport)
        self._idle()
        guard.maybe_log()

    def _idle(self) -> None:
        """No request in flight: the connection may be shed, and must send its next one in time."""
        self.guard.became_idle(self)
        loop = asyncio.get_running_loop()
        if self.timer is not None:
            self.timer.cancel()
        self.timer = loop.call_later(self.guard.header_timeout_s, self._timed_out)

    def _timed_out(self) -> None:
        if self.in_flight == 0 and self.transport is not None and not self.transport.is_closing():
            self.guard.stats.header_timeouts += 1
            self.guard.maybe_log()
            self.close()

    def request_started(self) -> None:
        self.in_flight += 1
        self.guard.became_busy(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def request_done(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self.transport is not None and not self.transport.is_closing():
            self._idle()

    def close(self) -> None:
        self.guard.gone(self)
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.counted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.counted else None

    def pause_writing(self) -> None:
        if self.counted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.counted:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.counted:
            return
        self.counted = False
        self.guard.stats.active -= 1
        self.guard.gone(self)
        self.guard.by_handler.pop(id(self.inner), None)
        self.inner.connection_lost(exc)


class GuardedTCPSite(web.TCPSite):
    """`web.TCPSite` whose connections pass through a `ConnectionGuard`."""

    __slots__ = ("_guard",)

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, *args: Any, **kwargs: Any) -> None:
        super().__init__(runner, *args, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            self._guard.factory(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


__all__ = ["ConnectionGuard", "GuardStats", "GuardedTCPSite", "raise_descriptor_limit"]
