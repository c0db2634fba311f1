"""Importers of the lists we define: operators, certifications, ingress trunks, wholesale assignments.

Each returns a complete `Part` or raises `ImportFailed` listing every bad row,
including conflicts between rows (a duplicate id, a name two operators
claim), which no single row can show.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sipcheck.importers.errors import Collector
from sipcheck.importers.prefixes import number_for_prefix, range_to_prefixes
from sipcheck.importers.rows import CertificationRow, OperatorRow, TrunkRow, WholesaleRow
from sipcheck.importers.tables import load_rows
from sipcheck.model import (
    Certification,
    CertStatus,
    Component,
    Operator,
    Part,
    Record,
    Trunk,
    Wholesale,
    name_key,
)


class _Seen:
    """First place each key was seen, to name both places of a duplicate."""

    def __init__(self, errors: Collector) -> None:
        self.errors = errors
        self.places: dict[str, tuple[str, str]] = {}

    def claim(self, key: str, owner: str, file: str, line: int | str, field: str, value: str) -> bool:
        """Record ``key`` for ``owner``; a key another owner already holds is an error. True if new."""
        first = self.places.get(key)
        if first is None:
            self.places[key] = (owner, f"{file}:{line}")
            return True
        if first[0] != owner:
            self.errors.add(file, line, field, value, f"duplicate: already used at {first[1]}")
        return False


def _part(component: Component, records: Sequence[Record], paths: Sequence[Path]) -> Part:
    return Part(component, tuple(records), None, tuple(p.name for p in paths))


def load_operators(paths: Sequence[Path]) -> Part:
    errors = Collector()
    rows = load_rows(paths, OperatorRow, errors)
    ids, names, numbers = _Seen(errors), _Seen(errors), _Seen(errors)
    records: list[Operator] = []
    for file, line, row in rows:
        place = f"{file}:{line}"
        if not ids.claim(row.id, place, file, line, "id", row.id):
            continue
        for field, name in (("name", row.name), *(("aliases", alias) for alias in row.aliases)):
            names.claim(name_key(name), row.id, file, line, field, name)
        if row.corporate_number:
            numbers.claim(row.corporate_number, row.id, file, line, "corporate_number", row.corporate_number)
        records.append(Operator(row.id, row.name, tuple(row.aliases), row.corporate_number))
    errors.check()
    return _part(Component.OPERATORS, records, paths)


def load_certifications(paths: Sequence[Path]) -> Part:
    errors = Collector()
    rows = load_rows(paths, CertificationRow, errors)
    operators, numbers = _Seen(errors), _Seen(errors)
    records: list[Certification] = []
    for file, line, row in rows:
        place = f"{file}:{line}"
        if row.valid_from and row.valid_until and row.valid_until < row.valid_from:
            errors.add(file, line, "valid_until", row.valid_until.isoformat(), "before valid_from")
            continue
        ref = row.operator_id or row.name
        field = "operator_id" if row.operator_id else "name"
        if not operators.claim(row.operator_id or name_key(row.name), place, file, line, field, ref):
            continue
        if row.corporate_number and not numbers.claim(
            row.corporate_number, place, file, line, "corporate_number", row.corporate_number
        ):
            continue
        records.append(
            Certification(
                operator=ref,
                status=CertStatus(row.status.value),
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                round=row.round,
                name=row.name,
                corporate_number=row.corporate_number,
            )
        )
    errors.check()
    return _part(Component.CERTIFICATIONS, records, paths)


def load_trunks(paths: Sequence[Path]) -> Part:
    errors = Collector()
    peers = _Seen(errors)
    records: list[Trunk] = []
    for file, line, row in load_rows(paths, TrunkRow, errors):
        if peers.claim(row.peer, f"{file}:{line}", file, line, "peer", row.peer):
            records.append(Trunk(row.peer, row.operator))
    errors.check()
    return _part(Component.TRUNKS, records, paths)


def load_wholesale(paths: Sequence[Path]) -> Part:
    errors = Collector()
    prefixes = _Seen(errors)
    records: list[Wholesale] = []
    for file, line, row in load_rows(paths, WholesaleRow, errors):
        place = f"{file}:{line}"
        if (row.prefix is None) == (row.range is None):
            errors.add(file, line, "prefix", row.prefix or row.range, "give exactly one of prefix or range")
            continue
        if row.prefix is not None:
            if number_for_prefix(row.prefix) is None:
                errors.add(file, line, "prefix", row.prefix, "no valid Japanese number starts with it")
                continue
            expanded = [row.prefix]
        else:
            assert row.range is not None
            expanded = _expand_range(row.range, file, line, errors)
        for prefix in expanded:
            if prefixes.claim(prefix, place, file, line, "prefix" if row.prefix else "range", prefix):
                records.append(Wholesale(prefix, row.operator))
    errors.check()
    return _part(Component.WHOLESALE, records, paths)


def _expand_range(text: str, file: str, line: int | str, errors: Collector) -> list[str]:
    start, end = text.split("-")
    for end_text in (start, end):
        number = number_for_prefix(end_text)
        if number is None or number.national != end_text:
            errors.add(file, line, "range", text, f"{end_text} is not a whole valid Japanese number")
            return []
    if len(start) != len(end) or start > end:
        errors.add(file, line, "range", text, "start and end must have one length and start ≤ end")
        return []
    return range_to_prefixes(start, end)
