"""The steps `invoke workflow` runs, read and checked from ``[tool.<package>.workflow]``.

``extract`` lists notebook cells to turn into scripts (skipped once the script
exists: it is the user's from then on); ``sweep`` lists scripts to run over a
grid (resumed, so settings already run are skipped). ``invoke workflow`` runs
``invoke etl`` first and ``invoke figures`` last.

>>> [s.title for s in plan({"sweep": [{"script": "scripts/m.py", "grid": "k=1,2"}]})]
["invoke sweep scripts/m.py --grid 'k=1,2' --resume"]
"""

from __future__ import annotations

from dataclasses import dataclass

from . import paths
from .errors import ProjectError


class WorkflowError(ProjectError):
    """The workflow settings in pyproject.toml are wrong."""


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` is "extract" or "sweep"; ``options`` are the task's arguments."""

    kind: str
    options: dict
    title: str
    done: bool = False


WHERE = "[tool.{package}.workflow] in pyproject.toml"
EXAMPLES = {
    "extract": '{ notebook = "notebooks/explore.ipynb", cell = 10, name = "kmeans" }',
    "sweep": '{ script = "scripts/kmeans.py", grid = "k=2,3,4" }',
}


def _entries(settings: dict, key: str, required: tuple[str, ...], optional: tuple[str, ...]):
    where = WHERE.format(package=paths.PACKAGE)
    entries = settings.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        example = f"{key} = [{EXAMPLES[key]}]"
        raise WorkflowError(f"{where}: {key} must be a list of tables, e.g. {example}")
    for number, entry in enumerate(entries, 1):
        missing = [k for k in required if k not in entry]
        unknown = sorted(set(entry) - set(required) - set(optional))
        if missing or unknown:
            said = "; ".join(
                part
                for part in (
                    f"needs {', '.join(missing)}" if missing else "",
                    f"has unknown keys {', '.join(unknown)}" if unknown else "",
                )
                if part
            )
            raise WorkflowError(
                f"{where}: {key} entry {number} {said} (keys: {', '.join(required + optional)})"
            )
        for name, value in entry.items():
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise WorkflowError(
                    f"{where}: {key} entry {number}: {name} = {value!r} must be a string or number"
                )
    return entries


def raw_data_missing() -> bool:
    """Whether ``data/raw`` holds nothing yet but its README (and hidden files)."""
    if not paths.RAW_DIR.is_dir():
        return True
    return not any(
        not p.name.startswith(".") and p.name != "README.md" for p in paths.RAW_DIR.iterdir()
    )


def next_steps() -> str:
    """What to do in a project whose ``data/raw`` is empty (what ``invoke workflow`` says)."""
    return "\n".join(
        [
            f"{paths.relative(paths.RAW_DIR)}/ holds no data yet: nothing to run. Next:",
            f"  1. copy your raw files into {paths.relative(paths.RAW_DIR)}/ (CSV, TSV, JSON "
            "Lines, XML; compressed too), then `invoke workflow` (or `invoke etl`) loads them",
            "  2. `invoke lab` opens JupyterLab; `invoke new-notebook NAME` starts a notebook",
            f"  3. list extractions and sweeps under [tool.{paths.PACKAGE}.workflow] in "
            "pyproject.toml to make them part of `invoke workflow`",
        ]
    )


def plan(settings: dict | None = None) -> list[Step]:
    """The extract and sweep steps of the workflow, in order, each checked.

    ``settings`` defaults to the project's ``[tool.<package>.workflow]`` table.
    """
    if settings is None:
        settings = paths.config().get("workflow", {})
    steps = []
    for entry in _entries(settings, "extract", ("notebook", "cell", "name"), ()):
        # The name is required: it tells whether the script exists without reading the notebook.
        name = str(entry["name"])
        if not name.isidentifier():
            raise WorkflowError(
                f"{WHERE.format(package=paths.PACKAGE)}: extract name {name!r} is not a plain "
                "name: use letters, digits and underscores (it becomes scripts/NAME.py)"
            )
        if (paths.SCRIPTS_DIR / f"{name}.py").exists():
            title = f"scripts/{name}.py exists: not extracted again"
            steps.append(Step("extract", {}, title, done=True))
            continue
        options = {"notebook": str(entry["notebook"]), "cell": str(entry["cell"]), "name": name}
        title = f"invoke extract-cell {options['notebook']} {options['cell']}"
        steps.append(Step("extract", options, title))
    for entry in _entries(settings, "sweep", ("script",), ("grid", "settings")):
        if "grid" not in entry and "settings" not in entry:
            raise WorkflowError(
                f"{WHERE.format(package=paths.PACKAGE)}: sweep of {entry['script']} needs a grid "
                '("k=2,3,4") or a settings file'
            )
        options = {
            "script": str(entry["script"]),
            "grid": str(entry.get("grid", "")),
            "settings": str(entry.get("settings", "")),
        }
        shown = f" --grid {options['grid']!r}" if options["grid"] else ""
        shown += f" --settings {options['settings']}" if options["settings"] else ""
        steps.append(Step("sweep", options, f"invoke sweep {options['script']}{shown} --resume"))
    return steps
