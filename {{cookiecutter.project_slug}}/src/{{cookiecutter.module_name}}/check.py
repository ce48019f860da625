"""Restart and run all: each notebook top to bottom in a fresh kernel, reporting the first failure.

:func:`run_notebooks` (``invoke check-notebooks``) runs each notebook in a new
kernel of this Python, in the notebook's folder, with a time limit per cell,
on a copy in memory (the notebook files are never written), and reports the
first cell that fails, as ``invoke lint`` places it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import lint, paths
from .errors import ProjectError
from .notebook import files


class CheckError(ProjectError):
    """Notebooks cannot be run: a missing kernel, or a name that is no notebook."""


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_FRAME = re.compile(r"Cell In ?\[\d*\], line (\d+)")
KERNEL_SAID = re.compile(r"^(?!\[IPKernelApp\])\s*\S")  # not the kernel app's own chatter


@dataclass
class NotebookRun:
    """How one notebook ran: its cells, the time taken, and the first failure if any."""

    path: str
    cells: int
    seconds: float
    failed_cell: int | None = None
    error: str = ""
    where: str = ""
    hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        if self.ok:
            return f"{self.path}: ok, {self.cells} cells in {self.seconds:.1f} s"
        cell = f"cell {self.failed_cell} failed: " if self.failed_cell else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.where}: {cell}{self.error}{hint}"


@contextmanager
def scratch_outputs() -> Iterator[Path]:
    """A scratch copy of results/ and figures/ for a checking run, removed afterwards.

    The notebooks read the results and figures as they are and save into the
    copy, so checking leaves the real folders byte for byte as they were.
    results/ is copied as hard links where the file system allows (a results
    store only ever adds files, by rename); figures/ (small, rewritten in place
    by savefig) as real copies.
    """
    root = paths.find_root()
    scratch = Path(tempfile.mkdtemp(prefix=".check-notebooks-", dir=root))
    try:
        for name, link in (("results", True), ("figures", False)):
            real = root / name
            if real.is_dir():
                shutil.copytree(real, scratch / name, symlinks=True, copy_function=_linker(link))
            else:
                (scratch / name).mkdir()
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _linker(link: bool):
    def copy(source: str, target: str) -> None:
        if link:
            try:
                os.link(source, target)
                return
            except OSError:
                pass
        shutil.copy2(source, target)

    return copy


def find_notebooks(names: Iterable[str] | None = None) -> list[Path]:
    """The notebooks called ``names`` (``explore``, ``explore.ipynb``, ``notebooks/explore``).

    Without names: every notebook under ``notebooks/``, those at its top first.
    A notebook is its ``.ipynb``, or its ``.py`` when it has no ``.ipynb``.
    """
    folder = paths.NOTEBOOKS_DIR
    if not names:
        stems = (
            {f.with_suffix("") for f in files.notebooks_under(folder) if lint.is_notebook(f)}
            if folder.is_dir()
            else set()
        )
        ordered = sorted(stems, key=lambda s: (len(s.relative_to(folder).parts), s.as_posix()))
        return [_stored(stem) for stem in ordered]
    found = []
    for name in names:
        try:
            path = files.locate(name)
        except files.NoSuchNotebook:
            raise CheckError(
                f"no notebook {name!r} in {files.shown_path(paths.NOTEBOOKS_DIR)}/: give its name "
                "(explore) or path (notebooks/explore.ipynb), or no name to run them all"
            ) from None
        found.append(_stored(path.with_suffix("")))
    return list(dict.fromkeys(found))


def _stored(stem: Path) -> Path:
    """The file of notebook ``stem``: its ``.ipynb`` if there is one, else its ``.py``."""
    first = stem.with_suffix(".ipynb")
    return first if first.is_file() else stem.with_suffix(".py")


def run_notebook(path: str | os.PathLike, timeout: float = 600) -> NotebookRun:
    """Run the notebook at ``path`` from a fresh kernel of this Python, top to bottom, in memory.

    The kernel starts in the notebook's folder; a cell running longer than
    ``timeout`` seconds fails. Cells tagged ``raises-exception`` may fail and
    ``skip-execution`` ones are skipped, as in nbclient. Nothing is written:
    not the notebook, and not results/ or figures/ (see :func:`scratch_outputs`).
    """
    import jupytext
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = files.read(path)
    document = jupytext.read(notebook.path)  # a copy in memory: outputs land here, never on disk
    # Always this Python's own kernel: a user-wide "python3" kernelspec may be another Python.
    manager = AsyncKernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    client = NotebookClient(
        document,
        km=manager,
        timeout=timeout,
        resources={"metadata": {"path": str(notebook.path.parent)}},
    )
    # Named as lint places its findings: the paired script when its cells are the ones run.
    run = NotebookRun(files.shown_path(notebook.script or notebook.path), len(document.cells), 0.0)
    number, line = 0, 1
    started = time.monotonic()
    # The kernel process's own log (not the cells' output) is kept to explain a dead kernel.
    with tempfile.TemporaryFile("w+") as kernel_log, scratch_outputs() as outputs:
        env = {**os.environ, paths.OUTPUTS_VARIABLE: str(outputs)}
        try:
            with client.setup_kernel(cleanup_kc=True, stderr=kernel_log, env=env):
                for number, cell in enumerate(document.cells, 1):
                    client.execute_cell(cell, number - 1)
        except CellExecutionError as error:
            frame = CELL_FRAME.search(ANSI.sub("", error.traceback or ""))
            line = int(frame[1]) if frame else 1
            detail = (str(error.evalue or "").strip().splitlines() or [""])[0]
            run.error = f"{error.ename}: {detail}" if detail else error.ename
        except CellTimeoutError:
            run.error = f"did not finish within {timeout:g} s"
            run.hint = "make it faster, or give it more time with --timeout"
        except NoSuchKernel:
            raise CheckError("no Python kernel: pip install ipykernel (or -e '.[dev]')") from None
        except RuntimeError as error:  # the kernel died, or never answered
            kernel_log.seek(0)
            said = [t.strip() for t in kernel_log.read().splitlines() if KERNEL_SAID.match(t)]
            died = isinstance(error, DeadKernelError)
            run.error = "the kernel died" if died else f"the kernel failed ({error})"
            run.error += f": {said[-1]}" if said else ""
            run.hint = "out of memory? run the notebook in Jupyter to see" if died else ""
    run.seconds = time.monotonic() - started
    if run.error:
        run.failed_cell = number or None
        where = lint.locate(notebook, number, line) if number else (run.path, 1, None)
        run.where = lint.where(*where)
    return run


def run_notebooks(
    names: Iterable[str] | None = None, timeout: float = 600
) -> Iterator[NotebookRun]:
    """Run the notebooks called ``names`` (default: all) in turn; see :func:`run_notebook`.

    The names are checked, and every notebook read, before any kernel starts:
    a malformed notebook is one line (:class:`.files.NotebookError`), not a failed run.
    """
    found = find_notebooks(names)
    for path in found:
        files.read(path)
    return (run_notebook(path, timeout) for path in found)
