"""The one table of routes: the app's router and the OpenAPI document are both built from it.

A route added here is served *and* documented; a test checks that the app's
router and ``/openapi.json`` list exactly the same operations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from sipcheck.api import admin, check, ops, rules
from sipcheck.api.context import Api

Handler = Callable[[Api, web.Request], Awaitable[web.StreamResponse]]

JSON: Final = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # "path" | "query"
    description: str
    required: bool = False
    example: str | None = None


@dataclass(frozen=True, slots=True)
class Body:
    description: str
    content: dict[str, dict[str, Any]]  # media type -> {"schema": ..., "example": ...}
    required: bool = True


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    auth: bool = False
    params: tuple[Param, ...] = ()
    body: Body | None = None
    # status -> (description, media type, schema); error statuses refer to the Error schema.
    responses: dict[int, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()  # error codes this route can answer with (see errors.ERROR_CODES)


_CHANGE_EXAMPLE = [
    {"op": "add", "number": "+81312345678", "since": "2026-11-01T09:00:00+09:00", "reference": "NPA-123"},
    {"op": "remove", "number": "09012345678"},
]

ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "GET",
        "/v1/check/{number}",
        check.check_one,
        "checkNumber",
        "Screen one calling number",
        "decision",
        params=(
            Param(
                "number",
                "path",
                "the calling number in any accepted shape (URL-encode '+' as %2B)",
                True,
                "0352535111",
            ),
            Param(
                "ingress",
                "query",
                "the ingress peer (trunk id or address) that handed over the call",
                False,
                "trunk-a",
            ),
            Param(
                "call_id",
                "query",
                "the call's id (SIP Call-ID), written to the decision log when decisions.dir is set",
                False,
                "a84b4c76e66710@pc33.example.com",
            ),
        ),
        responses={200: ("the verdict (same object as `sipcheck check --json`)", JSON, ref("Verdict"))},
        errors=("store_unavailable",),
    ),
    Route(
        "POST",
        "/v1/check",
        check.check_batch,
        "checkBatch",
        "Screen a batch of numbers (at most http.batch_limit)",
        "decision",
        body=Body(
            "the numbers, and optionally one ingress peer for all of them",
            {
                JSON: {
                    "schema": ref("BatchRequest"),
                    "example": {"numbers": ["0352535111", "+815010001234"], "ingress": "trunk-a"},
                }
            },
        ),
        responses={200: ("one verdict per number, in request order", JSON, ref("BatchResponse"))},
        errors=("invalid_json", "bad_request", "batch_too_large", "body_too_large", "store_unavailable"),
    ),
    Route(
        "GET",
        "/v1/data",
        admin.data_status,
        "dataStatus",
        "Data version, and each component's version, record count and as-of date",
        "data",
        responses={200: ("the live data status", JSON, ref("DataStatus"))},
        errors=("store_unavailable",),
    ),
    Route(
        "PUT",
        "/v1/data/{kind}",
        admin.upload_component,
        "uploadComponent",
        "Replace one data component with an uploaded data set (all or nothing; MIC files replace the "
        "ranges they cover)",
        "data",
        auth=True,
        params=(
            Param(
                "kind",
                "path",
                "mic | certified | suspended | operators | trunks | wholesale (as in `sipcheck load`)",
                True,
                "certified",
            ),
            Param("format", "query", "csv | json | xlsx | xls, when Content-Type does not say", False, "csv"),
            Param("filename", "query", "the file name to quote in row errors", False, "etoc-2026-02.csv"),
        ),
        body=Body(
            "the file as the importers read it (one raw body, or several multipart/form-data files)",
            {
                "text/csv": {"schema": {"type": "string"}},
                JSON: {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                },
                "application/vnd.ms-excel": {
                    "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                        },
                    }
                },
            },
        ),
        responses={200: ("published: the new data version", JSON, ref("PublishResult"))},
        errors=(
            "unauthorized",
            "not_found",
            "bad_request",
            "body_too_large",
            "unsupported_media_type",
            "import_failed",
            "store_unavailable",
        ),
    ),
    Route(
        "POST",
        "/v1/suspensions",
        admin.change_suspensions,
        "changeSuspensions",
        "Add and remove suspended numbers incrementally (all or nothing)",
        "data",
        auth=True,
        params=(Param("format", "query", "csv | json, when Content-Type does not say", False, "json"),),
        body=Body(
            "changes: rows with op (add | remove), number, and for adds optionally since, reference, source",
            {
                JSON: {
                    "schema": {"type": "array", "items": ref("SuspensionChange")},
                    "example": _CHANGE_EXAMPLE,
                },
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "op,number,since,reference\nadd,0352535678,2026-11-01,NPA-123\n",
                },
            },
        ),
        responses={200: ("applied", JSON, ref("SuspensionResult"))},
        errors=(
            "unauthorized",
            "bad_request",
            "body_too_large",
            "unsupported_media_type",
            "import_failed",
            "store_unavailable",
        ),
    ),
    Route(
        "GET",
        "/v1/rules",
        rules.list_rules,
        "listRules",
        "The live range and stock suspensions and overrides",
        "data",
        auth=True,
        responses={200: ("the rules, by id", JSON, ref("RuleList"))},
        errors=("unauthorized", "store_unavailable"),
    ),
    Route(
        "POST",
        "/v1/rules",
        rules.change_rules,
        "changeRules",
        "Add and remove range/stock suspensions and overrides (all or nothing, in force at once everywhere)",
        "data",
        auth=True,
        body=Body(
            "rules to add (exactly one of number, prefix, from+to, operator each) and rule ids to remove",
            {
                JSON: {
                    "schema": ref("RuleChange"),
                    "example": {
                        "add": [
                            {"action": "suspend", "prefix": "050-1000", "reference": "NPA-2026-0412"},
                            {"action": "suspend", "operator": "op-example", "reference": "NPA-2026-0413"},
                            {
                                "action": "allow",
                                "number": "03-5253-5111",
                                "reason": "false positive",
                                "until": "2026-12-31",
                            },
                        ],
                        "remove": ["deny:prefix:0501234"],
                    },
                }
            },
        ),
        responses={200: ("applied", JSON, ref("RuleChangeResult"))},
        errors=(
            "unauthorized",
            "invalid_json",
            "bad_request",
            "invalid_items",
            "body_too_large",
            "store_unavailable",
        ),
    ),
    Route(
        "GET",
        "/v1/contractors/{id}",
        rules.show_contractor,
        "showContractor",
        "Everything known about one contractor across operators: ranges held, refusals, suspensions",
        "data",
        auth=True,
        params=(
            Param(
                "id", "path", "the contractor id (its corporate number where known)", True, "9011101031552"
            ),
        ),
        responses={200: ("the contractor", JSON, ref("ContractorView"))},
        errors=("unauthorized", "not_found", "store_unavailable"),
    ),
    Route(
        "GET",
        "/v1/audit",
        rules.read_audit,
        "readAudit",
        "The audit trail: every data change with who, when, from where, versions, counts and keys",
        "data",
        auth=True,
        params=(
            Param("since", "query", "ISO date or date-time (naive = JST)", False, "2026-12-01"),
            Param(
                "kind",
                "query",
                "a kind or dotted prefix (data.publish, data.suspensions, rules)",
                False,
                "rules",
            ),
            Param(
                "number",
                "query",
                "only changes naming this number or a rule covering it",
                False,
                "0352535111",
            ),
            Param("limit", "query", "newest records to read (1..10000, default 1000)", False, "100"),
        ),
        responses={200: ("the records, oldest first", JSON, ref("AuditList"))},
        errors=("unauthorized", "bad_request", "store_unavailable"),
    ),
    Route(
        "GET",
        "/healthz",
        ops.healthz,
        "healthz",
        "Liveness: the process serves HTTP",
        "operations",
        responses={200: ("alive", JSON, {"type": "object", "properties": {"status": {"const": "ok"}}})},
    ),
    Route(
        "GET",
        "/readyz",
        ops.readyz,
        "readyz",
        "Readiness: the store (Redis) answers and holds a complete data set; stale data is reported",
        "operations",
        responses={200: ("ready", JSON, ref("Ready"))},
        errors=("not_ready",),
    ),
    Route(
        "GET",
        "/metrics",
        ops.metrics,
        "metrics",
        "Prometheus metrics (text exposition format)",
        "operations",
        responses={200: ("metrics", "text/plain", {"type": "string"})},
    ),
    Route(
        "GET",
        "/openapi.json",
        ops.openapi,
        "openapi",
        "This OpenAPI 3.1 document",
        "operations",
        responses={200: ("the document", JSON, {"type": "object"})},
    ),
    Route(
        "GET",
        "/docs",
        ops.docs,
        "docs",
        "A short human page listing the endpoints with curl examples",
        "operations",
        responses={200: ("HTML", "text/html", {"type": "string"})},
    ),
)
