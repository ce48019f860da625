"""Notebooks on disk: find one by name, read it (either file of a jupytext pair), number its cells.

One reader for every command: :func:`read` takes a path or a bare name
(``explore.ipynb`` is found under ``notebooks/``), reads it with jupytext, and
of a pair whose cells differ reads the file saved last, saying so in one
message (:attr:`Notebook.note`). A cell's number is its 1-based position among
all cells, markdown included: the N-th ``# %%`` of the paired script, the
number ``invoke cells`` prints; ``In [n]`` is :attr:`Cell.execution_count`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ProjectError


class NotebookError(ProjectError):
    """A notebook that cannot be found or read, or a cell that is not in it."""


class NoSuchNotebook(NotebookError):
    """A path or name that is no notebook."""


REPAIR = "restore it from git or re-save it in Jupyter"
SKIPPED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "build", "dist"}
SUFFIXES = (".ipynb", ".py")


@dataclass(frozen=True)
class Cell:
    """One cell: its 1-based position among all cells, kind, source and metadata."""

    number: int
    kind: str
    source: str
    id: str | None = None
    tags: tuple[str, ...] = ()
    title: str | None = None
    execution_count: int | None = None

    @property
    def first_line(self) -> str:
        """The first non-blank line of the source (markdown headings without their '#')."""
        for line in self.source.splitlines():
            if line.strip():
                return line.strip().lstrip("#").strip() if self.kind == "markdown" else line.strip()
        return ""

    @property
    def is_code(self) -> bool:
        return self.kind == "code"

    @property
    def label(self) -> str:
        """``cell 10`` or ``cell 10 (In [7])``: how every message names this cell."""
        count = f" (In [{self.execution_count}])" if self.execution_count is not None else ""
        return f"cell {self.number}{count}"


@dataclass
class Notebook:
    """A notebook read from ``path``.

    ``shown`` is the path as messages show it; ``note`` says which file of a
    pair was read and why (empty when there was no choice). ``script`` is the
    paired ``py:percent`` file when its cells are the ones read, and
    ``starts[i]`` the 0-based line of cell ``i + 1``'s first line in it (its
    ``# %%`` marker), as jupytext's own reader splits it.
    """

    path: Path
    cells: list[Cell]
    note: str = ""
    shown: str = ""
    script: Path | None = None
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shown = self.shown or str(self.path)

    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_code and c.source.strip()]

    def cell_at_line(self, line: int) -> int | None:
        """The number of the cell holding 1-based ``line`` of :attr:`script`, if any."""
        number = sum(start < line for start in self.starts)
        return number or None


def cell_starts(text: str) -> list[int]:
    """The 0-based first line of each cell of a ``py:percent`` script, as jupytext splits it.

    A commented cell magic (``# %%capture``) does not start a cell, a header
    of notebook metadata is the raw cell jupytext makes of it.

    >>> cell_starts("x = 1\\n# %%\\n# %%capture\\ny = 2\\n")
    [0, 1]
    """
    from jupytext.formats import get_format_implementation
    from jupytext.header import header_to_metadata_and_cell

    implementation = get_format_implementation(".py", "percent")
    lines = text.splitlines()
    _, _, header, position = header_to_metadata_and_cell(
        lines, implementation.header_prefix, implementation.header_suffix, ".py"
    )
    starts = [0] if header else []
    fmt = {"extension": ".py", "format_name": "percent"}
    while position < len(lines):
        _, used = implementation.cell_reader_class(fmt, "python").read(lines[position:])
        starts.append(position)
        position += max(used, 1)
    return starts


def notebook_from_nbformat(
    nb, path: str | os.PathLike, note: str = "", shown: str = ""
) -> Notebook:
    """A :class:`Notebook` from an nbformat notebook (what ``jupytext.read`` returns)."""
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        metadata = cell.get("metadata", {})
        tags = metadata.get("tags", [])
        count = cell.get("execution_count")
        cells.append(
            Cell(
                number=number,
                kind=cell.cell_type,
                source=cell.source if isinstance(cell.source, str) else "".join(cell.source),
                id=cell.get("id"),
                tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
                title=metadata.get("title") if isinstance(metadata.get("title"), str) else None,
                execution_count=count if isinstance(count, int) else None,
            )
        )
    return Notebook(Path(path), cells, note, shown)


def shown_path(path: Path) -> str:
    """``path`` as messages show it: relative to the project root when inside it."""
    from .. import paths

    try:
        return path.resolve().relative_to(paths.find_root()).as_posix()
    except (ValueError, ProjectError):
        return str(path)


def locate(name: str | os.PathLike) -> Path:
    """The notebook file ``name`` means: a path as given, else a bare name under ``notebooks/``.

    ``explore.ipynb``, ``explore`` and ``figures/kmeans_purity.py`` are found
    in ``notebooks/`` (or one of its subfolders, when only one holds it).
    """
    from .. import paths

    path = Path(name)
    if path.is_file():
        return path
    if path.is_dir():
        raise NoSuchNotebook(f"{path} is a folder; {_what_exists(path / 'x.ipynb')}")
    if path.is_absolute():
        raise NoSuchNotebook(f"{path} does not exist; {_what_exists(path)}")
    try:
        folder = paths.NOTEBOOKS_DIR
    except ProjectError:
        raise NoSuchNotebook(f"{path} does not exist; {_what_exists(path)}") from None
    wanted = [path] if path.suffix in SUFFIXES else [path.with_suffix(s) for s in SUFFIXES]
    found = [folder / w for w in wanted if (folder / w).is_file()]
    if not found and folder.is_dir():
        found = [
            p
            for p in notebooks_under(folder)
            if any(p.as_posix().endswith("/" + w.as_posix()) for w in wanted)
        ]
    # The two files of one pair are one notebook: prefer the .ipynb, which knows In [n].
    stems = sorted({p.with_suffix("") for p in found})
    if len(stems) > 1:
        listed = ", ".join(shown_path(s) for s in stems)
        raise NotebookError(f"{name} is ambiguous: it could be {listed}; give the path")
    if stems:
        return next(p for p in sorted(found, key=lambda p: p.suffix != wanted[0].suffix))
    # The hint lists the folder the user meant: the one given, else its place in notebooks/.
    bare = len(path.parts) == 1 or not path.parent.is_dir()
    meant = folder / path if bare and (folder / path).parent.is_dir() else path
    raise NoSuchNotebook(f"{path} does not exist; {_what_exists(meant)}")


def notebooks_under(folder: Path) -> list[Path]:
    """Every ``.ipynb`` and ``.py`` under ``folder``, hidden and build folders skipped."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in SUFFIXES
        and p.is_file()
        and not any(
            part.startswith(".") or part in SKIPPED_FOLDERS
            for part in p.relative_to(folder).parts[:-1]
        )
    )


