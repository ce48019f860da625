"""Columnar copies of the database's tables, so that ``data.load`` reads at memory speed.

SQLite hands rows back one at a time; a table of 100 GB takes half an hour to come back
after each kernel restart. So each table loaded by ``invoke etl`` also gets a copy in Arrow
IPC files under ``data/processed/columnar/<table>/<key>/``, which ``data.load`` maps into
memory instead of reading: the columns come into pandas without being parsed or copied
(numbers as numpy arrays, text as Arrow-backed strings), only the pages of the asked columns
are read from the disk, and kernels that load the same table share them in the page cache.

The ``key`` is a hash of the table's manifest rows: the SHA-256 of each raw file, the
settings and the time it loaded. A table loaded again has a new key, so its old copy can
never be served: the first read after it writes the new copy and removes the old one.
Only tables made by ``invoke etl`` get a copy (a table made by your own SQL has no
manifest to say when it changed). ``[tool.<package>.columnar]`` turns copies off for the
project or per table (:class:`settings.Columnar`).

Arrow IPC, not Parquet: on the 2M-row benchmark table, with the machine busy, IPC came into
pandas in 0.03-0.05 s and Parquet in 0.4-0.5 s (Parquet's pages are decoded on the CPU, IPC's
are used as they are); the price is disk: 245 MB for IPC, 89 MB for Parquet, 183 MB for the
database. A ``where`` is evaluated on the mapped columns it names (IPC keeps no statistics to
skip by), which touches only their pages. Dask reads the IPC files part by part
(:func:`dask_frame`); Polars, DuckDB and pyarrow read them as they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import db, paths, settings
from .db import quote
from .errors import ProjectError

VERSION = 2  # part of every key: a change to how copies are written retires the old ones
ROWS_PER_GROUP = 128 * 1024  # rows of each record batch of a part file
BYTES_PER_GROUP = 64 << 20  # ... or fewer when they are wide: memory stays flat while writing
ROWS_PER_READ = 16 * 1024  # rows the SQLite driver hands over at a time
BYTES_PER_FILE = 256 << 20  # a part file (a partition of data.dask) holds at most this much
# data, and at most the `rows_per_file` setting's rows
LOCK = ".lock"
COPYABLE = {"INTEGER": "int64", "REAL": "float64", "TEXT": "string"}
# Manifest logical types (db.ColumnInfo.logical) and the Arrow types their ISO text becomes,
# by way of these casts: the copy and data.load's SQLite path give the same datetime64 dtypes.
TEMPORAL_CASTS = {
    "date": (("date32",), ("timestamp", "s", None)),
    "timestamp": (("timestamp", "us", None),),
    "timestamptz": (("timestamp", "us", "UTC"),),
}


class ColumnarError(ProjectError):
    """A columnar copy cannot be used as asked."""


# ---- the manifest: the one place this module reads it ----------------------------------------


@dataclass(frozen=True)
class Sources:
    """The manifest's word on a table: a row per raw file, and its columns' logical types."""

    rows: list[dict] = field(default_factory=list)  # path, sha256, settings, finished, ...
    logical_types: dict[str, str] = field(default_factory=dict)  # column -> "date", "timestamp"


def sources(cursor, table: str) -> Sources:
    """The manifest's rows of ``table`` (none for a table not made by ``invoke etl``)."""
    entry = db.read_manifest(cursor, table).get(table)
    if entry is None:
        return Sources()
    shared = {
        "settings": entry.settings,
        "started": entry.started,
        "finished": entry.finished,
        "tool": entry.tool,
        "columns": [dataclasses.asdict(column) for column in entry.columns],
    }
    rows = [{**dataclasses.asdict(source), **shared} for source in entry.sources]
    logical = {name: kind for name, kind in entry.logical_types.items() if kind}
    return Sources(rows, logical)


# ---- where copies live -------------------------------------------------------------------------


def folder() -> Path:
    """The folder of every table's copies: ``data/processed/columnar``."""
    return paths.DATABASE.parent / "columnar"


def _table_folder(table: str) -> Path:
    name = urllib.parse.quote(table, safe="")
    return folder() / (("%2E" + name[1:]) if name.startswith(".") else name)


def enabled(table: str) -> bool:
    """Whether ``table`` gets a copy: ``[tool.<package>.columnar]`` ``enabled`` and its table's."""
    config = settings.read("columnar", settings.Columnar)
    entry = config.tables.get(table)
    return config.enabled and (entry is None or entry.enabled)


