"""Lint the project, and run its notebooks top to bottom in a fresh kernel.

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

:func:`run_notebooks` (``invoke check-notebooks``) runs each notebook in a new
kernel of this Python, in the notebook's folder, with a time limit per cell,
on a copy in memory (the files are never written), and reports the first cell
that fails.
"""

from __future__ import annotations

import ast
import getopt
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import cells, paths
from .errors import ProjectError


class LintError(ProjectError):
    """Linting or running notebooks cannot start: a missing tool, path or notebook."""


# ---- findings ----------------------------------------------------------------------------------


def _where(path: str, line: int, cell: int | None) -> str:
    return f"{path}:cell {cell}:{line}" if cell else f"{path}:{line}"


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, a code, what is wrong, and how to fix it.

    ``cell`` is set when ``path`` is a notebook file: ``line`` is then the line
    within that cell.
    """

    path: str
    line: int
    code: str
    message: str
    hint: str = ""
    cell: int | None = None
    warning: bool = False
    name: str = field(default="", compare=False)  # the name it is about, to merge with ruff's

    def __str__(self) -> str:
        warning = "warning: " if self.warning else ""
        hint = f" ({self.hint})" if self.hint else ""
        return (
            f"{_where(self.path, self.line, self.cell)}: {self.code} {warning}{self.message}{hint}"
        )

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.code, self.message)


NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9]+(?:[\s,]+[A-Za-z0-9]+)*))?", re.I)
RUFF_TWIN = {"NB001": "F821", "NB002": "F401", "NB101": "F821", "NB103": "F821"}


def _silenced(text: str, code: str) -> bool:
    """Whether a ``# noqa`` comment on ``text`` covers ``code`` (or its ruff twin)."""
    match = NOQA.search(text)
    if not match:
        return False
    if not match["codes"]:
        return True
    codes = {c.upper() for c in re.split(r"[\s,]+", match["codes"])}
    return code in codes or RUFF_TWIN.get(code) in codes


