"""Step 0: every raw data file under ``data/raw/`` into one SQLite database, typed and exact.

One table per file, named from the file name (``Tweets 2015.csv.gz`` -> ``tweets_2015``);
a folder directly under ``data/raw/`` is one table of parts named after the folder.
Each table loads in one transaction into a staging table that replaces the old table
only when complete, with its manifest rows written in the same transaction: an error,
Ctrl-C or ``kill -9`` at any moment leaves every table as it was. Unchanged files
are skipped.

>>> table_name("Tweets 2015.csv.gz"), table_name("2015-survey.tsv"), table_name("Ünïcode.csv")
('tweets_2015', 't_2015_survey', 'unicode')

Settings: ``[tool.<package>.etl]`` in pyproject.toml (defaults for every table) and
``[tool.<package>.etl.tables.<table>]`` (one table); see :data:`SETTINGS`.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

from . import __version__, paths, provenance, rawfiles
from .errors import ProjectError
from .loader import (
    MANIFEST,
    STAGING,
    EtlError,
    Progress,
    TableLoader,
    TableReport,
    connect,
    execute,
    manifest_rows,
    table_exists,
    under_raw,
)

ETL_FORMAT = 1  # raise when a change of the loader must reload every table
DATA_EXTENSIONS = [".csv", ".tsv", ".tab", ".psv", ".jsonl", ".ndjson", ".json", ".xml"]
SETTINGS = {
    "delimiter": "field separator (default: from the extension, checked against the header)",
    "encoding": "text encoding (default utf-8; a UTF-8 or UTF-16 BOM is recognised)",
    "quote": 'quote character (default ")',
    "header": "whether the first line names the columns (default true)",
    "columns": "column names to use (replace the header's, or name the columns if header = false)",
    "null_markers": 'field values that mean NULL besides the empty field, e.g. ["NA"]',
    "empty_is_null": "whether an empty field is NULL (default true); false keeps it as ''",
    "types": 'column types that override inference, e.g. {zip = "TEXT"}',
    "index": 'columns to index after the load, e.g. ["species", ["island", "year"]]',
    "skip_rows": "lines to skip before the header (default 0)",
    "extensions": "file types loaded (default: .csv .tsv .tab .psv .jsonl .ndjson .json .xml)",
    "format": "csv, jsonl or xml (default: from the extension)",
    "element": "the repeated element of an XML row dump (default row)",
    "flatten": "JSON: nested objects one level deep become columns: user.id -> user_id",
    "reader": "your own reader for the table's files, 'module:function' (see formats.py)",
    "readers": 'file patterns mapped to your readers: {"memetracker/*" = "pkg.readers:quotes"}',
}
TABLE_ONLY = {"columns", "types", "index"}
GLOBAL_ONLY = {"extensions", "readers"}


# ---- what to load --------------------------------------------------------------------------------


def table_name(file_name: str) -> str:
    """The table a file or folder loads into: lower case, ASCII letters, digits and ``_``."""
    stem = rawfiles.split_name(file_name)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^0-9a-z]+", "_", ascii_stem.lower()).strip("_") or "table"
    if name[0].isdigit() or name.startswith("sqlite_"):
        name = "t_" + name
    return name


@dataclass
class Group:
    """The files that load into one table (one file, or the parts of a folder)."""

    table: str
    files: list[Path]
    origin: Path  # the file or folder under data/raw


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
        if child.is_dir():
            parts = sorted(
                p
                for p in child.rglob("*")
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


def settings_for(table: str) -> dict:
    """The table's settings: the etl defaults overlaid with its own table."""
    config = paths.config().get("etl", {})
    tables = config.get("tables", {})
    defaults = {k: v for k, v in config.items() if k != "tables"}
    prefix = f"tool.{paths.PACKAGE}.etl"
    for where, values in [
        (prefix, defaults),
        *((f"{prefix}.tables.{t}", v) for t, v in tables.items()),
    ]:
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise EtlError(
                f"unknown ETL setting {sorted(unknown)[0]!r} in [{where}] of pyproject.toml: "
                f"use one of {', '.join(sorted(SETTINGS))}"
            )
    global_only = next((k for t in tables.values() for k in t if k in GLOBAL_ONLY), None)
    if global_only:
        raise EtlError(f"setting {global_only!r} applies to every table: move it to [{prefix}]")
    misplaced = TABLE_ONLY & set(defaults)
    if misplaced:
        raise EtlError(
            f"setting {sorted(misplaced)[0]!r} belongs to one table: move it to "
            f"[tool.{paths.PACKAGE}.etl.tables.<table>]"
        )
    own = tables.get(table, {})
    settings = {**defaults, **own}
    for key, value in settings.items():
        problem = value_problem(key, value)
        if problem:
            where = f"{prefix}.tables.{table}" if key in own else prefix
            raise EtlError(
                f"table {table}: {key} = {value!r} in [{where}] of pyproject.toml {problem}"
            )
    return settings


