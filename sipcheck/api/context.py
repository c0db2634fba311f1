"""What every handler needs, built once per app: the screener, the store, settings, metrics, auth.

Handlers take this object as their first argument (bound once in
`create_app`), so a request never looks anything up that could have been
looked up at start-up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from sipcheck.api.auth import TokenAuth
from sipcheck.api.metrics import ApiMetrics
from sipcheck.decisionlog import DecisionLog
from sipcheck.screener import Screener
from sipcheck.settings import Settings
from sipcheck.store import FactStore


@dataclass(slots=True)
class Api:
    screener: Screener
    store: FactStore
    settings: Settings
    metrics: ApiMetrics
    auth: TokenAuth
    openapi: bytes = b""
    docs_html: str = ""
    publish_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    decisions: DecisionLog | None = None  # the decision log, when decisions.dir is set


API_KEY = web.AppKey("sipcheck_api", Api)
