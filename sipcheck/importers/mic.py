"""MIC block designations: read any mix of MIC's files, keep the newest per range, merge into live data.

MIC publishes one file (or a few) per range and renames them at every update,
so a user hands us whatever they downloaded: we key everything by *range*
(``050``, ``0120``, ``090``…; ``01``–``09`` for fixed numbers by the first digit of
the area code). Per range the file with the newest as-of date wins, and
`merge_blocks` replaces only the ranges a load covers, so downloading the new
050 file never drops the fixed blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.mic_common import MicFile, range_key
from sipcheck.importers.mic_csv import read_mic_csv
from sipcheck.importers.mic_xls import read_xls
from sipcheck.importers.mic_xlsx import read_xlsx
from sipcheck.model import Block, Component, Part, RangeCoverage

_READERS: dict[str, Callable[[Path, Collector], MicFile | None]] = {
    ".xls": read_xls,
    ".xlsx": read_xlsx,
    ".csv": read_mic_csv,
}


@dataclass(frozen=True, slots=True)
class MicImport:
    """The blocks of the ranges a load covers; ``covered_ranges`` say which live ranges it replaces,
    ``origins`` which file (its name, or the URL it came from) each range was read from."""

    part: Part
    covered_ranges: frozenset[str]
    origins: Mapping[str, str] = field(default_factory=dict)


def load_mic(paths: Sequence[Path], origins: Mapping[Path, str] | None = None) -> MicImport:
    """Read MIC files (.xls fixed, .xlsx matrices, processed .csv) into one blocks part.

    The part covers every range a file covers, as of that file's date (the newest file per
    range wins); ``origins`` names where a file came from (a URL) for the part's sources.
    Raises `ImportFailed` with every problem of every file; nothing is returned unless all
    files are valid.
    """
    errors = Collector()
    files: list[MicFile] = []
    for path in paths:
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            errors.add(
                path.name, FILE_LEVEL, "", path.suffix, "unsupported MIC file: expected .xls, .xlsx or .csv"
            )
            continue
        read = reader(path, errors)
        if read is not None:
            if origins and path in origins:
                read.source = origins[path]
            files.append(read)
    winners = _newest_per_range(files, errors)
    records: list[Block] = []
    first_place: dict[str, str] = {}
    for mic_file in files:
        for place, block in mic_file.blocks:
            if winners.get(range_key(block.prefix)) is not mic_file:
                continue
            other = first_place.get(block.prefix)
            if other is not None:
                file, line, *rest = place.split(":")
                errors.add(
                    file, line, rest[0] if rest else "", block.prefix, f"duplicate block, also at {other}"
                )
                continue
            first_place[block.prefix] = place
            records.append(block)
    errors.check()
    used = [f for f in files if any(w is f for w in winners.values())]
    coverage = []
    for rng, winner in sorted(winners.items()):
        as_of = winner.as_of_for(rng)
        assert as_of is not None  # a file without a date was an error above
        coverage.append(RangeCoverage(rng, as_of, winner.source_for(rng), winner.operators_as_of.get(rng)))
    part = Part(
        Component.BLOCKS,
        tuple(records),
        min(c.as_of for c in coverage) if coverage else None,
        tuple(f.source or f.file for f in used),
        coverage=tuple(coverage),
    )
    return MicImport(part, frozenset(winners), {rng: f.source or f.file for rng, f in winners.items()})


def _newest_per_range(files: Sequence[MicFile], errors: Collector) -> dict[str, MicFile]:
    """For each range, the file with the newest as-of date; two files tied for newest is an error."""
    winners: dict[str, MicFile] = {}
    for mic_file in files:
        for rng in mic_file.ranges:
            current = winners.get(rng)
            if current is None or _newer(mic_file.as_of_for(rng), current.as_of_for(rng)):
                winners[rng] = mic_file
    for mic_file in files:
        for rng in sorted(mic_file.ranges):
            winner = winners[rng]
            if winner is not mic_file and winner.as_of_for(rng) == mic_file.as_of_for(rng):
                errors.add(
                    mic_file.file,
                    FILE_LEVEL,
                    "",
                    rng,
                    f"range {rng} is also in {winner.file} with the same as-of date "
                    f"({mic_file.as_of_for(rng)}): give one file per range and date",
                )
    return winners


def _newer(a: date | None, b: date | None) -> bool:
    return a is not None and (b is None or a > b)


def merge_blocks(live: Part, new: MicImport) -> Part:
    """``live`` blocks with the ranges ``new`` covers replaced by ``new``'s blocks and coverage.

    The as-of date of the result is the oldest of the covered ranges' dates (the data is at
    least that fresh everywhere); each range keeps its own in the coverage.
    """
    covered = new.covered_ranges
    kept = tuple(r for r in live.records if isinstance(r, Block) and range_key(r.prefix) not in covered)
    coverage = tuple(
        sorted(
            (*(c for c in live.coverage if c.range not in covered), *new.part.coverage), key=lambda c: c.range
        )
    )
    kept_sources = live.sources if kept or len(coverage) > len(new.part.coverage) else ()
    dates = [c.as_of for c in coverage] or [d for d in (new.part.as_of,) if d is not None]
    sources = tuple(dict.fromkeys((*kept_sources, *new.part.sources)))
    return Part(
        Component.BLOCKS, kept + new.part.records, min(dates) if dates else None, sources, coverage=coverage
    )


def restrict(new: MicImport, ranges: frozenset[str] | set[str]) -> MicImport:
    """``new`` limited to ``ranges``: their blocks and coverage only (an update that skips some ranges)."""
    keep = frozenset(ranges) & new.covered_ranges
    records = tuple(r for r in new.part.records if isinstance(r, Block) and range_key(r.prefix) in keep)
    coverage = tuple(c for c in new.part.coverage if c.range in keep)
    dates = [c.as_of for c in coverage]
    sources = tuple(dict.fromkeys(new.origins[c.range] for c in coverage))
    part = Part(Component.BLOCKS, records, min(dates) if dates else None, sources, coverage=coverage)
    return MicImport(part, keep, {rng: new.origins[rng] for rng in keep})
