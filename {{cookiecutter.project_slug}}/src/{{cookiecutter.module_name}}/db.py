"""The project's SQLite database: connecting (read and write roles), quoting, and the manifest.

Two roles, one file:

- ``connect(path, "write")`` is the ETL's: explicit transactions, a rollback journal on
  disk (a killed load leaves the old tables), ``busy_timeout`` = ``wait_seconds``, the time
  it waits for another writer or for readers (the ETL's pipeline announces and bounds its
  waits itself).
- ``connect(path, "read")`` is everyone else's: autocommit, so an idle connection holds
  no lock and never blocks the ETL; ``query_only``, so it cannot change anything. It
  opens the file for writing when it may, so that SQLite rolls back the journal a killed
  ETL left behind on the first read, and falls back on ``mode=ro`` for a database it may
  not write (a shared, read-only copy), which has no hot journal to roll back.

Either role comes as a DB-API connection (``adbc_driver_sqlite.dbapi``), or with
``dbapi=False`` as a lean :class:`Connection` on ADBC's low-level bindings, with only the
calls the ETL makes (``cursor()``, ``execute``, ``fetchall``, ``adbc_ingest``, ``close()``):
importing the DB-API imports pandas (through ``pyarrow.dataset``), a quarter of a second or
more of every ``invoke etl``, which needs neither. Same driver, same pragmas, same errors.

The manifest (``_etl_manifest``) is one row per raw file behind a table: its path, size,
modification time, SHA-256, rows, rejected lines, and the table's columns (with each
column's logical type, e.g. ``date``), settings and notes. It is read and written only here,
by column name::

    entry = db.manifest_of("penguins")           # None for a table the ETL did not make
    entry.rows, [s.sha256 for s in entry.sources], entry.logical_types
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

from . import paths
from .errors import ProjectError

MANIFEST = "_etl_manifest"
READ_WAIT_MS = 10_000  # how long a reader waits for the ETL's commit (milliseconds)
Role = Literal["read", "write"]
Logical = Literal["date", "timestamp", "timestamptz"]


class DatabaseError(ProjectError):
    """The database cannot be opened, or it is busy past the time allowed."""


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
    return sqlite_message(error)


def sqlite_message(error: BaseException) -> str:
    """An ADBC/SQLite error's own words, without the driver's prefixes.

    >>> sqlite_message(Exception("IO: [SQLite] Failed to step query: database or disk is full"))
    'database or disk is full'
    """
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return re.sub(r"^[A-Z_]+: (\[SQLite\] )?(Failed to (prepare|step) query: )?", "", message)


def connect(
    path: str | os.PathLike, role: Role = "read", *, wait_seconds: float = 60.0, dbapi: bool = True
):
    """An ADBC connection to the SQLite file ``path`` in ``role``: a DB-API one, or a lean one.

    Raises :class:`DatabaseError` (one line) when it cannot be opened. ``wait_seconds`` is
    the write role's wait for readers (see the module's docstring). ``dbapi=False`` gives a
    :class:`Connection`, the few DB-API calls the ETL makes, without the DB-API's imports.
    """
    import adbc_driver_manager

    path = Path(path)
    connection = None
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        if role == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            uri = str(path)
            pragmas = [
                # A rollback journal, not WAL: WAL doubled the load time (every page written
                # twice). Pages are synced at commit, so a killed load never leaves half a table.
                "journal_mode=DELETE",
                "synchronous=NORMAL",
                "cache_size=-8192",
                f"busy_timeout={max(int(wait_seconds * 1000), 0)}",
                "temp_store=FILE",
            ]
        else:
            writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
            uri = path.resolve().as_uri() + ("" if writable else "?mode=ro")
            pragmas = ["query_only=1", f"busy_timeout={READ_WAIT_MS}"]
        if dbapi:
            import adbc_driver_sqlite.dbapi

            connection = adbc_driver_sqlite.dbapi.connect(uri, autocommit=True)
        else:
            connection = Connection(uri)
        cursor = connection.cursor()
        try:
            for pragma in pragmas:
                execute(cursor, f"PRAGMA {pragma}")
            # SQLite reads the file (and rolls a hot journal back) only when asked.
            execute(cursor, "SELECT count(*) FROM sqlite_schema")
            if role == "write":
                execute(cursor, MANIFEST_SCHEMA)
        finally:
            cursor.close()
    except (OSError, adbc_driver_manager.Error) as error:
        if connection is not None:
            connection.close()
        raise DatabaseError(_open_error(path, error, role)) from None
    return connection


def _open_error(path: Path, error: Exception, role: Role) -> str:
    reason = open_failure(path, error)
    if role == "write":
        return (
            f"cannot open database {path}: {reason}; give database= the path of an SQLite file, "
            "or of a new file in a folder you can write"
        )
    if "readonly" in reason:  # a hot journal, and no right to roll it back
        return (
            f"cannot read database {path}: an interrupted `invoke etl` left its journal, and "
            "you may not write the file to roll it back: ask its owner to run `invoke etl`, "
            "or read a copy made after that"
        )
    return (
        f"cannot open database {path}: {reason}; pass database= the path of an SQLite file "
        "written by `invoke etl`"
    )


def execute(cursor, sql: str, parameters=None) -> list:
    """Run one statement; its rows (``[]`` for a statement without a result)."""
    cursor.execute(sql, parameters=parameters) if parameters is not None else cursor.execute(sql)
    try:
        return cursor.fetchall()
    except Exception:  # a statement without a result set
        return []


def table_exists(cursor, table: str) -> bool:
    return bool(
        execute(cursor, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,))
    )


# ---- the lean connection -------------------------------------------------------------------------


class Connection:
    """The DB-API calls the ETL makes, on ADBC's low-level bindings: ``cursor()`` and ``close()``.

    The DB-API module (``adbc_driver_manager.dbapi``) imports ``pyarrow.dataset`` when it is
    imported, which imports pandas: from a quarter of a second to a second of every
    ``invoke etl`` (by the machine's load), which uses neither. This connection opens the
    database as ``adbc_driver_sqlite.dbapi.connect`` does, in autocommit mode (the ETL says
    BEGIN and COMMIT itself), and its errors are the DB-API's (``adbc_driver_manager.Error``
    and its family).
    """

    def __init__(self, uri: str):
        import adbc_driver_manager
        import adbc_driver_sqlite

        self.database = adbc_driver_sqlite.connect(uri)
        try:
            self.adbc_connection = adbc_driver_manager.AdbcConnection(self.database)
        except BaseException:
            self.database.close()
            raise
        self.cursors: list[Cursor] = []

    def cursor(self) -> Cursor:
        cursor = Cursor(self)
        self.cursors.append(cursor)
        return cursor

    def close(self) -> None:
        """Close the cursors still open, then the connection (ADBC refuses while they are)."""
        if self.database is None:
            return
        for cursor in self.cursors:
            cursor.close()
        self.adbc_connection.close()
        self.database.close()
        self.database = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Cursor:
    """One ADBC statement: ``execute(sql, parameters)``, ``fetchall()``, ``adbc_ingest``.

    As the DB-API's cursor does: a statement is prepared again only when its SQL changes,
    parameters are bound as a one-row Arrow record batch, rows come back as tuples of Python
    values, and Ctrl-C during a statement of the main thread interrupts SQLite.
    """

    def __init__(self, connection: Connection):
        import adbc_driver_manager

        self.connection = connection
        self.statement = adbc_driver_manager.AdbcStatement(connection.adbc_connection)
        self.query: str | None = None  # the SQL the statement holds
        self.result = None  # the result stream of the last execute(), until fetched

    def execute(self, sql: str, parameters=None) -> Self:
        self._release()
        if sql != self.query:
            self.query = sql
            self.statement.set_sql_query(sql)
            _blocking(self.statement.prepare, self.statement)
        if parameters:
            self.statement.bind(_one_row(parameters))
        self.result, _ = _blocking(self.statement.execute_query, self.statement)
        return self

    def fetchall(self) -> list[tuple]:
        """The rows of the last statement's result (``[]`` once fetched)."""
        import pyarrow as pa

        if self.result is None:
            return []
        stream, self.result = self.result, None
        table = _blocking(pa.RecordBatchReader.from_stream(stream).read_all, self.statement)
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def adbc_ingest(self, table: str, data, mode: Literal["append"] = "append") -> int:
        """Append the Arrow record batch ``data`` to ``table``; the number of rows, or -1."""
        import adbc_driver_manager as adbc

        if mode != "append":
            raise ValueError(f"mode={mode!r}: this connection only appends (mode='append')")
        self._release()
        self.statement.set_options(
            **{
                adbc.INGEST_OPTION_TARGET_TABLE: table,
                adbc.INGEST_OPTION_MODE: adbc.INGEST_OPTION_MODE_APPEND,
            }
        )
        self.statement.bind(data)
        self.query = None  # the ingest replaced the statement's SQL
        return _blocking(self.statement.execute_update, self.statement)

    def close(self) -> None:
        if self.statement is None:
            return
        self._release()
        self.statement.close()
        self.statement = None

    def _release(self) -> None:
        if self.result is not None:
            stream, self.result = self.result, None
            stream.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _one_row(values):
    """``values`` as a one-row Arrow record batch, one column each, typed as the DB-API types them.

    Built from buffers, not by ``pa.array(...)``, which imports pandas (to ask whether the
    values are a pandas Series).

    >>> _one_row((1, 2.5, "é", None, b"x", True)).to_pylist()
    [{'0': 1, '1': 2.5, '2': 'é', '3': None, '4': b'x', '5': True}]
    """
    import struct

    import pyarrow as pa

    columns = []
    for value in values:
        if value is None:
            column = pa.nulls(1)
        elif isinstance(value, bool):
            column = pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(bytes([value]))])
        elif isinstance(value, int | float):
            kind, code = (pa.float64(), "<d") if isinstance(value, float) else (pa.int64(), "<q")
            column = pa.Array.from_buffers(kind, 1, [None, pa.py_buffer(struct.pack(code, value))])
        elif isinstance(value, str | bytes):
            data = value.encode() if isinstance(value, str) else value
            kind = pa.string() if isinstance(value, str) else pa.binary()
            offsets = pa.py_buffer(struct.pack("<ii", 0, len(data)))
            column = pa.Array.from_buffers(kind, 1, [None, offsets, pa.py_buffer(data)])
        else:
            raise TypeError(
                f"cannot bind {type(value).__name__} {value!r}: give int, float, str, bytes or None"
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=[str(i) for i in range(len(columns))])


