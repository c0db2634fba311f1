"""The records sipcheck screens against, as plain frozen objects.

These sit on the hot path, so they are slotted dataclasses rather than pydantic
models; validation happens once, at the boundary (the importers and the HTTP
API), never per call.

A data set is made of independent *components* (blocks, operators,
certifications, wholesale, trunks, suspensions). Each is replaced whole by a
load, so a certified-list update never rewrites a million suspensions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sipcheck.numbers import NumberKind, designation_range, range_kind


class CertStatus(StrEnum):
    """Certification status of an operator as a list states it (ETOC), plus the absence of one."""

    CERTIFIED = "certified"
    PROVISIONAL = "provisional"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNCERTIFIED = "uncertified"  # not on the list at all (never written in a list file)


class Component(StrEnum):
    BLOCKS = "blocks"
    OPERATORS = "operators"
    CERTIFICATIONS = "certifications"
    WHOLESALE = "wholesale"
    TRUNKS = "trunks"
    SUSPENSIONS = "suspensions"
    RULES = "rules"  # range and stock suspensions, overrides (`Rule`): optional, replaced whole per change


REQUIRED_COMPONENTS: tuple[Component, ...] = (
    Component.BLOCKS,
    Component.CERTIFICATIONS,
    Component.SUSPENSIONS,
)
"""The three sources a verdict speaks about. Until each has been loaded (an empty list counts:
"nobody is suspended" is a fact once the feed said so), a store holds no data set a verdict
could be true of, and every check answers by the fail policy. Operators (aliases), trunks and
wholesale only add detail; their absence states nothing false."""


def name_key(name: str) -> str:
    """Join key for operator names from different lists: NFKC, case-folded, without spaces.

    MIC writes ＫＤＤＩ株式会社 with full-width letters; other lists write KDDI株式会社
    or "KDDI 株式会社". All three must meet on one key.
    """
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass(frozen=True, slots=True)
class Operator:
    """A telecommunications operator; ``id`` is ours and stable, names are as lists write them."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    corporate_number: str | None = None  # 法人番号, 13 digits


@dataclass(frozen=True, slots=True)
class Certification:
    """One operator's entry on the certified-operator list."""

    operator: str  # operator reference: our id, else the list's name (joined by name_key)
    status: CertStatus
    valid_from: date | None = None
    valid_until: date | None = None
    round: str | None = None
    name: str | None = None
    corporate_number: str | None = None

    def status_on(self, day: date) -> CertStatus:
        """The status in force on ``day``: a certification outside its dates is not in force."""
        if self.status in (CertStatus.CERTIFIED, CertStatus.PROVISIONAL):
            if self.valid_until is not None and day > self.valid_until:
                return CertStatus.EXPIRED
            if self.valid_from is not None and day < self.valid_from:
                return CertStatus.UNCERTIFIED
        return self.status


@dataclass(frozen=True, slots=True)
class Block:
    """A designated number block: ``prefix`` is the national prefix (e.g. 0501234, 035253).

    Only designated blocks are records: MIC's 未使用 and 使用不可 rows (no operator) say the
    block was never issued, which a data set states by covering the block's range and having
    no record for it. ``operator`` is '' when the block is designated but the source does not
    name the operator. ``in_use`` is False for a block MIC lists 使用予定 (designated, planned,
    not yet in service).
    """

    prefix: str
    kind: NumberKind
    operator: str  # operator reference as the source wrote it (MIC: legal name); '' = not known
    in_use: bool = True


@dataclass(frozen=True, slots=True)
class RangeCoverage:
    """One designation range a blocks component covers completely, and as of when.

    Inside a covered range a block without a record was not designated on ``as_of``; outside
    every covered range the data says nothing. ``range`` is `numbers.designation_range` of the
    blocks (``050``, ``0120``, ``0200``; ``01``…``09`` for fixed numbers by the area code's first
    digit, as MIC's fixed-line files are split).
    """

    range: str
    as_of: date
    source: str = ""
    operators_as_of: date | None = None  # when the operator names are older than the designations


@dataclass(frozen=True, slots=True)
class Wholesale:
    """A block or number range handed on to the operator that serves it; longest prefix wins."""

    prefix: str  # national prefix, from a block prefix down to a single whole number
    operator: str


@dataclass(frozen=True, slots=True)
class Suspension:
    """A number suspended under the police-driven number suspension scheme."""

    number: str  # E.164
    since: datetime | None = None
    reference: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Trunk:
    """An ingress peer (trunk id or address) and the operator that hands us calls over it."""

    peer: str
    operator: str