@dataclass(frozen=True)
class Copy:
    """A table's columnar copy: its folder when it is current, else why there is none."""

    table: str
    folder: Path | None
    reason: str = ""

    def files(self) -> list[Path]:
        """The part files in row order."""
        return sorted(self.folder.glob("part-*.arrow")) if self.folder else []


def current(cursor, table: str, declared: dict[str, str]) -> Copy:
    """The up-to-date copy of ``table``, written now (through ``cursor``) if missing or stale.

    ``declared`` maps the table's columns to their SQL types. Copies of the table's earlier
    contents are removed. Returns a :class:`Copy` whose folder is None, with the reason, when
    copies are off for the table, it was not made by ``invoke etl``, or its types are not
    the ETL's.
    """
    if not enabled(table):
        return Copy(table, None, f"copies are off for {table!r} in {settings.where('columnar')}")
    untyped = [c for c, t in declared.items() if (t or "").upper() not in COPYABLE]
    if untyped:
        return Copy(table, None, f"column {untyped[0]!r} has SQL type {declared[untyped[0]]!r}")
    found = sources(cursor, table)
    if not found.rows:
        return Copy(table, None, f"table {table!r} was not made by `invoke etl`")
    key = _key(cursor, table, declared, found)
    target = _table_folder(table) / key
    if target.is_dir() and not Copy(table, target).files():  # not a copy this code wrote
        shutil.rmtree(target, ignore_errors=True)
    if not target.is_dir():
        try:
            with _one_writer(target.parent):  # the others wait, then read its copy
                if not target.is_dir():
                    _write(cursor, table, declared, found, target)
        except Exception as error:  # e.g. a full disk: SQLite still serves the table
            detail = error.strerror if isinstance(error, OSError) else str(error).splitlines()[0]
            where = paths.relative(target.parent)
            reason = f"cannot write the copy of {table!r} in {where}: {detail}"
            warnings.warn(f"{reason}; reading it from SQLite", stacklevel=3)
            return Copy(table, None, reason)
        if _key(cursor, table, declared, sources(cursor, table)) != key:
            shutil.rmtree(target, ignore_errors=True)  # the ETL reloaded it meanwhile
            return Copy(table, None, f"table {table!r} was reloaded while being copied")
    _remove_stale(target.parent, keep=key)
    if not target.is_dir():  # renamed into place by neither this process nor another
        return Copy(table, None, f"cannot put the copy of {table!r} in {paths.relative(target)}")
    return Copy(table, target)


