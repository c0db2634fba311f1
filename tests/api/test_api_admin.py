"""Data administration: bearer tokens, all-or-nothing uploads, suspension changes, the audit log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from apihelpers import AUTH, OTHER_TOKEN, TOKEN, api_client, api_settings

from sipcheck.api.auth import load_tokens, read_tokens_file
from sipcheck.sample import SAMPLE_DIR
from sipcheck.settings import HttpSettings
from sipcheck.store import MemoryStore

CERTS = (SAMPLE_DIR / "synthetic-certifications.csv").read_bytes()
CSV = {"Content-Type": "text/csv"}


def test_upload_needs_a_valid_token(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            cases = [
                ({}, "missing 'Authorization: Bearer <token>' header"),
                ({"Authorization": "Basic b3BzOnBhc3M="}, "must be 'Bearer <token>'"),
                ({"Authorization": f"Bearer {TOKEN}x"}, "not valid"),
                ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "not valid"),
            ]
            for headers, fragment in cases:
                response = await client.put("/v1/data/certified", data=CERTS, headers={**CSV, **headers})
                assert response.status == 401, headers
                error = (await response.json())["error"]
                assert error["code"] == "unauthorized" and fragment in error["message"], error
            assert store.status().data_version == "1"  # nothing published
            response = await client.put("/v1/data/certified", data=CERTS, headers={**CSV, **AUTH})
            assert response.status == 200, await response.text()
            changes = await client.post(
                "/v1/suspensions",
                data=b"[]",
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {OTHER_TOKEN}"},
            )
            assert changes.status == 200

    asyncio.run(body())


def test_no_tokens_configured_refuses_every_change(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store, api_settings(tokens={})) as client:
            response = await client.put("/v1/data/certified", data=CERTS, headers={**CSV, **AUTH})
            assert response.status == 401
            assert "no tokens are configured" in (await response.json())["error"]["message"]

    asyncio.run(body())


def test_good_upload_publishes_and_is_audited(store: MemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            before = await (await client.get("/v1/data")).json()
            with caplog.at_level(logging.INFO, logger="sipcheck.audit"):
                response = await client.put(
                    "/v1/data/certified",
                    params={"filename": "etoc round 2026.csv"},
                    data=CERTS,
                    headers={**CSV, **AUTH},
                )
            assert response.status == 200, await response.text()
            result = await response.json()
            assert result["component"] == "certifications" and result["rows"] == CERTS.count(b"\n") - 1
            assert result["sources"] == ["etoc_round_2026.csv"]
            assert result["data_version"] != before["data_version"]
            after = await (await client.get("/v1/data")).json()
            assert after["data_version"] == result["data_version"] == response.headers["X-Data-Version"]
            assert after["components"]["certifications"]["version"] == result["data_version"]
            assert after["components"]["blocks"] == before["components"]["blocks"]

    asyncio.run(body())
    audits = [r for r in caplog.records if r.name == "sipcheck.audit"]
    assert len(audits) == 1
    entry = audits[0].__dict__
    assert (entry["who"], entry["event"], entry["rows"]) == (
        "ops",
        "data.publish.certified",
        CERTS.count(b"\n") - 1,
    )
    assert entry["version"] == store.status().data_version
    assert TOKEN not in caplog.text


def test_bad_upload_lists_bad_rows_and_leaves_live_data_untouched(store: MemoryStore) -> None:
    bad = CERTS.replace(b"provisional", b"maybe", 1) + b"sample-x,X,123,certified,2026-13-01,,r\n"

    async def body() -> None:
        async with api_client(store) as client:
            before = await (await client.get("/v1/data")).json()
            verdict_before = await (await client.get("/v1/check/0352535111")).json()
            response = await client.put(
                "/v1/data/certified", params={"filename": "certs.csv"}, data=bad, headers={**CSV, **AUTH}
            )
            assert response.status == 422
            error = (await response.json())["error"]
            assert error["code"] == "import_failed" and "nothing was published" in error["message"]
            rows = error["details"]
            assert len(rows) >= 2
            assert set(rows[0]) == {"file", "line", "field", "value", "message"}
            assert {(r["file"], r["line"], r["value"]) for r in rows} >= {("certs.csv", 3, "maybe")}
            assert await (await client.get("/v1/data")).json() == before
            assert await (await client.get("/v1/check/0352535111")).json() == verdict_before

    asyncio.run(body())


def test_oversized_and_unknown_uploads_change_nothing(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store, api_settings(max_body_bytes=len(CERTS) - 1)) as client:
            before = await (await client.get("/v1/data")).json()
            too_big = await client.put("/v1/data/certified", data=CERTS, headers={**CSV, **AUTH})
            assert too_big.status == 413
            assert (await too_big.json())["error"]["code"] == "body_too_large"

            async def chunks() -> AsyncIterator[bytes]:
                yield CERTS  # no Content-Length: the streaming limit must catch it

            streamed = await client.put("/v1/data/certified", data=chunks(), headers={**CSV, **AUTH})
            assert streamed.status == 413
            media = await client.put(
                "/v1/data/certified", data=b"x", headers={"Content-Type": "image/png", **AUTH}
            )
            assert media.status == 415
            assert "image/png" in (await media.json())["error"]["message"]
            kind = await client.put("/v1/data/blocks", data=b"x", headers={**CSV, **AUTH})
            assert kind.status == 404 and "mic" in (await kind.json())["error"]["message"]
            empty = await client.put("/v1/data/certified", data=b"", headers={**CSV, **AUTH})
            assert empty.status == 400
            assert await (await client.get("/v1/data")).json() == before

    asyncio.run(body())


def test_suspension_changes_apply_and_are_audited(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    changes = [
        {"op": "add", "number": "0352535111", "since": "2026-11-01", "reference": "NPA-1"},
        {"op": "remove", "number": "050-1000-9999"},
        {"op": "remove", "number": "0352530001"},
    ]

    async def body() -> None:
        async with api_client(store) as client:
            with caplog.at_level(logging.INFO, logger="sipcheck.audit"):
                response = await client.post(
                    "/v1/suspensions",
                    data=json.dumps(changes),
                    headers={"Content-Type": "application/json", **AUTH},
                )
            assert response.status == 200, await response.text()
            assert await response.json() == {"added": 1, "removed": 1, "not_found": 1, "data_version": "1"}
            now_blocked = await (await client.get("/v1/check/0352535111")).json()
            assert "suspended" in now_blocked["reasons"]
            released = await (await client.get("/v1/check/05010009999")).json()
            assert "suspended" not in released["reasons"]
            csv_body = b"op,number\nadd,0352535679\nremove,0352535111\n"
            response = await client.post("/v1/suspensions", data=csv_body, headers={**CSV, **AUTH})
            assert (await response.json())["added"] == 1
            bad = [{"op": "add", "number": "0352535670"}, {"op": "add", "number": "035253"}]
            response = await client.post(
                "/v1/suspensions", data=json.dumps(bad), headers={"Content-Type": "application/json", **AUTH}
            )
            assert response.status == 422
            rows = (await response.json())["error"]["details"]
            assert [(r["line"], r["field"], r["value"]) for r in rows] == [("[1]", "number", "035253")]
            untouched = await (await client.get("/v1/check/0352535670")).json()
            assert "suspended" not in untouched["reasons"]  # all or nothing: the good row was not applied

    asyncio.run(body())
    audits = [r.__dict__ for r in caplog.records if r.name == "sipcheck.audit"]
    assert [(a["who"], a["event"], a["rows"], a["added"], a["removed"]) for a in audits] == [
        ("ops", "data.suspensions.change", 3, 1, 1)
    ]


def test_tokens_file_merges_and_rejects_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "tokens"
    good.write_text("# name token\nloader = abcdefghijklmnopqrstu\nbackup zyxwvutsrqponmlkjih\n")
    assert read_tokens_file(good) == {"loader": "abcdefghijklmnopqrstu", "backup": "zyxwvutsrqponmlkjih"}
    merged = load_tokens(HttpSettings(tokens={"ops": TOKEN}, tokens_file=good))
    assert set(merged) == {"ops", "loader", "backup"}
    bad = tmp_path / "bad"
    bad.write_text("ok abcdefghijklmnopqrstu\njustone\n")
    with pytest.raises(ValueError, match=r"bad:2: expected"):
        read_tokens_file(bad)
    with pytest.raises(ValueError, match=r"also set in http\.tokens"):
        load_tokens(HttpSettings(tokens={"loader": TOKEN}, tokens_file=good))
    with pytest.raises(ValueError, match="shorter than 16"):
        load_tokens(HttpSettings(tokens={"short": "abc"}))
