"""Kamailio screening throughput: no lookup vs a bare htable vs sipcheck's view vs ndb_redis.

Four Kamailio configs answer every INVITE statelessly (299), differing only in what they look up
first:
  none       nothing: the rig's ceiling (SIPp + Kamailio parsing and replying)
  htable     one ``$sht`` read of the caller in a plain htable: the cheapest lookup Kamailio has
  view       ``route(SCREEN)`` from screen.cfg over the real view (81k entries, two tables)
  ndb_redis  one ``HGET`` per call to a real Redis (what reading sipcheck's Redis directly costs)
SIPp sends INVITEs from many callers (real designated blocks, allowed or flagged) as fast as the
window of outstanding calls allows; throughput is completed calls over wall time. Each config
runs ``--rounds`` times interleaved; the median is reported with its ratio to ``htable`` (the
target: the view at ≥ 80 % of a bare htable) and to ``none``.

    .venv/bin/python bench/bench_kamailio_view.py [--calls 30000] [--rounds 3]
    .venv/bin/python bench/bench_kamailio_view.py --repeat 50 --calls 10000   # price the lookups

At one lookup per call SIPp, not Kamailio, sets the rate, and a call's lookup is a small part of its
cost: the rates differ by less than the noise. ``--repeat 50`` does each config's lookups 50 times
per call, so their price per lookup shows (Kamailio's CPU over the no-lookup config, / 50), and
prints the capacity a Kamailio doing one lookup per call would have, view against bare htable:
(call + htable lookup) / (call + view walk), all from the same run.

The machine has 2 cores shared by SIPp, Kamailio's workers and other work: quote ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import redis as redis_py

from sipcheck.cache import EmbeddedRedis
from sipcheck.kamailio import cfg
from sipcheck.kamailio.rpc import KamailioRpc, RpcError
from sipcheck.kamailio.sync import ViewSync
from sipcheck.sample import sample_parts
from sipcheck.screener import Screener
from sipcheck.settings import Settings
from sipcheck.sip.harness import free_port
from sipcheck.store import MemoryStore
from sipcheck.verdict import Action

WINDOW = 32
"""Outstanding INVITEs: enough to keep both workers busy, few enough that no socket buffer overflows."""
FIXED_NOW = "2026-08-01T12:00:00+09:00"
COMMON = """#!KAMAILIO
debug=1
log_stderror=yes
children=2
auto_aliases=no
disable_tcp=yes
listen=udp:127.0.0.1:@PORT@
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "siputils.so"
"""
LOOKUPS = {
    "none": ("", ""),
    "htable": (
        'loadmodule "htable.so"\nmodparam("htable", "htable", "bare=>size=18;")\n',
        "\t$var(v) = $sht(bare=>$fU);\n",
    ),
    "view": ('import_file "screen.cfg"\n', "\troute(SCREEN);\n"),
    "ndb_redis": (
        'loadmodule "ndb_redis.so"\nmodparam("ndb_redis", "server", "name=sc;addr=127.0.0.1;port=@REDIS@")\n',
        '\tredis_cmd("sc", "HGET sc:$fU v", "r");\n\t$var(v) = $redis(r=>value);\n',
    ),
}
VIEW_WALK = '\t$var(sc_gen) = $shv(sipcheck_gen);\n\t$var(sc_mode) = "v:";\n\troute(SC_WALK);\n'
"""The view's lookups alone (what route(SCREEN) does before it writes the verdict), for --repeat."""


def lookup_body(name: str, repeat: int) -> str:
    """The per-call lookup, repeated ``repeat`` times: at 1 it is what production does; at 50 the
    lookups dominate the call's cost, so their own price shows through the rig's noise."""
    body = LOOKUPS[name][1]
    if repeat == 1:
        return body
    if name == "view":
        body = VIEW_WALK
    if not body:
        return ""
    inner = "".join("\t" + line + "\n" for line in body.splitlines())
    return f"\t$var(i) = 0;\n\twhile ($var(i) < {repeat}) {{\n{inner}\t\t$var(i) = $var(i) + 1;\n\t}}\n"


