"""``invoke figures``: run each figure source headless, in parallel, when it is out of date.

A figure source is a file ``notebooks/figures/*.py`` (or a notebook there without
a paired script; names starting with ``_`` are helpers, not sources). Each runs
in a fresh Python process with the Agg backend and the project root as working
directory. A source is out of date when it has no figures yet, when one of its
files is missing, or when the source, a result it loaded, the folder of an
experiment it read (a new run) or an input it read is newer than its oldest
output; the sidecars ``figures/*.json`` remember what each source read.

This module imports no plotting library: deciding that nothing needs building is quick.
"""

from __future__ import annotations

import json
import linecache
import os
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import figures, paths
from .notebook import files

BUILT, UP_TO_DATE, FAILED, NO_SAVEFIG = "built", "up to date", "FAILED", "no savefig"


@dataclass
class Source:
    """A figure source, the figures it saved last time, and why it must run (None: it need not)."""

    path: Path
    figures: list[str]
    reason: str | None

    @property
    def name(self) -> str:
        return paths.relative(self.path)


@dataclass
class Outcome:
    """What building (or skipping) one source gave."""

    source: str
    status: str
    reason: str
    figures: list[str] = field(default_factory=list)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, NO_SAVEFIG)


def sources() -> list[Path]:
    """The figure sources: ``notebooks/figures/*.py``, and notebooks there with no script."""
    folder = paths.FIGURE_SOURCES_DIR
    found = [p for p in folder.glob("*.py") if not p.name.startswith(("_", "."))]
    found += [
        p
        for p in folder.glob("*.ipynb")
        if not p.name.startswith(("_", ".")) and not p.with_suffix(".py").exists()
    ]
    return sorted(found)


def _by_source() -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for record in figures.sidecars().values():
        source = (record.get("source") or {}).get("path")
        if source:
            grouped.setdefault(source, []).append(record)
    return grouped


def why_stale(source: Path, records: list[dict]) -> str | None:
    """Why ``source`` must run again, given the sidecars of its figures; None if up to date."""
    if not records:
        return "not built yet"
    if any(record.get("built_by") != "invoke figures" for record in records):
        return "saved from a notebook, where what it read is not recorded"
    folder, root = paths.FIGURES_DIR, paths.find_root()
    oldest = None
    for record in records:
        for name in [*record.get("files", []), f"{record['figure']}.json"]:
            try:
                mtime = (folder / name).stat().st_mtime_ns
            except OSError:
                return f"figures/{name} is missing"
            oldest = mtime if oldest is None else min(oldest, mtime)
    if source.stat().st_mtime_ns > oldest:
        return "the source changed"
    read = []
    for record in records:
        for result in record.get("results_read", []):
            read.append(result["path"])
            read.append(f"{paths.RESULTS_DIR.relative_to(root).as_posix()}/{result['experiment']}")
        read += [entry["path"] for entry in record.get("inputs", [])]
        read += record.get("files_read") or []
    for name in dict.fromkeys(read):
        try:
            mtime = (root / name).stat().st_mtime_ns
        except OSError:
            return f"{name} is gone"
        if mtime > oldest:
            return (
                f"{name} changed"
                if (root / name).is_file()
                else f"{name}/ has new or removed files"
            )
    return None


def plan(names=(), force: bool = False) -> list[Source]:
    """The sources named (all when none), each with why it must run or None.

    A name is a source's file name with or without extension, its path (as
    ``invoke cells`` and ``extract-cell`` take it, ``figures/kmeans_purity.py``
    found under ``notebooks/``), or a figure's name.
    """
    grouped = _by_source()
    every = []
    for path in sources():
        records = grouped.get(paths.relative(path), [])
        every.append(Source(path, sorted(r["figure"] for r in records), None))
        reason = why_stale(path, records)
        every[-1].reason = "--force" if force else reason
    wanted = [n.strip() for name in names for n in str(name).split(",") if n.strip()]
    if not wanted:
        return every
    chosen = []
    for name in wanted:
        matches = [s for s in every if name in (s.path.name, s.path.stem, *s.figures)]
        try:
            located = files.locate(name).resolve().with_suffix("")
        except files.NotebookError:
            located = None
        matches = matches or [s for s in every if s.path.resolve().with_suffix("") == located]
        if not matches:
            known = ", ".join(
                sorted({s.path.stem for s in every} | {f for s in every for f in s.figures})
            )
            raise figures.FigureError(
                f"no figure or figure source named {name!r} in "
                f"{paths.relative(paths.FIGURE_SOURCES_DIR)}: "
                f"choose from {known or 'none (no sources)'}"
            )
        chosen += [m for m in matches if m not in chosen]
    return chosen


