"""Call-record files at file speed: CSV (plain, gzip, zstd…) and Parquet in, either out, via Arrow.

`screen_file` streams a file through `arrowscreen.screen_pairs` one chunk at a time, so memory
stays bounded by the chunk on files larger than RAM. The CSV reader is Arrow's (C++; every
column read as text, so "0312345678" keeps its 0 and "007" stays "007"), and so is the writer.
A CSV written as CSV is not taken apart where it need not be: in a chunk of UTF-8 lines with no
quote, no carriage return and no blank line, every line is already exactly what the writer would
write for its fields, so only the caller (and ingress) columns are parsed and each line's own bytes
are written back with its screened columns (`_csv_chunks`); from the first chunk that is not such
on, the rest of the file is parsed and written field by field. A caller screened in one chunk is
remembered (`arrowscreen.PairMemo`) and not screened again in the next.

A bad row never costs the others and is named by its line. Arrow's reader counts records, not
the physical lines a report must name (a quoted field may hold line breaks), and cannot say where
bytes invalid in the encoding are; so a file with any damage (a row with the wrong number of
fields, such bytes, a quote left open) is screened by the line-exact Python reader
(`csvio.screen_csv`) instead, which reports each bad row at its line and skips it (or stops, with
``strict``). The summary's ``engine`` says which reader ran. The output is written to
``<name>.part`` and renamed only when complete, so a failed run never leaves a file that looks
finished.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from sipcheck.batch.arrowscreen import PairMemo, Screened, check_columns, quote_csv, screen_pairs
from sipcheck.batch.csvio import OUTPUT_COLUMNS, BatchError, BatchSummary, screen_csv
from sipcheck.batch.tables import BatchTables, load_tables
from sipcheck.ingress import IngressMap
from sipcheck.policy import CompiledPolicy
from sipcheck.store import FactStore

Format = Literal["csv", "parquet", "jsonl"]
DEFAULT_BATCH_ROWS: Final = 1 << 20
"""Rows per chunk: large enough that Arrow's per-batch costs vanish, small enough to bound memory
(a chunk of typical CDR rows is ~100 MB with its output columns)."""
_CODECS: Final = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".bz2": "bz2",
    ".lz4": "lz4",
}
_PARQUET: Final = (".parquet", ".pq", ".parq")
_JSONL: Final = (".jsonl", ".ndjson")
LOGGED_PREFIX: Final = "logged_"
"""A decision log already holds verdict columns (the verdict when the call was screened); read back
for a screen they are renamed ``logged_<column>``, so the output shows the verdict then and now."""


@dataclass(frozen=True, slots=True)
class FileKind:
    """What a file name says it is: its format and its stream compression (None: none)."""

    format: Format
    codec: str | None

    @classmethod
    def of(cls, path: Path | str) -> FileKind:
        name = str(path).lower()
        codec = None
        for suffix, name_of_codec in _CODECS.items():
            if name.endswith(suffix):
                codec, name = name_of_codec, name[: -len(suffix)]
                break
        if name.endswith(_PARQUET):
            if codec is not None:
                raise BatchError(f"{path}: Parquet compresses its own pages; name it without {suffix}")
            return cls("parquet", None)
        if name.endswith(_JSONL):
            return cls("jsonl", codec)
        return cls("csv", codec)


class _Fallback(Exception):
    """The Arrow CSV reader met damage it cannot name a line for: rerun with the Python reader."""


def _all_text(path: Path, codec: str | None, encoding: str) -> dict[str, pa.DataType]:
    """Every column of the CSV as text, by the names in its header (read with the same options)."""
    try:
        with pa.input_stream(str(path), compression=codec) as stream:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 16, encoding=encoding),
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),  # the names only
            )
            names = list(reader.schema.names)
    except pa.ArrowInvalid as exc:
        raise _Fallback(str(exc)) from exc
    twice = sorted(name for name, n in Counter(names).items() if n > 1)
    if twice:
        raise BatchError(f"{path}: column name(s) appear twice in the header: {', '.join(map(repr, twice))}")
    return dict.fromkeys(names, pa.string())


def _csv_batches(path: Path, codec: str | None, encoding: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The CSV's records as batches of text columns. Any damage (a row with the wrong number of
    fields too: Arrow counts records, not the physical lines a report must name) raises
    `_Fallback`, and the line-exact reader takes the file over."""
    types = _all_text(path, codec, encoding)
    with pa.input_stream(str(path), compression=codec) as stream:
        yield from _arrow_batches(stream, types, encoding, batch_rows, header=True)


