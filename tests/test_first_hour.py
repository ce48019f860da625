"""The first hour of a new user: any name, the README's commands as written, JupyterLab.

Each README test runs the first lines of the baked README's quick start exactly as a
user pastes them (`uv sync && uv run invoke workflow`, `uv run invoke test`), in a
project baked under a name of its own. Those projects' own tests include
tests/test_docs.py: every `invoke` command of the README and docs/ parses against
tasks.py, and every link to a page exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jupytext
import pytest
from conftest import DEFAULT_CONTEXT, UNICODE_NAME, bake, readme_commands, run_as_written, stop


def command(project: Path, word: str) -> str:
    """The README quick-start line holding ``word``."""
    return next(line for line in readme_commands(project) if word in line)


def assert_ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}"


def test_a_project_with_an_accented_name_passes_its_readme_commands(unicode_bake):
    """'Études de Météo Régimes 2': setup + workflow, then the project's own tests, all green."""
    project = unicode_bake.path
    assert project.name == "etudes-de-meteo-regimes-2"
    assert unicode_bake.module == "etudes_de_meteo_regimes_2"
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {UNICODE_NAME}\n")

    workflow = run_as_written(command(project, "invoke workflow"), project)
    assert_ok(workflow)
    assert (project / "uv.lock").is_file()  # the lock file pins every version
    assert (project / "data/processed/etudes_de_meteo_regimes_2.sqlite").is_file()
    assert sorted(p.name for p in (project / "results/kmeans").glob("kmeans.*.json"))
    assert (project / "figures/kmeans_purity.pdf").is_file()
    # The workflow task's help names the real settings table, not [tool.<package>.workflow].
    helped = run_as_written("uv run invoke --help workflow", project)
    assert "[tool.etudes_de_meteo_regimes_2.workflow]" in helped.stdout.replace("\n", " ")

    tests = run_as_written(command(project, "invoke test"), project)
    assert_ok(tests)
    assert re.search(r"\d+ passed", tests.stdout) and " failed" not in tests.stdout


def test_a_project_without_the_example_is_complete_and_passes_its_readme_commands(no_example_bake):
    """Its README speaks of what exists; its workflow on empty data/raw says what next, exit 0."""
    project = no_example_bake.path
    readme = (project / "README.md").read_text(encoding="utf-8")
    for absent in ("penguin", "explore.ipynb", "kmeans", "cell 10"):
        assert absent not in readme.lower()
    assert "notebooks/start.ipynb" in readme
    assert sorted(p.name for p in (project / "notebooks").iterdir()) == ["figures", "start.ipynb", "start.py"]

    workflow = run_as_written(command(project, "invoke workflow"), project)
    assert_ok(workflow)
    assert "data/raw/ holds no data yet" in workflow.stdout
    assert "invoke new-notebook NAME" in workflow.stdout
    assert not list((project / "data/processed").glob("*.sqlite"))

    # The starter notebook is exactly what `invoke new-notebook start` writes.
    show = "from ocean_heat_budget import starter; print(starter.starter_text('start'), end='')"
    written = run_as_written(f'uv run python -c "{show}"', project)
    assert_ok(written)
    assert written.stdout == (project / "notebooks/start.py").read_text(encoding="utf-8")
    metadata = jupytext.read(project / "notebooks/start.ipynb").metadata
    assert metadata["kernelspec"]["name"] == "ocean-heat-budget"

    tests = run_as_written(command(project, "invoke test"), project)
    assert_ok(tests)
    assert re.search(r"\d+ passed", tests.stdout) and " failed" not in tests.stdout


def test_a_python_older_than_the_project_needs_is_refused_at_once(tmp_path):
    """The oldest Python asked for is newer than this machine's: uv and pip stop in seconds.

    (On this 3.11 machine: python_version=3.12, where `pip install -e '.[dev]'` used to
    backtrack for over 20 minutes.) uv names the version needed and how to install it;
    pip names both versions.
    """
    ours = sys.version_info[:2]
    needed = next(v for v in DEFAULT_CONTEXT["python_version"] if tuple(map(int, v.split("."))) > ours)
    result = bake(tmp_path / "out", f"python_version={needed}")
    assert result.exit_code == 0, result.stderr
    project = result.path
    # Only this machine's Python is on PATH (the test environment's), and no uv-managed one.
    only_ours = {"UV_PYTHON_INSTALL_DIR": str(tmp_path / "no-managed-pythons")}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    done = run_as_written(command(project, "uv sync"), project, path=str(bin_dir), timeout=60, env=only_ours)
    assert done.returncode != 0
    assert f"Python >={needed}" in done.stderr, done.stderr
    assert "uv python install" in done.stderr  # the fix
    assert not (project / ".venv").exists() and not (project / "uv.lock").exists()

    pip_line = re.search(r"`(python3 -m venv \.venv && [^`]+)`", (project / "README.md").read_text())[1]
    done = run_as_written(pip_line, project, path=str(bin_dir), timeout=180)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    running = re.escape(".".join(map(str, sys.version_info[:3])))
    assert re.search(rf"requires a different Python: {running} not in '>={re.escape(needed)}'", said), said


