#!/usr/bin/env python3
"""The template's two commands; they need nothing but Python 3.11+ and git.

    python3 dev.py demo   bake the worked example into build/demo/ and run its workflow
    python3 dev.py test   install the test tools into .venv/ and run the whole test suite
    python3 dev.py bench [NAME ...]   run benchmarks/NAME.py (all by default) in a baked project
    python3 dev.py sync-notebooks     write each example notebook's .ipynb from its py:percent script

Both can be run again at any time: environments are reused while their
requirements are unchanged, and the demo project is baked afresh each time.
Extra arguments after ``test`` go to pytest (``python3 dev.py test -k hooks -x``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"
DEMO_SLUG = "penguin-study"


def say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def run(*command: str | Path, cwd: Path = HERE) -> None:
    done = subprocess.run([str(part) for part in command], cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"[dev.py] failed ({done.returncode}): {' '.join(map(str, command))}")


def ensure_venv(folder: Path, installs: list[list[str]], fingerprint: bytes) -> Path:
    """A venv in ``folder`` with ``pip install`` of each of ``installs`` done once per fingerprint."""
    marker = folder / ".dev-py-installed"
    digest = hashlib.sha256(fingerprint + repr(installs).encode()).hexdigest()
    python = folder / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    say(f"creating {folder.relative_to(HERE)} and installing into it")
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    for arguments in installs:
        run(python, "-m", "pip", "install", "--quiet", *arguments)
    marker.write_text(digest)
    return python


def test_environment() -> Path:
    requirements = HERE / "requirements-test.txt"
    return ensure_venv(HERE / ".venv", [["-r", str(requirements)]], requirements.read_bytes())


# The figure tests read PDF and EPS files with the tools submission systems use; the ETL
# tests check that .bz2 files go through lbzip2 (every core) where it is installed; the sweep
# tests start a one-node SLURM (tests/slurm.py) on 127.0.0.1; the Workspace pane's test drives
# Debian's chromium with Playwright.
SYSTEM_TOOLS = {
    "gs": "ghostscript",
    "pdffonts": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "lbzip2": "lbzip2",
    "slurmctld": "slurm-wlm",
    "slurmd": "slurm-wlm",
    "sbatch": "slurm-wlm",
    "munged": "munge",
    "chromium": "chromium",
}


def ensure_system_tools() -> None:
    """Install poppler-utils, ghostscript, lbzip2 and chromium with apt-get when missing and we may."""
    missing = sorted({package for tool, package in SYSTEM_TOOLS.items() if not shutil.which(tool)})
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        say(
            f"{' and '.join(missing)} not found: install them (the figure tests fail without "
            "poppler-utils and ghostscript, the pane's browser test without chromium; without "
            "lbzip2 only the bz2 module's path is tested; the SLURM sweep tests need slurm-wlm "
            "and munge, and root)"
        )
        return
    say(f"installing {' and '.join(missing)} with apt-get (for the figure, ETL, sweep and pane tests)")
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for arguments in (["update", "-qq"], ["install", "-y", "-qq", *missing]):
        if subprocess.run([apt, *arguments], env=quiet, stdout=subprocess.DEVNULL).returncode:
            sys.exit(f"[dev.py] apt-get {' '.join(arguments)} failed")


def test(pytest_args: list[str]) -> int:
    ensure_system_tools()
    python = test_environment()
    return subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=HERE).returncode


def baked_project(name: str) -> tuple[Path, Path]:
    """Bake the default project afresh into build/NAME/; return it and its venv's python."""
    python = test_environment()
    output = BUILD / name
    project = output / DEMO_SLUG
    if project.exists():
        shutil.rmtree(project)
    output.mkdir(parents=True, exist_ok=True)
    say(f"baking the template into {project.relative_to(HERE)}")
    run(python, "-m", "cookiecutter", "--no-input", "--default-config", "--output-dir", output, HERE)
    # The project's environment lives beside it so re-baking keeps it; the editable
    # install points at the same src/ folder every time.
    return project, project_environment(BUILD / f"{name}-venv", project)


