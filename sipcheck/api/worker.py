"""One HTTP worker process: open the store by URL, build the app, serve with ``reuse_port`` until SIGTERM.

Several of these share one port (the kernel spreads connections across
them). On SIGTERM a worker stops accepting, lets requests in flight finish
(up to ``http.shutdown_timeout_s``), closes its store connections and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from sipcheck.api.app import create_app
from sipcheck.api.logs import configure_logging
from sipcheck.api.supervisor import Ready
from sipcheck.cache import open_store
from sipcheck.screener import Screener
from sipcheck.settings import Settings

log = logging.getLogger("sipcheck.api")

WARM_UP_NUMBER = "0352535111"
WARM_UP_CHECKS = 3


async def serve(settings: Settings, ready: Ready, *, reuse_port: bool = True) -> None:
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
        app = create_app(screener, store, settings)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=logging.getLogger("aiohttp.access") if http.access_log else None,
            shutdown_timeout=http.shutdown_timeout_s,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, http.host, http.port, reuse_port=reuse_port, backlog=1024)
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
    log.info("stopped", extra={"event": "worker.stopped"})


def run_worker(settings: Settings, index: int, ready: Ready) -> int:
    """The supervisor's target for an HTTP worker; returns the exit code."""
    configure_logging()
    try:
        asyncio.run(serve(settings, ready))
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
