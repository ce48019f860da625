"""Notebook cells as data: read a notebook, and analyse what a piece of code needs.

The analysis is pyflakes' own scope analysis (function bodies deferred,
comprehension scopes, ``global``, ``del``, ``try/except NameError``), run on
the code after IPython's own input transformer has turned magics and shell
escapes into plain Python, so ``%time x = f()`` or ``!ls`` never hide a name
or break the parse.

>>> sorted(free_names("y = x + 1\\nprint(y)"))
['x']

A notebook is read with jupytext (``.ipynb`` or its paired ``py:percent``
script alike) into numbered :class:`Cell` objects; each top-level statement of
a code cell becomes a :class:`Statement` that says which names it binds, reads
and may change in place, which is what ``extract`` slices on.
"""

from __future__ import annotations

import ast
import builtins
import copy
import json
import os
import re
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from io import StringIO
from pathlib import Path

from .errors import ProjectError


class CellSyntaxError(ProjectError):
    """Code that does not parse, even after IPython's transformations."""


class NotebookError(ProjectError):
    """A notebook that cannot be read, or a cell that is not in it."""


# Magics whose argument is itself Python code run in the user's namespace:
# ``%time x = f()`` binds x. Their options come first (``%timeit -n 10 -r 3 f()``).
CODE_LINE_MAGIC = re.compile(
    r"^(?P<indent>\s*)%(?:time|timeit|prun)\b(?:\s+-(?:[nrp]\s*\d+|[a-zA-Z]+))*\s*(?P<code>.*)$"
)
CODE_CELL_MAGIC = re.compile(r"^%%(?:time|timeit|prun|capture)\b(?P<options>.*)$")
CELL_MAGIC = re.compile(r"^\s*%%(?P<name>\w+)")

# Names every notebook and script has without defining them.
BUILTINS = frozenset(dir(builtins)) | {"__file__", "__builtins__", "__annotations__", "__name__"}


def to_python(source: str) -> str:
    """``source`` with IPython syntax (magics, ``!shell``, ``x?``) turned into plain Python.

    Magics that time or capture Python code (``%time``, ``%timeit``, ``%prun``,
    ``%%time``, ``%%capture``) give up their code; other magics and shell escapes
    become the ``get_ipython()`` calls IPython itself makes. Line numbers are kept.

    >>> print(to_python("%time y = f(x)\\n!ls"))
    y = f(x)
    get_ipython().system('ls')
    """
    return _to_python(source)


@lru_cache(maxsize=4096)
def _to_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    lines = source.splitlines()
    if lines and (cell_magic := CODE_CELL_MAGIC.match(lines[0])):
        # `%%capture out` binds out; the others bind nothing.
        options = cell_magic["options"].split()
        names = [w for w in options if not w.startswith("-") and w.isidentifier()]
        lines[0] = f"{names[0]} = None" if names and lines[0].startswith("%%capture") else "pass"
    lines = [
        f"{m['indent']}{m['code'] or 'pass'}" if (m := CODE_LINE_MAGIC.match(line)) else line
        for line in lines
    ]
    return TransformerManager().transform_cell("\n".join(lines) + "\n").rstrip("\n")


def parse(source: str, where: str = "<cell>") -> ast.Module:
    """The syntax tree of ``source`` (IPython syntax allowed); a clear error if it has none."""
    try:
        return ast.parse(to_python(source), filename=where)
    except SyntaxError as error:
        line = (error.text or "").strip()
        raise CellSyntaxError(
            f"{where}, line {error.lineno}: {error.msg}: {line[:60]!r}; fix the code and try again"
        ) from None


def free_names(
    source: str, where: str = "<cell>", known: Iterable[str] = ()
) -> dict[str, list[int]]:
    """Names ``source`` reads without defining them (builtins aside), with their line numbers.

    These are the names a notebook silently supplies to a script run with
    ``%run -i``. ``known`` adds names to treat as defined.

    >>> free_names("def f():\\n    return a\\nb = [c for c in range(3)]")
    {'a': [2]}
    """
    return _undefined(parse(source, where), where, {"get_ipython", *known})


