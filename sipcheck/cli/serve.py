"""``sipcheck serve``: the HTTP API in several worker processes sharing one port.

With no configuration it uses the embedded Redis (started once, here in the
parent, with the sample data when empty), and the workers connect to it by
URL so they all share one store. Heavy imports (aiohttp, redis) happen only
when the command runs, so ``sipcheck --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from functools import partial

EXIT_ERROR = 4


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP API service (decision, data administration, metrics)",
        description="Serve the HTTP API with several worker processes on one port. "
        "Settings: the [http] section (SIPCHECK_HTTP__*); the options below override it.",
    )
    parser.add_argument("--host", help="address to listen on (default: http.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: http.port, 8080)")
    parser.add_argument("--workers", type=int, help="worker processes (default: http.workers)")
    parser.set_defaults(func=run)


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served, or None. Binds without SO_REUSEPORT, so any listener conflicts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{host}:{port} is already in use; stop what listens there or choose --port"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def banner(base: str, workers: int, data_version: str, backend: str, store_url: str | None) -> str:
    return f"""sipcheck serving on {base} with {workers} worker(s); data version {data_version or "(none)"} \
({backend}{" at " + store_url if store_url else ""})

Try it:
  curl {base}/v1/check/0352535111          # MIC's switchboard, real block of NTT East: allow
  curl {base}/v1/check/050-1000-9999        # a suspended (synthetic) number: block
  curl {base}/v1/check/050-9999-0000        # never designated: spoofed (flagged while the data is stale)
  curl '{base}/v1/check/%2B815012345678?ingress=trunk-a'
  curl -H 'Content-Type: application/json' -d '{{"numbers": ["0352535111", "09012345678"]}}' {base}/v1/check
  curl {base}/v1/data
  curl {base}/readyz ; curl -s {base}/metrics | grep sipcheck_checks
Endpoints and examples: {base}/docs (OpenAPI: {base}/openapi.json). Stop with Ctrl-C or SIGTERM.
"""


def run(args: argparse.Namespace) -> int:
    from sipcheck.api.auth import load_tokens
    from sipcheck.api.logs import configure_logging
    from sipcheck.api.supervisor import ProcessSpec, StartupFailed, Supervisor
    from sipcheck.api.worker import run_worker
    from sipcheck.cache import open_store
    from sipcheck.cli.data import warnings as data_warnings
    from sipcheck.screener import japan_date
    from sipcheck.settings import get_settings
    from sipcheck.store import StoreError

    settings = get_settings()
    changes = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v}
    http = settings.http.model_copy(update=changes)
    settings = settings.model_copy(update={"http": http})
    if http.workers < 1:
        print("sipcheck serve: --workers must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    try:
        load_tokens(http)  # fail at start-up, not on the first upload
    except (OSError, ValueError) as exc:
        print(f"sipcheck serve: bad token configuration: {exc}", file=sys.stderr)
        return EXIT_ERROR
    problem = port_problem(http.host, http.port)
    if problem:
        print(f"sipcheck serve: {problem}", file=sys.stderr)
        return EXIT_ERROR
    configure_logging()
    try:
        with open_store(settings) as store:
            url = getattr(store, "url", None)
            status = store.status()
            worker_settings = settings
            if url:
                worker_settings = settings.model_copy(
                    update={"redis": settings.redis.model_copy(update={"url": url})}
                )
            specs = [ProcessSpec("http", http.workers, partial(run_worker, worker_settings))]
            sip = settings.sip
            if sip.next_hop:
                # Relay mode is configured: the SIP agents run under the same supervisor.
                from sipcheck.sip.agent import agent_process_target

                specs.append(ProcessSpec("sip-agent", sip.agents, agent_process_target(worker_settings)))
            # The parent keeps the embedded Redis running but holds no connection or thread of
            # its own: workers connect by URL, and signals reach a single-threaded supervisor.
            store.close()
            with Supervisor(specs, stop_timeout_s=http.shutdown_timeout_s + 5.0) as supervisor:
                try:
                    supervisor.start()
                except StartupFailed as exc:
                    print(f"sipcheck serve: {exc} (see the log above)", file=sys.stderr)
                    return EXIT_ERROR
                host = f"[{http.host}]" if ":" in http.host else http.host
                print(
                    banner(
                        f"http://{host}:{http.port}", http.workers, status.data_version, status.backend, url
                    ),
                    flush=True,
                )
                today = japan_date(settings.clock()())
                for line in data_warnings(status, today, settings.data.max_age_days):
                    print(f"sipcheck serve: warning: {line}", file=sys.stderr, flush=True)
                if sip.next_hop:
                    last = sip.listen_port + sip.agents - 1
                    ports = str(sip.listen_port) if sip.agents == 1 else f"{sip.listen_port}-{last}"
                    print(
                        f"SIP relay agents: {sip.agents} on {sip.listen_host}:{ports} "
                        f"({'/'.join(sip.transports)}), next hop {sip.next_hop}, "
                        f"tone {sip.tone_profile}; trusted peers {', '.join(sip.trusted_peers)}",
                        flush=True,
                    )
                return supervisor.wait()
    except StoreError as exc:
        print(f"sipcheck serve: the data store is not available: {exc}", file=sys.stderr)
        return EXIT_ERROR
