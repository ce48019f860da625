"""The run: which files load into which tables, each table's transaction, and the summary.

One table per file, named from the file name (``Tweets 2015.csv.gz`` -> ``tweets_2015``);
a folder directly under ``data/raw/`` is one table of parts named after the folder.
Each table loads in one transaction into a staging table that replaces the old table
only when complete, with its manifest rows written in the same transaction: an error,
Ctrl-C or ``kill -9`` at any moment leaves every table as it was. Unchanged files
are skipped. A file that fails (whatever the reason: a bad line, a full disk, a bug)
fails alone, in one line of the summary; the other files still load.

>>> table_name("Tweets 2015.csv.gz"), table_name("2015-survey.tsv"), table_name("Ünïcode.csv")
('tweets_2015', 't_2015_survey', 'unicode')

Settings: ``[tool.<package>.etl]`` in pyproject.toml (defaults for every table) and
``[tool.<package>.etl.tables.<table>]`` (one table); see :class:`..settings.Etl`.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import sys
import time
import unicodedata
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

from .. import __version__, db, paths, provenance
from .. import settings as schema
from ..errors import ProjectError
from . import rawfiles
from .table import (
    LOAD_WAIT_MS,
    READERS,
    STAGING,
    EtlError,
    Group,
    Progress,
    TableLoader,
    TableReport,
    under_raw,
)

ETL_FORMAT = 2  # raise when a change of the loader must reload every table (2: dates)
ON_BAD_LINES = ("error", "skip")


# ---- what to load --------------------------------------------------------------------------------


def table_name(file_name: str) -> str:
    """The table a file or folder loads into: lower case, ASCII letters, digits and ``_``."""
    stem = rawfiles.split_name(file_name)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^0-9a-z]+", "_", ascii_stem.lower()).strip("_") or "table"
    if name[0].isdigit() or name.startswith("sqlite_"):
        name = "t_" + name
    return name


def is_data_file(path: Path, extensions: list[str], patterns: list[str] = ()) -> bool:
    _, data, compression = rawfiles.split_name(path.name)
    if any(fnmatch(under_raw(path), p) or fnmatch(path.name, p) for p in patterns):
        return True
    return (data in extensions) or (compression == ".zip" and not data)


def discover(
    raw_dir: Path, extensions: list[str], patterns: list[str] = ()
) -> tuple[list[Group], list[str]]:
    """Tables to load from ``raw_dir``, and an error message for each name collision."""
    found: dict[str, list[Group]] = {}
    for child in sorted(raw_dir.iterdir()) if raw_dir.is_dir() else []:
        if child.name.startswith("."):
            continue
        if child.is_dir():  # a symlink loop is no folder: it fails as a file, in one line
            parts = sorted(
                p
                for p in child.rglob("*")  # does not follow links to folders: no loop
                if not any(x.startswith(".") for x in p.relative_to(child).parts)
                and not p.is_dir()
                and is_data_file(p, extensions, patterns)
            )
            if parts:
                found.setdefault(table_name(child.name), []).append(
                    Group(table_name(child.name), parts, child)
                )
        elif is_data_file(child, extensions, patterns):
            found.setdefault(table_name(child.name), []).append(
                Group(table_name(child.name), [child], child)
            )
    groups, collisions = [], []
    for table, candidates in found.items():
        if len(candidates) == 1:
            groups.append(candidates[0])
        else:
            names = " and ".join(paths.relative(g.origin) for g in candidates)
            collisions.append(
                f"table {table}: {names} would both load into it: rename one of them "
                "(names differing only in case, punctuation or extension collide)"
            )
    return groups, collisions


def settings_for(table: str, defaults: schema.Etl | None = None) -> dict:
    """The table's settings (only those set): the etl defaults overlaid with its own table."""
    defaults = defaults or schema.read("etl", schema.Etl)
    own = schema.validate(defaults.tables.get(table, {}), schema.EtlTable, f"etl.tables.{table}")
    return {
        **defaults.model_dump(exclude_unset=True, exclude={"tables", "wait_seconds"}),
        **own.model_dump(exclude_unset=True),
    }


# ---- the run -------------------------------------------------------------------------------------


