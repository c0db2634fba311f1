"""Carrier tone path capacity: SIPp → Kamailio (carrier.cfg) + rtpengine → SIPp, ramped until calls fail.

Why: the carrier path (deploy/kamailio/carrier.cfg) plays the identification tone from rtpengine to
both parties of every answered call. This finds the highest call rate at which *every* call still
succeeds and *every* tone is complete on both legs, how late the tone starts after the answer, what
rtpengine spends per call, and which process runs out of CPU first; and it runs the pjsua2 agent's
ramp (bench/bench_sip.py) in the same invocation, so the two figures come from the same machine state.

Each rate step: one SIPp callee (tests/carrier/scenarios/uas_tone.xml) and one SIPp caller
(uac_tone.xml) placing ``rate × step_s`` calls at ``rate`` through one Kamailio in front of one
rtpengine, both parties streaming G.711 for the whole call (held ``--hold-ms`` after the ACK). The rig
is tests/carrier/carrier_run.py (the e2e tests' harness), without screen.cfg: the screening lookup
is priced by bench_kamailio_view.py and costs Kamailio ~26 µs a call, noise here. A step is *clean*
when SIPp counts zero failed calls on both sides, every call was answered, and the tone each party
received verifies as ``pass`` with the profile (the function ``sipcheck tone verify`` uses:
`audiofile.audio_from_capture` + `tones.validate_recording`, one stream at a time, in two worker
processes after the step). The ramp goes on past a step whose tones were incomplete but stops at
the first step with a failed call, or after two steps in a row that were not clean.

Measured per step:
- tone start per leg: the tone's first packet reaching the party minus the callee's 200 OK reaching
  Kamailio (both from one loopback capture), p50 / p99;
- rtpengine CPU per call: utime + stime of the process (all its threads, /proc/PID/stat) over the
  step, over the calls; with the busiest rtpengine thread, Kamailio (all workers, and the busiest),
  SIPp (both, from the children's rusage), dumpcap, and the machine's busy and steal share, to see
  what saturates (200 % = both cores).

The capture keeps SIP on Kamailio's port and, of what rtpengine sends, only RTP that is not a party's
forwarded audio (a kernel filter on SIPp's SSRCs, 0xca11xxxx with small sequence numbers and
timestamps): about 50 tone packets a call, not 200 packets a second a call. Whole packets are kept
(no snaplen): a tone packet is 214 bytes on loopback anyway and SIP must be whole to read its SDP.

    .venv/bin/python bench/bench_carrier_tone.py                           # as deployed, + agents
    .venv/bin/python bench/bench_carrier_tone.py --tone-rate 48000 --delete-delay 0   # the old defaults
    .venv/bin/python bench/bench_carrier_tone.py --rates 100,150 --step-s 5 --agents 0

By default rtpengine and the tone file are as deploy/ ships them (the tone rate of the Kamailio unit,
16 kHz; rtpengine.conf's delete-delay, 3 s): two knobs outside the thread counts decide the rate, so
they are options. rtpengine spends most of a
call's CPU in ``play media`` (opening the file, resampling it: ~18 ms a call at 48 kHz, ~7 ms at
16 kHz, ~3 ms at 8 kHz, which is paced too fast), and with delete-delay 0 it hands a released port
to the next call at once, where RTP the previous party still sends (SIPp's callee streams through
its 500 ms timewait after the BYE) makes rtpengine learn that party as the new peer and send the
new call's tone to it: incomplete tones from ~75 calls/s that ``--delete-delay 3`` removes.

The machine has 2 cores shared with other work and its speed drifts: compare ratios from one run,
and read the speed probe (a fixed Python loop, ms) printed with every step.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import itertools
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "carrier"))
sys.path.insert(0, str(ROOT / "bench"))

import bench_sip  # noqa: E402
import carrier_run as cr  # noqa: E402

from sipcheck import tones  # noqa: E402
from sipcheck.sip.harness import caller_audio  # noqa: E402
from sipcheck.tones import audiofile, pcap, rtp  # noqa: E402

DEFAULT_RATES = (25, 50, 75, 100, 125, 150, 200, 250, 300)
DEFAULT_AGENT_RATES = (0.5, 1.0, 1.25, 1.5)
"""Per agent process: one holds 2 calls, so ~2 / (hold + setup) calls/s each (docs/sip-agent.md)."""
CALLER = "0352535111"
SIPP_SSRC = 0xCA11
"""SIPp's rtp_stream numbers its SSRCs 0xca110000 + n per process, from sequence number 0, timestamp small."""
HZ = os.sysconf("SC_CLK_TCK")


# --- CPU accounting ---------------------------------------------------------------------------------