class RuleAction(StrEnum):
    """What a `Rule` does to the numbers it covers."""

    SUSPEND = "suspend"  # a range or an operator's whole stock suspended (police request): `suspended`
    ALLOW = "allow"  # an override correcting a false positive: `override_allow`
    DENY = "deny"  # an override blocking in an emergency: `override_deny`
    CONTRACT = "contract"  # a range served through a contractor (契約者): says who, decides nothing alone
    REFUSE = "refuse"  # a contractor on the refusal list (事業者渡り): `contractor_refused` on its ranges
    NOTE = "note"  # derived, never stored: the contractor of this range has suspensions elsewhere


class RuleScope(StrEnum):
    """How a rule names its numbers (kept for display and audit; matching uses prefixes/operator)."""

    NUMBER = "number"  # one national number
    PREFIX = "prefix"  # every number starting with a national prefix
    RANGE = "range"  # a from–to range of equal-length national numbers, held as its prefix cover
    OPERATOR = "operator"  # an operator's stock: blocks designated to it, wholesale ranges it serves
    CONTRACTOR = "contractor"  # a contractor (refusals and notes): found through its contract rules


@dataclass(frozen=True, slots=True)
class Rule:
    """A suspension of many numbers at once, or an override, as one record with its paperwork.

    Matching is by ``prefixes`` (national, longest first among overrides) or ``operator`` (an
    operator id, matched against the designated and the serving operator of a number). ``until``
    is the last JST day the rule is in force (None: until removed); `policy.decide` ignores a rule
    past it. ``target`` is the rule as its author wrote it (``0501234``, ``0312340000..0312349999``).
    """

    id: str
    action: RuleAction
    scope: RuleScope
    target: str
    prefixes: tuple[str, ...] = ()
    operator: str = ""
    reason: str = ""
    reference: str | None = None  # the police request, the ticket
    source: str | None = None
    author: str | None = None
    created: datetime | None = None
    until: date | None = None
    contractor: str = ""  # the contractor a contract, refusal or suspension names ('' = none)

    def __hash__(self) -> int:
        # By id (equal rules have equal ids): a verdict's memo key holds the matched rules, and hashing
        # every field, a range's thousand prefixes among them, per check would cost more than the check.
        return hash(self.id)

    def in_force(self, day: date) -> bool:
        return self.until is None or day <= self.until


@dataclass(frozen=True, slots=True)
class Contractor:
    """A company that contracts numbers from operators (契約者): keyed by its 13-digit corporate
    number (法人番号) where known, so one company is one contractor across every operator."""

    id: str
    names: tuple[str, ...]
    corporate_number: str | None = None
    aliases: tuple[str, ...] = ()


Record = Block | Operator | Certification | Wholesale | Suspension | Trunk | Rule | Contractor