def _display(path: Path) -> str:
    """``path`` as shown: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(paths.ROOT).as_posix()
    except ValueError:
        return str(path)


# ---- notebooks on disk ------------------------------------------------------------------------

CELL_MARKER = re.compile(r"^# %%(?=\s|$)")  # not "# %%capture", a commented cell magic
SKIPPED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "build", "dist"}


@dataclass
class Notebook:
    """A notebook's cells, and where their lines are on disk.

    Of a pair, the cells come from the file saved last (as jupytext does);
    ``script`` is the paired ``py:percent`` file when its cells are the same,
    so findings point at its lines; ``counts`` are the ``.ipynb``'s stored
    execution counts when its cells are the same.
    """

    path: Path
    cells: list
    script: Path | None = None
    markers: list[int] = field(default_factory=list)
    script_lines: list[str] = field(default_factory=list)
    counts: list[int | None] | None = None

    @property
    def name(self) -> str:
        return _display(self.path.with_suffix(""))

    def locate(self, number: int, line: int) -> tuple[str, int, int | None]:
        """``(file, line, cell)`` of line ``line`` of cell ``number`` (both from 1)."""
        if self.script is None:
            return _display(self.path), line, number
        marker = self.markers[number - 1]
        source = self.cells[number - 1].source.splitlines()
        text = source[line - 1] if 0 < line <= len(source) else None
        index = marker + line
        if text is not None and index < len(self.script_lines):
            on_disk = self.script_lines[index]
            # jupytext comments out magics in the script: "%run x.py" is "# %run x.py" there
            if on_disk in (text, f"# {text}"):
                return _display(self.script), index + 1, None
        return _display(self.script), marker + 1, None

    def cell_at(self, path: str, line: int, cell: int | None) -> tuple[int, int] | None:
        """``(cell, line in cell)`` of a place :meth:`locate` gives; None for other places."""
        if cell is not None:
            return (cell, line) if path == _display(self.path) else None
        if self.script is None or path != _display(self.script):
            return None
        number = sum(marker < line - 1 for marker in self.markers)
        return (number, line - 1 - self.markers[number - 1]) if number else None


def _read(path: Path):
    import jupytext

    try:
        return jupytext.read(path)
    except (OSError, ValueError) as error:
        raise LintError(
            f"{_display(path)}: cannot read it as a notebook ({error}); fix or remove the file"
        ) from None


def read_notebook(path: str | os.PathLike) -> Notebook:
    """The notebook stored at ``path`` (its ``.ipynb`` or its paired ``.py``)."""
    path = Path(path)
    ipynb, script = path.with_suffix(".ipynb"), path.with_suffix(".py")
    has_ipynb, has_script = ipynb.is_file(), script.is_file()
    if not (has_ipynb or has_script):
        raise LintError(f"{_display(path)}: no such notebook")
    script_is_newer = has_script and (
        not has_ipynb or script.stat().st_mtime >= ipynb.stat().st_mtime
    )
    chosen = script if script_is_newer else ipynb
    notebook = _read(chosen)
    sources = [cell.source for cell in notebook.cells]
    found = Notebook(chosen, notebook.cells)
    if has_ipynb:
        stored = notebook if chosen == ipynb else _read(ipynb)
        if [cell.source for cell in stored.cells] == sources:
            found.counts = [cell.get("execution_count") for cell in stored.cells]
    if has_script:
        lines = script.read_text(encoding="utf-8").splitlines()
        markers = [index for index, line in enumerate(lines) if CELL_MARKER.match(line)]
        same = chosen == script or [cell.source for cell in _read(script).cells] == sources
        if same and len(markers) == len(sources):
            found.script, found.markers, found.script_lines = script, markers, lines
    return found


def _is_notebook(path: Path) -> bool:
    """An ``.ipynb``, or a ``.py`` paired with one or written in percent format in notebooks/."""
    if path.suffix == ".ipynb":
        return True
    if path.suffix != ".py":
        return False
    if path.with_suffix(".ipynb").is_file():
        return True
    in_notebooks = path.resolve().is_relative_to(paths.NOTEBOOKS_DIR.resolve())
    return in_notebooks and any(CELL_MARKER.match(line) for line in path.read_text().splitlines())


def _files_under(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix in (".py", ".ipynb")
        and path.is_file()
        and not any(
            part.startswith(".") or part in SKIPPED_FOLDERS
            for part in path.relative_to(folder).parts[:-1]
        )
    )


# ---- what a piece of code reads and binds -----------------------------------------------------

# What a top-level binding makes of its name (see the module's docstring).
UPDATE, PLACEHOLDER, DELETE, ANYTHING = ("update",), ("placeholder",), ("delete",), ("anything",)
FUNCTION, CLASS, VALUE = ("function",), ("class",), ("value", None)
MEANINGFUL = {"import", "function", "class", "value"}
LITERALS = {
    ast.List: "list",
    ast.ListComp: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.DictComp: "dict",
    ast.Set: "set",
    ast.SetComp: "set",
    ast.JoinedStr: "string",
}


def _kind(name: str, value: ast.expr | None) -> tuple:
    """What ``name = value`` makes of ``name``."""
    if value is None:
        return VALUE
    if any(isinstance(node, ast.Name) and node.id == name for node in ast.walk(value)):
        return UPDATE
    if isinstance(value, ast.UnaryOp) and isinstance(value.operand, ast.Constant):
        value = value.operand  # -1
    if isinstance(value, ast.Constant):
        if value.value is None:
            return PLACEHOLDER
        kinds = {bool: "number", int: "number", float: "number", complex: "number"}
        kinds.update({str: "string", bytes: "bytes"})
        return ("value", kinds.get(type(value.value)))
    if isinstance(value, ast.Lambda):
        return FUNCTION
    return ("value", LITERALS.get(type(value)))


def _describe(kind: tuple) -> str:
    if kind[0] == "import":
        return f"import {kind[1]}"
    if kind[0] in ("function", "class"):
        return f"a {kind[0]}"
    return {None: "a value", "bytes": "bytes"}.get(kind[1], f"a {kind[1]}")


def _differ(one: tuple, other: tuple) -> bool:
    """Whether two bindings give a name different meanings (see the module's docstring)."""
    if one[0] != other[0]:
        return True
    if one[0] == "import":
        return one[1] != other[1]
    return one[0] == "value" and None not in (one[1], other[1]) and one[1] != other[1]


@dataclass
class Event:
    """A top-level binding or deletion: its line, the name (``*``: any), what it makes of it."""

    line: int
    name: str
    kind: tuple
    via: str = ""  # the script of a %run that made it
    imported: str = ""  # what an import imports, as ruff names it ("numpy", "scipy.stats")


def _run_argument(node: ast.AST) -> str | None:
    """The argument of a ``%run`` magic (as IPython's transformer writes it), else None."""
    call = node.value if isinstance(node, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    args = call.args
    if call.func.attr != "run_line_magic" or len(args) != 2:
        return None
    if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return None
    return args[1].value if args[0].value == "run" else None


class _Bindings(ast.NodeVisitor):
    """The top-level bindings of a module, in order, and what each makes of its name.

    Function and lambda bodies run later and bind nothing here; ``%run`` calls
    ``on_run(line, argument, events so far)``, which returns the events it adds.
    """

    def __init__(self, on_run=None):
        self.events: list[Event] = []
        self.on_run = on_run

    def add(self, node: ast.AST, name: str, kind: tuple, imported: str = "") -> None:
        self.events.append(Event(node.lineno, name, kind, imported=imported))

    def bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.add(target, target.id, _kind(target.id, value))
        elif isinstance(target, ast.Tuple | ast.List):
            values = [None] * len(target.elts)
            if (
                isinstance(value, ast.Tuple | ast.List)
                and len(value.elts) == len(values)
                and not any(isinstance(e, ast.Starred) for e in [*value.elts, *target.elts])
            ):
                values = value.elts
            for element, element_value in zip(target.elts, values, strict=True):
                self.bind(element, element_value)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None)
        # attributes and subscripts change an object; they bind no name

    def visit_FunctionDef(self, node):
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        self.add(node, node.name, FUNCTION)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for expression in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expression)
        self.add(node, node.name, CLASS)

    def visit_Lambda(self, node):
        self.visit(node.args)

    def visit_Import(self, node):
        for alias in node.names:
            name = alias.asname or alias.name.partition(".")[0]
            self.add(alias, name, ("import", alias.name if alias.asname else name), alias.name)

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.add(node, "*", ANYTHING)
            else:
                joined = f"{module}{'' if module.endswith('.') else '.'}{alias.name}"
                self.add(alias, alias.asname or alias.name, ("import", joined), joined)

    def visit_Assign(self, node):
        self.visit(node.value)
        for target in node.targets:
            self.bind(target, node.value)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target, node.value)

    def visit_AugAssign(self, node):
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.add(node, node.target.id, UPDATE)

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        self.bind(node.target, node.value)

    def visit_Delete(self, node):
        for target in node.targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Del):
                    self.add(name, name.id, DELETE)

    def visit_For(self, node):
        self.visit(node.iter)
        self.bind(node.target, None)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, None)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node):
        # `except E as e` unbinds e again when the handler ends
        for statement in node.body:
            self.visit(statement)

    def visit_match_case(self, node):
        for pattern in ast.walk(node.pattern):
            for attribute in ("name", "rest"):
                if isinstance(captured := getattr(pattern, attribute, None), str):
                    self.add(pattern, captured, VALUE)
        for statement in node.body:
            self.visit(statement)

    def visit_Expr(self, node):
        argument = _run_argument(node)
        if argument is None:
            self.generic_visit(node)
        elif self.on_run is None:
            self.add(node, "*", ANYTHING)
        else:
            self.events.extend(self.on_run(node.lineno, argument, list(self.events)))