def build(names=(), force: bool = False, jobs: int | None = None, progress=None) -> list[Outcome]:
    """Run the out-of-date sources (at most ``jobs`` at once) and write ``figures/index.html``.

    ``progress`` is called with one line per decision and per finished source.
    Returns one outcome per source, in source order.
    """
    say = progress or (lambda line: None)
    chosen = plan(names, force)
    outcomes: dict[Path, Outcome] = {}
    todo = []
    for source in chosen:
        if source.reason is None:
            say(f"skip  {source.name}: up to date (its outputs are newer than it and what it read)")
            outcomes[source.path] = Outcome(source.name, UP_TO_DATE, "", source.figures)
        else:
            say(f"build {source.name}: {source.reason}")
            todo.append(source)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    timeout = float(figures.settings()["timeout"])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(lambda s: _run(s, timeout, say), todo):
            outcomes[paths.find_root() / outcome.source] = outcome
    _refuse_shared_names([o for o in outcomes.values() if o.status == BUILT])
    records = figures.sidecars()
    for outcome in outcomes.values():
        outcome.outputs = {
            name: [*records[name].get("files", []), f"{name}.json"]
            for name in outcome.figures
            if name in records
        }
    figures.write_index()
    return [outcomes[s.path] for s in chosen]


def _run(source: Source, timeout: float, say) -> Outcome:
    """Run one source in a fresh process; what it saved comes back in a report file."""
    root = paths.find_root()
    runner = (
        f"import sys; from {paths.PACKAGE}.figure_build import run_source; "
        "sys.exit(run_source(*sys.argv[1:]))"
    )
    environment = {**os.environ, "MPLBACKEND": "Agg", "PROJECT_ROOT": str(root)}
    environment.setdefault("PYTHONHASHSEED", "0")
    environment.pop("JPY_SESSION_NAME", None)
    with tempfile.TemporaryDirectory(prefix="figure-") as scratch:
        report = Path(scratch, "report.json")
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", runner, str(source.path), str(report)],
                cwd=root,
                env=environment,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            done, output = None, ""
        seconds = time.perf_counter() - started
        result = json.loads(report.read_text()) if report.exists() else None
    outcome = Outcome(source.name, BUILT, source.reason, seconds=seconds)
    if done is None:
        outcome.status, outcome.error = (
            FAILED,
            f"{source.name}: still running after {timeout:g} s, stopped",
        )
    elif result is None:
        tail = "\n".join(output.strip().splitlines()[-15:])
        outcome.status, outcome.error = (
            FAILED,
            f"{source.name}: the process died (exit {done.returncode})\n{tail}",
        )
    else:
        outcome.figures = list(dict.fromkeys(result["saved"]))
        outcome.notes = result["notes"]
        if result["error"]:
            outcome.status, outcome.error = FAILED, result["error"]
        elif not outcome.figures:
            outcome.status = NO_SAVEFIG
            outcome.error = (
                f"{source.name} ran without saving a figure: end it with "
                f"figures.savefig(fig, {source.path.stem!r})"
            )
    say(f"{'done ' if not outcome.failed else 'FAIL '} {source.name} ({seconds:.1f} s)")
    return outcome


def _refuse_shared_names(built: list[Outcome]) -> None:
    savers: dict[str, list[Outcome]] = {}
    for outcome in built:
        for name in outcome.figures:
            savers.setdefault(name, []).append(outcome)
    for name, outcomes in savers.items():
        if len(outcomes) > 1:
            both = " and ".join(o.source for o in outcomes)
            for outcome in outcomes:
                outcome.status = FAILED
                outcome.error = f"figure {name!r} is saved by both {both}: give each its own name"


def table(outcomes: list[Outcome]) -> str:
    """The closing table: figure, source, outputs, time, status (one row per figure)."""
    rows = [("figure", "source", "outputs", "time", "status")]
    for outcome in outcomes:
        status = outcome.status + (f" ({outcome.reason})" if outcome.status == BUILT else "")
        seconds = f"{outcome.seconds:.1f} s" if outcome.seconds is not None else "-"
        for name in outcome.figures or ["-"]:
            files = outcome.outputs.get(name, [])
            kinds = " ".join(Path(f).suffix.lstrip(".") for f in files) or "-"
            rows.append((name, outcome.source, kinds, seconds, status))
    return _columns(rows)


def report(outcomes: list[Outcome], seconds: float) -> str:
    """The closing report: the table, the notes (EPS transparency) and a count by status."""
    notes = [f"note: {note}" for outcome in outcomes for note in outcome.notes]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no figure sources"
    return "\n".join(
        [
            "",
            table(outcomes),
            *notes,
            "",
            f"{summary} in {seconds:.1f} s; overview: figures/index.html",
        ]
    )


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def listing(names=()) -> str:
    """What ``invoke figures --list`` shows: each source, its figures, whether it is up to date."""
    rows = [("source", "figures", "state")]
    for source in plan(names):
        state = "up to date" if source.reason is None else f"to build: {source.reason}"
        rows.append((source.name, " ".join(source.figures) or "-", state))
    return _columns(rows)


