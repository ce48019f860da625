"""The ``invoke cells`` listing: one line per cell, with the names each code cell needs."""

from __future__ import annotations

from . import scope
from .files import Notebook, ranges


def listing(notebook: Notebook) -> list[str]:
    """One line per cell: number, kind, ``In [n]``, tags, first line, and what a code cell needs.

    The names a code cell needs are those it reads without defining, each with
    the last earlier cell that defines it (``?`` when none does).
    """
    lines = [f"{notebook.note}"] if notebook.note else []
    code = ranges(c.number for c in notebook.code_cells())
    lines.append(f"{notebook.shown}: {len(notebook.cells)} cells; code cells: {code or 'none'}")
    defined_in: dict[str, int] = {}
    imported: set[str] = set()
    for cell in notebook.cells:
        count = f"In [{cell.execution_count}]" if cell.execution_count is not None else ""
        tags = " ".join(f"#{t}" for t in cell.tags)
        first = cell.first_line
        first = first if len(first) <= 48 else first[:47] + "…"
        needs = ""
        if cell.is_code and cell.source.strip():
            magic = scope.cell_magic(cell.source)
            try:
                analysed = (
                    [] if magic else scope.statements(cell.source, cell.number, imported=imported)
                )
                free = {} if magic else scope.free_names(cell.source)
            except scope.CellSyntaxError as error:
                needs = f"does not parse: {str(error).split(': ', 1)[-1]}"
                analysed, free = [], {}
            if free:
                needs = "needs " + ", ".join(
                    f"{n} ({defined_in[n]})" if n in defined_in else f"{n} (?)"
                    for n in sorted(free)
                )
            for statement in analysed:
                imported = (imported - statement.kills) | statement.imports
                for name in statement.binds:
                    defined_in[name] = cell.number
        row = f"{cell.number:>4}  {cell.kind:<8} {count:<9} {tags + '  ' if tags else ''}{first}"
        lines.append(f"{row}  <- {needs}" if needs else row)
    return lines
