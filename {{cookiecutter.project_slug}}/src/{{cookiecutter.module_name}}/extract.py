"""A notebook cell into an argparse script that runs alone and under ``%run -i``.

``extract_cell("notebooks/explore.ipynb", 10)`` writes ``scripts/<name>.py``:
a ``py:percent`` file whose top-level code is, in order, the imports the cell
needs (gathered from anywhere earlier in the notebook, only those used), its
parameters (literal constants assigned once) as argparse options, the backward
slice of earlier cells that computes its other inputs (mutations included),
the cell itself, and a ``results.save`` of what the cell assigned.

Under ``%run -i`` the script reuses the inputs the notebook already holds
(``--fresh`` recomputes them) and says so: it notes which names exist in its
globals before its own code runs, which is exactly what ``%run -i`` shares.

The analysis and the slice are :mod:`.notebook` (pyflakes' scopes over every
statement, function bodies counted where called); this module only writes the
script, checks it with pyflakes (it never uses a name it does not define) and
formats it as ``ruff format`` does.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProjectError
from .notebook import files, scope, slicing
from .notebook.files import Cell, Notebook
from .notebook.scope import Statement


class ExtractError(ProjectError):
    """A cell that cannot become a script as asked."""


@dataclass
class Parameter:
    """A literal constant of the cell (or of an earlier cell) that became an option."""

    name: str
    value: object
    help: str
    cell: int

    option: str = ""

    def __post_init__(self) -> None:
        self.option = self.option or "--" + self.name.lower().replace("_", "-")


@dataclass
class Extraction:
    """What :func:`extract_cell` made: the script's text and what went into it."""

    name: str
    notebook: Notebook
    cell: Cell
    text: str
    parameters: list[Parameter] = field(default_factory=list)
    inputs: dict[str, int] = field(default_factory=dict)  # gathered name -> defining cell
    imports: list[str] = field(default_factory=list)
    reusable: list[str] = field(default_factory=list)
    undefined: dict[str, list[str]] = field(default_factory=dict)
    saved: list[str] = field(default_factory=list)
    not_saved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    diff: str = ""
    replaced: bool = False

    def report(self) -> list[str]:
        """What was done, one fact a line (``invoke extract-cell`` prints these)."""
        where = f"cell {self.cell.number} of {self.notebook.shown}"
        lines = [f"{self.notebook.note}"] if self.notebook.note else []
        target = _shown(self.path) if self.path is not None else f"{self.name}.py"
        lines.append(f"Wrote {target} from {where}")
        if self.parameters:
            options = ", ".join(f"{p.option}={_python(p.value)}" for p in self.parameters)
            lines.append(f"  parameters: {options}")
        if self.inputs:
            by_cell: dict[int, list[str]] = {}
            for name, number in self.inputs.items():
                by_cell.setdefault(number, []).append(name)
            gathered = "; ".join(
                f"cell {n}: {', '.join(sorted(v))}" for n, v in sorted(by_cell.items())
            )
            lines.append(f"  inputs from earlier cells: {gathered}")
        if self.imports:
            lines.append(f"  imports: {'; '.join(self.imports)}")
        if self.reusable:
            lines.append(
                f"  under %run -i it reuses {', '.join(self.reusable)} "
                "when the notebook holds them "
                "(--fresh recomputes)"
            )
        if self.undefined:
            taken = ", ".join(self.undefined)
            lines.append(f"  unresolved, taken from the notebook under %run -i: {taken}")
        if self.saved:
            lines.append(f"  saves {', '.join(self.saved)} to results/{self.name}/")
        else:
            lines.append(
                "  saves nothing (--no-save)" if "--no-save" in self.text else "  saves nothing"
            )
        if self.not_saved:
            lines.append(
                "  not saved (assigned only inside a block, or deleted): "
                + ", ".join(self.not_saved)
            )
        lines.extend(f"  {note}" for note in self.notes)
        if self.replaced:
            lines.append(
                "  replaced the existing script:"
                if self.diff
                else "  the existing script was the same"
            )
            lines.extend(self.diff.splitlines())
        return lines


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SKIP_TAGS = {"parameters", "injected-parameters"}


