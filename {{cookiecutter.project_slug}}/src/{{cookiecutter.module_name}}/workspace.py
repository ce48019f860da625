"""The notebook's workspace: what is defined, and what a ``%run`` script changed.

An IPython extension, loaded in a notebook with ``%load_ext <package>.workspace``::

    %workspace                     every variable: type, shape, size, value of scalars, who set it
    %workspace pen* -t DataFrame   names matching a pattern, values of a type (or a subclass)
    %workspace --sort size         largest first (also: name, type, cell)
    %workspace --quiet-runs        report a %run only when it overwrote, changed or deleted a name

:func:`table` returns the same listing as a pandas DataFrame. After every ``%run``
of a script (``%run -i script.py --k 4`` shares the notebook's variables with it),
a short report says what the script created, what it overwrote (old and new
summaries), what it changed in place or deleted, and which names it read from the
notebook without defining them (``cells.free_names``, the analysis extract-cell uses).

Everything here is cheap by construction, so it stays fast with tens of GB in memory:

- A value is summarised from its type, ``shape``, ``dtype``, ``nbytes``,
  ``memory_usage(deep=False)`` or ``sys.getsizeof``: never its ``repr`` or ``str``
  (those only for scalars and short strings), never a walk through its elements.
  A size marked shallow leaves out the objects a container refers to.
- No cell event is hooked: the extension wraps the ``%run`` magic, so a cell that
  runs no script runs exactly as before, and a cell running one is measured
  around the script itself (``k = 0`` in the same cell is the notebook's, not the
  script's). Around a script, the namespace is snapshotted as identities (weak
  references where possible) and summaries, never copies.
- "Set by" is the script that last assigned a name (while the name still holds
  what the script left there), otherwise the newest cell whose code binds the name,
  found by parsing the cell history once per cell, when a listing asks for it.

>>> summarize(3).preview, summarize("penguins").shape, summarize([1, 2]).shallow
('3', (8,), True)
"""

from __future__ import annotations

import builtins
import datetime
import fnmatch
import re
import sys
import types
import weakref
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from .errors import ProjectError

# Options of IPython's own %run (IPython/core/magics/execution.py), to read a %run line
# the way %run itself does.
RUN_OPTIONS = "nidtN:b:pD:l:rs:T:em:G"
# Names IPython itself keeps in the namespace: output and input history (_, __, _5, _i5, ...).
IPYTHON_NAME = re.compile(r"_(_?_?|i{1,3}|i?\d+|ih|oh|dh|exit_code)")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
PREVIEW_CHARS = 40
SORT_KEYS = ("name", "type", "size", "cell")
COLUMNS = ["name", "type", "dtype", "shape", "bytes", "shallow", "preview", "cell", "script"]


class WorkspaceError(ProjectError):
    """The workspace cannot be listed (no IPython, a bad option)."""


# ---- summaries: what a value is, from cheap attributes only ----------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """What a listing shows of a value; computed without looking at its elements."""

    type: str
    dtype: str | None = None
    shape: tuple | None = None
    bytes: int | None = None
    shallow: bool = False  # ``bytes`` leaves out the objects the value refers to
    preview: str | None = None

    def __str__(self) -> str:
        """One short phrase: ``int 4``, ``ndarray float64 333×4 (10.4 KiB)``."""
        words = [self.type] + ([self.dtype] if self.dtype else [])
        if self.preview is not None:
            return " ".join([*words, self.preview])
        if self.shape is not None:
            words.append(format_shape(self.shape))
        if self.bytes is not None:
            words.append(f"({format_bytes(self.bytes, self.shallow)})")
        return " ".join(words)


