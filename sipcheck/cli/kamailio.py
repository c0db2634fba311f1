"""``sipcheck kamailio config|sync|explain``: the Kamailio edge, screening from sipcheck's view.

``config`` writes screen.cfg from the settings; ``sync`` is the daemon that keeps Kamailio's view
equal to the shared data (run it beside Kamailio: deploy/systemd/sipcheck-kamailio-sync.service);
``explain`` shows the lookups the script makes for one caller, with the verdict it reaches and the
library's own verdict for the same caller, which must be equal.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sipcheck.cli.common import configured_store, error
from sipcheck.settings import Settings, get_settings
from sipcheck.store import StoreError, TableSet


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "kamailio",
        help="screen inside Kamailio from sipcheck's view (config, sync daemon, explain)",
        description="Kamailio screens each INVITE from tables sipcheck publishes; no HTTP hop per call.",
    )
    sub = parser.add_subparsers(dest="kamailio_command", metavar="ACTION", required=True)
    config = sub.add_parser("config", help="write screen.cfg (the routing block) from the settings")
    config.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    config.set_defaults(func=_config)
    sync = sub.add_parser("sync", help="keep Kamailio's view equal to the data (the daemon)")
    sync.add_argument("--once", action="store_true", help="publish once and exit (0: vouched, 1: not)")
    sync.set_defaults(func=_sync)
    explain = sub.add_parser("explain", help="the script's lookups for one caller, and the verdict")
    explain.add_argument("caller", metavar="USER", help="the caller's user part (or a sip: URI)")
    explain.add_argument("--peer", default="127.0.0.1:5060", metavar="IP:PORT", help="the sending peer")
    explain.add_argument("--json", action="store_true", help="one JSON object")
    explain.set_defaults(func=_explain)


def _ingress(settings: Settings) -> tuple[list[str], Callable[[str], str | None]]:
    """The peers to publish and the peer → ingress mapping: the one every edge uses."""
    ingress = settings.ingress_map()
    return ingress.peers, ingress.resolve


def _config(args: argparse.Namespace) -> int:
    from sipcheck.kamailio import cfg

    try:
        text = cfg.render(get_settings())
    except ValueError as exc:
        return error(str(exc))
    if args.output:
        cfg.write(get_settings(), Path(args.output))
    else:
        sys.stdout.write(text)
    return 0


def _reader(store: object) -> Callable[[], TableSet | None]:
    from sipcheck.cache.store import RedisStore
    from sipcheck.store import MemoryStore

    if isinstance(store, RedisStore):
        return store.table_reader()
    if isinstance(store, MemoryStore):
        return lambda: store.tables
    raise StoreError(f"the {type(store).__name__} store cannot publish a Kamailio view")


def _sync(args: argparse.Namespace) -> int:
    from sipcheck.kamailio.rpc import KamailioRpc
    from sipcheck.kamailio.sync import ViewSync

    settings = get_settings()
    cfg = settings.kamailio
    try:
        address = cfg.rpc_address()
    except ValueError as exc:
        return error(str(exc))
    from sipcheck.kamailio.cfg import ensure_view_dir

    view_dir = ensure_view_dir(settings)
    peers, resolve = _ingress(settings)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    try:
        with configured_store(settings) as store:
            rpc = KamailioRpc(address, timeout_s=max(1.0, cfg.heartbeat_s * 2))
            daemon = ViewSync(
                _reader(store),
                rpc,
                view_dir,
                settings.compiled_policy(),
                settings.clock(),
                peers,
                resolve,
                days_ahead=cfg.days_ahead,
                stale_after_s=cfg.stale_after_s,
                snapshot_verdicts=settings.policy.fail_policy == "snapshot",
            )
            try:
                if args.once:
                    result = daemon.step()
                    print(json.dumps(_result_dict(result)))
                    return 0 if result.vouched else 1
                signal.signal(signal.SIGTERM, stop)
                daemon.run(cfg.heartbeat_s, lambda: stopping)
            finally:
                rpc.close()
    except (StoreError, OSError) as exc:
        return error(str(exc))
    return 0


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "vouched": result.vouched,
        "rebuilt": result.rebuilt,
        "generation": result.generation,
        "data_version": result.data_version,
        "day": result.day.isoformat() if result.day else None,
        "problem": result.problem,
    }


def _explain(args: argparse.Namespace) -> int:
    from sipcheck.kamailio.lookup import lookup
    from sipcheck.kamailio.view import build_view, day_key, encode_verdict
    from sipcheck.screener import Screener, japan_date

    settings = get_settings()
    caller = args.caller
    if caller.lower().startswith(("sip:", "sips:", "tel:")):
        caller = caller.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    ip, _, port = args.peer.rpartition(":")
    if not ip or not port.isdigit():
        return error(f"--peer wants IP:PORT, got {args.peer!r}")
    peers, resolve = _ingress(settings)
    try:
        with configured_store(settings) as store:
            tables = _reader(store)()
            if tables is None:
                return error("no complete data set is published: Kamailio would apply the fail policy")
            clock = settings.clock()
            today = japan_date(clock())
            view = build_view(tables, settings.compiled_policy(), [today], peers, resolve)
            answer = lookup(view.entries, caller, ip, int(port), day_key(today))
            screener = Screener(store, settings.compiled_policy(), clock, settings.ingress_map())
            library = screener.check(args.caller, args.peer)  # the URI as given: the library unescapes it
    except (StoreError, OSError) as exc:
        return error(str(exc))
    expected = encode_verdict(library)
    agree = answer.value == expected
    if args.json:
        doc = {"caller": caller, "peer": args.peer, "key": answer.key, "entry": answer.value}
        doc.update(steps=list(answer.steps), library=expected, agree=agree)
        print(json.dumps(doc, ensure_ascii=False))
    else:
        for step in answer.steps:
            print(step)
        print(f"verdict entry {answer.key}: {answer.value}")
        print(f"library verdict: {expected}")
        print("the view and the library agree" if agree else "THE VIEW AND THE LIBRARY DISAGREE")
    return 0 if agree else 1
