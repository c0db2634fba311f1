"""Arrow record batch in, annotated record batch out: the batch screen a columnar engine calls.

`screen_batch` is what Dask, Spark's ``mapInArrow`` or a Parquet pipeline call per partition,
and what `sipcheck screen` runs per chunk. It keeps every input column untouched and appends
`OUTPUT_COLUMNS`, the same columns the CSV path writes, from the same `screen_array` and so the
same `policy.decide`.

Call records repeat their callers (a trunk sees the same numbers all day), so the batch screens
each distinct (caller, ingress) pair once, hashing in Arrow's C++ kernels, and expands the
answers back to the rows with ``take``: no Python runs per row. The per-number text columns
(e164, block) are built with Arrow's string kernels for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from sipcheck.batch.csvio import OUTPUT_COLUMNS, BatchError, resolve_column_names, signature_columns
from sipcheck.batch.screen import BatchResult, screen_array
from sipcheck.batch.tables import KIND_INTERNATIONAL, KINDS, POW10, BatchTables
from sipcheck.ingress import IngressMap
from sipcheck.policy import CompiledPolicy
from sipcheck.verdict import Action

_KIND_NAMES: Final = pa.array([k.value for k in KINDS] + [""], type=pa.string())
_EMPTY: Final = pa.array([""], type=pa.string())


@dataclass(slots=True)
class BatchCounts:
    """What one or more screened batches held: rows, and rows per action."""

    rows: int = 0
    distinct: int = 0
    by_action: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in Action})


def check_columns(schema: pa.Schema, column: str, ingress_column: str | None, source: str) -> str | None:
    """The ingress column to use (None: none), or a BatchError naming what is wrong with ``schema``:
    `resolve_column_names`'s rules, and both columns must hold text."""
    ingress_column = resolve_column_names(schema.names, column, ingress_column, source)
    for name in (column, ingress_column):
        if name is None:
            continue
        kind = schema.field(name).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind)):
            raise BatchError(
                f"{source}: column {name!r} is {kind}, not text: numbers stored as integers have lost "
                "their leading 0 (and any +); store them as strings"
            )
    return ingress_column


