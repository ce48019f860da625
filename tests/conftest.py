"""Bake the template once per test session and install the baked project once.

Every test of the baked project shares these two session fixtures: ``baked``
(the default answers, baked with the real cookiecutter CLI) and ``project_venv``
(a fresh virtual environment holding the baked project, installed editable with
its ``dev`` and ``notebook`` extras by uv, in seconds). ``unicode_bake`` and
``no_example_bake`` are two other answers, baked once per session for the tests
that follow their README.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
DEFAULT_CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())


@dataclass
class Baked:
    """A baked project: its folder, the CLI's exit status and its output."""

    path: Path
    exit_code: int
    stdout: str
    stderr: str

    @property
    def module(self) -> str:
        return next(p.parent.name for p in (self.path / "src").glob("*/__init__.py"))


def bake(
    output_dir: Path,
    *answers: str,
    options: tuple[str, ...] = ("--no-input", "--default-config"),
    cookiecutter: list[str] | None = None,
) -> Baked:
    """Run the real cookiecutter CLI with ``key=value`` answers; return what it made.

    By default the user's own cookiecutter config is ignored (``--default-config``),
    so a developer's settings cannot change what the tests see.
    """
    command = cookiecutter or [sys.executable, "-m", "cookiecutter"]
    output_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [*command, *options, "--output-dir", str(output_dir), str(TEMPLATE), *answers],
        capture_output=True,
        text=True,
        timeout=300,
    )
    made = [p for p in output_dir.iterdir() if p.is_dir()]
    return Baked(made[0] if len(made) == 1 else output_dir, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def baked(tmp_path_factory) -> Baked:
    """The template baked with its default answers, once per session."""
    result = bake(tmp_path_factory.mktemp("default"))
    assert result.exit_code == 0, result.stderr
    return result


@dataclass
class Venv:
    """A virtual environment and a way to run its commands in a folder."""

    path: Path

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def run(self, *command: str, cwd: Path, timeout: float = 600, env: dict | None = None, check=True):
        program, *rest = command
        done = subprocess.run(
            [self.bin(program), *rest],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {}), "VIRTUAL_ENV": str(self.path)},
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {done.returncode}\n--- stdout\n{done.stdout[-6000:]}"
                f"\n--- stderr\n{done.stderr[-6000:]}"
            )
        return done


def make_venv(path: Path) -> Venv:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return Venv(path)


def uv() -> str:
    """The uv of the test environment (requirements-test.txt installs it from PyPI)."""
    from uv import find_uv_bin

    return find_uv_bin()


def install_project(project: Path, path: Path) -> Venv:
    """A fresh venv at ``path`` holding ``project`` editable with its dev and notebook extras.

    uv makes it in seconds, and the venv holds no setuptools (as uv's and Python 3.12+
    venvs do not): a dependency that still imports ``pkg_resources`` fails here.
    """
    for command in (
        [uv(), "venv", "--quiet", "--clear", "--python", sys.executable, str(path)],
        [
            uv(),
            "pip",
            "install",
            "--quiet",
            # as pip does: every later process imports pandas & co. from .pyc, not source
            "--compile-bytecode",
            "--python",
            str(path / "bin" / "python"),
            "-e",
            ".[dev,notebook]",
        ],
    ):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}{done.stderr}"
    return Venv(path)


@pytest.fixture(scope="session")
def project_venv(baked, tmp_path_factory) -> Venv:
    """A fresh venv with the baked project installed editable (``.[dev,notebook]``), by uv."""
    return install_project(baked.path, tmp_path_factory.mktemp("venv") / "venv")


UNICODE_NAME = "Études de Météo Régimes 2"


@pytest.fixture(scope="session")
def unicode_bake(tmp_path_factory) -> Baked:
    """The template baked with a project name holding accents, spaces and a digit."""
    result = bake(tmp_path_factory.mktemp("unicode"), f"project_name={UNICODE_NAME}")
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="session")
def no_example_bake(tmp_path_factory) -> Baked:
    """The template baked without the worked example, under a name of its own."""
    result = bake(
        tmp_path_factory.mktemp("no-example"), "project_name=Ocean Heat Budget", "include_example=no"
    )
    assert result.exit_code == 0, result.stderr
    return result


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a server a test started (JupyterLab, ...): terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def readme_commands(project: Path) -> list[str]:
    """The lines of the first ``bash`` block of the project's README, without their comments."""
    text = (project / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def run_as_written(command: str, cwd: Path, path: str | None = None, timeout: float = 1200, env=None):
    """Run a README line through bash, as a user pastes it, with uv on PATH and no venv active.

    ``path`` replaces PATH (uv's folder is always first).
    """
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PROJECT_ROOT")}
    environment["PATH"] = os.pathsep.join([str(Path(uv()).parent), path or os.environ["PATH"]])
    return subprocess.run(
        [shutil.which("bash"), "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environment, **(env or {})},
    )


@dataclass
class Project:
    """A private copy of the baked project, run with the session's venv.

    The venv's editable install imports the package from the session's baked
    project; ``PROJECT_ROOT`` points the package's paths at this copy, so data,
    results and figures land here and tests cannot disturb each other.
    """

    path: Path
    venv: Venv

    @property
    def env(self) -> dict:
        return {"PROJECT_ROOT": str(self.path)}

    def run(self, *command: str, check: bool = True, timeout: float = 600, env: dict | None = None):
        """Run a command of the venv (``invoke``, ``python``, ...) in the project folder."""
        return self.venv.run(
            *command, cwd=self.path, check=check, timeout=timeout, env={**self.env, **(env or {})}
        )


@pytest.fixture
def project(baked, project_venv, tmp_path) -> Project:
    """A fresh copy of the baked project for one test (see :class:`Project`)."""
    copy = tmp_path / baked.path.name
    shutil.copytree(baked.path, copy, symlinks=True)
    return Project(copy, project_venv)
