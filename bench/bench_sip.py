"""SIP agent capacity: ramp calls per second with SIPp until calls fail; baseline SIPp → SIPp direct.

For each rate step, SIPp (UAC) places ``rate × step_s`` calls through the agent
to a SIPp callee (UAS) that answers at once and holds each call ``--hold-ms``;
a step passes when no call failed. The callee side is captured (dumpcap) and
each relayed call's RTP is validated with `sipcheck.tones`: the tone start
latency is the tone's measured start minus the callee's 200 OK in the capture.
The same rates are then run SIPp → SIPp with no agent (the baseline).

With ``--agents N`` the step runs N agents on consecutive ports with one UAC
per agent at the same rate each (what a dispatcher in front does), giving the
machine's figure; ``--soak CALLS`` adds a memory soak (RSS every 250 calls).

The machine has 2 cores shared with other work: figures are noisy; run twice.

    .venv/bin/python bench/bench_sip.py                # one agent, default ramp
    .venv/bin/python bench/bench_sip.py --agents 2     # per machine
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sipcheck import tones
from sipcheck.sip.harness import (
    AgentProcess,
    Sipp,
    caller_audio,
    capture,
    free_port,
    free_port_block,
    options_status,
    scenario,
    write_agent_config,
)
from sipcheck.sip.sipmsg import SipParseError, parse_message
from sipcheck.tones import audiofile, pcap, rtp

DEFAULT_RATES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)


@dataclass
class Step:
    rate: float
    calls: int
    successful: int
    failed: int
    max_concurrent: int
    tone_ms: list[float] = field(default_factory=list)
    tone_failures: int = 0
    shed_503: int = 0
    """503s the agents' fronts sent so far (cumulative): failed calls are refused, not lost."""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.successful == self.calls and self.tone_failures == 0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tone_latencies(path: Path, callee_sip: int, callee_media: int, profile: Any) -> tuple[list[float], int]:
    """Per relayed call: tone start (validated) minus the callee's 200 OK, from the callee-side capture."""
    datagrams = pcap.read_capture(path)
    sdp_port: dict[str, int] = {}
    answered: dict[str, pcap.UdpDatagram] = {}
    for d in datagrams:
        if callee_sip not in (d.sport, d.dport):
            continue
        try:
            msg = parse_message(d.payload)
        except SipParseError:
            continue
        if msg.is_request and msg.method == "INVITE" and msg.to_tag is None:
            m = re.search(rb"m=audio (\d+)", d.payload)
            if m:
                sdp_port[msg.call_id] = int(m.group(1))
        elif msg.status == 200 and msg.method == "INVITE" and msg.call_id not in answered:
            answered[msg.call_id] = d
    streams: dict[int, list[pcap.UdpDatagram]] = defaultdict(list)
    for d in datagrams:
        if d.dport == callee_media:
            try:
                streams[rtp.parse_rtp(d.payload).ssrc].append(d)
            except ValueError:
                continue
    latencies: list[float] = []
    failures = 0
    used: set[str] = set()
    for packets in streams.values():
        first = packets[0]
        # The call whose SDP named this source port and whose answer came last before the first packet.
        candidates = [
            (ok.time, cid)
            for cid, ok in answered.items()
            if cid not in used and sdp_port.get(cid) == first.sport and ok.time <= first.time + 0.05
        ]
        if not candidates:
            continue
        _, cid = max(candidates)
        used.add(cid)
        try:
            audio = audiofile.audio_from_capture([answered[cid], *packets], str(path))
            result = tones.validate_recording(audio, profile)
        except (ValueError, tones.AudioFormatError):
            failures += 1
            continue
        if result.passed and result.start_offset_ms is not None:
            latencies.append(result.start_offset_ms)
        else:
            failures += 1
    return latencies, failures + max(0, len(answered) - len(used))


