"""What the CLI commands share: opening the configured store, printing tables and errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from sipcheck.settings import Settings, get_settings
from sipcheck.store import FactStore

EXIT_ALLOW = 0
EXIT_FLAG = 10
EXIT_BLOCK = 20
EXIT_ERROR = 4
MAX_ERRORS_SHOWN = 50


@contextmanager
def configured_store(settings: Settings | None = None) -> Iterator[FactStore]:
    """The store the settings name: Redis at the configured URL, else the embedded private Redis."""
    from sipcheck.cache import open_store

    with open_store(settings or get_settings()) as store:
        yield store


def cli_identity(author: str | None = None) -> tuple[str, str]:
    """(who, origin) of a change made from this command line, for the audit trail: the login name
    at the host (or ``--author``), and ``cli <host>``."""
    import getpass
    import socket

    host = socket.gethostname() or "?"
    if author:
        return author, f"cli {host}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{host}", f"cli {host}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain aligned table; East Asian wide characters count double so columns line up."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    widths = [width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], width(cell))
    for row in (headers, *rows):
        print("  ".join(cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row)).rstrip())


def error(message: str) -> int:
    print(f"sipcheck: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def hide_url_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (redis://:secret@host → redis://:***@host)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
