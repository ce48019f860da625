"""Finish the baked project: paired notebooks, a git repository, the next steps.

Hooks run in the user's cookiecutter environment, which often holds nothing
but cookiecutter (installed with pipx): this file uses only the standard
library. It therefore builds each ``.ipynb`` from its ``py:percent`` source with
a small reader of that format; the template's tests check that jupytext reads
both files of every pair as the same notebook.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

CONTEXT = json.loads(r"""{{ cookiecutter | tojson }}""")

CELL_MARKER = re.compile(r"^# %%(?=\s|$)(?P<rest>.*)$")
CELL_TYPE = re.compile(r"\[(?P<type>markdown|md|raw)\]")
# jupytext comments out magics and shell escapes in scripts ("# %matplotlib inline").
COMMENTED_MAGIC = re.compile(r"^(?P<indent>\s*)# (?P<magic>(%%?|!)\S.*)$")
METADATA_ITEM = re.compile(r"""(?P<key>[A-Za-z_][\w.-]*)=(?P<value>"[^"]*"|\[[^\]]*\]|\{[^}]*\}|\S+)""")


def _parse_header(lines: list[str]) -> dict:
    """The notebook metadata from a jupytext YAML header (the mapping subset it writes)."""
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    for line in lines:
        text = line[2:] if line.startswith("# ") else line[1:]
        if not text.strip():
            continue
        indent = len(text) - len(text.lstrip())
        key, _, value = text.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        value = value.strip()
        if value:
            stack[-1][1][key] = json.loads(value) if value[0] in '[{"' else value
        else:
            child: dict = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
    return root.get("jupyter", {})


def _cell_metadata(rest: str) -> tuple[str, dict]:
    """Cell type and metadata from the text after ``# %%``."""
    kind = "code"
    match = CELL_TYPE.search(rest)
    if match:
        kind = {"md": "markdown"}.get(match["type"], match["type"])
        rest = rest[: match.start()] + rest[match.end() :]
    metadata = {}
    for item in METADATA_ITEM.finditer(rest):
        value = item["value"]
        try:
            metadata[item["key"]] = json.loads(value)
        except json.JSONDecodeError:
            metadata[item["key"]] = value
    title = METADATA_ITEM.sub("", rest).strip()
    if title:
        metadata["title"] = title
    return kind, metadata


def _source(kind: str, lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    if kind == "code":
        lines = [COMMENTED_MAGIC.sub(r"\g<indent>\g<magic>", line) for line in lines]
    else:
        lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
    return "\n".join(lines)


def percent_to_notebook(text: str, name: str) -> dict:
    """An nbformat 4.5 notebook (as a dict) from the text of a ``py:percent`` script."""
    lines = text.splitlines()
    metadata: dict = {}
    if lines and lines[0] == "# ---":
        end = lines.index("# ---", 1)
        metadata = _parse_header(lines[1:end])
        lines = lines[end + 1 :]
    metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    cells = []
    current: tuple[str, dict] | None = None
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        kind, cell_metadata = current
        number = len(cells)
        cell = {
            "cell_type": kind,
            "id": hashlib.sha1(f"{name}:{number}".encode()).hexdigest()[:8],
            "metadata": cell_metadata,
            "source": _source(kind, body),
        }
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)

    for line in lines:
        marker = CELL_MARKER.match(line)
        if marker:
            close()
            current, body = _cell_metadata(marker["rest"]), []
        elif current is not None:
            body.append(line)
        elif line.strip():
            current, body = ("code", {}), [line]
    close()
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def pair_notebooks(folder: Path) -> list[Path]:
    """Write the ``.ipynb`` beside every percent script under ``folder``; the list written."""
    written = []
    for script in sorted(folder.rglob("*.py")):
        text = script.read_text(encoding="utf-8")
        if "# %%" not in text:
            continue
        notebook = script.with_suffix(".ipynb")
        content = percent_to_notebook(text, script.stem)
        notebook.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        # Jupytext refuses to open a pair whose text file is older than the notebook.
        stamp = notebook.stat().st_mtime_ns
        os.utime(script, ns=(stamp, stamp))
        written.append(notebook)
    return written


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
    pair_notebooks(project / "notebooks")
    said = git_init(project, CONTEXT.get("author_name", ""), CONTEXT.get("author_email", ""))
    print(next_steps(CONTEXT, said))
    return 0


if __name__ == "__main__":
    sys.exit(main())