def _undefined(tree: ast.AST, where: str, known: Iterable[str] = ()) -> dict[str, list[int]]:
    from pyflakes import messages

    found = _checker()(tree, filename=where, builtins=set(known))
    names: dict[str, list[int]] = {}
    for message in found.messages:
        if isinstance(message, messages.UndefinedName) and message.message_args[0] not in BUILTINS:
            names.setdefault(message.message_args[0], []).append(message.lineno)
    return names


@cache
def _checker():
    """pyflakes' checker without its 160 builtins bound anew for each of many small checks.

    Builtins then show up as undefined names, which :func:`_undefined` drops: the
    same answer, several times faster on a notebook of hundreds of statements.
    """
    from pyflakes import checker

    class Checker(checker.Checker):
        def __init__(self, tree, filename="(none)", builtins=None):
            self.known = frozenset(builtins or ())
            super().__init__(tree, filename, builtins)

        def addBinding(self, node, value):
            if node is None and isinstance(value, checker.Builtin) and value.name not in self.known:
                return
            super().addBinding(node, value)

    return Checker


# ---- IPython syntax in scripts -------------------------------------------------------------


def to_script(source: str) -> tuple[str, list[str]]:
    """``source`` as plain Python for a script, and one note per IPython line changed.

    ``%time``-style magics give up their code; other magics, shell escapes and
    ``x?`` help become comments saying what they were (inside a block, a
    ``pass`` keeps the block valid), so nothing vanishes silently. Line
    numbers are kept.

    >>> text, notes = to_script("%matplotlib inline\\n%time y = 2\\nif y:\\n    !ls")
    >>> print(text)
    # IPython only, not run by this script: %matplotlib inline
    y = 2  # was: %time y = 2
    if y:
        pass  # IPython only, not run by this script: !ls
    >>> for note in notes:
    ...     print(note)
    line 1: %matplotlib inline commented out
    line 2: %time y = 2 became y = 2
    line 4: !ls commented out
    """
    original = source.splitlines()
    converted = to_python(source).splitlines()
    converted += [""] * (len(original) - len(converted))
    lines, notes = [], []
    for number, (before, after) in enumerate(zip(original, converted, strict=False), start=1):
        if before == after:
            lines.append(before)
            continue
        indent = before[: len(before) - len(before.lstrip())]
        magic = before.strip()
        if "get_ipython()" not in after and after.strip() not in ("", "pass"):
            lines.append(f"{after}  # was: {magic}")
            notes.append(f"line {number}: {magic} became {after.strip()}")
        else:
            comment = f"# IPython only, not run by this script: {magic}"
            lines.append(f"{indent}pass  {comment}" if indent else comment)
            notes.append(f"line {number}: {magic} commented out")
    return "\n".join(lines), notes


def cell_magic(source: str) -> str | None:
    """The name of the cell magic that makes ``source`` something other than Python, if any.

    >>> cell_magic("%%bash\\nls"), cell_magic("%%time\\nx = 1"), cell_magic("x = 1")
    ('bash', None, None)
    """
    first = source.lstrip().split("\n", 1)[0]
    match = CELL_MAGIC.match(first)
    if match and not CODE_CELL_MAGIC.match(first.strip()):
        return match["name"]
    return None


# ---- notebooks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell: its 1-based position among all cells, kind, source and metadata."""

    number: int
    kind: str
    source: str
    id: str | None = None
    tags: tuple[str, ...] = ()
    title: str | None = None
    execution_count: int | None = None

    @property
    def first_line(self) -> str:
        """The first non-blank line of the source (markdown headings without their '#')."""
        for line in self.source.splitlines():
            if line.strip():
                return line.strip().lstrip("#").strip() if self.kind == "markdown" else line.strip()
        return ""

    @property
    def is_code(self) -> bool:
        return self.kind == "code"