def _text(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A plain string array, nulls as "" (an empty field in a CSV is an empty string too)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if not pa.types.is_string(array.type):
        array = array.cast(pa.string())
    return pc.fill_null(array, "")


def _codes(array: pa.Array) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """(each row's index into the distinct values, the distinct values)."""
    encoded = pc.dictionary_encode(array)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _digit_prefix(result: BatchResult, digits: npt.NDArray[np.int64], head: str) -> pa.Array:
    """``head`` + the first ``digits`` digits of each Japanese number's national form after its 0,
    "" for other rows: e164 with head "+81" and all the digits, block with head "0"."""
    japanese = (result.kind >= 0) & (result.kind != KIND_INTERNATIONAL)
    rows = np.flatnonzero(japanese)
    pieces: list[pa.Array] = []
    position = np.full(len(result), -1, dtype=np.int64)
    if len(rows):
        n = result.national_length[rows].astype(np.int64)
        d = digits[rows]
        prefix = result.national_value[rows] // POW10[n - d]
        width = d - 1
        start = 0
        for w in np.unique(width).tolist():
            sel = np.flatnonzero(width == w)
            text = pc.cast(pa.array(prefix[sel]), pa.string())
            if w > 0:
                text = pc.utf8_lpad(text, width=w, padding="0")
            else:
                text = pa.array([""] * len(sel), type=pa.string())
            pieces.append(pc.binary_join_element_wise(head, text, ""))
            position[rows[sel]] = start + np.arange(len(sel))
            start += len(sel)
    empty_at = sum(len(p) for p in pieces)
    pieces.append(_EMPTY)
    position[position < 0] = empty_at
    return pc.take(pa.concat_arrays(pieces), pa.array(position))


def _e164(result: BatchResult) -> pa.Array:
    out = _digit_prefix(result, result.national_length.astype(np.int64), "+81")
    if not result.foreign_e164:
        return out
    rows = sorted(result.foreign_e164)
    mask = np.zeros(len(result), dtype=np.bool_)
    mask[rows] = True
    values = pa.array([result.foreign_e164[r] for r in rows], type=pa.string())
    return pc.replace_with_mask(out, pa.array(mask), values)


def _kinds(result: BatchResult) -> pa.Array:
    index = np.where(result.kind >= 0, result.kind, len(KINDS)).astype(np.int64)
    return pc.take(_KIND_NAMES, pa.array(index))


_SIGNATURE_COLUMNS: Final = (0, 1, 5, 6, 7, 8, 9)
"""Where the seven per-verdict columns (`signature_columns`) sit in `OUTPUT_COLUMNS`; the other
three (e164, kind, block) are the number's own."""
_NEEDS_QUOTES: Final = '[,"\r\n]'


@dataclass(frozen=True, slots=True)
class Screened:
    """One batch screened: each row's distinct (caller, ingress) pair, each pair's own columns and
    verdict, each verdict's columns. Rendered as plain columns or as CSV text."""

    row_pair: npt.NDArray[np.int64]
    pair_columns: tuple[pa.Array, pa.Array, pa.Array]  # e164, kind, block per pair
    pair_signature: npt.NDArray[np.int64]
    signature_columns: tuple[pa.Array, ...]  # the seven per-verdict columns, per verdict
    counts: BatchCounts

    def _values(self) -> list[tuple[pa.Array, bool]]:
        """Each output column's values and whether they are per verdict (else per pair)."""
        pair, signature = iter(self.pair_columns), iter(self.signature_columns)
        return [
            (next(signature), True) if i in _SIGNATURE_COLUMNS else (next(pair), False)
            for i in range(len(OUTPUT_COLUMNS))
        ]

    def _indexed(self) -> list[tuple[pa.Array, pa.Array]]:
        """Each output column as (values, each row's index into them), in `OUTPUT_COLUMNS` order."""
        by_pair = pa.array(self.row_pair)
        by_signature = pa.array(self.pair_signature[self.row_pair])
        return [(values, by_signature if per_verdict else by_pair) for values, per_verdict in self._values()]

    def columns(self) -> list[pa.Array]:
        """Plain string columns, one value per row."""
        return [pc.take(values, index) for values, index in self._indexed()]

    def _fragments(self) -> pa.Array:
        """Each pair's output columns as one CSV fragment ("allow,,+81…"), quoted as Python's csv
        module quotes: the per-verdict columns quoted once per verdict."""
        signature = pa.array(self.pair_signature)
        per_pair = [
            pc.take(quote_csv(values), signature) if per_verdict else values
            for values, per_verdict in self._values()
        ]
        return pc.binary_join_element_wise(*per_pair, ",")

    def csv_tails(self) -> pa.Array:
        """Each row's output columns as one CSV fragment, without a line end: built once per
        distinct pair, then one ``take``."""
        if not len(self.row_pair):
            return pa.array([], type=pa.string())
        return pc.take(self._fragments(), pa.array(self.row_pair))

    def csv_text(self) -> pa.Array:
        """Each row's output columns as one CSV fragment with its line end ("allow,,+81…\\n")."""
        if not len(self.row_pair):
            return pa.array([], type=pa.string())
        fragments = pc.binary_join_element_wise(self._fragments(), "\n", "")
        return pc.take(fragments, pa.array(self.row_pair))


def _text_bytes(values: pa.Array) -> bytes:
    """The characters of every value of a string array, back to back."""
    offsets = values.buffers()[1]
    data = values.buffers()[2]
    if offsets is None or data is None or not len(values):
        return b""
    bounds = np.frombuffer(offsets, dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    return bytes(data[int(bounds[0]) : int(bounds[-1])].to_pybytes())


def quote_csv(values: pa.Array) -> pa.Array:
    """``values`` as CSV fields: quoted (quotes doubled) where a comma, quote or line break needs it.

    A column is first searched whole (memchr over its characters, ~10 GB/s); only a column that
    holds such a character anywhere pays the per-value regular expression (~150 ns a value)."""
    text = _text_bytes(values)
    if not any(char in text for char in (b",", b'"', b"\n", b"\r")):
        return values
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES)
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, values)


MEMO_PAIRS: Final = 1 << 20
"""Most (caller, ingress) pairs a `PairMemo` keeps (~60 MB of text at most)."""


