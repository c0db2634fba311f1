"""Screened call records and decision logs in, uniform Arrow record batches out.

Two kinds of input, told apart by the file name:

- screened call records, as `sipcheck screen` writes them (CSV, compressed CSV, Parquet): the
  original columns plus `sipcheck.batch.csvio.OUTPUT_COLUMNS`; a time column gives each call its
  moment (``--time-column``, default the first of `TIME_COLUMNS` present);
- decision logs (``.jsonl``, ``.jsonl.gz``, ``.ndjson``): one `sipcheck.decisions.decision_record`
  per line, its ``time`` ISO 8601 UTC.

Both become record batches of `SCHEMA`: the call's moment as microseconds since the epoch (UTC)
and the verdict columns the report counts, as strings ('' where empty). CSV and Parquet are read
by pyarrow in blocks, so a month of traffic streams through in bounded memory; JSON lines are read
with the standard library, a batch of `JSONL_BATCH_ROWS` records at a time.

Every problem is a `ReportInputError` naming the file, the line (a Parquet file: the row) and the
field: a missing time or verdict column, a time that does not parse, an unknown action.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sipcheck.batch.csvio import OUTPUT_COLUMNS

JST: Final = timezone(timedelta(hours=9))
JST_OFFSET_US: Final = 9 * 3600 * 1_000_000
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
TIME_COLUMNS: Final = ("time", "start_time", "timestamp", "setup_time")
"""The time column of a screened file when none is named: the first of these it has."""
JSONL_SUFFIXES: Final = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
JSONL_BATCH_ROWS: Final = 65_536
CSV_BLOCK_BYTES: Final = 16 << 20
PARQUET_BATCH_ROWS: Final = 262_144
ACTIONS: Final = ("allow", "flag", "block")

VERDICT_COLUMNS: Final = (
    "action",
    "reasons",
    "e164",
    "designated_operator",
    "serving_operator",
    "ingress_operator",
    "data_version",
)
"""The verdict columns the report counts (a subset of OUTPUT_COLUMNS)."""
OPTIONAL_COLUMNS: Final = ("contractor",)
"""Counted when an input has them ('' otherwise): decision logs carry the contractor of a number's range."""

SCHEMA: Final = pa.schema(
    [("t_us", pa.int64()), *((name, pa.string()) for name in (*VERDICT_COLUMNS, *OPTIONAL_COLUMNS))]
)
"""What every batch `read_batches` yields looks like."""

_EPOCH_SECONDS = re.compile(r"[+-]?\d+(\.\d*)?")


class ReportInputError(ValueError):
    """An input cannot be reported on: unreadable, a column missing, a field that does not parse."""


def is_decision_log(path: str | Path) -> bool:
    return str(path).lower().endswith(JSONL_SUFFIXES)


