"""Parameter sweeps: one argparse script run over many settings, on this machine or a cluster.

Every run is a fresh ``python SCRIPT --opt value ...`` process (scripts keep
global state, so no two runs share an interpreter) that saves its result through
the results store into ``results/<experiment>/``. The runs are scheduled by Dask
distributed: an in-process ``LocalCluster`` by default, a running scheduler
(``--scheduler tcp://host:8786``), or workers started as SLURM jobs by
dask-jobqueue (``--slurm PROFILE``). Without Dask installed, the same runs go
through a local pool of threads, each waiting on its run's process.

>>> parse_grid("k=2,3 seed=1")
{'k': ['2', '3'], 'seed': ['1']}
>>> [s for s in combine(parse_grid("k=2,3 seed=1,2"))][:2]
[{'k': '2', 'seed': '1'}, {'k': '2', 'seed': '2'}]

Each run leaves a small JSON file in ``results/.sweeps/<experiment>/<sweep>/``
(command, host, pid, exit status, the tail of its stderr): the record of a
failed run, and what makes a run that Dask re-schedules after losing a worker
find the result its first attempt already saved instead of running twice.
``--resume`` skips settings whose complete results (same arguments, same
script hash) are already in the results store.
"""

from __future__ import annotations

import ast
import concurrent.futures
import csv
import hashlib
import itertools
import json
import math
import numbers
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import paths, provenance, results
from .errors import ProjectError

INSTALL_HINT = "pip install -e '.[cluster]'"
STATE_FOLDER = ".sweeps"
TAIL_LINES = 20
TAIL_BYTES = 4000
# Actions whose options take no value on the command line.
FLAG_ACTIONS = {"store_true", "store_false", "store_const", "append_const", "count"}
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
# The argparse types whose values are checked before a sweep starts.
CONVERTERS = {"int": int, "float": float}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class SweepError(ProjectError):
    """A sweep cannot start or could not finish: the message says why and what to do."""


def config() -> dict:
    """The ``[tool.<package>.sweep]`` settings of pyproject.toml."""
    return paths.config().get("sweep", {})


# Numeric settings of [tool.<package>.sweep]: whole numbers of at least 1, or a positive number.
WHOLE_SETTINGS = ("jobs", "batch_size", "threads_per_run")
POSITIVE_SETTINGS = ("connect_timeout",)


def check_config() -> dict:
    """The sweep settings, once their numbers are checked (a bad one is a one-line error)."""
    settings = config()
    table = f"[tool.{paths.PACKAGE}.sweep] of pyproject.toml"
    for key in WHOLE_SETTINGS:
        if key in settings:
            whole_number(settings[key], f"{key} = {settings[key]!r} in {table}")
    for key in POSITIVE_SETTINGS:
        if key in settings and not _number(settings[key], float) > 0:
            raise SweepError(
                f"{key} = {settings[key]!r} in {table}: give a number of seconds above 0"
            )
    return settings


def check_jobs(jobs: int | None) -> int:
    """How many runs go at once: ``jobs`` (``--jobs``), else ``sweep.jobs``, else one per core.

    The sweep settings are checked too: a bad number fails here, before anything runs.
    """
    settings = check_config()
    if jobs is not None:
        return whole_number(jobs, f"--jobs {jobs}")
    return int(settings.get("jobs") or os.cpu_count() or 1)


def whole_number(value, what: str) -> int:
    """``value`` as a whole number of 1 or more; ``what`` names it in the error otherwise."""
    number = _number(value, int)
    if not number >= 1:
        raise SweepError(f"{what}: give a whole number of 1 or more")
    return int(number)


