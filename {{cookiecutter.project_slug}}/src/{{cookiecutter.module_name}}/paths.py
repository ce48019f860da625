"""Where the project lives: its root folder and the folders of each workflow step.

The root is found, in this order, from the ``PROJECT_ROOT`` environment
variable, by walking up from the working directory to a ``pyproject.toml``
beside ``src/<package>/`` (the project you stand in), or from this file's place
in a ``src/`` checkout (the usual editable install). The working directory comes
before the package's own place so that two copies of a project sharing one
environment (one installed editable, the other a clone beside it) each write
into their own folders. Everything else is relative to the root, so notebooks,
scripts and tasks agree on where data and results are whatever their working
directory inside the project.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from pathlib import Path

from .errors import ProjectError

PACKAGE = __name__.rpartition(".")[0]

# A name that can be one file or folder name anywhere (an experiment, a figure): no
# separators, no leading dot or dash. Results and figures both check names with it.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
# Names Windows reserves for devices, with any extension: a collaborator there could not
# check out results/con/ or figures/nul.pdf. Results and figures refuse them.
WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)


# When set, results/ and figures/ are this folder's: see check.run_notebook.
OUTPUTS_VARIABLE = "PROJECT_OUTPUTS"


class ProjectRootNotFound(ProjectError):
    """No project folder could be found."""


def _declares_package(pyproject: Path) -> bool:
    return pyproject.is_file() and (pyproject.parent / "src" / PACKAGE).is_dir()


@cache
def find_root() -> Path:
    """The project's root folder (the one holding ``pyproject.toml``)."""
    configured = os.environ.get("PROJECT_ROOT")
    if configured:
        root = Path(configured).expanduser().resolve()
        if not (root / "pyproject.toml").is_file():
            raise ProjectRootNotFound(
                f"PROJECT_ROOT={configured} has no pyproject.toml: point it at the project folder"
            )
        return root
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if _declares_package(folder / "pyproject.toml"):
            return folder.resolve()
    here = Path(__file__).resolve()
    if len(here.parents) > 2 and _declares_package(here.parents[2] / "pyproject.toml"):
        return here.parents[2]
    raise ProjectRootNotFound(
        f"cannot find the project folder of package {PACKAGE!r}: run from inside the project "
        "or set PROJECT_ROOT to its folder"
    )


def pyproject() -> dict:
    """The project's ``pyproject.toml``; a broken file is one clear error."""
    path = find_root() / "pyproject.toml"
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ProjectError(f"{path}: {error}: fix the TOML and run again") from None


@cache
def config() -> dict:
    """The project's settings: the ``[tool.<package>]`` table of ``pyproject.toml``."""
    return pyproject().get("tool", {}).get(PACKAGE, {})


@cache
def project_name() -> str:
    """The distribution name from ``pyproject.toml`` (e.g. ``penguin-study``)."""
    return pyproject()["project"]["name"]


def __getattr__(name: str) -> Path:
    # Folder constants resolve lazily, so importing this module never fails
    # outside a project (e.g. in a worker started elsewhere) until one is used.
    folders = {
        "ROOT": (),
        "DATA_DIR": ("data",),
        "RAW_DIR": ("data", "raw"),
        "INTERIM_DIR": ("data", "interim"),
        "PROCESSED_DIR": ("data", "processed"),
        "NOTEBOOKS_DIR": ("notebooks",),
        "FIGURE_SOURCES_DIR": ("notebooks", "figures"),
        "SCRIPTS_DIR": ("scripts",),
        "RESULTS_DIR": ("results",),
        "FIGURES_DIR": ("figures",),
    }
    if name in ("RESULTS_DIR", "FIGURES_DIR") and os.environ.get(OUTPUTS_VARIABLE):
        # `invoke check-notebooks` points what notebooks save at a scratch folder.
        return Path(os.environ[OUTPUTS_VARIABLE]).joinpath(*folders[name])
    if name in folders:
        return find_root().joinpath(*folders[name])
    if name == "DATABASE":
        return find_root() / "data" / "processed" / f"{PACKAGE}.sqlite"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def relative(path: str | os.PathLike) -> str:
    """``path`` as the user sees it: relative to the project root when inside it.

    A folder linked into the project (``data/raw`` on another disk) keeps its
    project-relative name; a path outside the project comes back whole.
    """
    path = Path(path)
    root = find_root()
    candidate = path.absolute()
    if not candidate.is_relative_to(root):
        try:
            candidate = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: it is named as given
            return str(path)
    if candidate.is_relative_to(root):
        return candidate.relative_to(root).as_posix()
    return str(path)


def inside(base: Path, relative: str | os.PathLike) -> Path:
    """``base / relative``, refusing a path that escapes ``base`` (``..``, absolute paths).

    >>> inside(Path("/p/results"), "kmeans").name
    'kmeans'
    """
    candidate = (base / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(base.resolve()):
        raise ProjectError(f"{str(relative)!r} leaves {base}: give a name inside it, without '..'")
    return candidate
