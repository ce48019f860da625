"""What a piece of notebook code binds, reads, changes and deletes: the one scope analysis.

The analysis is pyflakes' own scope analysis (function bodies deferred,
comprehension scopes, ``global``, ``del``, ``try/except NameError``), run on
the code after IPython's own input transformer has turned magics and shell
escapes into plain Python, so ``%time x = f()`` or ``!ls`` never hide a name
or break the parse.

>>> sorted(free_names("y = x + 1\\nprint(y)"))
['x']

Each top-level statement of a code cell becomes a :class:`Statement` that
says which names it binds, reads and may change in place, and what its
function and class bodies read and change when they are called (which is
what ``slicing`` works on); :func:`effects` sums that up for a whole cell.
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from io import StringIO
from typing import TYPE_CHECKING, Literal

from ..errors import ProjectError

if TYPE_CHECKING:
    from .files import Cell


class CellSyntaxError(ProjectError):
    """Code that does not parse, even after IPython's transformations."""


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
    source: str, where: str = "<cell>", known: Iterable[str] = (), shadowed: Iterable[str] = ()
) -> dict[str, list[int]]:
    """Names ``source`` reads without defining them (builtins aside), with their line numbers.

    These are the names a notebook silently supplies to a script run with
    ``%run -i``. ``known`` adds names to treat as defined; ``shadowed`` names
    builtins that earlier code rebinds (``def sum(x, y)``), which count as names.

    >>> free_names("def f():\\n    return a\\nb = [c for c in range(3)]")
    {'a': [2]}
    """
    return _undefined(parse(source, where), where, {"get_ipython", *known}, shadowed)


def _undefined(
    tree: ast.AST, where: str, known: Iterable[str] = (), shadowed: Iterable[str] = ()
) -> dict[str, list[int]]:
    from pyflakes import messages

    found = _checker()(tree, filename=where, builtins=set(known))
    names: dict[str, list[int]] = {}
    kept = set(shadowed)
    for message in found.messages:
        name = message.message_args[0] if isinstance(message, messages.UndefinedName) else None
        if name is not None and (name not in BUILTINS or name in kept):
            names.setdefault(name, []).append(message.lineno)
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
    definitions no longer matter); ``deletes``: names it may ``del``; ``uses``:
    names it reads when it runs, without defining them itself, with line
    numbers in the cell; ``mutates``: names whose objects it may change in
    place when it runs (``df["x"] = ...``, ``rows.append(r)``, ``model.fit(X)``,
    ``shuffle(x)``). A function, class or lambda body runs when it is called,
    not here: ``deferred`` are the names such bodies read and
    ``call_mutates`` those they may change (``global`` assignments included),
    which count wherever the function is called.
    """

    cell: int
    node: ast.stmt
    start: int
    end: int
    bindings: list[Binding] = field(default_factory=list)
    binds: set[str] = field(default_factory=set)
    kills: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    uses: dict[str, list[int]] = field(default_factory=dict)
    deferred: dict[str, list[int]] = field(default_factory=dict)
    mutates: set[str] = field(default_factory=set)
    call_mutates: set[str] = field(default_factory=set)
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
    source: str,
    cell: int = 0,
    where: str = "<cell>",
    *,
    imported: Iterable[str] = (),
    shadowed: Iterable[str] = (),
) -> list[Statement]:
    """The top-level statements of a code cell's ``source``, each analysed.

    ``imported`` names the modules earlier cells imported: calls on them change
    module state only in a few known ways (a random seed, a dropped result).
    ``shadowed`` names the builtins earlier cells rebind: reading one is a use.

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
        statement.uses = _undefined(module, where, {"get_ipython"}, shadowed)
        if any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for n in ast.walk(node)
        ):
            stripped = ast.Module(
                body=[_WithoutBodies().visit(copy.deepcopy(node))], type_ignores=[]
            )
            immediate = _undefined(stripped, where, {"get_ipython"}, shadowed)
            statement.deferred = {n: v for n, v in statement.uses.items() if n not in immediate}
            statement.uses = immediate
        statement.bindings = bindings(ast.Module(body=[node], type_ignores=[]))
        for binding in statement.bindings:
            if binding.how == "delete":
                statement.deletes.add(binding.name)
            elif binding.name == "*":
                statement.star_import = statement.star_import or binding.what.startswith("from ")
            else:
                statement.binds.add(binding.name)
                if binding.certain:
                    statement.kills.add(binding.name)
                if binding.how == "import":
                    statement.imports.add(binding.name)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Global):
                statement.writes_globals.update(inner.names)
        modules = imported | statement.imports
        statement.mutates = _mutated(node, modules, index == len(body) - 1)
        if statement.deferred or statement.writes_globals:
            inside = _mutated(node, modules, False, bodies=True)
            statement.call_mutates = (inside & statement.deferred.keys()) | statement.writes_globals
        if not _defines_callable(node):
            # A lambda passed along (`df.apply(lambda r: f(r))`) may run right away.
            for name, lines in statement.deferred.items():
                statement.uses.setdefault(name, lines)
            statement.mutates |= statement.call_mutates
            statement.deferred, statement.call_mutates = {}, set()
        imported = (imported - statement.kills) | statement.imports
        found.append(statement)
    return found


