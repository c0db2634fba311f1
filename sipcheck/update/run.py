"""`sipcheck data update` end to end: page → every linked MIC file → one validated import → publish.

Everything is fetched and validated before the store is touched, so a failure anywhere (the page,
any one file, any one row) publishes nothing: an update is worth doing only whole, because a
range half-updated from a newer file and half from an older one is a state MIC never published.
Choosing the newest file per range is `load_mic`'s job (by each file's own as-of date); this
module only makes sure it sees every file the page offers, under the URL it came from.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sipcheck.importers import ImportFailed, MicImport, load_mic, merge_blocks, restrict
from sipcheck.model import Component, RangeCoverage
from sipcheck.settings import DataSettings
from sipcheck.store import FactStore
from sipcheck.update.fetch import FetchError, check_url, fetch_bytes, fetch_file
from sipcheck.update.page import FileLink, decode_page, file_links

PAGE_NAME: Final = "number_shitei.html"
"""The name MIC's page has, and so the name an offline copy of it is looked for under first."""


class UpdateFailed(Exception):
    """Nothing can be published; the message names the URL or file and the problem.

    ``details`` are the individual problems behind it (every bad row of every file).
    """

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A MIC file on local disk and the link (URL) it is the content of."""

    link: FileLink
    path: Path


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated update, ready to publish: the import and the files it was read from."""

    page_url: str
    mic: MicImport
    files: tuple[Fetched, ...]

    @property
    def unused(self) -> tuple[Fetched, ...]:
        """Files the page listed whose every range a newer file covered (MIC's previous edition)."""
        used = set(self.mic.part.sources)
        return tuple(f for f in self.files if f.link.url not in used)


