"""Fixtures shared by the project's tests."""

import textwrap
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }} import paths, provenance


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """An empty project folder, outside any git repository, that the package uses as its root.

    Its ``pyproject.toml`` names a project ``scratch-study``; the package's cached root and
    settings are forgotten before and after, as are the inputs and results noted as read.
    """
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "scratch-study"\n')
    monkeypatch.setenv("PROJECT_ROOT", str(root))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for cached in (paths.find_root, paths.config, paths.project_name):
        cached.cache_clear()
    provenance.reset()
    yield root
    for cached in (paths.find_root, paths.config, paths.project_name):
        cached.cache_clear()
    provenance.reset()


@pytest.fixture
def scratch_project(scratch_root):
    """The scratch root with a ``data/raw/`` folder, for the ETL's tests.

    ``scratch_project.settings(text)`` rewrites its ``pyproject.toml`` with TOML settings,
    in which ``PACKAGE`` stands for the package's name.
    """

    class Scratch:
        root = scratch_root

        @property
        def raw(self) -> Path:
            return self.root / "data" / "raw"

        @property
        def database(self) -> Path:
            return paths.DATABASE

        def settings(self, toml: str = "") -> None:
            (self.root / "pyproject.toml").write_text(
                '[project]\nname = "scratch-study"\n\n'
                + textwrap.dedent(toml).replace("PACKAGE", paths.PACKAGE)
            )
            for cached in (paths.find_root, paths.config, paths.project_name):
                cached.cache_clear()

    scratch = Scratch()
    scratch.raw.mkdir(parents=True)
    return scratch
