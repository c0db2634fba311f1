"""Process supervision for ``sipcheck serve``: fork workers, restart crashes, stop them all gracefully.

Generic on purpose: it runs any list of `ProcessSpec` (today N HTTP workers;
the SIP agent processes are meant to be added as another spec), knows nothing
about HTTP, and never imports aiohttp.

Signals are handled synchronously: the parent blocks SIGTERM, SIGINT and
SIGCHLD and waits for them with ``sigtimedwait``, so there is no handler that
can interrupt it half-way through a fork or a stop. Children restore the
original mask and handlers before running their target.

Only the pids it forked are ever waited for or signalled: the embedded
redis-server started by the parent is a child too, and belongs to the cache.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

log = logging.getLogger("sipcheck.supervisor")

STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
_WAITED: Final = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
METRICS_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

Ready = Callable[[], None]


def _drain_pending() -> None:
    """Consume signals that arrived while stopping, so unblocking them does not kill a finished service."""
    while signal.sigtimedwait(_WAITED, 0) is not None:
        pass


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """``count`` processes running ``target(index, ready)``; the target calls ``ready()`` once serving
    and returns an exit code when told to stop (SIGTERM)."""

    name: str
    count: int
    target: Callable[[int, Ready], int]


@dataclass(slots=True)
class _Child:
    spec: ProcessSpec
    index: int
    pid: int
    ready: bool = False
    exit_code: int | None = None


@dataclass(slots=True)
class RestartBudget:
    """At most ``limit`` unexpected exits per ``window_s``; beyond that the service gives up."""

    limit: int = 5
    window_s: float = 60.0
    times: list[float] = field(default_factory=list)

    def allow(self, now: float) -> bool:
        self.times = [t for t in self.times if now - t < self.window_s]
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


class StartupFailed(RuntimeError):
    """A child exited or did not become ready before the service was up."""


def _status_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


class Supervisor:
    def __init__(
        self,
        specs: list[ProcessSpec],
        *,
        stop_timeout_s: float = 15.0,
        ready_timeout_s: float = 30.0,
        restart: RestartBudget | None = None,
        metrics_dir: bool = True,
    ) -> None:
        self.specs = specs
        self.stop_timeout_s = stop_timeout_s
        self.ready_timeout_s = ready_timeout_s
        self.restart = restart or RestartBudget()
        self.children: dict[int, _Child] = {}
        self._ready_r = -1
        self._ready_w = -1
        self._old_mask: set[int | signal.Signals] = set()
        self._noted: list[int] = []
        self._old_handlers: dict[int, Any] = {}
        self._metrics_dir: str | None = None
        self._want_metrics_dir = metrics_dir
        self._buffer = b""

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> Supervisor:
        """Set up the shared metrics directory and block the signals the parent waits for."""
        if self._want_metrics_dir and not os.environ.get(METRICS_DIR_ENV):
            self._metrics_dir = tempfile.mkdtemp(prefix="sipcheck-metrics-")
            os.environ[METRICS_DIR_ENV] = self._metrics_dir
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
        # Only this thread blocks the signals. Should another thread of this process exist (the
        # parent should not keep any), a stop signal may be delivered to it instead; a Python
        # handler then records it for `wait` rather than the default action killing the process.
        for sig in STOP_SIGNALS:
            self._old_handlers[sig] = signal.signal(sig, self._note)
        self._ready_r, self._ready_w = os.pipe()
        os.set_blocking(self._ready_r, False)
        return self

    def __exit__(self, *exc: object) -> None:
        if any(c.exit_code is None for c in self.children.values()):
            self.stop()
        for fd in (self._ready_r, self._ready_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        _drain_pending()
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        if self._metrics_dir is not None:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
            os.environ.pop(METRICS_DIR_ENV, None)

    def start(self) -> None:
        """Fork every process and wait until all report ready; `StartupFailed` names the first failure."""
        for spec in self.specs:
            for index in range(spec.count):
                self._fork(spec, index)
        deadline = time.monotonic() + self.ready_timeout_s
        while not all(c.ready for c in self._live()):
            self._read_ready(timeout_s=0.05)
            for child in self._reap():
                self._read_ready(timeout_s=0)  # its "ready" may still be in the pipe
                if child.ready:  # it started, then died: same as a crash while serving
                    if not self._restart(child):
                        raise StartupFailed(f"{child.spec.name} worker {child.index} keeps exiting")
                    continue
                self.stop()
                raise StartupFailed(
                    f"{child.spec.name} worker {child.index} (pid {child.pid}) exited with code "
                    f"{child.exit_code} while starting"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StartupFailed(f"workers not ready within {self.ready_timeout_s:g} s")

    def wait(self) -> int:
        """Supervise until SIGTERM/SIGINT; then stop every child. Returns the service's exit code."""
        while True:
            info = signal.sigtimedwait(_WAITED, 1.0)
            self._read_ready(timeout_s=0)
            signo = info.si_signo if info is not None else (self._noted.pop(0) if self._noted else None)
            if signo is None:
                continue
            if signo in STOP_SIGNALS:
                log.info("stopping on %s", signal.Signals(signo).name, extra={"event": "service.stop"})
                return self.stop()
            for child in self._reap():
                if not self._restart(child):
                    return 1

    def stop(self) -> int:
        """SIGTERM every live child and give them ``stop_timeout_s`` to finish in-flight work.

        Children still running then, or when SIGINT arrives meanwhile (Ctrl-C
        twice), are killed. A repeated SIGTERM changes nothing: process
        managers may repeat it, and it must not cut off the requests being finished.
        """
        for child in self._live():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        while self._live():
            left = deadline - time.monotonic()
            info = signal.sigtimedwait(_WAITED, min(left, 0.5)) if left > 0 else None
            self._reap()
            if left <= 0 or (info is not None and info.si_signo == signal.SIGINT):
                self._kill_live("did not stop in time" if left <= 0 else "interrupted again while stopping")
                break
        codes = [c.exit_code for c in self.children.values()]
        return 0 if all(code == 0 for code in codes) else 1

    def _restart(self, child: _Child) -> bool:
        """Replace a child that exited unexpectedly; False (and everything stopped) past the budget."""
        log.error(
            "%s worker %d (pid %d) exited unexpectedly with code %s",
            child.spec.name,
            child.index,
            child.pid,
            child.exit_code,
            extra={"event": "worker.exit", "pid": child.pid, "code": child.exit_code},
        )
        if not self.restart.allow(time.monotonic()):
            log.error("too many worker exits; stopping the service", extra={"event": "service.giveup"})
            self.stop()
            return False
        del self.children[child.pid]  # its replacement's exit code is the one that counts
        self._fork(child.spec, child.index)
        return True

    def _kill_live(self, why: str) -> None:
        for child in self._live():
            log.error("killing pid %d: %s", child.pid, why, extra={"event": "worker.kill"})
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
            child.exit_code = -signal.SIGKILL
            self._mark_dead(child.pid)

    # -- internals ----------------------------------------------------------------------------------

    def _note(self, signo: int, _frame: object) -> None:
        self._noted.append(signo)

    def _live(self) -> list[_Child]:
        return [c for c in self.children.values() if c.exit_code is None]

    def _fork(self, spec: ProcessSpec, index: int) -> None:
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                os.close(self._ready_r)
                for sig in STOP_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
                ready_w = self._ready_w

                def ready() -> None:
                    os.write(ready_w, f"{os.getpid()}\n".encode())

                code = spec.target(index, ready)
            except BaseException:
                log.exception("%s worker %d failed", spec.name, index, extra={"event": "worker.crash"})
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = _Child(spec, index, pid)
        log.info("started %s worker %d (pid %d)", spec.name, index, pid, extra={"event": "worker.start"})

    def _read_ready(self, timeout_s: float) -> None:
        readable, _, _ = select.select([self._ready_r], [], [], timeout_s)
        if not readable:
            return
        try:
            self._buffer += os.read(self._ready_r, 4096)
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                raise
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            child = self.children.get(int(line))
            if child is not None:
                child.ready = True

    def _reap(self) -> list[_Child]:
        """Collect the children that exited (only ours, never the embedded redis-server)."""
        exited = []
        for child in self._live():
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid == 0:
                continue
            child.exit_code = _status_code(status)
            self._mark_dead(child.pid)
            exited.append(child)
        return exited

    def _mark_dead(self, pid: int) -> None:
        if os.environ.get(METRICS_DIR_ENV):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
