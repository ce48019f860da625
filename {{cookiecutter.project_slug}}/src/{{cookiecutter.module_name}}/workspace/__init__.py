"""The notebook's workspace: what is defined, and what a ``%run`` script changed.

An IPython extension, loaded in a notebook with ``%load_ext <package>.workspace``::

    %workspace                     every variable: type, shape, size, value of scalars, who set it
    %workspace pen* -t DataFrame   names matching a pattern, values of a type (or a subclass)
    %workspace --sort size         largest first (also: name, type, cell)
    %workspace --pane              the Workspace pane in JupyterLab's right sidebar (--pane off)
    %workspace --quiet-runs        report a %run only when it overwrote, changed or deleted a name

:func:`table` returns the same listing as a pandas DataFrame. After every ``%run``
of a script (``%run -i script.py --k 4`` shares the notebook's variables with it),
a short report says what the script created, what it overwrote (old and new
summaries), what it changed in place or deleted, and which names it read from the
notebook without defining them; the pane marks those names until the next ``%run``.

Everything here is cheap by construction, so it stays fast with tens of GB in memory:

- A value is summarised from its type, ``shape``, ``dtype``, ``nbytes``,
  ``memory_usage(deep=False)`` or ``sys.getsizeof`` (:mod:`.summary`): never its
  ``repr`` or ``str`` (those only for scalars and short strings), never a walk through
  its elements, and attributes written in Python under a time budget.
- No cell event is hooked while the pane is closed or hidden: the extension wraps the
  ``%run`` magic, so a cell that runs no script runs exactly as before. The pane
  (:mod:`.sidebar`) adds one ``post_run_cell`` callback while it is shown.
- "Set by" is the script that last assigned a name (while the name still holds what
  the script left there), otherwise the newest cell whose code binds the name. It is
  shown as ``cell N``, the 1-based position ``invoke cells`` prints, found from the
  cell's id or code in the saved notebook (:mod:`.links`); ``In [n]`` when unknown.

>>> summarize(3).preview, summarize("penguins").shape, summarize([1, 2]).shallow
('3', (8,), True)
"""

from __future__ import annotations

import sys

from .links import bound_names
from .report import RunReport
from .state import (
    COLUMNS,
    SORT_KEYS,
    MissingPaneError,
    Workspace,
    WorkspaceError,
    filtered,
    format_rows,
    is_imported,
    is_ipython_name,
    make_row,
    sorted_rows,
)
from .summary import Summary, format_bytes, format_shape, summarize

__all__ = [
    "RunReport",
    "Summary",
    "Workspace",
    "WorkspaceError",
    "bound_names",
    "current",
    "format_bytes",
    "format_rows",
    "format_shape",
    "is_imported",
    "is_ipython_name",
    "last_report",
    "load_ipython_extension",
    "pane",
    "summarize",
    "table",
    "unload_ipython_extension",
]

_WORKSPACE: Workspace | None = None
_PANE = None  # the open pane.Pane, if any


def current() -> Workspace:
    """The loaded extension's workspace, or one for the running IPython (no run records)."""
    if _WORKSPACE is not None:
        return _WORKSPACE
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise WorkspaceError(
            "table() lists an IPython namespace: call it in a notebook or IPython, "
            "or pass namespace=globals()"
        )
    return Workspace(shell)  # no run records: "set by" comes from the cell history alone


def table(
    pattern: str | None = None,
    *,
    type: str | None = None,
    sort: str = "name",
    reverse: bool = False,
    imported: bool = False,
    namespace: dict | None = None,
):
    """The notebook's variables as a DataFrame, one row per name.

    Columns: ``name``, ``type``, ``dtype``, ``shape`` (a tuple; the length of a
    container or a string), ``bytes`` (cheap: ``nbytes``, ``memory_usage(deep=False)``
    or ``sys.getsizeof``), ``shallow`` (``bytes`` leaves out the objects referred to),
    ``preview`` (scalars and short strings only), ``cell`` (the notebook cell that last
    assigned the name, 1-based as ``invoke cells`` counts), ``execution`` (its
    ``In [n]``) and ``script`` (the ``%run`` script that assigned it). ``pattern`` is
    shell-style (``"pen*"``), ``type`` a class name or several, comma-separated
    (``"DataFrame,ndarray"``); ``sort`` is one of name, type, size (largest first),
    cell. Modules and imported functions and classes are left out unless
    ``imported=True``. ``namespace`` lists a dict instead of the IPython namespace
    (outside IPython, ``namespace=globals()``).

    >>> listing = table(namespace={"k": 3, "os": __import__("os")})
    >>> listing[["name", "type", "preview"]].to_dict("records")
    [{'name': 'k', 'type': 'int', 'preview': '3'}]
    """
    import pandas as pd

    patterns = [pattern] if pattern else []
    types_wanted = [type] if type else []
    if namespace is not None:
        items = [
            (name, value)
            for name, value in namespace.items()
            if not is_ipython_name(name, value, {}) and (imported or not is_imported(value))
        ]
        rows = [
            make_row(name, value, None, None, None)
            for name, value in filtered(items, patterns, types_wanted)
        ]
        rows = sorted_rows(rows, sort, reverse)
    else:
        rows = current().rows(patterns, types_wanted, sort, reverse, imported)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"bytes": "Int64", "cell": "Int64", "execution": "Int64", "shallow": bool})


