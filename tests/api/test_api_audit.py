"""The durable audit trail over HTTP, against a real Redis: every change recorded with its keys, no secret."""

from __future__ import annotations

import asyncio
import json

from apihelpers import AUTH, TOKEN, api_client

from sipcheck.audit import ChangeRecord, change_record
from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.cache.keys import KeySpace
from sipcheck.sample import SAMPLE_DIR, sample_parts
from sipcheck.settings import RedisSettings

JSON = {"Content-Type": "application/json", **AUTH}
CERTS = (SAMPLE_DIR / "synthetic-certifications.csv").read_bytes()


def test_every_change_is_recorded_with_who_where_versions_and_keys(redis_server: EmbeddedRedis) -> None:
    store = RedisStore(RedisSettings(url=redis_server.url, local_snapshot=False))
    first = store.publish(sample_parts())

    async def body() -> None:
        async with api_client(store) as client:
            upload = await client.put(
                "/v1/data/certified", data=CERTS, headers={"Content-Type": "text/csv", **AUTH}
            )
            assert upload.status == 200, await upload.text()
            changes = [
                {"op": "add", "number": "0352535111", "reference": "NPA-1"},
                {"op": "remove", "number": "0352530001"},
            ]
            assert (
                await client.post("/v1/suspensions", data=json.dumps(changes), headers=JSON)
            ).status == 200
            rule = {"action": "suspend", "prefix": "050-1000", "reference": "NPA-2"}
            assert (await client.post("/v1/rules", json={"add": [rule]}, headers=JSON)).status == 200
            response = await client.get("/v1/audit", headers=AUTH)
            assert response.status == 200
            records = (await response.json())["records"]
            assert [r["kind"] for r in records] == [
                "data.publish.certified",
                "data.suspensions.change",
                "rules.change",
            ]
            assert {r["who"] for r in records} == {"ops"} and all(
                r["origin"].startswith("http ") for r in records
            )
            assert (
                records[0]["version_before"] == first
                and records[0]["counts"]["rows"] == CERTS.count(b"\n") - 1
            )
            assert records[1]["keys"] == ["+81352535111", "+81352530001"] and records[1]["references"] == [
                "NPA-1"
            ]
            assert (
                records[2]["keys"] == ["suspend:prefix:0501000"]
                and records[2]["version_before"] == records[1]["version_after"]
            )
            by_number = await (
                await client.get("/v1/audit", params={"number": "03-5253-5111"}, headers=AUTH)
            ).json()
            assert [r["kind"] for r in by_number["records"]] == ["data.suspensions.change"]
            covered = await (
                await client.get("/v1/audit", params={"number": "05010001234"}, headers=AUTH)
            ).json()
            assert [r["kind"] for r in covered["records"]] == ["rules.change"]  # the rule covers it
            kinds = await (await client.get("/v1/audit", params={"kind": "data"}, headers=AUTH)).json()
            assert len(kinds["records"]) == 2
            assert (await client.get("/v1/audit")).status == 401
            assert (await client.get("/v1/audit", params={"limit": "0"}, headers=AUTH)).status == 400
            assert (await client.get("/v1/audit", params={"since": "yesterday"}, headers=AUTH)).status == 400

    asyncio.run(body())
    raw = store._admin.xrange(KeySpace.of("sipcheck").audit)  # what is stored, byte for byte
    assert len(raw) == 3 and TOKEN not in json.dumps(raw)
    store.close()


def test_the_trail_survives_the_process_and_keeps_its_retention(redis_server: EmbeddedRedis) -> None:
    from datetime import UTC, datetime

    store = RedisStore(RedisSettings(url=redis_server.url, local_snapshot=False, audit_retention_days=30))
    keys = KeySpace.of("sipcheck")
    old = change_record(
        at=datetime(2020, 1, 1, tzinfo=UTC),
        who="x",
        origin="cli h",
        kind="rules.change",
        version_before="1",
        version_after="2",
    )
    store._admin.xadd(keys.audit, {"r": old.encode()}, id="1577836800000-0")  # written in 2020
    now = datetime.now(UTC)
    new = change_record(
        at=now, who="y", origin="cli h", kind="rules.change", version_before="2", version_after="3"
    )
    store.append_audit(new)
    store.close()
    again = RedisStore(RedisSettings(url=redis_server.url, local_snapshot=False))
    records = again.read_audit(None, 100)
    assert [r.who for r in records] == ["y"]  # the 2020 record is past the 30-day retention
    assert isinstance(records[0], ChangeRecord) and records[0].id
    again.close()
