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
