"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document and its page.

``/healthz`` answers as long as the process serves HTTP. ``/readyz`` asks the
store: reachable (its ``ping()``, a real round trip to Redis) and holding a
complete data set (blocks, certifications and suspensions loaded). A load
balancer or Kubernetes takes a worker out while Redis is away and puts it back
when Redis returns. Stale designation data keeps a worker ready (its verdicts
say so) and is reported in the body: taking every worker out because MIC's
monthly file is late would turn a data problem into an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web

from sipcheck.api.context import API_KEY, Api
from sipcheck.api.errors import error_response, json_response
from sipcheck.api.metrics import CONTENT_TYPE
from sipcheck.model import DataStatus
from sipcheck.store import FactStore

READY_TIMEOUT_S: Final = 1.0
METRICS_SYNC_S: Final = 1.0
STATUS_SYNC_EVERY: Final = 5  # status (a store round trip) every 5th metrics sync


async def healthz(api: Api, request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def probe_store(store: FactStore, timeout_s: float = READY_TIMEOUT_S) -> tuple[DataStatus | None, str]:
    """(status, '') when the store answers, else (None, what failed). Runs the blocking calls in a thread."""

    def probe() -> DataStatus:
        ping = getattr(store, "ping", None)
        if ping is not None:
            answer = ping()
            if answer is False:
                raise ConnectionError("ping was not answered")
        return store.status()

    try:
        return await asyncio.wait_for(asyncio.to_thread(probe), timeout_s), ""
    except TimeoutError:
        return None, f"the data store did not answer within {timeout_s:g} s"
    except Exception as exc:
        return None, f"the data store is unreachable: {exc}"


async def readyz(api: Api, request: web.Request) -> web.Response:
    status, problem = await probe_store(api.store)
    if status is None:
        return error_response("not_ready", problem)
    counts = {c.component.value: c.count for c in status.components}
    missing = status.missing()
    if missing:
        names = ", ".join(c.value for c in missing)
        return error_response(
            "not_ready", f"no complete data set: {names} not loaded (every check answers by the fail policy)"
        )
    today = api.screener.today()
    max_age = api.settings.data.max_age_days
    stale = [row.range for row in status.stale(today, max_age)]
    return json_response(
        {
            "status": "ready",
            "data_version": status.data_version,
            "records": counts,
            "data_stale": bool(stale),
            "stale_ranges": stale,
            "max_age_days": max_age,
        }
    )


def sync_metrics(api: Api, status: DataStatus | None) -> None:
    api.metrics.flush()
    api.metrics.sync_store_metrics(getattr(api.store, "metrics", None))
    api.metrics.sync_local(getattr(api.store, "local_in_sync", None))
    if status is not None:
        api.metrics.sync_status(status, api.screener.today(), api.settings.data.max_age_days)


async def metrics(api: Api, request: web.Request) -> web.Response:
    status, _ = await probe_store(api.store)
    sync_metrics(api, status)
    body = await asyncio.to_thread(api.metrics.render)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


async def openapi(api: Api, request: web.Request) -> web.Response:
    return web.Response(body=api.openapi, content_type="application/json")


async def docs(api: Api, request: web.Request) -> web.Response:
    return web.Response(text=api.docs_html, content_type="text/html")


async def metrics_sync_loop(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: copy store counters into Prometheus every second while the app runs.

    Other workers' scrapes read this process's values from the shared files, so
    they must be kept current without waiting for a scrape to land here.
    """
    api = app[API_KEY]

    async def loop() -> None:
        tick = 0
        while True:
            status: Any = None
            if tick % STATUS_SYNC_EVERY == 0:
                status, _ = await probe_store(api.store)
            sync_metrics(api, status)
            tick += 1
            await asyncio.sleep(METRICS_SYNC_S)

    task = asyncio.create_task(loop(), name="sipcheck-metrics-sync")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
