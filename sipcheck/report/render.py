"""A `Report` as one CSV table (for a spreadsheet) and as one self-contained HTML page (a submission).

The HTML page carries everything inline: its CSS, and the charts as base64 PNG drawn by
matplotlib (Agg); no script, no external stylesheet, font or image. Every text is escaped.

Japanese names: the tables carry the operator names as text, which the browser renders with its
fonts (`scripts/test` installs fonts-ipafont-gothic where ``fc-list :lang=ja`` finds none). The
charts of days and reasons have ASCII labels only (dates, reason codes). The chart of operators
labels its bars with the operator names when fontconfig has a font with Japanese glyphs
(`japanese_font`: ``fc-list :lang=ja``); without one, matplotlib would draw the names as boxes,
so the bars are labelled by their rank (``#1``…), which the operator tables show beside the names.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import subprocess
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Final

from sipcheck.report.aggregate import NONE_LABEL, Counts, Report, Row
from sipcheck.report.read import JST

CSV_COLUMNS: Final = (
    "section",
    "key",
    "calls",
    "allowed",
    "flagged",
    "blocked",
    "allowed_rate",
    "flagged_rate",
    "blocked_rate",
    "reasons",
    "designated_operator",
)
SECTIONS: Final = (
    "summary",
    "designated",
    "serving",
    "ingress",
    "contractor",
    "reason",
    "number",
    "day",
    "data_version",
)
COLORS: Final = {"allow": "#4c9a2a", "flag": "#e0a100", "block": "#c0392b"}


def label(key: str) -> str:
    """An operator column's value as a report shows it: '' is no operator."""
    return key or NONE_LABEL


