"""The API over a real Redis: same verdicts as memory, and /readyz follows Redis going away and back."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from apihelpers import AUTH, api_client, api_settings, screener_for

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.sample import sample_parts
from sipcheck.settings import RedisSettings
from sipcheck.store import MemoryStore


def test_readyz_follows_redis_down_and_back(tmp_path: Path) -> None:
    # Persistent, so the data is still there when the same server comes back on the same port.
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    store = RedisStore(RedisSettings(url=server.url, local_snapshot=False))
    try:
        store.publish(sample_parts())
        memory = screener_for(MemoryStore(sample_parts()), api_settings())

        async def body() -> None:
            async with api_client(store) as client:
                ready = await client.get("/readyz")
                assert ready.status == 200, await ready.text()
                verdict = await (await client.get("/v1/check/050-1000-9999")).json()
                expected = memory.check("050-1000-9999").to_dict()
                assert {k: v for k, v in verdict.items() if k not in ("data_version", "sip")} == {
                    k: v for k, v in expected.items() if k not in ("data_version", "sip")
                }

                await asyncio.to_thread(server.stop)
                down = await client.get("/readyz")
                assert down.status == 503
                error = (await down.json())["error"]
                assert error["code"] == "not_ready" and "unreachable" in error["message"], error
                assert (await client.get("/healthz")).status == 200  # alive, just not ready

                await asyncio.to_thread(server.start)
                back = await client.get("/readyz")
                assert back.status == 200, await back.text()

        asyncio.run(body())
    finally:
        store.close()
        server.stop()


@pytest.mark.parametrize("local", [False, True])
def test_an_empty_redis_is_not_ready_and_never_calls_a_caller_spoofed(
    redis_server: EmbeddedRedis, local: bool
) -> None:
    store = RedisStore(RedisSettings(url=redis_server.url, local_snapshot=local, local_reads=local))

    async def body() -> None:
        async with api_client(store) as client:
            response = await client.get("/readyz")
            assert response.status == 503
            assert "no complete data set" in (await response.json())["error"]["message"]
            for number in ("090-1234-5678", "050-9999-0000", "0467-22-1234"):
                verdict = await (await client.get(f"/v1/check/{number}")).json()
                assert verdict["reasons"] == ["data_unavailable"], number
                assert verdict["action"] == "flag"  # the default fail policy, open
            batch = await client.post("/v1/check", json={"numbers": ["0352535111", "05099990000"]})
            reasons = [v["reasons"] for v in (await batch.json())["verdicts"]]
            assert reasons == [["data_unavailable"], ["data_unavailable"]]
            data = await (await client.get("/v1/data")).json()
            assert data["complete"] is False
            assert data["missing"] == ["blocks", "certifications", "suspensions"]

    try:
        asyncio.run(body())
    finally:
        store.close()


def test_default_settings_answer_locally_and_say_so_in_metrics(redis_server: EmbeddedRedis) -> None:
    """The service's defaults (local reads): checks make no round trip while the copy is in step,
    /metrics shows it, and a suspension made through the API is in the next answer."""
    store = RedisStore(RedisSettings(url=redis_server.url))
    store.publish(sample_parts())
    assert store.snapshot is not None and store.snapshot.wait_local(5)
    settings = api_settings()

    async def body() -> None:
        async with api_client(store, settings) as client:
            for _ in range(20):
                assert (await (await client.get("/v1/check/0352535111")).json())["action"] == "allow"
            changed = await client.post(
                "/v1/suspensions", json=[{"op": "add", "number": "0352535111"}], headers=AUTH
            )
            assert changed.status == 200, await changed.text()
            verdict = await (await client.get("/v1/check/0352535111")).json()
            assert verdict["action"] == "block" and verdict["reasons"] == ["suspended"]
            text = await (await client.get("/metrics")).text()
            assert "sipcheck_store_local_in_sync 1.0" in text
            local = float(re.search(r"^sipcheck_store_local_answers_total (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
            assert local >= 20

    try:
        asyncio.run(body())
    finally:
        store.close()