LISTS = {"null_markers", "columns", "extensions"}
SWITCHES = {"header", "empty_is_null", "flatten"}


def value_problem(key: str, value) -> str | None:
    """What is wrong with one setting's value, and the fix; None when it is right."""
    if key in ("delimiter", "quote") and not (isinstance(value, str) and len(value) == 1):
        example = {"delimiter": '";"', "quote": '"\'"'}[key]
        return f"is not one character: write one, e.g. {key} = {example}"
    if key == "encoding":
        try:
            codecs.lookup(value)
        except (LookupError, TypeError):
            return 'is not a known encoding: use a Python codec name such as "utf-8" or "latin-1"'
    if key in LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        example = {"null_markers": '["NA"]', "columns": '["a", "b"]', "extensions": '[".csv"]'}
        return f"is not a list of strings: write it in brackets, e.g. {key} = {example[key]}"
    if key == "index" and not (
        isinstance(value, list)
        and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(c, str) for c in v))
            for v in value
        )
    ):
        return 'is not a list of column names or lists of them: e.g. index = ["a", ["b", "c"]]'
    if key in SWITCHES and not isinstance(value, bool):
        return f"is not true or false: write {key} = true or {key} = false"
    if key == "skip_rows" and not (type(value) is int and value >= 0):
        return "is not a whole number of lines: e.g. skip_rows = 1"
    return None


# ---- the run -------------------------------------------------------------------------------------


def run(
    names: list[str] | tuple[str, ...] = (),
    *,
    database: str | os.PathLike | None = None,
    force: bool = False,
    on_bad_lines: str = "error",
    quiet: bool = False,
) -> list[TableReport]:
    """Load the raw files into the database; returns one report per table (see :func:`summary`).

    ``names`` limits the run to those tables (or files/folders under ``data/raw``).
    A table fails alone: the others still load.
    """
    if on_bad_lines not in ("error", "skip"):
        raise EtlError(f"--on-bad-lines {on_bad_lines!r}: use error or skip")
    config = paths.config().get("etl", {})
    problem = value_problem("extensions", config.get("extensions", DATA_EXTENSIONS))
    if problem:
        raise EtlError(
            f"extensions = {config['extensions']!r} in [tool.{paths.PACKAGE}.etl] of "
            f"pyproject.toml {problem}"
        )
    extensions = [e.lower() for e in config.get("extensions", DATA_EXTENSIONS)]
    groups, collisions = discover(paths.RAW_DIR, extensions, list(config.get("readers", {})))
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
    if not groups and not reports:
        raise EtlError(
            f"no data files in {paths.relative(paths.RAW_DIR)}: put the raw CSV/TSV files there"
        )
    target = Path(database) if database else paths.DATABASE
    connection, cursor = connect(target)
    progress = Progress(quiet)
    try:
        execute(cursor, f"DROP TABLE IF EXISTS {STAGING}")  # left by an older tool version, if any
        for group in groups:
            reports.append(load_group(cursor, group, force, on_bad_lines, progress))
    finally:
        cursor.close()
        connection.close()
    return reports


