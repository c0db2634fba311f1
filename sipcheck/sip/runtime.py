"""The one thread that owns pjsua2, and the registry of every object it creates.

Why a dedicated thread: pjsua2's Python binding is safe only when one thread
calls the library and polls it (``threadCnt = 0``, ``mainThreadOnly = True``,
``libHandleEvents`` in a loop). Everything else (the asyncio loop, the UDP
front, signal handlers) hands work over with `PjRuntime.submit`, a thread-safe
queue drained between two polls.

Why a registry: a `pjsua2.Call` or media object that is garbage-collected at
the wrong moment (or after ``libDestroy``) aborts the process. Every such
object is put in `Registry` when created and dropped from it, on the pjsua2
thread, when pjsua2 is done with it; shutdown hangs up, waits for the
registry to drain, clears it, collects garbage and only then destroys the
library.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pjsua2 as pj

log = logging.getLogger(__name__)

POLL_MS = 5
"""How long one ``libHandleEvents`` may block; also the worst-case latency of a submitted job."""

GC_PERIOD_S = 2.0

PJ_MAX_CALLS = 4
"""Calls per process the ``pjsua2-python`` wheel is compiled for (PJSUA_MAX_CALLS)."""


@contextlib.contextmanager
def _quiet_stdio(quiet: bool) -> Iterator[None]:
    """Silence file descriptors 1 and 2 while pjlib starts: it prints its start-up at level 4-5
    before ``logConfig`` applies, which is noise on a tester's terminal. Errors still raise as pj.Error."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """What the library is started with. Ports: None = no such transport, 0 = any free port."""

    bind_host: str = "127.0.0.1"
    udp_port: int | None = 0
    tcp_port: int | None = None
    codecs: tuple[str, ...] = ("PCMU/8000", "PCMA/8000")
    rtp_port: int = 0
    rtp_port_range: int = 0
    user_agent: str = "sipcheck"
    log_level: int = 1
    clock_rate: int = 8000
    own_gc: bool = False
    """Disable automatic garbage collection and collect on the pjsua2 thread instead (every
    `GC_PERIOD_S`): a pjsua2 object in a reference cycle must never be freed by a collection that
    happens to run on another thread (pjlib asserts on unregistered threads). For whole processes
    that are agents; a library user embedding the runtime decides for their own process."""


@dataclass(slots=True)
class Registry:
    """Every pjsua2 object this process owns, so each is released on purpose, on the right thread."""

    calls: dict[int, Any] = field(default_factory=dict)
    media: dict[int, Any] = field(default_factory=dict)
    account: Any = None
    created_calls: int = 0
    created_media: int = 0

    def add_call(self, call: Any) -> None:
        self.calls[id(call)] = call
        self.created_calls += 1

    def drop_call(self, call: Any) -> None:
        self.calls.pop(id(call), None)

    def add_media(self, obj: Any) -> None:
        self.media[id(obj)] = obj
        self.created_media += 1

    def drop_media(self, obj: Any) -> None:
        self.media.pop(id(obj), None)

    def counts(self) -> dict[str, int]:
        return {
            "calls": len(self.calls),
            "media": len(self.media),
            "calls_created": self.created_calls,
            "media_created": self.created_media,
        }

    def clear(self) -> None:
        """Drop calls and media first, then the account (an account outliving its calls is fine,
        the reverse is not)."""
        self.calls.clear()
        self.media.clear()
        gc.collect()
        if self.account is not None:
            try:
                self.account.shutdown()
            except Exception:
                log.exception("account shutdown failed")
        self.account = None


Job = Callable[[], None]
T = TypeVar("T")


class PjStartError(RuntimeError):
    """pjsua2 could not be started (bad port, bad codec list, library error)."""