def run_step(
    workdir: Path,
    rate: float,
    step_s: float,
    hold_ms: int,
    targets: list[int],
    callee_ports: list[tuple[int, int]],
    measure_tone: bool,
    profile: Any,
    status_ports: list[int],
) -> Step:
    """One rate step: one UAS + one UAC per target (agent port, or the UAS directly for the baseline)."""
    calls = max(4, round(rate * step_s))
    uas_sc, uac_sc = scenario("uas.xml", workdir), scenario("uac.xml", workdir)
    captures = []
    stack = []
    tag = f"{rate:g}-{time.monotonic_ns()}"
    try:
        for i, (sip_port, media_port) in enumerate(callee_ports):
            if measure_tone:
                cap = capture(workdir / f"callee-{tag}-{i}.pcap", [sip_port, media_port])
                captures.append((cap.__enter__(), sip_port, media_port))
                stack.append(cap)
        uases = [
            Sipp(workdir, f"uas-{tag}-{i}", uas_sc, ["-p", str(sp), "-mp", str(mp)]).start()
            for i, (sp, mp) in enumerate(callee_ports)
        ]
        time.sleep(0.3)
        uacs = []
        for i, target in enumerate(targets):
            args = ["-mp", str(free_port()), "-s", "0399990000", "-key", "caller", "0352535111"]
            args += ["-m", str(calls), "-r", f"{rate:g}", "-l", "500", "-d", str(hold_ms)]
            uacs.append(Sipp(workdir, f"uac-{tag}-{i}", uac_sc, [*args, f"127.0.0.1:{target}"]).start())
        results = [u.wait(step_s * 3 + hold_ms / 1000 + 30) for u in uacs]
        # Calls held at once on the machine: the agents' peaks added up (each agent's peak since start).
        figures = [options_status(port) for port in status_ports]
        max_conc = sum(int(f.get("max_sessions", 0) or 0) for f in figures)
        shed = sum(int(f.get("shed_full", 0)) + int(f.get("shed_rate", 0)) for f in figures)
        for u in uases:
            u.stop()
    finally:
        for cap in stack:
            cap.__exit__(None, None, None)
    step = Step(
        rate * len(targets),
        calls * len(targets),
        sum(r.successful for r in results),
        sum(r.failed for r in results),
        max_conc,
        shed_503=shed,
    )
    if not status_ports:  # baseline: SIPp's own figure for the calls it held at once
        step.max_concurrent = max(
            (int(row.get("CurrentCall", 0) or 0) for r in results for row in r.stats_rows), default=0
        )
    for path, sip_port, media_port in captures:
        lat, bad = tone_latencies(path, sip_port, media_port, profile)
        step.tone_ms += lat
        step.tone_failures += bad
    return step


def ramp(
    workdir: Path,
    rates: list[float],
    step_s: float,
    hold_ms: int,
    agents: int,
    baseline: bool,
    profile: Any,
) -> list[Step]:
    callee_ports = [(free_port(), free_port_block(4, start=40000 + 100 * i)) for i in range(agents)]
    procs: list[AgentProcess] = []
    targets: list[int]
    status_ports: list[int] = []
    if baseline:
        targets = [sp for sp, _ in callee_ports]
    else:
        base = free_port_block(agents, start=25000)
        for i in range(agents):
            media = free_port_block(200, start=30000 + 1000 * i)
            cfg = write_agent_config(
                workdir / f"agent-{i}.toml",
                listen_port=base + i,
                next_hop=f"sip:127.0.0.1:{callee_ports[i][0]}",
                rtp_port=media,
                rtp_port_range=200,
                max_cps=20,
                peer_trunks={"127.0.0.1": "trunk-a"},
                log_level=0,
            )
            procs.append(AgentProcess(cfg).start())
        targets = [base + i for i in range(agents)]
        status_ports = targets
    steps: list[Step] = []
    try:
        for rate in rates:
            step = run_step(
                workdir, rate, step_s, hold_ms, targets, callee_ports, not baseline, profile, status_ports
            )
            steps.append(step)
            label = "baseline" if baseline else f"{agents} agent(s)"
            lat = (
                f" tone p50 {pct(step.tone_ms, 0.5):.0f} ms p99 {pct(step.tone_ms, 0.99):.0f} ms"
                if step.tone_ms
                else ""
            )
            print(
                f"  {label:<12} {step.rate:6.1f} cps: {step.successful}/{step.calls} ok, "
                f"{step.failed} failed, held {step.max_concurrent} at once{lat}"
                + (f", {step.tone_failures} tone failures" if step.tone_failures else "")
                + (f", 503s sent so far {step.shed_503}" if step.shed_503 else ""),
                flush=True,
            )
            if not step.ok:
                break
    finally:
        for proc in procs:
            code = proc.stop()
            if code != 0:
                print(f"  agent exited with {code}: {proc.log[-800:]}", file=sys.stderr)
    return steps


