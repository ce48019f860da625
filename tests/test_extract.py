"""`invoke cells` and `invoke extract-cell`, run for real in a baked project.

The example's model cell becomes scripts/kmeans.py; bad input gets one line and a
non-zero exit; notebooks written by others (tests/data/notebooks, see its README)
extract cell by cell without a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "notebooks"


def invoke(project, *arguments: str, check: bool = True):
    return project.run("invoke", *arguments, check=check)


def test_cells_lists_every_cell_with_what_it_needs(project):
    """One line a cell: number, kind, tags, first line, and the earlier cells a code cell reads."""
    lines = invoke(project, "cells", "notebooks/explore.ipynb").stdout.splitlines()
    assert lines[0] == "notebooks/explore.ipynb: 10 cells; code cells: 2-6, 8, 10"
    assert lines[1].split() == ["1", "markdown", "Exploring", "the", "Palmer", "penguins"]
    assert lines[5].endswith('penguins = data.load("penguins")  <- needs data (3)')
    assert lines[10].split("<- ")[-1] == (
        "needs MEASUREMENTS (6), kmeans2 (3), measured (8), pd (3), whiten (3)"
    )
    assert "#kmeans  k = 3  # number of clusters" in lines[10]


def test_extract_cell_turns_the_model_cell_into_the_kmeans_script(project):
    """The example's cell 10 (tag kmeans) becomes scripts/kmeans.py with --k and --seed."""
    done = invoke(project, "extract-cell", "notebooks/explore.ipynb", "10")
    assert done.stdout.splitlines()[:4] == [
        "Wrote scripts/kmeans.py from cell 10 of notebooks/explore.ipynb",
        "  parameters: --k=3, --seed=42",
        "  inputs from earlier cells: cell 5: penguins; cell 6: MEASUREMENTS; cell 8: measured",
        "  imports: import pandas as pd; from scipy.cluster.vq import kmeans2, whiten; "
        "from penguin_study import data",
    ]
    script = project.path / "scripts" / "kmeans.py"
    text = script.read_text()
    assert 'parser.add_argument("--k", type=int, default=3, help="number of clusters' in text
    assert "k = args.k  # number of clusters\nseed = args.seed  # random seed" in text
    assert 'results.save(\n    "kmeans",' in text and "args=args," in text
    assert "penguins = data.load" in text and "data.tables()" not in text
    flakes = project.run("python", "-m", "pyflakes", "scripts/kmeans.py", check=False)
    assert (flakes.returncode, flakes.stdout) == (0, "")
    lint = project.run("ruff", "check", "--no-cache", "scripts/kmeans.py", check=False)
    assert lint.returncode == 0, lint.stdout
    checked = invoke(project, "lint", "--", "scripts/kmeans.py")
    assert checked.stdout.strip() == "lint: no problems"