def _arrow_batches(
    stream: Any, types: dict[str, pa.DataType], encoding: str, batch_rows: int, *, header: bool
) -> Iterator[pa.RecordBatch]:
    """Arrow's streaming CSV reader over ``stream`` (``header``: it starts with the header line;
    else it starts at a record and the names are ``types``'s)."""
    try:
        # Arrow hands out blocks of block_size bytes; rows per batch follow from the row width.
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=max(1 << 16, batch_rows * 64),
                encoding=encoding,
                column_names=None if header else list(types),
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield batch
    except pa.ArrowInvalid as exc:
        raise _Fallback(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Records of a CSV input: the columns read (all, or only those screened when ``lines`` is
    given), and ``lines``: each record's own bytes, to be written back as they were read.

    ``lines`` are string values over the input's bytes, cut at the line ends: the first holds the
    chunk's first line, each next one its line end then its line ("\\n0312…"), so that joining
    each with its screened columns and adding one line end rebuilds the chunk with no copy per
    field."""

    batch: pa.RecordBatch
    lines: pa.Array | None = None


_UTF8: Final = codecs.lookup("utf-8").name


def _csv_chunks(
    path: Path,
    codec: str | None,
    encoding: str,
    batch_rows: int,
    types: dict[str, pa.DataType],
    read: list[str],
) -> Iterator[_Chunk]:
    """The CSV's records, chunk by chunk. A chunk of UTF-8 lines with no quote, no carriage return
    and no blank line is written back byte for byte: each of its lines is exactly what the writer
    would make of its fields (no field can need quotes), so only the ``read`` columns are parsed
    and the lines are kept (`_Chunk`). From the first chunk that is not such, the rest of the file
    goes through Arrow's reader and is written field by field, as any input was before."""
    block = max(1 << 16, batch_rows * 64)
    if codecs.lookup(encoding).name != _UTF8:
        for batch in _csv_batches(path, codec, encoding, batch_rows):
            yield _Chunk(batch)
        return
    with pa.input_stream(str(path), compression=codec) as stream:
        carry = b""
        while b"\n" not in carry:
            data = stream.read(1 << 16)  # the header line: small reads, not a copy of a whole block
            if not data:
                return  # a header with no line end: no records
            carry += data
        end = carry.index(b"\n") + 1
        if b'"' in carry[:end] or b"\r" in carry[:end]:
            # A header that needs Arrow's own parsing (it gave the names): Arrow reads it all.
            yield from (
                _Chunk(b)
                for b in _arrow_batches(_Resumed(carry, stream), types, encoding, batch_rows, header=True)
            )
            return
        carry = carry[end:]
        kept = False
        while True:
            data = stream.read(block)
            part = carry + data if carry else data
            if not data:
                if not part:
                    return
                if not part.endswith(b"\n"):
                    part += b"\n"  # the last line's end, as the writer ends every line
                cut = len(part)
            else:
                cut = part.rfind(b"\n") + 1
                if cut == 0:
                    carry = part  # no line end yet: one line longer than a block
                    continue
            chunk = _raw_chunk(part, cut, types, read)
            if chunk is None and not kept:  # the first chunk: Arrow reads the file from its start
                yield from (_Chunk(b) for b in _csv_batches(path, codec, encoding, batch_rows))
                return
            if chunk is None:
                rest = _Resumed(part, stream)
                yield from (
                    _Chunk(b) for b in _arrow_batches(rest, types, encoding, batch_rows, header=False)
                )
                return
            yield chunk
            kept = True
            if not data:
                return
            carry = part[cut:]


def _raw_chunk(part: bytes, cut: int, types: dict[str, pa.DataType], read: list[str]) -> _Chunk | None:
    """``part[:cut]`` (whole lines) as a `_Chunk` that keeps its lines, or None if a line could need
    what the writer would change (a quote, a carriage return) or a blank line is skipped."""
    if part.find(b'"', 0, cut) >= 0 or part.find(b"\r", 0, cut) >= 0 or cut >= 1 << 31:
        return None
    buf = pa.py_buffer(part).slice(0, cut)
    ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
    offsets = np.empty(len(ends) + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:] = ends
    lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), buf)
    try:
        if not part.isascii():
            lines.validate(full=True)  # bytes invalid in UTF-8 anywhere: damage, as Arrow's reader says
        table = pacsv.read_csv(
            buf,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=cut + 1, column_names=list(types)),
            convert_options=pacsv.ConvertOptions(
                column_types={name: types[name] for name in read},
                include_columns=read,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _Fallback(str(exc)) from exc
    if table.num_rows != len(ends):
        return None  # a blank line: Arrow skips it, so records and lines part
    return _Chunk(pa.RecordBatch.from_arrays([c.combine_chunks() for c in table.columns], names=read), lines)


class _Resumed(io.RawIOBase):
    """``head``, then the rest of ``stream``: Arrow's reader takes over where `_csv_chunks` stopped."""

    def __init__(self, head: bytes, stream: Any) -> None:
        self.head = memoryview(head)
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, into: Any) -> int:
        if self.head:
            n = min(len(into), len(self.head))
            into[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(into))
        into[: len(data)] = data
        return len(data)


