"""Loading one table: the staging table, typed inserts on a thread of their own, restarts,
bad lines, and the final swap into place. :mod:`.pipeline` decides what to load and owns the run.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .. import paths
from ..db import execute, quote
from ..errors import ProjectError
from . import formats, inference, rawfiles
from .rawfiles import BadLine, Rejected, SourceError

STAGING = "_etl_staging"
MAX_COLUMNS = 2000  # SQLite's default SQLITE_MAX_COLUMN, which the driver is built with


class EtlError(ProjectError):
    """A problem with the ETL settings, the database or the set of raw files."""


def under_raw(path: Path) -> str:
    """A path inside data/raw as written in settings' file patterns, e.g. ``tweets/part-1.csv``."""
    try:
        return path.relative_to(paths.RAW_DIR).as_posix()
    except ValueError:
        return path.name


@dataclass
class Group:
    """The files that load into one table (one file, or the parts of a folder)."""

    table: str
    files: list[Path]
    origin: Path  # the file or folder under data/raw


# ---- loading one table ---------------------------------------------------------------------------


Status = Literal["loaded", "skipped", "failed", "vanished", "pruned"]


@dataclass
class TableReport:
    """What happened to one table."""

    table: str
    sources: list[str]
    status: Status = "loaded"
    rows: int = 0
    rejected: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    hints: list[str] = field(default_factory=list)
    rejects_file: Path | None = None


@dataclass
class Part:
    path: Path
    label: str
    rows: int = 0
    rejected: int = 0
    sha256: str = ""
    header: list[str] = field(default_factory=list)


