"""Lint the project: ruff, and the checks a notebook workflow needs.

:func:`lint` (``invoke lint``) runs ruff, with the settings in ``pyproject.toml``,
over ``src/``, ``scripts/`` and the notebooks' paired scripts, and adds the checks
a notebook workflow needs that a linter of single files cannot make:

- ``NB001`` a script in ``scripts/`` reads a name it never defines: under
  ``%run -i`` a notebook silently supplies it, anywhere else the script fails;
- ``NB002`` a script imports a name it never uses;
- ``NB101`` a cell reads a name that only a later cell defines ("run all" stops there);
- ``NB102`` a name is bound at top level in several cells with different meanings;
- ``NB103`` a cell reads a name that an earlier cell deletes;
- ``NB104`` (a warning, which does not fail ``invoke lint``) the stored execution
  counts show that cells were last run out of order.

Cells are numbered from 1 among all cells, markdown included: cell N is the N-th
``# %%`` of the paired script. A finding is placed on its line of the paired
``.py`` when the pair is in sync, else as ``notebook.ipynb:cell N:line``. A
``# noqa`` comment (bare, or naming the code or its ruff twin F821/F401)
silences its line.

The rules, chosen so that a finding is worth reading:

- NB101 and NB103 count only reads that happen when the cell runs: a function
  body may use a global that a later cell defines, if it is called after that.
- NB102 compares what each top-level binding makes of its name: an import (of
  what), a function, a class or a value, and for a literal value its kind
  (number, string, bytes, list, tuple, dict, set). Bindings in two cells differ
  in meaning when they are of different sorts (``from scipy import stats`` and
  ``stats = summary(df)``; ``def f`` and ``f = 3``), imports of different things,
  or literals of different kinds (``x = 1`` and ``x = "a"``). Never compared:
  updates (``x += 1``, ``x = x + 1``, ``df = df.dropna()``), ``None``
  placeholders, loop and ``with`` targets against values, and two values of
  unknown kind (``df = load()`` and ``df = summary()``): only running the code
  could tell those apart, and flagging them would bury the real findings.
- ``%run script.py`` binds what the script binds at top level (read statically,
  relative to the notebook's folder, as the kernel runs there); with ``-i`` the
  names the script reads from the notebook count as reads of the cell. A
  ``%run`` whose script cannot be read (not written yet, say) and
  ``from module import *`` may bind anything: reads after them are not reported.
- NB104 looks at the ``.ipynb`` only, and only when its cells are the ones analysed.

This module is the runner (which files, ruff, merging the findings); the rules
are :mod:`.rules`. Restart-and-run-all (``invoke check-notebooks``) is :mod:`..check`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from .. import paths
from ..notebook import files
from .rules import (
    Analysis,
    Finding,
    LintError,
    NotebookCheck,
    check_notebook,
    check_script,
    display_path,
    is_notebook,
    locate,
    where,
)

__all__ = [
    "Finding",
    "LintError",
    "check_notebook",
    "check_script",
    "is_notebook",
    "lint",
    "locate",
    "where",
]


def _ruff(files: list[Path]) -> list[Finding]:
    """Ruff's findings in ``files``, with the project's settings."""
    import importlib.util

    if not files:
        return []
    if importlib.util.find_spec("ruff") is None:
        raise LintError("ruff is not installed in this Python: pip install -e '.[dev]'")
    root = paths.ROOT
    names = [os.path.relpath(f, root) for f in files]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--output-format=json",
            "--no-fix",
            "--force-exclude",
        ]
        + ["--", *names],
        cwd=root,
        capture_output=True,
        text=True,
    )
    try:
        items = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        items = None
    if done.returncode not in (0, 1) or items is None:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise LintError(f"ruff failed (exit {done.returncode}): {why}; run `ruff check` to see all")
    found = []
    for item in items:
        code = item.get("code") or "invalid-syntax"
        fix = item.get("fix") or {}
        if fix.get("message") and fix.get("applicability") == "safe":
            hint = f"{fix['message']}; `ruff check --fix` does it"
        else:
            hint = f"`ruff rule {code}` explains" if item.get("url") else ""
        name = re.search(r"`([^`]+)`", item["message"])
        found.append(
            Finding(
                display_path(Path(item["filename"])),
                item["location"]["row"],
                code,
                item["message"],
                hint,
                item.get("cell"),
                name=name[1] if name else "",
            )
        )
    return found


def _targets(given: Iterable[str] | None) -> list[Path]:
    """The files to lint: those in ``given`` (which must be inside the project), or the defaults."""
    root = paths.ROOT
    if not given:
        folders = [root / "src", paths.SCRIPTS_DIR, paths.NOTEBOOKS_DIR]
        return [f for folder in folders if folder.is_dir() for f in files.notebooks_under(folder)]
    found: list[Path] = []
    for word in given:
        path = paths.inside(root, os.path.relpath(Path.cwd() / word, root))
        if path.is_dir():
            found.extend(files.notebooks_under(path))
        elif path.is_file():
            found.extend([path] if path.suffix in (".py", ".ipynb") else [])
        else:
            raise LintError(f"{word}: no such file or folder; give paths inside the project")
    return list(dict.fromkeys(found))


def lint(targets: Iterable[str] | None = None) -> list[Finding]:
    """Every finding in ``targets``, files or folders (default: src/, scripts/ and notebooks/).

    Ruff's own findings come with the project's checks; where both see the same
    problem (a name a script never defines, a cell reading a later cell's name),
    the project's finding, which says more, replaces ruff's.
    """
    scripts_dir = paths.SCRIPTS_DIR.resolve()
    notebooks: dict[Path, None] = {}
    to_ruff, findings = [], []
    replaced: set[str] = set()  # scripts whose F821/F401 the NB001/NB002 findings replace
    checks: list[NotebookCheck] = []
    for path in _targets(targets):
        if is_notebook(path):
            notebooks.setdefault(path.with_suffix(""), None)
            continue
        to_ruff.append(path)
        if path.suffix == ".py" and path.resolve().is_relative_to(scripts_dir):
            findings.extend(check_script(path))
            replaced.add(display_path(path))
    analysis = Analysis()
    for stem in notebooks:
        stored = next(
            p for p in (stem.with_suffix(".py"), stem.with_suffix(".ipynb")) if p.is_file()
        )
        check = NotebookCheck(files.read(stored), analysis)
        findings.extend(check.findings)
        checks.append(check)
        to_ruff.append(stored)
    for finding in _ruff(to_ruff):
        if finding.code in ("F821", "F401") and finding.path in replaced:
            continue
        if any(check.explains(finding) for check in checks):
            continue
        findings.append(finding)
    return sorted(set(findings), key=Finding.sort_key)