def _jsonl_table(path: Path, codec: str | None) -> pa.Table:
    """A JSON-lines file (a decision log, `sipcheck.decisions`) as a table of text columns, every
    value as text ('' for null), verdict columns renamed `LOGGED_PREFIX` + name. A bad line is
    named: ``file:line: not a JSON object``. Read whole: a decision log rotates at
    ``decisions.max_bytes``, so one file is bounded."""
    columns: dict[str, list[str]] = {}
    rows = 0
    try:
        with pa.input_stream(str(path), compression=codec) as stream:
            for number, raw in enumerate(io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8"), 1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise BatchError(f"{path}:{number}: not JSON: {exc.msg} at column {exc.colno}") from None
                if not isinstance(record, dict):
                    raise BatchError(f"{path}:{number}: not a JSON object")
                for key in record.keys() - columns.keys():
                    columns[key] = [""] * rows
                for key, values in columns.items():
                    value = record.get(key)
                    values.append(
                        "" if value is None else value if isinstance(value, str) else json.dumps(value)
                    )
                rows += 1
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"{path}: cannot read: {exc}") from exc
    names = [LOGGED_PREFIX + n if n in OUTPUT_COLUMNS else n for n in columns]
    return pa.table([pa.array(v, pa.string()) for v in columns.values()], names=names)


def _parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise BatchError(f"{path}: not a readable Parquet file: {exc}") from exc


