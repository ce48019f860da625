"""The template bakes a complete project: the right files, valid, linted, with working tasks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jupytext
import pytest
from conftest import TEMPLATE, bake, make_venv

# Every file of a default bake (the worked example included), git's own files aside.
EXAMPLE_FILES = {
    "data/raw/penguins.csv.gz",
    "data/raw/penguins_raw.csv.gz",
    "notebooks/explore.ipynb",
    "notebooks/explore.py",
    "notebooks/results.ipynb",
    "notebooks/results.py",
    "notebooks/figures/kmeans_purity.ipynb",
    "notebooks/figures/kmeans_purity.py",
}
COMMON_FILES = {
    ".gitignore",
    ".pre-commit-config.yaml",
    "LICENSE",
    "README.md",
    "jupytext.toml",
    "pyproject.toml",
    "tasks.py",
    "data/raw/README.md",
    "data/interim/.gitkeep",
    "data/processed/.gitkeep",
    "scripts/.gitkeep",
    "results/.gitkeep",
    "figures/.gitkeep",
    "src/{module}/__init__.py",
    "src/{module}/columnar.py",
    "src/{module}/check.py",
    "src/{module}/data.py",
    "src/{module}/db.py",
    "src/{module}/errors.py",
    "src/{module}/etl/__init__.py",
    "src/{module}/etl/formats.py",
    "src/{module}/etl/inference.py",
    "src/{module}/etl/pipeline.py",
    "src/{module}/etl/rawfiles.py",
    "src/{module}/etl/table.py",
    "src/{module}/extract.py",
    "src/{module}/figure_build.py",
    "src/{module}/figures.py",
    "src/{module}/lint/__init__.py",
    "src/{module}/lint/rules.py",
    "src/{module}/notebook/__init__.py",
    "src/{module}/notebook/files.py",
    "src/{module}/notebook/listing.py",
    "src/{module}/notebook/scope.py",
    "src/{module}/notebook/slicing.py",
    "src/{module}/paths.py",
    "src/{module}/provenance.py",
    "src/{module}/settings.py",
    "src/{module}/readers.py",
    "src/{module}/results/__init__.py",
    "src/{module}/results/codecs.py",
    "src/{module}/results/interim.py",
    "src/{module}/results/report.py",
    "src/{module}/results/store.py",
    "src/{module}/results/table.py",
    "src/{module}/results/tidy.py",
    "src/{module}/starter.py",
    "src/{module}/sweep/__init__.py",
    "src/{module}/sweep/backends.py",
    "src/{module}/sweep/driver.py",
    "src/{module}/sweep/planning.py",
    "src/{module}/sweep/worker.py",
    "src/{module}/workspace/__init__.py",
    "src/{module}/workspace/links.py",
    "src/{module}/workspace/pane.js",
    "src/{module}/workspace/report.py",
    "src/{module}/workspace/sidebar.py",
    "src/{module}/workspace/state.py",
    "src/{module}/workspace/summary.py",
    "src/{module}/workflow.py",
    "tests/test_workflow.py",
    "tests/conftest.py",
    "tests/test_cells.py",
    "tests/test_columnar.py",
    "tests/test_data.py",
    "tests/test_docs.py",
    "tests/test_etl.py",
    "tests/test_extract.py",
    "tests/test_figures.py",
    "tests/test_formats.py",
    "tests/test_lint.py",
    "tests/test_paths.py",
    "tests/test_results.py",
    "tests/test_starter.py",
    "tests/test_sweep.py",
    "tests/test_workspace.py",
}
# The README's detail pages, one per step.
COMMON_FILES |= {
    f"docs/{page}.md"
    for page in ("data etl extract figures lint notebooks project results setup sweeps workspace".split())
}
# Without the example, a starter notebook (what `invoke new-notebook start` writes).
NO_EXAMPLE_FILES = {"notebooks/start.py", "notebooks/start.ipynb"}
# extract-cell's golden cases: a notebook and its expected script (or error) per folder.
CASES = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}" / "tests" / "extract_cases"
COMMON_FILES |= {f"tests/extract_cases/{p.relative_to(CASES).as_posix()}" for p in CASES.rglob("*.*")}


def files_of(project: Path) -> set[str]:
    """Every file of a baked project, git's own and what an install adds aside.

    (``pip install -e`` of the session's project writes ``src/*.egg-info``, ``uv sync``
    writes ``.venv/`` and ``uv.lock``, and the project's tests leave caches; whether a
    test that ran them came first must not change what counts as baked.)
    """
    made_by_running = {".git", ".venv", ".hypothesis", ".pytest_cache", "__pycache__"}
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file()
        and not made_by_running & set(p.relative_to(project).parts)
        and not any(part.endswith(".egg-info") for part in p.relative_to(project).parts)
        and p.relative_to(project).as_posix() != "uv.lock"
    }


def expected_files(module: str, example: bool = True, licence: bool = True) -> set[str]:
    files = {f.format(module=module) for f in COMMON_FILES | (EXAMPLE_FILES if example else NO_EXAMPLE_FILES)}
    return files if licence else files - {"LICENSE"}


def test_bake_exits_zero_and_prints_the_next_steps(baked):
    """It bakes with the default answers and tells the user what to run next."""
    assert baked.exit_code == 0
    assert baked.path.name == "penguin-study"
    assert "cd penguin-study" in baked.stdout
    assert "invoke test" in baked.stdout
    assert "invoke workflow" in baked.stdout


def test_baked_files_are_exactly_the_expected_set(baked):
    """No file is missing and no stray file is left behind."""
    assert files_of(baked.path) == expected_files("penguin_study")


def test_no_template_syntax_is_left_in_any_file(baked):
    """Every text file was rendered: no '{{', '{%' or '{#' of Jinja remains."""
    for name in files_of(baked.path):
        data = (baked.path / name).read_bytes()
        if name.endswith(".gz"):
            continue
        text = data.decode("utf-8")
        assert not re.search(r"\{\{|\{%|\{#", text), f"template syntax left in {name}"
    assert not any("{" in name for name in files_of(baked.path))


def test_pyproject_is_valid_with_real_dependencies(baked):
    """pyproject.toml parses, names the package, and declares the core dependencies."""
    project = tomllib.loads((baked.path / "pyproject.toml").read_text())["project"]
    assert project["name"] == "penguin-study"
    assert project["requires-python"] == ">=3.11"
    names = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert {"pandas", "scipy", "seaborn", "jupytext", "invoke", "matplotlib"} <= names
    assert {"dev", "cluster", "notebook"} <= set(project["optional-dependencies"])
    assert project["license"] == "MIT"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_passes_on_the_baked_project(baked, command):
    """The baked code is clean and formatted under the project's own ruff settings."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
        cwd=baked.path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_notebook_is_paired_and_in_sync(baked):
    """Each example notebook exists as .ipynb and py:percent, and jupytext reads both alike."""
    scripts = sorted((baked.path / "notebooks").rglob("*.py"))
    assert len(scripts) == 3
    for script in scripts:
        notebook = script.with_suffix(".ipynb")
        from_script, from_notebook = jupytext.read(script), jupytext.read(notebook)
        assert [(c.cell_type, c.source, c.metadata) for c in from_script.cells] == [
            (c.cell_type, c.source, c.metadata) for c in from_notebook.cells
        ], script.name
        assert from_notebook.metadata["kernelspec"]["name"] == "penguin-study"  # the project's kernel
        # jupytext refuses pairs whose text file is older than the notebook
        assert script.stat().st_mtime >= notebook.stat().st_mtime
        assert "penguin_study" in script.read_text()


