"""The decision log's writer: JSON lines, one file per process, rotated by size, off the call path.

Why a writer thread: a screened call must not wait for a disk. `DecisionLog.record` puts the
verdict on a bounded queue (a deque append: well under a microsecond) and returns; the thread
formats the records (`sipcheck.decisions.decision_record`) and writes them in batches. When the
disk cannot keep up and the queue is full, records are dropped and counted (`dropped`), never
the call delayed: the log is evidence, not the call path.

Why one file per process: several processes appending to one file and rotating it would tear
lines and lose rotations. Each process writes ``<dir>/decisions-<name>.jsonl`` (``name`` is the
edge and its worker: ``http-0``, ``sip``), renamed to ``.1`` … ``.<backups>`` when it passes
``max_bytes``. Read them all back with ``sipcheck screen`` or ``sipcheck report``.
"""

from __future__ import annotations

import collections
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Final

import orjson

from sipcheck.decisions import decision_record
from sipcheck.settings import DecisionLogSettings
from sipcheck.verdict import Verdict

log = logging.getLogger(__name__)

FLUSH_S: Final = 0.5
"""A record reaches the file within about this long (the writer wakes at least this often)."""

_Item = tuple[Verdict, datetime, str, "str | None", "str | None"]


class DecisionLog:
    def __init__(self, directory: Path, name: str, *, max_bytes: int, backups: int, queue_max: int) -> None:
        self.path = Path(directory) / f"decisions-{name}.jsonl"
        self.max_bytes = max_bytes
        self.backups = backups
        self.queue_max = queue_max
        self.written = 0
        self.dropped = 0
        self._queue: collections.deque[_Item] = collections.deque()
        self._queued = 0  # records accepted by `record`
        self._handled = 0  # records the writer has written or failed to write
        self._handled_changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the process's life
        self._size = self._file.tell()
        self._thread = threading.Thread(target=self._run, name=f"decision-log-{name}", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: DecisionLogSettings, name: str) -> DecisionLog | None:
        """The log the settings ask for, or None when ``decisions.dir`` is unset (the default)."""
        if settings.dir is None:
            return None
        return cls(
            settings.dir,
            name,
            max_bytes=settings.max_bytes,
            backups=settings.backups,
            queue_max=settings.queue_max,
        )

    def record(
        self,
        verdict: Verdict,
        *,
        at: datetime,
        edge: str,
        call_id: str | None = None,
        ingress: str | None = None,
    ) -> None:
        """Queue one screened call's record; never blocks (a full queue drops and counts)."""
        if len(self._queue) >= self.queue_max:
            self.dropped += 1
            return
        self._queued += 1
        self._queue.append((verdict, at, edge, call_id, ingress))

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_S)
            self._wake.clear()
            self._drain()
            if self._stop:
                self._drain()
                return

    def _drain(self) -> None:
        queue = self._queue
        if not queue:
            return
        lines: list[bytes] = []
        while queue:
            verdict, at, edge, call_id, ingress = queue.popleft()
            record = decision_record(verdict, at=at, edge=edge, call_id=call_id, ingress=ingress)
            lines.append(orjson.dumps(record))
        try:
            pending: list[bytes] = []
            size = self._size
            for line in lines:
                if size + len(line) + 1 > self.max_bytes and size > 0:
                    self._write(pending)
                    pending = []
                    self._rotate()
                    size = 0
                pending.append(line)
                size += len(line) + 1
            self._write(pending)
            self.written += len(lines)
        except OSError as exc:
            self.dropped += len(lines)
            log.error("decision log %s not written: %s", self.path, exc, extra={"event": "decisions.error"})
        with self._handled_changed:
            self._handled += len(lines)
            self._handled_changed.notify_all()

    def _write(self, lines: list[bytes]) -> None:
        if lines:
            data = b"\n".join(lines) + b"\n"
            self._file.write(data)
            self._file.flush()
            self._size += len(data)

    def _rotate(self) -> None:
        self._file.close()
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115
        self._size = 0

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record queued so far is written (tests, shutdown); False on timeout."""
        target = self._queued
        self._wake.set()
        with self._handled_changed:
            return self._handled_changed.wait_for(lambda: self._handled >= target, timeout)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=10)
        self._file.close()