class TableLoader:
    """Loads one group of files into the staging table; the caller owns the transaction."""

    def __init__(
        self, cursor, group: Group, settings: dict, on_bad_lines: str, progress, waits=None
    ):
        self.cursor = cursor
        self.group = group
        self.settings = settings
        self.on_bad_lines = on_bad_lines
        self.progress = progress
        self.rejects: list[tuple[str, int, str, str]] = []
        self.text_columns: set[int] = set()
        self.columns: list[inference.Column] = []
        self.parts: list[Part] = []
        self.layout: rawfiles.Layout | None = None
        self.typer: inference.Typer | None = None
        self.names: set[str] = set()
        self.notes: list[str] = []
        self.writer = Writer(cursor, waits)

    def sql(self, statement: str, parameters=None) -> list:
        """Run one statement after the inserts queued before it."""
        self.writer.drain()
        return execute(self.cursor, statement, parameters)

    # The table is loaded again from the start when a REAL column must turn TEXT late
    # (a double does not remember its text): rare, and cheaper than keeping every text.
    def load(self) -> None:
        try:
            self._load_with_restarts()
        finally:
            try:
                self.writer.drain()
            finally:
                self.writer.close()

    def _load_with_restarts(self) -> None:
        while True:
            self.sql("SAVEPOINT etl_table")
            try:
                self._load_parts()
            except inference.Restart as restart:
                self.sql("ROLLBACK TO etl_table")
                self.sql("RELEASE etl_table")
                self.text_columns.update(restart.columns)
                continue
            except BaseException:
                self.sql("ROLLBACK TO etl_table")
                self.sql("RELEASE etl_table")
                raise
            self.sql("RELEASE etl_table")
            return

    def _load_parts(self) -> None:
        self.sql(f"DROP TABLE IF EXISTS {STAGING}")
        self.columns, self.parts, self.rejects, self.notes = [], [], [], []
        self.layout, self.typer, self.names = None, None, set()
        for path in self.group.files:
            part = Part(path, paths.relative(path))
            self.parts.append(part)
            snapshot = copy.deepcopy(self.columns), self.layout, self.typer
            self.sql("SAVEPOINT etl_part")
            try:
                self._load_part(part, careful=False)
            except _Fallback:
                # Undo this part's rows (and the column states they moved), then read it again.
                self.sql("ROLLBACK TO etl_part")
                self.columns, self.layout, self.typer = snapshot
                if self.typer is not None:
                    self.typer.columns = self.columns
                part.rows = part.rejected = 0
                self._load_part(part, careful=True)
            self.sql("RELEASE etl_part")
        if not sum(p.rows for p in self.parts):
            if self.rejects:
                raise SourceError(
                    f"{self.group.table}: every line was rejected ({len(self.rejects)}): "
                    "is the delimiter or the encoding wrong?"
                )
            origin = paths.relative(self.group.origin)
            if self.layout is None or not self.columns:
                raise SourceError(f"{origin}: holds no records: nothing to load")
            # Well-formed, as sqlite3 .import and pandas read it: the header's columns, no rows.
            self.notes.append(
                f"{origin}: has a header but no data rows: loaded as an empty table "
                f"with its {len(self.columns)} columns (TEXT)"
            )

    def _start_table(self, layout: rawfiles.Layout, label: str) -> None:
        """The first part fixes the columns; the others must have the same header."""
        if self.layout is None:
            self.layout = layout
            self._check_names(layout.names, label, layout.lines_before_data)
            for key in ("types", "dates"):
                unknown = set(self.settings.get(key, {})) - set(layout.names)
                if unknown:
                    raise SourceError(
                        f"{label}: {key} names a column it does not have: {sorted(unknown)[0]!r}"
                    )
            self.columns = []
            for name, source in zip(layout.names, layout.sources, strict=True):
                self.columns.append(self._column(name, source))
            self._new_typer()
            internal = ", ".join(quote(f"c{i}") for i in range(len(self.columns)))
            self.sql(f"CREATE TABLE {STAGING} ({internal})")
        elif layout.header != self.layout.header:
            first = self.parts[0].label
            differs = next(
                (
                    i
                    for i, (a, b) in enumerate(zip(layout.header, self.layout.header, strict=False))
                    if a != b
                ),
                min(len(layout.header), len(self.layout.header)),
            )
            raise SourceError(
                f"{label}: its header differs from {first}'s at column {differs + 1} "
                f"({len(layout.header)} columns, {first} has {len(self.layout.header)}): "
                "parts of one table must share the header"
            )

    def _load_part(self, part: Part, careful: bool) -> None:
        import pyarrow as pa

        with rawfiles.open_source(part.path, part.label) as source:
            stream = source.stream
            inner = (
                source.stream.name if part.path.name.lower().endswith(".zip") else part.path.name
            )
            extension = rawfiles.split_name(os.path.basename(str(inner)))[1]
            try:
                kind, spec = formats.kind_of(
                    part.path, under_raw(part.path), self.settings, extension
                )
            except formats.ReaderError as error:
                raise SourceError(f"{part.label}: {error}") from None
            limit = self.settings.get("max_line_mb", 64) * rawfiles.MB
            if kind == "jsonl":
                try:
                    kind, stream = formats.json_kind(stream)
                except rawfiles.read_errors() as error:
                    raise rawfiles.damaged(part.label, error) from None
            if kind in ("csv", "jsonl"):  # line by line: no line may grow past the limit
                stream = rawfiles.limit_lines(stream, limit, part.label)
            if kind != "csv":
                self._load_records(part, source, stream, kind, spec)
                return
            try:
                layout, stream = rawfiles.read_layout(stream, part.label, self.settings, extension)
            except rawfiles.read_errors() as error:
                raise rawfiles.damaged(part.label, error) from None
            part.header = layout.header
            self._start_table(layout, part.label)
            bar = self.progress(part.label, source.size)
            try:
                if careful:
                    batches = self._careful_batches(stream, layout, part)
                else:
                    batches = rawfiles.fast_batches(stream, layout)
                try:
                    for arrays in batches:
                        self._write(arrays)
                        part.rows += len(arrays[0])
                        bar.advance(source.tap.count, part.rows)
                except (pa.ArrowInvalid, inference.Misfit, *rawfiles.read_errors()) as error:
                    if careful:
                        raise rawfiles.damaged(part.label, error) from None
                    raise _Fallback from error
            finally:
                bar.close()
            part.sha256 = source.tap.hash.hexdigest()

    def _column(self, name: str, source: str) -> inference.Column:
        """The next column, typed as the settings say (or TEXT from the start after a restart)."""
        date_format = self.settings.get("dates", {}).get(name)
        forced = "TEXT" if date_format else self.settings.get("types", {}).get(name)
        column = inference.Column(name, source, inference.TYPES_BY_NAME[forced] if forced else None)
        column.date_format = date_format
        if len(self.columns) in self.text_columns and column.forced is None:
            column.state = inference.TEXT
        return column

    def _check_names(self, names: list[str], label: str, line: int | None = None) -> None:
        """Refuse, in one line, column names SQLite cannot hold: too many, or a NUL byte."""
        where = f"{label} line {line}" if line else label
        if len(names) > MAX_COLUMNS:
            raise SourceError(
                f"{where}: {len(names):,} columns, more than SQLite's limit of "
                f"{MAX_COLUMNS:,} per table: list the ones to load in columns = [...] under "
                f"[tool.{paths.PACKAGE}.etl.tables.{self.group.table}]"
            )
        bad = next((i for i, n in enumerate(names, start=1) if "\x00" in n), None)
        if bad is not None:
            raise SourceError(
                f"{where}: the name of column {bad} holds a NUL byte "
                f"({rawfiles.preview(names[bad - 1])}): is the file UTF-16 without a byte-order "
                'mark? set encoding = "utf-16" (or its encoding), or name the columns with '
                "columns = [...] and header = false, in the table's settings"
            )

    def _new_typer(self) -> None:
        markers = [str(m) for m in self.settings.get("null_markers", [])]
        self.typer = inference.Typer(
            self.columns, markers, self.settings.get("empty_is_null", True)
        )

    def _ensure_columns(self, names) -> None:
        """Columns for keys seen for the first time (rows written before have NULL there)."""
        if self.typer is None:
            self._new_typer()
        known = {c.name for c in self.columns}
        new = [n for n in dict.fromkeys(names) if n not in known]
        self._check_names([*known, *new], self.parts[-1].label if self.parts else "")
        for name in new:
            self.columns.append(self._column(name, name))
            internal = quote(f"c{len(self.columns) - 1}")
            if len(self.columns) == 1:
                self.sql(f"CREATE TABLE {STAGING} ({internal})")
            else:  # a new key: a column added in place, no row rewritten
                self.sql(f"ALTER TABLE {STAGING} ADD COLUMN {internal}")
        self.names.update(new)

    def _load_records(self, part: Part, source, stream, kind: str, spec: str | None) -> None:
        """JSON Lines, XML rows or your reader's records, typed like CSV fields."""
        given = self.settings.get("columns")
        self._ensure_columns(given or [])
        ignored: dict[str, int] = {}
        bar = self.progress(part.label, source.size)
        number = 0
        pieces = formats.chunks(kind, spec, stream, self.settings)
        prefetch = formats.Prefetch(pieces) if kind == "jsonl" else None
        try:
            for piece in prefetch or pieces:
                if isinstance(piece, formats.Columns):
                    number = piece.last
                    if self._write_columns(part, piece):
                        bar.advance(source.tap.count, part.rows)
                        continue
                    pieces = piece.exact()  # a value misfits: the lines again, one by one
                else:
                    pieces = [piece]
                for chunk in pieces:
                    number = self._load_chunk(part, chunk, given, ignored, number)
                bar.advance(source.tap.count, part.rows)
        except formats.ReaderError as error:
            raise SourceError(f"{part.label}: {error}") from None
        except rawfiles.LineTooLong as error:
            if error.label:
                raise
            raise rawfiles.LineTooLong(part.label, None, error.limit, error.what) from None
        except rawfiles.read_errors() as error:
            raise rawfiles.damaged(part.label, error, number) from None
        finally:
            if prefetch is not None:
                prefetch.close()
            bar.close()
        if ignored:
            self.notes.append(
                f"{part.label}: keys not in its columns setting were left out: "
                + ", ".join(f"{k!r} ({n} records)" for k, n in sorted(ignored.items()))
            )
        part.sha256 = source.tap.hash.hexdigest()

    def _load_chunk(self, part: Part, chunk, given, ignored: dict[str, int], number: int) -> int:
        """Write a chunk of records (bad ones rejected); the number of its last line."""
        for record in chunk.rejected:
            self._reject(part, record)
        if not chunk.records:
            return number
        keys = set().union(*chunk.records)
        if given:
            for key in keys - set(given):
                ignored[key] = ignored.get(key, 0) + sum(key in r for r in chunk.records)
        elif not self.names.issuperset(keys):  # new keys, in the order they appear
            self._ensure_columns(k for r in chunk.records for k in r)
        self._write_records(part, chunk)
        return chunk.numbers[-1]

    def _write_columns(self, part: Part, columns) -> bool:
        """Write a block Arrow parsed; False (nothing written) if a value misfits its settings."""
        import pyarrow as pa

        if not self.names.issuperset(columns.names):  # new keys, in the order they appear
            self._ensure_columns(columns.names)
        by_name = dict(zip(columns.names, columns.arrays, strict=True))
        absent = pa.nulls(columns.lines, pa.string())
        try:
            self._write([by_name.get(c.name, absent) for c in self.columns])
        except inference.Misfit:
            return False
        part.rows += columns.lines
        return True

    def _write_records(self, part: Part, chunk) -> None:
        """Write records; one with a value that does not fit a type set in the settings is bad."""
        names = [c.name for c in self.columns]
        try:
            self._write([text_array([r.get(n) for r in chunk.records]) for n in names])
            part.rows += len(chunk.records)
            return
        except inference.Misfit:
            pass
        good = []
        for number, row in zip(chunk.numbers, chunk.records, strict=True):
            text = {k: formats.text_of(v) for k, v in row.items()}
            reason = self._misfit([text.get(c.name) for c in self.columns])
            if reason is None:
                good.append(row)
                continue
            self._reject(part, Rejected(number, reason, json.dumps(text, ensure_ascii=False)))
        if good:
            self._write([text_array([r.get(n) for r in good]) for n in names])
            part.rows += len(good)

    def _misfit(self, texts: list[str | None]) -> str | None:
        """Why one row does not fit the types or dates the settings fix (None if it does)."""
        markers = set(self.typer.markers.to_pylist()) if self.typer.markers is not None else set()
        for column, text in zip(self.columns, texts, strict=True):
            if text is None or (text == "" and self.typer.empty_is_null) or text in markers:
                continue
            if column.date_format is not None:
                if inference.parse_date(text, column.date_format) is None:
                    return (
                        f"column {column.name!r}: {text!r} does not match "
                        f"{column.date_format!r} (dates setting)"
                    )
            elif column.forced in (inference.INTEGER, inference.REAL):
                if not inference.fits(text, column.forced):
                    return (
                        f"column {column.name!r}: {text!r} is not "
                        f"{inference.TYPE_NAMES[column.forced]} (types setting)"
                    )
        return None

    def _reject(self, part: Part, record: Rejected) -> None:
        if self.on_bad_lines == "error":
            raise BadLine(part.label, record.line, record.reason, record.text)
        self.rejects.append((part.label, record.line, record.reason, record.text))
        part.rejected += 1

    def _careful_batches(self, stream, layout: rawfiles.Layout, part: Part):
        """Rows from the careful reader; each bad line is rejected (or raised) with its number."""
        import pyarrow as pa

        rows: list[list[str]] = []
        line = 0
        try:
            limit = self.settings.get("max_line_mb", 64) * rawfiles.MB
            for line, record in rawfiles.careful_records(stream, layout, part.label, limit):
                if not isinstance(record, Rejected):
                    reason = self._misfit(record)
                    if reason is not None:
                        record = Rejected(line, reason, layout.delimiter.join(record))
                if isinstance(record, Rejected):
                    if self.on_bad_lines == "error":
                        raise BadLine(part.label, record.line, record.reason, record.text)
                    self.rejects.append((part.label, record.line, record.reason, record.text))
                    part.rejected += 1
                    continue
                rows.append(record)
                if len(rows) >= rawfiles.CAREFUL_BATCH_ROWS:
                    yield [pa.array(column, pa.string()) for column in zip(*rows, strict=True)]
                    rows = []
        except rawfiles.read_errors() as error:
            raise rawfiles.damaged(part.label, error, line) from None
        if rows:
            yield [pa.array(column, pa.string()) for column in zip(*rows, strict=True)]

    def _write(self, arrays) -> None:
        import pyarrow as pa

        typed, demoted = self.typer.convert(arrays)
        for index, _before, after in demoted:
            if after == inference.TEXT:  # integers written so far become their (canonical) text
                column = quote(f"c{index}")
                self.sql(
                    f"UPDATE {STAGING} SET {column} = CAST({column} AS TEXT) "
                    f"WHERE typeof({column}) = 'integer'",
                )
            # INTEGER -> REAL needs nothing: a REAL column reads its integers as doubles.
        self.writer.insert(
            pa.RecordBatch.from_arrays(typed, names=[f"c{i}" for i in range(len(typed))])
        )

    def finish(self, table: str) -> None:
        """Give the columns their names and types, then put the table in place of the old one."""
        columns = ", ".join(f"{quote(c.name)} {c.sql_type}" for c in self.columns)
        (version,) = self.sql("PRAGMA schema_version")[0]
        # One edit of the stored CREATE TABLE: the values are already stored as their final
        # types, so no row is rewritten (SQLite's documented procedure for such changes).
        self.sql("PRAGMA writable_schema = ON")
        self.sql(
            "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
            (f"CREATE TABLE {STAGING} ({columns})", STAGING),
        )
        self.sql(f"PRAGMA schema_version = {int(version) + 1}")
        self.sql("PRAGMA writable_schema = OFF")
        kind = self.sql("SELECT type FROM sqlite_schema WHERE name = ? COLLATE NOCASE", (table,))
        if kind and kind[0][0] != "table":
            raise EtlError(
                f"table {table}: the database has a {kind[0][0]} of that name: drop it first"
            )
        self.sql(f"DROP TABLE IF EXISTS {quote(table)}")
        self.sql(f"ALTER TABLE {STAGING} RENAME TO {quote(table)}")
        for entry in self.settings.get("index", []):
            names = [entry] if isinstance(entry, str) else list(entry)
            missing = [n for n in names if n not in {c.name for c in self.columns}]
            if missing:
                raise EtlError(
                    f"table {table}: index names a column it does not have: {missing[0]!r}"
                )
            index = f"{table}_" + "_".join(re.sub(r"\W+", "_", n) for n in names)
            self.sql(
                f"CREATE INDEX {quote(index)} ON {quote(table)} "
                f"({', '.join(quote(n) for n in names)})",
            )