def test_the_project_is_a_git_repository_with_one_clean_commit(baked):
    """The hook ran git init and committed everything; nothing is left untracked."""
    log = subprocess.run(["git", "log", "--format=%an|%s"], cwd=baked.path, capture_output=True, text=True)
    assert log.stdout.strip() == "Jane Researcher|Start the project from lab/template"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=baked.path, capture_output=True, text=True)
    assert status.stdout == ""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=baked.path, capture_output=True, text=True
    ).stdout.split()
    assert "data/raw/penguins.csv.gz" in tracked


def test_tasks_import_without_heavy_libraries(baked, project_venv):
    """`import tasks` (what `invoke --list` does) loads no pandas, numpy, scipy or matplotlib."""
    done = project_venv.run("python", "-X", "importtime", "-c", "import tasks", cwd=baked.path)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "invoke" in imported
    assert not imported & {"pandas", "numpy", "scipy", "matplotlib", "seaborn", "pyarrow", "dask"}


def test_every_task_and_parameter_has_help(baked, project_venv):
    """`invoke --list` lists every task with a docstring, and every parameter has help."""
    check = (
        "import json, tasks\n"
        "out = {}\n"
        "for name in tasks.ns.task_names:\n"
        "    t = tasks.ns[name]\n"
        "    helpless = [a.name for a in t.get_arguments() if not (a.help or '').strip()]\n"
        "    out[name] = dict(doc=bool((t.__doc__ or '').strip()), helpless=helpless)\n"
        "print(json.dumps(out))\n"
    )
    described = json.loads(project_venv.run("python", "-c", check, cwd=baked.path).stdout)
    listing = project_venv.run("invoke", "--list", cwd=baked.path).stdout
    assert described, "no tasks"
    for name, info in described.items():
        assert info["doc"], f"task {name} has no docstring"
        assert info["helpless"] == [], f"task {name}: parameters without help"
        assert re.search(rf"^\s+{re.escape(name)}\s+\S", listing, re.M), f"{name} missing from --list"