def last_report() -> RunReport | None:
    """The report of the newest ``%run`` in this kernel (None before the first)."""
    return None if _WORKSPACE is None else _WORKSPACE.last_report


def pane(show: bool = True):
    """Open the Workspace pane in JupyterLab's right sidebar (``show=False`` closes it).

    Needs the extension loaded (``%load_ext``) and the project's ``notebook`` extra.
    Returns the open :class:`~.sidebar.Pane`, or None once closed.
    """
    global _PANE
    if _WORKSPACE is None:
        raise WorkspaceError(
            "the pane shows the extension's listing: run %load_ext <package>.workspace first"
        )
    if not show:
        if _PANE is not None:
            _PANE.close()
        _PANE = None
        return None
    if _PANE is not None and not _PANE.closed:
        _PANE.reveal()
        _PANE.refresh()
        return _PANE
    from .sidebar import Pane

    _PANE = Pane(_WORKSPACE)
    return _PANE


def _make_magics(workspace: Workspace):
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, line_magic, magics_class
    from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

    @magics_class
    class WorkspaceMagics(Magics):
        @magic_arguments()
        @argument("patterns", nargs="*", help="only names matching these patterns, e.g. pen*")
        @argument(
            "-t",
            "--type",
            action="append",
            default=[],
            help="only values of this class or a subclass, e.g. DataFrame (or several: a,b)",
        )
        @argument("-s", "--sort", default="name", choices=SORT_KEYS, help="size: largest first")
        @argument("-r", "--reverse", action="store_true", help="reverse the order")
        @argument("-a", "--all", action="store_true", help="also list modules and imports")
        @argument(
            "--pane",
            nargs="?",
            const="on",
            choices=("on", "off"),
            help="show the Workspace pane in JupyterLab's right sidebar (--pane off: close it)",
        )
        @argument(
            "--quiet-runs",
            action="store_true",
            help="from now on, report a %%run only when it overwrote, changed or deleted a name",
        )
        @argument("--full-runs", action="store_true", help="from now on, report every %%run")
        @line_magic
        def workspace(self, line=""):
            """List the notebook's variables: type, shape, size, value of scalars, who set them."""
            args = parse_argstring(self.workspace, line)
            workspace.note_current_cell()
            if args.pane:
                try:
                    pane(args.pane == "on")
                except MissingPaneError as error:  # the notebook still runs without the pane
                    print(f"(no Workspace pane: {error})", file=sys.stderr)
                except WorkspaceError as error:
                    raise UsageError(str(error)) from None
                return
            if args.quiet_runs or args.full_runs:
                workspace.quiet_runs = args.quiet_runs
                print(
                    "%run reports: only when a script overwrites, changes or deletes a name"
                    if args.quiet_runs
                    else "%run reports: after every script"
                )
                return
            try:
                rows = workspace.rows(args.patterns, args.type, args.sort, args.reverse, args.all)
            except WorkspaceError as error:
                raise UsageError(str(error)) from None
            print(format_rows(rows))

    return WorkspaceMagics(shell=workspace.shell)


def load_ipython_extension(shell) -> None:
    """``%load_ext <package>.workspace``: add ``%workspace`` and report every ``%run``."""
    global _WORKSPACE
    if _WORKSPACE is not None:
        unload_ipython_extension(_WORKSPACE.shell)
    _WORKSPACE = Workspace(shell)
    shell.register_magics(_make_magics(_WORKSPACE))
    _WORKSPACE.wrap_run()


def unload_ipython_extension(shell) -> None:
    """``%unload_ext``: ``%run`` is IPython's own again, ``%workspace`` and the pane are gone."""
    global _WORKSPACE
    if _WORKSPACE is None:
        return
    pane(False)
    _WORKSPACE.unwrap_run()
    shell.magics_manager.magics["line"].pop("workspace", None)
    _WORKSPACE = None
