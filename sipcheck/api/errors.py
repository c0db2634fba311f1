"""Errors as JSON: a stable machine ``code``, a message that names the problem, the HTTP status.

Clients (routing engines, provisioning scripts) branch on ``code``; people
read ``message``. Codes are a public interface like reason codes: add, never
rename. Every error body has the same shape::

    {"error": {"code": "bad_request", "message": "...", "details": [...]}}
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import web

log = logging.getLogger("sipcheck.api")

# code -> (HTTP status, what it means); the OpenAPI document and docs/http-api.md list these.
ERROR_CODES: Final[dict[str, tuple[int, str]]] = {
    "bad_request": (400, "the request is malformed (query, JSON shape, field types)"),
    "invalid_json": (400, "the body is not valid JSON"),
    "unauthorized": (401, "no bearer token, or a token that is not configured"),
    "not_found": (404, "no such endpoint or item"),
    "method_not_allowed": (405, "the endpoint does not accept this method"),
    "body_too_large": (413, "the body is larger than http.max_body_bytes"),
    "batch_too_large": (413, "more numbers than http.batch_limit in one batch"),
    "unsupported_media_type": (415, "the upload format cannot be told from Content-Type or ?format="),
    "import_failed": (422, "the uploaded data has bad rows; nothing was published"),
    "invalid_items": (422, "some items of the change are invalid; nothing was changed"),
    "store_unavailable": (503, "the data store did not answer"),
    "not_ready": (503, "the service is not ready (store unreachable or no data loaded)"),
    "internal_error": (500, "an unexpected error; the log has the details"),
}


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (operator names are Japanese).

    orjson, because encoding the verdict with the stdlib encoder cost as much as screening it.
    """
    return orjson.dumps(value)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(value), status=status, content_type="application/json", headers=headers)


class ApiError(Exception):
    """Raised by handlers; the middleware turns it into the JSON error body."""

    def __init__(self, code: str, message: str, details: list[Any] | None = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.status = ERROR_CODES[code][0]
        self.message = message
        self.details = details


def error_response(code: str, message: str, details: list[Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return json_response({"error": body}, status=ERROR_CODES[code][0])


_HTTP_CODES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_for(request: web.Request, exc: Exception) -> web.Response:
    """The JSON error answer for an exception a handler raised; re-raises what is not an error.

    One place decides every error body, whether the exception came from our
    code (`ApiError`), from aiohttp inside a handler (413 on an oversized body),
    or from a bug (500, logged with the request).
    """
    if isinstance(exc, ApiError):
        return error_response(exc.code, exc.message, exc.details)
    if isinstance(exc, web.HTTPException):
        code = _HTTP_CODES.get(exc.status) if exc.status >= 400 else None
        if code is None:
            raise exc
        return error_response(code, exc.text or exc.reason)
    log.error("unhandled error", exc_info=exc, extra={"path": request.path, "method": request.method})
    return error_response(
        "internal_error", f"unexpected error while handling {request.method} {request.path}"
    )


def guarded(handler: Handler) -> Handler:
    """``handler`` answering every failure with the JSON error shape.

    Per route rather than an app middleware: aiohttp runs a middleware chain
    of two extra coroutines for every request, which cost the check endpoint
    about a tenth of its throughput. Routing misses (404/405) are answered by
    `unmatched`, a catch-all route, for the same reason.
    """

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            return error_for(request, exc)

    return run


async def unmatched(request: web.Request) -> web.Response:
    """The catch-all route: 405 with ``Allow`` if another route has this path, else 404."""
    allowed: set[str] = set()
    this = request.match_info.route.resource
    for resource in request.app.router.resources():
        if resource is this:
            continue
        _, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        response = error_response("method_not_allowed", f"{request.method} is not allowed on {request.path}")
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response
    return error_response("not_found", f"no endpoint {request.path}")


CATCH_ALL: Final = "/{path:.*}"
CATCH_ALL_NAME: Final = "unmatched"  # the route's name: not an operation, so not in the OpenAPI document
