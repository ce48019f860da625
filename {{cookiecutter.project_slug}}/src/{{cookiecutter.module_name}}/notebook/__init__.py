"""Notebooks as data: read and pair them, number their cells, analyse their code, slice it.

- :mod:`.files`: find a notebook by path or bare name, read it with jupytext (one
  rule for which file of a pair is read), cells numbered from 1 as ``invoke cells``
  prints them, and where each cell starts in the paired ``py:percent`` script;
- :mod:`.scope`: what code binds, reads, changes and deletes (pyflakes' scopes),
  function bodies counted where they are called;
- :mod:`.slicing`: the earlier statements a cell needs, or why it cannot have them;
- :mod:`.listing`: the ``invoke cells`` listing.

>>> effects("y = x + 1").reads
frozenset({'x'})
"""

from .files import Cell, Notebook, NotebookError, find_cell, locate, read, select
from .scope import CellSyntaxError, Effects, effects, free_names

__all__ = [
    "Cell",
    "CellSyntaxError",
    "Effects",
    "Notebook",
    "NotebookError",
    "effects",
    "find_cell",
    "free_names",
    "locate",
    "read",
    "select",
]
