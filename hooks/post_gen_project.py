"""Finish the baked project: paired notebooks in order, a git repository, the next steps.

Hooks run in the user's cookiecutter environment, which often holds nothing
but cookiecutter (installed with pipx): this file uses only the standard
library. The example notebooks' ``.ipynb`` files are shipped in the template,
written from their ``py:percent`` scripts by jupytext (``python3 dev.py
sync-notebooks``); the template's tests check that they have not drifted apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CONTEXT = json.loads(r"""{{ cookiecutter | tojson }}""")


def order_pairs(folder: Path) -> list[Path]:
    """Make each paired ``py:percent`` script under ``folder`` at least as new as its ``.ipynb``.

    The template ships both files of every example notebook (``python3 dev.py
    sync-notebooks`` writes the ``.ipynb``); cookiecutter copies them in no set
    order, and jupytext refuses to open a pair whose text file is the older.
    """
    touched = []
    for notebook in sorted(folder.rglob("*.ipynb")):
        script = notebook.with_suffix(".py")
        if script.is_file():
            stamp = max(notebook.stat().st_mtime_ns, script.stat().st_mtime_ns)
            os.utime(script, ns=(stamp, stamp))
            touched.append(script)
    return touched


def git_init(project: Path, author: str, email: str) -> str:
    """Make the project a git repository with one first commit; say what happened."""
    git = shutil.which("git")
    if git is None:
        return "git not found: run `git init` yourself once it is installed."
    identity = [
        "-c",
        f"user.name={author or 'Researcher'}",
        "-c",
        f"user.email={email or 'researcher@localhost'}",
    ]
    steps = [
        [git, "init", "--quiet", "--initial-branch=main"],
        [git, "add", "--all"],
        [
            git,
            *identity,
            "commit",
            "--quiet",
            "--no-verify",
            "--message",
            "Start the project from lab/template",
        ],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=project, capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            why = reason[-1] if reason else "no message"
            return f"git step `{' '.join(step[1:3])}` failed ({why}); the files are all there."
    return "a git repository with a first commit."


def next_steps(context: dict, git_said: str) -> str:
    slug = context["project_slug"]
    lines = [
        f"Baked {context['project_name']} into ./{slug}: {git_said}",
        "Next steps:",
        f"  cd {slug}",
        "  uv sync && uv run invoke workflow   # .venv/ in seconds; raw data -> ... -> figures",
        "  uv run invoke lab                   # JupyterLab on the project's own kernel",
        "  uv run invoke test                  # the project's tests",
        "(Without uv: README.md gives the pip line.)",
    ]
    return "\n".join(lines)


def main() -> int:
    project = Path.cwd()
    order_pairs(project / "notebooks")
    said = git_init(project, CONTEXT.get("author_name", ""), CONTEXT.get("author_email", ""))
    print(next_steps(CONTEXT, said))
    return 0


if __name__ == "__main__":
    sys.exit(main())
