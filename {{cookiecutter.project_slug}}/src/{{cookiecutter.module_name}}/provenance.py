"""What a run read and ran, for the provenance records of what it writes.

The data helpers note the database they read, the results store notes the
results it loads and the interim files it reads; a run record (results) or a
figure's sidecar (figures) then lists them. Nothing here hashes large files:
a note holds what the caller already knows (the ETL manifest's hashes of the
raw files behind a database, say) plus the file's size and modification time.

The facts of the run itself live here too, for results and figures alike: the
script and its hashes (:func:`script_hash`: a reformat keeps it), the git state
of the project and of the script itself (:func:`git_state`), the sweep a run
belongs to, machine, user, start time and package versions (:func:`run_facts`).

>>> reset(); note_input("/nonexistent/input.csv", role="example")
>>> [(i["path"], i["exists"], i["role"]) for i in inputs()]
[('/nonexistent/input.csv', False, 'example')]
"""

from __future__ import annotations

import ast
import getpass
import hashlib
import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

# Set by `invoke sweep` for each run it starts: the sweep's id and the run's index in it.
SWEEP_VARIABLE = "PROJECT_SWEEP"
SWEEP_RUN_VARIABLE = "PROJECT_SWEEP_RUN"
KEY_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "sklearn", "torch")

_INPUTS: dict[str, dict] = {}
_RESULTS_READ: dict[tuple[str, int], dict] = {}
_SELECTIONS: list[dict] = []