def _parquet_batches(parquet: pq.ParquetFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    yield from parquet.iter_batches(batch_size=batch_rows)


class _Writer:
    """The output, written to ``<name>.part`` and renamed by `commit`; removed if never committed."""

    def __init__(self, dst: Path) -> None:
        self.dst = dst
        self.kind = FileKind.of(dst)
        if self.kind.format == "jsonl":
            raise BatchError(f"{dst}: screened output is .csv (optionally compressed) or .parquet")
        self.tmp = dst.with_name(dst.name + ".part")
        self.sink: Any = None
        self.parquet: pq.ParquetWriter | None = None

    @property
    def started(self) -> bool:
        return self.sink is not None or self.parquet is not None

    def write(self, batch: pa.RecordBatch, screened: Screened | None) -> None:
        """``batch``'s columns, then (when given) the screened columns."""
        try:
            if self.kind.format == "parquet":
                if screened is not None:
                    names = [*batch.schema.names, *OUTPUT_COLUMNS]
                    batch = pa.RecordBatch.from_arrays([*batch.columns, *screened.columns()], names=names)
                if self.parquet is None:
                    # Plain string columns (the writer dictionary-encodes them itself: smaller and no
                    # slower than handing it Arrow dictionaries). Statistics (min/max per row group,
                    # for filters) on the input columns and the action only: on every output
                    # column they cost more than writing it.
                    inputs = [n for n in batch.schema.names if n not in OUTPUT_COLUMNS]
                    self.parquet = pq.ParquetWriter(
                        str(self.tmp), batch.schema, compression="zstd", write_statistics=[*inputs, "action"]
                    )
                self.parquet.write_batch(batch)
                return
            self._header([*batch.schema.names, *(OUTPUT_COLUMNS if screened is not None else ())])
            self.sink.write(csv_lines(batch, screened.csv_text() if screened is not None else None, self.dst))
        except OSError as exc:
            raise BatchError(f"{self.dst}: cannot write: {exc}") from exc

    def write_lines(self, names: list[str], lines: pa.Array, screened: Screened) -> None:
        """A `_Chunk`'s own ``lines`` (the input's columns ``names``), each followed by its screened
        columns; to a CSV output only."""
        try:
            self._header([*names, *OUTPUT_COLUMNS])
            if len(lines):
                joined = pc.binary_join_element_wise(lines, screened.csv_tails(), ",")
                self.sink.write(_data(joined))
                self.sink.write(b"\n")
        except OSError as exc:
            raise BatchError(f"{self.dst}: cannot write: {exc}") from exc

    def _header(self, names: list[str]) -> None:
        if self.sink is None:
            self.sink = pa.output_stream(str(self.tmp), compression=self.kind.codec)
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(names)
            self.sink.write(header.getvalue().encode("utf-8"))

    def commit(self) -> None:
        self.close()
        os.replace(self.tmp, self.dst)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
            self.parquet = None
        if self.sink is not None:
            self.sink.close()
            self.sink = None

    def discard(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


def csv_lines(batch: pa.RecordBatch, tail: pa.Array | None, dst: Path | str = "<output>") -> pa.Buffer:
    """``batch``'s rows as CSV lines (then ``tail``: each row's CSV text with its line end).

    Written with Arrow's string kernels, not its CSV writer: that one quotes every text value or
    none, where Python's csv module, and so the Python engine, quotes a field only when a comma, a
    quote or a line break needs it. Non-text columns (a Parquet input's integers, timestamps) are
    written as Arrow casts them to text; nulls as empty fields."""
    fields = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            fields.append(quote_csv(pc.fill_null(column.cast(pa.string()), "")))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise BatchError(
                f"{dst}: column {name!r} ({column.type}) cannot be written as CSV text: {exc}"
            ) from exc
    if not fields or batch.num_rows == 0:
        return pa.py_buffer(b"")
    if tail is not None:
        lines = pc.binary_join_element_wise(*fields, tail, ",")  # the tail ends each line
    else:
        lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, ","), "\n", "")
    return _data(lines)


