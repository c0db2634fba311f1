"""Range and stock suspensions and overrides over HTTP, against a real Redis: all or nothing, audited."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from apihelpers import AUTH, api_client

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.model import Component, Operator
from sipcheck.sample import sample_parts
from sipcheck.settings import RedisSettings

JSON = {"Content-Type": "application/json", **AUTH}


def _store(server: EmbeddedRedis) -> RedisStore:
    store = RedisStore(RedisSettings(url=server.url, local_snapshot=False))
    store.publish(sample_parts())
    return store


def _an_operator() -> str:
    ops = [r.id for r in sample_parts()[Component.OPERATORS].records if isinstance(r, Operator)]
    return ops[0]


def test_a_range_suspension_answers_suspended_with_its_reference(
    redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(redis_server)
    other = RedisStore(RedisSettings(url=redis_server.url, local_snapshot=False))

    async def body() -> None:
        async with api_client(store) as client:
            before = await (await client.get("/v1/check/0352535111")).json()
            assert "suspended" not in before["reasons"]
            change = {"add": [{"action": "suspend", "from": "03-5253-5000", "to": "03-5253-5999",
                               "reference": "NPA-2026-0412", "source": "police"}]}  # fmt: skip
            with caplog.at_level(logging.INFO, logger="sipcheck.audit"):
                response = await client.post("/v1/rules", json=change, headers=JSON)
            assert response.status == 200, await response.text()
            result = await response.json()
            assert result["added"] == ["suspend:range:0352535000..0352535999"] and result["total"] == 1
            verdict = await (await client.get("/v1/check/0352535111")).json()
            assert verdict["action"] == "block" and "suspended" in verdict["reasons"]
            assert verdict["rules"][0]["reference"] == "NPA-2026-0412"
            assert verdict["rules"][0]["author"] == "ops"  # the token's name, never the token
            outside = await (await client.get("/v1/check/0352536111")).json()
            assert "suspended" not in outside["reasons"]
            listed = await (await client.get("/v1/rules", headers=AUTH)).json()
            assert [r["id"] for r in listed["rules"]] == result["added"]
            unauthorised = await client.get("/v1/rules")
            assert unauthorised.status == 401

    asyncio.run(body())
    records = [r for r in caplog.records if getattr(r, "event", "") == "rules.change"]
    assert len(records) == 1
    logged = records[0].audit_record  # type: ignore[attr-defined]
    assert logged["keys"] == ["suspend:range:0352535000..0352535999"] and logged["counts"]["added"] == 1
    assert logged["references"] == ["NPA-2026-0412"] and logged["who"] == "ops"
    # Another process, asking Redis, sees it at its next check.
    from sipcheck.numbers import parse_number

    facts = other.lookup(parse_number("0352535111"), None, "0352535111")
    assert [r.reference for r in facts.rules] == ["NPA-2026-0412"]
    other.close()
    store.close()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"action": "suspend", "operator": "no-such-operator", "reference": "R"}, "operator"),
        ({"action": "suspend", "from": "0352535999", "to": "0352535000", "reference": "R"}, "range"),
        ({"action": "deny", "prefix": "05O-1000"}, "prefix"),
        ({"action": "allow", "number": "0352535111", "until": "2026-07-31"}, "until"),
        ({"action": "allow", "number": "0352535111", "until": "31/12/2026"}, "until"),
        ({"action": "suspend", "prefix": "050-1000"}, "reference"),
        ({"action": "block", "number": "0352535111"}, "action"),
        ({"action": "deny", "number": "0352535111", "prefix": "03"}, "target"),
        ({"action": "deny", "number": "0352535111", "color": "red"}, "color"),
    ],
)
def test_a_bad_item_refuses_the_whole_change(
    redis_server: EmbeddedRedis, item: dict[str, Any], field: str
) -> None:
    store = _store(redis_server)
    version = store.status().data_version

    async def body() -> None:
        async with api_client(store) as client:
            good = {"action": "deny", "number": "0352535111", "reason": "wave"}
            response = await client.post("/v1/rules", json={"add": [good, item]}, headers=JSON)
            assert response.status == 422, await response.text()
            error = (await response.json())["error"]
            assert error["code"] == "invalid_items"
            assert [(d["item"], d["field"].split(".")[0]) for d in error["details"]] == [("add[1]", field)]

    asyncio.run(body())
    assert store.status().data_version == version  # nothing written, not even the good item
    assert store.part(Component.RULES).records == ()
    store.close()


def test_stock_suspension_and_overrides_end_to_end(redis_server: EmbeddedRedis) -> None:
    store = _store(redis_server)
    op = _an_operator()
    block = next(prefix for prefix, d in _designated(store).items() if d == op)

    async def body() -> None:
        async with api_client(store) as client:
            number = (block + "0000000000")[: 10 if block.startswith("0") and block[1] != "5" else 11]
            change = {"add": [{"action": "suspend", "operator": op, "reference": "NPA-STOCK-1"}]}
            assert (await client.post("/v1/rules", json=change, headers=JSON)).status == 200
            verdict = await (await client.get(f"/v1/check/{number}")).json()
            assert verdict["action"] == "block" and "suspended" in verdict["reasons"], verdict
            assert verdict["rules"][0]["scope"] == "operator"
            deny = {"add": [{"action": "deny", "number": "0120-000-000", "reason": "emergency"}]}
            assert (await client.post("/v1/rules", json=deny, headers=JSON)).status == 200
            denied = await (await client.get("/v1/check/0120000000")).json()
            assert denied["action"] == "block" and denied["reasons"][-1] == "override_deny"
            assert denied["sip"]["headers"]["X-Sipcheck-Reasons"].endswith("override_deny")
            missing = await client.post("/v1/rules", json={"remove": ["deny:number:0999"]}, headers=JSON)
            assert missing.status == 422
            assert (await missing.json())["error"]["details"][0]["item"] == "remove[0]"
            gone = await client.post("/v1/rules", json={"remove": ["deny:number:0120000000"]}, headers=JSON)
            assert (await gone.json())["removed"] == ["deny:number:0120000000"]
            assert "override_deny" not in (await (await client.get("/v1/check/0120000000")).json())["reasons"]

    asyncio.run(body())
    store.close()


def _designated(store: RedisStore) -> dict[str, str]:
    from sipcheck.store import MemoryStore

    tables = MemoryStore(sample_parts()).tables
    return {p: d.id for p, d in tables.designated.items() if d is not None and d.id}


def test_contractors_refusals_and_the_contractor_view(redis_server: EmbeddedRedis) -> None:
    store = _store(redis_server)
    op = _an_operator()

    async def body() -> None:
        async with api_client(store) as client:
            bad = {"contractors": [{"names": ["渡り商事"], "corporate_number": "9011101031553"}]}
            refused = await client.post("/v1/rules", json=bad, headers=JSON)
            assert refused.status == 422
            detail = (await refused.json())["error"]["details"][0]
            assert (detail["item"], detail["field"]) == ("contractors[0]", "corporate_number")
            assert "check digit" in detail["message"]
            unknown = {"add": [{"action": "contract", "prefix": "050-1000", "contractor": "9011101031552"}]}
            assert (
                await client.post("/v1/rules", json=unknown, headers=JSON)
            ).status == 422  # not registered
            change = {
                "contractors": [
                    {
                        "names": ["渡り商事株式会社"],
                        "aliases": ["Watari"],
                        "corporate_number": "9011101031552",
                    }
                ],
                "add": [
                    {"action": "contract", "prefix": "050-1000", "contractor": "9011101031552", "via": op},
                    {"action": "refuse", "contractor": "9011101031552", "reference": "JUSA-2026-31"},
                ],
            }
            response = await client.post("/v1/rules", json=change, headers=JSON)
            assert response.status == 200, await response.text()
            assert (await response.json())["added"][0] == "contractor:9011101031552"
            verdict = await (await client.get("/v1/check/05010001234")).json()
            assert "contractor_refused" in verdict["reasons"], verdict
            assert {r["contractor"] for r in verdict["rules"]} == {"9011101031552"}
            view = await (await client.get("/v1/contractors/9011101031552", headers=AUTH)).json()
            assert view["holds"] == {op: ["0501000"]} and view["refusals"] == [
                "refuse:contractor:9011101031552"
            ]
            assert (await client.get("/v1/contractors/nobody", headers=AUTH)).status == 404
            assert (await client.get("/v1/contractors/9011101031552")).status == 401

    asyncio.run(body())
    store.close()


def test_an_admin_change_behind_a_held_lock_is_answered_in_time(redis_server: EmbeddedRedis) -> None:
    """Another load holds the publish lock (a long import elsewhere): the change fails within
    redis.lock_wait_ms with 503 naming the lock, and nothing of it is written."""
    import time

    from sipcheck.cache.keys import KeySpace

    store = RedisStore(RedisSettings(url=redis_server.url, local_snapshot=False, lock_wait_ms=300))
    store.publish(sample_parts())
    version = store.status().data_version
    store._admin.set(KeySpace.of("sipcheck").lock, "another-load", px=60_000)

    async def body() -> None:
        async with api_client(store) as client:
            started = time.monotonic()
            rule = {"action": "deny", "number": "0352535111"}
            response = await client.post("/v1/rules", json={"add": [rule]}, headers=JSON)
            waited = time.monotonic() - started
            assert response.status == 503, await response.text()
            message = (await response.json())["error"]["message"]
            assert "lock" in message and "nothing was changed" in message
            assert waited < 10  # the 300 ms wait, plus a loaded machine's slack; not the old 120 s

    asyncio.run(body())
    assert store.status().data_version == version and store.part(Component.RULES).records == ()
    store.close()
