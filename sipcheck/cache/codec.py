"""How records are written into Redis hash values, and read back.

Values are compact and readable by a routing engine without Python: a block is
``kind<US>in_use<US>operator reference`` (US = ASCII unit separator 0x1f), so
the Lua script and a Kamailio ``ndb_redis`` route can split it; small records
(operators, certifications, resolved operators) are JSON. A suspension is ``""``
when it carries no detail (the common case, and the cheapest to store a million
of), else a JSON list ``[since, reference, source]``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sipcheck.model import (
    Block,
    Certification,
    CertStatus,
    Component,
    Contractor,
    CoverageRow,
    Operator,
    Part,
    RangeCoverage,
    Record,
    ResolvedOperator,
    Rule,
    RuleAction,
    RuleScope,
    Suspension,
    Trunk,
    Wholesale,
    coverage_counts,
    coverage_table,
)
from sipcheck.numbers import NumberKind
from sipcheck.rules import contractor_key
from sipcheck.store import StoreError

US = "\x1f"
CONTRACTOR_PREFIX = contractor_key("")  # "contractor:": rule ids start with an action, never with this


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def encode_block(block: Block) -> str:
    if US in block.operator:
        raise StoreError(f"block {block.prefix}: operator reference contains the separator 0x1f")
    return f"{block.kind.value}{US}{1 if block.in_use else 0}{US}{block.operator}"


def decode_block(prefix: str, value: str) -> Block:
    kind, in_use, operator = value.split(US, 2)
    return Block(prefix, NumberKind(kind), operator, in_use == "1")


def certification_dict(cert: Certification) -> dict[str, Any]:
    return {
        "operator": cert.operator,
        "status": cert.status.value,
        "valid_from": _iso(cert.valid_from),
        "valid_until": _iso(cert.valid_until),
        "round": cert.round,
        "name": cert.name,
        "corporate_number": cert.corporate_number,
    }


def certification_from(raw: dict[str, Any]) -> Certification:
    return Certification(
        operator=raw["operator"],
        status=CertStatus(raw["status"]),
        valid_from=_date(raw.get("valid_from")),
        valid_until=_date(raw.get("valid_until")),
        round=raw.get("round"),
        name=raw.get("name"),
        corporate_number=raw.get("corporate_number"),
    )


def encode_operator(op: Operator) -> str:
    return json.dumps(
        {"id": op.id, "name": op.name, "aliases": list(op.aliases), "corporate_number": op.corporate_number},
        ensure_ascii=False,
    )


def decode_operator(value: str) -> Operator:
    raw = json.loads(value)
    return Operator(raw["id"], raw["name"], tuple(raw.get("aliases") or ()), raw.get("corporate_number"))


def encode_resolved(op: ResolvedOperator) -> str:
    cert = certification_dict(op.certification) if op.certification is not None else None
    return json.dumps({"id": op.id, "name": op.name, "cert": cert}, ensure_ascii=False)


def decode_resolved(value: str) -> ResolvedOperator:
    raw = json.loads(value)
    cert = certification_from(raw["cert"]) if raw.get("cert") else None
    return ResolvedOperator(raw["id"], raw["name"], cert)


def encode_suspension(s: Suspension) -> str:
    if s.since is None and s.reference is None and s.source is None:
        return ""
    return json.dumps([_iso(s.since), s.reference, s.source], ensure_ascii=False)


def decode_suspension(number: str, value: str) -> Suspension:
    if not value:
        return Suspension(number)
    since, reference, source = json.loads(value)
    return Suspension(number, _datetime(since), reference, source)


def encode_rule(rule: Rule) -> str:
    return json.dumps(
        {
            "action": rule.action.value,
            "scope": rule.scope.value,
            "target": rule.target,
            "prefixes": list(rule.prefixes),
            "operator": rule.operator,
            "reason": rule.reason,
            "reference": rule.reference,
            "source": rule.source,
            "author": rule.author,
            "created": _iso(rule.created),
            "until": _iso(rule.until),
            "contractor": rule.contractor,
        },
        ensure_ascii=False,
    )


def decode_rule(rule_id: str, value: str) -> Rule:
    raw = json.loads(value)
    return Rule(
        rule_id,
        RuleAction(raw["action"]),
        RuleScope(raw["scope"]),
        raw["target"],
        tuple(raw.get("prefixes") or ()),
        raw.get("operator") or "",
        raw.get("reason") or "",
        raw.get("reference"),
        raw.get("source"),
        raw.get("author"),
        _datetime(raw.get("created")),
        _date(raw.get("until")),
        raw.get("contractor") or "",
    )


def encode_contractor(contractor: Contractor) -> str:
    return json.dumps(
        {
            "type": "contractor",
            "id": contractor.id,
            "names": list(contractor.names),
            "corporate_number": contractor.corporate_number,
            "aliases": list(contractor.aliases),
        },
        ensure_ascii=False,
    )


def decode_contractor(value: str) -> Contractor:
    raw = json.loads(value)
    return Contractor(
        raw["id"], tuple(raw["names"]), raw.get("corporate_number"), tuple(raw.get("aliases") or ())
    )


def encode_meta(part: Part, count: int) -> str:
    """A component's metadata; for blocks also its coverage and the coverage table's counts
    (so `status` need not read 30,000 blocks to print them)."""
    meta: dict[str, Any] = {
        "count": count,
        "as_of": _iso(part.as_of),
        "loaded_at": _iso(part.loaded_at),
        "sources": list(part.sources),
    }
    if part.coverage:
        meta["coverage"] = [
            {
                "range": c.range,
                "as_of": c.as_of.isoformat(),
                "source": c.source,
                "operators_as_of": _iso(c.operators_as_of),
            }
            for c in part.coverage
        ]
        meta["coverage_counts"] = {key: list(pair) for key, pair in coverage_counts(part).items()}
    return json.dumps(meta, ensure_ascii=False)


def decode_meta(component: Component, value: str | None) -> Part:
    """An empty `Part` carrying the component's metadata (records are read separately)."""
    raw = json.loads(value) if value else {}
    return Part(
        component,
        (),
        as_of=_date(raw.get("as_of")),
        sources=tuple(raw.get("sources") or ()),
        loaded_at=_datetime(raw.get("loaded_at")),
        coverage=tuple(
            RangeCoverage(
                c["range"],
                date.fromisoformat(c["as_of"]),
                c.get("source", ""),
                _date(c.get("operators_as_of")),
            )
            for c in raw.get("coverage") or ()
        ),
    )