@dataclass
class Notebook:
    """A notebook read from ``path``; ``note`` says which file of a pair was read, and why."""

    path: Path
    cells: list[Cell]
    note: str = ""
    shown: str = ""

    def __post_init__(self) -> None:
        self.shown = self.shown or str(self.path)

    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_code and c.source.strip()]


def notebook_from_nbformat(
    nb, path: str | os.PathLike, note: str = "", shown: str = ""
) -> Notebook:
    """A :class:`Notebook` from an nbformat notebook (what ``jupytext.read`` returns)."""
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        metadata = cell.get("metadata", {})
        tags = metadata.get("tags", [])
        cells.append(
            Cell(
                number=number,
                kind=cell.cell_type,
                source=cell.source if isinstance(cell.source, str) else "".join(cell.source),
                id=cell.get("id"),
                tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
                title=metadata.get("title") if isinstance(metadata.get("title"), str) else None,
                execution_count=cell.get("execution_count"),
            )
        )
    return Notebook(Path(path), cells, note, shown)


def read(path: str | os.PathLike) -> Notebook:
    """The notebook at ``path`` (``.ipynb`` or a jupytext script), via jupytext.

    When the notebook has a paired file (``jupytext.toml``, or the notebook's own
    ``jupytext.formats``) whose cells differ, the newer of the two is read and
    :attr:`Notebook.note` says so.
    """
    path = Path(path)
    shown = str(path)
    if path.is_dir():
        raise NotebookError(f"{shown} is a folder; {_what_exists(path / 'x.ipynb')}")
    if not path.is_file():
        raise NotebookError(f"{shown} does not exist; {_what_exists(path)}")
    main = _read_one(path, shown)
    pair = _paired_file(path, main)
    if pair is None:
        return notebook_from_nbformat(main, path, shown=shown)
    try:
        other = _read_one(pair, str(pair))
    except NotebookError:
        return notebook_from_nbformat(main, path, shown=shown)
    if [(c.cell_type, c.source) for c in main.cells] == [
        (c.cell_type, c.source) for c in other.cells
    ]:
        # Identical text: prefer the .ipynb, which also knows execution counts.
        if path.suffix != ".ipynb" and pair.suffix == ".ipynb":
            return notebook_from_nbformat(other, pair, shown=shown)
        return notebook_from_nbformat(main, path, shown=shown)
    newer, nb = (pair, other) if pair.stat().st_mtime > path.stat().st_mtime else (path, main)
    older = path if newer == pair else pair
    note = (
        f"{newer.name} and {older.name} differ: reading {newer.name}, the newer "
        f"(`jupytext --sync {shown}` pairs them again)"
    )
    return notebook_from_nbformat(nb, newer, note=note, shown=shown)


REPAIR = "restore it from git or re-save it in Jupyter"


def _read_one(path: Path, shown: str):
    import jupytext

    try:
        return jupytext.read(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        reason = (
            str(error).split(":")[0] if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        )
        raise NotebookError(f"{shown} is not a valid notebook ({reason}): {REPAIR}") from None
    except Exception as error:  # jupytext and nbformat raise many kinds on a damaged file
        reason = " ".join(str(error).split()) or type(error).__name__
        if len(reason) > 100:
            reason = reason[:100].rsplit(" ", 1)[0] + " ..."
        raise NotebookError(f"{shown} is not a valid notebook ({reason}): {REPAIR}") from None


def _paired_file(path: Path, nb) -> Path | None:
    """The other file of a jupytext pair, when it exists."""
    from jupytext.config import load_jupytext_config
    from jupytext.formats import long_form_one_format
    from jupytext.paired_paths import paired_paths

    try:
        formats = nb.metadata.get("jupytext", {}).get("formats")
        if not formats:
            config = load_jupytext_config(str(path.resolve()))
            formats = config.default_formats(str(path.resolve())) if config else None
        if not formats:
            return None
        fmt = nb.metadata.get("jupytext", {}).get("text_representation", {})
        fmt = long_form_one_format(
            {"extension": path.suffix, **({} if path.suffix == ".ipynb" else fmt)}
        )
        for other, _ in paired_paths(str(path.resolve()), fmt, formats):
            if Path(other) != path.resolve() and Path(other).is_file():
                return Path(other)
    except Exception:  # an unusual pairing: read the file given, as given
        return None
    return None


def _what_exists(path: Path) -> str:
    folder = path.parent
    if not folder.is_dir():
        return f"there is no folder {folder}: give a notebook's path, e.g. notebooks/explore.ipynb"
    found = sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb")
    if not found:
        return f"{folder} holds no .ipynb notebook: give the path of a notebook"
    shown = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "")
    return f"{folder} holds {shown}: give one of them"