def _number(value, kind) -> float:
    """``kind(value)`` for a number or its text (not a bool, nor a float for int); else NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return math.nan
    if kind is int and isinstance(value, float):
        return math.nan
    try:
        return kind(value)
    except ValueError:
        return math.nan


# ---- the script's own options -----------------------------------------------------------------


UNKNOWN = "<unknown>"  # the default of an option read from --help or computed at run time


@dataclass(frozen=True)
class Option:
    """A long option of the script: ``--k`` stores into ``k`` and takes a value."""

    flag: str
    dest: str
    takes_value: bool = True
    negation: str | None = None  # "--no-x" of a BooleanOptionalAction
    default: object = UNKNOWN
    kind: str | None = None  # "int" or "float" when the source says type=int / type=float


def script_options(script: Path, timeout: float = 60) -> dict[str, Option]:
    """The script's long options by ``dest``, read from its argparse calls.

    The calls are read without running the script when every ``add_argument``
    names its options literally; otherwise ``python SCRIPT --help`` runs in a
    subprocess (with ``timeout``) and its usage text is read.
    """
    source = Path(script).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(script))
    except SyntaxError as error:
        raise SweepError(
            f"{script}:{error.lineno}: not valid Python ({error.msg}): fix the script first"
        ) from None
    options = _options_from_source(tree)
    return options if options is not None else _options_from_help(Path(script), timeout)


def _options_from_source(tree: ast.AST) -> dict[str, Option] | None:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
    ]
    if not calls:
        return None
    options = {}
    for call in calls:
        if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args):
            return None  # options built at run time: ask the script itself
        names = [a.value for a in call.args]
        longs = [n for n in names if n.startswith("--")]
        if not longs or "--help" in longs:
            continue
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        action = keywords.get("action")
        action_name = (
            action.value
            if isinstance(action, ast.Constant)
            else getattr(action, "attr", getattr(action, "id", None))
        )
        nargs = keywords.get("nargs")
        takes_value = action_name not in FLAG_ACTIONS | {"BooleanOptionalAction"} and not (
            isinstance(nargs, ast.Constant) and nargs.value == 0
        )
        dest = keywords.get("dest")
        dest = dest.value if isinstance(dest, ast.Constant) else longs[0][2:].replace("-", "_")
        negation = "--no-" + longs[0][2:] if action_name == "BooleanOptionalAction" else None
        kind = keywords.get("type")
        kind = kind.id if isinstance(kind, ast.Name) and kind.id in CONVERTERS else None
        options[dest] = Option(
            longs[0], dest, takes_value, negation, _default(keywords, action_name), kind
        )
    return options


def _default(keywords: dict, action: str | None):
    """An option's default when the source says it literally (argparse's own if not given)."""
    if "default" not in keywords:
        return {"store_true": False, "store_false": True}.get(action)
    try:
        return ast.literal_eval(keywords["default"])
    except ValueError:  # computed, e.g. default=os.cpu_count()
        return UNKNOWN


def _options_from_help(script: Path, timeout: float) -> dict[str, Option]:
    try:
        done = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=paths.find_root(),
            env={**os.environ, "PROJECT_ROOT": str(paths.find_root())},
        )
    except subprocess.TimeoutExpired:
        raise SweepError(
            f"python {script} --help did not answer within {timeout:.0f} s: make the script parse "
            "its arguments before any slow work"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SweepError(f"python {script} --help failed ({last}): fix the script first")
    options = {}
    for line in done.stdout.splitlines():
        if not line.startswith("  -"):
            continue
        invocation = re.split(r"\s{2,}", line.strip())[0]
        parts = [p.split() for p in invocation.split(", ")]
        longs = [p for p in parts if p[0].startswith("--") and p[0] != "--help"]
        if not longs:
            continue
        first = longs[0]
        negation = next((p[0] for p in longs[1:] if p[0] == "--no-" + first[0][2:]), None)
        dest = first[0][2:].replace("-", "_")
        options[dest] = Option(first[0], dest, len(first) > 1, negation)
    if not options:
        raise SweepError(f"python {script} --help lists no --options: is it an argparse script?")
    return options


def _option_for(name: str, options: dict[str, Option]) -> Option | None:
    key = name.lstrip("-").replace("-", "_")
    if key in options:
        return options[key]
    return next((o for o in options.values() if o.flag[2:].replace("-", "_") == key), None)


# ---- settings -----------------------------------------------------------------------------------


def parse_grid(text: str) -> dict[str, list[str]]:
    """``"k=2,3,4 seed=1,2"`` -> ``{"k": ["2", "3", "4"], "seed": ["1", "2"]}``.

    Names are separated by spaces, values by commas; quote a value with spaces
    (``label='a b',c``). Lists and other structured values go in a settings file.
    """
    example = 'e.g. --grid "k=2,3,4 seed=1,2"'
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise SweepError(f"--grid {text!r}: {error}: {example}") from None
    grid: dict[str, list[str]] = {}
    for token in tokens:
        name, equals, values = token.partition("=")
        if not equals or not re.fullmatch(r"(--)?[A-Za-z_][\w-]*", name):
            raise SweepError(f"--grid: {token!r} is not NAME=VALUE,VALUE,...: {example}")
        items = values.split(",")
        if "" in items:
            raise SweepError(f"--grid: {token!r} has an empty value: {example}")
        if name in grid:
            raise SweepError(f"--grid: {name!r} is given twice: list all its values once")
        grid[name] = items
    if not grid:
        raise SweepError(f"--grid {text!r} names no parameter: {example}")
    return grid


def combine(grid: dict[str, list], rows: list[dict] | None = None) -> list[dict]:
    """Every combination of the grid's values, for each row of a settings file (if any)."""
    product = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    if rows is None:
        return product
    settings = []
    for row in rows:
        for values in product:
            both = set(row) & set(values)
            if both:
                raise SweepError(
                    f"{', '.join(sorted(both))} is set by both --grid and --settings: keep one"
                )
            settings.append({**row, **values})
    return settings


