"""The table of runs, and choosing the runs that belong together.

:func:`runs` reads the JSON records alone (never a payload) and selects by script
version, sweep, state of the code, time, status and argument values::

    results.runs("kmeans", script="current", sweep="latest")   # the example figure's runs
    results.runs("kmeans", where={"k": 4}, clean=True, since="7d")

A record that is not what the store wrote (hand-edited, truncated, wrong types) is
a row with status ``damaged`` and a ``problem`` naming its file; it never stops the
listing of the others.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .. import paths, provenance
from .codecs import FORMATS
from .store import (
    RECORD_SUFFIX,
    TEMP_FOLDER,
    ResultsError,
    alive,
    folder_of,
    list_numbers,
    read_record,
    temp_files,
    temp_writer,
)

# Columns of runs() that come from the record itself; an argument or scalar result of the
# same name gets an "arg." or "result." prefix.
RUN_COLUMNS = [
    "number",
    "started",
    "duration",
    "host",
    "status",
    "script",
    "script_hash",
    "script_sha256",
    "sweep",
    "sweep_run",
    "git_commit",
    "git_dirty",
    "script_git",
    "format",
    "problem",
]
Status = Literal[
    "complete", "running", "crashed", "running or crashed", "failed", "damaged", "no record"
]
STATUSES = Status.__args__
DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw])")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
HASH_PREFIX = re.compile(r"[0-9a-f]{4,64}")


# ---- what a record must hold ----------------------------------------------------------------


@cache
def _record_model():
    """The complete record as the store writes it (the keys the table reads). Built on first
    use: a script that only saves does not import pydantic."""
    from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt

    class Git(BaseModel):
        model_config = ConfigDict(extra="allow")
        commit: str | None = None
        dirty: StrictBool | None = None
        script: str | None = None

    class Record(BaseModel):
        model_config = ConfigDict(extra="allow")
        number: StrictInt
        status: Literal["complete"]
        started: datetime
        format: Literal[tuple(FORMATS)]  # type: ignore[valid-type]
        payload: dict[str, Any]
        duration: float | None = None
        host: str | None = None
        script: str | None = None
        script_hash: str | None = None
        script_sha256: str | None = None
        sweep: str | None = None
        sweep_run: StrictInt | None = None
        git: Git | None = None
        args: dict[str, Any] = {}
        scalars: dict[str, Any] = {}

    return Record


def _problem(error) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "the record"
    if first["type"] == "missing":
        return f"{where!r} is missing"
    shown = json.dumps(first.get("input"), default=str)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{where!r} is {shown}: {first['msg'].lower()}"


def check_record(found: Any, number: int) -> str | None:
    """Why ``found`` is not a complete record of run ``number`` the store wrote, or None."""
    if not isinstance(found, dict):
        return "not a JSON object"
    from pydantic import ValidationError

    try:
        valid = _record_model().model_validate(found)
    except ValidationError as error:
        return _problem(error)
    if valid.number != number:
        return f"'number' is {valid.number}, not the file's {number}"
    return None


# ---- listing --------------------------------------------------------------------------------


def _row(found: dict, status: str) -> dict:
    git = found.get("git") if isinstance(found.get("git"), dict) else {}
    row = {
        "number": found["number"],
        "started": found.get("started"),
        "duration": found.get("duration"),
        "host": found.get("host"),
        "status": status,
        "script": found.get("script"),
        "script_hash": found.get("script_hash"),
        "script_sha256": found.get("script_sha256"),
        "sweep": found.get("sweep"),
        "sweep_run": found.get("sweep_run"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "script_git": git.get("script"),
        "format": found.get("format"),
        "problem": found.get("problem"),
    }
    arguments = found.get("args") if isinstance(found.get("args"), dict) else {}
    for name, value in arguments.items():
        row[f"arg.{name}" if name in RUN_COLUMNS else name] = value
    scalars = found.get("scalars") if isinstance(found.get("scalars"), dict) else {}
    for name, value in scalars.items():
        if name in arguments and arguments[name] == value:
            continue  # the script saved its own argument back
        row[f"result.{name}" if name in RUN_COLUMNS or name in arguments else name] = value
    return row


def _unfinished(found: dict) -> str:
    state = alive(found.get("host"), found.get("pid"))
    return {True: "running", False: "crashed", None: "running or crashed"}[state]


def listing(experiment: str, complete_only: bool = True) -> list[dict]:
    """One row per numbered run of ``experiment``, oldest first (see :func:`runs`)."""
    folder = folder_of(experiment)
    rows = []
    for number, names in sorted(list_numbers(folder, experiment).items()):
        path = folder / f"{experiment}.{number}{RECORD_SUFFIX}"
        found = read_record(path) if path.name in names else None
        status = found.get("status") if found is not None else None
        if complete_only and status != "complete":
            continue
        if status == "complete":
            problem = check_record(found, number)
            if problem is None:
                rows.append(_row(found, "complete"))
                continue
            found = {"number": number, "problem": f"{paths.relative(path)}: {problem}"}
            status = "damaged"
        elif path.name not in names:
            found, status = (
                {"number": number, "problem": f"files without a record: {sorted(names)}"},
                "no record",
            )
        elif found is None:
            found = {"number": number, "problem": f"{paths.relative(path)}: empty or not JSON"}
            status = "damaged"
        elif status == "running":
            status = _unfinished(found)
        elif status != "failed":
            found = {"number": number, "problem": f"{paths.relative(path)}: 'status' is {status!r}"}
            status = "damaged"
        else:
            found = {**found, "problem": found.get("error")}
        if not isinstance(found.get("number"), int) or found["number"] != number:
            found = {**found, "number": number}
        rows.append({**_row(found, status), "_files": sorted(names)})
    return rows


def _frame(rows: list[dict]):
    import pandas as pd

    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    table["started"] = pd.to_datetime(table["started"], format="ISO8601", utc=True, errors="coerce")
    return table


# ---- selection ------------------------------------------------------------------------------


def parse_since(since: Any, now: float | None = None):
    """``since`` as a UTC time: a date or time (``"2026-11-30"``, a datetime) or a duration back
    from now (``"3d"``, ``"12h"``, ``"30m"``, ``"2w"``); local time when no zone is given."""
    import pandas as pd

    text = str(since).strip()
    match = DURATION.fullmatch(text)
    if match:
        seconds = float(match[1]) * SECONDS[match[2]]
        return pd.Timestamp((now or time.time()) - seconds, unit="s", tz="UTC")
    try:
        moment = pd.Timestamp(since)
    except (ValueError, TypeError):
        moment = pd.NaT
    if moment is pd.NaT:
        raise ResultsError(
            f"since={since!r} is not a time: give a date or time ('2026-11-30', "
            "'2026-11-30 14:00') or how long ago ('3d', '12h', '30m', '2w')"
        )
    if moment.tzinfo is None:
        moment = moment.tz_localize(datetime.now().astimezone().tzinfo)
    return moment.tz_convert("UTC")


def parse_where(texts: Iterable[str]) -> dict[str, list]:
    """``["k=4", "solver=lloyd", "k=5"]`` as ``{"k": [4, 5], "solver": ["lloyd"]}``: values as
    JSON where they parse (numbers, true/false, null), else as text."""
    found: dict[str, list] = {}
    for text in texts:
        name, equals, value = str(text).partition("=")
        if not equals or not name.strip():
            raise ResultsError(f"where {text!r} is not NAME=VALUE: e.g. 'k=4'")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        found.setdefault(name.strip(), []).append(
            value if isinstance(parsed, dict | list) else parsed
        )
    return found


def _column(table, name: str, experiment: str) -> str:
    for candidate in (name, f"arg.{name}", f"result.{name}"):
        if candidate in table.columns:
            return candidate
    known = ", ".join(c for c in table.columns if not c.startswith("_")) or "none"
    raise ResultsError(
        f"where names {name!r}, but runs of {experiment!r} have no column {name!r} "
        f"(columns: {known})"
    )


def _matches(value, wanted: list) -> bool:
    for one in wanted:
        if value == one or (isinstance(one, str) and str(value) == one):
            return True
    return False


def _current_hashes(scripts: Iterable[str]) -> dict[str, str | None]:
    """Each script path -> the hash of its code as it is now (None if gone)."""
    found = {}
    for script in scripts:
        try:
            found[script] = provenance.script_hash(script)
        except OSError:
            found[script] = None
    return found


def _by_script(table, script: str, criteria: dict):
    if script in ("current", "old"):
        hashes = _current_hashes(s for s in table["script"].dropna().unique())
        criteria["script_hash"] = {paths.relative(s): h for s, h in hashes.items() if h}
        now = table["script"].map(hashes)
        current = table["script_hash"].notna() & (table["script_hash"] == now)
        return current if script == "current" else ~current
    text = str(script)
    if HASH_PREFIX.fullmatch(text) and not text.endswith(".py"):
        return table["script_hash"].fillna("").str.startswith(text) | table["script_sha256"].fillna(
            ""
        ).str.startswith(text)
    path = Path(text)
    path = path if path.is_absolute() else paths.find_root() / path
    if not path.is_file():
        raise ResultsError(
            f"script={script!r}: give 'current' (each run's script as it is now), 'old', a hash "
            "prefix (4+ hex digits, as `invoke results` shows) or a script's path"
        )
    criteria["script_hash"] = provenance.script_hash(path)
    return table["script_hash"] == criteria["script_hash"]


def _by_sweep(table, sweep: str, criteria: dict):
    swept = table[table["sweep"].notna()] if "sweep" in table else table.iloc[0:0]
    if sweep == "latest":
        if swept.empty:
            criteria["sweep"] = None
            return table["number"] != table["number"]
        chosen = swept.sort_values(["started", "number"])["sweep"].iloc[-1]
    else:
        ids = sorted({s for s in swept["sweep"] if str(s).startswith(str(sweep))})
        if len(ids) > 1:
            raise ResultsError(
                f"sweep={sweep!r} matches {len(ids)} sweeps ({', '.join(ids)}): give more of its id"
            )
        chosen = ids[0] if ids else str(sweep)
    criteria["sweep"] = chosen
    return table["sweep"] == chosen


def select(
    table,
    experiment: str,
    *,
    script: str | None = None,
    sweep: str | None = None,
    clean: bool | None = None,
    since: Any = None,
    status: str | Iterable[str] = "complete",
    where: Mapping | None = None,
):
    """The rows of ``table`` (:func:`runs` without selection) that match; ``(rows, criteria)``."""
    criteria: dict[str, Any] = {}
    keep = table["number"] == table["number"]
    wanted = [status] if isinstance(status, str) else list(status)
    unknown = [s for s in wanted if s not in (*STATUSES, "all", "incomplete")]
    if unknown:
        raise ResultsError(
            f"status={unknown[0]!r}: use one of {', '.join(STATUSES)}, 'incomplete' or 'all'"
        )
    if "all" not in wanted:
        chosen = set(wanted) | (set(STATUSES) - {"complete"} if "incomplete" in wanted else set())
        keep &= table["status"].isin(chosen)
    if wanted != ["complete"]:
        criteria["status"] = status
    if script is not None:
        criteria["script"] = script
        keep &= _by_script(table, script, criteria).fillna(False).astype(bool)
    if clean is not None:
        criteria["clean"] = bool(clean)
        tidy = (table["git_dirty"] == False) & (table["script_git"] == "committed")  # noqa: E712
        keep &= tidy if clean else ~tidy
    if since is not None:
        moment = parse_since(since)
        criteria["since"] = moment.isoformat()
        keep &= table["started"] >= moment
    for name, values in (where or {}).items():
        column = _column(table, name, experiment)
        values = list(values) if isinstance(values, list | tuple | set | frozenset) else [values]
        criteria.setdefault("where", {})[name] = values
        keep &= table[column].map(lambda v, values=values: _matches(v, values)).astype(bool)
    if sweep is not None:  # last: "latest" is the latest sweep among the runs chosen so far
        keep &= _by_sweep(table[keep], sweep, criteria).reindex(table.index, fill_value=False)
    return table[keep], criteria


def runs(
    experiment: str,
    *,
    script: str | None = None,
    sweep: str | None = None,
    clean: bool | None = None,
    since: Any = None,
    status: str | Iterable[str] = "complete",
    where: Mapping | None = None,
):
    """A DataFrame with one row per run of ``experiment``, oldest first, chosen by:

    - ``script``: ``"current"`` (runs of each script as its code is now: a hash of its
      syntax tree, so comments and formatting do not count), ``"old"`` (the others), a
      hash prefix as ``invoke results`` shows it, or a script's path;
    - ``sweep``: ``"latest"`` (the latest sweep among the runs the other criteria
      choose) or a sweep id (or the start of one);
    - ``clean``: True for runs of a committed, unchanged script in a clean tree;
      False for the others;
    - ``since``: a date or time (local unless it names a zone) or ``"3d"``, ``"12h"``;
    - ``status``: ``"complete"`` (the default), ``"failed"``, ``"crashed"``,
      ``"running"``, ``"damaged"``, ``"incomplete"`` (all but complete) or ``"all"``;
    - ``where``: argument or result values, ``{"k": 4}`` or ``{"k": [4, 5]}``.

    Columns: ``number``, ``status``, ``started``, ``duration`` (seconds), ``host``,
    ``script``, ``script_hash``, ``script_sha256``, ``sweep``, ``sweep_run`` (the
    run's index in its sweep), ``git_commit``, ``git_dirty`` (the tree had changes),
    ``script_git`` (the script itself: ``committed``, ``modified``, ``untracked``...),
    ``format``, ``problem`` (why a run is damaged or failed), then every argument and
    every scalar result (prefixed ``arg.``/``result.`` where names clash). Read from
    the JSON records alone; an experiment without runs gives an empty table.
    """
    folder = folder_of(experiment)
    rows = listing(experiment, status == "complete") if folder.is_dir() else []
    table = _frame(rows)
    table = table.drop(columns=[c for c in table.columns if c == "_files"])
    if table.empty:
        return table
    chosen, criteria = select(
        table,
        experiment,
        script=script,
        sweep=sweep,
        clean=clean,
        since=since,
        status=status,
        where=where,
    )
    # Arguments and results that none of the chosen runs has are left out.
    present = set(RUN_COLUMNS).union(*(rows[i] for i in chosen.index))
    chosen = chosen[[c for c in table.columns if c in present]]
    provenance.note_selection(experiment, criteria, [int(n) for n in chosen["number"]])
    return chosen.reset_index(drop=True)


def incomplete(experiment: str):
    """A DataFrame of what is not a complete run: crashed, failed, damaged or still running.

    Columns: ``number`` (none for a payload whose write never finished), ``status``
    (``running``, ``crashed``, ``running or crashed`` when on another host,
    ``failed``, ``no record``, ``damaged``, ``unfinished write``, ``writing``),
    ``host``, ``pid``, ``started``, ``files``, ``error`` (why, naming the file).
    """
    import pandas as pd

    columns = ["number", "status", "host", "pid", "started", "files", "error"]
    folder = folder_of(experiment)
    if not folder.is_dir():
        return pd.DataFrame(columns=columns)
    rows = []
    for row in listing(experiment, complete_only=False):
        if row["status"] == "complete":
            continue
        found = read_record(folder / f"{experiment}.{row['number']}{RECORD_SUFFIX}") or {}
        rows.append(
            {
                "number": row["number"],
                "status": row["status"],
                "host": found.get("host"),
                "pid": found.get("pid"),
                "started": found.get("started"),
                "files": row["_files"],
                "error": row["problem"],
            }
        )
    for path in temp_files(folder):
        if path.suffix == ".last":
            continue
        pid, host = temp_writer(path)
        rows.append(
            {
                "number": None,
                "status": "writing" if alive(host, pid) is True else "unfinished write",
                "host": host,
                "pid": pid,
                "started": provenance.timestamp(path.stat().st_mtime),
                "files": [f"{TEMP_FOLDER}/{path.name}"],
                "error": None,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def number_ranges(numbers: Iterable[int]) -> str:
    """Numbers sorted and joined into ranges: ``[3, 1, 2, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``.

    >>> number_ranges([10, 9, 3, 1, 2, 7])
    '1-3, 7, 9-10'
    """
    ordered = sorted({int(n) for n in numbers})
    parts: list[str] = []
    start = previous = None
    for number in [*ordered, None]:
        if start is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(parts)