class _Reads(ast.NodeVisitor):
    """``(name, line)`` of every read that happens when the module runs (not in function bodies)."""

    def __init__(self):
        self.found: set[tuple[str, int]] = set()

    def visit_Name(self, node):
        if not isinstance(node.ctx, ast.Store):
            self.found.add((node.id, node.lineno))

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self.found.add((node.target.id, node.lineno))
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        for expression in [*node.decorator_list, node.args, node.returns]:
            if expression is not None:
                self.visit(expression)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.visit(node.args)


def _reads_now(source: str, tree: ast.Module, where: str) -> dict[str, list[int]]:
    """Names ``source`` reads, when it runs, without defining them first; with their lines."""
    reader = _Reads()
    reader.visit(tree)
    free = cells.free_names(source, where)
    now = {name: [n for n in lines if (name, n) in reader.found] for name, lines in free.items()}
    return {name: lines for name, lines in now.items() if lines}


@dataclass
class _Code:
    """What a cell (or a script run with ``%run``) binds and reads."""

    events: list[Event]
    reads: dict[str, list[int]]
    via: dict[str, str] = field(default_factory=dict)  # read by the %run -i of this script
    used: set[str] = field(default_factory=set)  # every name read, in function bodies too


RUN_OPTIONS = "nidtN:b:pD:l:rs:T:em:G"  # IPython's own getopt spec of %run


