"""Numbered results of runs, each with a provenance record beside it.

Each run saves into ``results/<experiment>/`` as the next number of the
seqfile protocol: ``kmeans.7.pkl`` (the payload) and ``kmeans.7.json`` (its
run record), one number per run whatever the format. Many processes on many
machines may save into one folder at once, also over NFS:

- The payload is first written to a hidden temporary file, so an object that
  cannot be pickled or written as ``.mat`` fails before any number is used.
- The number is then reserved as seqfile does, by creating ``<experiment>.N.json``
  with ``O_CREAT | O_EXCL``; on a collision the next number is tried without
  listing the folder again (a stale NFS listing cannot make two runs share one).
  Where to start comes from a small hint file, so a save does not list a folder
  of 10,000 runs; the folder is listed only when the hint is missing or far
  behind. Gaps are ignored, and a file another tool (seqfile itself) made with
  the same number is never overwritten.
- The payload is renamed into place, and the record, written to a temporary
  file and renamed over the reservation, comes last. Until then the record
  says ``"status": "running"``: only a run whose record says ``"complete"`` is
  ever loaded or tabulated; the others are listed by :func:`incomplete`.

A record holds the script and its sha256, ``sys.argv``, the parsed arguments,
the git commit with a dirty flag and a hash of the diff, host, pid, user,
start, end and duration, Python and package versions, the inputs this process
read (``provenance.inputs()``), the results it loaded, the payload's size and
sha256, and the result's scalar values, so that :func:`runs` never opens a
payload.

``save_interim`` / ``load_interim`` do the same for intermediate data in
``data/interim/`` (``.mat`` by default, readable by MATLAB and Octave).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import getpass
import hashlib
import json
import os
import pickle
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from . import paths, provenance
from .errors import ProjectError


class ResultsError(ProjectError):
    """A result that cannot be saved or loaded; the message says which and why."""


class UnknownExperiment(ResultsError):
    """No folder ``results/<experiment>/`` exists."""


# Format name -> the payload's suffix. A JSON payload is ``.data.json`` because
# ``<experiment>.N.json`` is the run record.
FORMATS = {
    "pickle": ".pkl",
    "mat": ".mat",
    "npz": ".npz",
    "json": ".data.json",
    "parquet": ".parquet",
}
ALIASES = {"pkl": "pickle"}
RECORD_SUFFIX = ".json"
# After this many collisions in a row the folder is listed once more, only ever
# to move forward: a listing can be stale, an O_EXCL create cannot.
RELIST_AFTER = 16
# Columns of runs() that come from the record itself; an argument or scalar
# result of the same name gets an "arg." or "result." prefix.
RUN_COLUMNS = [
    "number",
    "started",
    "duration",
    "host",
    "script",
    "script_sha256",
    "git_commit",
    "git_dirty",
    "format",
]
MAX_SCALAR_TEXT = 200
KEY_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "sklearn", "torch")
NAME = paths.PLAIN_NAME
MATLAB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")

_IMPORTED_AT = time.time()
_GIT_STATES: dict[tuple, dict | None] = {}
_CELL_STARTED = {"at": _IMPORTED_AT}


def _watch_cells() -> bool:
    """In IPython, note when each cell starts: a run there (``%run -i``) starts with its cell."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return False
    shell.events.register("pre_run_cell", lambda *info: _CELL_STARTED.update(at=time.time()))
    return True


_IN_IPYTHON = _watch_cells()


# ---- names and folders ---------------------------------------------------------------------


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.endswith("."):
        raise ResultsError(
            f"{what} name {name!r} must be one folder name (letters, digits, '_', '-', '.', "
            "'+'), not a path: e.g. 'kmeans'"
        )
    return name


def folder_of(experiment: str) -> Path:
    """The folder ``results/<experiment>/`` (not created); refuses paths and ``..``."""
    return paths.inside(paths.RESULTS_DIR, _check_name(experiment, "experiment"))


def experiments() -> list[str]:
    """The experiments that have a folder in ``results/``, sorted."""
    base = paths.RESULTS_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and NAME.fullmatch(p.name))


def _existing_folder(experiment: str) -> Path:
    folder = folder_of(experiment)
    if not folder.is_dir():
        known = ", ".join(experiments()) or "none yet"
        raise UnknownExperiment(
            f"no experiment {experiment!r}: {folder} does not exist (known experiments: {known})"
        )
    return folder


def _format_of(format: str) -> str:
    name = ALIASES.get(format, format)
    if name not in FORMATS:
        raise ResultsError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    return name