def read_settings(path: str | os.PathLike) -> list[dict]:
    """One setting per row of a CSV file (empty cells keep the default), per object of a JSON
    list, or per ``[[run]]`` table of a TOML file."""
    file = Path(path)
    if not file.is_file():
        raise SweepError(f"settings file {str(path)!r} does not exist: give a .csv, .json or .toml")
    kind = file.suffix.lower()
    try:
        if kind == ".csv":
            with open(file, newline="", encoding="utf-8") as handle:
                rows = [
                    {k: v for k, v in row.items() if v not in ("", None)}
                    for row in csv.DictReader(handle)
                ]
        elif kind == ".json":
            rows = json.loads(file.read_text(encoding="utf-8"))
        elif kind == ".toml":
            rows = tomllib.loads(file.read_text(encoding="utf-8")).get("run")
        else:
            raise SweepError(f"{file}: settings must be a .csv, .json or .toml file")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, csv.Error, UnicodeDecodeError) as error:
        raise SweepError(f"{file}: cannot be read ({error}): fix the file") from None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        shape = {
            ".json": "a list of objects",
            ".toml": "[[run]] tables",
            ".csv": "a header and rows",
        }
        raise SweepError(f"{file}: no settings found: write {shape[kind]}, one per run")
    return rows


def command_line(setting: dict, options: dict[str, Option]) -> list[str]:
    """The script's arguments for one setting; flags become ``--x`` / ``--no-x``."""
    arguments: list[str] = []
    for name, value in setting.items():
        option = _option_for(name, options)
        if option.takes_value:
            values = value if isinstance(value, list) else [value]
            arguments += [option.flag, *(_text(v) for v in values)]
        elif _truth(value):
            arguments.append(option.flag)
        elif option.negation:
            arguments.append(option.negation)
    return arguments


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _truth(value) -> bool:
    word = str(value).strip().lower()
    if isinstance(value, bool) or word in TRUE_WORDS | FALSE_WORDS:
        return value if isinstance(value, bool) else word in TRUE_WORDS
    raise SweepError(
        f"{value!r} is not true or false: a flag option takes true/false, yes/no or 1/0"
    )


def _same_key(values: dict) -> tuple:
    """A hashable form of argument values, so "2", 2 and 2.0 (or "true" and True) compare equal."""
    return tuple(sorted((name, _normal(value)) for name, value in values.items()))