def test_two_copies_of_a_project_in_one_environment_keep_to_their_own_folders(baked, project_venv, tmp_path):
    """Standing in a clone A, `invoke etl` and `invoke extract-cell` write A, never the installed B.

    The shared environment holds the session's bake (B) installed editable, so the
    package itself is imported from B's src/; the project root is still the one the
    command runs in.
    """
    clone = tmp_path / "clone" / baked.path.name
    shutil.copytree(baked.path, clone, symlinks=True)

    def snapshot(folder: Path) -> dict:
        return {
            p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and not any(x.endswith(".egg-info") for x in p.parts)
        }

    before = snapshot(baked.path)
    project_venv.run("invoke", "etl", "--quiet", cwd=clone / "notebooks")  # found walking up
    project_venv.run("invoke", "extract-cell", "notebooks/explore.ipynb", "10", cwd=clone)
    assert (clone / "data/processed/penguin_study.sqlite").is_file()
    assert (clone / "scripts/kmeans.py").is_file()
    assert snapshot(baked.path) == before


# ---- JupyterLab and new notebooks -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_invoke_lab_serves_the_project_with_its_own_kernel_as_default(project):
    """JupyterLab answers on 127.0.0.1 with the kernel named after the project as its default."""
    port = free_port()
    lab = subprocess.Popen(
        [
            project.venv.bin("invoke"),
            "lab",
            "--",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--IdentityProvider.token=first-hour",
        ],
        cwd=project.path,
        env={**os.environ, **project.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        specs = None
        for _ in range(120):
            try:
                url = f"http://127.0.0.1:{port}/api/kernelspecs?token=first-hour"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    specs = json.load(answer)
                break
            except OSError:
                assert lab.poll() is None, lab.stdout.read()
                time.sleep(0.5)
        assert specs is not None, "JupyterLab never answered"
        assert specs["default"] == "penguin-study"
        spec = specs["kernelspecs"]["penguin-study"]["spec"]
        assert spec["display_name"] == "Python (penguin-study)"
        assert any("'penguin_study.workspace'" in word for word in spec["argv"])
        assert Path(spec["argv"][0]).parent == Path(project.venv.bin("python")).parent
    finally:
        stop(lab)


def test_a_new_notebook_runs_on_the_project_kernel_with_the_workspace_loaded(project):
    """new-notebook writes a pair; run on the registered kernel it lists the tables, %workspace works."""
    project.run("invoke", "etl", "--quiet")
    done = project.run("invoke", "new-notebook", "first_look")
    assert "notebooks/first_look.ipynb and notebooks/first_look.py" in done.stdout
    notebook, script = project.path / "notebooks/first_look.ipynb", project.path / "notebooks/first_look.py"
    assert [c.source for c in jupytext.read(notebook).cells] == [
        c.source for c in jupytext.read(script).cells
    ]
    assert jupytext.read(notebook).metadata["kernelspec"]["name"] == "penguin-study"
    assert script.stat().st_mtime >= notebook.stat().st_mtime

    register = "from penguin_study import starter; print(starter.register_kernel())"
    project.run("python", "-c", register)
    execute = (
        "import sys, nbformat, jupytext\n"
        "from nbclient import NotebookClient\n"
        "nb = jupytext.read('notebooks/first_look.ipynb')\n"
        "nb.cells.append(nbformat.v4.new_code_cell('tables = data.tables()'))\n"
        "nb.cells.append(nbformat.v4.new_code_cell('%workspace tables'))\n"
        "nb.cells.append(nbformat.v4.new_code_cell('%load_ext penguin_study.workspace'))\n"
        "where = {'metadata': {'path': 'notebooks'}}\n"
        "NotebookClient(nb, kernel_name='penguin-study', resources=where).execute()\n"
        "print(nb.cells[2].outputs[0]['data']['text/plain'])\n"
        "print(nb.cells[4].outputs[0]['text'])\n"
        "print('load_ext said:', nb.cells[5].outputs)\n"
    )
    ran = project.run("python", "-c", execute, timeout=300).stdout
    assert "penguins_raw" in ran and "344" in ran  # data.tables(): both tables, with their rows
    assert re.search(r"^\s*tables\s+DataFrame", ran, re.M), ran  # %workspace: the kernel loaded it
    assert "load_ext said: []" in ran  # a notebook's own %load_ext stays silent


@pytest.mark.parametrize(
    "name, message",
    [
        ("explore", "notebooks/explore.py exists"),
        ("pandas", "would shadow the module 'pandas'"),
        ("json", "would shadow the module 'json'"),
        ("penguin_study", "would shadow the module 'penguin_study'"),
        ("../escape", "use letters, digits"),
    ],
)
def test_new_notebook_refuses_names_that_exist_or_shadow_a_module(project, name, message):
    """One line naming what is wrong, exit 1, nothing written."""
    before = sorted(p.name for p in (project.path / "notebooks").iterdir())
    done = project.run("invoke", "new-notebook", name, check=False)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in (project.path / "notebooks").iterdir()) == before
