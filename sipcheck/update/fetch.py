"""Downloading the page and MIC's files: the only network I/O of `sipcheck data update`.

stdlib urllib, on purpose: two GETs of public files do not justify a dependency. Every request
is bounded three ways, because this runs unattended from a timer and must end with a clear
error rather than hang or fill the disk: only http/https (also across redirects: urllib would
follow one to ftp), ``timeout_s`` per request *in total* (a socket timeout alone resets at every
byte, so a server dripping a byte a second would hold us forever), and ``max_bytes`` per
response (checked against Content-Length first, then while reading, for responses that do not say).
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Final
from urllib.parse import urlsplit

from sipcheck import __version__

ALLOWED_SCHEMES: Final = ("http", "https")
USER_AGENT: Final = f"sipcheck/{__version__} (data update)"
_CHUNK: Final = 64 * 1024


class FetchError(Exception):
    """A URL could not be downloaded; ``url`` is the one that failed, the message says why."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to http/https (the stdlib default also allows ftp)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in ALLOWED_SCHEMES:
            raise FetchError(req.full_url, f"redirected to {newurl!r}: only http and https are allowed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    """An opener with HTTP(S), proxies from the environment, and no file:, ftp: or data: handlers."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def check_url(url: str) -> None:
    """Refuse anything but an absolute http/https URL (a file: URL in settings would read local files)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.netloc:
        raise FetchError(url, "not an http or https URL")


def fetch_bytes(url: str, *, timeout_s: float, max_bytes: int) -> bytes:
    """The body of ``url``; `FetchError` on any failure, after ``timeout_s`` or past ``max_bytes``.

    The request runs in a worker thread joined with the timeout, so the limit holds whatever the
    server does (a slow connect, headers a byte at a time, a silent body); a worker left behind
    stops at its next read and never writes anywhere (the caller writes files, on success only).
    """
    check_url(url)
    outcome: list[bytes | FetchError] = []
    cancelled = threading.Event()

    def work() -> None:
        try:
            outcome.append(_download(url, timeout_s, max_bytes, cancelled))
        except FetchError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work, name="sipcheck-fetch", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive() or not outcome:
        cancelled.set()
        raise FetchError(url, _timed_out(timeout_s))
    result = outcome[0]
    if isinstance(result, FetchError):
        raise result
    return result


def _download(url: str, timeout_s: float, max_bytes: int, cancelled: threading.Event) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        with _opener().open(request, timeout=timeout_s) as response:
            declared = _content_length(response.headers.get("Content-Length"))
            if declared is not None and declared > max_bytes:
                raise FetchError(
                    url, f"{declared} bytes is over the limit of {max_bytes} (data.update_max_bytes)"
                )
            chunks: list[bytes] = []
            size = 0
            while not cancelled.is_set():
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(
                        url, f"more than {max_bytes} bytes: over the limit (data.update_max_bytes)"
                    )
                chunks.append(chunk)
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        raise FetchError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise FetchError(url, _reason(exc.reason, timeout_s)) from exc
    except TimeoutError as exc:
        raise FetchError(url, _timed_out(timeout_s)) from exc
    except http.client.IncompleteRead as exc:
        raise FetchError(url, f"download cut short after {len(exc.partial)} bytes") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(url, _reason(exc, timeout_s)) from exc
    if declared is not None and size != declared:
        raise FetchError(url, f"download cut short: {size} of {declared} bytes")
    return b"".join(chunks)


def fetch_file(url: str, dest: Path, *, timeout_s: float, max_bytes: int) -> Path:
    """Download ``url`` to ``dest`` (whole body checked first: a cut-short file is never written)."""
    dest.write_bytes(fetch_bytes(url, timeout_s=timeout_s, max_bytes=max_bytes))
    return dest


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        length = int(value.strip())
    except ValueError:
        return None
    return length if length >= 0 else None


def _reason(reason: object, timeout_s: float) -> str:
    if isinstance(reason, TimeoutError):
        return _timed_out(timeout_s)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"host not found ({reason.strerror or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _timed_out(timeout_s: float) -> str:
    return f"timed out after {timeout_s:g} s (data.update_timeout_s)"