def _normal(value):
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return tuple(_normal(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | numbers.Number):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


# ---- the plan -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One planned run: its place in the sweep, its setting and its command-line arguments."""

    index: int
    setting: dict
    repeat: int
    arguments: list[str]
    existing: int | None = None  # result number when --resume found it complete


@dataclass
class Plan:
    """What a sweep will run: the script, its hash, the experiment, and every run."""

    script: Path
    script_sha256: str
    experiment: str
    runs: list[Run]
    options: dict[str, Option] = field(default_factory=dict)

    @property
    def todo(self) -> list[Run]:
        return [r for r in self.runs if r.existing is None]

    def table(self):
        """The planned runs as a DataFrame (what ``--dry-run`` shows)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "run": r.index,
                    **r.setting,
                    **({"repeat": r.repeat} if self.repeats else {}),
                    "status": "planned" if r.existing is None else f"complete: result {r.existing}",
                    "command": shlex.join(["python", paths.relative(self.script), *r.arguments]),
                }
                for r in self.runs
            ]
        )

    @property
    def repeats(self) -> bool:
        return any(r.repeat > 1 for r in self.runs)


def plan(
    script: str | os.PathLike,
    grid: str | dict | None = None,
    settings: str | os.PathLike | None = None,
    *,
    repeat: int = 1,
    experiment: str | None = None,
    resume: bool = False,
) -> Plan:
    """Check the script and the settings, and list the runs (skipping complete ones if ``resume``).

    Nothing is scheduled: unknown option names, a missing script or a malformed
    grid fail here, before any run starts.
    """
    path = _script_path(script)
    if grid is None and settings is None:
        raise SweepError('give the settings to run: --grid "k=2,3,4 seed=1,2" or --settings FILE')
    if repeat < 1:
        raise SweepError(f"--repeat {repeat}: give 1 or more runs per setting")
    combos = combine(
        parse_grid(grid) if isinstance(grid, str) else (grid or {}),
        read_settings(settings) if settings is not None else None,
    )
    options = script_options(path)
    unknown = sorted({n for s in combos for n in s if _option_for(n, options) is None})
    if unknown:
        known = ", ".join(o.flag for o in options.values()) or "no options"
        shown = paths.relative(path)
        raise SweepError(
            f"{shown} has no option {', '.join('--' + n.lstrip('-') for n in unknown)}: "
            f"it has {known} (see python {shown} --help)"
        )
    _check_types(combos, options, path)
    experiment = experiment or path.stem
    results.folder_of(experiment)  # refuses a name that is not one folder name
    runs = [
        Run(i, setting, r + 1, command_line(setting, options))
        for i, (setting, r) in enumerate((s, r) for s in combos for r in range(repeat))
    ]
    result = Plan(path, _sha256(path), experiment, runs, options)
    if resume:
        _mark_complete(result)
    return result


def _check_types(combos: list[dict], options: dict[str, Option], path: Path) -> None:
    """Refuse a value the script's argparse would refuse for its type=int / type=float."""
    for setting in combos:
        for name, value in setting.items():
            option = _option_for(name, options)
            if not (option.takes_value and option.kind):
                continue
            for item in value if isinstance(value, list) else [value]:
                try:
                    CONVERTERS[option.kind](_text(item))
                except ValueError:
                    kind = {"int": "a whole number", "float": "a number"}[option.kind]
                    raise SweepError(
                        f"{option.flag} {_text(item)!r}: {paths.relative(path)} reads "
                        f"{option.flag} as "
                        f"type={option.kind}, and {_text(item)!r} is not {kind}: fix the value"
                    ) from None


def _script_path(script: str | os.PathLike) -> Path:
    given = Path(script)
    for candidate in (given, paths.find_root() / given):
        if candidate.is_file() and candidate.suffix == ".py":
            return candidate.resolve()
    found = (
        sorted(p.name for p in paths.SCRIPTS_DIR.glob("*.py")) if paths.SCRIPTS_DIR.is_dir() else []
    )
    hint = f"scripts/ has {', '.join(found)}" if found else "extract one with invoke extract-cell"
    raise SweepError(f"script {str(script)!r} does not exist or is not a .py file: {hint}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mark_complete(plan: Plan) -> None:
    """Mark runs whose setting already has a complete result of this very script."""
    table = results.runs(plan.experiment)
    rows = table[table["script_sha256"] == plan.script_sha256].to_dict("records")
    # Results by their arguments: the setting's values, and the script's defaults for the
    # options it leaves out (any value where the default is unknown); each counts once.
    index: dict[tuple, dict[tuple, list[int]]] = {}
    for run in plan.runs:
        wanted = {o.dest: o.default for o in plan.options.values() if o.default != UNKNOWN}
        wanted |= {
            _option_for(n, plan.options).dest: _flag_value(n, v, plan.options)
            for n, v in run.setting.items()
        }
        names = tuple(sorted(wanted))
        if names not in index:
            index[names] = {}
            for row in rows:
                # an argument named like a column of the table (host...) is "arg.<name>"
                values = {d: row.get(f"arg.{d}", row.get(d)) for d in names}
                index[names].setdefault(_same_key(values), []).append(int(row["number"]))
        found = index[names].get(_same_key(wanted))
        if found:
            run.existing = found.pop(0)


def _flag_value(name: str, value, options: dict[str, Option]):
    return value if _option_for(name, options).takes_value else _truth(value)


# ---- one run, on whichever machine the scheduler chose -----------------------------------------

_LIVE: dict[int, tuple[str, subprocess.Popen]] = {}  # pid -> (sweep id, process) in this process
_LIVE_LOCK = threading.Lock()


def run_batch(runs: list[dict], job: dict) -> list[dict]:
    """Run each of ``runs`` (``{"index", "arguments"}``) as ``python SCRIPT ARGS``, in turn.

    This is the task the scheduler sends to a worker. A run that an earlier
    attempt of this task finished (the worker died before reporting) is not run
    again: its state file says so, or the results store holds a record written
    by that attempt's process.
    """
    return [_run_one(run, job) for run in runs]


def _run_one(run: dict, job: dict) -> dict:
    state = Path(job["state"])
    marker = state / f"{run['index']}.json"
    previous = _read_json(marker)
    if previous and "returncode" in previous:
        return previous
    if previous and previous.get("pid"):
        number = _number_written_by(
            job["experiment"], previous["host"], previous["pid"], previous["started"]
        )
        if number is not None:
            finished = {**previous, "status": "done", "returncode": 0, "number": number}
            _write_json(marker, finished)
            return finished
    host = socket.gethostname()
    if (state / "CANCELLED").exists():
        return {"index": run["index"], "status": "cancelled", "host": host, "stderr": ""}
    command = [sys.executable, job["script"], *run["arguments"]]
    # The run's record names its sweep and its index in it (columns of results.runs()).
    environment = {**os.environ, **job["env"], provenance.SWEEP_RUN_VARIABLE: str(run["index"])}
    started = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            command,
            cwd=job["root"],
            env=environment,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        with _LIVE_LOCK:
            _LIVE[process.pid] = (job["sweep"], process)
        outcome = {
            "index": run["index"],
            "attempt": (previous or {}).get("attempt", 0) + 1,
            "command": command,
            "host": host,
            "pid": process.pid,
            "started": started,
        }
        try:
            _write_json(marker, outcome)
            returncode = process.wait()
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(process.pid, None)
        outcome.update(
            returncode=returncode,
            status="done" if returncode == 0 else "failed",
            seconds=round(time.time() - started, 3),
            stdout=_tail(out),
            stderr=_tail(err),
        )
    _write_json(marker, outcome)
    return outcome


def _tail(handle) -> str:
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - TAIL_BYTES))
    text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-TAIL_LINES:])