def test_the_fresh_venv_has_no_pkg_resources_and_imports_every_module(baked, project_venv):
    """In a venv without pkg_resources (uv's, Python 3.12+'s), every module of the package imports."""
    code = (
        "import importlib, pkgutil, importlib.util, penguin_study\n"
        "assert importlib.util.find_spec('pkg_resources') is None, 'pkg_resources present'\n"
        "names = [m.name for m in pkgutil.iter_modules(penguin_study.__path__)]\n"
        "[importlib.import_module('penguin_study.' + n) for n in names]\n"
        "print(' '.join(sorted(names)))\n"
    )
    names = project_venv.run("python", "-c", code, cwd=baked.path).stdout.split()
    assert {"paths", "errors"} <= set(names)


# The project's own suite runs in tests/test_first_hour.py, as its README's `uv run invoke test`,
# in projects baked under other names (with and without the example).


def test_invoke_test_runs_the_project_tests(baked, project_venv):
    """`invoke test` is the README's test command and fails when pytest fails."""
    done = project_venv.run("invoke", "test", "--args", "-q -k root_is_the_folder", cwd=baked.path)
    assert "1 passed" in done.stdout
    failed = project_venv.run(
        "invoke", "test", "--args", "-q -k no_such_test_anywhere", cwd=baked.path, check=False
    )
    assert failed.returncode == 5  # pytest: no tests collected


# ---- variants -------------------------------------------------------------------------------


def test_without_the_example_no_example_file_is_baked(no_example_bake):
    """include_example=no leaves out the data, notebooks and their settings."""
    result = no_example_bake
    assert files_of(result.path) == expected_files("ocean_heat_budget", example=False)
    assert "penguins" not in (result.path / "pyproject.toml").read_text()
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=result.path)
    assert lint.returncode == 0


@pytest.mark.parametrize(
    "licence, first_line",
    [
        ("MIT", "MIT License"),
        ("BSD-3-Clause", "BSD 3-Clause License"),
        ("Apache-2.0", "Apache License"),
        ("GPL-3.0-or-later", "GNU GENERAL PUBLIC LICENSE"),
    ],
)
def test_each_licence_bakes_its_text(tmp_path, licence, first_line):
    """The chosen licence's full text is in LICENSE and its SPDX id in pyproject.toml."""
    result = bake(tmp_path, f"license={licence}", "author_name=Ada Lovelace")
    assert result.exit_code == 0, result.stderr
    text = (result.path / "LICENSE").read_text()
    assert text.strip().splitlines()[0].strip() == first_line
    assert len(text) > 1000
    if licence in ("MIT", "BSD-3-Clause"):
        assert "Ada Lovelace" in text
    assert tomllib.loads((result.path / "pyproject.toml").read_text())["project"]["license"] == licence


def test_licence_none_bakes_no_licence_file(tmp_path):
    result = bake(tmp_path, "license=none")
    assert result.exit_code == 0, result.stderr
    assert files_of(result.path) == expected_files("penguin_study", licence=False)
    assert "license" not in tomllib.loads((result.path / "pyproject.toml").read_text())["project"]


