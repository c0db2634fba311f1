"""Screen a column of numbers at once: gather facts vectorised, decide once per fact signature.

Why this shape: `sipcheck.policy.decide` is the one place a verdict is made,
and it is a Python function. Calling it per row caps a batch at the speed of
`Screener.check`. But a verdict depends only on a few facts (kind, whether the
block is designated and in use, which operators stand in the chain,
the ingress operator, suspension), and a whole CDR file has few distinct
combinations of them. So:

1. every row is reduced to those facts with numpy (integer keys, sorted-array
   searches; the parser itself only for inputs that are not plain digits);
2. the facts are packed into one integer *signature* per row;
3. ``np.unique`` finds the distinct signatures; `decide` runs once for each,
   on a real `Facts` built for a representative row;
4. the verdicts are broadcast back with the inverse index.

Nothing here knows what a verdict should be; a policy change needs no change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

from sipcheck.batch.tables import (
    KIND_INTERNATIONAL,
    KINDS,
    MAX_NATIONAL_DIGITS,
    POW10,
    RANGES,
    BatchTables,
    Int32Array,
    Int64Array,
    PrefixMap,
)
from sipcheck.facts import Facts, OperatorFacts, Role
from sipcheck.ingress import IngressMap
from sipcheck.numbers import InvalidNumber, NumberKind, PhoneNumber, no_number_kind, parse_number
from sipcheck.policy import CompiledPolicy, decide, decide_anonymous
from sipcheck.verdict import Action, Verdict

ACTIONS: Final[tuple[Action, ...]] = tuple(Action)
"""Action codes in `BatchResult.actions`: the index of an `Action` here."""

_ZERO, _ONE, _EIGHT, _NINE, _PLUS = (ord(c) for c in "0189+")
_BLOCK_NONE, _BLOCK_IN_USE, _BLOCK_NOT_IN_USE = 0, 1, 2
SCAN_ROWS: Final = 1 << 15
DIGIT_COLUMNS: Final = 18
"""A fast-path number has at most 18 characters: 10**18 still fits in int64."""
_KIND_CODE: Final = {kind: code for code, kind in enumerate(KINDS)}
_RANGE_CODE: Final = {key: code for code, key in enumerate(RANGES)}
DENSE_SIGNATURES: Final = 1 << 22
KIND_INVALID: Final = -1
KIND_ANONYMOUS: Final = -2
KIND_PAYPHONE: Final = -3
KIND_LOWEST: Final = KIND_PAYPHONE
"""Row kinds below 0: no number (the parser refused it; anonymous = says the caller withheld it;
payphone = a payphone's display, a no-number kind of its own)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Verdicts for a column of numbers: one `Verdict` per distinct fact signature, and the row map.

    ``verdicts[inverse[i]]`` is row i's verdict (its ``input``/``number`` are
    those of the signature's representative row; use `e164`, `kinds`, `blocks`
    for each row's own number). Per-row string columns are built on demand,
    because the benchmarked work is the verdict, and a caller that needs only
    counts should not pay for a million strings.
    """

    inputs: npt.NDArray[np.str_]
    inverse: npt.NDArray[np.intp]
    verdicts: tuple[Verdict, ...]
    signature_actions: npt.NDArray[np.int8]
    kind: npt.NDArray[np.int8]  # per row: index into KINDS; KIND_INVALID, KIND_ANONYMOUS, KIND_PAYPHONE
    national_value: Int64Array
    national_length: npt.NDArray[np.int8]
    block_digits: npt.NDArray[np.int8]
    foreign_e164: dict[int, str]  # row -> E.164 for numbers outside Japan

    def __len__(self) -> int:
        return len(self.inverse)

    @property
    def actions(self) -> npt.NDArray[np.int8]:
        """Per-row action code (index into `ACTIONS`)."""
        return self.signature_actions[self.inverse]

    def counts(self) -> dict[Action, int]:
        per_signature = np.bincount(self.inverse, minlength=len(self.verdicts))
        totals = dict.fromkeys(ACTIONS, 0)
        for verdict, count in zip(self.verdicts, per_signature.tolist(), strict=True):
            totals[verdict.action] += count
        return totals

    def reasons(self) -> list[str]:
        """Per-row reason codes, semicolon-separated."""
        per_signature = [";".join(r.value for r in v.reasons) for v in self.verdicts]
        return [per_signature[i] for i in self.inverse.tolist()]

    def _national_digits(self, digits: npt.NDArray[np.int8]) -> list[str]:
        """The first ``digits`` digits of each Japanese row's national number, '' elsewhere."""
        japanese = (self.kind >= 0) & (self.kind != KIND_INTERNATIONAL)
        out = [""] * len(self)
        rows = np.flatnonzero(japanese)
        if len(rows):
            n = self.national_length[rows].astype(np.int64)
            d = digits[rows].astype(np.int64)
            prefix = self.national_value[rows] // POW10[n - d]
            for row, value, width in zip(rows.tolist(), prefix.tolist(), (d - 1).tolist(), strict=True):
                out[row] = "0" + str(value).zfill(width)
        return out

    def e164(self) -> list[str]:
        out = self._national_digits(self.national_length)
        for i, text in enumerate(out):
            if text:
                out[i] = "+81" + text[1:]
        for row, e164 in self.foreign_e164.items():
            out[row] = e164
        return out

    def blocks(self) -> list[str]:
        return self._national_digits(self.block_digits)

    def kinds(self) -> list[str]:
        names = [k.value for k in KINDS] + [
            ""
        ] * -KIND_LOWEST  # the no-number kinds (< 0) index the trailing ones
        return [names[k] for k in self.kind.tolist()]


def _as_text_array(numbers: npt.NDArray[np.str_] | Sequence[str]) -> npt.NDArray[np.str_]:
    arr = np.asarray(numbers)
    if arr.dtype.kind != "U":
        arr = arr.astype(str)
    if arr.itemsize // 4 < 4:  # the form detection reads 4 columns
        arr = arr.astype("U4")
    return arr


def _nonzero_digit(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    return (codes > _ZERO) & (codes <= _ZERO + 9)


def _scan(
    arr: npt.NDArray[np.str_], tables: BatchTables
) -> tuple[Int64Array, Int64Array, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Decode plain-digit national, +81 and 81 numbers.

    Returns (value, national length, valid mask, invalid mask); rows in neither mask need the parser.

    Works on the UCS-4 code points as an (N, width) integer matrix, in blocks of
    `SCAN_ROWS` rows so the temporaries stay in cache: per block one digit mask,
    one digit count and one integer matrix product with the place values, so a
    row's value and digit count come out without a Python loop. A row is *fast*
    only if it has exactly the shape `parse_number`'s own plain-digit path
    accepts and the plan says it is a valid number; everything else goes to the parser.
    """
    count = len(arr)
    width = arr.itemsize // 4
    codes = arr.view(np.uint32).reshape(count, width)
    length = np.strings.str_len(arr).astype(np.int64)
    columns = min(width, DIGIT_COLUMNS)
    # Place values as if every row were DIGIT_COLUMNS long; divided back by the real length below.
    weights = POW10[DIGIT_COLUMNS - columns : DIGIT_COLUMNS][::-1].copy()
    value = np.empty(count, dtype=np.int64)
    ndigits = np.empty(count, dtype=np.int64)
    for start in range(0, count, SCAN_ROWS):
        block = codes[start : start + SCAN_ROWS, :columns]
        digits = block - np.uint32(_ZERO)  # wraps around below '0', so one comparison tests the range
        is_digit = digits <= 9
        ndigits[start : start + SCAN_ROWS] = is_digit.sum(axis=1)
        value[start : start + SCAN_ROWS] = np.where(is_digit, digits, 0).astype(np.int64) @ weights
    value //= POW10[DIGIT_COLUMNS - np.clip(length, 0, DIGIT_COLUMNS)]
    c0, c1, c2, c3 = (codes[:, j] for j in range(4))
    # 0…: national. '010' is the international access prefix, '00' no range; both go to the parser.
    national = (c0 == _ZERO) & _nonzero_digit(c1) & ~((c1 == _ONE) & (c2 == _ZERO)) & (ndigits == length)
    plus81 = (c0 == _PLUS) & (c1 == _EIGHT) & (c2 == _ONE) & _nonzero_digit(c3) & (ndigits == length - 1)
    bare81 = (c0 == _EIGHT) & (c1 == _ONE) & _nonzero_digit(c2) & (ndigits == length) & (length >= 10)
    nlen = np.where(national, length, np.where(plus81, length - 2, length - 1))
    plan = tables.plan
    fast = (
        (national | plus81 | bare81)
        & (nlen >= plan.depth)
        & (nlen <= MAX_NATIONAL_DIGITS)
        & (length <= DIGIT_COLUMNS)
    )
    nlen = np.where(fast, nlen, plan.depth)
    # Drop the country code digits 81 that the Horner step counted for +81/81 forms.
    value = np.where(national, value, value - 81 * POW10[np.clip(nlen - 1, 0, 18)])
    value = np.where(fast, value, 0)
    prefix = value // POW10[nlen - plan.depth]
    classified = fast & (plan.kind[prefix] >= 0) & (plan.length[prefix] == nlen)
    # The right shape but no range or the wrong length: the parser would raise for these, and only
    # a signature's representative needs the exact error, so they skip the parser.
    return value, nlen, classified, fast & ~classified


def screen_array(
    numbers: npt.NDArray[np.str_] | Sequence[str],
    ingress: Sequence[str | None] | None,
    tables: BatchTables,
    policy: CompiledPolicy,
    today: date,
    ingress_map: IngressMap | None = None,
) -> BatchResult:
    """Screen ``numbers`` (with the matching ingress peers, or none) and return every row's verdict.

    Row i gets the verdict `Screener.check(numbers[i], ingress[i])` would give on
    the same data, policy and day; each distinct ingress peer is resolved once by ``ingress_map``
    (the one mapping every edge uses).
    """
    resolve = (ingress_map or IngressMap()).resolve
    arr = _as_text_array(numbers)
    count = len(arr)
    if ingress is not None and len(ingress) != count:
        raise ValueError(f"{count} numbers but {len(ingress)} ingress values")
    plan = tables.plan

    value, nlen, fast, fast_invalid = _scan(arr, tables)
    prefix = value // POW10[nlen - plan.depth]
    kind = np.where(fast, plan.kind[prefix], -1).astype(np.int8)
    bdigits = np.where(fast, plan.block_digits[prefix], 0).astype(np.int8)
    range_code = np.where(fast, plan.range_code[prefix], 0).astype(np.int8)

    # The parser for everything else, once per distinct text.
    parsed: dict[str, PhoneNumber | InvalidNumber] = {}
    foreign: dict[int, str] = {}
    foreign_suspended = np.zeros(0, dtype=np.intp)
    slow_rows = np.flatnonzero(~(fast | fast_invalid))
    if len(slow_rows):
        slow_index: dict[str, int] = {}
        slot_of = [slow_index.setdefault(text, len(slow_index)) for text in arr[slow_rows].tolist()]
        n_slow = len(slow_index)
        d_kind = np.full(n_slow, KIND_INVALID, dtype=np.int8)
        d_value = np.zeros(n_slow, dtype=np.int64)
        d_len = np.full(n_slow, plan.depth, dtype=np.int64)
        d_bd = np.zeros(n_slow, dtype=np.int8)
        d_range = np.zeros(n_slow, dtype=np.int8)
        d_suspended = np.zeros(n_slow, dtype=np.bool_)
        d_e164: list[str] = [""] * n_slow
        for d, text in enumerate(slow_index):
            try:
                number = parse_number(text)
            except InvalidNumber as exc:
                parsed[text] = exc
                no_number = no_number_kind(text)
                if no_number is not None:
                    d_kind[d] = KIND_PAYPHONE if no_number == "payphone" else KIND_ANONYMOUS
                continue
            parsed[text] = number
            d_kind[d] = _KIND_CODE[number.kind]
            if number.kind is NumberKind.INTERNATIONAL:
                d_e164[d] = number.e164
                d_suspended[d] = number.e164 in tables.suspensions
            else:
                d_value[d] = int(number.national)
                d_len[d] = len(number.national)
                d_bd[d] = len(number.block)
                d_range[d] = _RANGE_CODE[number.range]
        row_slot = np.array(slot_of, dtype=np.intp)
        value[slow_rows] = d_value[row_slot]
        nlen[slow_rows] = d_len[row_slot]
        kind[slow_rows] = d_kind[row_slot]
        bdigits[slow_rows] = d_bd[row_slot]
        range_code[slow_rows] = d_range[row_slot]
        is_foreign = d_kind[row_slot] == KIND_INTERNATIONAL
        foreign = {
            row: d_e164[d]
            for row, d in zip(slow_rows[is_foreign].tolist(), row_slot[is_foreign].tolist(), strict=True)
        }
        foreign_suspended = slow_rows[d_suspended[row_slot]]

    japanese = (kind >= 0) & (kind != KIND_INTERNATIONAL)
    if not tables.complete:
        japanese &= False  # no complete data set: no facts to gather, every valid row meets the fail policy

    # Coverage: 0 where the data does not cover the row's designation range, else 1 + its as-of date's index.
    coverage = np.where(japanese, tables.range_coverage[range_code], 0).astype(np.int64)

    # Block: the designation key is the national number's first block_digits digits.
    block_row = np.full(count, -1, dtype=np.int32)
    for block_map in tables.block_maps:
        block_row = np.where(bdigits == block_map.length, block_map.lookup(value, nlen, japanese), block_row)
    found = block_row >= 0
    safe_block = np.maximum(block_row, 0)
    if len(tables.blocks):
        in_use = tables.block_in_use[safe_block]
        designated = np.where(found, tables.block_slot[safe_block], -1)
    else:
        in_use = np.zeros(count, dtype=np.bool_)
        designated = np.full(count, -1, dtype=np.int32)
    block_state = np.where(found, np.where(in_use, _BLOCK_IN_USE, _BLOCK_NOT_IN_USE), _BLOCK_NONE)

    # Wholesale: longest prefix wins, looked for only where the block is designated (as TableSet does).
    serving = _longest_prefix(tables.wholesale, value, nlen, found)
    # A wholesale entry naming the designated operator itself is no separate serving operator.
    has_serving = serving >= 0
    if tables.slots:
        distinct = (serving != designated) | ~tables.slot_has_id[np.maximum(serving, 0)]
        serving = np.where(has_serving & distinct, serving, -1)

    # Suspension: Japanese numbers by their exact national number, foreign ones by E.164 above.
    suspended = np.zeros(count, dtype=np.bool_)
    for suspension_map in tables.suspension_maps:
        suspended |= suspension_map.lookup(value, nlen, japanese & (nlen == suspension_map.length)) >= 0
    suspended[foreign_suspended] = True

    # Ingress: -2 none given, -1 a peer that is no known trunk, else the trunk operator's slot.
    if ingress is None:
        ingress_code = np.full(count, -2, dtype=np.int64)
    else:
        codes_of: dict[str | None, int] = {None: -2}
        for peer in set(ingress):
            if peer is not None:
                trunk = resolve(peer)
                codes_of[peer] = -2 if trunk is None else tables.trunks.get(trunk, -1)
        ingress_code = np.fromiter(map(codes_of.__getitem__, ingress), dtype=np.int64, count=count)

    # Rules: the longest rule prefix a row falls under decides every prefix rule it matches (the
    # shorter ones are prefixes of that one); operator rules follow from the operators in the signature.
    rule_key = _longest_prefix(tables.rule_maps, value, nlen, japanese) if tables.rule_maps else None

    # Pack the facts into one signature per row. Invalid rows have no other facts.
    valid = kind >= 0
    radix = tables.slot_count + 2
    signature = (kind.astype(np.int64) - KIND_LOWEST) * 3 + np.where(valid, block_state, 0)
    signature = signature * (len(tables.coverage_dates) + 1) + coverage
    signature = signature * radix + np.where(valid, designated + 1, 0)
    signature = signature * radix + np.where(valid, serving + 1, 0)
    signature = signature * radix + np.where(valid, ingress_code + 2, 0)
    signature = signature * 2 + (valid & suspended)
    rule_radix = 1
    if rule_key is not None:
        rule_radix = len(tables.rules.prefixes()) + 1
        signature = signature * rule_radix + np.where(valid, np.maximum(rule_key, 0), 0)
    if (len(KINDS) - KIND_LOWEST) * 3 * (len(tables.coverage_dates) + 1) * radix**3 * 2 * rule_radix >= 2**63:
        raise ValueError(f"too many operators ({tables.slot_count}) or rules for a 64-bit fact signature")
    first, inverse = _distinct(signature)

    verdicts: list[Verdict] = []
    for row in first.tolist():
        text = str(arr[row])
        peer = None if ingress is None or ingress[row] is None else resolve(ingress[row])
        if kind[row] in (KIND_ANONYMOUS, KIND_PAYPHONE):
            # As Screener does: an anonymous caller is no invalid number; it has its own verdict.
            verdicts.append(decide_anonymous(text, policy))
            continue
        if not valid[row]:
            facts = Facts.invalid(text, _invalid(text, parsed.get(text)))
        elif not tables.complete:
            known = parsed.get(text)
            number = known if isinstance(known, PhoneNumber) else parse_number(text)
            facts = Facts.unavailable(text, number, peer, tables.data_version)
        else:
            known = parsed.get(text)
            facts = _facts_for(
                text,
                known if isinstance(known, PhoneNumber) else parse_number(text),
                peer,
                tables,
                int(block_row[row]),
                int(designated[row]),
                int(serving[row]),
                int(ingress_code[row]),
                bool(suspended[row]),
                tables.coverage_dates[int(coverage[row]) - 1] if coverage[row] else None,
            )
        verdicts.append(decide(facts, policy, today))

    action_index = {a: i for i, a in enumerate(ACTIONS)}
    return BatchResult(
        inputs=arr,
        inverse=inverse.astype(np.intp),
        verdicts=tuple(verdicts),
        signature_actions=np.array([action_index[v.action] for v in verdicts], dtype=np.int8),
        kind=kind,
        national_value=value,
        national_length=nlen.astype(np.int8),
        block_digits=bdigits,
        foreign_e164=foreign,
    )


def _distinct(signature: Int64Array) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(a representative row per distinct signature, each row's signature index).

    Signatures are small integers for realistic operator counts, so a dense
    scatter/gather finds them in two linear passes; `np.unique` (a sort) is the
    fallback when the signature space is too large for a dense table.
    """
    count = len(signature)
    size = int(signature.max()) + 1 if count else 0
    if size > max(DENSE_SIGNATURES, 4 * count):
        _, first, inverse = np.unique(signature, return_index=True, return_inverse=True)
        return first.astype(np.intp), inverse.astype(np.intp)
    representative = np.full(size, -1, dtype=np.intp)
    representative[signature] = np.arange(count, dtype=np.intp)  # the last row of each signature
    present = np.flatnonzero(representative >= 0)
    index = np.zeros(size, dtype=np.intp)
    index[present] = np.arange(len(present), dtype=np.intp)
    return representative[present], index[signature]


def _longest_prefix(
    maps: tuple[PrefixMap, ...], value: Int64Array, nlen: Int64Array, rows: npt.NDArray[np.bool_]
) -> Int32Array:
    """Payload of the longest matching prefix per row (``maps`` are longest first), else -1."""
    out = np.full(len(value), -1, dtype=np.int32)
    pending = rows.copy()
    for prefix_map in maps:
        if not pending.any():
            break
        hit = prefix_map.lookup(value, nlen, pending)
        matched = hit >= 0
        out = np.where(matched, hit, out)
        pending &= ~matched
    return out


def _invalid(text: str, known: PhoneNumber | InvalidNumber | None) -> InvalidNumber:
    """The parser's own error for a row the batch found invalid."""
    if isinstance(known, InvalidNumber):
        return known
    try:
        parse_number(text)
    except InvalidNumber as exc:
        return exc
    raise AssertionError(f"batch found {text!r} invalid but the parser accepts it")


def _facts_for(
    text: str,
    number: PhoneNumber,
    peer: str | None,
    tables: BatchTables,
    block_row: int,
    designated: int,
    serving: int,
    ingress_code: int,
    suspended: bool,
    designations_as_of: date | None,
) -> Facts:
    """A real `Facts` for a signature's representative row, from the slots the arrays found."""
    slots = tables.slots
    return Facts(
        input=text,
        number=number,
        block=tables.blocks[block_row] if block_row >= 0 else None,
        designated=OperatorFacts.of(Role.DESIGNATED, slots[designated]) if designated >= 0 else None,
        serving=OperatorFacts.of(Role.SERVING, slots[serving]) if serving >= 0 else None,
        ingress_peer=peer,
        ingress=OperatorFacts.of(Role.INGRESS, slots[ingress_code]) if ingress_code >= 0 else None,
        suspension=tables.suspensions.get(number.e164) if suspended else None,
        data_version=tables.data_version,
        designations_as_of=designations_as_of,
        rules=tables.rules.match(
            number.block,
            number.national,
            slots[designated].id if designated >= 0 else "",
            slots[serving].id if serving >= 0 else "",
        ),
    )