def extract_cell(
    notebook: str | os.PathLike,
    cell: str | int = "",
    *,
    name: str = "",
    force: bool = False,
    save: bool = True,
    allow_undefined: bool = False,
    execution_count: int | None = None,
    scripts_dir: str | os.PathLike | None = None,
) -> Extraction:
    """Write the script of ``cell`` of ``notebook`` to ``scripts/<name>.py``; return what was done.

    ``cell`` is the 1-based position among all cells (the N-th ``# %%`` of the
    paired script), a cell id, tag or title; ``execution_count`` picks the cell
    that ran as ``In [n]``. Refuses to overwrite an existing script unless
    ``force`` (then :attr:`Extraction.diff` shows what changed).
    """
    from . import paths

    if name and not NAME.match(name):
        raise ExtractError(
            f"--name {name!r} is not a valid script name: use letters, digits and underscores "
            "(a Python identifier, e.g. kmeans), without a folder or '.py'"
        )
    read = files.read(notebook)
    chosen = files.select(read, cell, execution_count=execution_count)
    name = name or default_name(read, chosen)
    folder = Path(scripts_dir) if scripts_dir is not None else paths.SCRIPTS_DIR
    target = paths.inside(folder, f"{name}.py")
    old = target.read_text(encoding="utf-8") if target.exists() else None
    if old is not None and not force:
        raise ExtractError(
            f"{_shown(target)} already exists (and may hold your edits): "
            "pass --force to replace it "
            "(the changes are shown), or --name to write another script"
        )
    source = _relative(Path(notebook))
    result = build(read, chosen, name, save=save, allow_undefined=allow_undefined, source=source)
    result.text = _formatted(result.text, target, result.notes)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(result.text, encoding="utf-8")
    result.path = target
    if old is not None:
        result.replaced = True
        result.diff = "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                result.text.splitlines(keepends=True),
                f"{_shown(target)} (before)",
                f"{_shown(target)} (now)",
            )
        )
    return result


def _formatted(text: str, target: Path, notes: list[str]) -> str:
    """``text`` as ``ruff format`` writes it with the project's settings (as pre-commit would).

    The script's hash then survives the first commit. Without ruff (it comes with
    the ``dev`` extra), the text is kept as it is and a note says so.
    """
    import importlib.util
    import subprocess

    from . import paths

    if importlib.util.find_spec("ruff") is None:
        notes.append("not formatted: ruff is not installed (pip install -e '.[dev]')")
        return text
    try:
        root = paths.find_root()
    except ProjectError:
        root = target.parent
    # Ruff finds its settings from the file's place: the project's scripts/ folder.
    place = root / "scripts" / target.name
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(place), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=root,
    )
    if done.returncode != 0:
        notes.append("not formatted: ruff format failed on it")
        return text
    return done.stdout


def default_name(notebook: Notebook, cell: Cell) -> str:
    """The cell's first tag that is a name, else its title, else ``<notebook>_cell<N>``.

    >>> nb = Notebook(Path("My Notes.ipynb"), [])
    >>> default_name(nb, Cell(3, "code", "x = 1", tags=("parameters", "kmeans")))
    'kmeans'
    >>> default_name(nb, Cell(3, "code", "x = 1", title="Fit the model!"))
    'fit_the_model'
    >>> default_name(nb, Cell(12, "code", "x = 1"))
    'my_notes_cell12'
    """
    for tag in cell.tags:
        if tag not in SKIP_TAGS and (slug := _slug(tag)):
            return slug
    if cell.title and (slug := _slug(cell.title)):
        return slug
    stem = _slug(notebook.path.stem) or "notebook"
    return f"{stem}_cell{cell.number}"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return f"_{slug}" if slug[:1].isdigit() else slug


def _relative(path: Path) -> str:
    """``path`` relative to the project root when inside it (for the script's comments)."""
    from . import paths

    try:
        return path.resolve().relative_to(paths.find_root()).as_posix()
    except (ValueError, ProjectError):
        return path.name


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# ---- the script ----------------------------------------------------------------------------