def read(name: str | os.PathLike) -> Notebook:
    """The notebook ``name`` means (see :func:`locate`), read with jupytext.

    Of a jupytext pair (``jupytext.toml``, or the notebook's own
    ``jupytext.formats``) whose cells differ, the file saved last is read (on
    equal times: the script, the file version control keeps) and
    :attr:`Notebook.note` says so. When the cells agree, the ``.ipynb`` is
    read, which also holds the execution counts.
    """
    path = locate(name)
    given = Path(name) == path and not path.is_absolute()
    shown = str(name) if given else shown_path(path)
    main = _read_one(path, shown)
    pair = _paired_file(path, main)
    other = None
    if pair is not None:
        try:
            other = _read_one(pair, shown_path(pair))
        except NotebookError:
            other = None
    if other is None:
        return _with_script(notebook_from_nbformat(main, path, shown=shown), path)
    if _texts(main) == _texts(other):
        ipynb, nb = (pair, other) if pair.suffix == ".ipynb" else (path, main)
        script = pair if ipynb == path else path
        return _with_script(notebook_from_nbformat(nb, ipynb, shown=shown), script)
    newer, nb = (pair, other) if _newer(pair, path) else (path, main)
    older = path if newer == pair else pair
    note = (
        f"{newer.name} and {older.name} differ: reading {newer.name}, the newer "
        f"(`jupytext --sync {shown}` pairs them again)"
    )
    return _with_script(notebook_from_nbformat(nb, newer, note=note, shown=shown), newer)


def _newer(one: Path, other: Path) -> bool:
    """Whether ``one`` was saved after ``other``; on a tie the ``.py`` counts as newer."""
    a, b = one.stat().st_mtime_ns, other.stat().st_mtime_ns
    return a > b or (a == b and one.suffix == ".py")