def _number_pattern(experiment: str) -> re.Pattern:
    # Anchored at both ends (seqfile 0.2.0 is not: with "ba.7.txt" beside them, its
    # "a." files would continue at 8). Any suffix counts, so a number taken by
    # seqfile with a suffix of its own is never reused.
    return re.compile(rf"{re.escape(experiment)}\.([0-9]+)(?:\..*)?", re.DOTALL)


def _list_numbers(folder: Path, experiment: str) -> dict[int, list[str]]:
    """Every number used in ``folder`` -> the names of its files."""
    pattern = _number_pattern(experiment)
    found: dict[int, list[str]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match:
                found.setdefault(int(match.group(1)), []).append(entry.name)
    return found


# ---- numbering: the seqfile protocol -------------------------------------------------------


def _hint_path(folder: Path, experiment: str) -> Path:
    return folder / f".{experiment}.last"


def _read_hint(folder: Path, experiment: str) -> int | None:
    try:
        return int(_hint_path(folder, experiment).read_text())
    except (OSError, ValueError):
        return None


def _write_hint(folder: Path, experiment: str, number: int) -> None:
    # Best effort: a lost or stale hint costs a few collisions, never a wrong number.
    with contextlib.suppress(OSError):
        temp = folder / f".{experiment}.last.{os.getpid()}.{secrets.token_hex(4)}"
        temp.write_text(str(number))
        os.replace(temp, _hint_path(folder, experiment))


def _first_candidate(folder: Path, experiment: str) -> int:
    hint = _read_hint(folder, experiment)
    if hint is not None:
        return hint + 1
    return max(_list_numbers(folder, experiment), default=-1) + 1


def _create_exclusive(path: Path, content: bytes = b"") -> bool:
    """Create ``path`` if no file has that name (atomic, also on NFS v3+); False if one has."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        if content:
            os.write(fd, content)
    finally:
        os.close(fd)
    return True


def _taken_by_another_tool(folder: Path, experiment: str, number: int) -> bool:
    """A payload with this number that no record reserved (seqfile made it, say)."""
    return any((folder / f"{experiment}.{number}{suffix}").exists() for suffix in FORMATS.values())


def _reserve(folder: Path, experiment: str, suffix: str, stub: dict) -> int:
    """Reserve the next free number: create its record and payload names exclusively."""
    number = _first_candidate(folder, experiment)
    collisions = 0
    while True:
        record = folder / f"{experiment}.{number}{RECORD_SUFFIX}"
        payload = folder / f"{experiment}.{number}{suffix}"
        if _create_exclusive(record, json.dumps({**stub, "number": number}).encode()):
            if not _taken_by_another_tool(folder, experiment, number) and _create_exclusive(
                payload
            ):
                return number
            record.unlink()
        collisions += 1
        number += 1
        if collisions % RELIST_AFTER == 0:
            number = max(number, max(_list_numbers(folder, experiment), default=-1) + 1)


# ---- provenance of a run -------------------------------------------------------------------


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")


def _process_start() -> float:
    """When this process started (Linux /proc), else when this module was imported."""
    try:
        with open("/proc/self/stat") as handle:
            ticks = int(handle.read().rpartition(")")[2].split()[19])
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return min(boot + ticks / os.sysconf("SC_CLK_TCK"), _IMPORTED_AT)
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT


def _script() -> Path | None:
    """The script being run: ``__main__.__file__`` (also under ``%run``), else ``sys.argv[0]``."""
    main = sys.modules.get("__main__")
    for candidate in (getattr(main, "__file__", None), sys.argv[0] if sys.argv else None):
        if candidate and os.path.isfile(candidate):
            return Path(candidate).resolve()
    return None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _git(root: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, timeout=60)


def git_state(root: Path) -> dict | None:
    """Commit, branch, dirty flag and sha256 of the uncommitted changes; None outside git."""
    try:
        status = _git(root, "status", "--porcelain=v2", "--branch")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if status.returncode != 0:
        return None
    lines = status.stdout.decode("utf-8", "replace").splitlines()
    heading = dict(line[2:].partition(" ")[::2] for line in lines if line.startswith("# "))
    changes = [line for line in lines if not line.startswith("#")]
    commit = heading.get("branch.oid")
    state = {
        "commit": None if commit in (None, "(initial)") else commit,
        "branch": heading.get("branch.head"),
        "dirty": bool(changes),
        "changed_files": len(changes),
        "diff_sha256": None,
    }
    if changes:
        diff = _git(root, "diff", "HEAD", "--binary").stdout if state["commit"] else b""
        # New files are part of the state too: their names join the hash.
        untracked = "\n".join(line for line in changes if line.startswith("?")).encode()
        state["diff_sha256"] = hashlib.sha256(diff + b"\0" + untracked).hexdigest()
    return state


def _versions() -> dict:
    found = {"python": sys.version.split()[0]}
    for name in (*KEY_PACKAGES, paths.PACKAGE):
        module = sys.modules.get(name)
        if module is not None and isinstance(getattr(module, "__version__", None), str):
            found[name] = module.__version__
    return found


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _run_start() -> float:
    """A run starts with its process, or in IPython (``%run -i`` in a notebook) with its cell."""
    return _CELL_STARTED["at"] if _IN_IPYTHON else _process_start()


def _run_facts() -> dict:
    """What identifies this run: script, arguments, code state, machine, process."""
    script = _script()
    script_sha = _sha256_of(script) if script else None
    started = _run_start()
    root = paths.find_root()
    # git runs once per run, not once per save (a script may save many times).
    key = (root, script_sha, started)
    if key not in _GIT_STATES:
        _GIT_STATES[key] = git_state(root)
    return {
        "script": str(script) if script else None,
        "script_sha256": script_sha,
        "script_hash": provenance.script_hash(script) if script else None,
        "argv": list(sys.argv),
        "git": _GIT_STATES[key],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "user": _user(),
        "started": _timestamp(started),
        "_started": started,
    }


def _jsonable(value: Any) -> Any:
    """``value`` as JSON data: numpy scalars and arrays, paths and sets become plain values."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value  # NaN and infinities are written as JSON's common extension NaN, Infinity
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _arguments(args: argparse.Namespace | Mapping | None) -> dict:
    if args is None:
        return {}
    if isinstance(args, argparse.Namespace):
        args = vars(args)
    if not isinstance(args, Mapping):
        raise ResultsError(
            f"args must be an argparse Namespace or a dict, not {type(args).__name__}"
        )
    return {str(name): _jsonable(value) for name, value in args.items()}


def _scalars(data: Any) -> dict:
    """The scalar values of a dict result (numbers, booleans, short text), for runs()."""
    if not isinstance(data, Mapping):
        return {}
    found = {}
    for name, value in data.items():
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy scalar
            value = value.item()
        if isinstance(value, bool | int | float) or (
            isinstance(value, str) and len(value) <= MAX_SCALAR_TEXT
        ):
            found[str(name)] = _jsonable(value)
    return found


# ---- formats -------------------------------------------------------------------------------


def _check_mat(data: Any) -> None:
    if not isinstance(data, Mapping):
        raise ResultsError(
            f"format 'mat' needs a dict of variables (name -> array), not {type(data).__name__}"
        )
    for name in data:
        if not isinstance(name, str) or not MATLAB_NAME.fullmatch(name):
            raise ResultsError(
                f"format 'mat': {name!r} is not a MATLAB variable name (a letter, then up to "
                "62 letters, digits or '_'): rename it"
            )


def _write_payload(handle, data: Any, format: str) -> None:
    if format == "pickle":
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    elif format == "mat":
        import scipy.io

        _check_mat(data)
        scipy.io.savemat(handle, dict(data), long_field_names=True, do_compression=False)
    elif format == "npz":
        import numpy as np

        arrays = dict(data) if isinstance(data, Mapping) else {"arr_0": data}
        np.savez(handle, **{str(k): np.asarray(v) for k, v in arrays.items()})
    elif format == "json":
        handle.write(json.dumps(data, allow_nan=False, default=_json_default).encode())
    elif format == "parquet":
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            raise ResultsError(
                f"format 'parquet' needs a pandas DataFrame, not {type(data).__name__}"
            )
        data.to_parquet(handle)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _read_payload(path: Path, format: str) -> Any:
    if format == "pickle":
        with open(path, "rb") as handle:
            return pickle.load(handle)
    if format == "mat":
        import scipy.io

        loaded = scipy.io.loadmat(path)
        return {k: v for k, v in loaded.items() if not (k.startswith("__") and k.endswith("__"))}
    if format == "npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as arrays:
            return dict(arrays)
    if format == "json":
        return json.loads(path.read_bytes())
    import pandas as pd

    return pd.read_parquet(path)


def _write_temp(folder: Path, stem: str, data: Any, format: str) -> Path:
    """Write ``data`` to a hidden temporary file in ``folder``; nothing else on failure."""
    temp = folder / f".{stem}.tmp.{os.getpid()}.{secrets.token_hex(4)}.{socket.gethostname()}"
    try:
        with open(temp, "xb") as handle:
            _write_payload(handle, data, format)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, ResultsError):
            raise
        if isinstance(error, Exception):
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ResultsError(
                f"cannot save {stem!r} as {format}: {type(error).__name__}: {reason} "
                "(nothing was written; convert the data or choose another format)"
            ) from error
        raise
    return temp


