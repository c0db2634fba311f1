"""Structured logs: one JSON object per line on stderr, for every sipcheck service process.

Log collectors (journald, Fluent Bit, Loki) parse JSON lines without
configuration. Fields given with ``extra={...}`` become top-level keys, so an
audit line reads ``{"event": "data.publish", "who": "ops", "rows": 3712, ...}``.
Tokens never reach a log call (auth only passes the token's *name*).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, Final, TextIO

# Attributes every LogRecord has; anything else came from ``extra``.
_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one compact JSON line with a UTC timestamp and the process id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process or os.getpid(),
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the ``sipcheck`` and ``aiohttp`` loggers to ``stream`` as JSON lines (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("sipcheck", "aiohttp"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if isinstance(old.formatter, JsonFormatter):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