def _blocking(call, statement):
    """``call()``, which Ctrl-C (in the main thread) interrupts by cancelling ``statement``.

    The DB-API's own helper, from the module of ADBC's bindings; a plain call without it.
    """
    try:
        from adbc_driver_manager._lib import _blocking_call
    except ImportError:  # not in every version of ADBC: Ctrl-C then waits for the statement
        return call()
    return _blocking_call(call, (), {}, statement.cancel)


# ---- the manifest --------------------------------------------------------------------------------

MANIFEST_COLUMNS = (
    "path",
    "table_name",
    "part",
    "size",
    "mtime_ns",
    "sha256",
    "rows",
    "rejected",
    "columns",
    "settings",
    "notes",
    "started",
    "finished",
    "tool",
)
MANIFEST_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {MANIFEST} (path TEXT PRIMARY KEY, table_name TEXT NOT NULL, "
    "part INTEGER, size INTEGER, mtime_ns INTEGER, sha256 TEXT, rows INTEGER, rejected INTEGER, "
    "columns TEXT, settings TEXT, notes TEXT, started TEXT, finished TEXT, tool TEXT)"
)


@dataclass(frozen=True)
class SourceFile:
    """One raw file behind a table, as it was when loaded."""

    path: str  # as paths.relative() shows it, e.g. data/raw/penguins.csv
    part: int
    size: int | None
    mtime_ns: int | None
    sha256: str
    rows: int
    rejected: int


