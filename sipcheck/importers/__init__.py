"""Importers: every input file format → a complete, validated `sipcheck.model.Part`.

One entry point per job, all-or-nothing: a file with any bad row raises
`ImportFailed` listing every bad row (``file:line:field:value: message``) and
returns nothing, so a bad file can never replace good data.

- `load_component(kind, paths)`: mic, certified, suspended, operators, trunks, wholesale
- `load_mic(paths)` / `merge_blocks(live, new)`: MIC files by range, newest per range
- `load_suspension_changes(paths)`: incremental suspension feed (add/remove)
- `json_schema(kind)`: the documented JSON schema of a list format
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter

from sipcheck.importers.errors import ImportFailed, RowError
from sipcheck.importers.lists import load_certifications, load_operators, load_trunks, load_wholesale
from sipcheck.importers.mic import MicImport, load_mic, merge_blocks, restrict
from sipcheck.importers.rows import (
    CertificationRow,
    MicBlockRow,
    MicDesignationRow,
    OperatorRow,
    SuspensionChangeRow,
    SuspensionRow,
    TrunkRow,
    WholesaleRow,
)
from sipcheck.importers.suspensions import SuspensionChanges, load_suspension_changes, load_suspensions
from sipcheck.model import Part

__all__ = [
    "KINDS",
    "ImportFailed",
    "MicImport",
    "RowError",
    "SuspensionChanges",
    "json_schema",
    "load_component",
    "load_mic",
    "load_suspension_changes",
    "merge_blocks",
    "restrict",
]


def _mic_part(paths: Sequence[Path]) -> Part:
    return load_mic(paths).part


_LOADERS: Final[dict[str, Callable[[Sequence[Path]], Part]]] = {
    "mic": _mic_part,
    "certified": load_certifications,
    "suspended": load_suspensions,
    "operators": load_operators,
    "trunks": load_trunks,
    "wholesale": load_wholesale,
}
KINDS: Final = tuple(_LOADERS)

_ROW_MODELS: Final[dict[str, type[BaseModel]]] = {
    "mic": MicDesignationRow,
    "mic-blocks": MicBlockRow,
    "certified": CertificationRow,
    "suspended": SuspensionRow,
    "suspension-changes": SuspensionChangeRow,
    "operators": OperatorRow,
    "trunks": TrunkRow,
    "wholesale": WholesaleRow,
}


def load_component(kind: str, paths: Sequence[Path]) -> Part:
    """Load one component from files; the format follows each file's extension.

    For ``mic`` this is only the covered ranges: use `load_mic` + `merge_blocks`
    to update a live data set without losing the ranges not given.
    """
    loader = _LOADERS.get(kind)
    if loader is None:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    if not paths:
        raise ValueError(f"no files given for {kind}")
    return loader([Path(p) for p in paths])


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON schema of a list file of ``kind`` (an array of row objects).

    Kinds: those of `load_component` plus ``suspension-changes``. For ``mic`` it
    describes the rows of the processed designation CSV shipped in ``sipcheck/data``
    (MIC's own files are spreadsheets); ``mic-blocks`` the block list of earlier versions.
    """
    model = _ROW_MODELS.get(kind)
    if model is None:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(_ROW_MODELS)}")
    schema: dict[str, Any] = TypeAdapter(list[model]).json_schema()  # type: ignore[valid-type]
    schema["title"] = f"sipcheck {kind} list"
    return schema