def test_hostile_values_stay_data(tmp_path):
    """Quotes, backslashes, newlines and code in answers bake a valid project and run nothing."""
    sentinel = tmp_path / "pwned"
    author = f"O'Brien \"Bob\" \\ '''); open({str(sentinel)!r}, 'w'); ('''"
    description = 'Line one\\" """ \nline two'
    name = 'Bob\'s "Lab" \\ Study'
    result = bake(
        tmp_path / "out", f"project_name={name}", f"author_name={author}", f"description={description}"
    )
    assert result.exit_code == 0, result.stderr
    assert not sentinel.exists()
    project = tomllib.loads((result.path / "pyproject.toml").read_text())["project"]
    assert project["authors"][0]["name"] == author
    assert project["description"] == description.replace("\n", " ")
    assert result.path.name == "bob-s-lab-study"
    assert (result.path / "README.md").read_text().startswith(f"# {name}\n")
    subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=result.path, check=True)


def test_answers_are_jinja_templates_as_the_readme_warns(tmp_path):
    """Cookiecutter renders answers (how the slug derives from the name): documented, not hidden."""
    result = bake(tmp_path, "author_name={{ 6 * 7 }} Lab")
    assert result.exit_code == 0, result.stderr
    assert 'name = "42 Lab"' in (result.path / "pyproject.toml").read_text()
    readme = (TEMPLATE / "README.md").read_text()
    assert "never bake with answers, config or replay files you" in readme


def test_a_unicode_project_name_gets_an_ascii_slug_and_module(tmp_path):
    """'Études des manchots — Ω' bakes as etudes-des-manchots-o with package etudes_des_manchots_o."""
    result = bake(tmp_path, "project_name=Études des manchots — Ω", "author_name=Zoë Ångström")
    assert result.exit_code == 0, result.stderr
    assert result.path.name == "etudes-des-manchots-o"
    assert result.module == "etudes_des_manchots_o"
    readme = (result.path / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Études des manchots — Ω")


@pytest.mark.parametrize(
    "answers, message",
    [
        (["module_name=class"], "module_name 'class' is a Python keyword"),
        (["module_name=pandas"], "module_name 'pandas' would shadow"),
        (["module_name=pydantic"], "module_name 'pydantic' would shadow"),
        (["module_name=jupyterlab"], "module_name 'jupyterlab' would shadow"),
        (["module_name=test"], "module_name 'test' would shadow"),
        (["module_name=site"], "module_name 'site' would shadow"),
        (["module_name=2fast"], "module_name '2fast' is not a valid Python identifier"),
        (["module_name=my-module"], "module_name 'my-module' is not a valid Python identifier"),
        (["project_name=2024 survey"], "module_name '2024_survey' is not a valid Python identifier"),
        (["project_slug=Bad Slug!"], "project_slug 'Bad Slug!' is not a valid distribution name"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(tmp_path, answers, message):
    """A bad slug or package name: one line saying what and how to fix, exit 1, no folder."""
    result = bake(tmp_path, *answers)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Nothing was written" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_users_config_file_and_replay_are_honoured(tmp_path):
    """default_context from the user's config applies; --replay bakes the same answers again."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"default_context:\n  author_name: From Config\n  project_name: Replayed Study\n"
        f"replay_dir: {tmp_path / 'replay'}\n"
    )
    first = bake(tmp_path / "first", options=("--no-input", "--config-file", str(config)))
    assert first.exit_code == 0, first.stderr
    assert first.path.name == "replayed-study"
    assert 'name = "From Config"' in (first.path / "pyproject.toml").read_text()
    again = bake(tmp_path / "again", options=("--replay", "--config-file", str(config)))
    assert again.exit_code == 0, again.stderr
    assert files_of(again.path) == files_of(first.path)
    assert (again.path / "pyproject.toml").read_text() == (first.path / "pyproject.toml").read_text()


def test_hooks_need_nothing_but_cookiecutter(tmp_path):
    """A venv holding only cookiecutter (as pipx installs it) bakes the notebooks and the repo."""
    bare = make_venv(tmp_path / "bare")
    bare.run("python", "-m", "pip", "install", "--quiet", "cookiecutter", cwd=tmp_path)
    modules = bare.run("python", "-m", "pip", "list", "--format=json", cwd=tmp_path).stdout
    assert "jupytext" not in modules and "nbformat" not in modules
    result = bake(tmp_path / "out", cookiecutter=[bare.bin("cookiecutter")])
    assert result.exit_code == 0, result.stderr
    notebook = json.loads((result.path / "notebooks" / "explore.ipynb").read_text())
    assert notebook["nbformat"] == 4 and len(notebook["cells"]) == 10
    assert (result.path / ".git").is_dir()