def _texts(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def _with_script(notebook: Notebook, script: Path) -> Notebook:
    """``notebook`` knowing where its cells are in ``script``, when that is a percent script."""
    if script.suffix != ".py":
        return notebook
    try:
        text = script.read_text(encoding="utf-8")
        starts = cell_starts(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return notebook
    if len(starts) == len(notebook.cells) and "# %%" in text:
        notebook.script, notebook.starts = script, starts
    return notebook


def _read_one(path: Path, shown: str):
    """The nbformat notebook in ``path``; one line naming the file when it is not one."""
    import jupytext

    try:
        nb = jupytext.read(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        reason = (
            str(error).split(":")[0] if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        )
        raise NotebookError(f"{shown} is not a valid notebook ({reason}): {REPAIR}") from None
    except Exception as error:  # jupytext and nbformat raise many kinds on a damaged file
        reason = " ".join(str(error).split()) or type(error).__name__
        if len(reason) > 100:
            reason = reason[:100].rsplit(" ", 1)[0] + " ..."
        raise NotebookError(f"{shown} is not a valid notebook ({reason}): {REPAIR}") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or not all(
        isinstance(c, dict) and isinstance(c.get("source"), str | list) for c in cells
    ):
        raise NotebookError(f"{shown} is not a valid notebook (no list of cells): {REPAIR}")
    return nb


def _paired_file(path: Path, nb) -> Path | None:
    """The other file of a jupytext pair, when it exists."""
    from jupytext.config import load_jupytext_config
    from jupytext.formats import guess_format, long_form_one_format
    from jupytext.paired_paths import paired_paths

    try:
        formats = nb.metadata.get("jupytext", {}).get("formats")
        if not formats:
            config = load_jupytext_config(str(path.resolve()))
            formats = config.default_formats(str(path.resolve())) if config else None
        if not formats:
            return None
        fmt = {"extension": path.suffix}
        if path.suffix != ".ipynb":
            shown = nb.metadata.get("jupytext", {}).get("text_representation", {})
            fmt["format_name"] = (
                shown.get("format_name")
                or guess_format(path.read_text(encoding="utf-8"), path.suffix)[0]
            )
        fmt = long_form_one_format(fmt)
        for other, _ in paired_paths(str(path.resolve()), fmt, formats):
            if Path(other) != path.resolve() and Path(other).is_file():
                return Path(other)
    except Exception:  # an unusual pairing: read the file given, as given
        return None
    return None


def _what_exists(path: Path) -> str:
    folder = path.parent
    name = shown_path(folder) if folder.is_absolute() else str(folder)
    if not folder.is_dir():
        return f"there is no folder {name}: give a notebook's path, e.g. notebooks/explore.ipynb"
    found = sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb")
    if not found:
        return f"{name} holds no .ipynb notebook: give the path of a notebook"
    listed = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "")
    return f"{name} holds {listed}: give one of them"


def find_cell(
    notebook: Notebook, *, cell_id: str | None = None, source: str | None = None
) -> Cell | None:
    """The cell of ``notebook`` with id ``cell_id``, else the one cell whose code is ``source``.

    What a kernel knows of a cell (its id, or the code it ran) turned into the
    cell's number, so that every message says "cell N" the same way. None when
    neither places it, or when several cells hold that code (naming one would be a guess).
    """
    if cell_id is not None:
        for cell in notebook.cells:
            if cell.id == cell_id:
                return cell
    if source is not None:
        wanted = source.strip()
        matches = [c for c in notebook.cells if c.is_code and c.source.strip() == wanted]
        if len(matches) == 1:
            return matches[0]
    return None


def select(notebook: Notebook, cell: str | int = "", *, execution_count: int | None = None) -> Cell:
    """The code cell ``cell`` names: a 1-based number, a cell id, a tag or a title.

    ``execution_count`` picks the cell that ran as ``In [n]`` instead.
    """
    shown, cells = notebook.shown, notebook.cells
    listing = f"`invoke cells {shown}` lists them"
    if execution_count is not None:
        ran = [c for c in cells if c.execution_count == execution_count]
        if not ran:
            counts = sorted(c.execution_count for c in cells if c.execution_count is not None)
            have = f"it has In [{ranges(counts)}]" if counts else "it holds no execution counts"
            source = f" ({notebook.path.name} was read: {notebook.note})" if notebook.note else ""
            raise NotebookError(f"no cell of {shown} ran as In [{execution_count}]: {have}{source}")
        found = ran[0]
    elif str(cell).strip().lstrip("-").isdigit():
        number = int(cell)
        if not cells:
            raise NotebookError(f"{shown} has no cells: open it in Jupyter and write some code")
        if not 1 <= number <= len(cells):
            raise NotebookError(
                f"{shown} has {len(cells)} cells (1-{len(cells)}), no cell {number}: {listing}"
            )
        found = cells[number - 1]
    else:
        wanted = str(cell).strip()
        matches = [c for c in cells if wanted and (wanted == c.id or wanted in c.tags)]
        matches = matches or [c for c in cells if wanted and c.title == wanted]
        if len(matches) != 1:
            tags = sorted({t for c in cells for t in c.tags})
            what = "several cells" if matches else "no cell"
            known = f" (tags: {', '.join(tags)})" if tags else ""
            raise NotebookError(
                f"{shown} has {what} with id, tag or title {wanted!r}{known}: "
                f"give a cell number; {listing}"
            )
        found = matches[0]
    code = ranges([c.number for c in notebook.code_cells()])
    if not found.is_code:
        raise NotebookError(
            f"cell {found.number} of {shown} is a {found.kind} cell, not code: "
            f"code cells are {code or 'none'} ({listing})"
        )
    if not found.source.strip():
        raise NotebookError(
            f"cell {found.number} of {shown} is an empty code cell: code cells with code are "
            f"{code or 'none'} ({listing})"
        )
    return found


def ranges(numbers: Iterable[int]) -> str:
    """``[2, 3, 4, 8, 10]`` as ``'2-4, 8, 10'``.

    >>> ranges([2, 3, 4, 8, 10, 11])
    '2-4, 8, 10-11'
    """
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