def load_group(cursor, group: Group, force: bool, on_bad_lines: str, progress) -> TableReport:
    started = time.perf_counter()
    report = TableReport(group.table, [paths.relative(p) for p in group.files])
    try:
        settings = settings_for(group.table)
    except EtlError as error:
        report.status, report.error = "failed", str(error)
        return report
    settings_json = json.dumps(settings, sort_keys=True)
    tool = f"{paths.PACKAGE}.etl {__version__} format {ETL_FORMAT}"
    stats = []
    for path in group.files:
        try:
            info = path.stat()
            stats.append((paths.relative(path), info.st_size, info.st_mtime_ns))
        except OSError:
            stats.append((paths.relative(path), None, None))
    if not force and table_exists(cursor, group.table):
        recorded = manifest_rows(cursor, group.table)
        if [(p, s, m) for p, s, m, _, _ in recorded] == stats and all(
            r[3] == settings_json and r[4] == tool for r in recorded
        ):
            report.status = "skipped"
            return report
    began = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        execute(cursor, "BEGIN IMMEDIATE")
    except Exception as error:  # another process holds the write lock past the busy timeout
        if "locked" not in str(error):
            raise
        raise EtlError(
            "the database is locked by another process (another `invoke etl`, or a notebook "
            "writing to it): wait for it to finish, then run again"
        ) from None
    try:
        loader = TableLoader(cursor, group, settings, on_bad_lines, progress)
        loader.load()
        loader.finish(group.table)
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        columns = [{"name": c.name, "header": c.source, "type": c.sql_type} for c in loader.columns]
        report.hints = [
            f"{group.table}: column {c.name!r} holds numbers but also {c.hint()}, "
            "so it loaded as TEXT; "
            f"to read them as NULL add null_markers = {json.dumps(sorted(c.missing_words))} under "
            f"[tool.{paths.PACKAGE}.etl.tables.{group.table}] in pyproject.toml"
            for c in loader.columns
            if c.hint()
        ]
        report.hints += loader.notes
        notes = json.dumps({"hints": report.hints, "on_bad_lines": on_bad_lines})
        execute(
            cursor,
            f"DELETE FROM {MANIFEST} WHERE table_name = ? "
            f"OR path IN ({','.join('?' * len(stats))})",
            (group.table, *[s[0] for s in stats]),
        )
        for number, (part, (rel, size, mtime)) in enumerate(zip(loader.parts, stats, strict=True)):
            execute(
                cursor,
                f"INSERT INTO {MANIFEST} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rel,
                    group.table,
                    number,
                    size,
                    mtime,
                    part.sha256,
                    part.rows,
                    part.rejected,
                    json.dumps(columns),
                    settings_json,
                    notes,
                    began,
                    finished,
                    tool,
                ),
            )
        rejects_file = write_rejects(group.table, loader.rejects)
        execute(cursor, "COMMIT")
    except BaseException as error:
        execute(cursor, "ROLLBACK")
        if isinstance(error, (ProjectError)):
            report.status, report.error = "failed", str(error)
            report.seconds = time.perf_counter() - started
            return report
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
    report.seconds = time.perf_counter() - started
    return report


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
    """The run's outcome in a few lines: one per table, then hints and the failures' count."""
    lines = []
    for r in sorted(reports, key=lambda r: r.table):
        sources = ", ".join(r.sources[:2]) + (
            f" and {len(r.sources) - 2} more" if len(r.sources) > 2 else ""
        )
        if r.status == "skipped":
            lines.append(f"{r.table}: unchanged, skipped (--force reloads it)")
        elif r.status == "failed":
            lines.append(f"{r.table}: FAILED, nothing loaded: {r.error}")
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
