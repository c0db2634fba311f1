"""``sipcheck sip-agent``: run the SIP agent (relay mode), one process or N on consecutive ports.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 4 bad configuration.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from sipcheck.settings import get_settings
    from sipcheck.sip.agent import run_agent, serve_agents

    try:
        settings = get_settings()
    except ValueError as exc:
        print(f"sipcheck sip-agent: error: {exc}", file=sys.stderr)
        return 4
    updates: dict[str, Any] = {}
    if args.port is not None:
        updates["listen_port"] = args.port
    if args.next_hop is not None:
        updates["next_hop"] = args.next_hop
    if args.profile is not None:
        updates["tone_profile"] = args.profile
    if updates:
        settings = settings.model_copy(update={"sip": settings.sip.model_copy(update=updates)})
    agents = args.agents if args.agents is not None else settings.sip.agents
    if agents < 1:
        print("sipcheck sip-agent: error: --agents must be at least 1", file=sys.stderr)
        return 4
    if agents == 1 and not updates:
        return run_agent(settings, args.store)
    if updates:
        # Children read settings from the file and environment: hand the overrides down that way.
        import os

        for key, value in updates.items():
            os.environ[f"SIPCHECK_SIP__{key.upper()}"] = str(value)
        if agents == 1:
            return run_agent(settings, args.store)
    return serve_agents(settings, agents, config_file=getattr(args, "config", None), store=args.store)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sip-agent",
        help="run the SIP agent: screen forwarded calls, relay them with the identification tone",
        description=(
            "Relay mode: accept INVITEs from trusted peers on sip.listen_port, screen the caller, reject "
            "blocked calls (608 by default), relay the rest to sip.next_hop and play the tone on answer. "
            "With --agents N, run N processes on listen_port .. listen_port+N-1 (put a dispatcher in front, "
            "see deploy/kamailio)."
        ),
    )
    parser.add_argument("--agents", type=int, help="number of agent processes (default: sip.agents)")
    parser.add_argument("--port", type=int, help="public SIP port (default: sip.listen_port)")
    parser.add_argument(
        "--next-hop", help="where relayed calls go, e.g. sip:127.0.0.1:5080 (default: sip.next_hop)"
    )
    parser.add_argument("--profile", help="tone profile id or file (default: sip.tone_profile)")
    parser.add_argument(
        "--store",
        choices=["redis", "memory-sample"],
        default="redis",
        help="verdict data: the configured Redis (or the embedded one), or the sample data in memory",
    )
    parser.set_defaults(func=_run)
