"""A report over many recordings: verify each file against one profile, then one HTML page and JSON.

Three layers, so that each can be used (and tested) alone:

* `verify_for_report` reads one file and judges it (the same reading and judging as
  ``sipcheck tone verify``: `read_audio_candidates` then `validate_recording`, the stream that holds
  the tone winning), and renders its plot; anything wrong with the file becomes an ``error`` entry
  instead of an exception, so one bad file never stops a campaign's report;
* `run_report` does that for every file over a process pool, calling back after each;
* `report_dict` and `render_html` are pure: entries in, JSON-ready dict or a self-contained HTML
  page out (inline CSS, plots as base64 PNG, no external asset, no script); `write_report` writes
  ``report.html`` and ``report.json`` into a folder.
"""

from __future__ import annotations

import base64
import html
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sipcheck.tones.audiofile import _SUFFIXES, AudioFormat, read_audio_candidates
from sipcheck.tones.errors import AudioFormatError
from sipcheck.tones.profiles import ParametricProfile, Profile
from sipcheck.tones.rtp import Concealment

EntryOutcome = Literal["pass", "fail", "inconclusive", "error"]
OUTCOMES: tuple[EntryOutcome, ...] = ("fail", "error", "inconclusive", "pass")
"""Report order: what needs a tester's attention first."""
_RANK = {"pass": 2, "inconclusive": 1, "fail": 0}
AUDIO_SUFFIXES = frozenset(_SUFFIXES)


@dataclass(frozen=True)
class ReadOptions:
    """How to read every file (the ``tone verify`` options), and whether to plot."""

    fmt: AudioFormat | None = None
    channel: int = 0
    ssrc: int | None = None
    port: int | None = None
    conceal: Concealment = "silence"
    offset_ms: float | None = None
    plot: bool = True
    plot_dpi: int = 72


@dataclass(frozen=True)
class Entry:
    """One file's line in the report."""

    file: str
    outcome: EntryOutcome
    reasons: tuple[str, ...] = ()
    """Failure and inconclusive sentences, or the error that kept the file from being judged."""
    failure_codes: tuple[str, ...] = ()
    inconclusive_codes: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()
    stream: str = ""
    streams_considered: int = 0
    start_offset_ms: float | None = None
    duration_s: float | None = None
    result: dict[str, Any] | None = None
    """`ValidationResult.to_dict` (what ``tone verify --json`` prints)."""
    plot_png: bytes | None = field(default=None, repr=False)
    plot_error: str | None = None
    seconds: float = 0.0
    """Time taken to read, judge and plot the file."""


@dataclass(frozen=True)
class Report:
    """Every entry, in the order the files were given, and what the report was run with."""

    profile_id: str
    profile_name: str
    entries: tuple[Entry, ...]
    profile_summary: str = ""
    generated_at: str = ""
    jobs: int = 1
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("pass", "fail", "inconclusive", "error")}
        for e in self.entries:
            out[e.outcome] += 1
        out["total"] = len(self.entries)
        return out

    def ordered(self) -> list[Entry]:
        """Entries for reading: failures, then errors, inconclusive, passes; given order within each."""
        return sorted(self.entries, key=lambda e: OUTCOMES.index(e.outcome))


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; a folder stands for the recordings and captures in it (recursively, by the
    suffixes ``tone verify`` knows), sorted. Duplicates are kept once, in first-seen order."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        found = (
            sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            if p.is_dir()
            else [p]
        )
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def verify_for_report(path: str | Path, profile: Profile, options: ReadOptions = ReadOptions()) -> Entry:
    """Read, judge and plot one file. Never raises for a bad file: it becomes an ``error`` entry."""
    from sipcheck.tones.verify import validate_recording

    started = time.perf_counter()
    name = str(path)
    try:
        candidates = read_audio_candidates(
            path,
            fmt=options.fmt,
            channel=options.channel,
            ssrc=options.ssrc,
            port=options.port,
            conceal=options.conceal,
        )
        tried = []
        for n, audio in enumerate(candidates):
            result = validate_recording(audio, profile, offset_ms=options.offset_ms)
            tried.append((_RANK[result.outcome], -n, audio, result))
        # As `tone verify`: of several streams to one party, the one holding the tone is what the
        # party heard; the first (most packets) wins a tie.
        _rank, _order, audio, result = max(tried, key=lambda item: (item[0], item[1]))
    except (AudioFormatError, ValueError, OSError) as exc:
        message = str(exc) if isinstance(exc, AudioFormatError) else f"{name}: {exc}"
        return _error_entry(name, message, started)
    except Exception as exc:  # one broken file must not stop the report
        return _error_entry(name, f"{name}: unexpected {type(exc).__name__}: {exc}", started)
    from sipcheck.tones.plot import notes_of, reasons_of

    png: bytes | None = None
    plot_error: str | None = None
    if options.plot:
        try:
            from sipcheck.tones.plot import plot_png_bytes

            png = plot_png_bytes(
                audio.samples,
                audio.sample_rate,
                profile,
                result,
                source=Path(name).name,
                dpi=options.plot_dpi,
            )
        except Exception as exc:  # a plot that cannot be drawn leaves the verdict standing
            plot_error = f"{type(exc).__name__}: {exc}"
    return Entry(
        file=name,
        outcome=result.outcome,
        reasons=reasons_of(result),
        failure_codes=result.failure_codes,
        inconclusive_codes=result.inconclusive_codes,
        notes=notes_of(result),
        stream=audio.description,
        streams_considered=len(tried),
        start_offset_ms=result.start_offset_ms,
        duration_s=len(audio.samples) / audio.sample_rate,
        result=result.to_dict(),
        plot_png=png,
        plot_error=plot_error,
        seconds=time.perf_counter() - started,
    )


