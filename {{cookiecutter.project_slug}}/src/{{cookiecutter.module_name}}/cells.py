"""Notebook cells as data: read a notebook, and analyse what a piece of code needs.

The analysis is pyflakes' own scope analysis (function bodies deferred,
comprehension scopes, ``global``, ``del``, ``try/except NameError``), run on
the code after IPython's own input transformer has turned magics and shell
escapes into plain Python, so ``%time x = f()`` or ``!ls`` never hide a name
or break the parse.

>>> sorted(free_names("y = x + 1\\nprint(y)"))
['x']
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from .errors import ProjectError


class CellSyntaxError(ProjectError):
    """Code that does not parse, even after IPython's transformations."""


# Magics whose argument is itself Python code run in the user's namespace:
# ``%time x = f()`` binds x. Their options come first (``%timeit -n 10 -r 3 f()``).
CODE_LINE_MAGIC = re.compile(
    r"^(?P<indent>\s*)%(?:time|timeit|prun)\b(?:\s+-(?:[nrp]\s*\d+|[a-zA-Z]+))*\s*(?P<code>.*)$"
)
CODE_CELL_MAGIC = re.compile(r"^%%(?:time|timeit|prun|capture)\b(?P<options>.*)$")


def to_python(source: str) -> str:
    """``source`` with IPython syntax (magics, ``!shell``, ``x?``) turned into plain Python.

    Magics that time or capture Python code (``%time``, ``%timeit``, ``%prun``,
    ``%%time``, ``%%capture``) give up their code; other magics and shell escapes
    become the ``get_ipython()`` calls IPython itself makes. Line numbers are kept.

    >>> print(to_python("%time y = f(x)\\n!ls"))
    y = f(x)
    get_ipython().system('ls')
    """
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
    from pyflakes import checker, messages

    tree = parse(source, where)
    found = checker.Checker(tree, filename=where, builtins={"get_ipython", *known})
    names: dict[str, list[int]] = {}
    for message in found.messages:
        if isinstance(message, messages.UndefinedName):
            names.setdefault(message.message_args[0], []).append(message.lineno)
    return names