def _write_json_atomically(path: Path, record: dict) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    temp.write_text(json.dumps(record, indent=1))
    os.replace(temp, path)


# ---- saving --------------------------------------------------------------------------------


def save(
    experiment: str,
    data: Any,
    *,
    args: argparse.Namespace | Mapping | None = None,
    format: str = "pickle",
) -> Path:
    """Save ``data`` as the next numbered result of ``experiment``; return the payload's path.

    ``format`` is ``"pickle"`` (any object), ``"mat"`` (a dict of arrays and scipy
    sparse matrices, for MATLAB/Octave and ``scipy.io.loadmat``), ``"npz"`` (arrays),
    ``"json"`` or ``"parquet"`` (a pandas DataFrame). ``args`` (an argparse Namespace or
    a dict) goes into the run record and becomes columns of :func:`runs`, as do the
    scalar values of a dict ``data``. Example, at the end of a script::

        results.save("kmeans", {"inertia": inertia, "labels": labels}, args=args)
    """
    format = _format_of(format)
    folder = folder_of(experiment)
    arguments = _arguments(args)
    scalars = _scalars(data)
    facts = _run_facts()
    started = facts.pop("_started")
    folder.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(folder, experiment, data, format)
    suffix = FORMATS[format]
    try:
        payload = {"size": temp.stat().st_size, "sha256": _sha256_of(temp)}
        stub = {"experiment": experiment, "status": "running", "format": format, **facts}
        number = _reserve(folder, experiment, suffix, stub)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    record_path = folder / f"{experiment}.{number}{RECORD_SUFFIX}"
    payload_path = folder / f"{experiment}.{number}{suffix}"
    try:
        os.replace(temp, payload_path)
        ended = time.time()
        record = {
            "experiment": experiment,
            "number": number,
            "status": "complete",
            "format": format,
            "payload": {"file": payload_path.name, **payload},
            **facts,
            "ended": _timestamp(ended),
            "duration": round(ended - started, 3),
            "args": arguments,
            "scalars": scalars,
            "versions": _versions(),
            "inputs": _jsonable(provenance.inputs()),
            "results_read": _jsonable(provenance.results_read()),
        }
        _write_json_atomically(record_path, record)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
            failed = {**stub, "number": number, "status": "failed", "error": repr(error)}
            _write_json_atomically(record_path, failed)
        raise
    if number > (_read_hint(folder, experiment) or -1):
        _write_hint(folder, experiment, number)
    return payload_path