def _error_entry(name: str, message: str, started: float) -> Entry:
    return Entry(
        file=name, outcome="error", reasons=(message,), error=message, seconds=time.perf_counter() - started
    )


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_report(
    paths: Sequence[str | Path],
    profile: Profile,
    options: ReadOptions = ReadOptions(),
    *,
    jobs: int | None = None,
    progress: Callable[[int, int, Entry], None] | None = None,
) -> Report:
    """Verify every file, ``jobs`` at a time in worker processes (1: in this process), calling
    ``progress(done, total, entry)`` as each finishes. Entries keep the order of ``paths``."""
    started = time.perf_counter()
    jobs = default_jobs() if jobs is None else max(1, jobs)
    total = len(paths)
    entries: list[Entry | None] = [None] * total
    done = 0

    def finished(i: int, entry: Entry) -> None:
        nonlocal done
        entries[i] = entry
        done += 1
        if progress is not None:
            progress(done, total, entry)

    if jobs == 1 or total <= 1:
        for i, p in enumerate(paths):
            finished(i, verify_for_report(p, profile, options))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, total)) as pool:
            futures: dict[Future[Entry], int] = {
                pool.submit(verify_for_report, p, profile, options): i for i, p in enumerate(paths)
            }
            for future in as_completed(futures):
                i = futures[future]
                try:
                    entry = future.result()
                except Exception as exc:  # a worker that died (e.g. out of memory)
                    name = str(paths[i])
                    entry = _error_entry(name, f"{name}: worker failed: {type(exc).__name__}: {exc}", started)
                finished(i, entry)
    return Report(
        profile_id=profile.id,
        profile_name=profile.name,
        entries=tuple(e for e in entries if e is not None),
        profile_summary=expected_summary(profile),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        jobs=jobs,
        seconds=time.perf_counter() - started,
    )


