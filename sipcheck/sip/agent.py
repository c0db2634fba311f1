"""One SIP agent process (asyncio loop + pjsua2 runtime + UDP front), and N of them as one service.

Threads in one agent process:

- the asyncio loop (main thread): the UDP front, screening (`Screener.acheck`
  under the Redis time budget), signal handling;
- the pjsua2 thread (`PjRuntime`): the relay.

They meet in two places only: the relay asks for a verdict with
``asyncio.run_coroutine_threadsafe`` and gets it back through
`PjRuntime.submit`; the relay tells the front which Call-IDs hold or free a
slot with ``loop.call_soon_threadsafe``.

Run one: ``python -m sipcheck.sip.agent [--config FILE]``. Run N:
`serve_agents` (what ``sipcheck sip-agent --agents N`` and ``sipcheck serve``
call) starts N such processes on consecutive ports and restarts one that dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sipcheck.decisionlog import DecisionLog
from sipcheck.screener import Screener
from sipcheck.settings import Settings, load_settings
from sipcheck.sip.admission import Admission
from sipcheck.sip.front import PeerFilter, SipFront
from sipcheck.sip.sipmsg import CallerId
from sipcheck.store import FactStore
from sipcheck.verdict import Verdict

log = logging.getLogger("sipcheck.sip.agent")

READY_PREFIX = "SIPCHECK-AGENT-READY "
"""The line an agent prints (with a JSON object) when it accepts calls; supervisors and tests wait for it."""


def rss_kb() -> int:
    """Current resident memory of this process in KiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class ScreeningBridge:
    """Screens on the asyncio loop for the pjsua2 thread, within a time budget.

    Why on the loop: the store's async lookup is where the Redis timeouts,
    breaker and budget live; the pjsua2 thread must never wait on I/O. When
    the budget runs out the facts are "unavailable" and the policy (its
    ``fail_policy``) decides what that means, as everywhere else.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        screener: Screener,
        budget_ms: float,
        decisions: DecisionLog | None = None,
    ) -> None:
        self.loop = loop
        self.screener = screener
        self.budget_s = budget_ms / 1000.0
        self.decisions = decisions

    def __call__(self, caller: CallerId, ingress: str | None, call_id: str | None = None) -> Future[Verdict]:
        return asyncio.run_coroutine_threadsafe(self.screen(caller, ingress, call_id), self.loop)

    async def screen(self, caller: CallerId, ingress: str | None, call_id: str | None = None) -> Verdict:
        screener = self.screener
        try:
            async with asyncio.timeout(self.budget_s):
                verdict = await screener.acheck(caller.number, ingress)
        except TimeoutError:
            verdict = screener.unavailable(caller.number, ingress)
        if self.decisions is not None:
            self.decisions.record(verdict, at=screener.clock(), edge="sip", call_id=call_id, ingress=ingress)
        return verdict


StoreFactory = Callable[[Settings], contextlib.AbstractContextManager[FactStore]]


@contextlib.contextmanager
def sample_memory_store(settings: Settings) -> Iterator[FactStore]:
    """The bundled sample data in process memory: demos and tests without Redis."""
    from sipcheck.sample import sample_parts
    from sipcheck.store import MemoryStore

    yield MemoryStore(sample_parts())


@contextlib.contextmanager
def redis_store(settings: Settings) -> Iterator[FactStore]:
    """The configured store (`sipcheck.cache.open_store`): Redis, or the embedded one with sample data."""
    from sipcheck.cache import open_store

    with open_store(settings) as store:
        yield store


STORES: dict[str, StoreFactory] = {"redis": redis_store, "memory-sample": sample_memory_store}


async def run_agent_async(
    settings: Settings,
    store_factory: StoreFactory = redis_store,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Run one agent until ``stop`` is set (or SIGTERM/SIGINT). Returns the exit code."""
    from sipcheck.sip.relay import RelayAgent
    from sipcheck.sip.runtime import PjRuntime, RuntimeConfig
    from sipcheck.sip.tone import render_tone_file

    sip = settings.sip
    if not sip.next_hop:
        print("sipcheck sip-agent: error: sip.next_hop is not set (where relayed calls go)", file=sys.stderr)
        return 4
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    peers = PeerFilter(sip.trusted_peers)
    workdir = Path(tempfile.mkdtemp(prefix="sipcheck-agent-"))
    tone = render_tone_file(sip.tone_profile, workdir) if sip.tone_profile else None
    admission = Admission(max_calls=sip.max_calls, max_cps=sip.max_cps)
    backend_host = "127.0.0.1" if sip.listen_host in ("0.0.0.0", "") else sip.listen_host
    use_udp = "udp" in sip.transports
    front_id = f"{backend_host}:{sip.listen_port}" if use_udp else None

    def admitted(call_id: str) -> None:
        loop.call_soon_threadsafe(admission.confirm, call_id)

    def released(call_id: str) -> None:
        loop.call_soon_threadsafe(admission.release, call_id, time.monotonic())

    with store_factory(settings) as store:
        screener = Screener(store, settings.compiled_policy(), settings.clock(), settings.ingress_map())
        decisions = DecisionLog.from_settings(settings.decisions, f"sip-{sip.listen_port}")
        runtime = PjRuntime(
            RuntimeConfig(
                bind_host=backend_host,
                udp_port=sip.private_port or 0,  # always a UDP port: outbound legs and Contacts use it
                tcp_port=sip.listen_port if "tcp" in sip.transports else None,
                codecs=tuple(sip.codecs),
                rtp_port=sip.rtp_port,
                rtp_port_range=sip.rtp_port_range,
                log_level=sip.log_level,
                own_gc=True,
            ),
            setup=lambda rt: relay.setup(rt),
            teardown=lambda rt: relay.teardown(rt),
        )
        relay = RelayAgent(
            runtime,
            next_hop=sip.next_hop,
            peers=peers,
            screen=ScreeningBridge(loop, screener, settings.redis.check_budget_ms, decisions),
            tone=tone,
            max_calls=sip.max_calls,
            front=front_id,
            admitted=admitted,
            released=released,
            contact_host=backend_host,
            retry_after_s=sip.retry_after_s,
            strict_syntax=sip.strict_syntax,
        )
        await asyncio.to_thread(runtime.start)
        transport = None
        try:
            if use_udp:
                assert runtime.udp_port is not None

                def status() -> list[tuple[str, str]]:
                    figures = relay.status() | runtime.registry.counts()
                    figures |= {"admitted": admission.active, "rss_kb": rss_kb()}
                    figures |= {"shed_full": admission.rejected_full, "shed_rate": admission.rejected_rate}
                    return [("X-Sipcheck-Status", json.dumps(figures, separators=(",", ":")))]

                transport, _ = await loop.create_datagram_endpoint(
                    lambda: SipFront(
                        (backend_host, runtime.udp_port or 0),
                        peers,
                        admission,
                        retry_after=sip.retry_after_s,
                        status=status,
                        strict_syntax=sip.strict_syntax,
                    ),
                    local_addr=(sip.listen_host, sip.listen_port),
                )
            ready = {
                "pid": os.getpid(),
                "udp": sip.listen_port if use_udp else None,
                "tcp": runtime.tcp_port,
                "pjsip_udp": runtime.udp_port,
                "next_hop": sip.next_hop,
                "tone": tone.profile_id if tone else None,
                "max_calls": sip.max_calls,
                "max_cps": sip.max_cps,
            }
            announce_ready(ready)
            if on_ready is not None:
                on_ready()
            await stop.wait()
        finally:
            if transport is not None:
                transport.close()
            await asyncio.to_thread(runtime.stop)
            if decisions is not None:
                decisions.close()
            with contextlib.suppress(OSError):
                for f in workdir.iterdir():
                    f.unlink()
                workdir.rmdir()
    return 0


