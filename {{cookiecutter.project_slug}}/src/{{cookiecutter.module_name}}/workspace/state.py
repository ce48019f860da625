"""The bookkeeping of one IPython shell: the user's names, who set them, what ``%run`` did."""

from __future__ import annotations

import builtins
import fnmatch
import re
import sys
import types
import weakref
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProjectError
from . import links
from .report import RunReport
from .summary import format_bytes, format_shape, summarize

# Options of IPython's own %run (IPython/core/magics/execution.py), to read a %run line
# the way %run itself does.
RUN_OPTIONS = "nidtN:b:pD:l:rs:T:em:G"
# Names IPython itself keeps in the namespace: output and input history (_, __, _5, _i5, ...).
IPYTHON_NAME = re.compile(r"_(_?_?|i{1,3}|i?\d+|ih|oh|dh|exit_code)")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
SORT_KEYS = ("name", "type", "size", "cell")
COLUMNS = [
    "name", "type", "dtype", "shape", "bytes", "shallow", "preview", "cell", "execution", "script"
]  # fmt: skip
# A key of the shell's hidden names that `%reset` clears with everything else.
RESET_SENTINEL = "__workspace_alive__"


class WorkspaceError(ProjectError):
    """The workspace cannot be listed (no IPython, a bad option, the pane's packages missing)."""


class MissingPaneError(WorkspaceError):
    """The pane's packages (the project's ``notebook`` extra) are not installed."""


def is_ipython_name(name: str, value, hidden: dict) -> bool:
    """IPython's own names: history (``_``, ``_i3``, ``_7``), ``In``, ``exit``, dunders."""
    if name in hidden and hidden[name] is value:
        return True
    return bool(IPYTHON_NAME.fullmatch(name)) or (name.startswith("__") and name.endswith("__"))


def is_imported(value) -> bool:
    """A module, or a function or class defined elsewhere (``from scipy import stats``)."""
    if isinstance(value, types.ModuleType):
        return True
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType | type) or (
        type(value).__name__ == "ufunc"
    ):
        return getattr(value, "__module__", None) != "__main__"
    return False


def is_code(value) -> bool:
    """A module, function or class: hidden from the pane unless asked for."""
    return is_imported(value) or isinstance(value, types.FunctionType | type)


def _matches_type(value, wanted: set[str]) -> bool:
    for cls in type(value).__mro__:
        if (
            cls.__name__.lower() in wanted
            or f"{cls.__module__}.{cls.__qualname__}".lower() in wanted
        ):
            return True
    return False


def _identity(value):
    """A weak reference when the value allows one (exact), else its id (no reference kept)."""
    try:
        return weakref.ref(value)
    except TypeError:
        return id(value)


def _is_same(identity, value) -> bool:
    if isinstance(identity, weakref.ref):
        return identity() is value
    return identity == id(value)


def _last_failure():
    return getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)


@dataclass
class _Assignment:
    execution: int
    script: str
    identity: object