def build(
    notebook: Notebook,
    cell: Cell,
    name: str,
    *,
    save: bool = True,
    allow_undefined: bool = False,
    source: str = "",
    package: str | None = None,
) -> Extraction:
    """The script of ``cell`` (no file is touched): see :func:`extract_cell`."""
    from . import paths

    package = package or paths.PACKAGE
    source = source or _relative(Path(notebook.shown))
    where = f"cell {cell.number} of {notebook.shown}"
    if magic := scope.cell_magic(cell.source):
        raise ExtractError(f"{where} is a %%{magic} cell, not Python: there is no code to extract")
    target = scope.statements(cell.source, cell.number, where)
    before = [c for c in notebook.cells if c.number < cell.number]
    sliced = slicing.needed(before, cell.source, where, f"{notebook.shown} ")
    script = _Script(notebook, cell, name, package, source, target, sliced, save, allow_undefined)
    script.skipped = sliced.skipped
    script.notes.extend(f"skipped cell {n}: {why}" for n, why in sliced.skipped.items())
    return script.extraction()


class _Script:
    """Assembles the script's sections; one method per section."""

    def __init__(
        self, notebook, cell, name, package, source, target, sliced, save, allow_undefined
    ):
        self.notebook, self.cell, self.name, self.package = notebook, cell, name, package
        self.source, self.target, self.sliced = source, target, sliced
        self.save, self.allow_undefined = save, allow_undefined
        self.notes: list[str] = []
        self.skipped: dict[int, str] = {}
        self.converted: dict[int, list[str]] = {}
        for number in {s.cell for s in sliced.statements} | {cell.number}:
            text, notes = scope.to_script(notebook.cells[number - 1].source)
            self.converted[number] = text.splitlines()
            if number == cell.number:
                self.notes.extend(f"cell {number}, {note}" for note in notes)
        everything = [*sliced.statements, *target]
        self.taken = _names_in(everything)
        # The script's own machinery lives in one object, deleted at the end: under
        # `%run -i` it neither overwrites the notebook's names nor joins them.
        self.machinery = _free_name("_script", self.taken)
        self.args = f"{self.machinery}.args"
        self.parser = f"{self.machinery}.parser"
        self.held = f"{self.machinery}.notebook"
        self.reused = f"{self.machinery}.reused"
        self.missing = f"{self.machinery}.missing"
        self.parameters = self._parameters(everything)
        self.parameter_names = {p.name for p in self.parameters}

    # -- analysis of what goes where

    def _parameters(self, everything: list[Statement]) -> list[Parameter]:
        bound: dict[str, int] = {}
        changed: set[str] = set()
        for statement in everything:
            for name in statement.binds:
                bound[name] = bound.get(name, 0) + 1
            changed |= statement.mutates | statement.writes_globals
        tagged = {c.number for c in self.notebook.cells if "parameters" in c.tags}
        found = []
        for statement in everything:
            literal = statement.literal()
            if literal is None:
                continue
            name, value = literal
            constant = name.isupper() and statement.cell not in tagged
            if (
                constant
                or name.startswith("_")
                or name == "help"
                or bound[name] != 1
                or name in changed
            ):
                continue
            lines = self.notebook.cells[statement.cell - 1].source
            help_text = scope.trailing_comment(
                scope.to_python(lines), statement.node.end_lineno or 0
            )
            found.append(Parameter(name, value, help_text, statement.cell))
        options = [p.option for p in found]
        for parameter in found:
            if options.count(parameter.option) > 1:  # `k` and `K`: keep the case
                parameter.option = "--" + parameter.name.replace("_", "-")
        return found

    def extraction(self) -> Extraction:
        sliced = self.sliced
        imports, body_statements = [], []
        path_changed = False  # imports after a change of sys.path stay where they were
        for statement in sliced.statements:
            literal = statement.literal()
            if literal and literal[0] in self.parameter_names:
                continue
            path_changed = path_changed or ("sys" in statement.mutates and not statement.is_import)
            if statement.is_import and not statement.star_import and not path_changed:
                imports.append(statement)
            else:
                body_statements.append(statement)
        gathered_imports = self._import_lines(imports)
        missing = dict(sliced.missing)
        if (display := missing.get("display")) is not None and display.cause == "undefined":
            del missing["display"]
            gathered_imports.append(("IPython.display", "from IPython.display import display"))
        missing = {n: m for n, m in missing.items() if n not in self.parameter_names}
        inputs = {
            name: s.cell
            for s in body_statements
            for name in sliced.relevant[id(s)]
            if name not in self.parameter_names
        }
        # Data are reused under %run -i; functions and classes are cheap, and the
        # script's own definitions are the ones to run.
        reusable = sorted(
            n
            for n in self.needs_from_slice()
            if any(n in s.binds and not _defines_code(s) for s in body_statements)
            and n not in self.parameter_names
        )
        assigned, not_saved = self._saved()
        results_name = self._results_name(gathered_imports)
        undefined = {n: m.where for n, m in missing.items()}
        if undefined and not self.allow_undefined:
            raise ExtractError(slicing.refusal(self.notebook, self.cell, sliced, missing))
        sections = [
            self._header(),
            self._imports(gathered_imports, results_name, bool(undefined)),
            self._arguments(reusable, undefined),
            self._inputs(body_statements, reusable),
            self._cell(),
        ]
        if self.save:
            sections.append(self._save(results_name, assigned))
        sections.append(f"del {self.machinery}  # the script's own names stay out of the notebook")
        text = "\n\n".join(s.rstrip("\n") for s in sections if s) + "\n"
        self._check(text, undefined)
        return Extraction(
            name=self.name,
            notebook=self.notebook,
            cell=self.cell,
            text=text,
            parameters=self.parameters,
            inputs=inputs,
            imports=_sorted_imports(gathered_imports, self.package)
            .replace("\n\n", "\n")
            .splitlines(),
            reusable=reusable,
            undefined={n: w for n, w in undefined.items()},
            saved=assigned if self.save else [],
            not_saved=not_saved if self.save else [],
            notes=self.notes,
        )

    def needs_from_slice(self) -> list[str]:
        return sorted({n for served in self.sliced.serves.values() for n in served})

    def _saved(self) -> tuple[list[str], list[str]]:
        assigned: list[str] = []
        maybe: list[str] = []
        deleted: set[str] = set()
        for statement in self.target:
            for node in ast.walk(statement.node):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Del):
                    deleted.add(node.id)
            definitions = set(statement.imports)
            if isinstance(statement.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions.add(statement.node.name)
            certain = statement.kills | (
                statement.binds if isinstance(statement.node, ast.AugAssign) else set()
            )
            for name in _in_order(statement.node, certain - definitions):
                if name not in assigned:
                    assigned.append(name)
            for name in sorted(statement.binds - certain - definitions):
                if name not in maybe:
                    maybe.append(name)
        keep = [n for n in assigned if n not in deleted and n not in self.parameter_names]
        dropped = [
            n for n in [*assigned, *maybe] if n not in keep and n not in self.parameter_names
        ]
        return keep, list(dict.fromkeys(dropped))

    def _results_name(self, gathered: list[tuple[str, str]]) -> str:
        if not self.save:
            return ""
        if "results" not in self.taken:
            return "results"
        return _free_name("results_store", self.taken)

    # -- sections

    def _header(self) -> str:
        doc = _docstring(self.notebook, self.cell)
        return (
            "# %%\n"
            f"{doc}\n"
            f"# Extracted from {self.source}, cell {self.cell.number}, by `invoke extract-cell`\n"
            "# (re-extract with --force after changing the notebook). Run it with\n"
            f"# `python scripts/{self.name}.py --help`, or in a notebook with\n"
            f"# `%run -i scripts/{self.name}.py`, which shares the notebook's variables."
        )

    def _imports(self, gathered: list[tuple[str, str]], results_name: str, guard: bool) -> str:
        lines = [("argparse", "import argparse")]
        if guard:
            lines.append(("sys", "import sys"))
        lines.extend(gathered)
        if results_name:
            alias = "" if results_name == "results" else f" as {results_name}"
            lines.append((self.package, f"from {self.package} import results{alias}"))
        return "# %% Imports\n" + _sorted_imports(lines, self.package)

    def _arguments(self, reusable: list[str], undefined: dict[str, list[str]]) -> str:
        args, parser = self.args, self.parser
        out = [
            "# %% Parameters",
            "# Under `%run -i` the notebook's names are in globals() (alone: none).",
            f"{self.machinery} = argparse.Namespace(notebook=set(globals()))",
            f"{parser} = argparse.ArgumentParser(",
            "    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter",
            ")",
        ]
        options = {p.option for p in self.parameters}
        for parameter in self.parameters:
            out.append(_add_argument(parser, parameter))
        self.fresh = next(
            o for o in ("--fresh", "--recompute", "--fresh-inputs") if o not in options
        )
        if reusable:
            out.append(
                f"{parser}.add_argument(\n"
                f'    "{self.fresh}",\n'
                '    action="store_true",\n'
                '    help="recompute the inputs the notebook already holds under %%run -i",\n'
                ")"
            )
        out.append(f"{args} = {parser}.parse_args()")
        for parameter in self.parameters:
            if parameter.cell != self.cell.number:
                out.append(_parameter_line(parameter, args, f"from cell {parameter.cell}"))
        if undefined:
            names = sorted(undefined)
            listed = ", ".join(json.dumps(n) for n in names)
            out += [
                f"# Extracted with --allow-undefined: {', '.join(names)} "
                "must come from the notebook.",
                f"{self.missing} = sorted({_braced(listed)} - {self.held})",
                f"if {self.missing}:",
                "    sys.exit(",
                f'        f"{self.name}.py needs {_braced(JOIN + self.missing + ")")} '
                'from the notebook: "',
                '        "run it with %run -i in a notebook that defines them"',
                "    )",
            ]
            out += [f'{n} = globals()["{n}"]' for n in names]
        return "\n".join(out)

    def _inputs(self, statements: list[Statement], reusable: list[str]) -> str:
        if not statements:
            return ""
        numbers = {s.cell for s in statements}
        cells_used = ("cells " if len(numbers) > 1 else "cell ") + files.ranges(numbers)
        out = [f"# %% Inputs, from {cells_used} of {self.source}"]
        if reusable:
            listed = ", ".join(json.dumps(n) for n in reusable)
            dest = self.fresh[2:].replace("-", "_")
            line = (
                f"{self.reused} = set() if {self.args}.{dest} else {self.held} & {_braced(listed)}"
            )
            if len(line) > 100:
                names = "".join(f"        {json.dumps(n)},\n" for n in reusable)
                line = (
                    f"{self.reused} = (\n    set()\n    if {self.args}.{dest}\n"
                    f"    else {self.held}\n    & {_braced(chr(10) + names + '    ')}\n)"
                )
            out += [
                line,
                f"if {self.reused}:",
                "    print(",
                f'        f"{self.name}: reusing {_braced(JOIN + "sorted(" + self.reused + "))")} '
                'from the notebook "',
                f'        "({self.fresh} recomputes them)"',
                "    )",
            ]
        condition, cell = None, None
        for statement in statements:
            served = sorted(self.sliced.serves[id(statement)] & set(reusable))
            wanted = self._condition(served)
            if wanted != condition:
                if statement.cell != cell:
                    cell = statement.cell
                    out.append(f"# cell {cell}")
                condition = wanted
                if wanted:
                    out.append(wanted)
            indent = "    " if condition else ""
            if statement.cell != cell:
                cell = statement.cell
                out.append(f"{indent}# cell {cell}")
            lines = self.converted[statement.cell][statement.comment_start - 1 : statement.end]
            definition = _defines_code(statement) and len(lines) > 1
            if definition and out[-1].strip() and not out[-1].rstrip().endswith(":"):
                if not out[-1].lstrip().startswith("# cell"):
                    out.append("")
            out.extend(f"{indent}{line}" if line.strip() else "" for line in lines)
            if definition:
                out.append("")
        while out[-1] == "":
            out.pop()
        return "\n".join(line for i, line in enumerate(out) if line or out[i - 1])

    def _condition(self, served: list[str]) -> str | None:
        if not served:
            return None
        if len(served) == 1:
            return f"if {json.dumps(served[0])} not in {self.reused}:"
        listed = ", ".join(json.dumps(n) for n in served)
        return f"if not {self.reused} >= {_braced(listed)}:"

    def _cell(self) -> str:
        lines = list(self.converted[self.cell.number])
        for statement in reversed(self.target):
            literal = statement.literal()
            if not literal or literal[0] not in self.parameter_names:
                continue
            parameter = next(p for p in self.parameters if p.name == literal[0])
            first, last = statement.start, statement.end
            lines[first - 1 : last] = [_parameter_line(parameter, self.args, "")]
        while lines and not lines[-1].strip():
            lines.pop()
        return f"# %% Cell {self.cell.number} of {self.source}\n" + "\n".join(lines)

    def _save(self, results_name: str, assigned: list[str]) -> str:
        items = [f"{json.dumps(n)}: {n}" for n in assigned]
        call = f'{results_name}.save("{self.name}", {_braced(", ".join(items))}, args={self.args})'
        if len(call) > 100:
            inner = "".join(f"        {item},\n" for item in items)
            block = _braced("\n" + inner + "    ")
            call = (
                f'{results_name}.save(\n    "{self.name}",\n    {block},\n    args={self.args},\n)'
            )
        return (
            f"# %% Save what the cell computed, with the arguments, in results/{self.name}/\n{call}"
        )

    # -- checks

    def _check(self, text: str, undefined: dict[str, list[str]]) -> None:
        """pyflakes on the script: a name used but never defined (IPython syntax) fails here."""
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            raise ExtractError(
                f"the script for cell {self.cell.number} of {self.notebook.shown} does not parse "
                f"(line {error.lineno}: {error.msg}): please report this with the cell's code"
            ) from None
        from pyflakes import checker, messages

        found = checker.Checker(tree, filename=f"{self.name}.py").messages
        missing: dict[str, list[int]] = {}
        for message in found:
            if (
                isinstance(message, messages.UndefinedName)
                and message.message_args[0] not in undefined
            ):
                missing.setdefault(message.message_args[0], []).append(message.lineno)
            elif isinstance(message, messages.UnusedImport):
                # Only the cell's own imports can be unused: gathered ones are there because used.
                self.notes.append(f"the cell imports {message.message_args[0]} without using it")
        if missing:
            listed = "; ".join(
                f"{n} (script line {', '.join(map(str, v[:3]))})" for n, v in missing.items()
            )
            raise ExtractError(
                f"cell {self.cell.number} of {self.notebook.shown} uses names that only its own "
                f"IPython syntax (magics, !shell) sets: {listed}; compute them in Python in the "
                "notebook, or pass --allow-undefined to take them from the notebook under %run -i"
            )

    def _import_lines(self, imports: list[Statement]) -> list[tuple[str, str]]:
        lines: list[tuple[str, str]] = []
        for statement in imports:
            wanted = self.sliced.relevant[id(statement)]
            node = statement.node
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound not in wanted:
                    continue
                named = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
                if isinstance(node, ast.Import):
                    lines.append((alias.name, f"import {named}"))
                else:
                    module = "." * node.level + (node.module or "")
                    lines.append((module, f"from {module} import {named}"))
        return list(dict.fromkeys(lines))


JOIN = "', '.join("


def _braced(text: str) -> str:
    """``text`` in braces (a set or dict display, an f-string field) for the script's code."""
    return "{" + text + "}"


def _defines_code(statement: Statement) -> bool:
    node = statement.node
    if isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    ):
        return True
    return isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda)