class _Analysis:
    """Reads notebook cells and the scripts they ``%run``, each script once."""

    def __init__(self):
        self.scripts: dict[Path, _Code | None] = {}

    def code(self, source: str, where: str, folder: Path | None) -> _Code | None:
        """The bindings and reads of ``source``; None if it does not parse (ruff says why)."""
        try:
            tree = cells.parse(source, where)
        except cells.CellSyntaxError:
            return None
        via: dict[str, str] = {}
        extra: dict[str, list[int]] = {}

        def on_run(line: int, argument: str, before: list[Event]) -> list[Event]:
            script, interactive = self.run_target(argument, folder)
            ran = self.script(script) if script else None
            if ran is None:
                return [Event(line, "*", ANYTHING, argument)]
            shown = _display(script)
            if interactive:
                bound = {e.name for e in before if e.kind is not DELETE}
                for name in ran.reads.keys() - bound:
                    extra.setdefault(name, [line])
                    via.setdefault(name, shown)
            return [Event(line, e.name, e.kind, e.via or shown) for e in ran.events]

        binder = _Bindings(on_run if folder is not None else None)
        binder.visit(tree)
        # pyflakes cannot know that a %run above binds a name: such reads are not free
        run_binds: dict[str, int] = {}
        for event in binder.events:
            if event.via and event.kind is not DELETE:
                run_binds.setdefault(event.name, event.line)
        reads: dict[str, list[int]] = {}
        for name, lines in _reads_now(source, tree, where).items():
            if free := [line for line in lines if line <= run_binds.get(name, line)]:
                reads[name] = free
        for name, lines in extra.items():
            reads.setdefault(name, lines)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and type(n.ctx) is ast.Load}
        return _Code(binder.events, reads, via, used)

    @staticmethod
    def run_target(argument: str, folder: Path | None) -> tuple[Path | None, bool]:
        """The file a ``%run`` runs and whether with ``-i``; None when not knowable statically."""
        try:
            options, words = getopt.getopt(shlex.split(argument), RUN_OPTIONS)
        except (ValueError, getopt.GetoptError):
            return None, False
        flags = {option for option, _ in options}
        if folder is None or not words or "-m" in flags or re.search(r"[$]|\{", words[0]):
            return None, False
        base = folder / Path(words[0]).expanduser()
        for candidate in (base, base.with_name(base.name + ".py")):
            if candidate.is_file():
                return candidate, "-i" in flags
        return None, False

    def script(self, path: Path) -> _Code | None:
        path = path.resolve()
        if path not in self.scripts:
            self.scripts[path] = None  # a script that runs itself stays unknown
            try:
                if path.suffix == ".ipynb":
                    code = [c.source for c in _read(path).cells if c.cell_type == "code"]
                    source = "\n".join(cells.to_python(s) for s in code)
                else:
                    source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError, LintError):
                return None
            self.scripts[path] = self.code(source, _display(path), None)
        return self.scripts[path]


# ---- checks -----------------------------------------------------------------------------------


def check_script(path: str | os.PathLike) -> list[Finding]:
    """NB001 and NB002 of a script meant for ``%run -i``: names it never defines, unused imports."""
    from pyflakes import checker, messages

    path = Path(path)
    shown = _display(path)
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    try:
        tree = cells.parse(source, shown)
    except cells.CellSyntaxError:
        return []  # ruff reports the syntax error

    def first_open(code: str, rows: list[int]) -> int | None:
        return next((n for n in rows if not _silenced(lines[n - 1], code)), None)

    found = []
    for name, rows in cells.free_names(source, shown).items():
        if (row := first_open("NB001", rows)) is not None:
            also = [n for n in rows if n != row]
            more = (
                f" (also line{'s' * (len(also) > 1)} {', '.join(map(str, also))})" if also else ""
            )
            found.append(
                Finding(
                    shown,
                    row,
                    "NB001",
                    f"'{name}' is read but never defined in this script{more}: under %run -i "
                    "the notebook supplies it, anywhere else the script fails",
                    "define or load it in the script, or make it an argparse option",
                    name=name,
                )
            )
    for message in checker.Checker(tree, filename=shown).messages:
        unused = isinstance(message, messages.UnusedImport)
        if unused and first_open("NB002", [message.lineno]) is not None:
            name = message.message_args[0]
            found.append(
                Finding(
                    shown,
                    message.lineno,
                    "NB002",
                    f"'{name}' is imported but never used",
                    "remove the import; `ruff check --fix` does it",
                    name=name,
                )
            )
    return found


