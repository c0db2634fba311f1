"""`create_app(screener, store, settings)`: the aiohttp application, ready to run or to test.

The caller owns the store and the screener (a `MemoryStore` in tests and
benchmarks, a `RedisStore` in the service); the app only answers requests with
them and never decides a verdict itself.
"""

from __future__ import annotations

from functools import partial

from aiohttp import web

from sipcheck.api.auth import TokenAuth, load_tokens
from sipcheck.api.context import API_KEY, Api
from sipcheck.api.errors import CATCH_ALL, CATCH_ALL_NAME, guarded, unmatched
from sipcheck.api.metrics import ApiMetrics
from sipcheck.api.openapi import docs_page, openapi_bytes
from sipcheck.api.ops import metrics_sync_loop
from sipcheck.api.routes import ROUTES
from sipcheck.decisionlog import DecisionLog
from sipcheck.screener import Screener
from sipcheck.settings import Settings
from sipcheck.store import FactStore


def create_app(
    screener: Screener,
    store: FactStore,
    settings: Settings,
    *,
    metrics: ApiMetrics | None = None,
    sync_metrics: bool = True,
    decisions: DecisionLog | None = None,
) -> web.Application:
    """Build the app. Token configuration errors raise `ValueError` here, at start-up, not per request."""
    http = settings.http
    api = Api(
        screener=screener,
        store=store,
        settings=settings,
        metrics=metrics or ApiMetrics(),
        auth=TokenAuth(load_tokens(http)),
        openapi=openapi_bytes(ROUTES),
        docs_html=docs_page(ROUTES, f"http://{http.host}:{http.port}"),
        decisions=decisions,
    )
    app = web.Application(client_max_size=http.max_body_bytes)
    app[API_KEY] = api
    for route in ROUTES:
        handler = partial(route.handler, api)
        app.router.add_route(route.method, route.path, guarded(handler), name=route.operation_id)
    app.router.add_route(
        "*", CATCH_ALL, unmatched, name=CATCH_ALL_NAME
    )  # last: only what no route above matched
    if sync_metrics:
        app.cleanup_ctx.append(metrics_sync_loop)
    return app