def run(
    names: list[str] | tuple[str, ...] = (),
    *,
    database: str | os.PathLike | None = None,
    force: bool = False,
    on_bad_lines: str = "error",
    prune: bool = False,
    quiet: bool = False,
) -> list[TableReport]:
    """Load the raw files into the database; returns one report per table (see :func:`summary`).

    ``names`` limits the run to those tables (or files/folders under ``data/raw``).
    A table fails alone: the others still load. Tables whose raw files are gone are
    reported as ``vanished``; ``prune=True`` drops them (and their manifest rows).
    """
    if on_bad_lines not in ON_BAD_LINES:
        raise EtlError(f"on_bad_lines={on_bad_lines!r}: use 'error' or 'skip'")
    defaults = schema.read("etl", schema.Etl)
    extensions = [e.lower() for e in defaults.extensions]
    groups, collisions = discover(paths.RAW_DIR, extensions, list(defaults.readers))
    reports = [
        TableReport(m.split(":")[0].removeprefix("table "), [], "failed", error=m)
        for m in collisions
    ]
    if names:
        wanted = {table_name(n) for n in names} | set(names)
        groups = [g for g in groups if g.table in wanted or paths.relative(g.origin) in wanted]
        reports = [r for r in reports if r.table in wanted]
        known = {g.table for g in groups} | {r.table for r in reports}
        missing = [n for n in names if n not in known and table_name(n) not in known]
        if missing:
            raise EtlError(
                f"no data file or folder in data/raw for {missing[0]!r}: `invoke etl` with no "
                "names loads everything"
            )
    target = Path(database) if database else paths.DATABASE
    if not groups and not reports and not (prune and target.is_file()):
        raise EtlError(
            f"no data files in {paths.relative(paths.RAW_DIR)}: put the raw CSV/TSV files there"
        )
    try:
        connection = db.connect(target, "write", wait_seconds=defaults.wait_seconds, dbapi=False)
    except db.DatabaseError as error:
        raise EtlError(str(error)) from None
    cursor = connection.cursor()
    progress = Progress(quiet)
    run = Run(cursor, target, defaults, force, on_bad_lines, progress)
    try:
        db.execute(cursor, f"DROP TABLE IF EXISTS {STAGING}")  # left by an older version, if any
        for group in groups:
            reports.append(run.load_group(group))
        if not names:
            reports.extend(run.vanished({g.table for g in groups}, prune))
    finally:
        cursor.close()
        connection.close()
    if prune and database is None:
        from .. import columnar

        columnar.prune()  # the columnar copies of the tables just dropped
    return reports


