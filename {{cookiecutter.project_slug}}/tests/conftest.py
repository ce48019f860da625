"""Shared fixtures of the project's tests."""

import textwrap
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }} import paths


def _forget_the_root():
    for cached in (paths.find_root, paths.config, paths.project_name):
        cached.cache_clear()


@pytest.fixture
def scratch_project(tmp_path, monkeypatch):
    """An empty project folder (pyproject.toml, data/raw/) that the package takes as its root.

    ``scratch_project.settings(text)`` writes the ``[tool.<package>.etl]`` settings.
    """

    class Scratch:
        root = tmp_path / "project"

        @property
        def raw(self) -> Path:
            return self.root / "data" / "raw"

        @property
        def database(self) -> Path:
            return paths.DATABASE

        def settings(self, toml: str = "") -> None:
            (self.root / "pyproject.toml").write_text(
                '[project]\nname = "scratch-project"\n\n'
                + textwrap.dedent(toml).replace("PACKAGE", paths.PACKAGE)
            )
            _forget_the_root()

    scratch = Scratch()
    scratch.raw.mkdir(parents=True)
    monkeypatch.setenv("PROJECT_ROOT", str(scratch.root))
    scratch.settings()
    yield scratch
    monkeypatch.delenv("PROJECT_ROOT")
    _forget_the_root()
