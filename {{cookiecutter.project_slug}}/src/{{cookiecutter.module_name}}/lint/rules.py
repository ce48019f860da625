"""The notebook workflow's own lint rules (NB001-NB104): data in, findings out, nothing printed.

The rules and their reasons are described in :mod:`..lint`; the runner there
adds ruff's findings and decides which of them these rules explain.
"""

from __future__ import annotations

import ast
import getopt
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..errors import ProjectError
from ..notebook import files, scope
from ..notebook.files import Notebook


class LintError(ProjectError):
    """Linting or running notebooks cannot start: a missing tool, path or notebook."""


# ---- findings ----------------------------------------------------------------------------------


def where(path: str, line: int, cell: int | None) -> str:
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
            f"{where(self.path, self.line, self.cell)}: {self.code} {warning}{self.message}{hint}"
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


def display_path(path: Path) -> str:
    """``path`` as shown: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(paths.ROOT).as_posix()
    except ValueError:
        return str(path)


# ---- notebooks on disk ------------------------------------------------------------------------


def locate(notebook: Notebook, number: int, line: int) -> tuple[str, int, int | None]:
    """``(file, line, cell)`` of line ``line`` of cell ``number`` (both from 1).

    On the paired ``py:percent`` script when its cells are the ones read (the
    file ruff and editors show), else as ``notebook.ipynb:cell N:line``.
    """
    if notebook.script is None:
        return display_path(notebook.path), line, number
    marker = notebook.starts[number - 1]
    lines = notebook.script.read_text(encoding="utf-8").splitlines()
    source = notebook.cells[number - 1].source.splitlines()
    text = source[line - 1] if 0 < line <= len(source) else None
    index = marker + line
    if text is not None and index < len(lines):
        # jupytext comments out magics in the script: "%run x.py" is "# %run x.py" there
        if lines[index] in (text, f"# {text}"):
            return display_path(notebook.script), index + 1, None
    return display_path(notebook.script), marker + 1, None


def _cell_at(notebook: Notebook, path: str, line: int, cell: int | None) -> tuple[int, int] | None:
    """``(cell, line in cell)`` of a place :func:`locate` gives; None for other places."""
    if cell is not None:
        return (cell, line) if path == display_path(notebook.path) else None
    if notebook.script is None or path != display_path(notebook.script):
        return None
    number = notebook.cell_at_line(line - 1) or 0
    return (number, line - 1 - notebook.starts[number - 1]) if number else None


def is_notebook(path: Path) -> bool:
    """An ``.ipynb``, or a ``.py`` paired with one or written in percent format in notebooks/."""
    from jupytext.formats import guess_format

    if path.suffix == ".ipynb":
        return True
    if path.suffix != ".py":
        return False
    if path.with_suffix(".ipynb").is_file():
        return True
    if not path.resolve().is_relative_to(paths.NOTEBOOKS_DIR.resolve()):
        return False
    try:
        return guess_format(path.read_text(encoding="utf-8"), ".py")[0] == "percent"
    except (OSError, UnicodeDecodeError):
        return False  # not text: ruff says what is wrong with it


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


def _event(binding: scope.Binding) -> Event:
    """The lint's view of one binding: what it makes of its name (see the module's docstring)."""
    kinds = {"function": FUNCTION, "class": CLASS, "update": UPDATE, "delete": DELETE}
    if binding.how == "import":
        return Event(binding.line, binding.name, ("import", binding.what), imported=binding.full)
    if binding.how == "any":
        return Event(binding.line, "*", ANYTHING)
    kind = kinds.get(binding.how) or _kind(binding.name, binding.value)
    return Event(binding.line, binding.name, kind)


@dataclass
class _Code:
    """What a cell (or a script run with ``%run``) binds and reads."""

    events: list[Event]
    reads: dict[str, list[int]]
    via: dict[str, str] = field(default_factory=dict)  # read by the %run -i of this script
    used: set[str] = field(default_factory=set)  # every name read, in function bodies too


RUN_OPTIONS = "nidtN:b:pD:l:rs:T:em:G"  # IPython's own getopt spec of %run


class Analysis:
    """Reads notebook cells and the scripts they ``%run``, each script once."""

    def __init__(self):
        self.scripts: dict[Path, _Code | None] = {}

    def code(self, source: str, where: str, folder: Path | None) -> _Code | None:
        """The bindings and reads of ``source``; None if it does not parse (ruff says why)."""
        try:
            tree = scope.parse(source, where)
        except scope.CellSyntaxError:
            return None
        via: dict[str, str] = {}
        extra: dict[str, list[int]] = {}

        def on_run(line: int, argument: str, before: list[Event]) -> list[Event]:
            script, interactive = self.run_target(argument, folder)
            ran = self.script(script) if script else None
            if ran is None:
                return [Event(line, "*", ANYTHING, argument)]
            shown = display_path(script)
            if interactive:
                bound = {e.name for e in before if e.kind is not DELETE}
                for name in ran.reads.keys() - bound:
                    extra.setdefault(name, [line])
                    via.setdefault(name, shown)
            return [Event(line, e.name, e.kind, e.via or shown) for e in ran.events]

        events: list[Event] = []
        for binding in scope.bindings(tree):
            if binding.how == "any" and binding.full == "%run" and folder is not None:
                events.extend(on_run(binding.line, binding.what, list(events)))
            else:
                events.append(_event(binding))
        # pyflakes cannot know that a %run above binds a name: such reads are not free
        run_binds: dict[str, int] = {}
        for event in events:
            if event.via and event.kind is not DELETE:
                run_binds.setdefault(event.name, event.line)
        reads: dict[str, list[int]] = {}
        for name, lines in scope.reads_now(tree, where).items():
            if free := [line for line in lines if line <= run_binds.get(name, line)]:
                reads[name] = free
        for name, lines in extra.items():
            reads.setdefault(name, lines)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and type(n.ctx) is ast.Load}
        return _Code(events, reads, via, used)

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
                    code = [c.source for c in files.read(path).cells if c.is_code]
                    source = "\n".join(scope.to_python(s) for s in code)
                else:
                    source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError, files.NotebookError):
                return None
            self.scripts[path] = self.code(source, display_path(path), None)
        return self.scripts[path]


# ---- checks -----------------------------------------------------------------------------------


def check_script(path: str | os.PathLike) -> list[Finding]:
    """NB001 and NB002 of a script meant for ``%run -i``: names it never defines, unused imports."""
    from pyflakes import checker, messages

    path = Path(path)
    shown = display_path(path)
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    try:
        tree = scope.parse(source, shown)
    except scope.CellSyntaxError:
        return []  # ruff reports the syntax error

    def first_open(code: str, rows: list[int]) -> int | None:
        return next((n for n in rows if not _silenced(lines[n - 1], code)), None)

    found = []
    for name, rows in scope.free_names(source, shown).items():
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
    return NotebookCheck(files.read(path), Analysis()).findings


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


class NotebookCheck:
    """NB101-NB104 of one notebook; then tells which of ruff's F821 findings it explains."""

    def __init__(self, notebook: Notebook, analysis: Analysis):
        self.notebook = notebook
        self.findings: list[Finding] = []
        self.seen: set[tuple] = set()  # (path, cell, line, name) of every finding, even silenced
        self.facts: list[tuple[int, _Code]] = []
        name = display_path(notebook.path.with_suffix(""))
        for number, cell in enumerate(notebook.cells, 1):
            if cell.is_code:
                where = f"{name} cell {number}"
                code = analysis.code(cell.source, where, notebook.path.parent)
                if code is not None:
                    self.facts.append((number, code))
        self.check_reads()
        _check_meanings(self.facts, self.report)
        if notebook.path.suffix == ".ipynb":
            _check_order(notebook, self.report)

    def report(self, number, line, code, message, hint, name="", warning=False) -> None:
        path, row, cell = locate(self.notebook, number, line)
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
        place = _cell_at(self.notebook, finding.path, finding.line, finding.cell)
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
    for number, count in enumerate((c.execution_count for c in notebook.cells), 1):
        if count is None:
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
            "restart the kernel and run all, or "
            f"`invoke check-notebooks -- {display_path(notebook.path.with_suffix(''))}`",
            warning=True,
        )
