"""Where the workspace meets the notebook model: the only place it reads notebooks or code.

Three small functions, so that they can be pointed at the project's one notebook
reader and scope analysis (``notebook/``) without touching the rest of the workspace:

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
    from ..cells import free_names

    return free_names(Path(path).read_text(encoding="utf-8"), where=str(path))


def bound_names(source: str) -> frozenset[str]:
    """The names a cell's code binds at the top level (assignments, imports, defs, loops).

    >>> sorted(bound_names("import numpy as np\\n%time x = f(1)\\nfor i in y: pass"))
    ['i', 'np', 'x']
    """
    import symtable

    from ..cells import to_python

    try:
        table = symtable.symtable(to_python(source), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(
        s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()
    )


# notebook path -> (modification time, cell ids, cell sources), read again when it changes
_notebooks: dict[Path, tuple[int, list[str | None], list[str]]] = {}


def cell_number(notebook: Path | None, cell_id: str | None, source: str | None) -> int | None:
    """The 1-based position of a cell in ``notebook`` (as saved), or None when unknown.

    Found by the cell's id (JupyterLab sends it with every execution) or else by its
    code, when exactly one cell of the saved notebook has that code.
    """
    if notebook is None:
        return None
    try:
        modified = os.stat(notebook).st_mtime_ns
    except OSError:
        return None
    cached = _notebooks.get(notebook)
    if cached is None or cached[0] != modified:
        try:
            import jupytext

            read = jupytext.read(notebook)
        except (ProjectError, OSError, ValueError, ImportError):
            return None
        ids = [cell.get("id") for cell in read.cells]
        sources = [cell.source.strip() for cell in read.cells]
        cached = _notebooks[notebook] = (modified, ids, sources)
    _, ids, sources = cached
    if cell_id is not None and cell_id in ids:
        return ids.index(cell_id) + 1
    if source is not None and sources.count(text := source.strip()) == 1:
        return sources.index(text) + 1
    return None


def notebook_of(user_ns: dict) -> Path | None:
    """The notebook a Jupyter kernel runs (the server tells it in ``__session__``)."""
    session = user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    if not isinstance(session, str) or not session.endswith((".ipynb", ".py")):
        return None
    path = Path(session)
    return path if path.is_absolute() else Path.cwd() / path.name
