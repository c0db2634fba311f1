"""The decision API: `GET /v1/check/{number}` and `POST /v1/check` (batch).

The hot path: parse nothing the screener parses, decide nothing (the screener
and `policy.decide` do), serialise the verdict with `Verdict.to_dict()` — the
same object the CLI's ``--json`` prints — and count it. Everything else
(metric label children, the JSON encoder, limits) is prepared at start-up.
"""

from __future__ import annotations

import asyncio
import json
from time import perf_counter
from typing import Any

from aiohttp import web

from sipcheck.api.context import Api
from sipcheck.api.errors import ApiError, dumps
from sipcheck.store import StoreError

DATA_VERSION_HEADER = "X-Data-Version"


async def check_one(api: Api, request: web.Request) -> web.Response:
    started = perf_counter()
    number = request.match_info["number"]
    # Most routing engines send no query string: skip building the query MultiDict then.
    query = request.query if request.query_string else None
    ingress = (query.get("ingress") or None) if query is not None else None
    try:
        verdict = await api.screener.acheck(number, ingress)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"the data store did not answer: {exc}") from exc
    api.metrics.count_verdict(verdict)
    decisions = api.decisions
    if decisions is not None:
        call_id = (query.get("call_id") or None) if query is not None else None
        decisions.record(verdict, at=api.screener.clock(), edge="http", call_id=call_id, ingress=ingress)
    response = web.Response(
        body=dumps(verdict.to_dict()),
        content_type="application/json",
        headers={DATA_VERSION_HEADER: verdict.data_version},
    )
    api.metrics.single.observe(perf_counter() - started)
    return response


def _batch_request(body: Any, limit: int) -> tuple[list[str], str | None]:
    """``{"numbers": [...], "ingress": "..."}`` or a bare array → (numbers, ingress); errors name it."""
    ingress: Any = None
    if isinstance(body, list):
        numbers: Any = body
    elif isinstance(body, dict):
        unknown = sorted(set(body) - {"numbers", "ingress"})
        if unknown:
            raise ApiError("bad_request", f"unknown field(s) {', '.join(unknown)}: expected numbers, ingress")
        if "numbers" not in body:
            raise ApiError("bad_request", "missing field 'numbers' (an array of strings)")
        numbers = body["numbers"]
        ingress = body.get("ingress")
        if ingress is not None and not isinstance(ingress, str):
            raise ApiError("bad_request", f"'ingress' must be a string, got {type(ingress).__name__}")
    else:
        raise ApiError("bad_request", 'expected a JSON object {"numbers": [...]} or an array of strings')
    if not isinstance(numbers, list):
        raise ApiError("bad_request", f"'numbers' must be an array of strings, got {type(numbers).__name__}")
    if len(numbers) > limit:
        raise ApiError("batch_too_large", f"{len(numbers)} numbers in one batch; the limit is {limit}")
    bad = [i for i, n in enumerate(numbers) if not isinstance(n, str)]
    if bad:
        shown = ", ".join(f"numbers[{i}]" for i in bad[:5])
        raise ApiError("bad_request", f"every number must be a string: {shown} is not")
    return numbers, ingress or None


async def read_json(request: web.Request) -> Any:
    """The body as JSON; 400 ``invalid_json`` naming where it broke, 413 past the size limit."""
    raw = await request.read()
    if not raw.strip():
        raise ApiError("invalid_json", "the body is empty; expected JSON")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError("invalid_json", f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            "invalid_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


async def check_batch(api: Api, request: web.Request) -> web.Response:
    started = perf_counter()
    numbers, ingress = _batch_request(await read_json(request), api.settings.http.batch_limit)
    try:
        verdicts = await api.screener.acheck_many(numbers, ingress)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"the data store did not answer: {exc}") from exc
    count = api.metrics.count_verdict
    for verdict in verdicts:
        count(verdict)
    decisions = api.decisions
    if decisions is not None:
        at = api.screener.clock()
        for verdict in verdicts:
            decisions.record(verdict, at=at, edge="http", ingress=ingress)
    api.metrics.count_batch(len(verdicts))
    if verdicts:
        version = verdicts[0].data_version
    else:  # nothing was looked up; ask the store (off the loop: it may do I/O)
        version = (await asyncio.to_thread(api.store.status)).data_version
    body = {"data_version": version, "count": len(verdicts), "verdicts": [v.to_dict() for v in verdicts]}
    response = web.Response(
        body=dumps(body), content_type="application/json", headers={DATA_VERSION_HEADER: version}
    )
    api.metrics.batch.observe(perf_counter() - started)
    return response
