"""The OpenAPI 3.1 document and the human ``/docs`` page, both built from `routes.ROUTES`.

Built once at start-up and served as bytes. The page is plain HTML with no
scripts or CDN (the service runs on machines without internet access).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

from sipcheck import __version__
from sipcheck.api.errors import ERROR_CODES
from sipcheck.api.routes import JSON, Route, ref
from sipcheck.model import Component, RuleAction, RuleScope
from sipcheck.numbers import NumberKind
from sipcheck.verdict import Action, Reason

_NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Verdict": {
        "type": "object",
        "required": ["input", "action", "reasons", "number", "error", "operators", "data_version", "sip"],
        "properties": {
            "input": {"type": "string", "description": "the number as given"},
            "action": {"enum": [a.value for a in Action]},
            "reasons": {"type": "array", "items": {"enum": [r.value for r in Reason]}},
            "number": {
                "type": ["object", "null"],
                "properties": {
                    "e164": {"type": "string"},
                    "national": _NULLABLE_STR,
                    "kind": {"enum": [k.value for k in NumberKind]},
                    "block": _NULLABLE_STR,
                    "privacy": {"enum": ["withhold", "present", None]},
                },
            },
            "error": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "operators": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"enum": ["designated", "serving", "ingress"]},
                        "id": _NULLABLE_STR,
                        "name": {"type": "string"},
                        "status": {"enum": ["certified", "provisional", "expired", "revoked", "uncertified"]},
                        "round": _NULLABLE_STR,
                        "valid_until": _NULLABLE_STR,
                    },
                },
            },
            "rules": {
                "type": "array",
                "description": "the rules in force that gave a reason (range/stock suspensions, override)",
                "items": ref("Rule"),
            },
            "data_version": {"type": "string"},
            "sip": {
                "type": "object",
                "properties": {
                    "action": {"enum": ["reject", "continue"]},
                    "code": {"type": ["integer", "null"]},
                    "reason_phrase": _NULLABLE_STR,
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
    "BatchRequest": {
        "oneOf": [
            {
                "type": "object",
                "required": ["numbers"],
                "additionalProperties": False,
                "properties": {
                    "numbers": {"type": "array", "items": {"type": "string"}},
                    "ingress": {"type": "string"},
                },
            },
            {"type": "array", "items": {"type": "string"}},
        ]
    },
    "BatchResponse": {
        "type": "object",
        "required": ["data_version", "count", "verdicts"],
        "properties": {
            "data_version": {"type": "string"},
            "count": {"type": "integer"},
            "verdicts": {"type": "array", "items": ref("Verdict")},
        },
    },
    "DataStatus": {
        "type": "object",
        "required": [
            "data_version",
            "backend",
            "complete",
            "missing",
            "coverage",
            "components",
            "today",
            "max_age_days",
            "stale",
        ],
        "properties": {
            "data_version": {"type": "string"},
            "backend": {"type": "string"},
            "complete": {
                "type": "boolean",
                "description": "blocks, certifications and suspensions are all loaded; until then every "
                "check answers by the fail policy (data_unavailable)",
            },
            "missing": {"type": "array", "items": {"enum": [c.value for c in Component]}},
            "today": {
                "type": "string",
                "format": "date",
                "description": "the JST date freshness is judged on",
            },
            "max_age_days": {"type": "integer", "description": "data.max_age_days"},
            "stale": {
                "type": "array",
                "items": {"type": "string"},
                "description": "covered ranges whose designation data is older than max_age_days",
            },
            "coverage": {
                "type": "array",
                "description": "the designation ranges the blocks cover: outside them a number's designation "
                "is unknown (designation_unknown); inside, a block without a record was never issued",
                "items": {
                    "type": "object",
                    "required": ["range", "kind", "blocks", "operator_unknown", "as_of", "source"],
                    "properties": {
                        "range": {"type": "string", "examples": ["03", "050", "0200"]},
                        "kind": {"type": "string"},
                        "blocks": {"type": "integer"},
                        "operator_unknown": {"type": "integer"},
                        "as_of": {"type": "string", "format": "date"},
                        "operators_as_of": {"type": ["string", "null"], "format": "date"},
                        "source": {"type": "string"},
                        "age_days": {"type": "integer"},
                        "stale": {"type": "boolean"},
                    },
                },
            },
            "components": {
                "type": "object",
                "propertyNames": {"enum": [c.value for c in Component]},
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "version": {"type": "string"},
                        "count": {"type": "integer"},
                        "as_of": {"type": ["string", "null"], "format": "date"},
                        "loaded_at": {"type": ["string", "null"], "format": "date-time"},
                        "sources": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "PublishResult": {
        "type": "object",
        "required": ["kind", "component", "rows", "data_version"],
        "properties": {
            "kind": {"type": "string"},
            "component": {"enum": [c.value for c in Component]},
            "rows": {"type": "integer"},
            "data_version": {"type": "string"},
            "as_of": {"type": ["string", "null"], "format": "date"},
            "sources": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Rule": {
        "type": "object",
        "required": ["id", "action", "scope", "target"],
        "properties": {
            "id": {"type": "string", "description": "action:scope:target; the same rule added twice is one"},
            "action": {"enum": [a.value for a in RuleAction]},
            "scope": {"enum": [s.value for s in RuleScope]},
            "target": {"type": "string"},
            "reason": _NULLABLE_STR,
            "reference": _NULLABLE_STR,
            "source": _NULLABLE_STR,
            "author": _NULLABLE_STR,
            "created": _NULLABLE_STR,
            "until": _NULLABLE_STR,
            "contractor": _NULLABLE_STR,
            "via": _NULLABLE_STR,
        },
    },
    "RuleInput": {
        "type": "object",
        "required": ["action"],
        "additionalProperties": False,
        "description": "exactly one of number, prefix, from+to, operator",
        "properties": {
            "action": {"enum": [a.value for a in RuleAction if a is not RuleAction.NOTE]},
            "number": {"type": "string", "example": "03-5253-5111"},
            "prefix": {"type": "string", "example": "050-1000"},
            "from": {"type": "string", "example": "0352535000"},
            "to": {"type": "string", "example": "0352535999"},
            "operator": {"type": "string", "description": "an operator id (stock suspension only)"},
            "contractor": {
                "type": "string",
                "description": "a registered contractor (contract, refuse, suspend)",
            },
            "via": {
                "type": "string",
                "description": "contract only: the operator id the contractor holds it through",
            },
            "reason": {"type": "string"},
            "reference": {"type": "string", "description": "required for a suspension (the police request)"},
            "source": {"type": "string"},
            "until": {"type": "string", "format": "date", "description": "last JST day in force"},
        },
    },
    "RuleChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "add": {"type": "array", "items": ref("RuleInput")},
            "remove": {
                "type": "array",
                "items": {"type": "string"},
                "description": "rule ids, contractor:<id>",
            },
            "contractors": {"type": "array", "items": ref("ContractorInput")},
        },
    },
    "ContractorInput": {
        "type": "object",
        "required": ["names"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "description": "default: the corporate number"},
            "names": {"type": "array", "items": {"type": "string"}},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "corporate_number": {
                "type": "string",
                "description": "13 digits (法人番号), check digit verified",
            },
        },
    },
    "ContractorView": {
        "type": "object",
        "required": ["id", "names", "holds", "refusals", "suspensions", "rules"],
        "properties": {
            "id": {"type": "string"},
            "names": {"type": "array", "items": {"type": "string"}},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "corporate_number": _NULLABLE_STR,
            "holds": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "refusals": {"type": "array", "items": {"type": "string"}},
            "suspensions": {"type": "array", "items": {"type": "string"}},
            "rules": {"type": "array", "items": {"type": "string"}},
        },
    },
    "RuleChangeResult": {
        "type": "object",
        "required": ["added", "removed", "total", "data_version"],
        "properties": {
            "added": {"type": "array", "items": {"type": "string"}},
            "removed": {"type": "array", "items": {"type": "string"}},
            "total": {"type": "integer"},
            "data_version": {"type": "string"},
        },
    },
    "AuditRecord": {
        "type": "object",
        "required": ["at", "who", "origin", "kind", "version_before", "version_after", "counts", "keys"],
        "properties": {
            "id": _NULLABLE_STR,
            "at": {"type": "string"},
            "who": {"type": "string", "description": "a token's name or user@host; never a secret"},
            "origin": {"type": "string"},
            "kind": {"type": "string"},
            "version_before": {"type": "string"},
            "version_after": {"type": "string"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "keys": {"type": "array", "items": {"type": "string"}},
            "keys_total": {"type": "integer"},
            "references": {"type": "array", "items": {"type": "string"}},
            "sources": {"type": "array", "items": {"type": "string"}},
        },
    },
    "AuditList": {
        "type": "object",
        "required": ["records"],
        "properties": {"records": {"type": "array", "items": ref("AuditRecord")}},
    },
    "RuleList": {
        "type": "object",
        "required": ["rules", "data_version"],
        "properties": {"rules": {"type": "array", "items": ref("Rule")}, "data_version": {"type": "string"}},
    },
    "SuspensionChange": {
        "type": "object",
        "required": ["op", "number"],
        "properties": {
            "op": {"enum": ["add", "remove"]},
            "number": {"type": "string"},
            "since": {"type": "string", "description": "date or date-time (JST if no offset)"},
            "reference": {"type": "string"},
            "source": {"type": "string"},
        },
    },
    "SuspensionResult": {
        "type": "object",
        "required": ["added", "removed", "not_found", "data_version"],
        "properties": {
            "added": {"type": "integer"},
            "removed": {"type": "integer"},
            "not_found": {"type": "integer", "description": "numbers to remove that were not suspended"},
            "data_version": {"type": "string"},
        },
    },
    "Ready": {
        "type": "object",
        "properties": {
            "status": {"const": "ready"},
            "data_version": {"type": "string"},
            "records": {"type": "object", "additionalProperties": {"type": "integer"}},
            "data_stale": {
                "type": "boolean",
                "description": "a covered range's designation data is older than max_age_days (still ready)",
            },
            "stale_ranges": {"type": "array", "items": {"type": "string"}},
            "max_age_days": {"type": "integer"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"enum": sorted(ERROR_CODES)},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "description": "for import_failed: the bad rows (file, line, field, value, message)",
                        "items": {"type": "object"},
                    },
                },
            }
        },
    },
}


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary, "tags": [route.tag]}
    if route.params:
        op["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": {"type": "string"},
                **({"example": p.example} if p.example is not None else {}),
            }
            for p in route.params
        ]
    if route.body is not None:
        op["requestBody"] = {
            "description": route.body.description,
            "required": route.body.required,
            "content": route.body.content,
        }
    responses: dict[str, Any] = {}
    for status, (description, media, schema) in route.responses.items():
        responses[str(status)] = {"description": description, "content": {media: {"schema": schema}}}
    by_status: dict[int, list[str]] = {}
    for code in route.errors:
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = {
            "description": "; ".join(f"{c}: {ERROR_CODES[c][1]}" for c in codes),
            "content": {JSON: {"schema": ref("Error")}},
        }
    op["responses"] = responses
    if route.auth:
        op["security"] = [{"bearer": []}]
    return op


def build_openapi(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sipcheck HTTP API",
            "version": __version__,
            "description": "Screen Japanese calling numbers against MIC block designations, the ETOC "
            "certified-operator list and the number suspension feed. Errors are JSON with a stable code.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def openapi_bytes(routes: Iterable[Route]) -> bytes:
    return json.dumps(build_openapi(routes), ensure_ascii=False, indent=1).encode()


def _curl(route: Route, base: str) -> str:
    path = route.path
    query = ""
    for p in route.params:
        if p.where == "path" and p.example:
            path = path.replace("{" + p.name + "}", p.example)
    auth = " -H 'Authorization: Bearer $TOKEN'" if route.auth else ""
    if route.method == "GET":
        if route.path.startswith("/v1/check/"):
            query = "?ingress=trunk-a"
        return f"curl -s '{base}{path}{query}'{auth}"
    if route.operation_id == "checkBatch":
        return (
            f"curl -s{auth} -H 'Content-Type: application/json' "
            f'-d \'{{"numbers": ["0352535111", "05012345678"]}}\' {base}{path}'
        )
    if route.operation_id == "uploadComponent":
        return (
            f"curl -s -X PUT{auth} -H 'Content-Type: text/csv' --data-binary @certifications.csv {base}{path}"
        )
    return f"curl -s{auth} -H 'Content-Type: application/json' --data-binary @changes.json {base}{path}"


def docs_page(routes: Iterable[Route], base: str) -> str:
    """A plain page: every endpoint, whether it needs a token, and a curl line to try it."""
    rows = []
    for route in routes:
        lock = " (bearer token)" if route.auth else ""
        rows.append(
            f"<h3><code>{route.method} {html.escape(route.path)}</code>{lock}</h3>"
            f"<p>{html.escape(route.summary)}</p><pre>{html.escape(_curl(route, base))}</pre>"
        )
    errors = "".join(
        f"<tr><td><code>{code}</code></td><td>{status}</td><td>{html.escape(text)}</td></tr>"
        for code, (status, text) in ERROR_CODES.items()
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>sipcheck HTTP API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}td{padding:.2em .8em}</style></head><body>"
        "<h1>sipcheck HTTP API</h1>"
        "<p>Machine-readable description: <a href=/openapi.json>/openapi.json</a> (OpenAPI 3.1). "
        "Verdicts are the same JSON as <code>sipcheck check --json</code>; every answer carries the data "
        "version (<code>data_version</code>, header <code>X-Data-Version</code>).</p>"
        + "".join(rows)
        + '<h2>Errors</h2><p>Every error is <code>{"error": {"code", "message", "details"?}}</code>.'
        "</p><table><tr><th>code</th><th>HTTP</th><th>meaning</th></tr>" + errors + "</table></body></html>"
    )
