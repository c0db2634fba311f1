"""The audit trail in Redis: one stream, ``{p}:audit``, beside the data it describes.

Why a stream: every process and host appends to one place with one command (XADD), entries are
ordered and time-stamped by Redis itself (the entry id is milliseconds since the epoch), a time
window is one XRANGE, and the retention is part of the write (``MINID`` trims entries older than
``redis.audit_retention_days``), so nothing grows without bound. The stream is persisted with the
rest of the data (the embedded Redis keeps an append-only file; a deployment's Redis its own
persistence), and survives a restart as the data does.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import cast

import redis

from sipcheck.audit import ChangeRecord
from sipcheck.cache.keys import KeySpace

FIELD = "r"


def append(client: redis.Redis, keys: KeySpace, record: ChangeRecord, retention_days: int) -> str:
    oldest_ms = int(time.time() * 1000) - retention_days * 86_400_000
    entry_id = client.xadd(keys.audit, {FIELD: record.encode()}, minid=str(oldest_ms), approximate=False)
    return str(entry_id)


def read(client: redis.Redis, keys: KeySpace, since: datetime | None, limit: int) -> list[ChangeRecord]:
    """The newest ``limit`` records at or after ``since``, oldest first."""
    low = str(int(since.timestamp() * 1000)) if since is not None else "-"
    entries = cast(
        list[tuple[str, dict[str, str]]], client.xrevrange(keys.audit, max="+", min=low, count=limit)
    )
    out = [
        ChangeRecord.decode(fields[FIELD], str(entry_id)) for entry_id, fields in entries if FIELD in fields
    ]
    out.reverse()
    return out