def select(notebook: Notebook, cell: str | int = "", *, execution_count: int | None = None) -> Cell:
    """The code cell ``cell`` names: a 1-based number, a cell id, a tag or a title.

    ``execution_count`` picks the cell that ran as ``In [n]`` instead.
    """
    shown, cells = notebook.shown, notebook.cells
    listing = f"`invoke cells {shown}` lists them"
    if execution_count is not None:
        ran = [c for c in cells if c.execution_count == execution_count]
        if not ran:
            counts = sorted(c.execution_count for c in cells if c.execution_count is not None)
            have = f"it has In [{_ranges(counts)}]" if counts else "it holds no execution counts"
            source = f" ({notebook.path.name} was read: {notebook.note})" if notebook.note else ""
            raise NotebookError(f"no cell of {shown} ran as In [{execution_count}]: {have}{source}")
        found = ran[0]
    elif str(cell).strip().lstrip("-").isdigit():
        number = int(cell)
        if not cells:
            raise NotebookError(f"{shown} has no cells: open it in Jupyter and write some code")
        if not 1 <= number <= len(cells):
            raise NotebookError(
                f"{shown} has {len(cells)} cells (1-{len(cells)}), no cell {number}: {listing}"
            )
        found = cells[number - 1]
    else:
        wanted = str(cell).strip()
        matches = [c for c in cells if wanted and (wanted == c.id or wanted in c.tags)]
        matches = matches or [c for c in cells if wanted and c.title == wanted]
        if len(matches) != 1:
            tags = sorted({t for c in cells for t in c.tags})
            what = "several cells" if matches else "no cell"
            known = f" (tags: {', '.join(tags)})" if tags else ""
            raise NotebookError(
                f"{shown} has {what} with id, tag or title {wanted!r}{known}: "
                f"give a cell number; {listing}"
            )
        found = matches[0]
    code = _ranges([c.number for c in notebook.code_cells()])
    if not found.is_code:
        raise NotebookError(
            f"cell {found.number} of {shown} is a {found.kind} cell, not code: "
            f"code cells are {code or 'none'} ({listing})"
        )
    if not found.source.strip():
        raise NotebookError(
            f"cell {found.number} of {shown} is an empty code cell: code cells with code are "
            f"{code or 'none'} ({listing})"
        )
    return found


def _ranges(numbers: Iterable[int]) -> str:
    """``[2, 3, 4, 8, 10]`` as ``'2-4, 8, 10'``.

    >>> _ranges([2, 3, 4, 8, 10, 11])
    '2-4, 8, 10-11'
    """
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


# ---- statements ----------------------------------------------------------------------------

