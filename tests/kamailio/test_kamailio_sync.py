"""`sipcheck kamailio sync` against a real Kamailio and a real Redis.

The daemon publishes the shared data into Kamailio's view; a suspension added in Redis reaches the
calls; Redis killed means the fail policy once the heartbeat lapses (never the last view answered as
if current), and Redis back means the view's verdicts again. In-process, `ViewSync` moves the day at
JST midnight without a rebuild, rebuilds into the idle table, and re-points a restarted Kamailio.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from kamailio_run import invite, kamailio_settings, running_kamailio

from sipcheck.cache import EmbeddedRedis
from sipcheck.cache.store import RedisStore
from sipcheck.kamailio import dbtext
from sipcheck.kamailio.sync import ViewSync
from sipcheck.kamailio.view import day_key
from sipcheck.model import Suspension
from sipcheck.sample import sample_parts
from sipcheck.settings import RedisSettings
from sipcheck.sip.harness import free_port
from sipcheck.store import MemoryStore

JST = timezone(timedelta(hours=9))
SUSPENDED = "+81669409999"  # suspended in the built-in data
LATER = "0352535111"  # the MIC building: designated and allowed until the test suspends it
LATER_E164 = "+81352535111"

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and not (shutil.which("kamailio") or Path("/usr/sbin/kamailio").exists()),
    reason="kamailio is installed by scripts/test (apt-get); absent here",
)


def wait_for(what: str, probe: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.1)


def ask(port: int, caller: str) -> tuple[int, dict[str, str]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        return invite(sock, port, caller, int(time.monotonic() * 1000))


def reasons(port: int, caller: str) -> tuple[int, str]:
    code, headers = ask(port, caller)
    return code, headers.get("X-Sipcheck-Reasons", "")


def test_sync_daemon_publishes_redis_and_falls_to_the_fail_policy_when_redis_dies(tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis"
    server = EmbeddedRedis(redis_dir, persist=True).start()
    try:
        store = RedisStore(RedisSettings(url=server.url))
        store.publish(sample_parts())
        settings = kamailio_settings(tmp_path, redis={"url": server.url})
        rpc_host, rpc_port = settings.kamailio.rpc_address()
        config = tmp_path / "sipcheck.toml"
        config.write_text(
            f'data_dir = "{tmp_path}"\n[redis]\nurl = "{server.url}"\n'
            f'[kamailio]\nrpc = "udp:{rpc_host}:{rpc_port}"\nview_dir = "{tmp_path / "view"}"\n'
            "heartbeat_s = 0.2\nstale_after_s = 2\n",
            encoding="utf-8",
        )
        dbtext.write_table(tmp_path / "view", "sipcheck_a", {})
        dbtext.write_table(tmp_path / "view", "sipcheck_b", {})
        sip_port = free_port()
        env = dict(os.environ, SIPCHECK_FIXED_NOW="2026-08-01T12:00:00+09:00")
        with running_kamailio(tmp_path, settings, sip_port) as rpc:
            assert reasons(sip_port, SUSPENDED) == (299, "data_unavailable")  # nothing published yet
            daemon = subprocess.Popen(
                [sys.executable, "-m", "sipcheck.cli.main", "--config", str(config), "kamailio", "sync"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / "sync.log", "wb"),  # noqa: SIM115 - the child holds it
                start_new_session=True,
            )
            try:
                wait_for("the view", lambda: reasons(sip_port, SUSPENDED)[0] == 608, 60)
                assert rpc.get_int("sipcheck_day") == int(day_key(date(2026, 8, 1)))
                first_gen = rpc.get_int("sipcheck_gen")
                assert reasons(sip_port, LATER) == (299, "ingress_unknown")

                store.add_suspensions([Suspension(LATER_E164, reference="police request 1", source="test")])
                wait_for("the new suspension", lambda: reasons(sip_port, LATER)[0] == 608, 30)
                assert rpc.get_int("sipcheck_gen") == first_gen  # set in place: no rebuild

                store._admin.save()  # on disk, so the restarted server has the data again
                server.kill()
                # The last view is not answered as if current: the fail policy, once the heartbeat lapses.
                wait_for("the fail policy", lambda: reasons(sip_port, SUSPENDED) == (299, "data_unavailable"))
                assert daemon.poll() is None, "the daemon must outlive a Redis outage"

                server = EmbeddedRedis(redis_dir, persist=True, port=server.port).start()
                wait_for("recovery", lambda: reasons(sip_port, SUSPENDED)[0] == 608, 30)
                assert reasons(sip_port, LATER)[0] == 608
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=10)
        assert daemon.returncode == 0, (tmp_path / "sync.log").read_text(errors="replace")[-2000:]
        store.close()
    finally:
        server.kill()


def test_view_sync_moves_days_rebuilds_idle_and_repoints_a_restarted_kamailio(tmp_path: Path) -> None:
    settings = kamailio_settings(tmp_path)
    store = MemoryStore(sample_parts())
    moment = [datetime(2026, 8, 1, 23, 59, 59, tzinfo=JST)]
    wall = [1_000_000.0]
    with running_kamailio(tmp_path, settings, free_port()) as rpc:
        sync = ViewSync(
            lambda: store.tables,
            rpc,
            tmp_path / "view",
            settings.compiled_policy(),
            lambda: moment[0],
            days_ahead=2,
            stale_after_s=3,
            wall=lambda: wall[0],
        )
        first = sync.step()
        assert (first.vouched, first.rebuilt, first.generation) == (True, True, 1)
        assert rpc.get_int("sipcheck_until") == 1_000_003
        assert (tmp_path / "view" / "sipcheck_a").stat().st_size > 1_000_000

        moment[0] += timedelta(seconds=1)  # JST midnight: the day moves, the view stays
        second = sync.step()
        assert (second.rebuilt, second.day) == (False, date(2026, 8, 2))
        assert rpc.get_int("sipcheck_day") == int(day_key(date(2026, 8, 2)))

        moment[0] += timedelta(days=1)  # 08-03 is the last day published: rebuilt into the other table
        third = sync.step()
        assert (third.rebuilt, third.generation) == (True, 2)

        rpc.set_int("sipcheck_gen", 0)  # what a restarted Kamailio holds
        assert sync.step().generation == 2
        assert rpc.get_int("sipcheck_gen") == 2

        failed = ViewSync(
            lambda: (_ for _ in ()).throw(ConnectionError("redis down")),
            rpc,
            tmp_path / "view",
            settings.compiled_policy(),
            lambda: moment[0],
        ).step()
        assert not failed.vouched and "redis down" in failed.problem


def test_suspension_changes_apply_in_place_and_survive_a_restart(tmp_path: Path) -> None:
    """A police request reaches calls within one heartbeat: the table in use gains (or loses) the
    number's key, no rebuild; its file holds the change, so a restarted Kamailio reloads it."""
    settings = kamailio_settings(tmp_path)
    store = MemoryStore(sample_parts())
    moment = datetime(2026, 8, 1, 12, 0, tzinfo=JST)
    sip_port = free_port()
    with running_kamailio(tmp_path, settings, sip_port) as rpc:
        sync = ViewSync(
            lambda: store.tables, rpc, tmp_path / "view", settings.compiled_policy(), lambda: moment
        )
        assert sync.step().rebuilt
        assert reasons(sip_port, LATER) == (299, "ingress_unknown")

        store.add_suspensions([Suspension(LATER_E164, reference="police request 7", source="test")])
        added = sync.step()
        assert (added.vouched, added.rebuilt, added.suspension_changes, added.generation) == (
            True,
            False,
            1,
            1,
        )
        assert reasons(sip_port, LATER)[0] == 608
        on_disk = dbtext.read_table(tmp_path / "view" / "sipcheck_a")
        assert on_disk.get("s:" + LATER_E164) == "1"

        rpc.set_int("sipcheck_gen", 0)  # a restarted Kamailio: reloaded from the file, suspension kept
        rpc.reload("sipcheck_a")
        again = sync.step()
        assert (again.rebuilt, again.suspension_changes) == (False, 0)
        assert reasons(sip_port, LATER)[0] == 608

        store.remove_suspensions([LATER_E164, SUSPENDED])
        removed = sync.step()
        assert (removed.rebuilt, removed.suspension_changes) == (False, 2)
        assert reasons(sip_port, LATER) == (299, "ingress_unknown")
        assert reasons(sip_port, SUSPENDED)[0] != 608
        assert "s:" + SUSPENDED not in dbtext.read_table(tmp_path / "view" / "sipcheck_a")
