"""The earlier statements a cell needs (its backward slice), or the true reason it cannot have them.

Python semantics, applied to notebook cells:

- a function, class or lambda body has no effect where it is defined: what it
  reads and changes counts where it is **called**, resolved against the
  definitions in force there (so a helper defined in a later cell, before the
  call, is found), transitively through the helpers it calls;
- a statement kept in the slice keeps what it needs when it runs (imports its
  kept function bodies use, default values, decorators, base classes);
- a name that cannot be had is one of: defined nowhere earlier (perhaps in a
  later cell), supplied only by IPython syntax (``x = !ls``, ``%store``,
  ``%run``), or deleted by a cell after its definition.

>>> from .files import Cell, Notebook
>>> cells = [Cell(1, "code", "def f():\\n  return g()"), Cell(2, "code", "def g():\\n  return 1")]
>>> [s.cell for s in needed(cells, "y = f()").statements]
[1, 2]
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .files import Cell, Notebook, ranges
from .scope import BUILTINS, Statement, free_names, notebook_statements

Cause = Literal["undefined", "magic", "deleted"]


@dataclass
class Missing:
    """A name the cell needs that no earlier statement gives it: why, where used, and the fix."""

    name: str
    cause: Cause
    where: list[str] = field(default_factory=list)  # "line 3", "cell 4, line 1"
    cells: list[int] = field(default_factory=list)  # the cells behind the cause

    def describe(self) -> str:
        used = ", ".join(self.where[:3])
        listed = ranges(self.cells)
        if self.cause == "magic":
            return f"{self.name} ({used}; only IPython syntax in cell {listed} sets it)"
        if self.cause == "deleted":
            return f"{self.name} ({used}; cell {listed} deletes it)"
        later = f"; cell {listed} defines it, after this one" if self.cells else ""
        return f"{self.name} ({used}{later})"


@dataclass
class Slice:
    """Earlier statements the cell needs, each with the cell inputs it serves."""

    statements: list[Statement]
    serves: dict[int, set[str]]  # id(statement) -> direct inputs it is needed for
    relevant: dict[int, set[str]]  # id(statement) -> the names it was kept for
    missing: dict[str, Missing]
    skipped: dict[int, str] = field(default_factory=dict)  # cell -> why it was not analysed

    @property
    def unresolved(self) -> dict[str, list[str]]:
        return {name: m.where for name, m in self.missing.items()}


def with_deferred(
    uses: dict[str, list[int]], deferred: dict[str, dict[str, list[int]]]
) -> dict[str, list[int]]:
    """``uses`` plus what the bodies of the functions it names read, transitively."""
    found = {name: list(lines) for name, lines in uses.items()}
    todo = list(found)
    while todo:
        name = todo.pop()
        for inner in deferred.get(name, {}):
            if inner not in found:
                found[inner] = list(found[name])
                todo.append(inner)
    return found


def link(earlier: list[Statement]) -> dict[str, dict[str, list[int]]]:
    """Resolve calls in order; return what each function's body reads, as defined at the end.

    A statement that uses a function (and may so call it) reads what the body of
    the function, as defined at that point, reads (transitively) and changes
    what it changes; a change made through an alias (``b = a``, ``v = t["a"]``)
    is a change of the aliased name.
    """
    aliases: dict[str, set[str]] = {}
    writers: dict[str, set[str]] = {}
    deferred: dict[str, dict[str, list[int]]] = {}
    path_changed = False
    for statement in earlier:
        statement.uses = with_deferred(statement.uses, deferred)
        if statement.is_import and path_changed:
            # An import after `sys.path.append(...)` may need it: keep both, in order.
            statement.uses.setdefault("sys", [statement.start])
        for function in statement.uses.keys() & writers.keys():
            statement.mutates |= writers[function]
        changed = set(statement.mutates)
        for name in list(changed):
            changed |= aliases.get(name, set())
        statement.mutates = changed
        for name in statement.kills | statement.deletes:
            for other in aliases.pop(name, set()):
                aliases.get(other, set()).discard(name)
            writers.pop(name, None)
            deferred.pop(name, None)
        if statement.deferred:
            for name in statement.binds:
                deferred[name] = dict(statement.deferred)
        if statement.call_mutates:
            for name in statement.binds:
                writers[name] = set(statement.call_mutates)
        node = statement.node
        if isinstance(node, ast.Assign) and isinstance(
            node.value, (ast.Name, ast.Attribute, ast.Subscript)
        ):
            source = _base(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name) and source and source != target.id:
                    group = {source, target.id} | aliases.get(source, set())
                    for member in group:
                        aliases[member] = group - {member}
        path_changed = path_changed or ("sys" in statement.mutates and not statement.is_import)
    return deferred


def backward_slice(earlier: list[Statement], needs: dict[str, list[int]]) -> Slice:
    """The statements of ``earlier`` that the names ``needs`` depend on, transitively.

    Walking back from the cell, a statement is kept when it binds or may change
    a needed name; its own inputs are then needed, and a name it surely rebinds
    no longer is (the last definition before the cell wins). A needed name that
    a statement deletes, or that only IPython syntax binds, is missing.
    """
    serves: dict[int, set[str]] = {}
    relevant: dict[int, set[str]] = {}
    missing: dict[str, Missing] = {}

    def lack(name: str, cause: Cause, where: list[str], cell: int | None) -> None:
        entry = missing.setdefault(name, Missing(name, cause))
        if entry.cause != cause and cause != "undefined":
            entry.cause, entry.cells = cause, []
        entry.where.extend(w for w in where if w not in entry.where)
        if cell is not None and entry.cause == cause and cell not in entry.cells:
            entry.cells.append(cell)

    for wanted in needs:
        needed: dict[str, list[str]] = {wanted: [f"line {n}" for n in needs[wanted]]}
        maybe: set[str] = set()  # bound by a kept statement, if only in a branch or loop
        for statement in reversed(earlier):
            for name in statement.deletes & needed.keys():
                lack(name, "deleted", needed.pop(name), statement.cell)
            hit = (statement.binds | statement.mutates) & needed.keys()
            if not hit:
                continue
            if _ipython_only(statement):
                for name in hit & statement.binds:
                    lack(name, "magic", needed.pop(name), statement.cell)
                continue
            serves.setdefault(id(statement), set()).add(wanted)
            relevant.setdefault(id(statement), set()).update(hit)
            maybe |= hit & statement.binds
            for name in statement.kills:
                needed.pop(name, None)
            for name, lines in statement.uses.items():
                needed.setdefault(name, []).extend(
                    f"cell {statement.cell}, line {n}" for n in lines
                )
        for name, where in needed.items():
            if name not in BUILTINS and name not in maybe:
                lack(name, "undefined", where, None)
    kept = [s for s in earlier if id(s) in serves]
    return Slice(kept, serves, relevant, missing)


def _ipython_only(statement: Statement) -> bool:
    """Whether the statement is IPython syntax a script cannot run (``x = !ls``, ``%store``)."""
    return any(isinstance(n, ast.Name) and n.id == "get_ipython" for n in ast.walk(statement.node))


def _base(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def needed(cells: Sequence[Cell], source: str, where: str = "<cell>", prefix: str = "") -> Slice:
    """The slice of ``cells`` (the cells before a cell) that code ``source`` needs.

    Names no earlier statement gives end up in :attr:`Slice.missing`; cells that
    do not parse (or are not Python) are in :attr:`Slice.skipped`. ``prefix``
    starts the place named in their syntax errors (``notebooks/a.ipynb ``).
    """
    earlier, skipped = notebook_statements(cells, prefix)
    deferred = link(earlier)
    shadowed = {name for s in earlier for name in s.binds} & BUILTINS
    needs = free_names(source, where, shadowed=shadowed)
    sliced = backward_slice(earlier, with_deferred(needs, deferred))
    sliced.skipped = skipped
    return sliced


def later_definitions(notebook: Notebook, cell: Cell, names: set[str]) -> dict[str, int]:
    """The first cell after ``cell`` that binds each of ``names`` (those some later cell binds)."""
    later, _ = notebook_statements(notebook.cells[cell.number :])
    found: dict[str, int] = {}
    for statement in reversed(later):
        for name in statement.binds & names:
            found[name] = statement.cell
    return found


def refusal(notebook: Notebook, cell: Cell, sliced: Slice, missing: dict[str, Missing]) -> str:
    """One line: why ``cell`` cannot become a script alone, naming the cells, and the fixes."""
    undefined = {n for n, m in missing.items() if m.cause == "undefined"}
    for name, number in later_definitions(notebook, cell, undefined).items():
        missing[name].cells = [number]
    listed = "; ".join(m.describe() for _, m in sorted(missing.items()))
    causes = {m.cause for m in missing.values()}
    fixes = []
    if "undefined" in causes:
        if any(m.cells for m in missing.values() if m.cause == "undefined"):
            fixes.append("move the cells that define them above this one")
        if any(s.star_import for s in sliced.statements):
            fixes.append("import them by name (not with *)")
        fixes.append("define them in an earlier cell")
    if "magic" in causes:
        fixes.append("compute them in Python instead of IPython syntax")
    if "deleted" in causes:
        fixes.append("delete them after this cell, or not at all")
    if sliced.skipped:
        fixes.insert(0, f"fix cell {ranges(sliced.skipped)}, which does not run as Python")
    what = {
        frozenset({"undefined"}): "uses names that no earlier cell defines",
        frozenset({"magic"}): "uses names that only IPython syntax sets",
        frozenset({"deleted"}): "uses names that an earlier cell deletes",
    }.get(frozenset(causes), "uses names it cannot have")
    return (
        f"cell {cell.number} of {notebook.shown} {what}: {listed}; {', or '.join(fixes)}, "
        "or pass --allow-undefined to take them from the notebook under %run -i"
    )