# Calls that only read their arguments: a bare name passed to them is not changed.
PURE_FUNCTIONS = frozenset(
    "print len repr str int float bool complex type isinstance issubclass sorted list tuple set "
    "frozenset dict sum min max abs round enumerate zip range any all id hash format display "
    "hasattr getattr callable dir vars reversed iter map filter divmod pow chr ord bin hex oct "
    "ascii help".split()
)
# Methods that return a new object and leave theirs alone (unless given inplace=True):
# the reading side of pandas, numpy and str. Any other method call may change its object.
PURE_METHODS = frozenset(
    "head tail describe info mean median mode sum prod min max std var sem count nunique unique "
    "value_counts groupby agg aggregate copy to_numpy to_list tolist to_dict to_frame to_string "
    "to_markdown to_latex to_html items keys values get round corr cov quantile rank isna isnull "
    "notna notnull isin dropna fillna reset_index set_index sort_values sort_index rename astype "
    "merge join pivot pivot_table melt query filter where mask abs cumsum cumprod cummax cummin "
    "diff pct_change shift rolling expanding resample sample nlargest nsmallest idxmax idxmin "
    "argmax argmin argsort any all reshape ravel flatten transpose dot split rsplit strip lstrip "
    "rstrip lower upper title startswith endswith format replace find rfind index "
    "plot hist boxplot memory_usage duplicated drop_duplicates drop assign select_dtypes "
    "explode stack unstack nonzero clip between eq ne lt le gt ge add sub mul div truediv "
    "floordiv pow mod squeeze item to_series to_timestamp tz_localize tz_convert".split()
)
# Module functions called for their effect on the module's own state: random seeds, and
# the import path (`sys.path.append("..")` before `import mymodule`).
STATEFUL_MODULE_CALL = re.compile(r"seed|(^|\.)path\.(append|insert|extend)$", re.IGNORECASE)


@dataclass
class Statement:
    """One top-level statement of a code cell and what it does to module-level names.

    ``binds``: names it may bind; ``kills``: names it surely rebinds (so earlier
    definitions no longer matter); ``uses``: names it reads that it does not
    define itself, with line numbers in the cell; ``mutates``: names whose
    objects it may change in place (``df["x"] = ...``, ``rows.append(r)``,
    ``model.fit(X)``, ``shuffle(x)``); ``deferred``: names read only inside
    function (or lambda) bodies, needed wherever the function may be called;
    ``writes_globals``: for a function, the module names its body assigns
    through ``global``.
    """

    cell: int
    node: ast.stmt
    start: int
    end: int
    binds: set[str] = field(default_factory=set)
    kills: set[str] = field(default_factory=set)
    uses: dict[str, list[int]] = field(default_factory=dict)
    deferred: dict[str, list[int]] = field(default_factory=dict)
    mutates: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    writes_globals: set[str] = field(default_factory=set)
    star_import: bool = False
    comment_start: int = 0

    @property
    def is_import(self) -> bool:
        return isinstance(self.node, (ast.Import, ast.ImportFrom))

    def literal(self) -> tuple[str, object] | None:
        """``(name, value)`` when this is ``name = <literal constant>``, else None."""
        node = self.node
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None and node.simple:
            target, value = node.target, node.value
        else:
            return None
        if not isinstance(target, ast.Name):
            return None
        try:
            constant = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        return (target.id, constant) if _is_parameter_value(constant) else None


def _is_parameter_value(value: object) -> bool:
    scalar = (bool, int, float, str, type(None))
    if isinstance(value, scalar):
        return True
    if isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value}
        return all(isinstance(v, scalar) and v is not None for v in value) and len(kinds) <= 1
    return False