def stop_runs(sweep: str) -> int:
    """Kill the runs of sweep ``sweep`` that this process started; how many."""
    with _LIVE_LOCK:
        mine = [p for s, p in _LIVE.values() if s == sweep]
    for process in mine:
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    return len(mine)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_json(path: Path, data: dict) -> None:
    # Written whole under a temporary name and renamed: a reader never sees half a file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(temporary, path)


def _number_written_by(experiment: str, host: str, pid: int, since: float) -> int | None:
    table = results.runs(experiment)
    return _numbers_by_process(experiment, table, since, {(host, pid)}).get((host, pid))


def _numbers_by_process(
    experiment: str, table, since: float, wanted: set[tuple]
) -> dict[tuple, int]:
    """Result numbers in ``table`` (the results store's runs) by the (host, pid) that saved them."""
    if table.empty or not wanted:
        return {}
    hosts = {h for h, _ in wanted}
    found = {}
    for row in table.to_dict("records"):
        if row.get("host") not in hosts:
            continue
        started = _epoch(row.get("started"))
        if started is not None and started < since - 5:
            continue
        record = results.record(experiment, int(row["number"]))
        key = (record.get("host", row.get("host")), record.get("pid"))
        if key in wanted:
            found[key] = int(row["number"])
    return found


def _epoch(value) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "timestamp"):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


# ---- where the runs go: a local pool, or Dask ---------------------------------------------------


