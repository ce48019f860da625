"""The first hour: JupyterLab on the project's own kernel, and new notebooks to start from.

``invoke lab`` registers the project's Jupyter kernel (:func:`register_kernel`) and
starts JupyterLab (:func:`lab_command`); ``invoke new-notebook NAME`` writes a paired
notebook (:func:`new_notebook`). The kernel is named after the project
(``penguin-study``), runs the Python of the environment that registered it, and
loads the workspace extension (``%workspace``) as it starts, so every notebook on it
has it, including those made from JupyterLab's launcher.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from . import paths
from .errors import ProjectError

# A notebook name: a file name without dots, so NAME.py and NAME.ipynb are its pair.
NOTEBOOK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

# What `invoke new-notebook NAME` writes to notebooks/NAME.py; NAME.ipynb is read from it.
STARTER = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: {display_name}
#     language: python
#     name: {kernel}
# ---

# %% [markdown]
# # {name}
#
# The project's kernel has the workspace extension loaded: `%workspace` lists your variables.
# `data.tables()` lists the tables `invoke etl` loaded from `data/raw/`, `data.load(table)`
# reads one into pandas and `data.query(sql)` runs SQL on them. When a cell computes what you
# want to keep, give it a tag (its name) and run `invoke extract-cell notebooks/{name}.ipynb N`
# with N its number in `invoke cells notebooks/{name}.ipynb`.

# %%
from {package} import data, results  # noqa: F401

# %%
data.tables()
"""


class StarterError(ProjectError):
    """A notebook name is refused, or JupyterLab is missing."""


def kernel_name() -> str:
    """The project's Jupyter kernel: its distribution name, e.g. ``penguin-study``."""
    return re.sub(r"[^a-z0-9._-]", "-", paths.project_name().lower())


def kernel_display_name() -> str:
    """What JupyterLab shows for the kernel: ``Python (penguin-study)``."""
    return f"Python ({kernel_name()})"


def starter_text(name: str) -> str:
    """The ``py:percent`` text of a new notebook called ``name``."""
    return STARTER.format(
        name=name, kernel=kernel_name(), display_name=kernel_display_name(), package=paths.PACKAGE
    )


def register_kernel(prefix: str | os.PathLike | None = None) -> Path:
    """Install the project's kernel spec under ``prefix`` (default: this environment); its folder.

    The kernel runs this Python (``sys.executable``) and loads ``<package>.workspace``
    as it starts. It calls the extension's ``load_ipython_extension`` rather than
    IPython's ``--ext``, so a notebook's own ``%load_ext <package>.workspace`` stays
    silent (``--ext`` would make it print "already loaded") and binds no name.
    Registering again replaces the spec, so it always names the environment that
    registered it last.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    extension = f"{paths.PACKAGE}.workspace"
    load = f"__import__({extension!r}, fromlist=['_']).load_ipython_extension(get_ipython())"
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--InteractiveShellApp.exec_lines={load}",
        ],
        "display_name": kernel_display_name(),
        "language": "python",
        "metadata": {"debugger": True},
    }
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
        installed = KernelSpecManager().install_kernel_spec(
            folder, kernel_name(), prefix=str(prefix or sys.prefix)
        )
    return Path(installed)


def lab_command(arguments: list[str] = ()) -> list[str]:
    """The command that starts JupyterLab in the project root on the project's kernel."""
    lab = Path(sys.executable).parent / "jupyter-lab"
    if importlib.util.find_spec("jupyterlab") is None or not lab.exists():
        raise StarterError(
            f"JupyterLab is not installed in {sys.prefix}: run `uv sync` (or "
            "`pip install -e '.[notebook]'`) in the project"
        )
    return [
        str(lab),
        f"--ServerApp.root_dir={paths.find_root()}",
        f"--MappingKernelManager.default_kernel_name={kernel_name()}",
        *arguments,
    ]


def notebook_problem(name: str) -> str | None:
    """Say why ``name`` cannot be a new notebook's name, or None."""
    if not NOTEBOOK_NAME.fullmatch(name):
        return (
            f"notebook name {name!r}: use letters, digits, '_' and '-', starting with a letter "
            "(it becomes notebooks/NAME.ipynb and NAME.py)"
        )
    # The kernel runs in notebooks/, so notebooks/NAME.py would be imported as module NAME.
    if name.isidentifier() and (
        name in sys.stdlib_module_names
        or name == paths.PACKAGE
        or importlib.util.find_spec(name) is not None
    ):
        return (
            f"notebook name {name!r} would shadow the module {name!r} for every notebook in "
            f"notebooks/ (`import {name}` would read notebooks/{name}.py): choose another name"
        )
    for suffix in (".py", ".ipynb"):
        existing = paths.NOTEBOOKS_DIR / f"{name}{suffix}"
        if existing.exists():
            return f"{paths.relative(existing)} exists: choose another name, or open that notebook"
    return None


def new_notebook(name: str) -> tuple[Path, Path]:
    """Write ``notebooks/NAME.ipynb`` and its paired ``NAME.py``; the two paths.

    The notebook names the project's kernel, imports ``data`` and ``results``, and
    its first code cell lists the database's tables. Refuses a name that exists or
    would shadow an importable module.
    """
    import jupytext

    problem = notebook_problem(name)
    if problem:
        raise StarterError(problem)
    script = paths.NOTEBOOKS_DIR / f"{name}.py"
    notebook = script.with_suffix(".ipynb")
    text = starter_text(name)
    paths.NOTEBOOKS_DIR.mkdir(parents=True, exist_ok=True)
    jupytext.write(jupytext.reads(text, fmt="py:percent"), notebook, fmt="ipynb")
    script.write_text(text, encoding="utf-8")
    # Jupytext refuses to open a pair whose text file is older than the notebook.
    stamp = max(notebook.stat().st_mtime_ns, script.stat().st_mtime_ns)
    os.utime(script, ns=(stamp, stamp))
    return notebook, script