def test_a_cell_of_a_notebook_without_the_database_runs_standalone_with_options(project):
    """A notebook of its own: extracted, then run with `python scripts/NAME.py --k 4`."""
    notebook = project.path / "notebooks" / "toy.py"
    notebook.write_text(
        "# %%\nimport math\n\n# %%\nvalues = [math.sqrt(i) for i in range(10)]\n\n"
        '# %% tags=["toy"]\nk = 3  # how many values\nlargest = sorted(values)[-k:]\n'
        "print(f'largest {k}: {sum(largest):.3f}')\n"
    )
    done = invoke(project, "extract-cell", "notebooks/toy.py", "toy", "--no-save")
    assert done.stdout.splitlines()[0] == "Wrote scripts/toy.py from cell 3 of notebooks/toy.py"
    ran = project.run("python", "scripts/toy.py", "--k", "4")
    assert ran.stdout == f"largest 4: {sum(sorted(i**0.5 for i in range(10))[-4:]):.3f}\n"
    shown = project.run("python", "scripts/toy.py", "--help").stdout
    assert "--k K" in shown and "how many values (default: 3)" in shown and "--fresh" in shown


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["notebooks/nope.ipynb", "1"],
            "Error: notebooks/nope.ipynb does not exist; notebooks holds explore.ipynb, results.ipynb: "
            "give one of them",
        ),
        (
            ["notebooks/explore.ipynb", "12"],
            "Error: notebooks/explore.ipynb has 10 cells (1-10), no cell 12: "
            "`invoke cells notebooks/explore.ipynb` lists them",
        ),
        (
            ["notebooks/explore.ipynb", "9"],
            "Error: cell 9 of notebooks/explore.ipynb is a markdown cell, not code: code cells are "
            "2-6, 8, 10 (`invoke cells notebooks/explore.ipynb` lists them)",
        ),
        (
            ["notebooks/explore.ipynb", "model"],
            "Error: notebooks/explore.ipynb has no cell with id, tag or title 'model' (tags: kmeans): "
            "give a cell number; `invoke cells notebooks/explore.ipynb` lists them",
        ),
        (
            ["notebooks/explore.ipynb", "10", "--name", "../../x"],
            "Error: --name '../../x' is not a valid script name: use letters, digits and underscores "
            "(a Python identifier, e.g. kmeans), without a folder or '.py'",
        ),
        (
            ["notebooks/explore.ipynb", "10", "--name", "/tmp/evil"],
            "Error: --name '/tmp/evil' is not a valid script name: use letters, digits and underscores "
            "(a Python identifier, e.g. kmeans), without a folder or '.py'",
        ),
        (
            ["notebooks/explore.ipynb", "10", "--name", "a;touch pwned"],
            "Error: --name 'a;touch pwned' is not a valid script name: use letters, digits and "
            "underscores (a Python identifier, e.g. kmeans), without a folder or '.py'",
        ),
        (
            ["notebooks/explore.ipynb", "4", "--execution-count"],
            "Error: no cell of notebooks/explore.ipynb ran as In [4]: it holds no execution counts",
        ),
    ],
)
def test_bad_input_gets_one_line_a_non_zero_exit_and_writes_nothing(project, arguments, message):
    done = invoke(project, "extract-cell", *arguments, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == message
    assert "Traceback" not in done.stderr + done.stdout
    assert sorted(p.name for p in (project.path / "scripts").iterdir()) == [".gitkeep"]
    assert not (project.path / "pwned").exists()


def test_a_broken_notebook_and_an_existing_script_are_refused(project):
    (project.path / "notebooks" / "broken.ipynb").write_text('{"cells": [')
    done = invoke(project, "extract-cell", "notebooks/broken.ipynb", "1", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: notebooks/broken.ipynb is not a valid notebook (")
    assert done.stderr.strip().endswith("restore it from git or re-save it in Jupyter")
    invoke(project, "extract-cell", "notebooks/explore.ipynb", "10")
    again = invoke(project, "extract-cell", "notebooks/explore.ipynb", "10", check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "Error: scripts/kmeans.py already exists (and may hold your edits): pass --force to replace it "
        "(the changes are shown), or --name to write another script"
    )
    forced = invoke(project, "extract-cell", "notebooks/explore.ipynb", "10", "--force", "--no-save")
    assert "  replaced the existing script:" in forced.stdout
    assert "-results.save(" in forced.stdout


def test_a_notebook_path_with_spaces_and_shell_characters_works(project):
    """No shell is involved anywhere: the odd name is just a file name."""
    odd = "my notes; $(touch pwned) & 'x' `id`"
    notebooks = project.path / "notebooks"
    for suffix in (".ipynb", ".py"):
        shutil.copy(notebooks / f"explore{suffix}", notebooks / f"{odd}{suffix}")
    done = invoke(project, "extract-cell", f"notebooks/{odd}.ipynb", "10", "--name", "odd")
    assert done.stdout.splitlines()[0] == f"Wrote scripts/odd.py from cell 10 of notebooks/{odd}.ipynb"
    script = (project.path / "scripts" / "odd.py").read_text()
    assert f"# Extracted from notebooks/{odd}.ipynb, cell 10" in script
    listed = invoke(project, "cells", f"notebooks/{odd}.ipynb").stdout
    assert listed.startswith(f"notebooks/{odd}.ipynb: 10 cells")
    assert not (project.path / "pwned").exists()


PROPERTY_PROBE = r"""
import io, json, sys, traceback
from pyflakes import api, reporter
from penguin_study import cells, extract
from penguin_study.errors import ProjectError

report = {"scripts": 0, "refused": 0, "problems": []}
for name in sys.argv[1:]:
    try:
        notebook = cells.read(name)
    except ProjectError:
        report["refused"] += 1
        continue
    for cell in notebook.cells:
        if cell.kind != "code":
            continue
        where = f"{name} cell {cell.number}"
        try:
            made = extract.build(notebook, cells.select(notebook, cell.number), "case")
        except ProjectError as error:
            report["refused"] += 1
            if "\n" in str(error) or not str(error):
                report["problems"].append(f"{where}: not one line: {error!r}")
            continue
        except Exception:
            report["problems"].append(f"{where}: {traceback.format_exc()}")
            continue
        try:
            compile(made.text, "case.py", "exec")
        except SyntaxError as error:
            report["problems"].append(f"{where}: does not compile: {error}")
        out = io.StringIO()
        api.check(made.text, "case.py", reporter.Reporter(out, out))
        flagged = [line for line in out.getvalue().splitlines() if "undefined name '" in line]
        report["problems"] += [f"{where}: {line}" for line in flagged]
        report["scripts"] += 1
print(json.dumps(report))
"""


def test_every_code_cell_of_notebooks_written_by_others_extracts_or_is_refused_clearly(project, tmp_path):
    """papermill's and nbdime's test notebooks, the example's and the golden cases: never a traceback."""
    shutil.copytree(DATA, tmp_path / "others")
    notebooks = sorted(str(p) for p in (tmp_path / "others").rglob("*.ipynb"))
    notebooks += sorted(str(p) for p in project.path.glob("notebooks/**/*.ipynb"))
    notebooks += sorted(str(p) for p in project.path.glob("tests/extract_cases/*/notebook.py"))
    done = project.run("python", "-W", "ignore", "-c", PROPERTY_PROBE, *notebooks)
    report = json.loads(done.stdout)
    assert report["problems"] == []
    assert report["scripts"] >= 100 and report["refused"] >= 10, report