@contextlib.contextmanager
def _one_writer(table_folder: Path):
    """Hold the table's lock file: runs of a sweep starting at once write one copy, not many."""
    table_folder.mkdir(parents=True, exist_ok=True)
    with open(table_folder / LOCK, "a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; each writer renames its own copy into place
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _key(cursor, table: str, declared: dict[str, str], found: Sources) -> str:
    cursor.execute(f"SELECT max(rowid) FROM {quote(table)}")  # rows added by hand change it too
    (top,) = cursor.fetchone()
    described = {
        "version": VERSION,
        "manifest": found.rows,
        "logical_types": found.logical_types,
        "columns": declared,
        "top": top,
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _schema(declared: dict[str, str], logical_types: dict[str, str]):
    import pyarrow as pa

    # large_string: the layout of pandas' Arrow-backed strings, so they need no conversion.
    types = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.large_string()}
    fields = []
    for name, sql_type in declared.items():
        kind = types[COPYABLE[sql_type.upper()]]
        if logical_types.get(name) in TEMPORAL_CASTS:
            kind = _arrow_type(TEMPORAL_CASTS[logical_types[name]][-1])
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def as_temporal(column, logical: str):
    """An Arrow column of ISO text as the ``datetime64`` type of its ``logical`` type.

    Raises ``pyarrow.ArrowInvalid`` for a value that is not of that form.
    """
    for step in TEMPORAL_CASTS.get(logical, ()):
        column = column.cast(_arrow_type(step))
    return column


def _arrow_type(step: tuple):
    import pyarrow as pa

    kind, *arguments = step
    return pa.date32() if kind == "date32" else pa.timestamp(*arguments)


def _write(cursor, table: str, declared: dict[str, str], found: Sources, target: Path) -> None:
    """Stream the table into part files in a scratch folder, then rename it into place."""
    import pyarrow as pa

    schema = _schema(declared, found.logical_types)
    scratch = target.parent / f".writing-{target.name}-{socket.gethostname()}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    # The driver types each column by its first rows: a first row of the declared types
    # (dropped below) keeps a column that is NULL there from being typed wrong.
    first = {"INTEGER": "CAST(0 AS INTEGER)", "REAL": "CAST(0 AS REAL)", "TEXT": "''"}
    chosen = ", ".join(quote(c) for c in declared)
    dummy = ", ".join(first[t.upper()] for t in declared.values())
    per_file = settings.read("columnar", settings.Columnar).rows_per_file
    per_group = min(ROWS_PER_GROUP, per_file)
    writer, rows_in_file, bytes_in_file, parts = None, 0, 0, 0
    pending: list = []  # batches of the next record batch (the driver's are smaller)

    def flush() -> None:
        nonlocal writer, rows_in_file, bytes_in_file, parts
        rows = pa.Table.from_batches(pending, schema=schema).combine_chunks()  # one batch
        pending.clear()
        while rows.num_rows or writer is None:
            if writer is None or rows_in_file >= per_file or bytes_in_file >= BYTES_PER_FILE:
                if writer is not None:
                    writer.close()
                writer = pa.ipc.new_file(scratch / f"part-{parts:06d}.arrow", schema)
                rows_in_file, bytes_in_file, parts = 0, 0, parts + 1
            piece = rows.slice(0, per_file - rows_in_file)
            rows = rows.slice(piece.num_rows)
            writer.write_table(piece, max_chunksize=per_group)
            rows_in_file += piece.num_rows
            bytes_in_file += piece.nbytes

    try:
        try:  # batches of a known size from the driver (its default is small)
            cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": str(min(ROWS_PER_READ, per_group))}
            )
        except Exception:
            pass
        cursor.execute(f"SELECT {dummy} UNION ALL SELECT {chosen} FROM {quote(table)}")
        skip = 1
        for batch in cursor.fetch_record_batch():
            batch, skip = batch.slice(skip), max(0, skip - batch.num_rows)
            columns = [
                as_temporal(column, found.logical_types[f.name])
                if f.name in found.logical_types
                else column.cast(f.type)
                for column, f in zip(batch.columns, schema, strict=True)
            ]
            pending.append(pa.RecordBatch.from_arrays(columns, schema=schema))
            rows, size = sum(b.num_rows for b in pending), sum(b.nbytes for b in pending)
            if rows >= per_group or size >= BYTES_PER_GROUP:
                flush()
        if pending or writer is None:  # an empty table: one empty file keeps its columns
            flush()
        writer.close()
        writer = None
        try:
            scratch.rename(target)
        except OSError:  # another process wrote the same copy first: theirs serves
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        if writer is not None:
            writer.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _remove_stale(table_folder: Path, keep: str) -> None:
    """Remove the table's other copies, and scratch folders of copies whose writer is gone."""
    if not table_folder.is_dir():
        return
    host = socket.gethostname()
    for entry in table_folder.iterdir():
        if entry.name in (keep, LOCK):
            continue
        writing = re.fullmatch(r"\.writing-\w+-(.+)-(\d+)", entry.name)
        if writing and (writing[1] != host or _alive(int(writing[2]))):
            continue  # being written, here or on another machine
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refresh(table: str, *, database: str | os.PathLike | None = None) -> Copy:
    """Write ``table``'s copy if missing or stale, remove old ones; after ``invoke etl`` loads it.

    A table no longer in the database loses its copies.
    """
    with _connect(database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name, type FROM pragma_table_info(?)", parameters=(table,))
        declared = dict(cursor.fetchall())
        if not declared:
            shutil.rmtree(_table_folder(table), ignore_errors=True)
            return Copy(table, None, f"no table {table!r} in the database")
        return current(cursor, table, declared)


def prune(*, database: str | os.PathLike | None = None) -> list[str]:
    """Remove the copies of tables no longer in the database; the names of those tables."""
    if not folder().is_dir():
        return []
    # Lean: `invoke etl --prune` calls it, and the DB-API's imports would double its start.
    with _connect(database, dbapi=False) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        names = {_table_folder(name).name for (name,) in cursor.fetchall()}
    gone = []
    for entry in sorted(folder().iterdir()):
        if entry.is_dir() and entry.name not in names:
            shutil.rmtree(entry, ignore_errors=True)
            gone.append(urllib.parse.unquote(entry.name))
    return gone


def _connect(database: str | os.PathLike | None, *, dbapi: bool = True):
    path = Path(database) if database else paths.DATABASE
    if not path.is_file():
        raise ColumnarError(f"no database at {path}: run `invoke etl` first")
    try:
        return db.connect(path, "read", dbapi=dbapi)
    except db.DatabaseError as error:
        raise ColumnarError(str(error)) from None


# ---- reading -----------------------------------------------------------------------------------


def positions(count: int, fraction: float, seed: int):
    """The sorted row positions of a ``fraction`` of ``count`` rows, drawn with ``seed``.

    The same draw as ``data.sample(table, frac=fraction, seed=seed)``:

    >>> positions(10, 0.3, seed=0).tolist()
    [5, 6, 9]
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=round(count * fraction), replace=False))


def mapped(copy: Copy):
    """The copy as one Arrow table whose columns point into the memory-mapped files."""
    import pyarrow as pa

    tables = [pa.ipc.open_file(pa.memory_map(str(f))).read_all() for f in copy.files()]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def read(
    copy: Copy,
    columns: list[str],
    condition=None,
    *,
    sample: float | None = None,
    seed: int = 0,
    limit: int | None = None,
):
    """The asked ``columns`` of the rows of ``copy`` that meet ``condition`` (a pyarrow
    expression, see :func:`pushdown`), then a ``sample`` fraction of them, then ``limit``
    rows, as an Arrow table. Only the pages of the columns used are read from the disk.
    """
    import pyarrow.dataset as ds

    result = mapped(copy)
    if condition is None:
        result = result.select(columns)
    else:  # evaluated batch by batch: only the matching rows of the asked columns are copied
        result = ds.dataset(result).to_table(columns=columns, filter=condition)
    if sample is not None:
        result = take(result, positions(result.num_rows, sample, seed))
    return result if limit is None else result.slice(0, limit)


def take(table, rows):
    """The rows at sorted positions ``rows`` of ``table``, taken from each record batch in
    turn (``Table.take`` would first join a column's batches into one copy)."""
    import numpy as np
    import pyarrow as pa

    batches = table.to_batches()
    ends = np.cumsum([batch.num_rows for batch in batches])
    bounds = np.searchsorted(rows, ends)  # rows[bounds[i-1]:bounds[i]] fall in batch i
    pieces, first = [], 0
    for batch, end, last in zip(batches, ends, bounds, strict=True):
        if last > first:
            start = end - batch.num_rows
            pieces.append(batch.take(pa.array(rows[first:last] - start)))
        first = last
    return pa.Table.from_batches(pieces, schema=table.schema)


def read_part(path: str, columns: list[str] | None = None):
    """One part file as a DataFrame (one partition of :func:`dask_frame`): INTEGER columns as
    nullable ``Int64`` whether or not this part has NULLs, so that every partition agrees."""
    import pandas as pd
    import pyarrow as pa

    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    table = table.select(columns) if columns is not None else table
    return table.to_pandas(split_blocks=True, types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def dask_frame(copy: Copy, columns: list[str] | None = None):
    """A Dask DataFrame over ``copy``, one partition per part file, read where it runs."""
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

    files = [str(f) for f in copy.files()]
    schema = pa.ipc.open_file(pa.memory_map(files[0])).schema
    empty = schema.empty_table().select(columns) if columns is not None else schema.empty_table()
    meta = empty.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return dd.from_map(read_part, files, columns=columns, meta=meta, label="columnar")


# ---- an SQL condition as a pyarrow expression ------------------------------------------------

TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
    | (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,|\?|-)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN"}


class _Unsupported(Exception):
    """The condition uses SQL this translation does not cover: SQLite evaluates it."""


def pushdown(where: str, params, declared: dict[str, str]):
    """``where`` (an SQL condition, ``?`` for ``params``) as a pyarrow expression, or None.

    Covers comparisons of a column with a value of its kind (``=``, ``!=``, ``<``, ...),
    ``IN (...)``, ``BETWEEN``, ``IS [NOT] NULL``, ``AND``, ``OR``, ``NOT`` and parentheses,
    with SQL's handling of NULL. Anything else (functions, ``LIKE``, arithmetic, a text
    compared with a number) gives None, and the caller lets SQLite evaluate it.

    >>> str(pushdown("year >= ? AND species = 'Adelie'", (2008,), {"year": "INTEGER",
    ...     "species": "TEXT"}))
    '((year >= 2008) and (species == "Adelie"))'
    >>> pushdown("year + 1 > 2008", (), {"year": "INTEGER"}) is None
    True
    """
    if isinstance(params, dict):
        return None
    try:
        parser = _Parser(where, list(params), declared)
        expression = parser.expression()
        if parser.tokens or parser.params:
            raise _Unsupported("left over")
        return expression
    except _Unsupported:
        return None


class _Parser:
    def __init__(self, where: str, params: list, declared: dict[str, str]):
        self.tokens = self._tokenize(where)
        self.params = params
        self.columns = {}
        for name, sql_type in declared.items():  # SQLite's column names ignore case
            self.columns.setdefault(name.lower(), []).append((name, sql_type.upper()))

    @staticmethod
    def _tokenize(where: str) -> list[tuple[str, str]]:
        tokens, at = [], 0
        while at < len(where.rstrip()):
            match = TOKEN.match(where, at)
            if not match or match.end() == at:
                raise _Unsupported(where[at:])
            kind = match.lastgroup
            text = match[kind]
            if kind == "word" and text.upper() in KEYWORDS:
                kind, text = "keyword", text.upper()
            tokens.append((kind, text))
            at = match.end()
        return tokens

    def _peek(self, *wanted: str) -> bool:
        return bool(self.tokens) and self.tokens[0][1] in wanted

    def _take(self, *wanted: str) -> tuple[str, str]:
        if not self.tokens or (wanted and self.tokens[0][1] not in wanted):
            raise _Unsupported("unexpected")
        return self.tokens.pop(0)

    def expression(self):
        result = self._conjunction()
        while self._peek("OR"):
            self._take()
            result = result | self._conjunction()
        return result

    def _conjunction(self):
        result = self._negation()
        while self._peek("AND"):
            self._take()
            result = result & self._negation()
        return result

    def _negation(self):
        if self._peek("NOT"):
            self._take()
            return ~self._negation()
        if self._peek("("):
            self._take()
            inner = self.expression()
            self._take(")")
            return inner
        return self._predicate()

    def _column(self):
        import pyarrow.dataset as ds

        kind, text = self._take()
        if kind == "quoted":
            text = text[1:-1].replace('""', '"')
        elif kind != "word":
            raise _Unsupported(text)
        matches = self.columns.get(text.lower(), [])
        if len(matches) != 1:
            raise _Unsupported(text)
        name, sql_type = matches[0]
        return ds.field(name), sql_type

    def _value(self, sql_type: str):
        kind, text = self._take()
        negative = kind == "op" and text == "-"
        if negative:
            kind, text = self._take()
            if kind != "number":
                raise _Unsupported(text)
        if kind == "number":
            value = float(text) if re.search(r"[.eE]", text) else int(text)
            value = -value if negative else value
        elif kind == "string":
            value = text[1:-1].replace("''", "'")
        elif text == "?" and self.params:
            value = self.params.pop(0)
        else:
            raise _Unsupported(text)
        # Only a value of the column's kind: SQLite compares others by its own affinity rules.
        number = isinstance(value, int | float) and not isinstance(value, bool)
        fits = {
            "INTEGER": number and isinstance(value, int) and -(2**63) <= value < 2**63,
            # An integer past 2**53 against a REAL: SQLite compares exactly, Arrow as a double.
            "REAL": number and (isinstance(value, float) or abs(value) <= 2**53),
            "TEXT": isinstance(value, str),
        }
        if not fits[sql_type]:
            raise _Unsupported(repr(value))
        return value

    def _predicate(self):
        import pyarrow as pa
        import pyarrow.compute as pc

        column, sql_type = self._column()
        if self._peek("IS"):
            self._take()
            negated = self._peek("NOT") and bool(self._take())
            self._take("NULL")
            return column.is_valid() if negated else column.is_null()
        negated = self._peek("NOT") and bool(self._take())
        if self._peek("IN"):
            self._take()
            self._take("(")
            values = [self._value(sql_type)]
            while self._peek(","):
                self._take()
                values.append(self._value(sql_type))
            self._take(")")
            # SQL: NULL IN (...) is NULL, not false, so that NOT IN leaves NULLs out too.
            found = pc.if_else(column.is_null(), pa.scalar(None, pa.bool_()), column.isin(values))
            return ~found if negated else found
        if self._peek("BETWEEN"):
            self._take()
            low = self._value(sql_type)
            self._take("AND")
            high = self._value(sql_type)
            inside = (column >= low) & (column <= high)
            return ~inside if negated else inside
        if negated:
            raise _Unsupported("NOT")
        _, operator = self._take("=", "==", "!=", "<>", "<", "<=", ">", ">=")
        value = self._value(sql_type)
        compare = {
            "=": column.__eq__,
            "==": column.__eq__,
            "!=": column.__ne__,
            "<>": column.__ne__,
            "<": column.__lt__,
            "<=": column.__le__,
            ">": column.__gt__,
            ">=": column.__ge__,
        }
        return compare[operator](value)