def exit_outcome(report: Report) -> EntryOutcome:
    """The report's overall outcome: ``fail`` if any file failed, else ``error`` if any could not be
    judged, else ``inconclusive`` if any was, else ``pass`` (also for no file at all)."""
    counts = report.counts()
    for outcome in ("fail", "error", "inconclusive"):
        if counts[outcome]:
            return outcome
    return "pass"


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON report: counts, and per file its outcome, reasons and full validation result."""
    return {
        "profile": report.profile_id,
        "profile_name": report.profile_name,
        "generated_at": report.generated_at,
        "jobs": report.jobs,
        "seconds": round(report.seconds, 3),
        "outcome": exit_outcome(report),
        "counts": report.counts(),
        "files": [
            {
                "file": e.file,
                "outcome": e.outcome,
                "reasons": list(e.reasons),
                "failure_codes": list(e.failure_codes),
                "inconclusive_codes": list(e.inconclusive_codes),
                "error": e.error,
                "notes": list(e.notes),
                "stream": e.stream,
                "streams_considered": e.streams_considered,
                "start_offset_ms": e.start_offset_ms,
                "duration_s": e.duration_s,
                "plot": e.plot_png is not None,
                "plot_error": e.plot_error,
                "seconds": round(e.seconds, 3),
                "result": e.result,
            }
            for e in report.entries
        ],
    }


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #1b1b1b; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.meta { color: #555; margin-top: 0; }
.counts { display: flex; gap: 0.8em; margin: 1em 0; }
.count { padding: 0.5em 1em; border-radius: 6px; font-weight: 600; }
.count b { font-size: 1.4em; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.file { min-width: 14em; overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { font-weight: 700; white-space: nowrap; }
.pass { background: #e6f4ea; color: #1a7f37; }
.fail { background: #fde7e7; color: #c62828; }
.inconclusive { background: #fff3e0; color: #b26a00; }
.error { background: #eeeeee; color: #444; }
.total { background: #e8eaf6; color: #283593; }
section.file { border-top: 2px solid #ddd; margin-top: 2em; padding-top: 0.5em; }
section.file h2 { font-size: 1.1em; word-break: break-all; }
section.file img { max-width: 100%; height: auto; border: 1px solid #ccc; }
ul.reasons { margin: 0.3em 0 0.8em 1.2em; padding: 0; }
code { font-size: 0.95em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(index: int) -> str:
    return f"file-{index + 1}"


def render_html(report: Report, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page (pure: no file is read)."""
    counts = report.counts()
    index = {id(e): i for i, e in enumerate(report.entries)}
    ordered = report.ordered()
    heading = title or f"Tone report: {report.profile_id}"
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(heading)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(heading)}</h1>",
        f'<p class="meta">Profile <code>{_e(report.profile_id)}</code> ({_e(report.profile_name)}'
        f"{'; ' + _e(report.profile_summary) if report.profile_summary else ''}) · "
        f"{counts['total']} file{'s' if counts['total'] != 1 else ''} · generated {_e(report.generated_at)} "
        f"· {report.seconds:.1f} s on {report.jobs} worker{'s' if report.jobs != 1 else ''}</p>",
        f'<div class="counts" data-overall="{_e(exit_outcome(report))}">',
    ]
    for key, label in (
        ("total", "files"),
        ("pass", "pass"),
        ("fail", "fail"),
        ("inconclusive", "inconclusive"),
        ("error", "unreadable"),
    ):
        out.append(
            f'<div class="count {key}" id="count-{key}" data-count="{counts[key]}">'
            f"<b>{counts[key]}</b>{label}</div>"
        )
    out.append("</div>")
    out.append(
        '<table id="summary"><thead><tr><th>#</th><th>file</th><th>verdict</th><th>reasons</th>'
        "<th>tone start</th><th>length</th></tr></thead><tbody>"
    )
    for e in ordered:
        i = index[id(e)]
        shown = [r.removeprefix(f"{e.file}: ") for r in e.reasons] or ["every burst within tolerance"]
        reasons = "<br>".join(_e(r) for r in [*shown, *e.notes])
        start = "" if e.start_offset_ms is None else f"{e.start_offset_ms:+.0f} ms"
        length = "" if e.duration_s is None else f"{e.duration_s:.2f} s"
        out.append(
            f'<tr class="entry" data-file="{_e(e.file)}" data-outcome="{e.outcome}">'
            f'<td class="num">{i + 1}</td><td class="file"><a href="#{_anchor(i)}">{_e(e.file)}</a></td>'
            f'<td class="verdict {e.outcome}">{e.outcome.upper()}</td><td>{reasons}</td>'
            f'<td class="num">{start}</td><td class="num">{length}</td></tr>'
        )
    out.append("</tbody></table>")
    for e in ordered:
        i = index[id(e)]
        out.append(
            f'<section class="file" id="{_anchor(i)}" data-outcome="{e.outcome}">'
            f'<h2><span class="verdict {e.outcome}">&nbsp;{e.outcome.upper()}&nbsp;</span> {_e(e.file)}</h2>'
        )
        facts = []
        if e.stream:
            facts.append(f"stream: {_e(e.stream)}")
        if e.streams_considered > 1:
            facts.append(f"{e.streams_considered} streams considered")
        if e.start_offset_ms is not None:
            facts.append(f"tone starts {e.start_offset_ms:+.0f} ms after the call start")
        if e.result is not None:
            facts.append(f"call start from {_e(e.result.get('call_start_source', ''))}")
        if facts:
            out.append(f'<p class="meta">{" · ".join(facts)}</p>')
        items = [*(r.removeprefix(f"{e.file}: ") for r in e.reasons), *e.notes]
        if items:
            out.append('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in items) + "</ul>")
        if e.plot_png is not None:
            data = base64.b64encode(e.plot_png).decode("ascii")
            out.append(
                f'<img alt="{_e("plot of " + e.file)}" src="data:image/png;base64,{data}" loading="eager">'
            )
        elif e.plot_error:
            out.append(f'<p class="meta">no plot: {_e(e.plot_error)}</p>')
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(report: Report, out_dir: str | Path, *, title: str | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.json`` into ``out_dir`` (created if missing)."""
    import json

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / "report.html", folder / "report.json"
    html_path.write_text(render_html(report, title=title), encoding="utf-8")
    json_path.write_text(
        json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return html_path, json_path


def expected_summary(profile: Profile) -> str:
    """One line on what the profile expects, for a report's heading."""
    if isinstance(profile, ParametricProfile):
        return f"{len(profile.expected())} bursts, {profile.total_ms():.0f} ms"
    return f"reference {profile.recording}"