def statements(
    source: str, cell: int = 0, where: str = "<cell>", *, imported: Iterable[str] = ()
) -> list[Statement]:
    """The top-level statements of a code cell's ``source``, each analysed.

    ``imported`` names the modules earlier cells imported: calls on them change
    module state only in a few known ways (a random seed, a dropped result).

    >>> [(sorted(s.binds), sorted(s.uses), sorted(s.mutates)) for s in statements(
    ...     "import numpy as np\\nx = np.zeros(3)\\nx[0] = 1\\nrows.append(x)")]
    [(['np'], [], []), (['x'], ['np'], []), ([], ['x'], ['x']), ([], ['rows', 'x'], ['rows', 'x'])]

    (``rows.append(x)`` might change ``x`` too, as ``rng.shuffle(x)`` would: when in
    doubt, a name counts as changed.)
    """
    tree = parse(source, where)
    lines = to_python(source).splitlines()
    found = []
    body = tree.body
    imported = set(imported)
    for index, node in enumerate(body):
        statement = Statement(cell, node, node.lineno, node.end_lineno or node.lineno)
        statement.comment_start = _comment_start(
            lines, node.lineno, body[index - 1] if index else None
        )
        module = ast.Module(body=[node], type_ignores=[])
        statement.uses = _undefined(module, where, {"get_ipython"})
        if any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for n in ast.walk(node)
        ):
            stripped = ast.Module(
                body=[_WithoutBodies().visit(copy.deepcopy(node))], type_ignores=[]
            )
            immediate = _undefined(stripped, where, {"get_ipython"})
            statement.deferred = {n: v for n, v in statement.uses.items() if n not in immediate}
            statement.uses = immediate
        _Binder(statement).visit(node)
        statement.mutates = _mutated(node, imported | statement.imports, index == len(body) - 1)
        imported = (imported - statement.kills) | statement.imports
        found.append(statement)
    return found


class _WithoutBodies(ast.NodeTransformer):
    """Function and lambda bodies emptied: what remains runs when the statement does."""

    def visit_FunctionDef(self, node):
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args = self.visit(node.args)
        node.body = [ast.Pass()]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        node.args = self.visit(node.args)
        node.body = ast.Constant(None)
        return node


def _comment_start(lines: list[str], lineno: int, previous: ast.stmt | None) -> int:
    """The first line of the comment block right above line ``lineno`` (or ``lineno``)."""
    floor = (previous.end_lineno or previous.lineno) if previous else 0
    start = lineno
    while start - 1 > floor and lines[start - 2].strip().startswith("#"):
        start -= 1
    return start


class _Binder(ast.NodeVisitor):
    """Names a statement binds at module level; function and class bodies are not module level."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self.depth = 0  # nesting inside compound statements: binds there are not certain

    def bind(self, name: str, certain: bool) -> None:
        self.statement.binds.add(name)
        if certain and self.depth == 0:
            self.statement.kills.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.bind(node.id, isinstance(node.ctx, ast.Store))

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.statement.star_import = True
                continue
            name = alias.asname or alias.name.split(".")[0]
            self.statement.imports.add(name)
            self.bind(name, True)

    visit_ImportFrom = visit_Import

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.bind(node.name, True)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Global):
                self.statement.writes_globals.update(inner.names)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(part)
        self.bind(node.name, True)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.bind(node.target.id, False)  # x += 1 changes x but also reads it
        else:
            self.visit(node.target)

    def _comprehension(self, node: ast.AST) -> None:
        # Only a walrus inside a comprehension binds in the enclosing scope.
        for inner in ast.walk(node):
            if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                self.bind(inner.target.id, False)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _compound(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_If = visit_For = visit_AsyncFor = visit_While = visit_Try = _compound
    visit_Match = visit_IfExp = visit_BoolOp = _compound
    if hasattr(ast, "TryStar"):
        visit_TryStar = _compound

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item)
        self._compound(ast.Module(body=node.body, type_ignores=[]))

    visit_AsyncWith = visit_With


def _base_name(node: ast.AST) -> str | None:
    """``df`` for ``df``, ``df.a.b``, ``df["x"][0]``, ``df.groupby(...).mean()``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _module_level_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node of a statement except those inside function bodies and lambdas."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.extend(getattr(child, "decorator_list", []))
                continue
            stack.append(child)


