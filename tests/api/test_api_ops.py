"""Operations endpoints: liveness, readiness, metrics, and an OpenAPI document that matches the router."""

from __future__ import annotations

import asyncio

from apihelpers import api_client

from sipcheck.api.errors import CATCH_ALL_NAME
from sipcheck.api.routes import ROUTES
from sipcheck.store import MemoryStore


def _samples(text: str, name: str) -> dict[str, float]:
    """Prometheus text → {series: value} for the lines of one metric family."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            found[series] = float(value)
    return found


def test_healthz_and_readyz_on_memory(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            assert await (await client.get("/healthz")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status == 200
            data = await ready.json()
            assert data["status"] == "ready" and data["records"]["blocks"] > 0
            # 0120/0800 designations in the built-in data are from 2024-09-16: stale, yet ready.
            assert data["data_stale"] is True and data["stale_ranges"] == ["0120", "0800"]
        async with api_client(MemoryStore()) as client:
            empty = await client.get("/readyz")
            assert empty.status == 503
            error = (await empty.json())["error"]
            assert error["code"] == "not_ready" and "no complete data set" in error["message"]
            assert (await client.get("/healthz")).status == 200

    asyncio.run(body())


def test_metrics_count_checks_by_action_and_reason(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            for number in ("0352535111", "0352535111", "050-1000-9999", "12"):
                await client.get(f"/v1/check/{number}")
            await client.post("/v1/check", json={"numbers": ["0352535111", "12"]})
            response = await client.get("/metrics")
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        checks = _samples(text, "sipcheck_checks_total")
        assert checks == {
            'sipcheck_checks_total{action="allow"}': 3.0,
            'sipcheck_checks_total{action="flag"}': 0.0,
            'sipcheck_checks_total{action="block"}': 3.0,
        }
        reasons = _samples(text, "sipcheck_check_reasons_total")
        assert reasons['sipcheck_check_reasons_total{reason="suspended"}'] == 1.0
        assert reasons['sipcheck_check_reasons_total{reason="invalid_number"}'] == 2.0
        latency = _samples(text, "sipcheck_check_duration_seconds_count")
        assert latency == {
            'sipcheck_check_duration_seconds_count{endpoint="single"}': 4.0,
            'sipcheck_check_duration_seconds_count{endpoint="batch"}': 1.0,
        }
        assert _samples(text, "sipcheck_batch_numbers_total") == {"sipcheck_batch_numbers_total": 2.0}
        assert _samples(text, "sipcheck_data_version") == {"sipcheck_data_version": 1.0}
        records = _samples(text, "sipcheck_data_records")
        assert records['sipcheck_data_records{component="blocks"}'] == store.status().components[0].count
        assert 'sipcheck_data_age_seconds{component="suspensions"}' in text
        for family in (
            "sipcheck_store_errors_total",
            "sipcheck_store_timeouts_total",
            "sipcheck_store_breaker_state",
        ):
            assert family in text

    asyncio.run(body())


def test_openapi_documents_exactly_the_served_routes(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            served = {
                (route.method, route.resource.canonical)
                for route in client.app.router.routes()
                if route.resource is not None and route.method != "HEAD" and route.name != CATCH_ALL_NAME
            }
            document = await (await client.get("/openapi.json")).json()
            documented = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}
            assert served == documented
            assert document["openapi"].startswith("3.1")
            schemas = document["components"]["schemas"]
            for ops in document["paths"].values():
                for op in ops.values():
                    for response in op["responses"].values():
                        for media in response["content"].values():
                            ref = media["schema"].get("$ref")
                            if ref:
                                assert ref.rsplit("/", 1)[1] in schemas, ref
            # A real verdict has exactly the documented fields.
            verdict = await (await client.get("/v1/check/0352535111")).json()
            assert set(verdict) == set(schemas["Verdict"]["properties"])
            assert set(verdict["number"]) == set(schemas["Verdict"]["properties"]["number"]["properties"])
            assert set(verdict["sip"]) == set(schemas["Verdict"]["properties"]["sip"]["properties"])
            status = await (await client.get("/v1/data")).json()
            assert set(status) == set(schemas["DataStatus"]["properties"])
            secured = {
                op["operationId"]
                for ops in document["paths"].values()
                for op in ops.values()
                if "security" in op
            }
            assert (
                secured
                == {r.operation_id for r in ROUTES if r.auth}
                == {
                    "uploadComponent",
                    "changeSuspensions",
                    "listRules",
                    "changeRules",
                    "readAudit",
                    "showContractor",
                }
            )
            page = await client.get("/docs")
            assert page.content_type == "text/html"
            html = await page.text()
            for route in ROUTES:
                assert f"{route.method} {route.path}" in html
            assert "http" not in html.split("<body>")[0].replace("http-equiv", "")  # no external assets

    asyncio.run(body())


def test_data_endpoint_and_metrics_carry_coverage_and_freshness(store: MemoryStore) -> None:
    async def body() -> None:
        async with api_client(store) as client:
            data = await (await client.get("/v1/data")).json()
            text = await (await client.get("/metrics")).text()
        rows = {row["range"]: row for row in data["coverage"]}
        assert data["today"] == "2026-08-01" and data["max_age_days"] == 60
        assert data["complete"] is True and data["stale"] == ["0120", "0800"]
        assert rows["090"] == {
            "range": "090",
            "kind": "mobile",
            "blocks": 900,
            "operator_unknown": 0,
            "as_of": "2026-07-04",
            "operators_as_of": None,
            "source": rows["090"]["source"],
            "age_days": 28,
            "stale": False,
        }
        assert "mic-designations-2026.csv" in rows["090"]["source"]
        assert 'sipcheck_designation_age_days{range="090"} 28.0' in text
        assert 'sipcheck_designation_stale{range="0120"} 1.0' in text
        assert 'sipcheck_designation_stale{range="03"} 0.0' in text
        assert 'sipcheck_designation_blocks{range="0200"} 610.0' in text
        assert "sipcheck_data_complete 1.0" in text

    asyncio.run(body())