def _defines_callable(node: ast.stmt) -> bool:
    """Whether ``node`` binds a function or class, whose body runs only when called."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    value = getattr(node, "value", None)
    return isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Lambda)


def reads_now(tree: ast.Module, where: str = "<cell>") -> dict[str, list[int]]:
    """Names ``tree`` reads when it runs (not in function or lambda bodies) without defining them.

    >>> reads_now(parse("def f():\\n    return later\\ny = f() + x"))
    {'x': [3]}
    """
    stripped = _WithoutBodies().visit(copy.deepcopy(tree))
    return _undefined(stripped, where, {"get_ipython"})


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


HOW = Literal["import", "function", "class", "value", "update", "delete", "any"]


@dataclass(frozen=True)
class Binding:
    """One top-level binding (or deletion) of a name, in the order the code runs.

    ``how`` says what it makes of the name: an ``import`` (``what`` is what the
    name refers to, ``full`` the import as written: ``scipy.stats``), a
    ``function``, a ``class``, a ``value`` (``value`` is the expression when
    known), an ``update`` (``x += 1``), a ``delete``, or ``any`` (name ``*``:
    ``from x import *`` or ``%run``, whose argument is ``what``). ``certain``
    is False inside a branch or loop, where it may not happen.
    """

    name: str
    line: int
    how: HOW
    value: ast.expr | None = None
    what: str = ""
    full: str = ""
    certain: bool = True


class _Binder(ast.NodeVisitor):
    """The top-level bindings of one statement; function and class bodies are not top level."""

    def __init__(self) -> None:
        self.found: list[Binding] = []
        self.depth = 0  # nesting inside compound statements: binds there are not certain

    def add(self, node: ast.AST, name: str, how: HOW, value=None, what="", full="") -> None:
        certain = self.depth == 0 and how not in ("update", "any")
        self.found.append(Binding(name, node.lineno, how, value, what, full, certain))

    def target(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.add(target, target.id, "value", value)
        elif isinstance(target, ast.Tuple | ast.List):
            values: list = [None] * len(target.elts)
            if (
                isinstance(value, ast.Tuple | ast.List)
                and len(value.elts) == len(values)
                and not any(isinstance(e, ast.Starred) for e in [*value.elts, *target.elts])
            ):
                values = value.elts
            for element, element_value in zip(target.elts, values, strict=True):
                self.target(element, element_value)
        elif isinstance(target, ast.Starred):
            self.target(target.value, None)
        else:  # attributes and subscripts change an object; they bind no name
            self.visit(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.partition(".")[0]
            self.add(
                alias, name, "import", what=alias.name if alias.asname else name, full=alias.name
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.add(node, "*", "any", what=f"from {module} import *")
            else:
                joined = f"{module}{'' if module.endswith('.') else '.'}{alias.name}"
                self.add(alias, alias.asname or alias.name, "import", what=joined, full=joined)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        self.add(node, node.name, "function")

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(part)
        self.add(node, node.name, "class")

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.target(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.target(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.add(node, node.target.id, "update")  # x += 1 changes x but also reads it
        else:
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.depth += 1  # a walrus sits inside an expression that may not reach it
        self.target(node.target, node.value)
        self.depth -= 1

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.add(target, target.id, "delete")
            else:
                self.visit(target)

    def _comprehension(self, node: ast.AST) -> None:
        # Only a walrus inside a comprehension binds in the enclosing scope.
        for inner in ast.walk(node):
            if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                self.depth += 1
                self.add(inner.target, inner.target.id, "value", inner.value)
                self.depth -= 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _compound(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_If = visit_While = visit_Try = visit_IfExp = visit_BoolOp = _compound
    if hasattr(ast, "TryStar"):
        visit_TryStar = _compound

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.depth += 1
        self.target(node.target, None)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)
        self.depth -= 1

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars, None)
        self.depth += 1
        for statement in node.body:
            self.visit(statement)
        self.depth -= 1

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        # `except E as e` unbinds e again when the handler ends
        for statement in node.body:
            self.visit(statement)

    def visit_Match(self, node) -> None:
        self.visit(node.subject)
        self.depth += 1
        for case in node.cases:
            for pattern in ast.walk(case.pattern):
                for attribute in ("name", "rest"):
                    if isinstance(captured := getattr(pattern, attribute, None), str):
                        self.add(pattern, captured, "value")
            for statement in case.body:
                self.visit(statement)
        self.depth -= 1

    def visit_Expr(self, node: ast.Expr) -> None:
        if (argument := run_argument(node)) is not None:
            self.add(node, "*", "any", what=argument, full="%run")
        else:
            self.generic_visit(node)


def run_argument(node: ast.AST) -> str | None:
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


def bindings(tree: ast.Module) -> list[Binding]:
    """Every top-level binding of ``tree``, in order (see :class:`Binding`)."""
    binder = _Binder()
    for node in tree.body:
        binder.visit(node)
    return binder.found


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


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _module_level_nodes(node: ast.AST, bodies: bool = False) -> Iterator[ast.AST]:
    """Every node of a statement that runs when it runs: not those in function or lambda bodies.

    With ``bodies``, the opposite: only the nodes inside such bodies, which run when called.
    """
    stack: list[tuple[ast.AST, bool]] = [(node, False)]
    while stack:
        current, inside = stack.pop()
        if inside == bodies:
            yield current
        if isinstance(current, FUNCTIONS):
            parts = [*getattr(current, "decorator_list", []), current.args]
            if getattr(current, "returns", None) is not None:
                parts.append(current.returns)
            stack.extend((part, inside) for part in parts)
            body = current.body if isinstance(current.body, list) else [current.body]
            stack.extend((part, True) for part in body)
            continue
        stack.extend((child, inside) for child in ast.iter_child_nodes(current))


def _mutated(node: ast.stmt, imported: set[str], last: bool, bodies: bool = False) -> set[str]:
    """Names whose objects ``node`` may change in place (when in doubt, a name is included).

    With ``bodies``: the names its function and lambda bodies may change, when called.
    """
    changed: set[str] = set()
    aliases: dict[str, set[str]] = {}
    nodes = list(_module_level_nodes(node, bodies))
    discarded = {id(n.value) for n in nodes if isinstance(n, ast.Expr)}
    for inner in nodes:
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
    shadowed: set[str] = set()  # builtins rebound so far (`def sum(x, y)`)
    for cell in cells:
        if not cell.is_code or not cell.source.strip():
            continue
        if magic := cell_magic(cell.source):
            skipped[cell.number] = f"a %%{magic} cell, not Python"
            continue
        try:
            analysed = statements(
                cell.source,
                cell.number,
                f"{where}cell {cell.number}",
                imported=imported,
                shadowed=shadowed,
            )
        except CellSyntaxError as error:
            skipped[cell.number] = str(error)
            continue
        for statement in analysed:
            imported = (imported - statement.kills) | statement.imports
            shadowed |= statement.binds & BUILTINS
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


@dataclass(frozen=True)
class Effects:
    """What running a piece of code does to the names of the namespace it runs in."""

    binds: frozenset[str]
    reads: frozenset[str]
    mutates: frozenset[str]
    deletes: frozenset[str]


def effects(code: str, where: str = "<cell>") -> Effects:
    """What ``code`` (IPython syntax allowed) binds, reads, may change in place and deletes.

    ``reads`` are the names it needs from outside, function bodies included (they
    may be called); ``mutates`` also counts what the functions it calls may change.

    >>> e = effects("import numpy as np\\nrows.append(np.pi)\\ndel old\\ndef f(): log.append(1)")
    >>> sorted(e.binds), sorted(e.reads), sorted(e.mutates), sorted(e.deletes)
    (['f', 'np'], ['log', 'old', 'rows'], ['rows'], ['old'])
    """
    binds: set[str] = set()
    mutates: set[str] = set()
    deletes: set[str] = set()
    calls: dict[str, set[str]] = {}
    for statement in statements(code, where=where):
        for name in statement.uses.keys() & calls.keys():
            mutates |= calls[name]
        mutates |= statement.mutates
        binds = (binds - statement.deletes) | statement.binds
        deletes |= statement.deletes
        for name in statement.kills:
            calls.pop(name, None)
        if statement.call_mutates:
            for name in statement.binds:
                calls[name] = statement.call_mutates
    reads = set(free_names(code, where))
    return Effects(frozenset(binds), frozenset(reads), frozenset(mutates), frozenset(deletes))