def run_agent(settings: Settings, store: str = "redis") -> int:
    """Run one agent in this process until SIGTERM/SIGINT."""
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}: use one of {', '.join(STORES)}")
    return asyncio.run(run_agent_async(settings, STORES[store]))


def for_index(settings: Settings, index: int) -> Settings:
    """Settings of agent ``index`` of a service: SIP port ``listen_port + index``, its own RTP range."""
    sip = settings.sip
    own = sip.model_copy(
        update={
            "listen_port": sip.listen_port + index,
            "rtp_port": sip.rtp_port + index * sip.rtp_port_range,
            "private_port": sip.private_port + index if sip.private_port else None,
            "agents": 1,
        }
    )
    return settings.model_copy(update={"sip": own})


def agent_process_target(
    settings: Settings, store: str = "redis"
) -> Callable[[int, Callable[[], None]], int]:
    """A target for `sipcheck.api.supervisor.ProcessSpec`: ``target(index, ready)`` runs agent ``index``
    in the (forked) child and calls ``ready()`` once it accepts calls.

    ``sipcheck serve`` starts the agents with
    ``ProcessSpec("sip-agent", settings.sip.agents, agent_process_target(settings))``.
    """
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}: use one of {', '.join(STORES)}")

    def target(index: int, ready: Callable[[], None]) -> int:
        return asyncio.run(run_agent_async(for_index(settings, index), STORES[store], on_ready=ready))

    return target