@dataclass(frozen=True)
class ColumnInfo:
    """A loaded column: its name, its header in the file, its SQL type and its logical type."""

    name: str
    header: str
    type: str  # INTEGER, REAL or TEXT
    logical: Logical | None = None  # 'date', 'timestamp', 'timestamptz' (stored as ISO text)


@dataclass
class TableManifest:
    """What the manifest records of one table."""

    table: str
    sources: list[SourceFile]
    columns: list[ColumnInfo]
    settings: str = "{}"  # the table's settings as sorted JSON
    notes: dict = field(default_factory=dict)
    started: str | None = None
    finished: str | None = None
    tool: str | None = None

    @property
    def rows(self) -> int:
        return sum(s.rows or 0 for s in self.sources)

    @property
    def rejected(self) -> int:
        return sum(s.rejected or 0 for s in self.sources)

    @property
    def logical_types(self) -> dict[str, Logical | None]:
        """Each column's logical type: ``{"when": "date", "mass": None, ...}``."""
        return {c.name: c.logical for c in self.columns}


def read_manifest(cursor, table: str | None = None) -> dict[str, TableManifest]:
    """The manifest of every table (or of ``table``), by table name; ``{}`` without one."""
    if not table_exists(cursor, MANIFEST):
        return {}
    sql = f"SELECT {', '.join(MANIFEST_COLUMNS)} FROM {MANIFEST}"
    rows = execute(
        cursor,
        sql + (" WHERE table_name = ?" if table else "") + " ORDER BY table_name, part",
        (table,) if table else None,
    )
    found: dict[str, TableManifest] = {}
    for values in rows:
        row = dict(zip(MANIFEST_COLUMNS, values, strict=True))
        entry = found.get(row["table_name"])
        if entry is None:
            entry = found[row["table_name"]] = TableManifest(
                table=row["table_name"],
                sources=[],
                columns=[
                    ColumnInfo(c["name"], c.get("header", c["name"]), c["type"], c.get("logical"))
                    for c in json.loads(row["columns"] or "[]")
                ],
                settings=row["settings"] or "{}",
                notes=json.loads(row["notes"] or "{}"),
                started=row["started"],
                finished=row["finished"],
                tool=row["tool"],
            )
        entry.sources.append(
            SourceFile(
                row["path"],
                row["part"],
                row["size"],
                row["mtime_ns"],
                row["sha256"],
                row["rows"],
                row["rejected"],
            )
        )
    return found


