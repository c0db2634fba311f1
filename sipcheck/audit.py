"""The audit trail: one record per data change, from every edge, kept beside the data.

Why a record per change and not a log line: "who suspended 03-5253-5111, when, on whose request,
and what else changed with it" must be answerable months later, from any host, after the
process that made the change is gone. So every change (a component published by ``sipcheck
load`` or an HTTP upload, incremental suspensions, rules) is written as a `ChangeRecord` into the
store itself (`FactStore.append_audit`: a Redis stream with a retention, see `sipcheck.cache.audit`)
and also logged as one JSON line for log collectors.

What a record holds: when (UTC), who (a token's *name*, or user@host for the CLI: never a
secret), from where (``http <peer>``, ``cli <host>``), what kind, the data versions before and
after, counts, and the changed keys themselves (E.164 numbers, rule ids) up to `MAX_KEYS`
(``keys_total`` says how many there were). A full component replace lists no keys: its
``sources`` and counts say what it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from sipcheck.model import Contractor, Rule
from sipcheck.numbers import InvalidNumber, parse_number
from sipcheck.rules import contractor_key

if TYPE_CHECKING:
    from sipcheck.importers.suspensions import SuspensionChanges

AUDIT_LOGGER: Final = "sipcheck.audit"
MAX_KEYS: Final = 10_000
"""Changed keys kept per record: every key of any incremental change a person makes; a feed's
million-row snapshot is a publish (counts and sources), not a list of keys."""

LOGGED_KEYS: Final = 20
log = logging.getLogger(AUDIT_LOGGER)


def wall_clock() -> datetime:
    """The real time, never ``fixed_now``: an audit record (and a rule's ``created``) says when a
    change really happened; ``fixed_now`` pins only the day verdicts are judged on."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    at: datetime
    who: str
    origin: str
    kind: str  # data.publish.<kind> | data.suspensions.change | rules.change
    version_before: str
    version_after: str
    counts: Mapping[str, int] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    keys_total: int = 0
    references: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    id: str = ""  # the store's id for it (a stream entry id), once written

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id or None,
            "at": self.at.isoformat(),
            "who": self.who,
            "origin": self.origin,
            "kind": self.kind,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "counts": dict(self.counts),
            "keys": list(self.keys),
            "keys_total": self.keys_total,
            "references": list(self.references),
            "sources": list(self.sources),
        }

    def encode(self) -> str:
        data = self.to_dict()
        del data["id"]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str, record_id: str = "") -> ChangeRecord:
        raw = json.loads(value)
        return cls(
            at=datetime.fromisoformat(raw["at"]),
            who=raw["who"],
            origin=raw["origin"],
            kind=raw["kind"],
            version_before=raw.get("version_before", ""),
            version_after=raw.get("version_after", ""),
            counts={k: int(v) for k, v in (raw.get("counts") or {}).items()},
            keys=tuple(raw.get("keys") or ()),
            keys_total=int(raw.get("keys_total", 0)),
            references=tuple(raw.get("references") or ()),
            sources=tuple(raw.get("sources") or ()),
            id=record_id,
        )

    def mentions(self, national: str, e164: str) -> bool:
        """Whether the change named this number: the number itself, or a rule covering it."""
        for key in self.keys:
            if key in (e164, national):
                return True
            action, _, rest = key.partition(":")
            scope, _, target = rest.partition(":")
            if not (action and target) or not national:
                continue
            if scope in ("prefix", "number") and national.startswith(target):
                return True
            if scope == "range":
                low, _, high = target.partition("..")
                if len(low) == len(national) and low <= national <= high:
                    return True
        return False