def summarize(value) -> Summary:
    """Type, dtype, shape (or length), bytes and, for scalars and short strings, the value.

    >>> str(summarize(12.5)), str(summarize((1, 2)))
    ('float 12.5', 'tuple 2 (56 B+)')
    """
    kind = type(value)
    name = kind.__name__
    numpy = sys.modules.get("numpy")
    try:
        if numpy is not None and isinstance(value, numpy.generic):
            return _numpy_scalar_summary(value, numpy, name)
        if isinstance(value, bool | int | float | complex) or value is None:
            return Summary(name, bytes=sys.getsizeof(value), preview=_scalar_preview(value))
        if isinstance(value, str | bytes | bytearray):
            short = len(value) <= PREVIEW_CHARS
            return Summary(
                name,
                shape=(len(value),),
                bytes=sys.getsizeof(value),
                preview=repr(value) if short else None,
            )
        if isinstance(value, list | tuple | dict | set | frozenset) or name == "deque":
            return Summary(
                name, shape=(len(value),), bytes=sys.getsizeof(value), shallow=len(value) > 0
            )
        if kind.__module__.partition(".")[0] == "pandas" and hasattr(kind, "memory_usage"):
            return _pandas_summary(value, name)
        return _array_like_summary(value, kind, name)
    except Exception:  # a value whose attributes fail still gets a row
        return Summary(name)