def _moment(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def window_text(report: Report) -> str:
    since = _moment(report.since) if report.since else "the first call"
    until = _moment(report.until) if report.until else "the last call"
    return f"{since} – {until} (until exclusive)" if report.until else f"{since} – {until}"


# --- CSV -------------------------------------------------------------------------------------------


def csv_rows(report: Report) -> Iterable[list[str]]:
    def counted(section: str, key: str, c: Counts, reasons: str = "", operator: str = "") -> list[str]:
        return [
            section,
            key,
            str(c.calls),
            str(c.allowed),
            str(c.flagged),
            str(c.blocked),
            f"{c.rate(c.allowed):.6f}",
            f"{c.rate(c.flagged):.6f}",
            f"{c.rate(c.blocked):.6f}",
            reasons,
            operator,
        ]

    yield list(CSV_COLUMNS)
    yield counted("summary", "total", report.total)
    for role in ("designated", "serving", "ingress", "contractor"):
        for row in report.operators(role):
            yield counted(role, label(row.key), row.counts)
    for row in report.reasons:
        yield counted("reason", row.key, row.counts)
    for number in report.numbers:
        yield counted(
            "number", number.e164, number.counts, ";".join(number.reasons), label(number.designated_operator)
        )
    for row in report.days:
        yield counted("day", row.key, row.counts)
    for row in report.data_versions:
        yield counted("data_version", row.key or NONE_LABEL, row.counts)


def write_csv(report: Report, out: IO[str]) -> None:
    csv.writer(out, lineterminator="\n").writerows(csv_rows(report))


# --- charts ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def japanese_font() -> str | None:
    """The file of a font with Japanese glyphs that fontconfig knows (``fc-list :lang=ja``), or None."""
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=ja", "file"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.strip().rstrip(":") for line in listed.splitlines() if line.strip())
    usable = [f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc"))]
    return usable[0] if usable else None


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def chart_days(days: tuple[Row, ...]) -> str:
    """Calls per JST day, stacked allow/flag/block, as base64 PNG (ASCII labels only)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4))
    axes = figure.add_subplot()
    x = list(range(len(days)))
    allowed = [r.counts.allowed for r in days]
    flagged = [r.counts.flagged for r in days]
    blocked = [r.counts.blocked for r in days]
    axes.bar(x, allowed, color=COLORS["allow"], label="allow")
    axes.bar(x, flagged, bottom=allowed, color=COLORS["flag"], label="flag")
    axes.bar(
        x,
        blocked,
        bottom=[a + f for a, f in zip(allowed, flagged, strict=True)],
        color=COLORS["block"],
        label="block",
    )
    step = max(1, len(days) // 15)
    axes.set_xticks(x[::step], [r.key[5:] for r in days][::step])
    axes.set_ylabel("calls")
    axes.set_title("Calls per day (JST)")
    axes.legend(loc="upper right")
    figure.tight_layout()
    return _png(figure)


def chart_reasons(reasons: tuple[Row, ...], top: int) -> str:
    """The top reasons (calls carrying each), horizontal bars, as base64 PNG (reason codes are ASCII)."""
    from matplotlib.figure import Figure

    shown = list(reasons[:top])[::-1]
    figure = Figure(figsize=(12, max(2.5, 0.35 * len(shown) + 1.2)))
    axes = figure.add_subplot()
    y = list(range(len(shown)))
    left = [0] * len(shown)
    for action, attr in (("allow", "allowed"), ("flag", "flagged"), ("block", "blocked")):
        values = [getattr(r.counts, attr) for r in shown]
        axes.barh(y, values, left=left, color=COLORS[action], label=action)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(y, [r.key for r in shown])
    axes.set_xlabel("calls carrying the reason")
    axes.set_title("Top reasons")
    if shown:
        axes.legend(loc="lower right")
    figure.tight_layout()
    return _png(figure)


def chart_operators(rows: tuple[Row, ...], top: int, role: str = "designated") -> str:
    """The operators with the most flagged + blocked calls, stacked bars, as base64 PNG.

    Labelled by name with a Japanese font (`japanese_font`), else by rank (#1 is the table's first row).
    """
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = japanese_font()
    shown = [(rank, r) for rank, r in enumerate(rows[:top], 1) if r.counts.attention][::-1]
    figure = Figure(figsize=(12, max(2.5, 0.35 * len(shown) + 1.2)))
    axes = figure.add_subplot()
    y = list(range(len(shown)))
    flagged = [r.counts.flagged for _, r in shown]
    axes.barh(y, flagged, color=COLORS["flag"], label="flag")
    axes.barh(y, [r.counts.blocked for _, r in shown], left=flagged, color=COLORS["block"], label="block")
    if font:
        axes.set_yticks(
            y, [f"#{rank} {label(r.key)}" for rank, r in shown], fontproperties=FontProperties(fname=font)
        )
    else:
        axes.set_yticks(y, [f"#{rank}" for rank, _ in shown])
    axes.set_xlabel("flagged + blocked calls")
    axes.set_title(f"Top {role} operators by flagged + blocked calls")
    if shown:
        axes.legend(loc="lower right")
    figure.tight_layout()
    return _png(figure)


# --- HTML ------------------------------------------------------------------------------------------

CSS: Final = """
body { font-family: system-ui, "Noto Sans CJK JP", "IPAPGothic", "IPAGothic", "Hiragino Sans", "Yu Gothic",
       sans-serif; margin: 2em;
       color: #222; max-width: 1100px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 2px solid #444; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; }
th { background: #eee; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
tr.flag td.key { border-left: 4px solid #e0a100; }
tr.block td.key { border-left: 4px solid #c0392b; }
img { max-width: 100%; }
footer { margin-top: 2em; color: #666; font-size: 0.85em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(count: int, calls: int) -> str:
    return f"{100.0 * count / calls:.2f}%" if calls else "-"


def _count_cells(c: Counts) -> str:
    return (
        f'<td class="n">{c.calls:,}</td><td class="n">{c.allowed:,}</td>'
        f'<td class="n">{c.flagged:,}</td><td class="n">{_pct(c.flagged, c.calls)}</td>'
        f'<td class="n">{c.blocked:,}</td><td class="n">{_pct(c.blocked, c.calls)}</td>'
    )


COUNT_HEADERS: Final = (
    "<th>calls</th><th>allowed</th><th>flagged</th><th>flag rate</th><th>blocked</th><th>block rate</th>"
)


def _row_class(c: Counts) -> str:
    return "block" if c.blocked else "flag" if c.flagged else "allow"


def _operator_table(role: str, rows: tuple[Row, ...]) -> str:
    body = "".join(
        f'<tr class="{_row_class(r.counts)}" data-operator="{_e(r.key)}"><td class="n">{rank}</td>'
        f'<td class="key">{_e(label(r.key))}</td>'
        f"{_count_cells(r.counts)}</tr>"
        for rank, r in enumerate(rows, 1)
    )
    title = role if role == "contractor" else f"{role} operator"
    return (
        f'<table id="{role}"><thead><tr><th>#</th><th>{_e(title)}</th>{COUNT_HEADERS}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def render_html(report: Report, *, generated_at: datetime, title: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    heading = title or "sipcheck report: flagged and blocked calls per operator"
    total = report.total
    versions = "".join(
        f'<tr><td class="key">{_e(r.key or NONE_LABEL)}</td><td class="n">{r.counts.calls:,}</td></tr>'
        for r in report.data_versions
    )
    sources = "".join(
        f'<tr><td class="key">{_e(s)}</td><td class="n">{n:,}</td></tr>' for s, n in report.sources
    )
    summary = "".join(
        f'<tr data-row="{name}"><td class="key">{name}</td><td class="n" data-count="{count}">{count:,}</td>'
        f'<td class="n">{_pct(count, total.calls)}</td></tr>'
        for name, count in (
            ("calls", total.calls),
            ("allowed", total.allowed),
            ("flagged", total.flagged),
            ("blocked", total.blocked),
        )
    )
    reasons = "".join(
        f'<tr><td class="key">{_e(r.key)}</td>{_count_cells(r.counts)}</tr>'
        for r in report.reasons[: report.top]
    )
    numbers = "".join(
        f'<tr class="{_row_class(n.counts)}"><td class="key">{_e(n.e164)}</td>'
        f'<td class="n">{n.counts.calls:,}</td><td class="n">{n.counts.flagged:,}</td>'
        f'<td class="n">{n.counts.blocked:,}</td><td>{_e(", ".join(n.reasons))}</td>'
        f"<td>{_e(label(n.designated_operator))}</td></tr>"
        for n in report.numbers
    )
    days = "".join(f'<tr><td class="key">{_e(r.key)}</td>{_count_cells(r.counts)}</tr>' for r in report.days)
    charts = ""
    if report.days:
        charts += (
            f'<img id="chart-days" alt="calls per day" src="data:image/png;base64,{chart_days(report.days)}">'
        )
    if any(r.counts.attention for r in report.designated):
        charts += (
            f'<img id="chart-designated" alt="top designated operators" '
            f'src="data:image/png;base64,{chart_operators(report.designated, report.top)}">'
        )
    if report.reasons:
        charts += (
            f'<img id="chart-reasons" alt="top reasons" '
            f'src="data:image/png;base64,{chart_reasons(report.reasons, report.top)}">'
        )
    operator_sections = "".join(
        f"<h2>Per {role} operator</h2>{_operator_table(role, report.operators(role))}"
        for role in ("designated", "serving", "ingress")
    )
    if any(row.key for row in report.contractor):  # only decision logs name contractors
        operator_sections += (
            f"<h2>Per contractor (契約者)</h2>{_operator_table('contractor', report.contractor)}"
        )
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{_e(heading)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{_e(heading)}</h1>
<dl class="meta">
<dt>Window</dt><dd id="window">{_e(window_text(report))}</dd>
<dt>Calls seen</dt><dd>{_e(_moment(report.first))} – {_e(_moment(report.last))}</dd>
<dt>Generated</dt><dd id="generated">{_e(_moment(generated_at))}</dd>
<dt>Records outside the window</dt><dd>{report.outside_window:,}</dd>
</dl>
<h2>Data versions</h2>
<table id="data-versions"><thead><tr><th>data version</th><th>calls</th></tr></thead>
<tbody>{versions}</tbody></table>
<h2>Summary</h2>
<table id="summary"><thead><tr><th></th><th>calls</th><th>share</th></tr></thead>
<tbody>{summary}</tbody></table>
{operator_sections}
<h2>Charts</h2>
{charts}
<h2>Top reasons</h2>
<p>A call counts once for each reason it carries.</p>
<table id="reasons"><thead><tr><th>reason</th>{COUNT_HEADERS}</tr></thead><tbody>{reasons}</tbody></table>
<h2>Top flagged and blocked numbers</h2>
<table id="numbers"><thead><tr><th>number (E.164)</th><th>flagged + blocked</th><th>flagged</th>
<th>blocked</th><th>reasons</th><th>designated operator</th></tr></thead><tbody>{numbers}</tbody></table>
<h2>Per day (JST)</h2>
<table id="days"><thead><tr><th>day</th>{COUNT_HEADERS}</tr></thead><tbody>{days}</tbody></table>
<h2>Inputs</h2>
<table id="sources"><thead><tr><th>file</th><th>records</th></tr></thead><tbody>{sources}</tbody></table>
<footer>Made by sipcheck report. Operator names are as the data version names them; (none): no such operator
on the call.</footer>
</body>
</html>
"""


def write_html(report: Report, path: str | Path, *, generated_at: datetime, title: str | None = None) -> None:
    Path(path).write_text(render_html(report, generated_at=generated_at, title=title), encoding="utf-8")


__all__ = [
    "CSV_COLUMNS",
    "SECTIONS",
    "csv_rows",
    "japanese_font",
    "label",
    "render_html",
    "write_csv",
    "write_html",
]
