"""`invoke lint` and `invoke check-notebooks` run for real in a baked project."""

from __future__ import annotations

import json
import os

# A script that relies on a notebook (`measured`) and imports what it does not use.
PLANTED_SCRIPT = """import argparse
import os

parser = argparse.ArgumentParser()
args = parser.parse_args()
print(measured)
"""
# A notebook whose cell 2 reads what only cell 3 defines.
PLANTED_NOTEBOOK = """# %%
import math

# %%
area = math.pi * radius**2

# %%
radius = 2.0
"""
FINDINGS = [
    "notebooks/planted.py:5: NB101 cell 2 reads 'radius', which only a later cell defines (cell 3): "
    "'run all' stops here (move the definition above cell 2, or this cell below it)",
    "scripts/fit.py:2: NB002 'os' is imported but never used (remove the import; `ruff check --fix` does it)",
    "scripts/fit.py:6: NB001 'measured' is read but never defined in this script: under %run -i "
    "the notebook supplies it, anywhere else the script fails "
    "(define or load it in the script, or make it an argparse option)",
]


def test_lint_is_clean_on_the_fresh_project_and_fails_on_planted_problems(project):
    """Exit 0 on the baked project, example notebooks included; exit 1 and one line a problem."""
    clean = project.run("invoke", "lint")
    assert clean.stdout == "lint: no problems\n"
    (project.path / "scripts" / "fit.py").write_text(PLANTED_SCRIPT)
    (project.path / "notebooks" / "planted.py").write_text(PLANTED_NOTEBOOK)
    done = project.run("invoke", "lint", check=False)
    assert done.returncode == 1
    assert done.stdout.splitlines() == FINDINGS
    assert done.stderr.strip() == "lint: 3 problems"
    some = project.run("invoke", "lint", "--", "scripts/fit.py", "notebooks/explore.py", check=False)
    assert (some.returncode, some.stdout.splitlines()) == (1, FINDINGS[1:])


def test_the_pre_commit_hook_lints_the_changed_files(project, tmp_path):
    """`pre-commit run lint --files ...` runs `invoke lint -- FILES` and fails on a finding."""
    (project.path / "scripts" / "fit.py").write_text(PLANTED_SCRIPT)
    env = {
        "PATH": f"{project.venv.path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    done = project.run(
        "pre-commit", "run", "lint", "--files", "scripts/fit.py", "README.md", check=False, env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert FINDINGS[2] in done.stdout.splitlines()
    quiet = project.run("pre-commit", "run", "lint", "--files", "notebooks/explore.py", env=env)
    assert "Passed" in quiet.stdout


def test_check_notebooks_names_the_first_failing_cell(project):
    """A real kernel of the project's Python, in notebooks/; the failing cell 4 is named."""
    (project.path / "notebooks" / "planted_ok.py").write_text(
        "# %%\nimport os\nfrom pathlib import Path\n\n"
        "# %%\nfrom penguin_study import paths\n"
        "assert Path.cwd() == paths.ROOT / 'notebooks' == Path(os.environ['PROJECT_ROOT']) / 'notebooks'\n"
    )
    (project.path / "notebooks" / "planted_fails.py").write_text(
        "# %% [markdown]\n# Fails at cell 4\n\n# %%\nx = 1\n\n# %%\ny = 0\n\n# %%\nprint('z')\nz = x / y\n"
    )
    done = project.run(
        "invoke", "check-notebooks", "--timeout", "120", "--", "planted_ok", "planted_fails", check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    ok, failed = done.stdout.splitlines()
    assert ok.startswith("notebooks/planted_ok.py: ok, 2 cells in ")
    assert failed == "notebooks/planted_fails.py:12: cell 4 failed: ZeroDivisionError: division by zero"
    assert done.stderr.strip() == "check-notebooks: 1 of 2 notebooks failed"
    assert not (project.path / "notebooks" / "planted_fails.ipynb").exists()


def test_lint_warns_without_failing_on_cells_run_out_of_order(project):
    """Only warnings: they are printed, and the exit status stays 0."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{n}",
                "metadata": {},
                "outputs": [],
                "source": source,
                "execution_count": count,
            }
            for n, (source, count) in enumerate([("a = 1", 5), ("b = a + 1", 2)])
        ],
    }
    (project.path / "notebooks" / "stale.ipynb").write_text(json.dumps(notebook))
    done = project.run("invoke", "lint")
    assert done.stdout.splitlines() == [
        "notebooks/stale.ipynb:cell 2:1: NB104 warning: cell 2 was last run (In [2]) before cell 1 "
        "above it (In [5]): the saved state does not come from running the cells in order "
        "(restart the kernel and run all, or `invoke check-notebooks -- notebooks/stale`)",
        "lint: no problems and 1 warning",
    ]