class Workspace:
    """The bookkeeping of one IPython shell: who set each name, how to report runs.

    Executions are counted as IPython counts them (``In [n]``); :meth:`cell_of` turns
    one into the notebook cell it was (``cell N``, as ``invoke cells`` counts).
    """

    def __init__(self, shell):
        self.shell = shell
        self.quiet_runs = False
        self.last_report: RunReport | None = None
        self.marks_cleared = False
        self._assigned: dict[str, _Assignment] = {}
        # execution -> [its source, the identifiers it spells, the names it binds (lazily)]
        self._executions: dict[int, list] = {}
        self._cell_ids: dict[int, str] = {}  # execution -> the notebook cell's id, when known
        self._original_run = None
        self.shell.user_ns_hidden[RESET_SENTINEL] = True

    # -- the namespace

    def namespace(self) -> dict[str, object]:
        """The user's names and values: the shell's namespace without IPython's own names."""
        hidden = self.shell.user_ns_hidden
        return {
            name: value
            for name, value in list(self.shell.user_ns.items())
            if not is_ipython_name(name, value, hidden)
        }

    def user_items(self, include_imported: bool = False) -> list[tuple[str, object]]:
        """(name, value) of the user's variables: no IPython names, no modules or imports."""
        return [
            (n, v) for n, v in self.namespace().items() if include_imported or not is_imported(v)
        ]

    def forget_if_reset(self) -> bool:
        """After ``%reset``: forget runs, marks and who set what. Whether it was reset."""
        if RESET_SENTINEL in self.shell.user_ns_hidden:
            return False
        self.shell.user_ns_hidden[RESET_SENTINEL] = True
        self.last_report = None
        self._assigned.clear()
        self._executions.clear()
        self._cell_ids.clear()
        return True

    # -- cells

    def current_execution(self) -> int:
        """The execution count of the cell running now (the newest in the history).

        Read from the history, which holds the cell before it runs: IPython 9 counts
        ``shell.execution_count`` up before running a cell, IPython 8 after.
        """
        return len(self.shell.history_manager.input_hist_raw) - 1

    def note_cell_id(self, execution: int, cell_id: str | None) -> None:
        """Remember which notebook cell ran as ``In [execution]`` (its id)."""
        if cell_id:
            self._cell_ids[execution] = cell_id

    def note_current_cell(self) -> int:
        """Remember the id of the cell running now, as the kernel received it; its execution."""
        execution = self.current_execution()
        kernel = getattr(self.shell, "kernel", None)
        try:
            metadata = kernel.get_parent("shell").get("metadata", {}) if kernel else {}
        except Exception:  # an older or different kernel: no id, the code still places it
            metadata = {}
        self.note_cell_id(execution, metadata.get("cellId"))
        return execution

    def cell_of(self, execution: int | None) -> int | None:
        """The notebook cell (1-based position) that ran as ``In [execution]``, when known."""
        if execution is None:
            return None
        history = self.shell.history_manager.input_hist_raw
        source = history[execution] if 0 < execution < len(history) else None
        notebook = links.notebook_of(self.shell.user_ns)
        return links.cell_number(notebook, self._cell_ids.get(execution), source)

    def set_by(self, items: list[tuple[str, object]]) -> dict[str, tuple[int, str | None]]:
        """For each name, the (execution, script) that last assigned it, when known.

        A script's assignment stands while the name holds what the script left and
        no newer cell binds the name; otherwise the newest cell binding it wins.
        """
        current = self.current_execution()
        found: dict[str, tuple[int, str | None]] = {}
        settled_at: dict[int, set[str]] = {}  # execution of a script's assignment -> its names
        for name, value in items:
            record = self._assigned.get(name)
            if record and record.execution <= current and _is_same(record.identity, value):
                found[name] = (record.execution, record.script)
                settled_at.setdefault(record.execution, set()).add(name)
        pending = {name for name, _ in items}
        history = self.shell.history_manager.input_hist_raw
        for execution in range(current, 0, -1):
            if not pending:
                break
            settled = settled_at.pop(execution, set())
            newest = self._bound_names(execution, history[execution], pending) & pending
            for name in newest - settled:
                found[name] = (execution, None)
            pending -= newest | settled
        return found

    def _bound_names(self, execution: int, source: str, wanted: set[str]) -> frozenset[str]:
        """The names ``In [execution]`` binds, parsed only if it spells one of ``wanted``."""
        cached = self._executions.get(execution)
        if cached is None or cached[0] is not source:
            cached = [source, frozenset(IDENTIFIER.findall(source)), None]
            self._executions[execution] = cached
        if cached[2] is None:
            if cached[1].isdisjoint(wanted):
                return frozenset()
            cached[2] = links.bound_names(source)
        return cached[2]

    def rows(
        self,
        patterns=(),
        types=(),
        sort: str = "name",
        reverse: bool = False,
        include_imported: bool = False,
    ) -> list[dict]:
        """The listing as dicts, filtered and sorted (see :func:`table`)."""
        self.forget_if_reset()
        items = filtered(self.user_items(include_imported), patterns, types)
        setters = self.set_by(items)
        cells = {execution: self.cell_of(execution) for execution, _ in setters.values()}
        rows = []
        for name, value in items:
            execution, script = setters.get(name, (None, None))
            rows.append(make_row(name, value, cells.get(execution), execution, script))
        return sorted_rows(rows, sort, reverse)

    # -- %run

    def wrap_run(self) -> None:
        """Put our reporting around IPython's ``%run`` (idempotent)."""
        magics = self.shell.magics_manager.magics["line"]
        # find_line_magic, not the table: IPython 9 keeps a placeholder there until first use
        original = self.shell.find_line_magic("run")
        original = getattr(original, "__workspace_original__", original)
        self._original_run = original

        def run(line="", *args, **kwargs):
            __tracebackhide__ = True  # tracebacks of %run look as without the extension
            return self._run(original, line, *args, **kwargs)

        run.__doc__ = original.__doc__
        run.__dict__.update(getattr(original, "__dict__", {}))
        run.__workspace_original__ = original
        magics["run"] = run

    def unwrap_run(self) -> None:
        magics = self.shell.magics_manager.magics["line"]
        if getattr(magics.get("run"), "__workspace_original__", None) is self._original_run:
            magics["run"] = self._original_run

    def _run(self, original, line: str, *args, **kwargs):
        __tracebackhide__ = True
        plan = self._plan(original, line)
        if plan is None:  # not a file %run can find: let %run say so
            return original(line, *args, **kwargs)
        self.forget_if_reset()
        before = self._snapshot()
        failure_before = _last_failure()
        try:
            return original(line, *args, **kwargs)
        finally:
            try:
                report = self._report(line, plan, before, failure_before)
            except Exception as error:  # a bug here must not cost the user their run
                print(f"(workspace: no report for this %run: {error!r})")
            else:
                self.last_report = report
                self.marks_cleared = False
                if report.clobbered or not self.quiet_runs:
                    print(report.format())

    def _plan(self, original, line: str) -> tuple[str, str, bool] | None:
        """(script path, label, interactive) of a %run line, or None if it names no file."""
        from IPython.utils.module_paths import find_mod
        from IPython.utils.path import get_py_filename

        try:
            opts, args = original.__self__.parse_options(line, RUN_OPTIONS, mode="list", list_all=1)
            if "m" in opts:
                module = opts["m"][0]
                path = find_mod(module)
                label = module
            else:
                path = get_py_filename(args[0])
                label = Path(path).name
        except Exception:
            return None
        if not isinstance(path, str):
            return None
        return path, label, "i" in opts or path.endswith((".ipy", ".ipynb"))

    def _snapshot(self) -> dict[str, tuple[object, object]]:
        return {
            name: (_identity(value), summarize(value)) for name, value in self.namespace().items()
        }

    def _report(self, line, plan, before, failure_before) -> RunReport:
        path, label, interactive = plan
        execution = self.note_current_cell()
        report = RunReport(
            command=line.strip(), cell=self.cell_of(execution), execution=execution, script=label
        )
        failure = _last_failure()
        if failure is not None and failure is not failure_before:
            message = str(failure).strip().splitlines()
            report.error = type(failure).__name__ + (f": {message[0][:80]}" if message else "")
        after = self.namespace()
        for name, value in after.items():
            if name not in before:
                if is_imported(value):
                    report.imported.append(name)
                else:
                    report.created[name] = summarize(value)
            else:
                identity, old = before[name]
                if not _is_same(identity, value):
                    report.overwritten[name] = (old, summarize(value))
                elif (new := summarize(value)) != old:
                    report.changed[name] = (old, new)
        report.deleted = {name: old for name, (_, old) in before.items() if name not in after}
        for name in [*report.created, *report.overwritten, *report.imported]:
            self._assigned[name] = _Assignment(execution, label, _identity(after[name]))
        for name in report.deleted:
            self._assigned.pop(name, None)
        if interactive and not path.endswith(".ipynb"):
            self._add_names_read(report, path, before)
        return report

    def _add_names_read(self, report: RunReport, path: str, before: dict) -> None:
        try:
            needed = links.names_read(path)
        except (ProjectError, OSError, UnicodeDecodeError) as error:
            report.analysis_error = str(error)
            return
        for name, lines in sorted(needed.items()):
            if name in before:
                report.read[name] = lines
            elif not hasattr(builtins, name):
                report.undefined[name] = lines