def _stat_cpu_s(path: str) -> tuple[str, float] | None:
    """(comm, utime + stime in s) of /proc/PID/stat or /proc/PID/task/TID/stat; None when it is gone."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, (int(fields[11]) + int(fields[12])) / HZ


def _pids_under(workdir: Path) -> dict[int, str]:
    """Processes whose command line names the work directory (Kamailio's workers, dumpcap): pid → comm."""
    needle = str(workdir).encode()
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in Path(entry.path, "cmdline").read_bytes():
                stat = _stat_cpu_s(f"{entry.path}/stat")
                if stat:
                    found[int(entry.name)] = stat[0]
    return found


@dataclass
class CpuSnapshot:
    wall: float
    procs: dict[int, tuple[str, float]]
    """pid → (comm, CPU s) of the rig's long-lived processes (rtpengine, Kamailio, dumpcap)."""
    threads: dict[int, tuple[str, float]]
    """rtpengine's threads: tid → (name, CPU s)."""
    children_s: float
    """CPU of this process's reaped children (the SIPp instances once they exit)."""
    machine: list[int]
    """/proc/stat jiffies: user nice system idle iowait irq softirq steal."""


def cpu_snapshot(workdir: Path, rtpengine_pid: int) -> CpuSnapshot:
    procs = {}
    for pid, _comm in [(rtpengine_pid, "rtpengine"), *_pids_under(workdir).items()]:
        stat = _stat_cpu_s(f"/proc/{pid}/stat")
        if stat:
            procs[pid] = stat
    threads = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{rtpengine_pid}/task"):
            stat = _stat_cpu_s(f"{entry.path}/stat")
            if stat:
                threads[int(entry.name)] = stat
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open("/proc/stat") as fh:
        machine = [int(v) for v in fh.readline().split()[1:9]]
    return CpuSnapshot(time.monotonic(), procs, threads, usage.ru_utime + usage.ru_stime, machine)


@dataclass
class CpuUse:
    wall_s: float
    rtpengine_s: float
    percent: dict[str, float]
    """Share of one core over the step, by process kind; ``*_max1``: the busiest single process/thread."""
    busiest_rtpengine_thread: str


def cpu_between(a: CpuSnapshot, b: CpuSnapshot, reaped: bool = True) -> CpuUse:
    """CPU used from ``a`` to ``b``. SIPp: the children reaped in between (``reaped``, exact over a
    whole step), else the SIPp processes alive at both (an interval of the sampler)."""
    wall = max(b.wall - a.wall, 1e-6)
    by_kind: dict[str, float] = defaultdict(float)
    busiest: dict[str, float] = defaultdict(float)
    for pid, (comm, end) in b.procs.items():
        used = end - a.procs.get(pid, (comm, 0.0))[1]
        by_kind[comm] += used
        busiest[comm] = max(busiest[comm], used)
    tname, tmax = "", 0.0
    for tid, (name, end) in b.threads.items():
        used = end - a.threads.get(tid, (name, 0.0))[1]
        if used > tmax:
            tname, tmax = name, used
    delta = [y - x for x, y in zip(a.machine, b.machine, strict=True)]
    total = max(sum(delta), 1)
    cores = os.cpu_count() or 1
    percent = {
        "rtpengine": 100 * by_kind["rtpengine"] / wall,
        "rtpengine_thread_max1": 100 * tmax / wall,
        "kamailio": 100 * by_kind["kamailio"] / wall,
        "kamailio_max1": 100 * busiest["kamailio"] / wall,
        "sipp": 100 * ((b.children_s - a.children_s) if reaped else by_kind["sipp"]) / wall,
        "dumpcap": 100 * by_kind["dumpcap"] / wall,
        # The machine: all cores (200 % = both busy); idle = idle + iowait.
        "machine_busy": 100 * cores * (total - delta[3] - delta[4]) / total,
        "machine_steal": 100 * cores * delta[7] / total,
    }
    ours = sum(percent[k] for k in ("rtpengine", "kamailio", "sipp", "dumpcap"))
    # Everything else on the machine: other tenants' jobs (and this process, idle during a step).
    percent["other"] = max(0.0, percent["machine_busy"] - ours)
    return CpuUse(wall, by_kind["rtpengine"], percent, tname)


class CpuSampler:
    """Snapshots every ``period_s`` in a thread: the busiest second of each figure (a step's average
    hides a saturated second, and a failing step's window stretches over SIPp's timeouts)."""

    def __init__(self, workdir: Path, rtpengine_pid: int, period_s: float = 1.0) -> None:
        self.workdir, self.pid, self.period_s = workdir, rtpengine_pid, period_s
        self.samples: list[CpuSnapshot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(cpu_snapshot(self.workdir, self.pid))
            if self._stop.wait(self.period_s):
                return

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for a, b in itertools.pairwise(self.samples):
            for key, value in cpu_between(a, b, reaped=False).percent.items():
                out[key] = max(out[key], value)
        return dict(out)


def speed_probe_ms() -> float:
    """A fixed pure-Python loop, best of 3 (ms): how fast the shared machine is right now."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


# --- judging the tones (worker processes) -----------------------------------------------------------

_PROFILE: Any = None


def _profile() -> Any:
    global _PROFILE
    if _PROFILE is None:
        _PROFILE = tones.load_profile(cr.PROFILE)
    return _PROFILE


_RANK = {"pass": 3, "inconclusive": 2, "fail": 1}


@dataclass(frozen=True)
class LegJob:
    call_id: str
    leg: str
    answer: pcap.UdpDatagram
    """The callee's 200 OK reaching Kamailio: the call start ``verify`` measures from."""
    packets: tuple[pcap.UdpDatagram, ...]
    """Everything rtpengine's port for this party sent to it during the call (the filter kept)."""


@dataclass(frozen=True)
class LegResult:
    call_id: str
    leg: str
    outcome: str  # pass | fail | inconclusive | missing
    first_packet_ms: float | None
    verify_start_ms: float | None
    tone_packets: int
    detail: str = ""


def judge_leg(job: LegJob) -> LegResult:
    """The leg's tone as `sipcheck tone verify --port` judges it: every stream to the party, the best wins."""
    by_ssrc: dict[int, list[pcap.UdpDatagram]] = defaultdict(list)
    for d in job.packets:
        with contextlib.suppress(ValueError):
            by_ssrc[rtp.parse_rtp(d.payload).ssrc].append(d)
    best: LegResult | None = None
    for ssrc, packets in sorted(by_ssrc.items(), key=lambda kv: -len(kv[1])):
        if len(packets) < audiofile.MIN_RTP_PACKETS:
            continue
        try:
            audio = audiofile.audio_from_capture([job.answer, *packets], job.call_id, ssrc=ssrc)
            result = tones.validate_recording(audio, _profile())
        except (ValueError, tones.AudioFormatError) as exc:
            candidate = LegResult(job.call_id, job.leg, "fail", None, None, len(packets), str(exc)[:200])
        else:
            codes = ",".join([*result.failure_codes, *result.inconclusive_codes])
            candidate = LegResult(
                job.call_id,
                job.leg,
                result.outcome,
                (packets[0].time - job.answer.time) * 1000.0,
                result.start_offset_ms,
                len(packets),
                codes,
            )
        if best is None or _RANK[candidate.outcome] > _RANK[best.outcome]:
            best = candidate
    return best or LegResult(job.call_id, job.leg, "missing", None, None, 0, "no tone stream captured")


def judge_legs(jobs: list[LegJob]) -> list[LegResult]:
    return [judge_leg(job) for job in jobs]


# --- one rate step ----------------------------------------------------------------------------------


@dataclass
class SippCounts:
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    exit_code: int | None = None


def sipp_counts(stat_file: Path, code: int | None) -> SippCounts:
    """The last row of SIPp's -trace_stat CSV (written when it exits)."""
    if not stat_file.exists():
        return SippCounts(exit_code=code)
    with open(stat_file, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    last = rows[-1] if rows else {}
    return SippCounts(
        int(last.get("SuccessfulCall(C)", 0) or 0),
        int(last.get("FailedCall(C)", 0) or 0),
        int(last.get("Retransmissions(C)", 0) or 0),
        code,
    )


@dataclass
class Step:
    rate: float
    calls: int
    sent_rate: float = 0.0
    uac: SippCounts = field(default_factory=SippCounts)
    uas: SippCounts = field(default_factory=SippCounts)
    answered: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    """leg → outcome → calls."""
    tone_ms: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """leg → p50 / p99 / max of the first tone packet after the callee's 200 OK."""
    verify_start_p50_ms: dict[str, float | None] = field(default_factory=dict)
    complete_calls: int = 0
    rtpengine_ms_per_call: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    """% of one core, averaged over the step (first call to last hang-up)."""
    cpu_peak: dict[str, float] = field(default_factory=dict)
    """% of one core in the step's busiest second, per figure."""
    busiest_rtpengine_thread: str = ""
    capture_dropped: int | None = None
    capture_packets: int = 0
    speed_probe_ms: float = 0.0
    analysis_s: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def zero_failed(self) -> bool:
        return (
            self.uac.failed == 0
            and self.uas.failed == 0
            and self.uac.successful == self.calls
            and self.uas.successful == self.calls
        )

    @property
    def clean(self) -> bool:
        return self.zero_failed and self.complete_calls == self.calls


def pct(values: list[float], q: float) -> float | None:
    return bench_sip.pct(values, q)


@dataclass
class Rig:
    workdir: Path
    pool: cr.PortPool
    sip_port: int
    rtpengine: cr.RtpEngine
    callee_sip: int
    callee_media: int
    caller_sip: int
    caller_media: int


def capture_filter(rig: Rig) -> str:
    """SIP at Kamailio, and RTP from rtpengine's ports that is not a SIPp party's forwarded audio."""
    lo, hi = rig.rtpengine.port_min, rig.rtpengine.port_max
    forwarded = f"(udp[16:2] = {SIPP_SSRC:#x} and udp[10] < 64 and udp[12] = 0)"
    rtp_v2 = "(udp[8] & 0xc0) = 0x80 and (udp[9] & 0x7f) <= 8"  # RTP, PCMU..PCMA: no RTCP
    return f"port {rig.sip_port} or (src portrange {lo}-{hi} and {rtp_v2} and not {forwarded})"


def dumpcap_dropped(log: Path) -> int | None:
    m = re.search(r"received/dropped on interface [^:]*: (\d+)/(\d+)", cr.tail(log, 2000))
    return int(m.group(2)) if m else None


def run_step(rig: Rig, rate: float, step_s: float, hold_ms: int, workers: int, keep: bool) -> Step:
    wd = rig.workdir
    calls = max(4, round(rate * step_s))
    step = Step(rate, calls, speed_probe_ms=speed_probe_ms())
    tag = f"r{rate:g}"
    callee = cr.Sipp(f"callee-{tag}", rig.callee_sip, rig.callee_media, wd / f"callee-{tag}.log")
    caller = cr.Sipp(f"caller-{tag}", rig.caller_sip, rig.caller_media, wd / f"caller-{tag}.log")
    budget_s = step_s * 2 + hold_ms / 1000 + 30
    # SIPp throttles at -l calls open: well above what the rate needs, so it never shapes the offer.
    limit = max(50, math.ceil(rate * (hold_ms / 1000 + 2) * 3))
    # A message that does not come within this fails its call (rather than stalling the step).
    recv_timeout = ["-recv_timeout", str(hold_ms + 8000)]
    uas_extra = [*recv_timeout, "-trace_stat", "-fd", "1", "-stf", str(wd / f"{callee.name}.csv")]
    uac_extra = ["-r", f"{rate:g}", "-l", str(limit), *recv_timeout, "-trace_stat", "-fd", "1"]
    uac_extra += ["-stf", str(wd / f"{caller.name}.csv")]
    wait_idle(rig)
    sampler = CpuSampler(wd, rig.rtpengine.pid or 0)
    with cr.capture(wd, f"step-{tag}", rig.pool, bpf=capture_filter(rig)) as path:
        with cr.sipp_uas("uas_tone.xml", callee, wd, *uas_extra, calls=calls, timeout_s=budget_s + 10) as uas:
            before = cpu_snapshot(wd, rig.rtpengine.pid or 0)
            with (
                sampler,
                cr.sipp_uac(
                    "uac_tone.xml",
                    caller,
                    wd,
                    rig.sip_port,
                    CALLER,
                    duration_ms=hold_ms,
                    extra=uac_extra,
                    calls=calls,
                    timeout_s=budget_s,
                ) as uac,
            ):
                uac_code = wait_code(uac, budget_s + 5)
            uas_code = wait_code(uas, hold_ms / 1000 + 15)
        after = cpu_snapshot(wd, rig.rtpengine.pid or 0)
    step.uac = sipp_counts(wd / f"{caller.name}.csv", uac_code)
    step.uas = sipp_counts(wd / f"{callee.name}.csv", uas_code)
    use = cpu_between(before, after)
    step.cpu = {k: round(v, 1) for k, v in use.percent.items()}
    step.cpu_peak = {k: round(v, 1) for k, v in sampler.peaks().items()}
    step.busiest_rtpengine_thread = use.busiest_rtpengine_thread
    step.rtpengine_ms_per_call = use.rtpengine_s * 1000 / calls
    step.capture_dropped = dumpcap_dropped(wd / f"step-{tag}-dumpcap.log")
    started = time.monotonic()
    analyse(rig, step, path, workers)
    step.analysis_s = time.monotonic() - started
    if not keep:
        path.unlink(missing_ok=True)
    return step


def wait_code(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        cr.stop(proc)
        return None


def wait_idle(rig: Rig, timeout_s: float = 30.0) -> None:
    """Until rtpengine holds no call (the previous step's are all deleted)."""
    deadline = time.monotonic() + timeout_s
    while rig.rtpengine.ng.calls():
        if time.monotonic() > deadline:
            print("  warning: rtpengine still holds calls from the previous step", flush=True)
            return
        time.sleep(0.2)


def analyse(rig: Rig, step: Step, path: Path, workers: int) -> None:
    """Per call from the capture: its 200 OK, the rtpengine port facing each party, and the tone legs."""
    datagrams = pcap.read_capture(path)
    step.capture_packets = len(datagrams)
    answer: dict[str, pcap.UdpDatagram] = {}
    port: dict[str, dict[str, int]] = defaultdict(dict)
    invites: dict[str, float] = {}
    ends: dict[str, float] = {}
    by_sport: dict[int, list[pcap.UdpDatagram]] = defaultdict(list)
    for d in datagrams:
        if rig.sip_port not in (d.sport, d.dport):
            if rig.rtpengine.port_min <= d.sport <= rig.rtpengine.port_max:
                by_sport[d.sport].append(d)
            continue
        msg = cr.parse_sip(d)
        call_id = msg.header("Call-ID")
        if msg.start.startswith("INVITE ") and d.sport == rig.caller_sip:
            invites.setdefault(call_id, d.time)
        elif msg.start.startswith("INVITE ") and d.dport == rig.callee_sip:
            media = msg.media_port()
            if media:
                port[call_id].setdefault("callee", media)
        elif msg.start.startswith("BYE ") and d.sport == rig.caller_sip:
            ends.setdefault(call_id, d.time)
        elif msg.status == 200 and msg.method == "INVITE":
            if d.sport == rig.callee_sip:
                answer.setdefault(call_id, d)
            elif d.dport == rig.caller_sip and msg.media_port():
                port[call_id].setdefault("caller", msg.media_port() or 0)
    if len(invites) > 1:
        times = sorted(invites.values())
        step.sent_rate = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    step.answered = len(answer)
    party_media = {"caller": rig.caller_media, "callee": rig.callee_media}
    jobs = []
    for call_id, ok in answer.items():
        end = ends.get(call_id, ok.time + 30.0) + 0.5
        for leg in ("caller", "callee"):
            sport = port[call_id].get(leg)
            packets = tuple(
                d
                for d in by_sport.get(sport or -1, [])
                if d.dport == party_media[leg] and ok.time - 0.1 <= d.time <= end
            )
            jobs.append(LegJob(call_id, leg, ok, packets))
    results = run_jobs(jobs, workers)
    outcomes: dict[str, dict[str, int]] = {"caller": defaultdict(int), "callee": defaultdict(int)}
    first: dict[str, list[float]] = {"caller": [], "callee": []}
    verify: dict[str, list[float]] = {"caller": [], "callee": []}
    passed: dict[str, int] = defaultdict(int)
    for r in results:
        outcomes[r.leg][r.outcome] += 1
        if r.outcome == "pass":
            passed[r.call_id] += 1
            if r.first_packet_ms is not None:
                first[r.leg].append(r.first_packet_ms)
            if r.verify_start_ms is not None:
                verify[r.leg].append(r.verify_start_ms)
        elif len(step.examples) < 3:
            step.examples.append(f"{r.leg} {r.outcome} {r.tone_packets} pkts {r.detail} ({r.call_id})")
    step.outcomes = {leg: dict(v) for leg, v in outcomes.items()}
    step.complete_calls = sum(1 for n in passed.values() if n == 2)
    step.tone_ms = {
        leg: {"p50": pct(v, 0.5), "p99": pct(v, 0.99), "max": max(v, default=None)}
        for leg, v in first.items()
    }
    step.verify_start_p50_ms = {leg: pct(v, 0.5) for leg, v in verify.items()}


def run_jobs(jobs: list[LegJob], workers: int) -> list[LegResult]:
    if workers <= 1 or len(jobs) < 200:
        return judge_legs(jobs)
    chunks = [jobs[i : i + 100] for i in range(0, len(jobs), 100)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [r for part in pool.map(judge_legs, chunks) for r in part]


# --- the ramp ---------------------------------------------------------------------------------------


@dataclass
class Tuning:
    kamailio_children: int
    rtpengine_threads: int
    rtpengine_media_threads: int
    rtpengine_ports: int
    rtpengine_port_range: str = ""
    rtpengine_log_level: int = 5
    tone_rate: int = 16000
    delete_delay_s: int = 3

    def rtpengine_args(self) -> list[str]:
        return [
            f"--num-threads={self.rtpengine_threads}",
            f"--media-num-threads={self.rtpengine_media_threads}",
            f"--log-level={self.rtpengine_log_level}",
            f"--delete-delay={self.delete_delay_s}",
        ]


@contextlib.contextmanager
def carrier_rig(workdir: Path, tuning: Tuning) -> Iterator[Rig]:
    """rtpengine + Kamailio (carrier.cfg, no screen.cfg) with ports for two SIPp parties."""
    pool = cr.PortPool(tuning.rtpengine_ports + 200)
    tone = workdir / "tone.wav"
    # Not 8 kHz: rtpengine's player paces an 8 kHz file ahead of real time (see carrier.cfg).
    rate = str(tuning.tone_rate)
    cr.sipcheck_cli(
        "tone", "render", "--profile", cr.PROFILE, "--format", "wav", "--rate", rate, "-o", str(tone)
    )
    with contextlib.ExitStack() as stack:
        rtpengine = stack.enter_context(
            cr.running_rtpengine(workdir, pool, tuning.rtpengine_ports, tuning.rtpengine_args())
        )
        tuning.rtpengine_port_range = f"{rtpengine.port_min}-{rtpengine.port_max}"
        sip_port = pool.take()
        callee_sip, callee_media = pool.take(), pool.take(4)
        caller_sip, caller_media = pool.take(), pool.take(4)
        stack.enter_context(
            cr.running_kamailio(
                workdir,
                sip_port,
                callee_sip,
                int(rtpengine.ng.address[1]),
                tone,
                None,
                children=tuning.kamailio_children,
            )
        )
        yield Rig(workdir, pool, sip_port, rtpengine, callee_sip, callee_media, caller_sip, caller_media)


def carrier_ramp(workdir: Path, rates: list[float], args: argparse.Namespace, tuning: Tuning) -> list[Step]:
    # SIPp streams these for the whole call: plain tones, nothing like the identification tone.
    caller_audio(workdir, 660.0, 10.0).rename(workdir / "callee.ulaw")
    caller_audio(workdir, 440.0, 10.0)
    steps: list[Step] = []
    with carrier_rig(workdir, tuning) as rig:
        print(f"  carrier rig: {describe(tuning)}", flush=True)
        for rate in rates:
            step = run_step(rig, rate, args.step_s, args.hold_ms, args.workers, args.keep)
            steps.append(step)
            print("  " + step_line(step), flush=True)
            for example in step.examples:
                print(f"      e.g. {example}", flush=True)
            if not step.zero_failed:
                break
    return steps


def describe(t: Tuning) -> str:
    return (
        f"Kamailio children={t.kamailio_children}; rtpengine num-threads={t.rtpengine_threads} "
        f"media-num-threads={t.rtpengine_media_threads} ports {t.rtpengine_port_range} "
        f"({t.rtpengine_ports} = {t.rtpengine_ports // 4} calls at once), delete-delay={t.delete_delay_s}, "
        f"log-level={t.rtpengine_log_level}, userspace forwarding (table=-1); tone WAV {t.tone_rate} Hz"
    )


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def _tones(s: Step) -> str:
    return "/".join(str(s.outcomes.get(leg, {}).get("pass", 0)) for leg in ("caller", "callee"))


def _start(s: Step, leg: str) -> str:
    figures = s.tone_ms.get(leg, {})
    return f"{fmt(figures.get('p50'))}/{fmt(figures.get('p99'))}"


def _verdict(s: Step) -> str:
    return "clean" if s.clean else ("tones incomplete" if s.zero_failed else "FAILED CALLS")


def step_line(s: Step) -> str:
    c, k = s.cpu, s.cpu_peak
    return (
        f"{s.rate:g} cps (sent {s.sent_rate:.1f}/s): {s.uac.successful}/{s.calls} ok, "
        f"failed {s.uac.failed} caller + {s.uas.failed} callee; tones complete caller/callee {_tones(s)}; "
        f"start p50/p99 ms caller {_start(s, 'caller')} callee {_start(s, 'callee')}; "
        f"rtpengine {s.rtpengine_ms_per_call:.2f} ms CPU/call; CPU % avg (busiest s): "
        f"rtpengine {c['rtpengine']:.0f} ({k.get('rtpengine', 0):.0f}), its thread "
        f"{s.busiest_rtpengine_thread!r} {c['rtpengine_thread_max1']:.0f} "
        f"({k.get('rtpengine_thread_max1', 0):.0f}), "
        f"kamailio {c['kamailio']:.0f} ({k.get('kamailio', 0):.0f}), sipp {c['sipp']:.0f} "
        f"({k.get('sipp', 0):.0f}), dumpcap {c['dumpcap']:.0f}, other {c['other']:.0f}, machine "
        f"{c['machine_busy']:.0f} ({k.get('machine_busy', 0):.0f}) of 200, steal {c['machine_steal']:.0f}; "
        f"probe {s.speed_probe_ms:.0f} ms; analysis {s.analysis_s:.0f} s; {_verdict(s)}"
        + (f"; CAPTURE DROPPED {s.capture_dropped}" if s.capture_dropped else "")
    )


def print_table(steps: list[Step]) -> None:
    print("\ncarrier tone path (SIPp -> Kamailio + rtpengine -> SIPp), one row per step:")
    print(
        f"{'cps':>5} {'sent/s':>6} {'calls':>5} {'failed':>6} {'tones ok':>9} {'caller ms':>9} "
        f"{'callee ms':>9} {'rtpe ms':>7} {'rtpe %':>8} {'thread %':>8} {'kam %':>5} {'sipp %':>6} "
        f"{'other %':>7} {'busy %':>8} {'probe':>5}  verdict"
    )
    for s in steps:
        c, k = s.cpu, s.cpu_peak
        rtpe = f"{c['rtpengine']:.0f}/{k.get('rtpengine', 0):.0f}"
        thread = f"{c['rtpengine_thread_max1']:.0f}/{k.get('rtpengine_thread_max1', 0):.0f}"
        busy = f"{c['machine_busy']:.0f}/{k.get('machine_busy', 0):.0f}"
        print(
            f"{s.rate:5g} {s.sent_rate:6.1f} {s.calls:5d} {s.uac.failed + s.uas.failed:6d} {_tones(s):>9} "
            f"{_start(s, 'caller'):>9} {_start(s, 'callee'):>9} {s.rtpengine_ms_per_call:7.2f} {rtpe:>8} "
            f"{thread:>8} {c['kamailio']:5.0f} {c['sipp']:6.0f} {c['other']:7.0f} {busy:>8} "
            f"{s.speed_probe_ms:5.0f}  {_verdict(s)}"
            + (f", capture dropped {s.capture_dropped}" if s.capture_dropped else "")
        )
    print(
        "  failed: SIPp's failed calls (caller + callee side); tones ok: calls whose tone verified 'pass',\n"
        "  caller leg / callee leg; caller/callee ms: the tone's first packet at the party after the\n"
        "  callee's 200 OK at Kamailio, p50/p99; rtpe ms: rtpengine CPU per call; % of one core, step\n"
        "  average/busiest second (thread: rtpengine's busiest thread; busy: the machine, of 200);\n"
        "  other: the machine's busy share not used by the rig (other jobs); probe: ms of a fixed loop"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in DEFAULT_RATES), help="calls/s steps")
    parser.add_argument("--step-s", type=float, default=10.0, help="seconds of calls per rate step")
    parser.add_argument("--hold-ms", type=int, default=1500, help="each call held this long after its ACK")
    parser.add_argument("--children", type=int, default=8, help="Kamailio SIP workers (carrier.cfg: 8)")
    parser.add_argument("--rtpengine-threads", type=int, default=2, help="rtpengine --num-threads")
    parser.add_argument("--media-threads", type=int, default=2, help="rtpengine --media-num-threads")
    parser.add_argument("--rtpengine-log-level", type=int, default=5, help="5 as shipped; 6 logs every call")
    parser.add_argument(
        "--tone-rate",
        type=int,
        default=cr.shipped_tone_rate(),
        help=f"the tone WAV's rate (as deployed: {cr.shipped_tone_rate()})",
    )
    parser.add_argument(
        "--delete-delay",
        type=int,
        default=cr.DELETE_DELAY_S,
        help=f"rtpengine --delete-delay s (as shipped: {cr.DELETE_DELAY_S}; 0 reuses ports at once)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes judging the tones after a step")
    parser.add_argument("--agents", type=int, default=8, help="pjsua2 agent processes (0: skip the agent)")
    parser.add_argument("--agent-rates", default=",".join(f"{r:g}" for r in DEFAULT_AGENT_RATES))
    parser.add_argument("--agent-step-s", type=float, default=8.0)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    profile = tones.load_profile(cr.PROFILE)
    tone_ms = profile.total_ms() if isinstance(profile, tones.ParametricProfile) else 500.0
    if args.hold_ms < tone_ms + 200:
        parser.error(f"--hold-ms must leave the {tone_ms:.0f} ms tone time to play")
    missing = [name for name, found in cr.binaries().items() if found is None]
    if missing:
        print(f"not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    # rtpengine takes 4 ports a call (RTP + RTCP per leg) for the call (~hold + 1 s under load, 1 s
    # spare) and the delete delay after it: the range holds rate x that x 4 at the top rate.
    ports = math.ceil(max(rates) * (args.hold_ms / 1000 + 2 + args.delete_delay) * 4 / 100) * 100
    tuning = Tuning(args.children, args.rtpengine_threads, args.media_threads, ports)
    tuning.rtpengine_log_level = args.rtpengine_log_level
    tuning.tone_rate = args.tone_rate
    tuning.delete_delay_s = args.delete_delay
    workdir = Path(tempfile.mkdtemp(prefix="bench-carrier-"))
    print(
        f"bench_carrier_tone: hold {args.hold_ms} ms, {args.step_s:g} s per step, profile {cr.PROFILE} "
        f"({tone_ms:.0f} ms); {os.cpu_count()} cores, shared: noisy, quote one run's ratios"
    )
    try:
        (workdir / "carrier").mkdir()
        carrier = carrier_ramp(workdir / "carrier", rates, args, tuning)
        agent: list[bench_sip.Step] = []
        agent_probe = [speed_probe_ms()]
        if args.agents:
            agent_rates = [float(r) for r in args.agent_rates.split(",")]
            (workdir / "agent").mkdir()
            caller_audio(workdir / "agent")
            print(f"  pjsua2 agent ramp: {args.agents} agent process(es), {args.agent_step_s:g} s per step")
            agent = bench_sip.ramp(
                workdir / "agent", agent_rates, args.agent_step_s, args.hold_ms, args.agents, False, profile
            )
            agent_probe.append(speed_probe_ms())
        report(carrier, agent, args, tuning, agent_probe)
    finally:
        if args.keep:
            print(f"work files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(
    carrier: list[Step],
    agent: list[bench_sip.Step],
    args: argparse.Namespace,
    tuning: Tuning,
    agent_probe: list[float],
) -> None:
    print_table(carrier)
    clean = max((s.rate for s in carrier if s.clean), default=0.0)
    zero_failed = max((s.rate for s in carrier if s.zero_failed), default=0.0)
    best = next((s for s in carrier if s.clean and s.rate == clean), None)
    print(f"\ntuning: {describe(tuning)}; hold {args.hold_ms} ms, {args.step_s:g} s per step")
    print(
        f"RESULT carrier tone path: {clean:g} cps clean (zero failed calls, every tone complete on both "
        f"legs); {zero_failed:g} cps with zero failed calls"
    )
    if best is not None:
        lat = ", ".join(
            f"{leg} p50 {fmt(best.tone_ms[leg]['p50'])} / p99 {fmt(best.tone_ms[leg]['p99'])} ms"
            for leg in ("caller", "callee")
        )
        print(
            f"  at {clean:g} cps: tone start after the callee's 200 OK {lat}; rtpengine "
            f"{best.rtpengine_ms_per_call:.2f} ms CPU per call ({best.cpu['rtpengine']:.0f} % of a core on "
            f"average, {best.cpu_peak.get('rtpengine', 0):.0f} % in the busiest second)"
        )
    per_call = [s.rtpengine_ms_per_call for s in carrier if s.zero_failed]
    if per_call:
        median = statistics.median(per_call)
        print(f"  rtpengine CPU per call, median of the zero-failure steps: {median:.2f} ms")
    agent_best = max((s.rate for s in agent if s.ok), default=0.0)
    if args.agents:
        good = next((s for s in agent if s.ok and s.rate == agent_best), None)
        lat = ""
        if good:
            lat = f" (tone p50 {fmt(pct(good.tone_ms, 0.5))} / p99 {fmt(pct(good.tone_ms, 0.99))} ms)"
        print(
            f"RESULT pjsua2 agent ({args.agents} processes, same hold, same run): {agent_best:g} cps "
            f"with zero failed calls and every relayed tone valid{lat}"
        )
        probes = [s.speed_probe_ms for s in carrier]
        ratio = f"{clean / agent_best:.1f}x" if agent_best else "n/a (the agent had no clean step)"
        print(
            f"RATIO carrier clean / agent: {clean:g} / {agent_best:g} = {ratio} (speed probe: carrier "
            f"steps {min(probes):.0f}-{max(probes):.0f} ms, agent ramp {agent_probe[0]:.0f} -> "
            f"{agent_probe[-1]:.0f} ms)"
        )
    if args.json:
        summary = {
            "hold_ms": args.hold_ms,
            "step_s": args.step_s,
            "tuning": asdict(tuning),
            "carrier_clean_cps": clean,
            "carrier_zero_failed_cps": zero_failed,
            "agent_processes": args.agents,
            "agent_zero_failure_cps": agent_best,
            "carrier_steps": [asdict(s) | {"clean": s.clean, "zero_failed": s.zero_failed} for s in carrier],
            "agent_steps": [s.__dict__ | {"tone_ms": None} for s in agent],
        }
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