class Run:
    """One run's connection and options; :meth:`load_group` loads one table in one transaction."""

    def __init__(self, cursor, target: Path, defaults, force, on_bad_lines, progress):
        self.cursor, self.target, self.defaults = cursor, target, defaults
        self.force, self.on_bad_lines, self.progress = force, on_bad_lines, progress
        self.waits = Waits(target, defaults.wait_seconds)

    def load_group(self, group: Group) -> TableReport:
        started = time.perf_counter()
        report = TableReport(group.table, [paths.relative(p) for p in group.files])
        try:
            self._load(group, report)
        except KeyboardInterrupt:
            raise
        except ProjectError as error:
            report.status, report.error = "failed", str(error)
        except BaseException as error:  # anything else still fails this file alone, in one line
            report.status, report.error = "failed", self.explain(group, error)
        report.seconds = time.perf_counter() - started
        return report

    def _load(self, group: Group, report: TableReport) -> None:
        settings = settings_for(group.table, self.defaults)
        settings_json = json.dumps(settings, sort_keys=True)
        tool = f"{paths.PACKAGE}.etl {__version__} format {ETL_FORMAT}"
        stats = []
        for path in group.files:
            try:
                info = path.stat()
                stats.append((paths.relative(path), info.st_size, info.st_mtime_ns))
            except OSError:
                stats.append((paths.relative(path), None, None))
        if not self.force and db.table_exists(self.cursor, group.table):
            recorded = db.read_manifest(self.cursor, group.table).get(group.table)
            if (
                recorded is not None
                and [(s.path, s.size, s.mtime_ns) for s in recorded.sources] == stats
                and (recorded.settings, recorded.tool) == (settings_json, tool)
            ):
                report.status = "skipped"
                return
        began = datetime.now(UTC).isoformat(timespec="seconds")
        self.begin()
        try:
            loader = TableLoader(
                self.cursor, group, settings, self.on_bad_lines, self.progress, self.waits
            )
            loader.load()
            loader.finish(group.table)
            report.hints = [
                f"{group.table}: column {c.name!r} holds numbers but also {c.hint()}, "
                "so it loaded as TEXT; "
                f"to read them as NULL add null_markers = {json.dumps(sorted(c.missing_words))} "
                f"under [tool.{paths.PACKAGE}.etl.tables.{group.table}] in pyproject.toml"
                for c in loader.columns
                if c.hint()
            ]
            report.hints += loader.notes
            db.write_manifest(
                self.cursor,
                db.TableManifest(
                    table=group.table,
                    sources=[
                        db.SourceFile(rel, number, size, mtime, p.sha256, p.rows, p.rejected)
                        for number, (p, (rel, size, mtime)) in enumerate(
                            zip(loader.parts, stats, strict=True)
                        )
                    ],
                    columns=[
                        db.ColumnInfo(c.name, c.source, c.sql_type, c.logical)
                        for c in loader.columns
                    ],
                    settings=settings_json,
                    notes={"hints": report.hints, "on_bad_lines": self.on_bad_lines},
                    started=began,
                    finished=datetime.now(UTC).isoformat(timespec="seconds"),
                    tool=tool,
                ),
            )
            rejects_file = write_rejects(group.table, loader.rejects)
            self.commit()
        except BaseException:
            try:
                db.execute(self.cursor, "ROLLBACK")
            except Exception:  # nothing to roll back (the failure ended the transaction)
                pass
            raise
        if rejects_file:
            final = rejects_file.with_suffix("")
            rejects_file.replace(final)
            report.rejects_file = final
        else:
            (paths.PROCESSED_DIR / "rejects" / f"{group.table}.csv").unlink(missing_ok=True)
        for part in loader.parts:
            provenance.note_input(part.path, sha256=part.sha256, table=group.table)
        report.rows = sum(p.rows for p in loader.parts)
        report.rejected = sum(p.rejected for p in loader.parts)
        report.columns = [(c.name, c.sql_type) for c in loader.columns]

    # A writer takes the write lock at BEGIN (waiting for another writer) and an exclusive
    # lock at COMMIT (waiting for readers in the middle of a query). Each wait is first tried
    # short; a longer one is announced, and bounded by wait_seconds.
    def begin(self) -> None:
        self._wait("BEGIN IMMEDIATE", "another process writing it (another `invoke etl`?)")

    def commit(self) -> None:
        self._wait("COMMIT", READERS)

    def _wait(self, statement: str, holder: str) -> None:
        wait = self.waits.seconds
        db.execute(self.cursor, f"PRAGMA busy_timeout = {min(200, int(wait * 1000))}")
        try:
            db.execute(self.cursor, statement)
            db.execute(self.cursor, f"PRAGMA busy_timeout = {LOAD_WAIT_MS}")
            return
        except Exception as error:
            if not busy(error):
                raise
            if wait <= 0.2:
                raise self.waits.locked(holder) from None
        db.execute(self.cursor, f"PRAGMA busy_timeout = {int(wait * 1000)}")
        self.waits.announce(holder)
        try:
            db.execute(self.cursor, statement)
        except Exception as error:
            if busy(error):
                raise self.waits.locked(holder) from None
            raise
        finally:  # while a table loads, see table.Writer
            db.execute(self.cursor, f"PRAGMA busy_timeout = {LOAD_WAIT_MS}")

    def explain(self, group: Group, error: BaseException) -> str:
        """One line for an exception that escaped a table's load: what, where, what to do."""
        origin = paths.relative(group.origin)
        message = db.sqlite_message(error)
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            message = error.strerror or message
        if any(w in message.lower() for w in ("disk is full", "no space left", "file too large")):
            return (
                f"{origin}: the disk holding {paths.relative(self.target)} is full ({message}); "
                "nothing of this file was loaded: free space (a load needs about the table's "
                "size again, and room in the temporary folder for indexes), then run again"
            )
        if "disk i/o error" in message.lower():  # EFBIG (a file size limit) ends here too
            return (
                f"{origin}: writing {paths.relative(self.target)} failed ({message}): is its "
                "disk full, or the file over a size limit (ulimit -f)? nothing of this file "
                "was loaded: free space, then run again"
            )
        if busy(error):
            return str(self.waits.locked("another process"))
        if isinstance(error, MemoryError):
            return (
                f"{origin}: out of memory while loading it; nothing of it was loaded: lower "
                f"max_line_mb under [tool.{paths.PACKAGE}.etl.tables.{group.table}], or close "
                "other programs"
            )
        return (
            f"{origin}: the load failed with {type(error).__name__}: {message}; nothing of it "
            "was loaded: this is a bug of the ETL (or of your reader): please report it with "
            "the file's first lines"
        )

    def vanished(self, present: set[str], prune: bool) -> list[TableReport]:
        """Tables loaded from raw files that are all gone; dropped when ``prune``."""
        reports = []
        for table, entry in sorted(db.read_manifest(self.cursor).items()):
            if table in present or any(
                paths.find_root().joinpath(s.path).exists() for s in entry.sources
            ):
                continue
            report = TableReport(table, [s.path for s in entry.sources], "vanished")
            if prune:
                self.begin()
                try:
                    db.execute(self.cursor, f"DROP TABLE IF EXISTS {db.quote(table)}")
                    db.drop_manifest(self.cursor, table)
                    self.commit()
                except BaseException:
                    db.execute(self.cursor, "ROLLBACK")
                    raise
                (paths.PROCESSED_DIR / "rejects" / f"{table}.csv").unlink(missing_ok=True)
                report.status = "pruned"
            reports.append(report)
        return reports