def meta_coverage_rows(value: str | None) -> tuple[CoverageRow, ...]:
    """The coverage table stored with a blocks component's metadata."""
    raw = json.loads(value) if value else {}
    counts = {key: (int(pair[0]), int(pair[1])) for key, pair in (raw.get("coverage_counts") or {}).items()}
    return coverage_table(decode_meta(Component.BLOCKS, value).coverage, counts)


def encode_coverage_field(part: Part) -> str:
    """The manifest's compact coverage field, ``range=YYYY-MM-DD`` joined by commas: what the lookup
    script hands back with a full answer, so a round-trip check knows what the absence of a block means."""
    return ",".join(f"{c.range}={c.as_of.isoformat()}" for c in part.coverage)


def decode_coverage_field(value: str) -> dict[str, date]:
    out: dict[str, date] = {}
    for item in value.split(","):
        if item:
            key, _, day = item.partition("=")
            out[key] = date.fromisoformat(day)
    return out


def meta_count(value: str | None) -> int:
    return int(json.loads(value).get("count", 0)) if value else 0


def encode_records(component: Component, records: tuple[Record, ...]) -> dict[str, str]:
    """A component's records as hash fields; raises `StoreError` naming a record of the wrong type."""
    out: dict[str, str] = {}
    for i, record in enumerate(records):
        if component is Component.BLOCKS and isinstance(record, Block):
            out[record.prefix] = encode_block(record)
        elif component is Component.OPERATORS and isinstance(record, Operator):
            out[record.id] = encode_operator(record)
        elif component is Component.CERTIFICATIONS and isinstance(record, Certification):
            # Certifications have no key of their own; keep list order.
            out[f"{i:08d}"] = json.dumps(certification_dict(record), ensure_ascii=False)
        elif component is Component.WHOLESALE and isinstance(record, Wholesale):
            out[record.prefix] = record.operator
        elif component is Component.TRUNKS and isinstance(record, Trunk):
            out[record.peer] = record.operator
        elif component is Component.SUSPENSIONS and isinstance(record, Suspension):
            out[record.number] = encode_suspension(record)
        elif component is Component.RULES and isinstance(record, Rule):
            out[record.id] = encode_rule(record)
        elif component is Component.RULES and isinstance(record, Contractor):
            out[contractor_key(record.id)] = encode_contractor(record)
        else:
            raise StoreError(
                f"{component.value} record #{i + 1} is a {type(record).__name__}, "
                f"not a {component.value} record"
            )
    return out


def decode_records(component: Component, fields: dict[str, str]) -> tuple[Record, ...]:
    if component is Component.BLOCKS:
        return tuple(decode_block(k, v) for k, v in fields.items())
    if component is Component.OPERATORS:
        return tuple(decode_operator(v) for v in fields.values())
    if component is Component.CERTIFICATIONS:
        return tuple(certification_from(json.loads(fields[k])) for k in sorted(fields))
    if component is Component.WHOLESALE:
        return tuple(Wholesale(k, v) for k, v in fields.items())
    if component is Component.TRUNKS:
        return tuple(Trunk(k, v) for k, v in fields.items())
    if component is Component.RULES:
        return tuple(
            decode_contractor(v) if k.startswith(CONTRACTOR_PREFIX) else decode_rule(k, v)
            for k, v in fields.items()
        )
    return tuple(decode_suspension(k, v) for k, v in fields.items())
