"""A whole probe run: the settings, and calls spread over processes when one cannot hold them.

The ``pjsua2-python`` wheel is built for `PJ_MAX_CALLS` calls per process, so ``--concurrency``
above that runs shard processes (spawned, never forked: a forked pjsua2 is a broken one), each with
its share of the calls and the rate, on its own ports, streaming outcomes back over a queue.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty
from typing import Any

from sipcheck import tones
from sipcheck.sip.probe_call import answer_shard, run_shard
from sipcheck.sip.probe_plan import Pacer, PartyOutcome, ProbeOutcome, rtp_ports_needed
from sipcheck.sip.runtime import PJ_MAX_CALLS


@dataclass(frozen=True)
class ProbeRun:
    """One probe run's settings (what `sipcheck probe`'s options say); picklable, for shard processes."""

    target: str
    profile: tones.Profile
    workdir: Path
    count: int = 1
    interval_s: float = 1.0
    concurrency: int = 1
    rate_cps: float | None = None
    record_s: float | None = None
    caller: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    bind_host: str = "127.0.0.1"
    codecs: tuple[str, ...] = ("PCMU/8000", "PCMA/8000")
    answer_timeout_s: float = 10.0
    answer_calls: bool = False
    sip_port: int = 0
    rtp_port: int = 0


def run_probe(run: ProbeRun, on_outcome: Callable[[ProbeOutcome], None] | None = None) -> list[ProbeOutcome]:
    """Place ``run.count`` calls (``concurrency`` at once, at most ``rate_cps`` a second), validate each
    against the profile; outcomes in call order.

    The ``pjsua2-python`` wheel holds `PJ_MAX_CALLS` calls per process, so more at once are spread
    over shard processes (call i to shard i mod K, each with its share of the rate, on its own ports).
    Answering the forwarded calls runs the called party in a process of its own (`answer_shard`), on
    the one port the target forwards to, so ``answer_calls`` stops at `PJ_MAX_CALLS` calls at once.
    """
    Pacer(run.concurrency, run.rate_cps, run.interval_s)  # validates the pacing settings
    if run.answer_calls:
        if run.concurrency > PJ_MAX_CALLS:
            raise ValueError(
                f"answering the forwarded calls allows at most {PJ_MAX_CALLS} calls at once: they all come "
                f"back to one SIP port, and one probe process holds {PJ_MAX_CALLS} call legs"
            )
        return _run_answering(run, on_outcome)
    if run.concurrency <= PJ_MAX_CALLS:
        return run_shard(run, list(range(run.count)), 0.0, on_outcome)
    return _run_sharded(run, on_outcome)


CALLEE_RESULTS_S = 120.0
"""How long the probe waits for the next of the called party's results (it validates them first)."""


def _run_answering(run: ProbeRun, on_outcome: Callable[[ProbeOutcome], None] | None) -> list[ProbeOutcome]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    stop = context.Event()
    token = secrets.token_hex(4)
    process = context.Process(target=answer_shard, args=(run, token, queue, stop))
    process.start()
    parties: dict[int, PartyOutcome] = {}
    outcomes: list[ProbeOutcome] = []
    try:
        ready = queue.get(timeout=30)
        if ready != "ready":
            raise RuntimeError(f"the probe's answering process did not start: {ready}")
        callee_ports = rtp_ports_needed(run.concurrency, False)
        caller_run = replace(run, sip_port=0, rtp_port=run.rtp_port + callee_ports if run.rtp_port else 0)
        outcomes = run_shard(caller_run, list(range(run.count)), 0.0, None, token=token)
    finally:
        stop.set()  # every caller leg has ended: the called party validates what it recorded
        while True:
            try:
                item = queue.get(timeout=CALLEE_RESULTS_S)
            except Empty:
                break
            if item is None:
                break
            if isinstance(item, tuple):
                parties[item[0]] = item[1]
        process.join(10)
        if process.is_alive():
            process.kill()
    for outcome in outcomes:
        if outcome.answered:
            missing = PartyOutcome(error="the called party never got the call")
            outcome.callee = parties.get(outcome.index) or missing
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


def _shard_runs(run: ProbeRun) -> list[tuple[ProbeRun, list[int], float]]:
    shards = -(-run.concurrency // PJ_MAX_CALLS)
    rate = run.rate_cps
    runs = []
    for k in range(shards):
        concurrency = len(range(k, run.concurrency, shards))
        ports = rtp_ports_needed(concurrency, False)
        runs.append(
            (
                replace(
                    run,
                    concurrency=concurrency,
                    rate_cps=rate / shards if rate else None,
                    sip_port=run.sip_port + k if run.sip_port else 0,
                    rtp_port=run.rtp_port + k * ports if run.rtp_port else 0,
                ),
                list(range(k, run.count, shards)),
                k / rate if rate else 0.0,
            )
        )
    return runs


def _shard_main(run: ProbeRun, indices: list[int], delay_s: float, queue: Any) -> None:
    try:
        run_shard(run, indices, delay_s, queue.put)
    except Exception as exc:  # reported to the parent, which says which shard failed
        queue.put(f"{type(exc).__name__}: {exc}")
    finally:
        queue.put(None)


def _run_sharded(run: ProbeRun, on_outcome: Callable[[ProbeOutcome], None] | None) -> list[ProbeOutcome]:
    context = multiprocessing.get_context("spawn")  # pjsua2 must not inherit a forked library state
    queue = context.Queue()
    shards = _shard_runs(run)
    processes = [context.Process(target=_shard_main, args=(*shard, queue)) for shard in shards]
    for process in processes:
        process.start()
    done: dict[int, ProbeOutcome] = {}
    errors: list[str] = []
    running = len(processes)
    try:
        while running:
            item = queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, str):
                errors.append(item)
            else:
                done[item.index] = item
                if on_outcome is not None:
                    on_outcome(item)
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    if errors:
        raise RuntimeError("a probe shard failed: " + "; ".join(errors))
    return [done[i] for i in sorted(done)]