def filtered(items, patterns, types_wanted) -> list[tuple[str, object]]:
    patterns = [p for p in patterns if p]
    wanted = {t.strip().lower() for spec in types_wanted for t in spec.split(",") if t.strip()}
    return [
        (name, value)
        for name, value in items
        if (not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns))
        and (not wanted or _matches_type(value, wanted))
    ]


def make_row(name: str, value, cell, execution, script) -> dict:
    summary = summarize(value)
    return {
        "name": name,
        "type": summary.type,
        "dtype": summary.dtype,
        "shape": summary.shape,
        "bytes": summary.bytes,
        "shallow": summary.shallow,
        "preview": summary.preview,
        "cell": cell,
        "execution": execution,
        "script": script,
    }


def sorted_rows(rows: list[dict], sort: str, reverse: bool) -> list[dict]:
    if sort not in SORT_KEYS:
        raise WorkspaceError(f"cannot sort by {sort!r}: use one of {', '.join(SORT_KEYS)}")

    def by_cell(row):
        where = row["cell"] if row["cell"] is not None else row["execution"]
        return (where if where is not None else -1, row["name"].lower())

    keys = {
        "name": lambda r: r["name"].lower(),
        "type": lambda r: (r["type"].lower(), r["name"].lower()),
        "size": lambda r: (-(r["bytes"] if r["bytes"] is not None else -1), r["name"].lower()),
        "cell": by_cell,
    }
    return sorted(rows, key=keys[sort], reverse=reverse)


def set_by_text(cell: int | None, execution: int | None, script: str | None) -> str:
    """``cell 5``, ``kmeans.py (cell 7)``; ``In [5]`` when the notebook's cell is not known."""
    if execution is None:
        return ""
    where = f"cell {cell}" if cell is not None else f"In [{execution}]"
    return f"{script} ({where})" if script else where


def format_rows(rows: list[dict]) -> str:
    """The listing as a text table, the one ``%workspace`` prints."""
    if not rows:
        return "No variables (modules and imported functions are not listed; --all lists them)."
    header = ("name", "type", "shape", "size", "value", "set by")
    lines = [
        (
            row["name"],
            row["type"] + (f" {row['dtype']}" if row["dtype"] else ""),
            "" if row["shape"] is None else format_shape(row["shape"]),
            "" if row["bytes"] is None else format_bytes(row["bytes"], row["shallow"]),
            row["preview"] or "",
            set_by_text(row["cell"], row["execution"], row["script"]),
        )
        for row in rows
    ]
    widths = [max(len(text) for text in column) for column in zip(header, *lines, strict=True)]
    right = {2, 3}  # numbers line up on the right

    def render(cells) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    text = "\n".join([render(header), *map(render, lines)])
    if any(row["shallow"] for row in rows):
        text += "\n(+ the container's own memory; the objects it refers to are not counted)"
    return text