def check_notebook(path: str | os.PathLike) -> list[Finding]:
    """Findings NB101-NB104 of the notebook at ``path`` (its ``.ipynb`` or its paired ``.py``)."""
    return _NotebookCheck(read_notebook(path), _Analysis()).findings


def _last_event(facts: list[tuple[int, _Code]], name: str, number: int, line: int = 0):
    """``(cell, event)``: the last binding or deletion of ``name`` (``*``: of any name) run
    before cell ``number``, or before its line ``line`` when given; None if there is none."""
    last = None
    for cell, code in facts:
        for event in code.events:
            if event.name in (name, "*") and (
                cell < number or cell == number and event.line < line
            ):
                last = (cell, event)
    return last


class _NotebookCheck:
    """NB101-NB104 of one notebook; then tells which of ruff's F821 findings it explains."""

    def __init__(self, notebook: Notebook, analysis: _Analysis):
        self.notebook = notebook
        self.findings: list[Finding] = []
        self.seen: set[tuple] = set()  # (path, cell, line, name) of every finding, even silenced
        self.facts: list[tuple[int, _Code]] = []
        for number, cell in enumerate(notebook.cells, 1):
            if cell.cell_type == "code":
                where = f"{notebook.name} cell {number}"
                code = analysis.code(cell.source, where, notebook.path.parent)
                if code is not None:
                    self.facts.append((number, code))
        self.check_reads()
        _check_meanings(self.facts, self.report)
        if notebook.counts:
            _check_order(notebook, self.report)

    def report(self, number, line, code, message, hint, name="", warning=False) -> None:
        path, row, cell = self.notebook.locate(number, line)
        self.seen.add((path, cell, row, name))  # silenced or not, ruff's twin is this one
        source = self.notebook.cells[number - 1].source.splitlines()
        if not (0 < line <= len(source) and _silenced(source[line - 1], code)):
            self.findings.append(Finding(path, row, code, message, hint, cell, warning, name))

    def check_reads(self) -> None:
        """NB101 (a read of a later cell's name) and NB103 (of a deleted name)."""
        for index, (number, code) in enumerate(self.facts):
            for name, lines in code.reads.items():
                via = code.via.get(name)
                reader = (
                    f"cell {number} runs {via} with %run -i; it reads"
                    if via
                    else f"cell {number} reads"
                )
                last = _last_event(self.facts, name, number)
                later = self.bound_later(index, name)
                if last is None and later:
                    self.report(
                        number,
                        lines[0],
                        "NB101",
                        f"{reader} '{name}', which only a later cell defines (cell {later}): "
                        "'run all' stops here",
                        f"move the definition above cell {number}, or this cell below it",
                        name,
                    )
                elif last and last[1].kind is DELETE:
                    self.report(
                        number,
                        lines[0],
                        "NB103",
                        f"{reader} '{name}', which cell {last[0]} deletes (del) and no cell in "
                        "between defines again",
                        f"drop the del in cell {last[0]}, or stop using '{name}' after it",
                        name,
                    )

    def bound_later(self, index: int, name: str) -> int:
        """The first cell after ``facts[index]`` to bind ``name`` (0: none, or one deletes it)."""
        for number, code in self.facts[index + 1 :]:
            for event in code.events:
                if event.name == name:
                    return 0 if event.kind is DELETE else number
        return 0

    def explains(self, finding: Finding) -> bool:
        """Whether ruff's ``finding`` is wrong, or one of this check's, on what magics do.

        Ruff reads the paired script, where magics are comments: it cannot see
        that ``files = !ls``, ``%%capture out`` or a ``%run`` script binds a name
        (F821), nor that ``%timeit np.sum(x)`` uses ``np`` (F401).
        """
        if finding.code not in ("F821", "F401"):
            return False
        if (finding.path, finding.cell, finding.line, finding.name) in self.seen:
            return True
        place = self.notebook.cell_at(finding.path, finding.line, finding.cell)
        if place is None:
            return False
        if finding.code == "F401":
            used = set().union(*(code.used for _, code in self.facts))
            return any(
                event.imported == finding.name and event.line == place[1] and event.name in used
                for number, code in self.facts
                if number == place[0]
                for event in code.events
            )
        last = _last_event(self.facts, finding.name, *place)
        return bool(last) and last[1].name == finding.name and last[1].kind is not DELETE