def prepare(data: DataSettings, source_dir: Path | None = None) -> Prepared:
    """Fetch (or, with ``source_dir``, read an offline copy of) the page and its files; validate all.

    Raises `UpdateFailed`; returns only when every file downloaded and every row is valid. The
    downloads live in a temporary directory that is gone when this returns (the import is in memory).
    """
    try:
        check_url(data.update_url)
    except FetchError as exc:
        raise UpdateFailed(f"data.update_url {exc}") from exc
    if source_dir is not None:
        return _validate(data.update_url, from_directory(source_dir, data.update_url))
    with tempfile.TemporaryDirectory(prefix="sipcheck-update-") as workdir:
        files = download(
            data.update_url, Path(workdir), timeout_s=data.update_timeout_s, max_bytes=data.update_max_bytes
        )
        return _validate(data.update_url, files)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a publish did, range by range. ``version`` is None when nothing was newer than the live data."""

    version: str | None
    replaced: tuple[RangeCoverage, ...]
    unchanged: tuple[RangeCoverage, ...]  # the live range has the same as-of date and source
    older: tuple[tuple[RangeCoverage, RangeCoverage], ...]  # (offered, live): the live data is newer


def publish(store: FactStore, prepared: Prepared, *, allow_older: bool = False) -> Outcome:
    """Replace the ranges for which the update is news, keep the others, publish atomically.

    A range whose live data is newer than the file offered for it is kept (a page served from a stale
    cache or mirror must not roll the data back) unless ``allow_older``; a range whose live data came
    from the same file as of the same date is left alone; with nothing left, nothing is published
    (a daily timer must not mint a new data version for an unchanged page).
    """
    live = store.part(Component.BLOCKS)
    live_coverage = {c.range: c for c in live.coverage}
    replaced: list[RangeCoverage] = []
    unchanged: list[RangeCoverage] = []
    older: list[tuple[RangeCoverage, RangeCoverage]] = []
    for offered in prepared.mic.part.coverage:
        current = live_coverage.get(offered.range)
        if current is not None and current.as_of == offered.as_of and current.source == offered.source:
            unchanged.append(offered)
        elif current is not None and current.as_of > offered.as_of and not allow_older:
            older.append((offered, current))
        else:
            replaced.append(offered)
    if not replaced:
        return Outcome(None, (), tuple(unchanged), tuple(older))
    news = restrict(prepared.mic, {c.range for c in replaced})
    version = store.publish({Component.BLOCKS: merge_blocks(live, news)})
    return Outcome(version, tuple(replaced), tuple(unchanged), tuple(older))


def page_links(data: bytes, page_url: str) -> list[FileLink]:
    """The MIC files a page offers; `UpdateFailed` if it offers none (not the page, or MIC changed it)."""
    links = file_links(decode_page(data), page_url)
    if not links:
        raise UpdateFailed(
            f"{page_url}: the page links no .xls/.xlsx file: is data.update_url MIC's designation page "
            "(電気通信番号指定状況), or has MIC changed it?"
        )
    return links


def download(page_url: str, workdir: Path, *, timeout_s: float, max_bytes: int) -> list[Fetched]:
    """The page and every file it links, into ``workdir``; `UpdateFailed` at the first that fails.

    Each file keeps the name its URL ends in (the importers read a date from a name when a sheet
    has none), in a directory of its own so two URLs ending in the same name cannot collide.
    """
    try:
        links = page_links(fetch_bytes(page_url, timeout_s=timeout_s, max_bytes=max_bytes), page_url)
        files: list[Fetched] = []
        for index, link in enumerate(links):
            folder = workdir / f"{index:03d}"
            folder.mkdir()
            path = fetch_file(link.url, folder / _safe_name(link), timeout_s=timeout_s, max_bytes=max_bytes)
            files.append(Fetched(link, path))
    except FetchError as exc:
        raise UpdateFailed(str(exc)) from exc
    return files


def from_directory(source_dir: Path, page_url: str) -> list[Fetched]:
    """An offline copy: the saved page in ``source_dir`` and the files it links, found by file name.

    Links resolve against ``page_url`` (data.update_url) exactly as online, so the data set records
    the same URLs whichever way the files arrived; a linked file missing from the copy is an error.
    """
    page = find_page(source_dir)
    links = page_links(page.read_bytes(), page_url)
    files: list[Fetched] = []
    seen: dict[str, str] = {}
    missing: list[str] = []
    for link in links:
        name = _safe_name(link)
        if name in seen:
            raise UpdateFailed(
                f"{page}: {link.url} and {seen[name]} both end in {name}: an offline copy cannot hold both"
            )
        seen[name] = link.url
        path = source_dir / name
        if not path.is_file():
            missing.append(f"{name} (linked as {link.url})")
            continue
        files.append(Fetched(link, path))
    if missing:
        raise UpdateFailed(f"{source_dir}: the page links files the copy does not hold: {', '.join(missing)}")
    return files


def find_page(source_dir: Path) -> Path:
    """``number_shitei.html`` in the directory, else its only .html/.htm file."""
    if not source_dir.is_dir():
        raise UpdateFailed(f"{source_dir}: no such directory")
    page = source_dir / PAGE_NAME
    if page.is_file():
        return page
    pages = sorted(p for p in source_dir.iterdir() if p.is_file() and p.suffix.lower() in (".html", ".htm"))
    if len(pages) != 1:
        found = ", ".join(p.name for p in pages) or "none"
        raise UpdateFailed(f"{source_dir}: expected {PAGE_NAME} or exactly one .html file (found: {found})")
    return pages[0]


def _validate(page_url: str, files: Sequence[Fetched]) -> Prepared:
    try:
        mic = load_mic([f.path for f in files], {f.path: f.link.url for f in files})
    except ImportFailed as exc:
        bad = dict.fromkeys(e.file for e in exc.errors)
        named = "; ".join(
            f"{name} from {', '.join(f.link.url for f in files if f.path.name == name) or '?'}"
            for name in bad
        )
        raise UpdateFailed(f"{len(exc.errors)} problem(s) in {named}", [str(e) for e in exc.errors]) from exc
    return Prepared(page_url, mic, tuple(files))


def _safe_name(link: FileLink) -> str:
    """The URL's file name, safe to join to a directory: a percent-encoded separator is not one.

    (Never '.' or '..' either: only names ending in .xls/.xlsx get here.)
    """
    return link.name.replace("/", "_").replace("\\", "_").replace("\x00", "_")