def _scalar_preview(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return repr(value if value is None else bool(value))
    if isinstance(value, int):
        # repr of a huge int is quadratic; past ~60 digits it is no preview anyway
        return repr(int(value)) if value.bit_length() <= 200 else None
    return repr(float(value) if isinstance(value, float) else complex(value))


def _numpy_scalar_summary(value, numpy, name: str) -> Summary:
    wanted = numpy.number | numpy.bool_ | numpy.datetime64 | numpy.timedelta64
    text = str(value) if isinstance(value, wanted) else None
    if text is None and isinstance(value, str | bytes) and len(value) <= PREVIEW_CHARS:
        text = repr(value.item())
    return Summary(name, dtype=str(value.dtype), bytes=int(value.nbytes), preview=text)


def _pandas_summary(value, name: str) -> Summary:
    used = value.memory_usage(index=True, deep=False)
    size = int(used.sum()) if hasattr(used, "sum") else int(used)
    if hasattr(value, "dtypes") and not hasattr(value, "dtype"):  # a DataFrame
        return Summary(
            name,
            shape=tuple(value.shape),
            bytes=size,
            shallow=any(map(_holds_references, value.dtypes)),
        )
    dtype = value.dtype
    return Summary(
        name,
        dtype=str(dtype),
        shape=tuple(value.shape),
        bytes=size,
        shallow=_holds_references(dtype),
    )


def _holds_references(dtype) -> bool:
    """Whether a column of this dtype holds pointers to Python objects (not counted)."""
    return bool(getattr(dtype, "hasobject", False)) or getattr(dtype, "storage", None) == "python"


def _array_like_summary(value, kind: type, name: str) -> Summary:
    # Attributes are looked up on the class first: an instance's __getattr__ (a
    # proxy, a lazy frame) is never asked for `shape` or `nbytes` it does not declare.
    shape = _int_tuple(value.shape) if hasattr(kind, "shape") else None
    dtype = value.dtype if hasattr(kind, "dtype") else None
    nbytes = value.nbytes if hasattr(kind, "nbytes") else None
    if isinstance(nbytes, int) or type(nbytes).__name__.startswith(("int", "uint")):
        size, shallow = int(nbytes), bool(getattr(dtype, "hasobject", False))
    else:
        size, shallow = _own_size(value, kind), not isinstance(value, types.ModuleType)
    preview = None
    if isinstance(value, PurePath | datetime.date | datetime.time | datetime.timedelta):
        text = str(value)
        preview, shallow = (text if len(text) <= 2 * PREVIEW_CHARS else None), False
    return Summary(
        name,
        dtype=None if dtype is None else str(dtype),
        shape=shape,
        bytes=size,
        shallow=shallow,
        preview=preview,
    )


def _own_size(value, kind: type) -> int:
    # A __sizeof__ written in Python may do anything (pandas' walks every string of a
    # frame): such a class gets the size of the object itself, as object.__sizeof__ gives.
    if isinstance(getattr(kind, "__sizeof__", None), types.FunctionType):
        return object.__sizeof__(value)
    return sys.getsizeof(value)


def _int_tuple(shape) -> tuple | None:
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        return shape
    return None


def format_shape(shape: tuple) -> str:
    """``10000000×3`` for a table, ``333`` for a length.

    >>> format_shape((344, 8)), format_shape((3,)), format_shape(())
    ('344×8', '3', '()')
    """
    return "×".join(map(str, shape)) if shape else "()"


def format_bytes(size: int, shallow: bool = False) -> str:
    """Binary units, a ``+`` when the objects a container refers to are not counted.

    >>> format_bytes(512), format_bytes(2 * 1024**3), format_bytes(80_000_056, shallow=True)
    ('512 B', '2.0 GiB', '76.3 MiB+')
    """
    amount, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    text = f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
    return text + ("+" if shallow else "")


# ---- which names are the user's --------------------------------------------------------------


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


def _matches_type(value, wanted: set[str]) -> bool:
    for cls in type(value).__mro__:
        if (
            cls.__name__.lower() in wanted
            or f"{cls.__module__}.{cls.__qualname__}".lower() in wanted
        ):
            return True
    return False


# ---- the report of one %run ------------------------------------------------------------------


@dataclass
class RunReport:
    """What one ``%run`` changed in the notebook's namespace, and what it read from it."""

    command: str
    cell: int | None
    created: dict[str, Summary] = field(default_factory=dict)
    overwritten: dict[str, tuple[Summary, Summary]] = field(default_factory=dict)
    changed: dict[str, tuple[Summary, Summary]] = field(default_factory=dict)
    deleted: dict[str, Summary] = field(default_factory=dict)
    imported: list[str] = field(default_factory=list)
    read: dict[str, list[int]] = field(default_factory=dict)
    undefined: dict[str, list[int]] = field(default_factory=dict)
    error: str | None = None
    analysis_error: str | None = None

    @property
    def clobbered(self) -> bool:
        """Whether the script overwrote, changed in place or deleted a notebook name."""
        return bool(self.overwritten or self.changed or self.deleted)

    def format(self) -> str:
        """The report as a few lines of text, the one ``%run`` prints after the script."""
        counts = [
            f"{len(group)} {label}"
            for group, label in (
                (self.created, "created"),
                (self.overwritten, "overwritten"),
                (self.changed, "changed in place"),
                (self.deleted, "deleted"),
                (self.read, "read from the notebook"),
            )
            if group
        ]
        lines = [f"%run {self.command}: {', '.join(counts) or 'no names changed'}"]
        if self.error:
            lines.append(f"  {'raised':<10}{self.error} (what it did before that is below)")
        rows: list[tuple[str, str, str]] = []
        rows += [("created", name, str(new)) for name, new in self.created.items()]
        rows += [
            ("overwrote", name, f"{old}  →  {new}") for name, (old, new) in self.overwritten.items()
        ]
        rows += [("changed", name, f"{old}  →  {new}") for name, (old, new) in self.changed.items()]
        rows += [("deleted", name, str(old)) for name, old in self.deleted.items()]
        width = max((len(name) for _, name, _ in rows), default=0)
        previous = None
        for label, name, text in rows:
            lines.append(f"  {label if label != previous else '':<10}{name:<{width}}  {text}")
            previous = label
        if self.read:
            lines.append(f"  {'read':<10}{_with_lines(self.read)}")
        if self.undefined:
            undefined = _with_lines(self.undefined)
            lines.append(f"  {'undefined':<10}{undefined} (nothing defines these)")
        if self.imported:
            lines.append(f"  {'imported':<10}{', '.join(self.imported)}")
        if self.analysis_error:
            lines.append(f"  (names read not analysed: {self.analysis_error})")
        return "\n".join(lines)


def _with_lines(names: dict[str, list[int]]) -> str:
    def where(lines: list[int]) -> str:
        shown = ", ".join(map(str, lines[:3])) + (", ..." if len(lines) > 3 else "")
        return f"line{'s' if len(lines) > 1 else ''} {shown}"

    return ", ".join(f"{name} ({where(lines)})" for name, lines in names.items())


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
    cell: int
    script: str
    identity: object


# ---- the extension ---------------------------------------------------------------------------


class Workspace:
    """The bookkeeping of one IPython shell: who set each name, how to report runs."""

    def __init__(self, shell):
        self.shell = shell
        self.quiet_runs = False
        self.last_report: RunReport | None = None
        self._assigned: dict[str, _Assignment] = {}
        # cell -> [its source, the identifiers it spells, the names it binds (parsed lazily)]
        self._cells: dict[int, list] = {}
        self._original_run = None

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

    def set_by(self, items: list[tuple[str, object]]) -> dict[str, tuple[int, str | None]]:
        """For each name, the (cell, script) that last assigned it, when known.

        A script's assignment stands while the name holds what the script left and
        no newer cell binds the name; otherwise the newest cell binding it wins.
        """
        current = self.current_cell()
        found: dict[str, tuple[int, str | None]] = {}
        settled_at: dict[int, set[str]] = {}  # cell of a script's assignment -> its names
        for name, value in items:
            record = self._assigned.get(name)
            if record and record.cell <= current and _is_same(record.identity, value):
                found[name] = (record.cell, record.script)
                settled_at.setdefault(record.cell, set()).add(name)
        pending = {name for name, _ in items}
        history = self.shell.history_manager.input_hist_raw
        for cell in range(current, 0, -1):
            if not pending:
                break
            settled = settled_at.pop(cell, set())
            newest = self._bound_names(cell, history[cell], pending) & pending
            for name in newest - settled:
                found[name] = (cell, None)
            pending -= newest | settled
        return found

    def current_cell(self) -> int:
        """The execution count of the cell running now (the newest in the history).

        Read from the history, which holds the cell before it runs: IPython 9 counts
        ``shell.execution_count`` up before running a cell, IPython 8 after.
        """
        return len(self.shell.history_manager.input_hist_raw) - 1

    def _bound_names(self, cell: int, source: str, wanted: set[str]) -> frozenset[str]:
        """The names cell ``cell`` binds, parsed only if it spells one of ``wanted``."""
        cached = self._cells.get(cell)
        if cached is None or cached[0] is not source:
            cached = [source, frozenset(IDENTIFIER.findall(source)), None]
            self._cells[cell] = cached
        if cached[2] is None:
            if cached[1].isdisjoint(wanted):
                return frozenset()
            cached[2] = bound_names(source)
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
        items = _filtered(self.user_items(include_imported), patterns, types)
        setters = self.set_by(items)
        rows = [_row(name, value, *setters.get(name, (None, None))) for name, value in items]
        return _sorted(rows, sort, reverse)

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

    def _snapshot(self) -> dict[str, tuple[object, Summary]]:
        return {
            name: (_identity(value), summarize(value)) for name, value in self.namespace().items()
        }

    def _report(self, line, plan, before, failure_before) -> RunReport:
        path, label, interactive = plan
        cell = self.current_cell()
        report = RunReport(command=line.strip(), cell=cell)
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
            self._assigned[name] = _Assignment(cell, label, _identity(after[name]))
        for name in report.deleted:
            self._assigned.pop(name, None)
        if interactive and not path.endswith(".ipynb"):
            self._add_names_read(report, path, before)
        return report

    def _add_names_read(self, report: RunReport, path: str, before: dict) -> None:
        from .cells import free_names

        try:
            needed = free_names(Path(path).read_text(encoding="utf-8"), where=path)
        except (ProjectError, OSError, UnicodeDecodeError) as error:
            report.analysis_error = str(error)
            return
        for name, lines in sorted(needed.items()):
            if name in before:
                report.read[name] = lines
            elif not hasattr(builtins, name):
                report.undefined[name] = lines


def bound_names(source: str) -> frozenset[str]:
    """The names a cell's code binds at the top level (assignments, imports, defs, loops).

    >>> sorted(bound_names("import numpy as np\\n%time x = f(1)\\nfor i in y: pass"))
    ['i', 'np', 'x']
    """
    import symtable

    from .cells import to_python

    try:
        table = symtable.symtable(to_python(source), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(
        s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()
    )


def _filtered(items, patterns, types_wanted) -> list[tuple[str, object]]:
    patterns = [p for p in patterns if p]
    wanted = {t.strip().lower() for spec in types_wanted for t in spec.split(",") if t.strip()}
    return [
        (name, value)
        for name, value in items
        if (not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns))
        and (not wanted or _matches_type(value, wanted))
    ]


def _row(name: str, value, cell: int | None, script: str | None) -> dict:
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
        "script": script,
    }


