"""How an import fails: every bad row, named exactly, in one exception.

An importer never returns part of a file. It validates the whole input,
collects every problem as a `RowError`, and raises one `ImportFailed` at the
end, so a bad file can never replace good data and the person fixing the file
sees all of its problems at once, not one per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

FILE_LEVEL: Final = 0
"""`RowError.line` for a problem with the whole file (encoding, header, missing date)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one place of an input file.

    ``line`` is the 1-based line (CSV) or row (spreadsheet) number, 0 for the
    file as a whole, or for JSON the item's index path such as ``[12]``.
    """

    file: str
    line: int | str
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.field}:{self.value}: {self.message}"


class ImportFailed(ValueError):
    """An input was rejected; ``errors`` lists every problem found, in file order."""

    SHOWN: Final = 20

    def __init__(self, errors: Iterable[RowError]) -> None:
        self.errors: list[RowError] = list(errors)
        shown = "\n".join(str(e) for e in self.errors[: self.SHOWN])
        more = len(self.errors) - self.SHOWN
        tail = f"\n… and {more} more" if more > 0 else ""
        super().__init__(f"import failed with {len(self.errors)} error(s):\n{shown}{tail}")


class Collector:
    """Accumulates `RowError`s while a file is read; `check()` raises if any were found."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def add(self, file: str, line: int | str, field: str, value: object, message: str) -> None:
        self.errors.append(RowError(file, line, field, "" if value is None else str(value), message))

    def extend(self, errors: Iterable[RowError]) -> None:
        self.errors.extend(errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def check(self) -> None:
        """Raise `ImportFailed` with the errors in file order (row and cross-row checks interleaved)."""
        if self.errors:
            files: dict[str, int] = {}
            for err in self.errors:
                files.setdefault(err.file, len(files))
            raise ImportFailed(sorted(self.errors, key=lambda e: (files[e.file], _line_order(e.line))))


def _line_order(line: int | str) -> int:
    if isinstance(line, int):
        return line
    digits = "".join(ch for ch in line if ch.isdigit())
    return int(digits) if digits else 0