# ---- in the process that runs one source ------------------------------------------------------


def run_source(source: str, report: str) -> int:
    """Run ``source`` as ``__main__`` and write what it saved (or where it failed) to ``report``."""
    import runpy

    from . import provenance

    path = Path(source).resolve()
    figures._RUN.update(source=str(path), saved=[], notes=[], files_read=set())
    provenance.reset()
    _watch_reads(figures._RUN["files_read"])
    sys.argv = [str(path)]
    sys.path.insert(0, str(path.parent))
    text, error = path.read_text(encoding="utf-8"), None
    try:
        if path.suffix == ".ipynb":
            import jupytext

            text = jupytext.writes(jupytext.read(path), fmt="py:percent")
            # Tracebacks then quote the cells' code, not the notebook's JSON.
            linecache.cache[str(path)] = (len(text), None, text.splitlines(True), str(path))
            code = compile(text, str(path), "exec")
            exec(code, {"__name__": "__main__", "__file__": str(path)})
        else:
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as stop:
        if stop.code not in (None, 0):
            error = _where(stop, path, text)
    except BaseException as exception:  # report everything, KeyboardInterrupt included
        error = _where(exception, path, text)
    Path(report).write_text(
        json.dumps({"saved": figures._RUN["saved"], "notes": figures._RUN["notes"], "error": error})
    )
    if error:
        print(error, file=sys.stderr)
    return 1 if error else 0


def _watch_reads(into: set) -> None:
    """Note every file this process opens for reading, and every folder it lists, under
    results/ and data/: what a figure depends on, whichever library read it."""
    root = paths.find_root()
    watched = tuple(os.path.join(str(folder), "") for folder in (paths.RESULTS_DIR, paths.DATA_DIR))
    writing = os.O_WRONLY | os.O_RDWR

    def hook(event, arguments):
        try:
            if event == "open":
                path, mode, flags = arguments
                if (mode and set(str(mode)) & set("wax+")) or (not mode and (flags or 0) & writing):
                    return
            elif event in ("os.listdir", "os.scandir"):
                path = arguments[0]
            else:
                return
            if path is None or isinstance(path, int):
                return
            full = os.path.abspath(os.fsdecode(path))
            if full.startswith(watched):
                into.add(Path(full).relative_to(root).as_posix())
        except Exception:  # an audit hook must never break the operation it watches
            return

    sys.addaudithook(hook)


def cell_of(text: str, line: int) -> int:
    """The number (from 1) of the py:percent cell holding ``line``, as jupytext splits the text.

    A commented cell magic (``# %%capture``) is code inside a cell, not a new cell:

    >>> cell_of("# %%\\nimport os\\n\\n# %% [markdown]\\n# hi\\n\\n# %%\\nx = 1\\n", 8)
    3
    >>> cell_of("# %%\\n# %%capture\\nx = 1\\n\\n# %%\\ny = 1 / 0\\n", 6)
    2
    """
    return sum(start < line for start in files.cell_starts(text)) or 1


def _line_in_cell(text: str, line: int) -> int:
    """The line of ``line`` within its cell, the cell's ``# %%`` marker not counted."""
    starts = files.cell_starts(text)
    start = starts[cell_of(text, line) - 1] if starts else 0
    marker = text.splitlines()[start].startswith("# %%") if text.splitlines() else False
    return line - start - int(marker)


def _where(exception: BaseException, path: Path, text: str) -> str:
    """'source, cell C, line L: Error: message', the line, and the traceback from the source on."""
    line = None
    if isinstance(exception, SyntaxError) and exception.filename == str(path):
        line = exception.lineno
    frames = traceback.extract_tb(exception.__traceback__)
    mine = [f for f in frames if f.filename == str(path)]
    if mine:
        line = mine[-1].lineno
    if isinstance(exception, SyntaxError):
        message = "".join(traceback.format_exception_only(exception)).strip().splitlines()[-1]
    elif isinstance(exception, SystemExit):
        message = f"SystemExit: exit status {exception.code}"
    else:
        message = f"{type(exception).__name__}: {exception}".rstrip(": ")
    if line is None:
        return f"{paths.relative(path)}: {message}"
    code = text.splitlines()[line - 1].strip() if 0 < line <= len(text.splitlines()) else ""
    tb = exception.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != str(path):
        tb = tb.tb_next
    details = "".join(traceback.format_exception(type(exception), exception, tb)).rstrip()
    where = f"line {line}"
    if path.suffix == ".ipynb":  # no file lines to point at: count within the cell
        where = f"line {_line_in_cell(text, line)} of the cell"
    return (
        f"{paths.relative(path)}, cell {cell_of(text, line)}, {where}: {message}\n"
        f"    {line} | {code}\n" + "\n".join("    " + row for row in details.splitlines())
    )