def _sorted(rows: list[dict], sort: str, reverse: bool) -> list[dict]:
    if sort not in SORT_KEYS:
        raise WorkspaceError(f"cannot sort by {sort!r}: use one of {', '.join(SORT_KEYS)}")
    keys = {
        "name": lambda r: r["name"].lower(),
        "type": lambda r: (r["type"].lower(), r["name"].lower()),
        "size": lambda r: (-(r["bytes"] if r["bytes"] is not None else -1), r["name"].lower()),
        "cell": lambda r: (r["cell"] if r["cell"] is not None else -1, r["name"].lower()),
    }
    return sorted(rows, key=keys[sort], reverse=reverse)


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
            _set_by_text(row["cell"], row["script"]),
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


def _set_by_text(cell: int | None, script: str | None) -> str:
    if cell is None:
        return ""
    return f"{script} (cell {cell})" if script else f"cell {cell}"


# ---- public functions and the IPython entry points -------------------------------------------

_WORKSPACE: Workspace | None = None


def _current() -> Workspace:
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
    ``preview`` (scalars and short strings only), ``cell`` and ``script`` (which cell or
    script last assigned the name). ``pattern`` is shell-style (``"pen*"``), ``type`` a
    class name or several, comma-separated (``"DataFrame,ndarray"``); ``sort`` is one
    of name, type, size (largest first), cell. Modules and imported functions and
    classes are left out unless ``imported=True``. ``namespace`` lists a dict instead
    of the IPython namespace (outside IPython, ``namespace=globals()``).

    >>> table(namespace={"k": 3, "np": sys})[["name", "type", "preview"]].to_dict("records")
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
            _row(name, value, None, None)
            for name, value in _filtered(items, patterns, types_wanted)
        ]
        rows = _sorted(rows, sort, reverse)
    else:
        rows = _current().rows(patterns, types_wanted, sort, reverse, imported)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"bytes": "Int64", "cell": "Int64", "shallow": bool})


def last_report() -> RunReport | None:
    """The report of the newest ``%run`` in this kernel (None before the first)."""
    return None if _WORKSPACE is None else _WORKSPACE.last_report


def _make_magics(workspace: Workspace):
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
            "--quiet-runs",
            action="store_true",
            help="from now on, report a %%run only when it overwrote, changed or deleted a name",
        )
        @argument("--full-runs", action="store_true", help="from now on, report every %%run")
        @line_magic
        def workspace(self, line=""):
            """List the notebook's variables: type, shape, size, value of scalars, who set them."""
            args = parse_argstring(self.workspace, line)
            if args.quiet_runs or args.full_runs:
                workspace.quiet_runs = args.quiet_runs
                print(
                    "%run reports: only when a script overwrites, changes or deletes a name"
                    if args.quiet_runs
                    else "%run reports: after every script"
                )
                return
            rows = workspace.rows(args.patterns, args.type, args.sort, args.reverse, args.all)
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
    """``%unload_ext``: ``%run`` is IPython's own again and ``%workspace`` is gone."""
    global _WORKSPACE
    if _WORKSPACE is None:
        return
    _WORKSPACE.unwrap_run()
    shell.magics_manager.magics["line"].pop("workspace", None)
    _WORKSPACE = None
