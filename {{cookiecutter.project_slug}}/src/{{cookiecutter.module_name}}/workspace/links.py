"""Where the workspace meets the notebook model: the only place it reads notebooks or code.

Each asks the project's one notebook reader and scope analysis (:mod:`..notebook`),
so "cell N" and "binds" mean here what they mean in ``invoke cells`` and extract-cell:

- :func:`names_read`: the names a ``%run -i`` script reads from the notebook;
- :func:`bound_names`: the names a cell's code binds (who set a name);
- :func:`cell_number`: which cell of the notebook an execution was ("cell N", the
  1-based position ``invoke cells`` prints), from the cell's id or its code.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ProjectError


def names_read(path: str | Path) -> dict[str, list[int]]:
    """Names the script at ``path`` reads before binding them, with their line numbers.

    Raises ``ProjectError`` (or ``OSError``) when the script cannot be read or parsed.
    """
    from ..notebook import free_names

    return free_names(Path(path).read_text(encoding="utf-8"), where=str(path))


def bound_names(source: str) -> frozenset[str]:
    """The names a cell's code binds at the top level (assignments, imports, defs, loops).

    >>> sorted(bound_names("import numpy as np\\n%time x = f(1)\\nfor i in y: pass"))
    ['i', 'np', 'x']
    """
    from ..notebook import effects

    try:
        return effects(source).binds
    except (ProjectError, SyntaxError, ValueError):  # code that does not parse binds nothing
        return frozenset()


# notebook path -> (modification time, the notebook as read), read again when it changes
_notebooks: dict[Path, tuple[int, object]] = {}


def cell_number(notebook: Path | None, cell_id: str | None, source: str | None) -> int | None:
    """The 1-based position of a cell in ``notebook`` (as saved), or None when unknown.

    Found by the cell's id (JupyterLab sends it with every execution) or else by its
    code (:func:`..notebook.find_cell`).
    """
    if notebook is None:
        return None
    try:
        modified = os.stat(notebook).st_mtime_ns
    except OSError:
        return None
    cached = _notebooks.get(notebook)
    if cached is None or cached[0] != modified:
        from .. import notebook as notebooks

        try:
            cached = _notebooks[notebook] = (modified, notebooks.read(notebook))
        except (ProjectError, OSError, ValueError):
            return None
    from ..notebook import find_cell

    cell = find_cell(cached[1], cell_id=cell_id, source=source)
    return cell.number if cell is not None else None


def notebook_of(user_ns: dict) -> Path | None:
    """The notebook a Jupyter kernel runs (the server tells it in ``__session__``)."""
    session = user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    if not isinstance(session, str) or not session.endswith((".ipynb", ".py")):
        return None
    path = Path(session)
    return path if path.is_absolute() else Path.cwd() / path.name
