"""What this process has read, for the provenance records of what it writes.

The data helpers note the database they read, the results module notes the
results it loads and the interim files it reads; a run record (results) or a
figure's sidecar (figures) then lists them. Nothing here hashes large files:
a note holds what the caller already knows (the ETL manifest's hashes of the
raw files behind a database, say) plus the file's size and modification time.

>>> reset(); note_input("/nonexistent/input.csv", role="example")
>>> [(i["path"], i["exists"], i["role"]) for i in inputs()]
[('/nonexistent/input.csv', False, 'example')]
"""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path

_INPUTS: dict[str, dict] = {}
_RESULTS_READ: dict[tuple[str, int], dict] = {}


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