class _Pool:
    """Runs on this machine through a thread pool, each thread waiting on one run's process."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.where = f"a local pool of {jobs}"
        self.executor = concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="sweep")

    def submit(self, batch, job):
        return self.executor.submit(run_batch, batch, job)

    def completed(self, futures):
        """(future, its result or the exception it raised), in the order they finish."""
        for future in concurrent.futures.as_completed(futures):
            try:
                yield future, future.result()
            except Exception as error:
                yield future, error

    def slots(self) -> int:
        return self.jobs

    def stop(self, sweep: str, futures) -> None:
        for future in futures:
            future.cancel()
        stop_runs(sweep)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class _Dask:
    """Runs as tasks of a Dask cluster: local, an existing scheduler, or SLURM jobs."""

    def __init__(self, client, cluster, where: str, settings=None):
        self.client, self.cluster, self.where, self.settings = client, cluster, where, settings
        self._slots, self._checked = 0, 0.0

    def submit(self, batch, job):
        key = f"sweep-{job['sweep']}-{batch[0]['index']}"
        return self.client.submit(run_batch, batch, job, key=key, pure=False)

    def completed(self, futures):
        """(future, its result or the exception it raised), in the order they finish."""
        from distributed import as_completed

        # Results come with the completion messages: no round trip per future.
        for future, result in as_completed(futures, with_results=True, raise_errors=False):
            yield future, result[1] if future.status == "error" else result

    def slots(self) -> int:
        if time.monotonic() - self._checked > 2:
            self._slots = sum(self.client.nthreads().values())
            self._checked = time.monotonic()
        return self._slots

    def stop(self, sweep: str, futures) -> None:
        stop_runs(sweep)  # runs of an in-process LocalCluster
        try:
            self.client.run(stop_runs, sweep)  # runs on the workers of a real cluster
        except Exception:  # a worker may be gone already; the CANCELLED file stops the rest
            pass
        self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.settings is not None:
            self.settings.__exit__(None, None, None)


def _backend(jobs: int, scheduler: str | None, slurm: str | None, notify):
    settings = config()
    if not scheduler and not slurm:
        scheduler = settings.get("scheduler") or None
    if scheduler == "local":
        scheduler = None
    if scheduler and slurm:
        raise SweepError("give --scheduler or --slurm, not both")
    try:
        import distributed
    except ImportError:
        if scheduler or slurm:
            raise SweepError(f"--scheduler and --slurm need Dask: {INSTALL_HINT}") from None
        notify(
            f"Dask is not installed: running on a local pool of {jobs}. To scale out to a "
            f"cluster: {INSTALL_HINT}, then --scheduler tcp://HOST:8786 or --slurm PROFILE."
        )
        return _Pool(jobs)
    if slurm:
        jobs = _slurm_jobs(slurm)
        if not shutil.which("sbatch"):
            raise SweepError(
                "sbatch is not on PATH: run a --slurm sweep on the cluster's login node"
            )
        cluster = slurm_cluster(slurm)
        cluster.scale(jobs=jobs)
        return _Dask(distributed.Client(cluster), cluster, f"SLURM profile {slurm!r}")
    if scheduler:
        address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
        timeout = float(settings.get("connect_timeout", 5))
        try:
            if Path(scheduler).is_file():  # a scheduler file (dask scheduler --scheduler-file)
                address = scheduler
                client = distributed.Client(scheduler_file=scheduler, timeout=timeout)
            else:
                client = distributed.Client(address, timeout=timeout)
        except (OSError, ValueError, TimeoutError) as error:
            raise SweepError(
                f"cannot reach the Dask scheduler at {address} ({error}): start one with "
                "`dask scheduler` and `dask worker ADDRESS`, or check the address"
            ) from None
        return _Dask(client, None, f"the scheduler at {address}")
    import logging

    import dask

    # The workers share this process with the runs' bookkeeping: their statistical profiler
    # (a stack sample every 10 ms) and fast health ticks would cost more CPU than short runs.
    quiet = dask.config.set(
        {
            "distributed.worker.profile.enabled": False,
            "distributed.admin.tick.interval": "1s",
            "distributed.admin.system-monitor.gil.enabled": False,
        }
    )
    cluster = distributed.LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=False,  # each run is its own process already; threads only wait on them
        silence_logs=logging.ERROR,
        # No dashboard; the scheduler's small HTTP server listens on loopback only.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )
    where = f"a local Dask cluster of {jobs} workers"
    return _Dask(distributed.Client(cluster), cluster, where, quiet)


def slurm_cluster(profile: str, **overrides):
    """A dask-jobqueue ``SLURMCluster`` from ``[tool.<package>.sweep.slurm.PROFILE]`` and
    ``overrides``; no job is submitted yet (``cluster.job_script()`` shows what would be)."""
    # One worker per job whose threads each wait on one run (dask-jobqueue would split
    # the cores into single-threaded worker processes, which buys nothing here).
    options = {"processes": 1} | {k: v for k, v in _slurm_profile(profile).items() if k != "jobs"}
    options |= overrides
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise SweepError(f"--slurm needs dask-jobqueue: {INSTALL_HINT}") from None
    try:
        return SLURMCluster(**options)
    except (TypeError, ValueError) as error:
        raise SweepError(
            f"SLURM profile {profile!r}: {error}: see the dask-jobqueue docs"
        ) from None


def _slurm_profile(name: str) -> dict:
    profiles = config().get("slurm", {})
    if name not in profiles:
        names = ", ".join(sorted(profiles)) or "none"
        raise SweepError(
            f"no SLURM profile {name!r} in [tool.{paths.PACKAGE}.sweep.slurm] (profiles: {names}): "
            "add one to pyproject.toml"
        )
    return profiles[name]


def _slurm_jobs(name: str) -> int:
    """How many SLURM jobs profile ``name`` submits (its ``jobs``, 1 if not given)."""
    jobs = _slurm_profile(name).get("jobs", 1)
    where = f"[tool.{paths.PACKAGE}.sweep.slurm.{name}] of pyproject.toml"
    return whole_number(jobs, f"SLURM profile {name!r}: jobs = {jobs!r} in {where}")


# ---- the sweep ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a sweep did: every run's record (state files' contents) and where it ran."""

    plan: Plan
    records: dict[int, dict]
    where: str
    state: Path
    scalars: object = None  # the results store's scalar columns of this sweep's results

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.plan.todo if self.records.get(r.index, {}).get("status") != "done"]

    def table(self):
        """One row per run of this sweep: setting, status, result number, time, host, error;
        with the scalar results of the runs table of the results store."""
        import pandas as pd

        rows = []
        for run in self.plan.runs:
            record = self.records.get(run.index, {})
            status = (
                "skipped (complete)" if run.existing is not None else record.get("status", "lost")
            )
            rows.append(
                {
                    "run": run.index,
                    **run.setting,
                    **({"repeat": run.repeat} if self.plan.repeats else {}),
                    "status": status,
                    "number": run.existing if run.existing is not None else record.get("number"),
                    "seconds": record.get("seconds"),
                    "host": record.get("host"),
                    "error": _last_line(record)
                    if status not in ("done", "skipped (complete)")
                    else "",
                }
            )
        table = pd.DataFrame(rows)
        if self.scalars is not None and not self.scalars.empty:
            table = table.merge(self.scalars, on="number", how="left")
        table["number"] = table["number"].astype("Int64")
        return table

    def problem(self) -> str | None:
        """One line naming the failed runs and their errors, or None when every run finished."""
        failed = self.failed
        if not failed:
            return None
        first = "; ".join(
            f"run {r.index} ({' '.join(f'{k}={v}' for k, v in r.setting.items())}): "
            f"{_last_line(self.records.get(r.index, {}))}"
            for r in failed[:3]
        )
        return (
            f"{len(failed)} of {len(self.plan.todo)} runs failed: {first}; each run's stderr "
            f"is in {paths.relative(self.state)}/; fix and re-run with --resume"
        )