def _check_meanings(facts: list[tuple[int, _Code]], report) -> None:
    """NB102: a name bound in several cells with different meanings."""
    bindings: dict[str, list[tuple[int, Event]]] = {}
    for number, code in facts:
        for event in code.events:
            if event.kind[0] in MEANINGFUL and event.name != "*":
                bindings.setdefault(event.name, []).append((number, event))
    for name, found in bindings.items():
        clashing = [
            (number, event)
            for number, event in found
            if any(n != number and _differ(event.kind, e.kind) for n, e in found)
        ]
        if not clashing:
            continue
        first_per_cell: dict[int, Event] = {}
        for number, event in clashing:
            first_per_cell.setdefault(number, event)
        described = [
            f"{number} ({_describe(event.kind)}{f', via {event.via}' if event.via else ''})"
            for number, event in first_per_cell.items()
        ]
        listing = ", ".join(described[:-1]) + " and " + described[-1]
        number, event = next(
            (n, e)
            for n, e in clashing
            if any(m < n and _differ(e.kind, other.kind) for m, other in clashing)
        )
        report(
            number,
            event.line,
            "NB102",
            f"'{name}' is bound with different meanings in cells {listing}: "
            "a cell that reads it gets whichever ran last",
            "give each meaning its own name",
            name,
        )


def _check_order(notebook: Notebook, report) -> None:
    """NB104 (a warning): stored execution counts that do not rise from cell to cell."""
    highest: tuple[int, int] | None = None  # (count, cell)
    late = []
    for number, count in enumerate(notebook.counts, 1):
        if not isinstance(count, int):
            continue
        if highest and count < highest[0]:
            late.append((number, count, highest))
        elif not highest or count > highest[0]:
            highest = (count, number)
    if late:
        number, count, (top, above) = late[0]
        more = (
            f" (and {len(late) - 1} more cell{'s' * (len(late) > 2)} after it)" if late[1:] else ""
        )
        report(
            number,
            1,
            "NB104",
            f"cell {number} was last run (In [{count}]) before cell {above} above it "
            f"(In [{top}]){more}: the saved state does not come from running the cells in order",
            f"restart the kernel and run all, or `invoke check-notebooks -- {notebook.name}`",
            warning=True,
        )


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
                _display(Path(item["filename"])),
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
        return [f for folder in folders if folder.is_dir() for f in _files_under(folder)]
    files: list[Path] = []
    for word in given:
        path = paths.inside(root, os.path.relpath(Path.cwd() / word, root))
        if path.is_dir():
            files.extend(_files_under(path))
        elif path.is_file():
            files.extend([path] if path.suffix in (".py", ".ipynb") else [])
        else:
            raise LintError(f"{word}: no such file or folder; give paths inside the project")
    return list(dict.fromkeys(files))


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
    checks: list[_NotebookCheck] = []
    for path in _targets(targets):
        if _is_notebook(path):
            notebooks.setdefault(path.with_suffix(""), None)
            continue
        to_ruff.append(path)
        if path.suffix == ".py" and path.resolve().is_relative_to(scripts_dir):
            findings.extend(check_script(path))
            replaced.add(_display(path))
    analysis = _Analysis()
    for stem in notebooks:
        stored = _stored(stem, prefer=".py")
        check = _NotebookCheck(read_notebook(stored), analysis)
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


# ---- restart and run all ----------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_FRAME = re.compile(r"Cell In ?\[\d*\], line (\d+)")
KERNEL_SAID = re.compile(r"^(?!\[IPKernelApp\])\s*\S")  # not the kernel app's own chatter


@dataclass
class NotebookRun:
    """How one notebook ran: its cells, the time taken, and the first failure if any."""

    path: str
    cells: int
    seconds: float
    failed_cell: int | None = None
    error: str = ""
    where: str = ""
    hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        if self.ok:
            return f"{self.path}: ok, {self.cells} cells in {self.seconds:.1f} s"
        cell = f"cell {self.failed_cell} failed: " if self.failed_cell else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.where}: {cell}{self.error}{hint}"


