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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as the JSON error shape, including aiohttp's own 404/405/413."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status)
        if code is None:
            raise
        if code == "not_found":
            message = f"no endpoint {request.path}"
        elif code == "method_not_allowed":
            message = f"{request.method} is not allowed on {request.path}"
        else:
            message = exc.text or exc.reason
        return error_response(code, message)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response(
            "internal_error", f"unexpected error while handling {request.method} {request.path}"
        )