def _last_line(record: dict) -> str:
    if record.get("status") == "cancelled":
        return "not started (sweep interrupted)"
    if record.get("error"):
        return record["error"]
    lines = [line for line in (record.get("stderr") or "").splitlines() if line.strip()]
    if lines:
        return lines[-1].strip()
    if "returncode" in record:
        return f"exit status {record['returncode']}"
    return "never ran (worker lost)"


def sweep(
    plan: Plan,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    slurm: str | None = None,
    notify=lambda message: None,
) -> Outcome:
    """Run the plan's runs that are not complete yet; return every run's outcome.

    ``notify`` receives one-line messages (where the runs go); the progress bar
    (done / failed / running, ETA) is shown only on a terminal.
    """
    jobs = check_jobs(jobs)
    # Unique, also for two sweeps started in the same second: the state files of one
    # must never be taken for an earlier attempt of the other's runs.
    sweep_id = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    state = paths.RESULTS_DIR / STATE_FOLDER / plan.experiment / sweep_id
    todo = plan.todo
    outcome = Outcome(plan, {}, "nowhere (nothing to run)", state)
    started = time.time()
    if todo:
        backend = _backend(jobs, scheduler, slurm, notify)
        state.mkdir(parents=True)
        outcome.where = backend.where
        skipped = len(plan.runs) - len(todo)
        notify(
            f"Sweep {sweep_id}: {len(todo)} runs of {paths.relative(plan.script)} "
            f"on {backend.where}" + (f" ({skipped} skipped: already complete)" if skipped else "")
        )
        job = {
            "sweep": sweep_id,
            "state": str(state),
            "root": str(paths.find_root()),
            "script": str(plan.script),
            "experiment": plan.experiment,
            "env": {**_run_environment(), provenance.SWEEP_VARIABLE: sweep_id},
        }
        _drive(backend, todo, job, outcome)
        _write_json(state / "sweep.json", _summary(outcome, started))
    else:
        notify(f"Nothing to run: all {len(plan.runs)} runs already have a complete result.")
    table = results.runs(plan.experiment)
    wanted = {(r["host"], r["pid"]) for r in outcome.records.values() if r.get("status") == "done"}
    by_process = _numbers_by_process(plan.experiment, table, started, wanted)
    for record in outcome.records.values():
        if record.get("status") == "done" and record.get("number") is None:
            record["number"] = by_process.get((record["host"], record["pid"]))
    outcome.scalars = _scalars(plan, outcome, table)
    return outcome