# ---- reading -------------------------------------------------------------------------------


def _read_record(path: Path) -> dict | None:
    """The record at ``path``; None if it is missing, empty or not JSON."""
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record(experiment: str, number: int) -> dict:
    """The JSON run record of run ``number`` (complete or not) of ``experiment``."""
    folder = _existing_folder(experiment)
    path = folder / f"{experiment}.{int(number)}{RECORD_SUFFIX}"
    if not path.exists():
        raise ResultsError(f"{experiment!r} has no run {number}: {path} does not exist")
    found = _read_record(path)
    if found is None:
        raise ResultsError(f"{path} is not a readable run record (empty or damaged JSON)")
    return found


def load(experiment: str, number: int) -> Any:
    """The data saved by run ``number`` of ``experiment`` (a complete run only)."""
    found = record(experiment, number)
    if found.get("status") != "complete":
        raise ResultsError(
            f"run {number} of {experiment!r} is {found.get('status', 'incomplete')}, not complete "
            f"(crashed, failed or still running): see `invoke results {experiment}`"
        )
    path = _existing_folder(experiment) / found["payload"]["file"]
    try:
        data = _read_payload(path, found["format"])
    except Exception as error:
        raise ResultsError(
            f"{path} cannot be read as {found['format']} ({type(error).__name__}: {error}): "
            "the file is damaged or was changed after the run"
        ) from error
    provenance.note_result_read(experiment, int(number), path)
    return data