@dataclass(slots=True)
class PairMemo:
    """What earlier chunks of one screen found for their distinct (caller, ingress) pairs, so a pair
    that comes back in a later chunk (a trunk's callers do) is not screened again.

    It holds answers for one data set, policy, day and ingress map only: `screen_pairs` empties it
    whenever it is called with any other (the tables object itself is compared, not only its data
    version). At most `MEMO_PAIRS` pairs are kept: past that, the memo restarts from the pairs of the
    latest chunk, which are the likeliest to come back."""

    limit: int = MEMO_PAIRS
    scope: tuple[object, ...] = ()
    keys: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    columns: tuple[pa.Array, pa.Array, pa.Array] = field(
        default_factory=lambda: (pa.array([], pa.string()),) * 3
    )
    pair_verdict: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    verdict_ids: dict[tuple[str, ...], int] = field(default_factory=dict)
    """Each verdict's seven columns (`signature_columns`, the action first) -> its id."""
    hits: int = 0
    """Pairs found here instead of screened, over the memo's life (for tests and the bench)."""

    def __len__(self) -> int:
        return len(self.keys)

    def enter(self, scope: tuple[object, ...]) -> None:
        """Use the memo for ``scope`` (tables, policy, day, ingress map): emptied if it held another."""
        if len(scope) != len(self.scope) or any(a is not b for a, b in zip(scope, self.scope, strict=True)):
            self.scope = scope
            self.keys = pa.array([], pa.string())
            self.columns = (pa.array([], pa.string()),) * 3
            self.pair_verdict = np.zeros(0, dtype=np.int64)
            self.verdict_ids.clear()

    def verdict_id(self, columns: tuple[str, ...]) -> int:
        return self.verdict_ids.setdefault(columns, len(self.verdict_ids))

    def signature_columns(self) -> tuple[pa.Array, ...]:
        by_column = list(zip(*self.verdict_ids, strict=True)) or [()] * 7
        return tuple(pa.array(list(values), type=pa.string()) for values in by_column)


def _pair_keys(numbers: pa.Array, peers: Sequence[str | None] | None) -> pa.Array:
    """One text per distinct pair, equal only for equal pairs: the caller's length, ":", the caller,
    then the ingress peer ("" for none, as an empty field is)."""
    if peers is None:
        return numbers
    lengths = pc.cast(pc.utf8_length(numbers), pa.string())
    return pc.binary_join_element_wise(lengths, numbers, pa.array([p or "" for p in peers], pa.string()), ":")


def screen_pairs(
    callers: pa.Array | pa.ChunkedArray,
    ingress: pa.Array | pa.ChunkedArray | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    ingress_map: IngressMap | None = None,
    memo: PairMemo | None = None,
) -> Screened:
    """Screen ``callers`` (and their ingress peers), each distinct pair once (with ``memo``: once
    for all the chunks it has seen)."""
    caller_text = _text(callers)
    caller_code, caller_values = _codes(caller_text)
    peers: Sequence[str | None] | None = None
    if ingress is None:
        row_pair = caller_code
        numbers = caller_values
    else:
        ingress_code, ingress_values = _codes(_text(ingress))
        pair = caller_code * max(len(ingress_values), 1) + ingress_code
        _, first_index, inverse = np.unique(pair, return_index=True, return_inverse=True)
        first = first_index.astype(np.int64)
        row_pair = np.asarray(inverse, dtype=np.int64).reshape(-1)
        numbers = caller_values.take(pa.array(caller_code[first]))
        peers = [p or None for p in ingress_values.take(pa.array(ingress_code[first])).to_pylist()]
    if memo is None:
        return _screened(row_pair, numbers, peers, tables, policy, today, ingress_map)
    return _remembered(row_pair, numbers, peers, tables, policy, today, ingress_map, memo)


def _screened(
    row_pair: npt.NDArray[np.int64],
    numbers: pa.Array,
    peers: Sequence[str | None] | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    ingress_map: IngressMap | None,
) -> Screened:
    """Every distinct pair screened: the `Screened` for rows ``row_pair`` of pairs ``numbers``/``peers``."""
    result = _screen_distinct(numbers, peers, tables, policy, today, ingress_map)
    pair_signature = result.inverse.astype(np.int64)
    by_verdict = list(zip(*(signature_columns(v) for v in result.verdicts), strict=True)) or [()] * 7
    return Screened(
        row_pair=row_pair,
        pair_columns=_pair_columns(result),
        pair_signature=pair_signature,
        signature_columns=tuple(pa.array(list(values), type=pa.string()) for values in by_verdict),
        counts=_counts(row_pair, pair_signature, [v.action.value for v in result.verdicts], len(numbers)),
    )


