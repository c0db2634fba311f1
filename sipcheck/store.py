"""Where facts come from: the `FactStore` interface and its in-memory implementation.

The Redis cache (`sipcheck.cache`) implements the same interface, so the
screener, the API and the SIP agent never know which one they talk to.

`TableSet` is the compiled, query-ready form of a data set: the in-memory
store *is* one, and the Redis cache keeps one as its process-local snapshot.
Keeping the lookup logic here, once, means a snapshot answer and a memory
answer cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Protocol, runtime_checkable

from sipcheck.audit import ChangeRecord
from sipcheck.facts import Facts, OperatorFacts, Role
from sipcheck.model import (
    REQUIRED_COMPONENTS,
    Block,
    Certification,
    Component,
    ComponentStatus,
    Contractor,
    CoverageRow,
    DataStatus,
    Operator,
    OperatorIndex,
    Part,
    Rule,
    Suspension,
    Trunk,
    Wholesale,
    coverage_rows,
)
from sipcheck.numbers import PhoneNumber
from sipcheck.rules import RuleSet


class StoreError(RuntimeError):
    """The store could not be read or written (network, timeout, server error)."""


@runtime_checkable
class FactStore(Protocol):
    """What screening needs from a data store, and what loading needs to change it."""

    def lookup(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        """All facts about ``number`` (and the ingress peer) in one go; never raises for missing data."""
        ...

    async def alookup(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts: ...

    def publish(self, parts: Mapping[Component, Part]) -> str:
        """Replace the given components atomically; return the new data version."""
        ...

    def add_suspensions(self, items: Iterable[Suspension]) -> int: ...

    def remove_suspensions(self, numbers: Iterable[str]) -> int: ...

    def change_rules(self, add: Iterable[Rule | Contractor], remove: Iterable[str]) -> RuleChange:
        """Add (or replace, by id) and remove rules as one publish of the rules component: every
        process sees all of the change or none of it. Raises `RuleError` for an unknown id."""
        ...

    def append_audit(self, record: ChangeRecord) -> str:
        """Add one change record to the durable audit trail (`sipcheck.audit`); return its id."""
        ...

    def read_audit(self, since: datetime | None, limit: int) -> list[ChangeRecord]:
        """The newest ``limit`` change records at or after ``since``, oldest first."""
        ...

    def part(self, component: Component) -> Part:
        """The live contents of one component (for exports, batch screens and partial reloads)."""
        ...

    def status(self) -> DataStatus: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RuleChange:
    """What a rule change did: the new data version, the ids added (or replaced) and removed, and
    how many rules are live after it."""

    data_version: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    total: int


def _by_number(records: Iterable[object]) -> dict[str, Suspension]:
    """Suspension records keyed by E.164 number: the one dict a lookup (and a delta) touches."""
    return {r.number: r for r in records if isinstance(r, Suspension)}


class TableSet:
    """A data set compiled into dicts: one lookup is a handful of dict hits."""

    __slots__ = (
        "_coverage_rows",
        "blocks",
        "complete",
        "coverage",
        "data_version",
        "designated",
        "index",
        "parts",
        "rules",
        "suspensions",
        "trunks",
        "versions",
        "wholesale",
        "wholesale_blocks",
        "wholesale_lengths",
    )

    def __init__(self, parts: Mapping[Component, Part], versions: Mapping[Component, str], data_version: str):
        self.parts = dict(parts)
        self.versions = dict(versions)
        self.data_version = data_version
        # A component is loaded when it has a version: `parts` may hold empty placeholders.
        self.complete = all(self.versions.get(c) for c in REQUIRED_COMPONENTS)
        blocks_part = self.parts.get(Component.BLOCKS)
        self.coverage: dict[str, date] = (
            {c.range: c.as_of for c in blocks_part.coverage} if blocks_part is not None else {}
        )
        # Counted on the first status and kept: not at every readiness probe or metrics sync, and
        # not at all in processes that never ask (SIP agents).
        self._coverage_rows: tuple[CoverageRow, ...] | None = None
        self.index = OperatorIndex(
            (r for r in self._records(Component.OPERATORS) if isinstance(r, Operator)),
            (r for r in self._records(Component.CERTIFICATIONS) if isinstance(r, Certification)),
        )
        index = self.index
        self.blocks: dict[str, Block] = {
            r.prefix: r for r in self._records(Component.BLOCKS) if isinstance(r, Block)
        }
        # Operator references are resolved here, once per publish, so a lookup allocates nothing.
        # A block whose operator the source does not name has no designated operator to screen.
        self.designated: dict[str, OperatorFacts | None] = {}
        for prefix, block in self.blocks.items():
            self.designated[prefix] = (
                OperatorFacts.of(Role.DESIGNATED, index.resolve(block.operator)) if block.operator else None
            )
        self.wholesale: dict[str, OperatorFacts] = {
            r.prefix: OperatorFacts.of(Role.SERVING, index.resolve(r.operator))
            for r in self._records(Component.WHOLESALE)
            if isinstance(r, Wholesale)
        }
        self.wholesale_lengths = tuple(sorted({len(p) for p in self.wholesale}, reverse=True))
        # Blocks that a wholesale entry touches (inside the block, or a shorter prefix covering
        # it); every other block skips the longest-prefix walk.
        inside = {p[:n] for p in self.wholesale for n in range(1, len(p) + 1)}
        self.wholesale_blocks = {
            b for b in self.blocks if b in inside or any(b[:n] in self.wholesale for n in range(1, len(b)))
        }
        self.trunks: dict[str, OperatorFacts] = {
            r.peer: OperatorFacts.of(Role.INGRESS, index.resolve(r.operator))
            for r in self._records(Component.TRUNKS)
            if isinstance(r, Trunk)
        }
        self.suspensions = _by_number(self._records(Component.SUSPENSIONS))
        self.rules = RuleSet.of(self._records(Component.RULES))

    def _clone(self) -> TableSet:
        clone = TableSet.__new__(TableSet)
        for name in TableSet.__slots__:
            setattr(clone, name, getattr(self, name))
        return clone

    def with_rules(self, part: Part, versions: Mapping[Component, str], data_version: str) -> TableSet:
        """A copy sharing every compiled table but the rules (a rule change touches nothing else)."""
        clone = self._clone()
        clone.parts = {**self.parts, Component.RULES: part}
        clone.versions = dict(versions)
        clone.data_version = data_version
        clone.rules = RuleSet.of(part.records)
        return clone

    def with_suspensions(self, part: Part, versions: Mapping[Component, str], data_version: str) -> TableSet:
        """A copy sharing every compiled table but the suspensions: a suspension reload (the feed's
        full snapshot) leaves blocks and operators alone, so a snapshot need not recompile them."""
        clone = self._clone()
        clone.parts = {**self.parts, Component.SUSPENSIONS: part}
        clone.versions = dict(versions)
        clone.data_version = data_version
        clone.suspensions = _by_number(part.records)
        return clone

    def _records(self, component: Component) -> tuple[object, ...]:
        part = self.parts.get(component)
        return part.records if part else ()

    def facts(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        if not self.complete:
            return Facts.unavailable(text, number, ingress, self.data_version)
        block = self.blocks.get(number.block) if number.block else None
        designated = serving = None
        if block is not None:
            designated = self.designated[block.prefix]
            if block.prefix in self.wholesale_blocks:
                national = number.national
                for length in self.wholesale_lengths:
                    candidate = self.wholesale.get(national[:length])
                    if candidate is not None:
                        if designated is None or candidate.id != designated.id or not candidate.id:
                            serving = candidate
                        break
        rules = self.rules
        matched: tuple[Rule, ...] = ()
        # The common case answered here: a number in a block no rule touches, with no wide or stock
        # rules loaded, needs no call (one dict miss on a key whose hash the string carries).
        if rules.count and (rules.always or number.block in rules.blocks):
            matched = rules.match(
                number.block,
                number.national,
                designated.id if designated is not None else "",
                serving.id if serving is not None else "",
            )
        # Positional: keyword arguments cost a tenth of a lookup on the call path (order: see Facts).
        return Facts(
            text,
            number,
            None,
            block,
            designated,
            serving,
            ingress,
            self.trunks.get(ingress) if ingress is not None else None,
            self.suspensions.get(number.e164),
            self.data_version,
            True,
            False,
            self.coverage.get(number.range),
            matched,
        )

    def counts(self) -> dict[Component, int]:
        sizes = {
            Component.BLOCKS: len(self.blocks),
            Component.WHOLESALE: len(self.wholesale),
            Component.TRUNKS: len(self.trunks),
            Component.SUSPENSIONS: len(self.suspensions),
            Component.RULES: self.rules.count,
        }
        for component in (Component.OPERATORS, Component.CERTIFICATIONS):
            sizes[component] = len(self._records(component))
        return sizes

    def status(self, backend: str) -> DataStatus:
        counts = self.counts()
        components = []
        for component in Component:
            part = self.parts.get(component)
            components.append(
                ComponentStatus(
                    component=component,
                    version=self.versions.get(component, ""),
                    count=counts[component],
                    as_of=part.as_of if part else None,
                    loaded_at=part.loaded_at if part else None,
                    sources=part.sources if part else (),
                )
            )
        if self._coverage_rows is None:
            blocks = self.parts.get(Component.BLOCKS)
            self._coverage_rows = coverage_rows(blocks) if blocks is not None else ()
        return DataStatus(self.data_version, tuple(components), backend, self._coverage_rows)


def live_version(store: FactStore) -> str:
    """The live data version ('' before the first publish): the "before" of an audit record."""
    return store.status().data_version


def live_rules(store: FactStore) -> RuleSet:
    """The live rules component compiled (what a change is checked against: its contractors)."""
    return RuleSet.of(store.part(Component.RULES).records)


def live_operator_ids(store: FactStore) -> frozenset[str]:
    """The operator ids of the live data (operators and certified-list entries): what a stock
    suspension may name. Read through `part`, so any store answers it the same way."""
    index = OperatorIndex(
        (r for r in store.part(Component.OPERATORS).records if isinstance(r, Operator)),
        (r for r in store.part(Component.CERTIFICATIONS).records if isinstance(r, Certification)),
    )
    return frozenset(op for op in index.operators if op)


def empty_part(component: Component) -> Part:
    return Part(component, ())


class MemoryStore:
    """A `FactStore` in process memory: the reference implementation, and the store for tests and libraries.

    A publish builds a complete new `TableSet` and swaps one reference, so a
    concurrent lookup sees either the old or the new data, never a mix.
    """

    backend = "memory"

    def __init__(self, parts: Mapping[Component, Part] | None = None) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._tables = TableSet({}, {}, "")
        self._audit: list[ChangeRecord] = []  # a library's trail lives as long as its store
        if parts:
            self.publish(parts)

    @property
    def tables(self) -> TableSet:
        return self._tables

    def lookup(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        return self._tables.facts(number, ingress, text)

    async def alookup(self, number: PhoneNumber, ingress: str | None, text: str) -> Facts:
        return self._tables.facts(number, ingress, text)

    def publish(self, parts: Mapping[Component, Part]) -> str:
        with self._lock:
            return self._publish_locked(parts)

    def _publish_locked(self, parts: Mapping[Component, Part]) -> str:
        now = datetime.now(UTC)
        self._generation += 1
        version = str(self._generation)
        old = self._tables
        merged = dict(old.parts)
        if old.versions.get(Component.SUSPENSIONS):
            # Incremental changes live in the dict, not in the loaded part: carry them over.
            merged[Component.SUSPENSIONS] = self.part(Component.SUSPENSIONS)
        versions = dict(old.versions)
        for component, part in parts.items():
            merged[component] = part if part.loaded_at else replace(part, loaded_at=now)
            versions[component] = version
        if set(parts) == {Component.RULES} and old.versions:
            self._tables = old.with_rules(merged[Component.RULES], versions, version)
        else:
            self._tables = TableSet(merged, versions, version)
        return version

    def add_suspensions(self, items: Iterable[Suspension]) -> int:
        with self._lock:
            new = list(items)
            self._tables.suspensions.update((s.number, s) for s in new)
            return len(new)

    def remove_suspensions(self, numbers: Iterable[str]) -> int:
        with self._lock:
            removed = 0
            for number in numbers:
                if self._tables.suspensions.pop(number, None) is not None:
                    removed += 1
            return removed

    def append_audit(self, record: ChangeRecord) -> str:
        with self._lock:
            record_id = str(len(self._audit) + 1)
            self._audit.append(replace(record, id=record_id))
            return record_id

    def read_audit(self, since: datetime | None, limit: int) -> list[ChangeRecord]:
        with self._lock:
            found = [r for r in self._audit if since is None or r.at >= since]
        return found[-limit:] if limit > 0 else []

    def change_rules(self, add: Iterable[Rule | Contractor], remove: Iterable[str]) -> RuleChange:
        with self._lock:
            rules, added, removed = self._tables.rules.changed(add, remove)
            part = Part(Component.RULES, rules.records())
            version = self._publish_locked({Component.RULES: part})
            return RuleChange(version, tuple(added), tuple(removed), rules.count)

    def part(self, component: Component) -> Part:
        tables = self._tables
        if component is Component.SUSPENSIONS:
            # Incremental changes live in the dict, not in the loaded part.
            base = tables.parts.get(component) or empty_part(component)
            return replace(base, records=tuple(tables.suspensions.values()))
        return tables.parts.get(component) or empty_part(component)

    def status(self) -> DataStatus:
        return self._tables.status(self.backend)

    def close(self) -> None:
        """Nothing to release; present for the interface."""