def latest_number(experiment: str) -> int:
    """The number of the newest complete run of ``experiment``."""
    folder = _existing_folder(experiment)
    for number in sorted(_list_numbers(folder, experiment), reverse=True):
        found = _read_record(folder / f"{experiment}.{number}{RECORD_SUFFIX}")
        if found is not None and found.get("status") == "complete":
            return number
    raise ResultsError(f"{experiment!r} has no complete run yet in {folder}")


def load_latest(experiment: str) -> Any:
    """The data of the newest complete run of ``experiment`` (the highest number)."""
    return load(experiment, latest_number(experiment))


def _complete_records(folder: Path, experiment: str) -> list[dict]:
    records = []
    for number in sorted(_list_numbers(folder, experiment)):
        found = _read_record(folder / f"{experiment}.{number}{RECORD_SUFFIX}")
        if found is not None and found.get("status") == "complete":
            records.append(found)
    return records


def _row(found: dict) -> dict:
    git = found.get("git") or {}
    row = {
        "number": found["number"],
        "started": found.get("started"),
        "duration": found.get("duration"),
        "host": found.get("host"),
        "script": found.get("script"),
        "script_sha256": found.get("script_sha256"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "format": found.get("format"),
    }
    arguments = found.get("args") or {}
    for name, value in arguments.items():
        row[f"arg.{name}" if name in RUN_COLUMNS else name] = value
    for name, value in (found.get("scalars") or {}).items():
        if name in arguments and arguments[name] == value:
            continue  # the script saved its own argument back
        row[f"result.{name}" if name in RUN_COLUMNS or name in arguments else name] = value
    return row


def runs(experiment: str):
    """A DataFrame with one row per complete run of ``experiment``, oldest first.

    Columns: ``number``, ``started``, ``duration`` (seconds), ``host``, ``script``,
    ``script_sha256``, ``git_commit``, ``git_dirty``, ``format``, then every argument
    and every scalar result (prefixed ``arg.``/``result.`` where names clash). Read
    from the JSON records alone; an experiment without runs gives an empty table.
    """
    import pandas as pd

    folder = folder_of(experiment)
    records = _complete_records(folder, experiment) if folder.is_dir() else []
    table = pd.DataFrame([_row(r) for r in records])
    if table.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    table["started"] = pd.to_datetime(table["started"], format="ISO8601", utc=True)
    return table


def _alive(host: str | None, pid: int | None) -> bool | None:
    """Whether ``pid`` still runs; None when it ran on another machine."""
    if host != socket.gethostname() or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError as error:
        return error.errno == errno.EPERM
    return True


def _unfinished(host, pid) -> str:
    alive = _alive(host, pid)
    return {True: "running", False: "crashed", None: "running or crashed"}[alive]


def incomplete(experiment: str):
    """A DataFrame of what is not a complete run: crashed, failed or still running.

    Columns: ``number`` (none for a payload whose write never finished), ``status``
    (``running``, ``crashed``, ``running or crashed`` when on another host,
    ``failed``, ``no record``, ``damaged record``, ``unfinished write``), ``host``,
    ``pid``, ``started``, ``files``, ``error``.
    """
    import pandas as pd

    columns = ["number", "status", "host", "pid", "started", "files", "error"]
    folder = folder_of(experiment)
    if not folder.is_dir():
        return pd.DataFrame(columns=columns)
    rows = []
    for number, names in sorted(_list_numbers(folder, experiment).items()):
        record_name = f"{experiment}.{number}{RECORD_SUFFIX}"
        found = _read_record(folder / record_name)
        if found is not None and found.get("status") == "complete":
            continue
        if record_name not in names:
            status, found = "no record", {}
        elif found is None:
            status, found = "damaged record", {}
        elif found.get("status") == "running":
            status = _unfinished(found.get("host"), found.get("pid"))
        else:
            status = str(found.get("status"))
        rows.append(
            {
                "number": number,
                "status": status,
                "host": found.get("host"),
                "pid": found.get("pid"),
                "started": found.get("started"),
                "files": sorted(names),
                "error": found.get("error"),
            }
        )
    prefix = f".{experiment}.tmp."
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(prefix):
            pid_text, _, rest = entry.name[len(prefix) :].partition(".")
            pid = int(pid_text) if pid_text.isdigit() else None
            host = rest.partition(".")[2] or None
            running = _alive(host, pid) is True
            rows.append(
                {
                    "number": None,
                    "status": "writing" if running else "unfinished write",
                    "host": host,
                    "pid": pid,
                    "started": _timestamp(entry.stat().st_mtime),
                    "files": [entry.name],
                    "error": None,
                }
            )
    return pd.DataFrame(rows, columns=columns)


# ---- intermediate data ---------------------------------------------------------------------


def _interim_paths(name: str, format: str) -> tuple[Path, Path]:
    _check_name(name, "interim")
    payload = paths.inside(paths.INTERIM_DIR, name + FORMATS[format])
    return payload, payload.with_name(f"{name}.record.json")


def save_interim(name: str, data: Any, format: str = "mat") -> Path:
    """Save intermediate data as ``data/interim/<name>.mat`` (or ``.npz``, ...); return its path.

    A record ``<name>.record.json`` beside it carries the same provenance as a run's,
    and :func:`load_interim` cites it when a later run reads the file.
    """
    format = _format_of(format)
    payload, record_path = _interim_paths(name, format)
    facts = _run_facts()
    facts.pop("_started")
    payload.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(payload.parent, name, data, format)
    digest = _sha256_of(temp)
    os.replace(temp, payload)
    stat = payload.stat()
    record = {
        "interim": name,
        "format": format,
        "payload": {
            "file": payload.name,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": digest,
        },
        **facts,
        "ended": _timestamp(time.time()),
        "scalars": _scalars(data),
        "versions": _versions(),
        "inputs": _jsonable(provenance.inputs()),
        "results_read": _jsonable(provenance.results_read()),
    }
    _write_json_atomically(record_path, record)
    return payload


def load_interim(name: str) -> Any:
    """The data of ``data/interim/<name>.*``, saved by :func:`save_interim` or put there."""
    _check_name(name, "interim")
    folder = paths.INTERIM_DIR
    found = _read_record(paths.inside(folder, f"{name}.record.json")) or {}
    candidates = {
        fmt: folder / f"{name}{suffix}"
        for fmt, suffix in FORMATS.items()
        if (folder / f"{name}{suffix}").is_file()
    }
    written = found.get("payload", {}).get("file")
    if written and (folder / written).is_file():
        format, path = found["format"], folder / written
    elif len(candidates) == 1:
        (format, path), found = next(iter(candidates.items())), {}
    elif not candidates:
        raise ResultsError(
            f"no intermediate data {name!r} in {folder}: save it with save_interim first"
        )
    else:
        names = ", ".join(p.name for p in candidates.values())
        raise ResultsError(f"{name!r} is ambiguous in {folder} ({names}): remove all but one")
    try:
        data = _read_payload(path, format)
    except Exception as error:
        raise ResultsError(
            f"{path} cannot be read as {format} ({type(error).__name__}: {error}): "
            "the file is damaged"
        ) from error
    details = {"role": "interim"}
    stat = path.stat()
    saved = found.get("payload", {})
    if saved.get("size") == stat.st_size and saved.get("mtime_ns") == stat.st_mtime_ns:
        details.update(sha256=saved["sha256"], written_by=found.get("script"))
    provenance.note_input(path, **details)
    return data


# ---- the CLI's report ----------------------------------------------------------------------


def report(experiment: str, show: int | str | None = None) -> str:
    """The text `invoke results` prints: the runs table, or one run's record with ``show``."""
    folder = _existing_folder(experiment)
    if show is not None:
        text = str(show).strip()
        if text == "latest":
            number = latest_number(experiment)
        elif text.isdigit():
            number = int(text)
        else:
            raise ResultsError(f"--show takes a run number (or 'latest'), not {show!r}")
        return json.dumps(record(experiment, number), indent=2)
    table = runs(experiment)
    lines = []
    if table.empty:
        lines.append(f"no complete runs of {experiment!r} in {folder}")
    else:
        shown = table.drop(columns=["script", "format"])
        local = datetime.now().astimezone().tzinfo
        shown["started"] = shown["started"].dt.tz_convert(local).dt.strftime("%Y-%m-%d %H:%M:%S")
        for column, width in (("script_sha256", 12), ("git_commit", 10)):
            shown[column] = [v[:width] if isinstance(v, str) else None for v in shown[column]]
        shown = shown.astype(object).where(shown.notna(), "-")
        lines.append(shown.to_string(index=False, max_colwidth=40))
        lines.append(f"{len(table)} complete runs in {folder}")
    broken = incomplete(experiment)
    for row in broken.itertuples():
        number = "-" if row.number is None or row.number != row.number else int(row.number)
        lines.append(f"incomplete: run {number}: {row.status} (host {row.host}, pid {row.pid})")
    return "\n".join(lines)