READERS = "readers in the middle of a query (a notebook's data.load or SQL)"
LOAD_WAIT_MS = 100  # each wait for a reader while loading: a page that waits longer stays in memory
SLOW_INSERT = 1.0  # seconds: an insert of one block that takes longer is waiting for a reader


class Writer:
    """Runs the inserts on a thread of their own, so the next batch is typed meanwhile.

    SQLite and Arrow release the GIL, so on two cores the inserts and the typing overlap.
    Every other statement first waits for the inserts queued before it (:meth:`drain`).

    An insert that must write pages out of SQLite's cache waits for readers in the middle of
    a query, for each page it tries to write out (``LOAD_WAIT_MS``: the page then stays in
    memory), so a big load slows down for as long as a reader's query runs. ``waits`` (see
    :class:`.pipeline.Waits`) is told: once slow inserts in a row have taken two seconds (or
    half ``wait_seconds``) the load says what it waits for, and once they have taken
    ``wait_seconds`` it fails in one line when the insert under way returns.
    """

    def __init__(self, cursor, waits=None):
        self.cursor = cursor.connection.cursor()  # its own: ingest leaves its statement bound
        self.waits = waits
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.started: float | None = None  # when the insert under way began
        self.waited = 0.0  # seconds the slow inserts in a row took
        self.thread = threading.Thread(target=self._work, name="etl-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (batch := self.queue.get()) is not None:
            try:
                if self.error is None:
                    self.started = time.monotonic()
                    self.cursor.adbc_ingest(STAGING, batch, mode="append")
                    took = time.monotonic() - self.started
                    # Slow inserts in a row are one wait; a quick one ends it.
                    self.waited = self.waited + took if took > SLOW_INSERT else 0.0
            except BaseException as error:  # handed to the loading thread by drain()
                self.error = self.error or error
            finally:
                self.started = None
                self.queue.task_done()
        self.queue.task_done()

    def insert(self, batch) -> None:
        while True:
            self._watch()
            if self.error is not None:
                self.drain()
            try:
                self.queue.put(batch, timeout=0.25)
                return
            except queue.Full:
                continue

    def _watch(self) -> None:
        """Say what stalled inserts wait for; fail the load once they waited ``wait_seconds``."""
        if self.waits is None:
            return
        started = self.started
        stalled = time.monotonic() - started if started is not None else 0.0
        waited = self.waited + (stalled if stalled > SLOW_INSERT else 0.0)
        if waited > min(2.0, self.waits.seconds / 2):
            self.waits.announce(READERS)
        if waited >= self.waits.seconds:
            self.error = self.waits.locked(READERS)  # skips the batches still queued
            self.drain()

    def drain(self) -> None:
        self.queue.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.cursor.close()


def text_array(values: list):
    """An Arrow string array of record values: text and None as they are (in C), else converted."""
    import pyarrow as pa

    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # booleans, or numbers from a reader
        return pa.array([formats.text_of(v) for v in values], pa.string())


class _Fallback(Exception):
    """The fast reader met something only the careful reader can report or skip."""


class Progress:
    """A tqdm bar per file in compressed bytes, with rows/s; silent when not a terminal or quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, label: str, size: int) -> Bar:
        return Bar(label, size, self.quiet)


class Bar:
    def __init__(self, label: str, size: int, quiet: bool):
        from tqdm import tqdm

        self.started = time.perf_counter()
        self.done = 0
        self.bar = tqdm(
            total=size,
            desc=label,
            unit="B",
            unit_scale=True,
            leave=False,
            disable=True if quiet else None,
        )

    def advance(self, count: int, rows: int) -> None:
        if self.bar.disable:
            return
        self.bar.update(count - self.done)
        self.done = count
        self.bar.set_postfix_str(
            f"{rows / max(time.perf_counter() - self.started, 1e-9):,.0f} rows/s", False
        )

    def close(self) -> None:
        self.bar.close()