def _data(strings: pa.Array) -> pa.Buffer:
    """The characters of a string array's values, back to back (no copy)."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    return strings.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def screen_file(
    src: Path | str,
    dst: Path | str,
    store: FactStore | None,
    policy: CompiledPolicy,
    today: date,
    *,
    column: str = "caller",
    ingress_column: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: bool | None = None,
    strict: bool = False,
    encoding: str = "utf-8",
    tables: BatchTables | None = None,
    ingress_map: IngressMap | None = None,
) -> BatchSummary:
    """Screen the call records in ``src`` into ``dst`` (formats by name: ``.csv[.gz|.zst…]``,
    ``.parquet``): every input column, then `csvio.OUTPUT_COLUMNS`. See the module docstring."""
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise BatchError(f"{src}: no such file")
    if tables is None:
        if store is None:
            raise ValueError("screen_file needs a store or tables")
        tables = load_tables(store)
    kind = FileKind.of(src)
    FileKind.of(dst)  # a bad output name is refused before any work
    started = time.perf_counter()
    summary = BatchSummary(source=str(src), data_version=tables.data_version, engine="arrow")
    show = sys.stderr.isatty() if progress is None else progress
    parquet = _parquet(src) if kind.format == "parquet" else None
    logged = _jsonl_table(src, kind.codec) if kind.format == "jsonl" else None
    total = (
        parquet.metadata.num_rows if parquet is not None else logged.num_rows if logged is not None else None
    )
    writer = _Writer(dst)
    bar = tqdm(total=total, unit="rows", unit_scale=True, desc="screen", disable=not show, file=sys.stderr)
    try:
        chunks: Iterator[_Chunk]
        if parquet is not None:
            schema = parquet.schema_arrow
            chunks = (_Chunk(batch) for batch in _parquet_batches(parquet, batch_rows))
        elif logged is not None:
            schema = logged.schema
            chunks = (_Chunk(batch) for batch in logged.to_batches(max_chunksize=batch_rows))
        else:
            types = _all_text(src, kind.codec, encoding)
            schema = pa.schema(list(types.items()))
        ingress_name = check_columns(schema, column, ingress_column, str(src))
        if parquet is None and logged is None:
            read = [column] if ingress_name is None else [column, ingress_name]
            if writer.kind.format == "csv":
                chunks = _csv_chunks(src, kind.codec, encoding, batch_rows, types, read)
            else:
                chunks = (_Chunk(batch) for batch in _csv_batches(src, kind.codec, encoding, batch_rows))
        memo = PairMemo()  # this screen's own: one data set, policy, day and ingress map
        for chunk in chunks:
            batch = chunk.batch
            screened = screen_pairs(
                batch.column(column),
                batch.column(ingress_name) if ingress_name is not None else None,
                tables,
                policy,
                today,
                ingress_map,
                memo,
            )
            if chunk.lines is not None:
                writer.write_lines(schema.names, chunk.lines, screened)
            else:
                writer.write(batch, screened)
            counts = screened.counts
            summary.rows += counts.rows
            summary.distinct = (summary.distinct or 0) + counts.distinct
            for action, n in counts.by_action.items():
                summary.by_action[action] += n
            bar.update(counts.rows)
        if not writer.started:
            empty = _empty_input(src, kind, encoding)
            check_columns(empty.schema, column, ingress_column, str(src))
            writer.write(empty, screen_pairs(pa.array([], pa.string()), None, tables, policy, today))
        writer.commit()
    except _Fallback as exc:
        writer.discard()
        bar.close()
        with contextlib.ExitStack() as stack:
            # A compressed file is read decompressed, a line at a time, like any other.
            lines: Path | IO[bytes] = src
            if kind.codec:
                lines = io.BufferedReader(
                    stack.enter_context(pa.input_stream(str(src), compression=kind.codec))
                )
            fallback = screen_csv(
                lines,
                dst,
                None,
                policy,
                today,
                column=column,
                ingress_column=ingress_column,
                progress=progress,
                strict=strict,
                encoding=encoding,
                tables=tables,
                ingress_map=ingress_map,
                source=str(src),
            )
        fallback.engine = f"python (the Arrow reader stopped: {exc})"
        fallback.seconds = time.perf_counter() - started
        return fallback
    except BaseException:
        writer.discard()
        raise
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _empty_input(src: Path, kind: FileKind, encoding: str) -> pa.RecordBatch:
    """No rows, the input's columns: a file with a header and no rows still gets its header."""
    if kind.format == "parquet":
        schema = _parquet(src).schema_arrow
    elif kind.format == "jsonl":
        schema = _jsonl_table(src, kind.codec).schema
    else:
        schema = pa.schema(list(_all_text(src, kind.codec, encoding).items()))
    return pa.RecordBatch.from_pylist([], schema=schema)


__all__ = ["DEFAULT_BATCH_ROWS", "FileKind", "screen_file"]