def soak(workdir: Path, calls: int, rate: float) -> list[tuple[int, int]]:
    """RSS of one agent every 250 calls over ``calls`` short calls."""
    callee, media = free_port(), free_port_block(4, start=45000)
    port = free_port()
    cfg = write_agent_config(
        workdir / "soak.toml",
        listen_port=port,
        next_hop=f"sip:127.0.0.1:{callee}",
        rtp_port=free_port_block(200, start=33000),
        max_cps=20,
        peer_trunks={"127.0.0.1": "trunk-a"},
        log_level=0,
    )
    agent = AgentProcess(cfg).start()
    points = []
    uas_args = ["-p", str(callee), "-mp", str(media)]
    uas = Sipp(workdir, "uas-soak", scenario("uas.xml", workdir), uas_args).start()
    try:
        done = 0
        while done < calls:
            args = ["-mp", str(free_port()), "-s", "0399990000", "-key", "caller", "0352535111"]
            args += ["-m", "250", "-r", f"{rate:g}", "-l", "2", "-d", "50", f"127.0.0.1:{port}"]
            Sipp(workdir, f"uac-soak-{done}", scenario("uac.xml", workdir), args).start().wait(120)
            done += 250
            st = options_status(port)
            points.append((int(st["completed"]), int(st["rss_kb"])))
            registry = f"{st['calls']}/{st['media']}"
            print(f"  soak: {st['completed']} calls, RSS {st['rss_kb']} KiB, registry {registry}")
    finally:
        uas.stop()
        agent.stop()
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in DEFAULT_RATES))
    parser.add_argument("--step-s", type=float, default=8.0, help="seconds per rate step")
    parser.add_argument("--hold-ms", type=int, default=1000, help="how long each answered call is held")
    parser.add_argument("--agents", type=int, default=1)
    parser.add_argument("--soak", type=int, default=0, help="also run a memory soak of this many calls")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the captures and SIPp logs")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    profile = tones.load_profile("example-call-start")
    workdir = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    caller_audio(workdir)
    print(
        f"bench_sip: {args.agents} agent(s), hold {args.hold_ms} ms, {args.step_s:g} s per step "
        "(2 shared cores: noisy)"
    )
    relayed = ramp(workdir, rates, args.step_s, args.hold_ms, args.agents, False, profile)
    base = ramp(workdir, rates, args.step_s, args.hold_ms, args.agents, True, profile)

    def best(steps: list[Step]) -> Step | None:
        good = [s for s in steps if s.ok]
        return max(good, key=lambda s: s.rate) if good else None

    b_agent, b_base = best(relayed), best(base)
    all_tones = [ms for s in relayed for ms in s.tone_ms]
    summary = {
        "agents": args.agents,
        "hold_ms": args.hold_ms,
        "max_zero_failure_cps": b_agent.rate if b_agent else 0.0,
        "concurrent_calls_held": max((s.max_concurrent for s in relayed if s.ok), default=0),
        "tone_start_ms_p50": pct(all_tones, 0.5),
        "tone_start_ms_p99": pct(all_tones, 0.99),
        "tone_start_ms_mean": statistics.fmean(all_tones) if all_tones else None,
        "tone_samples": len(all_tones),
        "baseline_max_zero_failure_cps": b_base.rate if b_base else 0.0,
        "baseline_concurrent_calls_held": max((s.max_concurrent for s in base if s.ok), default=0),
        "steps": [s.__dict__ | {"tone_ms": None} for s in relayed],
        "baseline_steps": [s.__dict__ | {"tone_ms": None} for s in base],
    }
    if summary["baseline_max_zero_failure_cps"]:
        ratio = summary["max_zero_failure_cps"] / summary["baseline_max_zero_failure_cps"]
        summary["ratio_vs_baseline"] = ratio
    if args.soak:
        summary["soak_rss"] = soak(workdir, args.soak, 15.0)
    print(
        f"RESULT agent(s)={args.agents}: {summary['max_zero_failure_cps']:g} cps with zero failures, "
        f"{summary['concurrent_calls_held']} calls held at once, tone start p50 "
        f"{summary['tone_start_ms_p50']} ms p99 {summary['tone_start_ms_p99']} ms "
        f"({summary['tone_samples']} calls); "
        f"baseline SIPp->SIPp {summary['baseline_max_zero_failure_cps']:g} cps "
        f"(ramp ceiling {max(rates) * args.agents:g}), ratio {summary.get('ratio_vs_baseline', 0):.2f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if args.keep:
        print(f"work files kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
