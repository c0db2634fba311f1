"""Rows of a CSV or JSON list validated against a row model, with every error named.

The small lists (operators, certifications, trunks, wholesale, processed MIC
blocks) all go through `load_rows`; only the suspension feed has its own
fast path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.textio import csv_rows, json_items, open_csv

M = TypeVar("M", bound=BaseModel)

TEXT_FORMATS = (".csv", ".json")


def fields_of(model: type[BaseModel]) -> tuple[list[str], list[str]]:
    """(required, optional) field names of a row model, in declaration order."""
    required = [name for name, info in model.model_fields.items() if info.is_required()]
    optional = [name for name, info in model.model_fields.items() if not info.is_required()]
    return required, optional


def raw_rows(path: Path, model: type[BaseModel], errors: Collector) -> list[tuple[int | str, dict[str, Any]]]:
    """The raw rows of a CSV or JSON file, keyed by field; empty CSV cells are left out (= default)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return list(json_items(path, errors))
    if suffix != ".csv":
        errors.add(path.name, FILE_LEVEL, "", path.suffix, "unsupported format: expected .csv or .json")
        return []
    required, optional = fields_of(model)
    table = open_csv(path, required, optional, errors)
    if table is None:
        return []
    return [(line, {k: v for k, v in row.items() if v != ""}) for line, row in csv_rows(table, errors)]


def validate_row(
    model: type[M], file: str, line: int | str, raw: dict[str, Any], errors: Collector
) -> M | None:
    """One row through its model; each failing field becomes a `RowError`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            field = ".".join(str(part) for part in loc) if loc else ""
            value = err.get("input")
            if isinstance(value, dict):
                value = raw.get(str(loc[0]), "") if loc else ""
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                value, message = "", "required field missing"
            elif err["type"] == "extra_forbidden":
                message = "unknown field"
            errors.add(file, line, field, value, message)
        return None


def load_rows(paths: Sequence[Path], model: type[M], errors: Collector) -> list[tuple[str, int | str, M]]:
    """Every valid row of every file as (file, line, row); invalid ones are recorded in ``errors``."""
    result: list[tuple[str, int | str, M]] = []
    for path in paths:
        for line, raw in raw_rows(path, model, errors):
            row = validate_row(model, path.name, line, raw, errors)
            if row is not None:
                result.append((path.name, line, row))
    return result
