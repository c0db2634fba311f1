"""The data set compiled into sorted numpy arrays, for screening millions of numbers at once.

`sipcheck.store.TableSet` answers one number with a handful of dict hits; a
batch screen asks the same questions of a whole column at once, so here the
same components become sorted integer key arrays searched with
`np.searchsorted`. The tables are built only from ``store.part(component)``,
so any `FactStore` (memory, Redis) can feed a batch screen.

A national number is handled as two int64 columns: its value without the
leading 0 and its length (which keeps the zeros that ``int`` drops). A prefix
of L digits of it is ``value // 10**(length - L)``, so every block, wholesale
and suspension lookup is integer arithmetic plus an array gather or search.

Operators are *slots*: one per distinct resolved operator (same id = same
slot; an unknown reference is its own slot, named as referenced, exactly as
`OperatorIndex.resolve` answers). Slot numbers are what a fact signature holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

from sipcheck import numbers as _numbers
from sipcheck.model import (
    REQUIRED_COMPONENTS,
    Block,
    Certification,
    Component,
    Operator,
    OperatorIndex,
    Part,
    ResolvedOperator,
    Suspension,
    Trunk,
    Wholesale,
)
from sipcheck.numbers import InvalidNumber, NumberKind
from sipcheck.rules import EMPTY_RULES, RuleSet
from sipcheck.store import FactStore, StoreError

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

KINDS: Final[tuple[NumberKind, ...]] = tuple(NumberKind)
"""Kind codes used in the arrays: the index of a `NumberKind` here; -1 means invalid."""
KIND_INTERNATIONAL: Final = KINDS.index(NumberKind.INTERNATIONAL)

MAX_NATIONAL_DIGITS: Final = 15
POW10: Final[Int64Array] = np.array([10**i for i in range(19)], dtype=np.int64)


RANGES: Final[tuple[str, ...]] = _numbers.FIXED_RANGES + tuple(sorted(_numbers.PLAN.ranges))
"""Designation range codes used in the arrays: the index of a `numbers.designation_range` key here."""


@dataclass(frozen=True, slots=True)
class PlanTable:
    """`sipcheck.numbers` classification of every national prefix of ``depth`` digits.

    The number plan decides kind, length, block size, designation range and validity
    (MIC's digit rules) from at most the first ``depth`` digits of a national number,
    so classifying each of the 10**(depth-1) possible prefixes once with the parser's
    own `_classify_national` lets a batch classify a column with one array index,
    without a second copy of the plan's rules.
    """

    depth: int
    kind: npt.NDArray[np.int8]  # -1 where no valid Japanese number starts with the prefix
    length: npt.NDArray[np.int8]
    block_digits: npt.NDArray[np.int8]
    range_code: npt.NDArray[np.int8]  # index into RANGES


def build_plan_table() -> PlanTable:
    depth = _numbers.PLAN.classify_depth
    size = 10 ** (depth - 1)
    kind = np.full(size, -1, dtype=np.int8)
    length = np.zeros(size, dtype=np.int8)
    block_digits = np.zeros(size, dtype=np.int8)
    range_code = np.zeros(size, dtype=np.int8)
    range_index = {key: i for i, key in enumerate(RANGES)}
    for value in range(size):
        national = "0" + str(value).zfill(depth - 1)
        if national[1] == "0":
            continue  # `_from_national` rejects these before classifying
        try:
            k, n, bd, rng = _numbers._classify_national(national, national)
        except InvalidNumber:
            continue
        kind[value] = KINDS.index(k)
        length[value] = n
        block_digits[value] = bd
        range_code[value] = range_index[rng]
    return PlanTable(depth, kind, length, block_digits, range_code)


_PLAN_TABLE: PlanTable | None = None


def plan_table() -> PlanTable:
    """The plan table, built on first use (10**4 classifications, a few milliseconds)."""
    global _PLAN_TABLE
    if _PLAN_TABLE is None:
        _PLAN_TABLE = build_plan_table()
    return _PLAN_TABLE


DENSE_MAX_DIGITS: Final = 7
"""Prefixes up to this many digits get a dense array (10**6 entries at most) instead of a search."""
FILTER_DIGITS: Final = 7


class PrefixMap:
    """National prefixes of one length -> an int payload (block row, operator slot, 1 for suspended).

    Short prefixes (blocks: 6 or 7 digits) are a dense array indexed by the
    prefix's value: one gather per column, no search. Longer ones (wholesale
    down to single numbers, suspended numbers) are a sorted key array, searched
    only for rows whose first `FILTER_DIGITS` digits appear in a dense bitmap,
    so a million numbers against a few thousand keys costs a gather and a
    handful of binary searches rather than a million of them.
    """

    __slots__ = ("dense", "filter", "keys", "length", "payload")

    def __init__(self, length: int, items: Mapping[str, int]) -> None:
        self.length = length
        values = {int(prefix): payload for prefix, payload in items.items()}
        self.dense: Int32Array | None = None
        self.filter: BoolArray | None = None
        order = sorted(values)
        self.keys: Int64Array = np.array(order, dtype=np.int64)
        self.payload: Int32Array = np.array([values[k] for k in order], dtype=np.int32)
        if length <= DENSE_MAX_DIGITS:
            self.dense = np.full(10 ** (length - 1), -1, dtype=np.int32)
            self.dense[self.keys] = self.payload
        else:
            self.filter = np.zeros(10 ** (FILTER_DIGITS - 1), dtype=np.bool_)
            self.filter[self.keys // 10 ** (length - FILTER_DIGITS)] = True

    def lookup(self, value: Int64Array, nlen: Int64Array, rows: BoolArray) -> Int32Array:
        """Payload for each row whose national number starts with a known prefix, else -1.

        ``value`` is the national number without its leading 0 and ``nlen`` its
        length with it; rows outside ``rows`` get -1.
        """
        out = np.full(len(value), -1, dtype=np.int32)
        idx = np.flatnonzero(rows & (nlen >= self.length))
        if not len(idx) or not len(self.keys):
            return out
        v, n = value[idx], nlen[idx]
        if self.dense is not None:
            out[idx] = self.dense[v // POW10[n - self.length]]
            return out
        assert self.filter is not None
        keep = self.filter[v // POW10[n - FILTER_DIGITS]]
        idx, v, n = idx[keep], v[keep], n[keep]
        prefix = v // POW10[n - self.length]
        pos = np.minimum(np.searchsorted(self.keys, prefix), len(self.keys) - 1)
        hit = self.keys[pos] == prefix
        out[idx[hit]] = self.payload[pos[hit]]
        return out


def _by_length(items: Mapping[str, int]) -> tuple[PrefixMap, ...]:
    """Group national prefixes (leading 0) by length, longest first; skip what no number can start with."""
    groups: dict[int, dict[str, int]] = {}
    for prefix, payload in items.items():
        if (
            2 <= len(prefix) <= MAX_NATIONAL_DIGITS
            and prefix[0] == "0"
            and prefix.isascii()
            and prefix.isdigit()
        ):
            groups.setdefault(len(prefix), {})[prefix] = payload
    return tuple(PrefixMap(length, groups[length]) for length in sorted(groups, reverse=True))


@dataclass(frozen=True, slots=True)
class BatchTables:
    """Everything a batch screen looks numbers up in, as arrays; built once per data version."""

    data_version: str
    plan: PlanTable
    slots: tuple[ResolvedOperator, ...]
    slot_has_id: BoolArray
    blocks: tuple[Block, ...]
    block_maps: tuple[PrefixMap, ...]  # block prefix -> row in ``blocks``
    block_in_use: BoolArray  # per ``blocks`` row
    block_slot: Int32Array  # designated operator slot per ``blocks`` row
    wholesale: tuple[PrefixMap, ...]  # prefix -> serving operator slot, longest first
    suspension_maps: tuple[PrefixMap, ...]  # Japanese suspended national numbers -> 1
    suspensions: Mapping[str, Suspension]  # E.164 -> record (for foreign numbers and facts)
    trunks: Mapping[str, int]  # peer -> operator slot
    coverage_dates: tuple[date, ...]  # the distinct as-of dates of the covered ranges
    range_coverage: npt.NDArray[np.int8]  # per RANGES code: 1 + index into coverage_dates, 0 if uncovered
    complete: bool  # every required component loaded (see model.REQUIRED_COMPONENTS)
    rules: RuleSet = EMPTY_RULES  # range/stock suspensions and overrides (`sipcheck.rules`)
    rule_maps: tuple[PrefixMap, ...] = ()  # every prefix a rule names -> 1 + its index, longest first

    @property
    def slot_count(self) -> int:
        return len(self.slots)


class _Slots:
    def __init__(self, index: OperatorIndex) -> None:
        self.index = index
        self.slots: list[ResolvedOperator] = []
        self._by_ref: dict[str, int] = {}
        self._by_identity: dict[tuple[str, str], int] = {}

    def of(self, reference: str) -> int:
        slot = self._by_ref.get(reference)
        if slot is None:
            op = self.index.resolve(reference)
            identity = ("id", op.id) if op.id else ("name", op.name)
            slot = self._by_identity.get(identity)
            if slot is None:
                slot = len(self.slots)
                self.slots.append(op)
                self._by_identity[identity] = slot
            self._by_ref[reference] = slot
        return slot


def compile_tables(
    parts: Mapping[Component, Part], data_version: str, loaded: Iterable[Component] | None = None
) -> BatchTables:
    """Compile the components' records into `BatchTables` (same precedence rules as `TableSet`).

    ``loaded`` names the components the store has loaded (`DataStatus`); by default those in ``parts``.
    """

    def records(component: Component) -> tuple[object, ...]:
        part = parts.get(component)
        return part.records if part else ()

    index = OperatorIndex(
        (r for r in records(Component.OPERATORS) if isinstance(r, Operator)),
        (r for r in records(Component.CERTIFICATIONS) if isinstance(r, Certification)),
    )
    slots = _Slots(index)

    # Dicts first, exactly like TableSet, so that a later duplicate wins the same way.
    block_map = {r.prefix: r for r in records(Component.BLOCKS) if isinstance(r, Block)}
    blocks = tuple(block_map.values())
    block_maps = _by_length({b.prefix: i for i, b in enumerate(blocks)})
    block_in_use = np.array([b.in_use for b in blocks], dtype=np.bool_)
    block_slot = np.array([slots.of(b.operator) if b.operator else -1 for b in blocks], dtype=np.int32)

    wholesale_map = {r.prefix: r.operator for r in records(Component.WHOLESALE) if isinstance(r, Wholesale)}
    wholesale = _by_length({prefix: slots.of(ref) for prefix, ref in wholesale_map.items()})

    trunks = {r.peer: slots.of(r.operator) for r in records(Component.TRUNKS) if isinstance(r, Trunk)}

    suspensions = {r.number: r for r in records(Component.SUSPENSIONS) if isinstance(r, Suspension)}
    suspension_maps = _by_length({"0" + e164[3:]: 1 for e164 in suspensions if e164.startswith("+81")})

    rules = RuleSet.of(records(Component.RULES))
    rule_maps = _by_length({prefix: i + 1 for i, prefix in enumerate(rules.prefixes())})

    blocks_part = parts.get(Component.BLOCKS)
    covered = {c.range: c.as_of for c in blocks_part.coverage} if blocks_part is not None else {}
    # Ranges enter a fact signature by their as-of date, not their name: a verdict depends on the date.
    dates = tuple(sorted(set(covered.values())))
    present = set(parts if loaded is None else loaded)

    return BatchTables(
        data_version=data_version,
        plan=plan_table(),
        slots=tuple(slots.slots),
        slot_has_id=np.array([bool(op.id) for op in slots.slots], dtype=np.bool_),
        blocks=blocks,
        block_maps=block_maps,
        block_in_use=block_in_use,
        block_slot=block_slot,
        wholesale=wholesale,
        suspension_maps=suspension_maps,
        suspensions=suspensions,
        trunks=trunks,
        coverage_dates=dates,
        range_coverage=np.array(
            [dates.index(covered[key]) + 1 if key in covered else 0 for key in RANGES], dtype=np.int8
        ),
        complete=all(c in present for c in REQUIRED_COMPONENTS),
        rules=rules if rules.count else EMPTY_RULES,
        rule_maps=rule_maps,
    )


def load_tables(store: FactStore, *, attempts: int = 3) -> BatchTables:
    """Read every component through ``store.part`` and compile them.

    The data version is read before and after the parts; if a publish landed in
    between, the read is repeated so the tables never mix two versions.
    """
    for _ in range(attempts):
        before = store.status()
        parts = {component: store.part(component) for component in Component}
        after = store.status()
        if before.data_version == after.data_version:
            loaded = [c.component for c in after.components if c.version]
            return compile_tables(parts, after.data_version, loaded)
    raise StoreError(f"data changed during {attempts} consecutive reads; try again")
