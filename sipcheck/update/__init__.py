"""`sipcheck data update`: MIC's designation page → the newest file per range → validate → publish.

- `page`: the page's HTML → the .xls/.xlsx links (pure)
- `fetch`: bounded HTTP(S) downloads (the only network I/O)
- `run`: the orchestration, all-or-nothing (`prepare`, then `publish`)
"""

from __future__ import annotations

from sipcheck.update.fetch import FetchError
from sipcheck.update.page import FileLink, file_links
from sipcheck.update.run import Fetched, Prepared, UpdateFailed, prepare, publish

__all__ = [
    "FetchError",
    "Fetched",
    "FileLink",
    "Prepared",
    "UpdateFailed",
    "file_links",
    "prepare",
    "publish",
]
