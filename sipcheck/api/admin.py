"""Data administration: data status, whole-component uploads, incremental suspension changes.

Uploads go through the same importers as ``sipcheck load`` (all-or-nothing:
an `ImportFailed` lists every bad row and nothing is published). The body is
streamed to a temporary file under the size limit and the importer runs in a
thread, so the event loop keeps answering checks while a large file is parsed.
Every change writes one audit line: who (the token's name), what, how many
rows, which version.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Final

from aiohttp import BodyPartReader, web

from sipcheck.api.context import Api
from sipcheck.api.errors import ApiError, json_response
from sipcheck.changes import change_suspensions as audited_change_suspensions
from sipcheck.changes import publish_component
from sipcheck.importers import (
    KINDS,
    ImportFailed,
    load_component,
    load_mic,
    load_suspension_changes,
    merge_blocks,
)
from sipcheck.model import Component, Part
from sipcheck.store import FactStore, StoreError

# Upload formats: Content-Type → file extension the importers dispatch on.
MEDIA_TYPES: Final[dict[str, str]] = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/json": ".json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel": ".xls",
}
FORMATS: Final = frozenset(ext.lstrip(".") for ext in MEDIA_TYPES.values())
MAX_ERRORS_SHOWN: Final = 1000
_CHUNK: Final = 256 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


async def data_status(api: Api, request: web.Request) -> web.Response:
    try:
        status = await asyncio.to_thread(api.store.status)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"the data store did not answer: {exc}") from exc
    today = api.screener.today()
    max_age = api.settings.data.max_age_days
    body = status.to_dict(today, max_age)
    body["today"] = today.isoformat()
    body["max_age_days"] = max_age
    body["stale"] = [row.range for row in status.stale(today, max_age)]
    return json_response(body, headers={"X-Data-Version": status.data_version})


def _extension(request: web.Request, filename: str | None, content_type: str | None) -> str:
    """The format from ?format=, else the part's file name, else Content-Type; 415 naming what was seen."""
    fmt = request.query.get("format")
    if fmt:
        if fmt.lower() not in FORMATS:
            raise ApiError(
                "unsupported_media_type", f"format={fmt!r} is not one of {', '.join(sorted(FORMATS))}"
            )
        return "." + fmt.lower()
    if filename:
        suffix = Path(filename).suffix.lower()
        if suffix.lstrip(".") in FORMATS:
            return suffix
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in MEDIA_TYPES:
        return MEDIA_TYPES[media]
    raise ApiError(
        "unsupported_media_type",
        f"cannot tell the upload format from Content-Type {media or '(none)'!r}"
        + (f" or file name {filename!r}" if filename else "")
        + f"; send one of {', '.join(sorted(MEDIA_TYPES))} or add ?format=csv|json|xlsx|xls",
    )


def _safe_name(name: str | None, default: str, ext: str) -> str:
    """A file name for error messages (``blocks.csv:12``) that cannot escape the temp directory."""
    base = _SAFE_NAME.sub("_", Path(name).name) if name else ""
    base = base.strip("._") or default
    return base if base.lower().endswith(ext) else base + ext


class _Budget:
    """Counts bytes across every file of one request against ``http.max_body_bytes``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise ApiError(
                "body_too_large",
                f"the upload is larger than the limit of {self.limit} bytes (http.max_body_bytes)",
            )


async def _save(read: Callable[[int], Awaitable[bytes]], path: Path, budget: _Budget) -> None:
    with open(path, "wb") as fh:
        while True:
            chunk = await read(_CHUNK)
            if not chunk:
                break
            budget.take(len(chunk))
            fh.write(chunk)


async def _receive_files(request: web.Request, folder: Path, default_name: str, limit: int) -> list[Path]:
    """Stream the body (one raw file, or several multipart/form-data files) into ``folder``."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(
            "body_too_large",
            f"the body is {request.content_length} bytes; the limit is {limit} bytes (http.max_body_bytes)",
        )
    budget = _Budget(limit)
    paths: list[Path] = []
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError("bad_request", "nested multipart bodies are not supported")
            ext = _extension(request, part.filename, part.headers.get("Content-Type"))
            name = _safe_name(part.filename, f"{default_name}-{len(paths) + 1}", ext)
            if any(p.name == name for p in paths):
                name = f"{len(paths) + 1}-{name}"
            path = folder / name
            await _save(part.read_chunk, path, budget)
            paths.append(path)
        if not paths:
            raise ApiError("bad_request", "the multipart body holds no file")
        return paths
    ext = _extension(request, request.query.get("filename"), request.headers.get("Content-Type"))
    path = folder / _safe_name(request.query.get("filename"), default_name, ext)
    await _save(request.content.read, path, budget)
    if budget.used == 0:
        raise ApiError("bad_request", "the body is empty; expected the data file")
    return [path]