ROUTE = """request_route {
	if (is_method("ACK")) {
		exit;
	}
@LOOKUP@	sl_send_reply("299", "Screened");
}
"""
SCENARIO = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="one INVITE, one stateless answer">
  <send>
    <![CDATA[
      INVITE sip:callee@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[local_ip]>;tag=[call_number]
      To: <sip:callee@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="299" timeout="3000"/>
</scenario>
"""


def callers(count: int) -> list[str]:
    """Distinct callers in real designated blocks that the view answers 299 (allow or flag)."""
    rng = random.Random(7)
    now = datetime.fromisoformat(FIXED_NOW)
    screener = Screener(MemoryStore(sample_parts()), clock=lambda: now)
    stems = ["035253", "046722", "090123", "0501000", "0362", "0663", "0524", "080"]
    picked: list[str] = []
    while len(picked) < count:
        stem = rng.choice(stems)
        length = 11 if stem.startswith(("090", "080", "050")) else 10
        number = stem + "".join(rng.choice("0123456789") for _ in range(length - len(stem)))
        if screener.check(number).action is not Action.BLOCK:
            picked.append(number)
    return picked


@contextlib.contextmanager
def kamailio(
    workdir: Path, name: str, port: int, settings: Settings, redis_port: int, repeat: int = 1
) -> Iterator[int]:
    head = LOOKUPS[name][0]
    lookup = lookup_body(name, repeat)
    text = COMMON.replace("@PORT@", str(port)) + head.replace("@REDIS@", str(redis_port))
    text += ROUTE.replace("@LOOKUP@", lookup)
    path = workdir / f"{name}.cfg"
    path.write_text(text, encoding="utf-8")
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    args = [binary, "-m", "256", "-DD", "-E", "-f", str(path), "-Y", str(workdir), "-w", str(workdir)]
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        if name == "view":
            rpc = KamailioRpc(settings.kamailio.rpc_address(), timeout_s=0.5)
            deadline = time.monotonic() + 60
            while True:
                try:
                    rpc.get_int("sipcheck_gen")
                    break
                except RpcError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            (workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                        ) from None
            rpc.timeout_s = 60
            tables = MemoryStore(sample_parts()).tables
            result = ViewSync(
                lambda: tables,
                rpc,
                settings.kamailio.directory(settings.data_dir),
                settings.compiled_policy(),
                settings.clock(),
                stale_after_s=300,
            ).step()
            rpc.close()
            if not result.vouched:
                raise RuntimeError(f"view not published: {result.problem}")
        else:
            time.sleep(1.0)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        log.close()


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by every process in Kamailio's process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_sipp(workdir: Path, port: int, calls: int) -> tuple[float, int]:
    """(calls per second, failed calls) for ``calls`` INVITEs, 200 outstanding at most."""
    scenario = workdir / "uac.xml"
    args = ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-inf", str(workdir / "callers.csv")]
    args += ["-i", "127.0.0.1", "-p", str(free_port()), "-m", str(calls), "-r", "100000", "-l", str(WINDOW)]
    args += ["-nostdin", "-timeout", "120s", "-trace_stat", "-stf", str(workdir / "stat.csv")]
    started = time.perf_counter()
    subprocess.run(args, cwd=workdir, capture_output=True, timeout=180)
    elapsed = time.perf_counter() - started
    failed = 0
    lines = (workdir / "stat.csv").read_text(errors="replace").splitlines()
    if len(lines) >= 2:
        header, last = lines[0].split(";"), lines[-1].split(";")
        with contextlib.suppress(ValueError, IndexError):
            failed = int(last[header.index("FailedCall(C)")])
    (workdir / "stat.csv").unlink(missing_ok=True)
    return (calls - failed) / elapsed, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="lookups per call (50: price the lookup)")
    parser.add_argument("--only", choices=list(LOOKUPS), action="append", help="run only these configs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    names = args.only or list(LOOKUPS)
    os.environ["SIPCHECK_FIXED_NOW"] = FIXED_NOW
    tmp = tempfile.mkdtemp(prefix="bench-kamailio-")
    try:
        return _run(Path(tmp), args, names)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(workdir: Path, args: argparse.Namespace, names: list[str]) -> int:
    if True:
        (workdir / "uac.xml").write_text(SCENARIO, encoding="utf-8")
        numbers = callers(5000)
        (workdir / "callers.csv").write_text("RANDOM\n" + "\n".join(numbers) + "\n", encoding="ascii")
        settings = Settings(
            data_dir=workdir,
            fixed_now=FIXED_NOW,  # type: ignore[arg-type]
            kamailio={"rpc": f"udp:127.0.0.1:{free_port()}", "view_dir": str(workdir / "view")},  # type: ignore[arg-type]
        )
        cfg.write(settings, workdir / "screen.cfg")
        rates: dict[str, list[float]] = {name: [] for name in names}
        cpu_us: dict[str, list[float]] = {name: [] for name in names}
        failures: dict[str, int] = dict.fromkeys(LOOKUPS, 0)
        with EmbeddedRedis(workdir / "redis", persist=False) as redis:
            client = redis_py.Redis.from_url(redis.url)
            with client.pipeline(transaction=False) as pipe:
                for number in numbers:
                    pipe.hset(f"sc:{number}", "v", "0||X-Sipcheck-Verdict: allow\r\n")
                pipe.execute()
            for round_no in range(args.rounds):
                for name in names:
                    port = free_port()
                    with kamailio(workdir, name, port, settings, redis.port, args.repeat) as pgid:
                        run_sipp(workdir, port, 500)  # warm-up: every worker up, caches filled
                        cpu_before = group_cpu_s(pgid)
                        rate, failed = run_sipp(workdir, port, args.calls)
                        cpu_us[name].append((group_cpu_s(pgid) - cpu_before) * 1e6 / args.calls)
                    rates[name].append(rate)
                    failures[name] += failed
                    print(
                        f"round {round_no + 1} {name:10s} {rate:9.0f} calls/s  "
                        f"Kamailio CPU {cpu_us[name][-1]:6.1f} µs/call  failed {failed}",
                        flush=True,
                    )
        medians = {name: statistics.median(values) for name, values in rates.items()}
        if not {"none", "htable", "view"} <= set(medians):
            print(medians, f"work directory {workdir}")
            return 0
        cpu = {name: statistics.median(values) for name, values in cpu_us.items()}
        if args.repeat > 1:
            print(f"\nlookup cost, µs per lookup ({args.repeat} per call, over the no-lookup config):")
            cost = {name: (cpu[name] - cpu["none"]) / args.repeat for name in medians if name != "none"}
            for name, value in cost.items():
                print(f"  {name:10s} {value:7.2f}")
            # One lookup per call, as production does: the call's own cost plus one lookup's, this run.
            model = (cpu["none"] + cost["htable"]) / (cpu["none"] + cost["view"])
            print(
                f"\nmodelled view / bare htable capacity at one lookup per call "
                f"(({cpu['none']:.1f} + {cost['htable']:.2f}) / ({cpu['none']:.1f} + {cost['view']:.2f}) µs) "
                f"= {model:.2f} (target ≥ 0.80): {'met' if model >= 0.8 else 'NOT met'}"
            )
        print("\nmedians: calls/s (ratio to htable) | Kamailio CPU µs per call (lookup cost over none)")
        for name, value in medians.items():
            print(
                f"  {name:10s} {value:9.0f} ({value / medians['htable']:4.2f}) | {cpu[name]:6.1f}"
                f" (+{cpu[name] - cpu['none']:5.1f})  failed calls {failures[name]}"
            )
        if args.repeat == 1:
            # The capacity a 2-worker Kamailio would have if the CPU it spends per call were all it had.
            ratio = cpu["htable"] / cpu["view"]
            print(
                f"\nview capacity / bare htable capacity (CPU per call, same run) = {ratio:.2f} "
                f"(target ≥ 0.80): {'met' if ratio >= 0.8 else 'NOT met'}; by client-bound rate: "
                f"{medians['view'] / medians['htable']:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
