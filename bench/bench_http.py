"""HTTP benchmark: ``GET /v1/check/{number}`` under wrk, beside a trivial aiohttp app, in the same run.

Usage: ``.venv/bin/python bench/bench_http.py [--workers 2] [--duration 10] [--connections 64]``

Servers (each with the same number of worker processes, ``reuse_port``, no access log):
- ``trivial``: an aiohttp handler returning a constant JSON (the baseline),
- ``memory``: the sipcheck app over a MemoryStore with the sample data,
- ``redis``: the sipcheck app over a RedisStore on an embedded redis-server with the default settings
  (the service's default: local reads, no round trip while the snapshot is in step),
- ``redis-rt``: the same with ``local_reads`` off: every check asks Redis (batched round trips).

For each: the maximum rate (wrk, a realistic number mix from a Lua script), then the latency at
half that rate (wrk's per-connection ``delay()`` paces the load); for sipcheck also the batch
endpoint (1000 numbers per request) in numbers per second. Targets: >= 70 % of the trivial
handler's requests/s, p99 <= 5 ms at half the maximum rate.

wrk, the servers and Redis share the machine's cores, so figures are noisy; compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

BATCH = 1000
KINDS = ("trivial", "trivial-verdict", "memory", "redis", "redis-rt")


# -- servers (run in a child process: ``bench_http.py --serve KIND``) ------------------------------


def _serve(kind: str, port: int, workers: int, redis_url: str | None) -> int:
    import asyncio

    from aiohttp import web

    from sipcheck.api.supervisor import ProcessSpec, Supervisor

    const = json.dumps({"action": "allow", "reasons": [], "data_version": "1"})
    if kind == "trivial-verdict":  # a constant as large as a real verdict: same bytes on the wire
        from sipcheck.sample import sample_parts
        from sipcheck.screener import Screener
        from sipcheck.store import MemoryStore

        verdict = Screener(MemoryStore(sample_parts())).check("0352535111").to_dict()
        const = json.dumps(verdict, ensure_ascii=False, separators=(",", ":"))

    def build() -> tuple[web.Application, Any]:
        if kind.startswith("trivial"):

            async def handler(request: web.Request) -> web.Response:
                return web.Response(text=const, content_type="application/json")

            app = web.Application()
            app.router.add_get("/v1/check/{number}", handler)
            return app, None
        from sipcheck.api import create_app
        from sipcheck.cache import RedisStore
        from sipcheck.sample import sample_parts
        from sipcheck.screener import Screener
        from sipcheck.settings import RedisSettings, Settings
        from sipcheck.store import FactStore, MemoryStore

        settings = Settings(http={"port": port, "batch_limit": BATCH})
        store: FactStore
        if kind == "memory":
            store = MemoryStore(sample_parts())
        else:
            redis_settings = RedisSettings(url=redis_url, local_reads=kind == "redis")
            store = RedisStore(redis_settings, fail_policy=settings.policy.fail_policy)
        return create_app(Screener(store, settings.policy), store, settings), store

    def worker(index: int, ready: Any) -> int:
        async def main() -> None:
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            app, store = build()
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True, backlog=1024).start()
            ready()
            await stop.wait()
            await runner.cleanup()
            if store is not None:
                store.close()

        asyncio.run(main())
        return 0

    with Supervisor([ProcessSpec(kind, workers, worker)], stop_timeout_s=10) as supervisor:
        supervisor.start()
        print("READY", flush=True)
        return supervisor.wait()


# -- load generation ---------------------------------------------------------------------------


def number_mix(count: int, seed: int = 7) -> list[str]:
    """Paths for a realistic mix: designated (mostly), suspended, spoofed, foreign, invalid, with ingress."""
    from sipcheck.model import Block, Component, Suspension
    from sipcheck.numbers import InvalidNumber, parse_number
    from sipcheck.sample import sample_parts

    rng = random.Random(seed)
    parts = sample_parts()
    blocks = [r.prefix for r in parts[Component.BLOCKS].records if isinstance(r, Block)]
    suspended = [r.number for r in parts[Component.SUSPENSIONS].records if isinstance(r, Suspension)]

    def complete(prefix: str) -> str:
        for length in (10, 11):
            candidate = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
            try:
                parse_number(candidate)
                return candidate
            except InvalidNumber:
                continue
        return prefix

    paths = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.60:
            path = "/v1/check/" + complete(rng.choice(blocks))
        elif roll < 0.70:
            path = (
                "/v1/check/"
                + complete(rng.choice(blocks))
                + "?ingress="
                + rng.choice(["trunk-a", "trunk-b", "x"])
            )
        elif roll < 0.78:
            path = "/v1/check/" + rng.choice(suspended).replace("+", "%2B")
        elif roll < 0.88:
            path = "/v1/check/" + complete("050" + str(rng.randint(9000, 9999)))  # likely not designated
        elif roll < 0.93:
            path = "/v1/check/%2B1415555" + str(rng.randint(1000, 9999))  # foreign
        elif roll < 0.97:
            path = "/v1/check/%2B81" + complete(rng.choice(blocks))[1:]  # E.164 form
        else:
            path = "/v1/check/" + rng.choice(["12345", "abc", "0120-12", "184"])  # invalid
        paths.append(path)
    return paths


def lua_get(paths: list[str], delay_ms: int | None) -> str:
    table = ",\n".join(json.dumps(p) for p in paths)
    script = f"local paths = {{\n{table}\n}}\nlocal n = #paths\nlocal i = 0\n"
    script += "request = function()\n  i = (i % n) + 1\n  return wrk.format('GET', paths[i])\nend\n"
    if delay_ms is not None:
        script += f"delay = function()\n  return {int(delay_ms)}\nend\n"
    return script


def lua_batch(numbers: list[str]) -> str:
    body = json.dumps({"numbers": numbers})
    return (
        "wrk.method = 'POST'\n"
        f"wrk.body = {json.dumps(body)}\n"
        "wrk.headers['Content-Type'] = 'application/json'\n"
    )


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, script: str, connections: int, duration: int, threads: int = 1) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", fh.name, url],
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    result: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        result[f"p{pct}_ms"] = float(value) * _UNITS[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    result["non2xx"] = float(bad.group(1)) if bad else 0.0
    if errors:
        print(f"    wrk: {errors.group(0)}", file=sys.stderr)
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(kind: str, workers: int, redis_url: str | None) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--workers", str(workers)]
    if redis_url:
        cmd += ["--redis-url", redis_url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "READY" not in line:
        raise RuntimeError(f"{kind} server did not start: {line!r}")
    # warm up (number cache, connections)
    for _ in range(50):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/check/0352535111", timeout=5).read()
    return proc, port


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def half_rate(base: str, paths: list[str], rate: float, duration: int) -> dict[str, float]:
    """Latency at ``rate`` requests/s: each connection waits 2 ms between requests (wrk ``delay()``,
    whole milliseconds), and the number of connections sets the rate. Short calibration runs correct
    the connection count from the rate achieved (rate ~ connections / (delay + latency))."""
    delay_ms = 2
    conns = max(int(rate * delay_ms / 1000.0), 1)
    for _ in range(3):
        achieved = run_wrk(base + "/", lua_get(paths, delay_ms), conns, 2)["rps"]
        if abs(achieved - rate) < 0.05 * rate:
            break
        conns = max(round(conns * rate / achieved), 1)
    result = run_wrk(base + "/", lua_get(paths, delay_ms), conns, duration)
    result["target"] = rate
    result["connections"] = conns
    return result


def batch_rate(base: str, paths: list[str], duration: int) -> dict[str, float]:
    numbers = [p.split("/v1/check/", 1)[1].split("?", 1)[0].replace("%2B", "+") for p in paths[:BATCH]]
    return run_wrk(base + "/v1/check", lua_batch(numbers), 4, duration)


def store_counters(base: str) -> dict[str, float]:
    """The answering worker's store counters from /metrics (each worker has its own; one is enough
    to show where answers came from)."""
    time.sleep(1.5)  # the app copies store counters into Prometheus every second
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for name in ("lookups", "local_answers", "batches"):
        found = re.search(rf"^sipcheck_store_{name}_total (\S+)$", text, re.M)
        out[name] = float(found.group(1)) if found else 0.0
    return out


def report(name: str, r: dict[str, Any], baselines: dict[str, float]) -> None:
    peak, half = r["peak"], r["half"]
    ratios = ", ".join(f"{peak['rps'] / v * 100:.0f} % of {k}" for k, v in baselines.items() if k != name)
    print(
        f"{name:16s} max {peak['rps']:7.0f} req/s (best of {r['rounds']}: {r['all']}; p99 "
        f"{peak.get('p99_ms', 0):.1f} ms, non-2xx {peak['non2xx']:.0f}){'  = ' + ratios if ratios else ''}"
    )
    print(
        f"{'':16s} at {half['rps']:5.0f} req/s (half of max = {half['target']:.0f}; "
        f"{half['connections']:.0f} conns): "
        f"p50 {half.get('p50_ms', 0):.2f} ms, p90 {half.get('p90_ms', 0):.2f} ms, "
        f"p99 {half.get('p99_ms', 0):.2f} ms"
    )
    if "store" in r:
        c = r["store"]
        print(
            f"{'':16s} one worker's store: {c['lookups']:,.0f} lookups, {c['local_answers']:,.0f} answered "
            f"locally, {c['batches']:,.0f} Redis round trips"
        )
    if "batch" in r:
        b = r["batch"]
        print(
            f"{'':16s} batch of {BATCH}: {b['rps']:.1f} req/s = {b['rps'] * BATCH:,.0f} numbers/s "
            f"(p99 {b.get('p99_ms', 0):.0f} ms per batch; non-2xx {b['non2xx']:.0f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="max-rate runs per server, interleaved")
    parser.add_argument("--only", choices=KINDS, action="append")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return _serve(args.serve, args.port, args.workers, args.redis_url)

    from sipcheck.cache import EmbeddedRedis, RedisStore
    from sipcheck.sample import sample_parts
    from sipcheck.settings import RedisSettings

    paths = number_mix(2000)
    kinds = args.only or list(KINDS)
    print(
        f"machine: {os.cpu_count()} cores, shared with other work (noisy); {args.workers} worker(s) per "
        f"server; wrk 1 thread, {args.connections} connections, {args.duration} s per run; "
        f"{len(paths)} request paths in the mix"
    )
    results: dict[str, dict[str, Any]] = {k: {"runs": []} for k in kinds}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis", persist=False) as server:
        loader = RedisStore(RedisSettings(url=server.url, local_snapshot=False))
        loader.publish(sample_parts())
        loader.close()
        servers = {k: start_server(k, args.workers, server.url) for k in kinds}
        try:
            for _ in range(args.rounds):  # interleaved, so drifting background load hits all alike
                for kind in kinds:
                    base = f"http://127.0.0.1:{servers[kind][1]}"
                    results[kind]["runs"].append(
                        run_wrk(base + "/", lua_get(paths, None), args.connections, args.duration)
                    )
            for kind in kinds:
                r = results[kind]
                r["peak"] = max(r["runs"], key=lambda x: x["rps"])
                r["rounds"] = len(r["runs"])
                r["all"] = "/".join(f"{x['rps']:.0f}" for x in r["runs"])
                base = f"http://127.0.0.1:{servers[kind][1]}"
                r["half"] = half_rate(base, paths, r["peak"]["rps"] / 2, args.duration)
                if not kind.startswith("trivial"):
                    r["batch"] = batch_rate(base, paths, args.duration)
                if kind.startswith("redis"):
                    r["store"] = store_counters(base)
        finally:
            for proc, _port in servers.values():
                stop_server(proc)
    baselines = {k: results[k]["peak"]["rps"] for k in kinds if k.startswith("trivial")}
    print()
    for kind in kinds:
        report(kind, results[kind], baselines)
    paired(results, kinds)
    return 0


def paired(results: dict[str, dict[str, Any]], kinds: list[str]) -> None:
    """Ratios round by round: the machine's speed drifts between rounds (a shared host), and runs of
    one round are seconds apart, so the median of paired ratios is steadier than best-of ratios."""
    if "trivial" not in kinds or len(results["trivial"]["runs"]) < 2:
        return
    base = [x["rps"] for x in results["trivial"]["runs"]]
    print("\npaired with trivial, round by round (median, range):")
    for kind in kinds:
        if kind == "trivial":
            continue
        ratios = sorted(x["rps"] / b for x, b in zip(results[kind]["runs"], base, strict=True))
        median = statistics.median(ratios)
        print(f"  {kind:16s} {median:6.0%}  ({ratios[0]:.0%}–{ratios[-1]:.0%})")


if __name__ == "__main__":
    sys.exit(main())