def agent_env(settings: Settings, index: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for agent ``index`` of a service: the ports `for_index` gives it, as variables."""
    env = dict(os.environ if base is None else base)
    own = for_index(settings, index).sip
    env["SIPCHECK_SIP__LISTEN_PORT"] = str(own.listen_port)
    env["SIPCHECK_SIP__RTP_PORT"] = str(own.rtp_port)
    if own.private_port is not None:
        env["SIPCHECK_SIP__PRIVATE_PORT"] = str(own.private_port)
    env["SIPCHECK_SIP__AGENTS"] = str(own.agents)
    return env


def announce_ready(ready: dict[str, Any]) -> None:
    """Print the ready line with one ``write(2)`` on stdout.

    Sibling agents of a service share the parent's stdout pipe. ``print``
    may issue the text and its newline as two writes (it does under
    ``PYTHONUNBUFFERED``), so two agents starting together could interleave
    their lines; a single write below ``PIPE_BUF`` bytes is atomic on a pipe.
    """
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), (READY_PREFIX + json.dumps(ready) + "\n").encode())


def agent_command(config_file: str | None, store: str) -> list[str]:
    cmd = [sys.executable, "-m", "sipcheck.sip.agent", "--store", store]
    if config_file:
        cmd += ["--config", config_file]
    return cmd


def serve_agents(
    settings: Settings,
    count: int | None = None,
    *,
    config_file: str | None = None,
    store: str = "redis",
    stop: Callable[[], bool] | None = None,
    restart_limit: int = 5,
) -> int:
    """Run ``count`` agent processes (default ``sip.agents``) on ports ``listen_port``, +1, … as one service.

    Each child is ``python -m sipcheck.sip.agent`` with its port in the
    environment; a child that dies is restarted (at most ``restart_limit``
    times each, so a broken configuration does not spin). Returns when
    SIGTERM/SIGINT arrives or ``stop()`` turns true, after stopping the children.
    """
    n = count or settings.sip.agents
    config_file = config_file or os.environ.get("SIPCHECK_CONFIG")
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen[bytes] | None] = [None] * n
    restarts = [0] * n
    try:
        while not stopping and not (stop is not None and stop()):
            for i in range(n):
                child = children[i]
                if child is not None and child.poll() is None:
                    continue
                if child is not None:
                    restarts[i] += 1
                    print(f"sipcheck: agent {i} exited with {child.returncode}", file=sys.stderr, flush=True)
                    if restarts[i] > restart_limit:
                        print(f"sipcheck: agent {i} keeps failing; stopping the service", file=sys.stderr)
                        return 4
                children[i] = subprocess.Popen(agent_command(config_file, store), env=agent_env(settings, i))
            time.sleep(0.2)
        return 0
    finally:
        for child in children:
            if child is not None and child.poll() is None:
                child.terminate()
        for child in children:
            if child is not None:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sipcheck.sip.agent", description="one sipcheck SIP agent"
    )
    parser.add_argument("--config", metavar="FILE", help="settings file (TOML)")
    parser.add_argument(
        "--store", choices=sorted(STORES), default="redis", help="where verdict data comes from"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = load_settings(args.config)
    except ValueError as exc:
        print(f"sipcheck sip-agent: error: {exc}", file=sys.stderr)
        return 4
    return run_agent(settings, args.store)


if __name__ == "__main__":
    sys.exit(main())