def _run_environment() -> dict:
    environment = {"PROJECT_ROOT": str(paths.find_root())}
    threads = str(config().get("threads_per_run", 1))
    # Parallel runs that each start one BLAS thread per core would fight over the cores.
    environment.update({v: os.environ.get(v, threads) for v in THREAD_VARIABLES})
    return environment


def _batches(runs: list[Run], slots: int) -> list[list[dict]]:
    size = int(config().get("batch_size") or 0)
    size = size or max(1, min(32, len(runs) // (max(slots, 1) * 16)))
    items = [{"index": r.index, "arguments": r.arguments} for r in runs]
    return [items[i : i + size] for i in range(0, len(items), size)]


def _drive(backend, todo: list[Run], job: dict, outcome: Outcome) -> None:
    from tqdm import tqdm

    futures = {backend.submit(b, job): b for b in _batches(todo, backend.slots())}
    done = failed = 0
    bar = tqdm(total=len(todo), unit="run", disable=None, dynamic_ncols=True)
    try:
        for future, records in backend.completed(list(futures)):
            if isinstance(records, BaseException):  # the task failed, e.g. its workers kept dying
                error = records
                records = [
                    {
                        "index": r["index"],
                        "status": "failed",
                        "error": f"{type(error).__name__}: {error}",
                    }
                    for r in futures[future]
                ]
            for record in records:
                outcome.records[record["index"]] = record
                done += record.get("status") == "done"
                failed += record.get("status") != "done"
            remaining = len(todo) - done - failed
            bar.set_postfix(
                done=done, failed=failed, running=min(backend.slots(), remaining), refresh=False
            )
            bar.update(len(records))
    except KeyboardInterrupt:
        (Path(job["state"]) / "CANCELLED").touch()
        backend.stop(job["sweep"], list(futures))
        raise SweepError(
            f"interrupted after {done + failed} of {len(todo)} runs: run the same command with "
            "--resume to finish"
        ) from None
    finally:
        bar.close()
        backend.close()


def _summary(outcome: Outcome, started: float) -> dict:
    return {
        "script": str(outcome.plan.script),
        "script_sha256": outcome.plan.script_sha256,
        "experiment": outcome.plan.experiment,
        "where": outcome.where,
        "started": started,
        "seconds": round(time.time() - started, 3),
        "runs": [
            {
                "index": r.index,
                "setting": r.setting,
                "repeat": r.repeat,
                "arguments": r.arguments,
                "existing": r.existing,
                "status": outcome.records.get(r.index, {}).get("status"),
            }
            for r in outcome.plan.runs
        ],
    }


def _scalars(plan: Plan, outcome: Outcome, table):
    """The results store's rows for this sweep's results: their scalar result columns."""
    mine = {r.existing for r in plan.runs if r.existing is not None}
    mine |= {r["number"] for r in outcome.records.values() if r.get("number") is not None}
    if table.empty or not mine:
        return None
    known = {*results.RUN_COLUMNS, *plan.options, *(f"arg.{d}" for d in plan.options)}
    known |= {k for r in plan.runs for k in r.setting}
    columns = [c for c in table.columns if c == "number" or c not in known]
    rows = table[table["number"].isin(mine)][columns]
    scalar = [
        c
        for c in columns
        if c == "number" or rows[c].map(lambda v: isinstance(v, str | numbers.Number)).all()
    ]
    return rows[scalar]
