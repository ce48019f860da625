#!/usr/bin/env python3
"""The template's two commands; they need nothing but Python 3.11+ and git.

    python3 dev.py demo   bake the worked example into build/demo/ and run its workflow
    python3 dev.py test   install the test tools into .venv/ and run the whole test suite

Both can be run again at any time: environments are reused while their
requirements are unchanged, and the demo project is baked afresh each time.
Extra arguments after ``test`` go to pytest (``python3 dev.py test -k hooks -x``).
"""

from __future__ import annotations

import hashlib
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


def test(pytest_args: list[str]) -> int:
    python = test_environment()
    return subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=HERE).returncode


def demo() -> int:
    python = test_environment()
    output = BUILD / "demo"
    project = output / DEMO_SLUG
    if project.exists():
        shutil.rmtree(project)
    output.mkdir(parents=True, exist_ok=True)
    say(f"baking the template into {project.relative_to(HERE)}")
    run(python, "-m", "cookiecutter", "--no-input", "--default-config", "--output-dir", output, HERE)
    # The project's environment lives beside it so re-baking keeps it; the editable
    # install points at the same src/ folder every time.
    project_python = ensure_venv(
        BUILD / "demo-venv",
        [["--upgrade", "setuptools"], ["-e", f"{project}[dev]"]],
        (project / "pyproject.toml").read_bytes(),
    )
    invoke = project_python.parent / "invoke"
    say("running the example workflow: invoke --list, invoke test")
    run(invoke, "--list", cwd=project)
    run(invoke, "test", cwd=project)
    say(f"done. The project is {project}")
    for folder in ("data/processed", "scripts", "results", "figures"):
        found = sorted(p for p in (project / folder).rglob("*") if p.is_file() and p.name != ".gitkeep")
        say(f"  {folder}/: {len(found)} files" + (f", e.g. {found[0].relative_to(project)}" if found else ""))
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    return demo() if argv[0] == "demo" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