def _mutated(node: ast.stmt, imported: set[str], last: bool) -> set[str]:
    """Names whose objects ``node`` may change in place (when in doubt, a name is included)."""
    changed: set[str] = set()
    aliases: dict[str, set[str]] = {}
    discarded = {id(n.value) for n in _module_level_nodes(node) if isinstance(n, ast.Expr)}
    for inner in _module_level_nodes(node):
        if isinstance(inner, (ast.Attribute, ast.Subscript)) and isinstance(
            inner.ctx, (ast.Store, ast.Del)
        ):
            if name := _base_name(inner):
                changed.add(name)
        elif isinstance(inner, ast.AugAssign) and (name := _base_name(inner.target)):
            changed.add(name)
        elif isinstance(inner, ast.Call):
            changed |= _changed_by_call(inner, imported, id(inner) in discarded, last)
        # Within the statement, `a = b[...]` or `for a in b` makes a change to a one to b.
        if isinstance(inner, ast.Assign) and (source := _base_name(inner.value)):
            for target in inner.targets:
                if isinstance(target, ast.Name):
                    aliases.setdefault(target.id, set()).add(source)
        if isinstance(inner, (ast.For, ast.AsyncFor, ast.comprehension)) and (
            source := _base_name(inner.iter)
        ):
            for target in ast.walk(inner.target):
                if isinstance(target, ast.Name):
                    aliases.setdefault(target.id, set()).add(source)
    todo = list(changed)
    while todo:
        for source in aliases.get(todo.pop(), ()):
            if source not in changed:
                changed.add(source)
                todo.append(source)
    return changed


def _dotted(node: ast.AST) -> str:
    """``np.random.seed`` for that attribute chain (calls and subscripts cut it short)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _changed_by_call(call: ast.Call, imported: set[str], discarded: bool, last: bool) -> set[str]:
    changed: set[str] = set()
    inplace = any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )
    func = call.func
    if isinstance(func, ast.Attribute) and (base := _base_name(func.value)):
        module = base in imported
        if inplace or STATEFUL_MODULE_CALL.search(_dotted(func)):
            changed.add(base)
        elif func.attr not in PURE_METHODS and not (module and (last or not discarded)):
            # A method call may change its object; on a module only when its result is
            # dropped mid-cell (`plt.plot(x)`), not when shown at the end (`data.tables()`).
            changed.add(base)
    if discarded:
        # A call whose result is dropped is made for its effect, perhaps on its arguments.
        pure = (isinstance(func, ast.Name) and func.id in PURE_FUNCTIONS) or (
            isinstance(func, ast.Attribute) and func.attr in PURE_METHODS
        )
        if not pure:
            for argument in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(argument, (ast.Name, ast.Starred)) and (name := _base_name(argument)):
                    changed.add(name)
    return changed


def notebook_statements(
    cells: Iterable[Cell], where: str = ""
) -> tuple[list[Statement], dict[int, str]]:
    """The analysed statements of ``cells`` in order, and the cells that do not parse.

    The second value maps the number of each cell that cannot be analysed
    (a syntax error, or a cell magic such as ``%%bash``) to the reason.
    """
    found: list[Statement] = []
    skipped: dict[int, str] = {}
    imported: set[str] = set()
    for cell in cells:
        if not cell.is_code or not cell.source.strip():
            continue
        if magic := cell_magic(cell.source):
            skipped[cell.number] = f"a %%{magic} cell, not Python"
            continue
        try:
            analysed = statements(
                cell.source, cell.number, f"{where}cell {cell.number}", imported=imported
            )
        except CellSyntaxError as error:
            skipped[cell.number] = str(error)
            continue
        for statement in analysed:
            imported = (imported - statement.kills) | statement.imports
        found.extend(analysed)
    return found, skipped


def trailing_comment(source: str, line: int) -> str:
    """The ``# comment`` at the end of line ``line`` of ``source`` (tokenized, not guessed).

    >>> trailing_comment("k = 3  # number of clusters\\n", 1)
    'number of clusters'
    >>> trailing_comment("s = '# not a comment'\\n", 1)
    ''
    """
    try:
        for token in tokenize.generate_tokens(StringIO(source).readline):
            if token.type == tokenize.COMMENT and token.start[0] == line:
                return token.string.lstrip("#").strip()
            if token.start[0] > line:
                break
    except (tokenize.TokenError, SyntaxError):
        return ""
    return ""