def change_record(
    *,
    at: datetime,
    who: str,
    origin: str,
    kind: str,
    version_before: str,
    version_after: str,
    counts: Mapping[str, int] | None = None,
    keys: Iterable[str] = (),
    references: Iterable[str | None] = (),
    sources: Sequence[str] = (),
) -> ChangeRecord:
    """A record with its keys capped at `MAX_KEYS` (and counted)."""
    all_keys = list(keys)
    return ChangeRecord(
        at=at.astimezone(UTC),
        who=who,
        origin=origin,
        kind=kind,
        version_before=version_before,
        version_after=version_after,
        counts=dict(counts or {}),
        keys=tuple(all_keys[:MAX_KEYS]),
        keys_total=len(all_keys),
        references=tuple(sorted({r for r in references if r})),
        sources=tuple(sources),
    )


class AuditTrail(Protocol):
    def append_audit(self, record: ChangeRecord) -> str: ...

    def read_audit(self, since: datetime | None, limit: int) -> list[ChangeRecord]: ...


def record_change(store: AuditTrail, record: ChangeRecord) -> ChangeRecord:
    """Write ``record`` to the store's trail and log it. The change itself is already made: a trail
    that cannot be written is logged as an error (and the log line still carries the record), not
    turned into a failed change."""
    try:
        record = replace(record, id=store.append_audit(record))
    except Exception as exc:  # a store error of any backend: the change stands, say the trail missed it
        log.error(
            "audit trail not written: %s",
            exc,
            extra={"audit_record": {**record.to_dict(), "keys": record.keys[:1000]}},
        )
    # The log line names the first keys only: a line of 10,000 numbers helps no collector (and blocks a
    # process writing to a full pipe); the trail has them all.
    shown = replace(record, keys=record.keys[:LOGGED_KEYS]).to_dict()
    log.info(
        "%s by %s from %s: version %s -> %s",
        record.kind,
        record.who,
        record.origin,
        record.version_before,
        record.version_after,
        extra={
            **record.counts,
            "event": record.kind,
            "who": record.who,
            "rows": record.counts.get("rows", 0),
            "version": record.version_after,
            "audit_record": shown,
        },
    )
    return record


def select(
    records: Iterable[ChangeRecord], *, kind: str | None = None, number: str | None = None
) -> list[ChangeRecord]:
    """The records of one kind (a dotted prefix: ``data.publish`` matches every publish) and/or
    naming a number."""
    national = e164 = ""
    if number is not None:
        try:
            parsed = parse_number(number)
        except InvalidNumber:
            national, e164 = "", number
        else:
            national, e164 = parsed.national, parsed.e164
    out = []
    for record in records:
        if kind and not (record.kind == kind or record.kind.startswith(kind + ".")):
            continue
        if number is not None and not record.mentions(national, e164):
            continue
        out.append(record)
    return out


def suspension_record(
    changes: SuspensionChanges,
    added: int,
    removed: int,
    *,
    who: str,
    origin: str,
    at: datetime,
    before: str,
    after: str,
    sources: Sequence[str],
) -> ChangeRecord:
    """The record of an incremental suspension change: every number added and removed is a key."""
    return change_record(
        at=at,
        who=who,
        origin=origin,
        kind="data.suspensions.change",
        version_before=before,
        version_after=after,
        counts={"rows": len(changes.add) + len(changes.remove), "added": added, "removed": removed},
        keys=[*(s.number for s in changes.add), *changes.remove],
        references=[s.reference for s in changes.add],
        sources=sources,
    )


def rules_record(
    added: Sequence[Rule | Contractor],
    removed: Sequence[str],
    *,
    who: str,
    origin: str,
    at: datetime,
    before: str,
    after: str,
    total: int,
) -> ChangeRecord:
    """The record of a rule change: the ids added and removed are the keys (``action:scope:target``)."""
    return change_record(
        at=at,
        who=who,
        origin=origin,
        kind="rules.change",
        version_before=before,
        version_after=after,
        counts={
            "rows": len(added) + len(removed),
            "added": len(added),
            "removed": len(removed),
            "total": total,
        },
        keys=[*(r.id if isinstance(r, Rule) else contractor_key(r.id) for r in added), *removed],
        references=[r.reference for r in added if isinstance(r, Rule)],
    )