def project_environment(folder: Path, project: Path) -> Path:
    """``project`` installed editable with its dev and notebook extras into ``folder`` by uv.

    uv (installed into .venv/ from PyPI by requirements-test.txt) takes seconds where
    pip takes minutes; it is redone only when the project's pyproject.toml changed.
    """
    uv = HERE / ".venv" / "bin" / "uv"
    python = folder / "bin" / "python"
    marker = folder / ".dev-py-installed"
    digest = hashlib.sha256((project / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    say(f"installing the project into {folder.relative_to(HERE)} with uv")
    run(uv, "venv", "--quiet", "--clear", "--python", sys.executable, folder)
    # --compile-bytecode, as pip does: each `invoke` then imports pandas & co. from .pyc files
    # (compiling them from source again in every process cost about 1 s a command).
    run(
        uv,
        "pip",
        "install",
        "--quiet",
        "--compile-bytecode",
        "--python",
        python,
        "-e",
        f"{project}[dev,notebook]",
    )
    marker.write_text(digest)
    return python


def bench(names: list[str]) -> int:
    """Run each benchmark script with the baked project's Python, in the project folder."""
    project, python = baked_project("bench")
    scripts = [HERE / "benchmarks" / f"{n}.py" for n in names] or sorted((HERE / "benchmarks").glob("*.py"))
    for script in scripts:
        say(f"benchmark {script.stem}")
        run(python, script, cwd=project)
    return 0


TEMPLATE_NOTEBOOKS = HERE / "{{cookiecutter.project_slug}}" / "notebooks"


def example_scripts() -> list[Path]:
    """The template's example notebooks' py:percent scripts (their names hold Jinja)."""
    return sorted(p for p in TEMPLATE_NOTEBOOKS.rglob("*") if p.name.endswith(".py{% endif %}"))


def paired_ipynb(script: Path) -> Path:
    """The shipped ``.ipynb`` of ``script``: the same name, Jinja condition included."""
    return script.with_name(script.name.replace(".py{% endif %}", ".ipynb{% endif %}"))


def notebook_text(script: Path) -> str:
    """The ``.ipynb`` jupytext makes of ``script``, with cell ids that depend only on the script.

    Needs jupytext: ``sync-notebooks`` runs it in the test environment (.venv/).
    """
    import jupytext

    # Jinja expressions ({{ cookiecutter.project_slug }} in the kernelspec header) are not
    # YAML: each stands in as a plain word while jupytext works, and is put back after.
    expressions: list[str] = []

    def stand_in(match: re.Match) -> str:
        expressions.append(match.group(0))
        return f"jinja{len(expressions) - 1}expression"

    text = re.sub(r"\{\{.*?\}\}", stand_in, script.read_text(encoding="utf-8"))
    notebook = jupytext.reads(text, fmt="py:percent")
    stem = paired_ipynb(script).name.split("%}")[1].removesuffix(".ipynb{")
    for number, cell in enumerate(notebook.cells):
        cell.id = hashlib.sha1(f"{stem}:{number}".encode()).hexdigest()[:8]
    notebook.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    notebook.metadata["jupytext"].pop("text_representation", None)
    written = jupytext.writes(notebook, fmt="ipynb")
    for number, expression in enumerate(expressions):
        written = written.replace(f"jinja{number}expression", expression)
    return written


def write_notebooks() -> list[Path]:
    """Write every example's ``.ipynb`` whose text differs from what its script makes."""
    written = []
    for script in example_scripts():
        target, text = paired_ipynb(script), notebook_text(script)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def sync_notebooks() -> int:
    """Write the example notebooks' .ipynb files from their scripts (idempotent)."""
    python = test_environment()
    code = "import dev\nfor path in dev.write_notebooks(): print('[dev.py] wrote', path.name)"
    done = subprocess.run([str(python), "-c", code], cwd=HERE)
    if done.returncode == 0:
        say("the example notebooks' .ipynb files match their scripts")
    return done.returncode


def demo() -> int:
    project, project_python = baked_project("demo")
    invoke = project_python.parent / "invoke"
    say("running the example workflow: invoke workflow --check")
    run(invoke, "workflow", "--check", cwd=project)
    run(invoke, "results", "kmeans", cwd=project)
    say(f"done. The project is {project}")
    for folder in ("data/processed", "scripts", "results", "figures"):
        found = sorted(p for p in (project / folder).rglob("*") if p.is_file() and p.name != ".gitkeep")
        say(f"  {folder}/: {len(found)} files" + (f", e.g. {found[0].relative_to(project)}" if found else ""))
    return 0


def main(argv: list[str]) -> int:
    commands = {
        "demo": lambda: demo(),
        "test": lambda: test(argv[1:]),
        "bench": lambda: bench(argv[1:]),
        "sync-notebooks": lambda: sync_notebooks(),
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
