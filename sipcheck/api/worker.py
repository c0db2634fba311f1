"""One HTTP worker process: open the store by URL, build the app, serve with ``reuse_port`` until SIGTERM.

Several of these share one port (the kernel spreads connections across
them). On SIGTERM a worker stops accepting, lets requests in flight finish
(up to ``http.shutdown_timeout_s``), closes its store connections and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time

from aiohttp import web

from sipcheck.api.app import create_app
from sipcheck.api.connguard import (
    DESCRIPTORS_RESERVED,
    ConnectionGuard,
    GuardedTCPSite,
    raise_descriptor_limit,
)
from sipcheck.api.logs import configure_logging
from sipcheck.api.supervisor import Ready
from sipcheck.cache import open_store
from sipcheck.decisionlog import DecisionLog
from sipcheck.screener import Screener
from sipcheck.settings import Settings

log = logging.getLogger("sipcheck.api")

ACCEPT_BACKLOG = 128
WARM_UP_NUMBER = "0352535111"
WARM_UP_CHECKS = 3


async def serve(settings: Settings, ready: Ready, *, reuse_port: bool = True, index: int = 0) -> None:
    # The snapshot keeper reloads in a thread: hand the interpreter back to the event loop every
    # 1 ms (default 5 ms), so that a reload's Python work does not hold checks past their budget.
    sys.setswitchinterval(0.001)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    http = settings.http
    with open_store(settings) as store:
        screener = Screener(store, settings.compiled_policy(), settings.clock(), settings.ingress_map())
        # Connect, load scripts and fill caches now, so the first real call is not the slow one.
        for _ in range(WARM_UP_CHECKS):
            await screener.acheck(WARM_UP_NUMBER)
        decisions = DecisionLog.from_settings(settings.decisions, f"http-{index}")
        app = create_app(screener, store, settings, decisions=decisions)
        descriptors = raise_descriptor_limit()
        # asyncio accepts up to `backlog` connections in one go before any of them is looked at:
        # those descriptors must be free too.
        room = descriptors - DESCRIPTORS_RESERVED - ACCEPT_BACKLOG
        guard = ConnectionGuard(min(http.max_connections, max(1, room)), http.header_timeout_s)
        app.middlewares.insert(0, guard.middleware)
        loop.set_exception_handler(_BoundedLoopErrors())
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=logging.getLogger("aiohttp.access") if http.access_log else None,
            shutdown_timeout=http.shutdown_timeout_s,
            keepalive_timeout=http.keepalive_timeout_s,
        )
        await runner.setup()
        try:
            site = GuardedTCPSite(
                runner, guard, http.host, http.port, reuse_port=reuse_port, backlog=ACCEPT_BACKLOG
            )
            await site.start()
            log.info("serving on %s:%d", http.host, http.port, extra={"event": "worker.ready"})
            ready()
            await stop.wait()
            log.info("stopping: finishing requests in flight", extra={"event": "worker.stopping"})
        finally:
            await runner.cleanup()
            aclose = getattr(store, "aclose", None)
            if aclose is not None:
                await aclose()
            if decisions is not None:
                decisions.close()
    log.info("stopped", extra={"event": "worker.stopped"})


class _BoundedLoopErrors:
    """The loop's error handler: asyncio reports every failed ``accept`` (EMFILE under a flood) as
    its own traceback; those are counted and logged once per interval, everything else as usual."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.last = float("-inf")
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        message = str(context.get("message", ""))
        if not message.startswith("socket.accept() out of system resource"):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.last < self.every_s:
            self.suppressed += 1
            return
        log.error(
            "accept failed: %s (%s); %d more like it since the last report",
            message,
            context.get("exception"),
            self.suppressed,
            extra={"event": "http.accept_failed"},
        )
        self.last, self.suppressed = now, 0


def run_worker(settings: Settings, index: int, ready: Ready) -> int:
    """The supervisor's target for an HTTP worker; returns the exit code."""
    configure_logging()
    try:
        asyncio.run(serve(settings, ready, index=index))
    except OSError as exc:
        log.error(
            "cannot serve on %s:%d: %s",
            settings.http.host,
            settings.http.port,
            exc,
            extra={"event": "worker.failed"},
        )
        return 4
    return 0
