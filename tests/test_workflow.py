"""The worked example end to end: `invoke workflow` in a freshly baked project.

Raw penguin CSV -> SQLite (etl) -> the model cell as a script (extract-cell) ->
a sweep over k (sweep, Dask) -> results -> the paper figure (figures) -> every
notebook run top to bottom (check-notebooks, which leaves results/ and figures/
as they were; the results notebook, run as a user runs it, runs the script with
`%run -i`). Each step's output is checked against an independent reading of the
raw data, not against what the step itself reports.
"""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3
import subprocess

import pytest

# The module runs the workflow once for all its tests: under pytest-xdist they share a worker.
pytestmark = pytest.mark.xdist_group("workflow")

MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def complete_records(project) -> list[dict]:
    folder = project.path / "results" / "kmeans"
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("kmeans.*.json"))]
    return [r for r in records if r["status"] == "complete"]


@pytest.fixture(scope="module")
def ran(baked, project_venv, tmp_path_factory):
    """One project copy on which `invoke workflow --check` ran once, with its output."""
    import shutil

    from conftest import Project

    copy = tmp_path_factory.mktemp("workflow") / baked.path.name
    shutil.copytree(baked.path, copy, symlinks=True)
    project = Project(copy, project_venv)
    done = project.run("invoke", "workflow", "--check", timeout=900)
    return project, done.stdout


def test_the_database_holds_every_raw_value_exactly(ran):
    """Every field of penguins.csv.gz is in the table, typed, NA as NULL, no value changed."""
    project, _ = ran
    with gzip.open(project.path / "data/raw/penguins.csv.gz", "rt", newline="") as handle:
        raw = list(csv.DictReader(handle))
    database = sqlite3.connect(project.path / "data/processed/penguin_study.sqlite")
    types = {row[1]: row[2] for row in database.execute('PRAGMA table_info("penguins")')}
    assert types == {
        "species": "TEXT",
        "island": "TEXT",
        "bill_length_mm": "REAL",
        "bill_depth_mm": "REAL",
        "flipper_length_mm": "INTEGER",
        "body_mass_g": "INTEGER",
        "sex": "TEXT",
        "year": "INTEGER",
    }
    loaded = database.execute('SELECT * FROM "penguins" ORDER BY rowid').fetchall()
    assert len(loaded) == len(raw) == 344
    convert = {"REAL": float, "INTEGER": int, "TEXT": str}
    for row, fields in zip(loaded, raw, strict=True):
        expected = tuple(
            None if fields[name] == "NA" else convert[kind](fields[name]) for name, kind in types.items()
        )
        assert row == expected
    assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_model_cell_became_a_script_with_its_parameters(ran):
    project, output = ran
    assert "Wrote scripts/kmeans.py from cell 10 of notebooks/explore.ipynb" in output
    usage = project.run("python", "scripts/kmeans.py", "--help").stdout
    assert "--k K" in usage and "--seed SEED" in usage and "number of clusters" in usage
    lint = project.run("python", "-m", "pyflakes", "scripts/kmeans.py", check=False)
    assert lint.returncode == 0 and lint.stdout == ""


def test_the_sweep_saved_one_complete_run_per_k_with_the_right_clusters(ran):
    """Runs k=2..6 (sweep; check-notebooks adds none); purity recomputed here."""
    project, _ = ran
    records = complete_records(project)
    assert sorted(r["args"]["k"] for r in records) == [2, 3, 4, 5, 6]
    assert len({r["number"] for r in records}) == 5
    # The same model computed independently from the raw CSV, in the project's Python.
    check = (
        "import json, pandas as pd\n"
        "from scipy.cluster.vq import kmeans2, whiten\n"
        f"cols = {MEASUREMENTS!r}\n"
        "df = pd.read_csv('data/raw/penguins.csv.gz', na_values=['NA']).dropna(subset=cols)\n"
        "X = whiten(df[cols].to_numpy(dtype=float))\n"
        "out = {}\n"
        "for k in (2, 3, 4, 5, 6):\n"
        "    c, labels = kmeans2(X, k, seed=42, minit='++')\n"
        "    t = pd.crosstab(labels, df['species'].to_numpy())\n"
        "    out[k] = float(t.max(axis=1).sum() / len(labels))\n"
        "print(json.dumps(out))\n"
    )
    expected = json.loads(project.run("python", "-c", check).stdout)
    for record in records:
        assert record["scalars"]["purity"] == pytest.approx(expected[str(record["args"]["k"])], abs=1e-12)


RUN_RESULTS_NOTEBOOK = """
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

notebook = nbformat.read("notebooks/results.ipynb", as_version=4)
manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
NotebookClient(notebook, km=manager, timeout=600, resources={"metadata": {"path": "notebooks"}}).execute()
"""


def test_run_i_in_the_notebook_and_a_standalone_run_agree(ran):
    """The results notebook's `%run -i ... --k 4`, run as a user runs it, saves what the sweep's
    own k=4 run saved."""
    project, _ = ran
    project.run("python", "-c", RUN_RESULTS_NOTEBOOK, timeout=600)
    fours = [r for r in complete_records(project) if r["args"]["k"] == 4]
    notebook_runs = [r for r in fours if r["argv"][0] == "../scripts/kmeans.py"]
    standalone = [r for r in fours if r["argv"][0] != "../scripts/kmeans.py"]
    assert len(notebook_runs) == len(standalone) == 1
    assert notebook_runs[0]["scalars"] == standalone[0]["scalars"]
    assert notebook_runs[0]["script_sha256"] == standalone[0]["script_sha256"]
    database = notebook_runs[0]["inputs"][0]
    assert database["role"] == "database"
    assert {s["path"] for s in database["sources"]} >= {"data/raw/penguins.csv.gz"}


def test_the_figure_is_built_with_embedded_truetype_fonts(ran):
    project, output = ran
    assert "1 built" in output
    pdf = project.path / "figures" / "kmeans_purity.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    assert all("Type 3" not in row and row.split()[-5] == "yes" for row in rows), fonts
    eps = (project.path / "figures" / "kmeans_purity.eps").read_text(errors="replace")
    assert eps.startswith("%!PS-Adobe-3.0 EPSF-3.0")


def test_every_notebook_runs_top_to_bottom(ran):
    _, output = ran
    for notebook in ("notebooks/explore.py", "notebooks/results.py", "notebooks/figures/kmeans_purity.py"):
        assert f"{notebook}: ok" in output


def test_a_second_workflow_redoes_nothing(ran):
    """Unchanged raw files are skipped, the script is kept, the sweep has nothing left to run."""
    project, _ = ran
    before = len(complete_records(project))
    again = project.run("invoke", "workflow", timeout=600).stdout
    assert "penguins: unchanged, skipped" in again
    assert "scripts/kmeans.py exists: not extracted again" in again
    assert "Nothing to run: all 5 runs already have a complete result." in again
    assert len(complete_records(project)) == before