def read_batches(
    paths: Iterable[str | Path], *, time_column: str | None = None
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """(source name, batch of `SCHEMA`) for every input, in order, streaming.

    ``time_column`` names the time column of screened files (decision logs always use ``time``).
    """
    for path in paths:
        source = str(path)
        if is_decision_log(path):
            yield from ((source, b) for b in read_decision_log(path))
        elif str(path).lower().endswith(".parquet"):
            yield from ((source, b) for b in read_parquet(path, time_column))
        else:
            yield from ((source, b) for b in read_csv(path, time_column))


# --- time ------------------------------------------------------------------------------------------


def parse_moment(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 moment (naive = JST) or of epoch seconds."""
    value = text.strip()
    if _EPOCH_SECONDS.fullmatch(value):
        return round(float(value) * 1_000_000)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return (moment - EPOCH) // timedelta(microseconds=1)


def _first_true(mask: pa.Array) -> int | None:
    index = pc.index(pc.fill_null(mask, True), True).as_py()
    return None if index < 0 else int(index)


def _string_times(values: pa.Array) -> pa.Array | None:
    """Vectorised: all aware ISO, all naive ISO (JST), or all epoch seconds; None when mixed or bad."""
    try:
        return pc.cast(pc.cast(values, pa.timestamp("us", "UTC")), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        naive = pc.cast(pc.cast(values, pa.timestamp("us")), pa.int64())
        return pc.subtract(naive, JST_OFFSET_US)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if pc.all(pc.match_substring_regex(values, r"^\s*[+-]?\d+(\.\d*)?\s*$")).as_py():
        seconds = pc.cast(pc.utf8_trim_whitespace(values), pa.float64())
        return pc.cast(pc.round(pc.multiply(seconds, 1_000_000.0)), pa.int64())
    return None


def times_us(values: pa.Array, where: Any) -> pa.Array:
    """The time column as int64 microseconds since the epoch (UTC).

    ``where(i)`` names row ``i`` of the batch in an error ("calls.csv:17" or "calls.parquet row 16").
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    null = _first_true(pc.is_null(values)) if values.null_count else None
    if null is not None:
        raise ReportInputError(f"{where(null)}: time: empty")
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return pc.subtract(pc.cast(pc.cast(values, pa.timestamp("us")), pa.int64()), JST_OFFSET_US)
        return pc.cast(pc.cast(values, pa.timestamp("us", "UTC")), pa.int64())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return pc.cast(pc.round(pc.multiply(pc.cast(values, pa.float64()), 1_000_000.0)), pa.int64())
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ReportInputError(f"{where(0)}: time: a column of type {kind}, not a time")
    fast = _string_times(values)
    if fast is not None:
        return fast
    out: list[int] = []  # mixed forms, or a bad one: row by row, so the bad one is named
    for i, text in enumerate(values.to_pylist()):
        try:
            out.append(parse_moment(text))
        except (ValueError, OverflowError):
            raise ReportInputError(
                f"{where(i)}: time: cannot parse {text!r} (ISO 8601, naive = JST, or epoch seconds)"
            ) from None
    return pa.array(out, pa.int64())


# --- the batch every reader yields -----------------------------------------------------------------


def _check_actions(action: pa.Array, where: Any) -> None:
    bad = _first_true(pc.invert(pc.is_in(action, value_set=pa.array(ACTIONS))))
    if bad is not None:
        value = action[bad].as_py()
        raise ReportInputError(f"{where(bad)}: action: {value!r} is not one of {', '.join(ACTIONS)}")


def _uniform(times: pa.Array, columns: dict[str, pa.Array], where: Any) -> pa.RecordBatch:
    arrays = [times]
    for name in (*VERDICT_COLUMNS, *OPTIONAL_COLUMNS):
        column = columns.get(name)
        if column is None:  # an optional column the input does not have
            column = pa.array([""] * len(times), pa.string())
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if column.type != pa.string():
            column = pc.cast(column, pa.string())
        arrays.append(pc.fill_null(column, ""))
    _check_actions(arrays[1], where)
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def _needed_columns(names: Sequence[str], time_column: str | None, source: str) -> list[str]:
    present = ", ".join(repr(n) for n in names) or "none"
    if time_column is not None:
        if time_column not in names:
            raise ReportInputError(f"{source}: no time column {time_column!r}; columns present: {present}")
        chosen = time_column
    else:
        found = [c for c in TIME_COLUMNS if c in names]
        if not found:
            raise ReportInputError(
                f"{source}: no time column (looked for {', '.join(TIME_COLUMNS)}; name one with "
                f"--time-column); columns present: {present}"
            )
        chosen = found[0]
    missing = [c for c in OUTPUT_COLUMNS if c not in names]
    if missing:
        raise ReportInputError(
            f"{source}: missing verdict column(s) {', '.join(missing)} (is it a file `sipcheck screen` "
            f"wrote?); columns present: {present}"
        )
    return [chosen, *VERDICT_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in names)]


# --- CSV -------------------------------------------------------------------------------------------


def _csv_header(path: str | Path, source: str) -> list[str]:
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 20)
    except (OSError, pa.ArrowException) as exc:
        raise ReportInputError(f"{source}: cannot read: {exc}") from None
    try:
        text = head.decode("utf-8-sig", errors="strict").splitlines()[0] if head else ""
    except UnicodeDecodeError:
        text = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
    except IndexError:
        text = ""
    rows = list(csv.reader([text]))
    return rows[0] if rows else []