class PjRuntime:
    """Owns the pjsua2 `Endpoint` on one thread; see the module docstring.

    ``setup`` runs on the pjsua2 thread after ``libStart`` (create the account
    there); ``teardown`` runs on it at stop, before the registry is drained
    (hang up there).
    """

    def __init__(
        self,
        config: RuntimeConfig,
        setup: Callable[[PjRuntime], None] | None = None,
        teardown: Callable[[PjRuntime], None] | None = None,
    ) -> None:
        self.config = config
        self.registry = Registry()
        self._setup = setup
        self._teardown = teardown
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._stopping = False
        self._error: BaseException | None = None
        self.endpoint: Any = None
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self.loop_iterations = 0
        self._timers: list[tuple[float, int, Job]] = []
        self._timer_seq = itertools.count()

    # ----- any thread -------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        """Start the thread and wait until the library is up (or raise why it is not)."""
        self._thread = threading.Thread(target=self._run, name="pjsua2", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise PjStartError("pjsua2 did not start in time")
        if self._error is not None:
            raise PjStartError(f"pjsua2 failed to start: {self._error}") from self._error

    def submit(self, job: Job) -> None:
        """Run ``job`` on the pjsua2 thread (soon, in order). Safe from any thread."""
        self._jobs.put(job)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the pjsua2 thread and return its result (or raise its exception). Not from
        the pjsua2 thread itself."""
        future: Future[T] = Future()

        def job() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.submit(job)
        return future.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Hang up, release every object and destroy the library; idempotent."""
        if self._thread is None:
            return
        self._stopping = True
        self._jobs.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("pjsua2 thread did not stop within %.1f s", timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._ready.is_set() and not self._stopped.is_set()

    def in_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # ----- pjsua2 thread ----------------------------------------------------------------------
    def call_later(self, delay_s: float, job: Job) -> None:
        """Run ``job`` on the pjsua2 thread after ``delay_s`` (pjsua2 thread only; ±`POLL_MS`)."""
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._timer_seq), job))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, job = heapq.heappop(self._timers)
            self._run_job(job)

    def _run_job(self, job: Job) -> None:
        try:
            job()
        except Exception:  # one bad job must not take the library down
            log.exception("job on the pjsua2 thread failed")

    def _run(self) -> None:
        try:
            self._init_library()
            if self._setup is not None:
                self._setup(self)
        except BaseException as exc:  # report any start failure to start(), then clean up
            self._error = exc
            self._ready.set()
            self._destroy_library()
            self._stopped.set()
            return
        self._ready.set()
        if self.config.own_gc:
            gc.disable()
        next_gc = time.monotonic() + GC_PERIOD_S
        try:
            while not self._stopping:
                self.endpoint.libHandleEvents(POLL_MS)
                self.loop_iterations += 1
                self._drain_jobs()
                self._run_timers()
                if self.config.own_gc and time.monotonic() >= next_gc:
                    gc.collect()
                    next_gc = time.monotonic() + GC_PERIOD_S
        finally:
            self._shutdown()
            self._stopped.set()

    def _drain_jobs(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is None:
                self._stopping = True
                continue
            self._run_job(job)

    def _init_library(self) -> None:
        cfg = self.config
        ep = pj.Endpoint()
        self.endpoint = ep
        with _quiet_stdio(cfg.log_level < 3):
            self._create_library(ep, cfg)
        self._create_transports(ep, cfg)

    def _create_library(self, ep: Any, cfg: RuntimeConfig) -> None:
        ep.libCreate()
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0
        ep_cfg.uaConfig.mainThreadOnly = True
        ep_cfg.uaConfig.maxCalls = PJ_MAX_CALLS
        ep_cfg.uaConfig.userAgent = cfg.user_agent
        ep_cfg.logConfig.level = cfg.log_level
        ep_cfg.logConfig.consoleLevel = cfg.log_level
        ep_cfg.medConfig.clockRate = cfg.clock_rate
        ep_cfg.medConfig.sndClockRate = cfg.clock_rate
        ep_cfg.medConfig.noVad = True
        ep_cfg.medConfig.ecTailLen = 0
        ep.libInit(ep_cfg)

    def _create_transports(self, ep: Any, cfg: RuntimeConfig) -> None:
        if cfg.udp_port is not None:
            tcfg = pj.TransportConfig()
            tcfg.boundAddress = cfg.bind_host
            tcfg.port = cfg.udp_port
            tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
            self.udp_port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        if cfg.tcp_port is not None:
            tcfg = pj.TransportConfig()
            tcfg.boundAddress = cfg.bind_host
            tcfg.port = cfg.tcp_port
            tid = ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
            self.tcp_port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        ep.audDevManager().setNullDev()
        self._set_codecs(cfg.codecs)
        ep.libStart()

    def _set_codecs(self, wanted: tuple[str, ...]) -> None:
        """Enable exactly the configured codecs, in the configured order (first = preferred)."""
        ep = self.endpoint
        available = [c.codecId for c in ep.codecEnum2()]
        chosen: list[str] = []
        for name in wanted:
            match = [cid for cid in available if cid.lower().startswith(name.lower())]
            if not match:
                raise ValueError(f"sip.codecs: codec {name!r} is not available (have {', '.join(available)})")
            chosen.append(match[0])
        for cid in available:
            ep.codecSetPriority(cid, 0)
        for rank, cid in enumerate(chosen):
            ep.codecSetPriority(cid, 254 - rank)

    def _shutdown(self) -> None:
        ep = self.endpoint
        if ep is None:
            return
        try:
            if self._teardown is not None:
                self._teardown(self)
            ep.hangupAllCalls()
            deadline = time.monotonic() + 3.0
            while self.registry.calls and time.monotonic() < deadline:
                ep.libHandleEvents(POLL_MS)
                self._drain_jobs()
                self._run_timers()
            self._timers.clear()
        except Exception:
            log.exception("error while hanging up at shutdown")
        self._destroy_library()

    def _destroy_library(self) -> None:
        if self.registry.calls:
            log.warning("destroying pjsua2 with %d call(s) still registered", len(self.registry.calls))
        self.registry.clear()
        gc.collect()
        if self.endpoint is not None:
            try:
                self.endpoint.libDestroy()
            except Exception:
                log.exception("libDestroy failed")
        self.endpoint = None
        gc.collect()
        if self.config.own_gc:
            gc.enable()
