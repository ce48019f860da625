"""Loading one table: the staging table, typed inserts on a thread of their own, restarts,
bad lines, and the final swap into place. :mod:`.etl` decides what to load and owns the run.
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
from typing import TYPE_CHECKING

from . import formats, inference, paths, rawfiles
from .errors import ProjectError
from .rawfiles import BadLine, Rejected, SourceError

if TYPE_CHECKING:
    from .etl import Group

MANIFEST = "_etl_manifest"
BUSY_MS = 10_000  # how long to wait for another process's write to the database
STAGING = "_etl_staging"


class EtlError(ProjectError):
    """A problem with the ETL settings, the database or the set of raw files."""


def under_raw(path: Path) -> str:
    """A path inside data/raw as written in settings' file patterns, e.g. ``tweets/part-1.csv``."""
    try:
        return path.relative_to(paths.RAW_DIR).as_posix()
    except ValueError:
        return path.name


# ---- the database --------------------------------------------------------------------------------


def quote(identifier: str) -> str:
    """An SQL identifier in double quotes (embedded quotes doubled).

    >>> quote('a"; DROP TABLE x; --')
    '"a""; DROP TABLE x; --"'
    """
    return '"' + identifier.replace('"', '""') + '"'


def open_failure(path: Path, error: Exception) -> str:
    """Why ``path`` could not be opened as an SQLite database, in a few words."""
    if path.is_dir():
        return "it is a folder"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    # "INVALID_ARGUMENT: [SQLite] Failed to prepare query: file is not a database"
    return re.sub(r"^[A-Z_]+: (\[SQLite\] )?(Failed to prepare query: )?", "", message)


def connect(database: Path):
    """A connection for loading: explicit transactions, a rollback journal on disk."""
    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi

    try:
        connection, cursor = _open(database, adbc_driver_sqlite.dbapi)
    except (OSError, adbc_driver_manager.Error) as error:
        raise EtlError(
            f"cannot open database {database}: {open_failure(database, error)}; give --db the "
            "path of an SQLite file, or of a new file in a folder you can write"
        ) from None
    return connection, cursor


def _open(database: Path, dbapi):
    if database.is_dir():
        raise IsADirectoryError(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    connection = dbapi.connect(str(database), autocommit=True)
    try:
        return connection, _prepare(connection.cursor())
    except Exception:
        connection.close()
        raise


def _prepare(cursor):
    # A rollback journal, not WAL: WAL doubled the load time. Its pages are synced at
    # commit (synchronous=NORMAL), so a killed process never leaves a half table.
    for pragma in (
        "journal_mode=DELETE",
        "synchronous=NORMAL",
        "cache_size=-8192",
        f"busy_timeout={BUSY_MS}",
        "temp_store=FILE",
    ):
        cursor.execute(f"PRAGMA {pragma}")
        cursor.fetchall()
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {MANIFEST} (path TEXT PRIMARY KEY, table_name TEXT NOT NULL, "
        "part INTEGER, size INTEGER, mtime_ns INTEGER, sha256 TEXT, rows INTEGER, "
        "rejected INTEGER, "
        "columns TEXT, settings TEXT, notes TEXT, started TEXT, finished TEXT, tool TEXT)"
    )
    return cursor


def execute(cursor, sql: str, parameters=None) -> list:
    cursor.execute(sql, parameters=parameters) if parameters is not None else cursor.execute(sql)
    try:
        return cursor.fetchall()
    except Exception:  # a statement without a result set
        return []


def manifest_rows(cursor, table: str) -> list[tuple]:
    return execute(
        cursor,
        f"SELECT path, size, mtime_ns, settings, tool FROM {MANIFEST} "
        "WHERE table_name = ? ORDER BY part",
        (table,),
    )


def table_exists(cursor, table: str) -> bool:
    return bool(
        execute(cursor, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,))
    )


# ---- loading one table ---------------------------------------------------------------------------