def read_csv(path: str | Path, time_column: str | None = None) -> Iterator[pa.RecordBatch]:
    """A screened CSV (plain or compressed: the codec is detected from the name) in blocks."""
    source = str(path)
    header = _csv_header(path, source)
    needed = _needed_columns(header, time_column, source)
    convert = pacsv.ConvertOptions(
        include_columns=needed,
        column_types={name: pa.string() for name in needed},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    before = 0  # records read so far; a record's line is before + index + 2 (the header is line 1)
    try:
        reader = pacsv.open_csv(
            pa.input_stream(source, compression="detect"),
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=convert,
        )
        for batch in reader:
            offset = before

            def where(i: int, offset: int = offset) -> str:
                return f"{source}:{offset + i + 2}"

            times = times_us(batch.column(0), where)
            yield _uniform(times, {n: batch.column(n) for n in batch.schema.names[1:]}, where)
            before += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise ReportInputError(_csv_problem(source, len(header)) or f"{source}: {exc}") from None
    except OSError as exc:
        raise ReportInputError(f"{source}: cannot read: {exc}") from None


def _csv_problem(source: str, width: int) -> str | None:
    """Where pyarrow's CSV parser stopped, found again with the standard library (errors only)."""
    try:
        with io.TextIOWrapper(
            pa.input_stream(source, compression="detect"), encoding="utf-8-sig", errors="strict", newline=""
        ) as text:
            reader = csv.reader(text, strict=True)
            last = 0
            try:
                for row in reader:
                    first, last = last + 1, reader.line_num
                    if row and len(row) != width:
                        return f"{source}:{first}: expected {width} fields, got {len(row)}"
            except csv.Error as exc:
                return f"{source}:{last + 1}: CSV syntax: {exc}"
            except UnicodeDecodeError:
                return f"{source}: after line {last}: bytes not valid in utf-8"
    except (OSError, pa.ArrowException):
        return None
    return None


# --- Parquet ---------------------------------------------------------------------------------------


def read_parquet(path: str | Path, time_column: str | None = None) -> Iterator[pa.RecordBatch]:
    source = str(path)
    try:
        handle = pq.ParquetFile(source)
    except (OSError, pa.ArrowException) as exc:
        raise ReportInputError(f"{source}: cannot read as Parquet: {exc}") from None
    needed = _needed_columns(handle.schema_arrow.names, time_column, source)
    before = 0
    try:
        for batch in handle.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=needed):
            offset = before

            def where(i: int, offset: int = offset) -> str:
                return f"{source} row {offset + i + 1}"

            times = times_us(batch.column(0), where)
            yield _uniform(times, {n: batch.column(n) for n in batch.schema.names[1:]}, where)
            before += batch.num_rows
    except (OSError, pa.ArrowInvalid) as exc:
        raise ReportInputError(f"{source}: after row {before}: {exc}") from None


# --- decision logs ---------------------------------------------------------------------------------


def _open_text(path: str | Path) -> IO[str]:
    if str(path).lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_decision_log(path: str | Path) -> Iterator[pa.RecordBatch]:
    """A decision log: one `sipcheck.decisions.decision_record` per line; blank lines are skipped."""
    source = str(path)
    times: list[int] = []
    columns: dict[str, list[str]] = {name: [] for name in (*VERDICT_COLUMNS, *OPTIONAL_COLUMNS)}
    lines: list[int] = []

    def flush() -> pa.RecordBatch:
        rows = list(lines)

        def where(i: int) -> str:
            return f"{source}:{rows[i]}"

        batch = _uniform(
            pa.array(times, pa.int64()), {n: pa.array(v, pa.string()) for n, v in columns.items()}, where
        )
        times.clear()
        lines.clear()
        for values in columns.values():
            values.clear()
        return batch

    try:
        with _open_text(path) as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ReportInputError(f"{source}:{lineno}: not JSON: {exc.msg}") from None
                if not isinstance(record, dict):
                    raise ReportInputError(f"{source}:{lineno}: not a JSON object")
                missing = [f for f in ("time", *OUTPUT_COLUMNS) if f not in record]
                if missing:
                    raise ReportInputError(
                        f"{source}:{lineno}: missing field(s) {', '.join(missing)} (not a decision record?)"
                    )
                moment = record["time"]
                try:
                    if isinstance(moment, bool) or not isinstance(moment, (str, int, float)):
                        raise ValueError
                    times.append(
                        parse_moment(moment) if isinstance(moment, str) else round(moment * 1_000_000)
                    )
                except (ValueError, OverflowError):
                    raise ReportInputError(f"{source}:{lineno}: time: cannot parse {moment!r}") from None
                for name, values in columns.items():
                    value = record.get(name)
                    if value is not None and not isinstance(value, str):
                        raise ReportInputError(f"{source}:{lineno}: {name}: {value!r} is not a string")
                    values.append(value or "")
                lines.append(lineno)
                if len(times) >= JSONL_BATCH_ROWS:
                    yield flush()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{source}: cannot read: {exc}") from None
    if times:
        yield flush()


__all__ = [
    "ACTIONS",
    "JST",
    "SCHEMA",
    "TIME_COLUMNS",
    "VERDICT_COLUMNS",
    "ReportInputError",
    "is_decision_log",
    "parse_moment",
    "read_batches",
    "read_csv",
    "read_decision_log",
    "read_parquet",
    "times_us",
]