def origin(request: web.Request) -> str:
    """Where a change came from, for the audit trail: the HTTP peer's address."""
    return f"http {request.remote or '?'}"


def _import_failed(exc: ImportFailed) -> ApiError:
    rows = [asdict(e) for e in exc.errors[:MAX_ERRORS_SHOWN]]
    more = len(exc.errors) - len(rows)
    message = f"the upload has {len(exc.errors)} bad row(s); nothing was published"
    if more > 0:
        message += f" (the first {len(rows)} are listed)"
    return ApiError("import_failed", message, rows)


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise ApiError("not_found", f"no data kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def _load(kind: str, paths: list[Path], store: FactStore) -> Part:
    """Run the importer (in a worker thread). MIC files replace only the ranges they cover, as in the CLI."""
    if kind == "mic":
        return merge_blocks(store.part(Component.BLOCKS), load_mic(paths))
    return load_component(kind, paths)


async def upload_component(api: Api, request: web.Request) -> web.Response:
    who = api.auth.identify(request)
    kind = _kind(request)
    with tempfile.TemporaryDirectory(prefix="sipcheck-upload-") as tmp:
        paths = await _receive_files(request, Path(tmp), kind, api.settings.http.max_body_bytes)
        # One publish at a time in this process: a MIC merge reads the live blocks it then replaces.
        async with api.publish_lock:
            try:
                part = await asyncio.to_thread(_load, kind, paths, api.store)
            except ImportFailed as exc:
                raise _import_failed(exc) from exc
            sources = [p.name for p in paths]
            try:
                version = await asyncio.to_thread(
                    publish_component,
                    api.store,
                    part,
                    kind=kind,
                    who=who,
                    origin=origin(request),
                    sources=sources,
                )
            except StoreError as exc:
                raise ApiError("store_unavailable", f"publishing to the data store failed: {exc}") from exc
    rows = len(part.records)
    component = part.component.value
    api.metrics.count_change(f"publish.{kind}", rows)
    return json_response(
        {
            "kind": kind,
            "component": component,
            "rows": rows,
            "data_version": version,
            "as_of": part.as_of.isoformat() if part.as_of else None,
            "sources": sources,
        },
        headers={"X-Data-Version": version},
    )


async def change_suspensions(api: Api, request: web.Request) -> web.Response:
    who = api.auth.identify(request)
    with tempfile.TemporaryDirectory(prefix="sipcheck-upload-") as tmp:
        paths = await _receive_files(
            request, Path(tmp), "suspension-changes", api.settings.http.max_body_bytes
        )
        try:
            changes = await asyncio.to_thread(load_suspension_changes, paths)
        except ImportFailed as exc:
            raise _import_failed(exc) from exc

    def apply() -> tuple[int, int, str]:
        sources = [p.name for p in paths]
        return audited_change_suspensions(
            api.store, changes, who=who, origin=origin(request), sources=sources
        )

    try:
        added, removed, version = await asyncio.to_thread(apply)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"changing suspensions in the data store failed: {exc}") from exc
    rows = len(changes.add) + len(changes.remove)
    api.metrics.count_change("suspensions", rows)
    return json_response(
        {
            "added": added,
            "removed": removed,
            "not_found": len(changes.remove) - removed,
            "data_version": version,
        },
        headers={"X-Data-Version": version},
    )