def note_input(path: str | os.PathLike, **details) -> None:
    """Remember that this process read ``path``; ``details`` (JSON-able) go into records."""
    resolved = str(Path(path).resolve())
    try:
        stat = os.stat(resolved)
        facts = {"exists": True, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    except OSError:
        facts = {"exists": False}
    _INPUTS[resolved] = {"path": resolved, **facts, **_INPUTS.get(resolved, {}), **details}


def note_result_read(experiment: str, number: int, path: str | os.PathLike) -> None:
    """Remember that this process loaded result ``number`` of ``experiment`` from ``path``."""
    _RESULTS_READ[(experiment, number)] = {
        "experiment": experiment,
        "number": number,
        "path": str(Path(path).resolve()),
    }


def note_selection(experiment: str, criteria: dict, numbers: list[int]) -> None:
    """Remember that this process selected runs ``numbers`` of ``experiment`` by ``criteria``
    (JSON-able: what was asked and what it resolved to), for a figure's sidecar."""
    _SELECTIONS.append({"experiment": experiment, "criteria": criteria, "numbers": numbers})


def selections() -> list[dict]:
    """The selections noted with :func:`note_selection`, in order."""
    return list(_SELECTIONS)


def inputs() -> list[dict]:
    """The files noted with :func:`note_input`, in the order first read."""
    return list(_INPUTS.values())


def results_read() -> list[dict]:
    """The results noted with :func:`note_result_read`, in the order first loaded."""
    return list(_RESULTS_READ.values())


def reset() -> None:
    """Forget everything noted (a new run in the same interpreter, e.g. ``%run -i``)."""
    _INPUTS.clear()
    _RESULTS_READ.clear()
    _SELECTIONS.clear()


def code_hash(code: str) -> str:
    """A hash of Python code, normalised: its syntax tree, so comments and layout don't count.

    Reformatting a script (``ruff format``), editing its comments or re-wrapping its
    lines keeps the hash; changing what it does changes it. Sweeps (``--resume``), the
    workflow and results selection recognise a script by it (see :func:`script_hash`).
    Code that does not parse is hashed as its exact text. The tree's form can differ
    between Python versions, so compare hashes made by one Python.

    >>> code_hash("x = 1  # one") == code_hash("x=1")
    True
    >>> code_hash("x = 1") == code_hash("x = 2")
    False
    """
    try:
        normal = "ast:" + ast.dump(ast.parse(code), include_attributes=False)
    except (SyntaxError, ValueError):
        normal = "text:" + code
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()


def script_hash(path: str | os.PathLike) -> str:
    """:func:`code_hash` of the script at ``path`` (read as UTF-8)."""
    return code_hash(Path(path).read_bytes().decode("utf-8", "surrogateescape"))


def file_hash(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's exact bytes (kept beside :func:`script_hash` in records)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- the run itself: script, git, machine, time --------------------------------------------------

_IMPORTED_AT = time.time()
_CELL_STARTED = {"at": _IMPORTED_AT}
_GIT_STATES: dict[tuple, dict | None] = {}
_SCRIPT_HASHES: dict[str, str] = {}  # exact sha256 -> script_hash: parsed once per version


def _watch_cells() -> bool:
    """In IPython, note when each cell starts: a run there (``%run -i``) starts with its cell."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return False
    shell.events.register("pre_run_cell", lambda *info: _CELL_STARTED.update(at=time.time()))
    return True


_IN_IPYTHON = _watch_cells()


def timestamp(seconds: float) -> str:
    """``seconds`` since the epoch as local ISO 8601 time with milliseconds and offset."""
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


def run_started() -> float:
    """A run starts with its process, or in IPython (``%run -i`` in a notebook) with its cell."""
    return _CELL_STARTED["at"] if _IN_IPYTHON else _process_start()


def running_script() -> Path | None:
    """The script being run: ``__main__.__file__`` (also under ``%run``), else ``sys.argv[0]``."""
    main = sys.modules.get("__main__")
    for candidate in (getattr(main, "__file__", None), sys.argv[0] if sys.argv else None):
        if candidate and os.path.isfile(candidate):
            return Path(candidate).resolve()
    return None


def _git(root: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, timeout=60)


def script_state(root: Path, script: str | os.PathLike) -> str | None:
    """Whether ``script`` is as committed: ``"committed"`` (tracked, unchanged), ``"modified"``,
    ``"untracked"``, ``"ignored"`` or ``"outside"`` (not in the repository); None outside git."""
    try:
        done = _git(
            root,
            "status",
            "--porcelain=v2",
            "--untracked-files=all",
            "--ignored=matching",
            "--",
            str(script),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return "outside" if b"outside repository" in done.stderr else None
    kinds = {line[:1] for line in done.stdout.decode("utf-8", "replace").splitlines()}
    if not kinds:
        return "committed"
    return "untracked" if "?" in kinds else "ignored" if "!" in kinds else "modified"


def git_state(root: Path, script: str | os.PathLike | None = None) -> dict | None:
    """Commit, branch, dirty flag and sha256 of the uncommitted changes; None outside git.

    With ``script``, also ``"script"``: its own state (:func:`script_state`), so a run
    of a committed script in a tree with other changes can be told from a run of an
    edited or new script; ``other_changes`` counts the changed files besides it.
    """
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
    if script is not None:
        state["script"] = script_state(root, script)
        own = state["script"] in ("modified", "untracked")
        state["other_changes"] = len(changes) - own
    return state


def versions(packages=KEY_PACKAGES) -> dict:
    """Python's version and that of each of ``packages`` this process has imported."""
    found = {"python": sys.version.split()[0]}
    for name in (*packages, __name__.rpartition(".")[0]):
        module = sys.modules.get(name)
        if module is not None and isinstance(getattr(module, "__version__", None), str):
            found[name] = module.__version__
    return found


def user() -> str:
    """The user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def run_facts(root: Path) -> dict:
    """What identifies this run: script and its hashes, arguments, code state, sweep, machine.

    ``"_started"`` is the start as seconds since the epoch. git runs once per run
    (per script version and start), not once per save: a script may save many times.
    """
    script = running_script()
    exact = file_hash(script) if script else None
    started = run_started()
    key = (root, exact, started)
    if key not in _GIT_STATES:
        _GIT_STATES[key] = git_state(root, script)
    if script and exact not in _SCRIPT_HASHES:
        _SCRIPT_HASHES[exact] = script_hash(script)
    sweep_run = os.environ.get(SWEEP_RUN_VARIABLE, "")
    return {
        "script": str(script) if script else None,
        "script_sha256": exact,
        "script_hash": _SCRIPT_HASHES[exact] if script else None,
        "argv": list(sys.argv),
        "git": _GIT_STATES[key],
        "sweep": os.environ.get(SWEEP_VARIABLE) or None,
        "sweep_run": int(sweep_run) if sweep_run.isdigit() else None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "user": user(),
        "started": timestamp(started),
        "_started": started,
    }