def write_manifest(cursor, entry: TableManifest) -> None:
    """Replace the manifest rows of ``entry.table`` (and of its files, if another table had them).

    Call it inside the transaction that writes the table, so both commit together.
    """
    drop_manifest(cursor, entry.table, [s.path for s in entry.sources])
    columns = json.dumps(
        [
            {"name": c.name, "header": c.header, "type": c.type}
            | ({"logical": c.logical} if c.logical else {})
            for c in entry.columns
        ]
    )
    names = ", ".join(MANIFEST_COLUMNS)
    marks = ", ".join("?" for _ in MANIFEST_COLUMNS)
    for source in entry.sources:
        row = {
            "path": source.path,
            "table_name": entry.table,
            "part": source.part,
            "size": source.size,
            "mtime_ns": source.mtime_ns,
            "sha256": source.sha256,
            "rows": source.rows,
            "rejected": source.rejected,
            "columns": columns,
            "settings": entry.settings,
            "notes": json.dumps(entry.notes),
            "started": entry.started,
            "finished": entry.finished,
            "tool": entry.tool,
        }
        execute(
            cursor,
            f"INSERT INTO {MANIFEST} ({names}) VALUES ({marks})",
            tuple(row[c] for c in MANIFEST_COLUMNS),
        )


def drop_manifest(cursor, table: str, files: list[str] = ()) -> None:
    """Delete the manifest rows of ``table`` and of ``files``."""
    marks = ",".join("?" * len(files))
    execute(
        cursor,
        f"DELETE FROM {MANIFEST} WHERE table_name = ?"
        + (f" OR path IN ({marks})" if files else ""),
        (table, *files),
    )


def manifest_of(table: str, database: str | os.PathLike | None = None) -> TableManifest | None:
    """The manifest of one table of the project's database (None if the ETL did not make it)."""
    path = Path(database) if database else paths.DATABASE
    if not path.is_file():
        raise DatabaseError(f"no database at {path}: run `invoke etl` first to load data/raw")
    connection = connect(path, "read")
    try:
        with connection.cursor() as cursor:
            return read_manifest(cursor, table).get(table)
    finally:
        connection.close()