def _names_in(statements: list[Statement]) -> set[str]:
    names: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement.node):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
        names |= statement.binds
    return names


def _free_name(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``script_<wanted>``, ``script_<wanted>_2``..., the first the code lacks."""
    candidates = [wanted, f"script_{wanted}"] + [f"script_{wanted}_{i}" for i in range(2, 1000)]
    return next(c for c in candidates if c not in taken)


def _in_order(node: ast.AST, names: set[str]) -> list[str]:
    found = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names]
    found += [n for n in sorted(names) if n not in found]
    return list(dict.fromkeys(found))


def _docstring(notebook: Notebook, cell: Cell) -> str:
    """The cell's title, else the markdown cell just before it, else where it came from."""
    previous = notebook.cells[cell.number - 2] if cell.number > 1 else None
    parts = []
    if cell.title:
        parts.append(cell.title.strip())
    if previous is not None and previous.kind == "markdown" and previous.source.strip():
        for line in previous.source.strip().splitlines():
            parts.append(
                re.sub(r"^#+\s*", "", line.rstrip()) if line.startswith("#") else line.rstrip()
            )
    if not parts:
        parts = [f"Cell {cell.number} of {notebook.path.name}, as a script."]
    text = "\n".join(parts).strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "
    return f'"""{text}\n"""' if "\n" in text else f'"""{text}"""'


def _python(value: object) -> str:
    """``value`` as Python source, strings in double quotes."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        try:
            if ast.literal_eval(text) == value:
                return text
        except (ValueError, SyntaxError):
            pass
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_python(v) for v in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    return repr(value)


def _add_argument(parser: str, parameter: Parameter) -> str:
    value = parameter.value
    help_text = (parameter.help or f"set in cell {parameter.cell}").replace("%", "%%")
    parts = [json.dumps(parameter.option)]
    if parameter.option != "--" + parameter.name.replace("_", "-"):
        parts.append(f'dest="{parameter.name}"')
    if isinstance(value, bool):
        parts.append("action=argparse.BooleanOptionalAction")
    elif isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value}
        parts.append('nargs="*"')
        if kinds and kinds != {str}:
            parts.append(f"type={next(iter(kinds)).__name__}")
        parts.append(f"default={_python(list(value))}")
        help_text += " (default: %(default)s)"
    elif value is None or isinstance(value, str):
        help_text += " (default: %(default)s)"
    else:
        parts.append(f"type={type(value).__name__}")
    if isinstance(value, bool) or not isinstance(value, (list, tuple)):
        parts.append(f"default={_python(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        help_text += " (default: %(default)s)"
    parts.append(f"help={json.dumps(help_text, ensure_ascii=False)}")
    line = f"{parser}.add_argument({', '.join(parts)})"
    if len(line) <= 100:
        return line
    return f"{parser}.add_argument(\n" + "".join(f"    {p},\n" for p in parts) + ")"


def _parameter_line(parameter: Parameter, args: str, origin: str) -> str:
    value = f"{args}.{parameter.name}"
    if isinstance(parameter.value, tuple):
        value = f"tuple({value})"
    comment = "; ".join(c for c in (origin, parameter.help) if c)
    return f"{parameter.name} = {value}" + (f"  # {comment}" if comment else "")


def _sorted_imports(lines: list[tuple[str, str]], package: str) -> str:
    """Import lines grouped and sorted as isort (and ruff's I rules) would."""

    def section(module: str) -> int:
        top = module.split(".")[0]
        if module.startswith(".") or top == package:
            return 2
        return 0 if top in sys.stdlib_module_names or top == "__future__" else 1

    groups: dict[int, list[tuple[int, str, str]]] = {}
    for module, line in dict.fromkeys(lines):
        kind = 1 if line.startswith("from ") else 0
        groups.setdefault(section(module), []).append((kind, module.lower(), line))
    merged: list[str] = []
    for number in sorted(groups):
        entries = sorted(groups[number])
        # `from x import a` and `from x import b` become one line, names sorted.
        combined: dict[str, list[str]] = {}
        plain = []
        for kind, _, line in entries:
            if kind == 1:
                module_text, _, names = line[5:].partition(" import ")
                combined.setdefault(module_text, []).extend(names.split(", "))
            else:
                plain.append(line)
        block = plain + [
            line
            for module, names in sorted(combined.items(), key=lambda item: item[0].lower())
            for line in _from_lines(module, names)
        ]
        merged.append("\n".join(block))
    return "\n\n".join(merged)


def _from_lines(module: str, names: list[str]) -> list[str]:
    """``from module import ...``: plain names on one line, each ``x as y`` on its own."""
    plain = [n for n in dict.fromkeys(names) if " as " not in n]
    aliased = sorted(n for n in dict.fromkeys(names) if " as " in n)
    lines = [_from_line(module, plain)] if plain else []
    return lines + [f"from {module} import {n}" for n in aliased]


def _from_line(module: str, names: list[str]) -> str:
    def kind(name: str) -> tuple[int, str]:
        bare = name.split(" as ")[0]
        order = 0 if bare.isupper() and len(bare) > 1 else 1 if bare[:1].isupper() else 2
        return order, name

    ordered = sorted(dict.fromkeys(names), key=kind)
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= 100:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in ordered) + ")"