def find_notebooks(names: Iterable[str] | None = None) -> list[Path]:
    """The notebooks called ``names`` (``explore``, ``explore.ipynb``, ``notebooks/explore``).

    Without names: every notebook under ``notebooks/``, those at its top first.
    A notebook is its ``.ipynb``, or its ``.py`` when it has no ``.ipynb``.
    """
    folder = paths.NOTEBOOKS_DIR
    if not names:
        stems = (
            {f.with_suffix("") for f in _files_under(folder) if _is_notebook(f)}
            if folder.is_dir()
            else set()
        )
        ordered = sorted(stems, key=lambda s: (len(s.relative_to(folder).parts), s.as_posix()))
        return [_stored(stem) for stem in ordered]
    found = []
    for name in names:
        parts = Path(name).parts
        relative = Path(*parts[1:]) if parts[:1] == (folder.name,) and parts[1:] else Path(name)
        path = paths.inside(folder, relative)
        stem = path.with_suffix("") if path.suffix in (".ipynb", ".py") else path
        if not (stem.with_suffix(".ipynb").is_file() or stem.with_suffix(".py").is_file()):
            raise LintError(
                f"no notebook {name!r} in {_display(folder)}/: give its name (explore) or path "
                "(notebooks/explore.ipynb), or no name to run them all"
            )
        found.append(_stored(stem))
    return list(dict.fromkeys(found))


def _stored(stem: Path, prefer: str = ".ipynb") -> Path:
    """The file of notebook ``stem``: the one with suffix ``prefer`` if there is one."""
    first = stem.with_suffix(prefer)
    return first if first.is_file() else stem.with_suffix({".py": ".ipynb"}.get(prefer, ".py"))


def run_notebook(path: str | os.PathLike, timeout: float = 600) -> NotebookRun:
    """Run the notebook at ``path`` from a fresh kernel of this Python, top to bottom, in memory.

    The kernel starts in the notebook's folder; a cell running longer than
    ``timeout`` seconds fails. Cells tagged ``raises-exception`` may fail and
    ``skip-execution`` ones are skipped, as in nbclient. Nothing is written.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = read_notebook(path)
    document = _read(notebook.path)  # a copy in memory: outputs land here, never on disk
    # Always this Python's own kernel: a user-wide "python3" kernelspec may be another Python.
    manager = AsyncKernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    client = NotebookClient(
        document,
        km=manager,
        timeout=timeout,
        resources={"metadata": {"path": str(notebook.path.parent)}},
    )
    run = NotebookRun(_display(notebook.path), len(document.cells), 0.0)
    number, line = 0, 1
    started = time.monotonic()
    # The kernel process's own log (not the cells' output) is kept to explain a dead kernel.
    with tempfile.TemporaryFile("w+") as kernel_log:
        try:
            with client.setup_kernel(cleanup_kc=True, stderr=kernel_log):
                for number, cell in enumerate(document.cells, 1):
                    client.execute_cell(cell, number - 1)
        except CellExecutionError as error:
            frame = CELL_FRAME.search(ANSI.sub("", error.traceback or ""))
            line = int(frame[1]) if frame else 1
            detail = (str(error.evalue or "").strip().splitlines() or [""])[0]
            run.error = f"{error.ename}: {detail}" if detail else error.ename
        except CellTimeoutError:
            run.error = f"did not finish within {timeout:g} s"
            run.hint = "make it faster, or give it more time with --timeout"
        except NoSuchKernel:
            raise LintError("no Python kernel: pip install ipykernel (or -e '.[dev]')") from None
        except RuntimeError as error:  # the kernel died, or never answered
            kernel_log.seek(0)
            said = [t.strip() for t in kernel_log.read().splitlines() if KERNEL_SAID.match(t)]
            died = isinstance(error, DeadKernelError)
            run.error = "the kernel died" if died else f"the kernel failed ({error})"
            run.error += f": {said[-1]}" if said else ""
            run.hint = "out of memory? run the notebook in Jupyter to see" if died else ""
    run.seconds = time.monotonic() - started
    if run.error:
        run.failed_cell = number or None
        where = notebook.locate(number, line) if number else (run.path, 1, None)
        run.where = _where(*where)
    return run


def run_notebooks(
    names: Iterable[str] | None = None, timeout: float = 600
) -> Iterator[NotebookRun]:
    """Run the notebooks called ``names`` (default: all) in turn; see :func:`run_notebook`.

    The names are checked before any kernel starts.
    """
    found = find_notebooks(names)
    return (run_notebook(path, timeout) for path in found)