class Waits:
    """The ETL's waits for other users of the database: each said once, bounded, one line."""

    def __init__(self, target: Path, seconds: float):
        self.target, self.seconds = target, seconds
        self.said: set[str] = set()

    def announce(self, holder: str) -> None:
        if holder not in self.said:
            self.said.add(holder)
            print(
                f"waiting up to {self.seconds:g} s for {holder} to finish with "
                f"{paths.relative(self.target)}",
                file=sys.stderr,
                flush=True,
            )

    def locked(self, holder: str) -> EtlError:
        return EtlError(
            f"the database {paths.relative(self.target)} is busy: {holder} held it for longer "
            f"than wait_seconds = {self.seconds:g}: let it finish (or close it), then run "
            f"again; wait_seconds under [tool.{paths.PACKAGE}.etl] sets the wait"
        )


def busy(error: BaseException) -> bool:
    """Whether SQLite gave up waiting for a lock."""
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text or "sqlite_busy" in text


def write_rejects(table: str, rejects: list[tuple[str, int, str, str]]) -> Path | None:
    """Write rejected lines next to the database (as ``.csv.new`` until the load commits)."""
    if not rejects:
        return None
    folder = paths.PROCESSED_DIR / "rejects"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv.new"
    with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "reason", "text"])
        writer.writerows(rejects)
    return path


def summary(reports: list[TableReport], database: str | os.PathLike | None = None) -> str:
    """The run's outcome in a few lines: one per table, then notes and the failures' count."""
    lines = []
    for r in sorted(reports, key=lambda r: r.table):
        sources = ", ".join(r.sources[:2]) + (
            f" and {len(r.sources) - 2} more" if len(r.sources) > 2 else ""
        )
        if r.status == "skipped":
            lines.append(f"{r.table}: unchanged, skipped (force=True reloads it)")
        elif r.status == "failed":
            lines.append(f"{r.table}: FAILED, nothing loaded: {r.error}")
        elif r.status == "vanished":
            lines.append(
                f"{r.table}: its raw files are gone ({sources}); the table stays: "
                "prune=True drops it"
            )
        elif r.status == "pruned":
            lines.append(f"{r.table}: its raw files are gone ({sources}): dropped")
        else:
            rejected = (
                f", {r.rejected} lines rejected (see {paths.relative(r.rejects_file)})"
                if r.rejected
                else ""
            )
            lines.append(
                f"{r.table}: {r.rows:,} rows, {len(r.columns)} columns from {sources}{rejected} "
                f"in {r.seconds:.1f} s"
            )
    for r in reports:
        lines.extend(f"note: {hint}" for hint in r.hints)
    failed = [r for r in reports if r.status == "failed"]
    target = paths.relative(Path(database)) if database else paths.relative(paths.DATABASE)
    if failed:
        lines.append(f"{len(failed)} of {len(reports)} tables failed; the others are in {target}")
    else:
        lines.append(f"database: {target}")
    return "\n".join(lines)