@dataclass(frozen=True, slots=True)
class Part:
    """One component's complete contents as loaded from its sources.

    ``coverage`` (blocks only) lists the ranges the records cover completely.
    """

    component: Component
    records: tuple[Record, ...]
    as_of: date | None = None
    sources: tuple[str, ...] = ()
    loaded_at: datetime | None = None
    coverage: tuple[RangeCoverage, ...] = ()


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One covered range as `data status` shows it: counts from the records, dates from the coverage."""

    range: str
    kind: str
    blocks: int
    operator_unknown: int
    as_of: date
    operators_as_of: date | None
    source: str

    def age_days(self, today: date) -> int:
        return (today - self.as_of).days

    def to_dict(self, today: date | None = None, max_age_days: int | None = None) -> dict[str, object]:
        out: dict[str, object] = {
            "range": self.range,
            "kind": self.kind,
            "blocks": self.blocks,
            "operator_unknown": self.operator_unknown,
            "as_of": self.as_of.isoformat(),
            "operators_as_of": self.operators_as_of.isoformat() if self.operators_as_of else None,
            "source": self.source,
        }
        if today is not None:
            out["age_days"] = self.age_days(today)
            if max_age_days is not None:
                out["stale"] = self.age_days(today) > max_age_days
        return out


def coverage_counts(part: Part) -> dict[str, tuple[int, int]]:
    """Per designation range of a blocks part: (blocks, blocks whose operator is not named)."""
    counts: dict[str, tuple[int, int]] = {}
    for record in part.records:
        if isinstance(record, Block):
            key = designation_range(record.prefix)
            blocks, unknown = counts.get(key, (0, 0))
            counts[key] = (blocks + 1, unknown + (0 if record.operator else 1))
    return counts


def coverage_table(
    coverage: Iterable[RangeCoverage], counts: Mapping[str, tuple[int, int]]
) -> tuple[CoverageRow, ...]:
    """The coverage table, ranges in order: dates from the coverage, counts as `coverage_counts` gives them
    (a store that keeps the counts with its metadata need not count 30,000 blocks again)."""
    rows = []
    for c in sorted(coverage, key=lambda c: c.range):
        blocks, unknown = counts.get(c.range, (0, 0))
        rows.append(
            CoverageRow(c.range, range_kind(c.range), blocks, unknown, c.as_of, c.operators_as_of, c.source)
        )
    return tuple(rows)


def coverage_rows(part: Part) -> tuple[CoverageRow, ...]:
    """The coverage table of a blocks part: per covered range, its blocks and those of unknown operator."""
    return coverage_table(part.coverage, coverage_counts(part))


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    component: Component
    version: str
    count: int
    as_of: date | None
    loaded_at: datetime | None
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DataStatus:
    """What a store holds: the live data version, each component's version and counts, and the
    designation ranges the blocks cover with their as-of dates."""

    data_version: str
    components: tuple[ComponentStatus, ...] = field(default_factory=tuple)
    backend: str = "memory"
    coverage: tuple[CoverageRow, ...] = ()

    def missing(self) -> tuple[Component, ...]:
        """The required components not loaded yet: while any is, every check answers by the fail policy."""
        loaded = {c.component for c in self.components if c.version}
        return tuple(c for c in REQUIRED_COMPONENTS if c not in loaded)

    @property
    def complete(self) -> bool:
        return not self.missing()

    def stale(self, today: date, max_age_days: int) -> tuple[CoverageRow, ...]:
        """Covered ranges whose designation data is older than ``max_age_days`` on ``today``."""
        return tuple(row for row in self.coverage if row.age_days(today) > max_age_days)

    def to_dict(self, today: date | None = None, max_age_days: int | None = None) -> dict[str, object]:
        return {
            "data_version": self.data_version,
            "backend": self.backend,
            "complete": self.complete,
            "missing": [c.value for c in self.missing()],
            "coverage": [row.to_dict(today, max_age_days) for row in self.coverage],
            "components": {
                c.component.value: {
                    "version": c.version,
                    "count": c.count,
                    "as_of": c.as_of.isoformat() if c.as_of else None,
                    "loaded_at": c.loaded_at.isoformat() if c.loaded_at else None,
                    "sources": list(c.sources),
                }
                for c in self.components
            },
        }


@dataclass(frozen=True, slots=True)
class ResolvedOperator:
    id: str
    name: str
    certification: Certification | None


class OperatorIndex:
    """Resolves an operator reference (id, legal name, alias, corporate number) to one operator.

    Built once per publish from the operators and certifications components;
    lookups are a dict hit. A reference nobody knows resolves to an operator
    named as referenced with no certification (so it screens as uncertified).
    """

    __slots__ = ("_by_key", "operators")

    def __init__(self, operators: Iterable[Operator], certifications: Iterable[Certification]) -> None:
        self.operators: dict[str, ResolvedOperator] = {}
        self._by_key: dict[str, str] = {}
        ops = list(operators)
        for op in ops:
            self.operators[op.id] = ResolvedOperator(op.id, op.name, None)
        # Names and aliases first, ids last: an id always wins over a name that happens to equal it.
        for op in ops:
            for alias in (op.name, *op.aliases):
                self._by_key.setdefault(name_key(alias), op.id)
            if op.corporate_number:
                self._by_key[op.corporate_number] = op.id
        for op in ops:
            self._by_key[op.id] = op.id
        for cert in certifications:
            op_id = self._match_certification(cert)
            if op_id is None:
                op_id = cert.operator
                self.operators[op_id] = ResolvedOperator(op_id, cert.name or cert.operator, cert)
                self._by_key.setdefault(op_id, op_id)
                if cert.name:
                    self._by_key.setdefault(name_key(cert.name), op_id)
                if cert.corporate_number:
                    self._by_key.setdefault(cert.corporate_number, op_id)
            else:
                current = self.operators[op_id]
                self.operators[op_id] = ResolvedOperator(current.id, current.name, cert)

    def _match_certification(self, cert: Certification) -> str | None:
        for key in (cert.operator, cert.corporate_number, cert.name and name_key(cert.name)):
            if key and key in self._by_key:
                return self._by_key[key]
        key = name_key(cert.operator)
        return self._by_key.get(key)

    def resolve_id(self, reference: str) -> str | None:
        op_id = self._by_key.get(reference)
        if op_id is None:
            op_id = self._by_key.get(name_key(reference))
        return op_id

    def resolve(self, reference: str) -> ResolvedOperator:
        op_id = self.resolve_id(reference)
        if op_id is None:
            return ResolvedOperator("", reference, None)
        return self.operators[op_id]


def records_of(parts: Mapping[Component, Part], component: Component) -> tuple[Record, ...]:
    part = parts.get(component)
    return part.records if part else ()
