"""The decision API: same verdict as the screener, data version on every answer, batch limits, bad bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from apihelpers import api_client, api_settings, screener_for

from sipcheck.sample import sample_parts
from sipcheck.store import MemoryStore

SAMPLES = ["0352535111", "050-1000-9999", "+815012345678", "０３５２５３５１１１", "12", "184-0352535111"]


def test_single_check_is_the_screener_verdict(store: MemoryStore) -> None:
    async def body() -> None:
        screener = screener_for(store, api_settings())
        async with api_client(store) as client:
            for number in SAMPLES:
                response = await client.get(f"/v1/check/{number}")
                assert response.status == 200, number
                assert response.content_type == "application/json"
                assert await response.json() == screener.check(number).to_dict()
            response = await client.get("/v1/check/0352535111", params={"ingress": "trunk-a"})
            data = await response.json()
            assert data == screener.check("0352535111", "trunk-a").to_dict()
            assert response.headers["X-Data-Version"] == data["data_version"] == store.status().data_version

    asyncio.run(body())


def test_suspended_number_blocks_and_plus_is_kept(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            blocked = await (await client.get("/v1/check/050-1000-9999")).json()
            assert blocked["action"] == "block" and "suspended" in blocked["reasons"]
            plus = await (await client.get("/v1/check/%2B81352535111")).json()
            assert plus["number"]["e164"] == "+81352535111"

    asyncio.run(body())


def test_batch_answers_in_order_with_the_data_version(store: MemoryStore) -> None:
    async def body() -> None:
        screener = screener_for(store, api_settings())
        async with api_client(store) as client:
            response = await client.post("/v1/check", json={"numbers": SAMPLES, "ingress": "trunk-b"})
            assert response.status == 200
            data = await response.json()
            assert data["count"] == len(SAMPLES)
            assert data["verdicts"] == [screener.check(n, "trunk-b").to_dict() for n in SAMPLES]
            assert data["data_version"] == response.headers["X-Data-Version"] == store.status().data_version
            bare = await (await client.post("/v1/check", json=SAMPLES[:2])).json()
            assert [v["input"] for v in bare["verdicts"]] == SAMPLES[:2]
            empty = await (await client.post("/v1/check", json={"numbers": []})).json()
            assert empty == {"data_version": store.status().data_version, "count": 0, "verdicts": []}

    asyncio.run(body())


def test_batch_over_the_limit_is_refused(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store, api_settings(batch_limit=3)) as client:
            response = await client.post("/v1/check", json={"numbers": ["0352535111"] * 4})
            assert response.status == 413
            error = (await response.json())["error"]
            assert error["code"] == "batch_too_large"
            assert "4 numbers" in error["message"] and "limit is 3" in error["message"]
            ok = await client.post("/v1/check", json={"numbers": ["0352535111"] * 3})
            assert ok.status == 200

    asyncio.run(body())


def test_malformed_batch_bodies_are_named(store: MemoryStore) -> None:
    cases = [
        (b"", "invalid_json", "empty"),
        (b'{"numbers": [', "invalid_json", "line 1 column"),
        (b"\xff\xfe", "invalid_json", "UTF-8"),
        (b'{"numbers": "0352535111"}', "bad_request", "'numbers' must be an array"),
        (b'{"numbers": ["0352535111", 312345678]}', "bad_request", "numbers[1]"),
        (b'{"nums": []}', "bad_request", "unknown field(s) nums"),
        (b'{"numbers": [], "ingress": 5}', "bad_request", "'ingress' must be a string"),
        (b'"0352535111"', "bad_request", "expected a JSON object"),
    ]

    async def body() -> None:
        async with api_client(store) as client:
            for raw, code, fragment in cases:
                response = await client.post(
                    "/v1/check", data=raw, headers={"Content-Type": "application/json"}
                )
                assert response.status == 400, raw
                error = (await response.json())["error"]
                assert error["code"] == code, raw
                assert fragment in error["message"], (raw, error["message"])

    asyncio.run(body())


def test_oversized_body_is_refused_with_json(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store, api_settings(max_body_bytes=1000)) as client:
            payload = json.dumps({"numbers": ["0352535111"] * 200})
            assert len(payload) > 1000
            response = await client.post(
                "/v1/check", data=payload, headers={"Content-Type": "application/json"}
            )
            assert response.status == 413
            assert (await response.json())["error"]["code"] == "body_too_large"

    asyncio.run(body())


def test_unknown_paths_and_methods_answer_json(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            missing = await client.get("/v1/nothing")
            assert missing.status == 404
            assert (await missing.json())["error"] == {
                "code": "not_found",
                "message": "no endpoint /v1/nothing",
            }
            wrong = await client.delete("/v1/check/0352535111")
            assert wrong.status == 405
            assert (await wrong.json())["error"]["code"] == "method_not_allowed"
            assert wrong.headers["Allow"] == "GET"
            batch_get = await client.get("/v1/check")  # the batch path takes POST only
            assert batch_get.status == 405 and batch_get.headers["Allow"] == "POST"

    asyncio.run(body())


class _BrokenStore(MemoryStore):
    """A store with a bug in its lookup: the one fault here that real parts cannot produce."""

    async def alookup(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in the store")


def test_a_handler_bug_answers_500_json_and_the_service_keeps_serving(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        async with api_client(_BrokenStore(sample_parts())) as client:
            broken = await client.get("/v1/check/0352535111")
            assert broken.status == 500
            assert (await broken.json())["error"] == {
                "code": "internal_error",
                "message": "unexpected error while handling GET /v1/check/0352535111",
            }
            assert (await client.get("/healthz")).status == 200
            assert (await client.get("/v1/check/12")).status == 200  # unparsable: answered before the store

    asyncio.run(body())
    assert any(r.message == "unhandled error" and r.exc_info for r in caplog.records)