@dataclass
class TableReport:
    """What happened to one table."""

    table: str
    sources: list[str]
    status: str = "loaded"  # loaded, skipped or failed
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

    def __init__(self, cursor, group: Group, settings: dict, on_bad_lines: str, progress):
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
        self.writer = Writer(cursor)

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
            what = "holds no records" if self.layout is None else "has a header but no data rows"
            raise SourceError(f"{paths.relative(self.group.origin)}: {what}: nothing to load")

    def _start_table(self, layout: rawfiles.Layout, label: str) -> None:
        """The first part fixes the columns; the others must have the same header."""
        if self.layout is None:
            self.layout = layout
            types = self.settings.get("types", {})
            unknown = set(types) - set(layout.names)
            if unknown:
                raise SourceError(
                    f"{label}: types names a column it does not have: {sorted(unknown)[0]!r}"
                )
            self.columns = []
            for name, source in zip(layout.names, layout.header, strict=True):
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
            if kind != "csv":
                self._load_records(part, source, kind, spec)
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
        forced = self.settings.get("types", {}).get(name)
        if forced is not None and str(forced).upper() not in inference.TYPES_BY_NAME:
            raise SourceError(f"types: {forced!r} for column {name!r} is not INTEGER, REAL or TEXT")
        column = inference.Column(
            name, source, inference.TYPES_BY_NAME[str(forced).upper()] if forced else None
        )
        if len(self.columns) in self.text_columns and column.forced is None:
            column.state = inference.TEXT
        return column

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
        for name in [n for n in dict.fromkeys(names) if n not in known]:
            self.columns.append(self._column(name, name))
            internal = quote(f"c{len(self.columns) - 1}")
            if len(self.columns) == 1:
                self.sql(f"CREATE TABLE {STAGING} ({internal})")
            else:  # a new key: a column added in place, no row rewritten
                self.sql(f"ALTER TABLE {STAGING} ADD COLUMN {internal}")

    def _load_records(self, part: Part, source, kind: str, spec: str | None) -> None:
        """JSON Lines, XML rows or your reader's records, typed like CSV fields."""
        given = self.settings.get("columns")
        self._ensure_columns(given or [])
        ignored: dict[str, int] = {}
        bar = self.progress(part.label, source.size)
        number = 0
        try:
            for chunk in formats.chunks(kind, spec, source.stream, self.settings):
                for record in chunk.rejected:
                    self._reject(part, record)
                if not chunk.records:
                    continue
                number = chunk.numbers[-1]
                keys = set().union(*chunk.records)
                if given:
                    for key in keys - set(given):
                        ignored[key] = ignored.get(key, 0) + sum(key in r for r in chunk.records)
                elif not self.names.issuperset(keys):  # new keys, in the order they appear
                    self._ensure_columns(k for r in chunk.records for k in r if k not in self.names)
                    self.names = {c.name for c in self.columns}
                self._write_records(part, chunk)
                bar.advance(source.tap.count, part.rows)
        except formats.ReaderError as error:
            raise SourceError(f"{part.label}: {error}") from None
        except rawfiles.read_errors() as error:
            raise rawfiles.damaged(part.label, error, number) from None
        finally:
            bar.close()
        if ignored:
            self.notes.append(
                f"{part.label}: keys not in its columns setting were left out: "
                + ", ".join(f"{k!r} ({n} records)" for k, n in sorted(ignored.items()))
            )
        part.sha256 = source.tap.hash.hexdigest()

    def _write_records(self, part: Part, chunk) -> None:
        """Write records; one with a value that does not fit a type set in the settings is bad."""
        names = [c.name for c in self.columns]
        try:
            self._write([text_array([r.get(n) for r in chunk.records]) for n in names])
            part.rows += len(chunk.records)
            return
        except inference.Misfit:
            pass
        forced = [c for c in self.columns if c.forced in (inference.INTEGER, inference.REAL)]
        markers = {str(m) for m in self.settings.get("null_markers", [])}
        empty = self.settings.get("empty_is_null", True)
        good = []
        for number, row in zip(chunk.numbers, chunk.records, strict=True):
            text = {k: formats.text_of(v) for k, v in row.items()}
            misfit = next(
                (
                    c
                    for c in forced
                    if text.get(c.name) is not None
                    and not ((text[c.name] == "" and empty) or text[c.name] in markers)
                    and not inference.fits(text[c.name], c.forced)
                ),
                None,
            )
            if misfit is None:
                good.append(row)
                continue
            reason = (
                f"column {misfit.name!r}: {text[misfit.name]!r} is not "
                f"{inference.TYPE_NAMES[misfit.forced]} (types setting)"
            )
            self._reject(part, Rejected(number, reason, json.dumps(text, ensure_ascii=False)))
        if good:
            self._write([text_array([r.get(n) for r in good]) for n in names])
            part.rows += len(good)

    def _reject(self, part: Part, record: Rejected) -> None:
        if self.on_bad_lines == "error":
            raise BadLine(part.label, record.line, record.reason, record.text)
        self.rejects.append((part.label, record.line, record.reason, record.text))
        part.rejected += 1

    def _careful_batches(self, stream, layout: rawfiles.Layout, part: Part):
        """Rows from the careful reader; each bad line is rejected (or raised) with its number."""
        import pyarrow as pa

        forced = [(i, c.forced) for i, c in enumerate(self.columns) if c.forced in (1, 2)]
        markers = set(self.typer.markers.to_pylist()) if self.typer.markers is not None else set()
        empty_is_null = self.typer.empty_is_null
        rows: list[list[str]] = []
        line = 0
        try:
            for line, record in rawfiles.careful_records(stream, layout, part.label):
                if not isinstance(record, Rejected):
                    for i, kind in forced:
                        text = record[i]
                        if not (
                            (text == "" and empty_is_null)
                            or text in markers
                            or inference.fits(text, kind)
                        ):
                            record = Rejected(
                                line,
                                f"column {self.columns[i].name!r}: {text!r} is not "
                                f"{inference.TYPE_NAMES[kind]} (types setting)",
                                layout.delimiter.join(record),
                            )
                            break
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


class Writer:
    """Runs the inserts on a thread of their own, so the next batch is typed meanwhile.

    SQLite and Arrow release the GIL, so on two cores the inserts and the typing overlap.
    Every other statement first waits for the inserts queued before it (:meth:`drain`).
    """

    def __init__(self, cursor):
        self.cursor = cursor.connection.cursor()  # its own: ingest leaves its statement bound
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="etl-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (batch := self.queue.get()) is not None:
            try:
                if self.error is None:
                    self.cursor.adbc_ingest(STAGING, batch, mode="append")
            except BaseException as error:  # handed to the loading thread by drain()
                self.error = error
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def insert(self, batch) -> None:
        if self.error is not None:
            self.drain()
        self.queue.put(batch)

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
