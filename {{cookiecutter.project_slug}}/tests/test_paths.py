"""The project root and its folders are found from anywhere inside the project."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }} import ProjectError, paths

ROOT = Path(__file__).resolve().parents[1]


def test_root_is_the_folder_holding_pyproject():
    """The root is this checkout, whatever the working directory."""
    assert paths.find_root() == ROOT
    assert paths.RAW_DIR == ROOT / "data" / "raw"
    assert paths.RESULTS_DIR == ROOT / "results"


def test_database_is_named_after_the_project():
    """The default database lives in data/processed and is named after the package."""
    assert paths.DATABASE == ROOT / "data" / "processed" / "{{ cookiecutter.module_name }}.sqlite"


def call_with_root(root, call: str) -> subprocess.CompletedProcess:
    """Run ``paths.<call>`` in a fresh interpreter with PROJECT_ROOT set to ``root``."""
    return subprocess.run(
        [sys.executable, "-c", f"from {paths.PACKAGE} import paths; paths.{call}"],
        env={**os.environ, "PROJECT_ROOT": str(root)},
        capture_output=True,
        text=True,
    )


def test_the_project_you_stand_in_wins_over_the_installed_package(tmp_path):
    """From inside another copy of the project (a clone sharing this environment), that copy
    is the root, even from one of its subfolders; PROJECT_ROOT still comes first."""
    clone = tmp_path / "clone"
    (clone / "src" / paths.PACKAGE).mkdir(parents=True)
    (clone / "notebooks").mkdir()
    (clone / "pyproject.toml").write_text('[project]\nname = "clone"\n')
    environment = {k: v for k, v in os.environ.items() if k != "PROJECT_ROOT"}
    show = f"from {paths.PACKAGE} import paths; print(paths.find_root())"
    for where in (clone, clone / "notebooks"):
        done = subprocess.run(
            [sys.executable, "-c", show], cwd=where, env=environment, capture_output=True, text=True
        )
        assert done.stdout.strip() == str(clone.resolve()), done.stderr
    done = subprocess.run(
        [sys.executable, "-c", show],
        cwd=clone,
        env={**environment, "PROJECT_ROOT": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == str(ROOT)


def test_a_broken_pyproject_is_one_clear_line(tmp_path):
    """A TOML syntax error names the file and says to fix it, without a traceback."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x\n')
    done = call_with_root(tmp_path, "config()")
    assert done.returncode == 1
    assert f"{tmp_path / 'pyproject.toml'}: " in done.stderr
    assert "fix the TOML and run again" in done.stderr


def test_project_root_variable_must_point_at_a_project(tmp_path):
    """PROJECT_ROOT pointing at a folder without pyproject.toml is one clear error."""
    done = call_with_root(tmp_path, "find_root()")
    assert done.returncode == 1
    assert f"PROJECT_ROOT={tmp_path} has no pyproject.toml" in done.stderr


@pytest.mark.parametrize("name", ["../x", "/etc", "a/../../b"])
def test_inside_refuses_paths_that_leave_the_folder(name, tmp_path):
    """A name with '..' or an absolute path cannot escape its base folder."""
    with pytest.raises(ProjectError, match="leaves"):
        paths.inside(tmp_path, name)


def test_inside_accepts_nested_names(tmp_path):
    assert paths.inside(tmp_path, "a/b") == (tmp_path / "a" / "b").resolve()


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        paths.NOT_A_FOLDER  # noqa: B018


def test_relative_shows_paths_inside_the_project_from_its_root(tmp_path):
    """Inside: relative to the root, even through a linked folder; outside: the whole path."""
    assert paths.relative(ROOT / "data" / "raw" / "a.csv") == "data/raw/a.csv"
    assert paths.relative(tmp_path / "elsewhere.csv") == str(tmp_path / "elsewhere.csv")
    link = ROOT / "data" / "interim" / "linked-for-test"
    link.symlink_to(tmp_path, target_is_directory=True)
    try:
        assert paths.relative(link / "x.csv") == "data/interim/linked-for-test/x.csv"
    finally:
        link.unlink()