def _remembered(
    row_pair: npt.NDArray[np.int64],
    numbers: pa.Array,
    peers: Sequence[str | None] | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    ingress_map: IngressMap | None,
    memo: PairMemo,
) -> Screened:
    """As `_screened`, screening only the pairs ``memo`` has no answer for, and remembering those."""
    memo.enter((tables, policy, today, ingress_map))
    keys = _pair_keys(numbers, peers)
    distinct = len(keys)
    if len(memo):
        at = pc.fill_null(pc.index_in(keys, value_set=memo.keys), -1).to_numpy().astype(np.int64)
        known = at >= 0
    else:
        known = np.zeros(distinct, dtype=np.bool_)
        at = np.zeros(distinct, dtype=np.int64)
    new = np.flatnonzero(~known)
    memo.hits += distinct - len(new)
    if len(new):
        new_peers = None if peers is None else [peers[i] for i in new.tolist()]
        result = _screen_distinct(numbers.take(pa.array(new)), new_peers, tables, policy, today, ingress_map)
        ids = np.array([memo.verdict_id(signature_columns(v)) for v in result.verdicts], dtype=np.int64)
        new_columns = _pair_columns(result)
        new_verdict = ids[result.inverse]
    else:
        new_columns = (pa.array([], pa.string()),) * 3
        new_verdict = np.zeros(0, dtype=np.int64)
    if len(new) == distinct:  # nothing remembered (the first chunk): the pairs are in order
        columns, pair_verdict = new_columns, new_verdict
    else:  # each pair's place in (memo's pairs, then this chunk's new ones)
        where = at.copy()
        where[new] = len(memo) + np.arange(len(new), dtype=np.int64)
        index = pa.array(where)
        columns = tuple(
            pc.take(pa.concat_arrays([old, fresh]), index)
            for old, fresh in zip(memo.columns, new_columns, strict=True)
        )
        pair_verdict = np.concatenate([memo.pair_verdict, new_verdict])[where]
    if len(new):
        if len(memo) + len(new) <= memo.limit:
            memo.keys = pa.concat_arrays([memo.keys, keys.take(pa.array(new))])
            memo.columns = tuple(
                pa.concat_arrays([old, fresh]) for old, fresh in zip(memo.columns, new_columns, strict=True)
            )
            memo.pair_verdict = np.concatenate([memo.pair_verdict, new_verdict])
        else:  # full: start again from this chunk's pairs
            keep = min(distinct, memo.limit)
            memo.keys = keys.slice(0, keep)
            memo.columns = tuple(c.slice(0, keep) for c in columns)
            memo.pair_verdict = pair_verdict[:keep].copy()
    return Screened(
        row_pair=row_pair,
        pair_columns=columns,
        pair_signature=pair_verdict,
        signature_columns=memo.signature_columns(),
        counts=_counts(row_pair, pair_verdict, [columns[0] for columns in memo.verdict_ids], distinct),
    )


def _screen_distinct(
    numbers: pa.Array,
    peers: Sequence[str | None] | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    ingress_map: IngressMap | None,
) -> BatchResult:
    texts = (
        np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=str) if len(numbers) else np.array([], "U4")
    )
    return screen_array(texts, peers, tables, policy, today, ingress_map)


def _pair_columns(result: BatchResult) -> tuple[pa.Array, pa.Array, pa.Array]:
    """e164, kind and block per screened number."""
    return _e164(result), _kinds(result), _digit_prefix(result, result.block_digits.astype(np.int64), "0")


def _counts(
    row_pair: npt.NDArray[np.int64],
    pair_signature: npt.NDArray[np.int64],
    actions: Sequence[str],
    distinct: int,
) -> BatchCounts:
    counts = BatchCounts(rows=len(row_pair), distinct=distinct)
    per_signature = np.bincount(pair_signature[row_pair], minlength=len(actions))
    for action, rows in zip(actions, per_signature.tolist(), strict=True):
        counts.by_action[action] += rows
    return counts


def screen_arrays(
    callers: pa.Array | pa.ChunkedArray,
    ingress: pa.Array | pa.ChunkedArray | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    ingress_map: IngressMap | None = None,
) -> tuple[list[pa.Array], BatchCounts]:
    """The `OUTPUT_COLUMNS` arrays for ``callers`` (and their ingress peers), and the counts."""
    screened = screen_pairs(callers, ingress, tables, policy, today, ingress_map)
    return screened.columns(), screened.counts


def screen_batch(
    batch: pa.RecordBatch | pa.Table,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    *,
    column: str = "caller",
    ingress_column: str | None = None,
    ingress_map: IngressMap | None = None,
    source: str = "<batch>",
) -> tuple[pa.RecordBatch | pa.Table, BatchCounts]:
    """``batch`` with `OUTPUT_COLUMNS` appended, and what it held.

    Row i's columns are those `Screener.check(caller[i], ingress[i])` gives on the same data,
    policy and day. Raises BatchError for a missing or non-text caller/ingress column or an
    input column named like an output column.
    """
    ingress_name = check_columns(batch.schema, column, ingress_column, source)
    ingress = batch.column(ingress_name) if ingress_name is not None else None
    columns, counts = screen_arrays(batch.column(column), ingress, tables, policy, today, ingress_map)
    names = [*batch.schema.names, *OUTPUT_COLUMNS]
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays([*batch.columns, *columns], names=names), counts
    return pa.RecordBatch.from_arrays([*batch.columns, *columns], names=names), counts


__all__ = [
    "MEMO_PAIRS",
    "BatchCounts",
    "PairMemo",
    "Screened",
    "check_columns",
    "quote_csv",
    "screen_arrays",
    "screen_batch",
    "screen_pairs",
]
