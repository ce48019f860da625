"""The project's tasks: `invoke --list` shows them, `invoke --help TASK` explains one.

This file only wires tasks to the library in src/{{ cookiecutter.module_name }}/; the work happens there,
so every step can also be called from a notebook. Heavy imports (pandas, scipy,
matplotlib) stay inside task bodies so that `invoke --list` answers at once.
"""

import sys
import time
from contextlib import contextmanager

from invoke import Collection, Exit, task

PACKAGE = "{{ cookiecutter.module_name }}"


@contextmanager
def user_errors(flags: dict[str, str] | None = None):
    """Turn the package's own errors into one line and a non-zero exit, never a traceback.

    ``flags`` maps the library's argument names in messages to the task's flags.
    """
    from {{ cookiecutter.module_name }}.errors import ProjectError

    try:
        yield
    except ProjectError as error:
        raise Exit(f"Error: {as_flags(str(error), flags or {})}", code=1) from None
    except KeyboardInterrupt:
        raise Exit("Interrupted: run the task again to finish.", code=130) from None


@task(help={"args": 'extra arguments for pytest, e.g. "-k etl -x"'})
def test(c, args=""):
    """Run the project's own tests (pytest)."""
    import shlex
    import subprocess

    try:
        words = shlex.split(args)
    except ValueError as error:
        raise Exit(f"Error: --args {args!r}: {error}; quote it as a shell would", code=1) from None
    code = subprocess.run([sys.executable, "-m", "pytest", *words]).returncode
    if code:
        raise Exit(code=code)


@task(
    iterable=["names"],
    help={
        "names": "load only this table (or file/folder under data/raw); repeat for more: -n a -n b",
        "db": "database file to write (default: data/processed/{{ cookiecutter.module_name }}.sqlite)",
        "force": "reload every file, even those unchanged since the last load",
        "on-bad-lines": "error (default): a bad line fails its file; skip: load the other lines "
        "and write the bad ones to data/processed/rejects/<table>.csv",
        "prune": "drop the tables whose raw files are gone (listed by every run)",
        "quiet": "no progress bars",
    },
)
def etl(c, names=None, db=None, force=False, on_bad_lines="error", prune=False, quiet=False):
    """Load every raw data file in data/raw/ into the SQLite database, typed and exact."""
    from {{ cookiecutter.module_name }} import etl as loader

    with user_errors(ETL_FLAGS):
        reports = loader.run(
            names or (),
            database=db,
            force=force,
            on_bad_lines=on_bad_lines,
            prune=prune,
            quiet=quiet,
        )
        print(as_flags(loader.summary(reports, db), ETL_FLAGS))
        failed = [r.table for r in reports if r.status == "failed"]
        if failed:
            raise Exit(
                f"Error: {len(failed)} of {len(reports)} tables failed to load: "
                + ", ".join(failed),
                code=1,
            )


# The library names its Python arguments; on the command line they are these flags.
ETL_FLAGS = {
    "on_bad_lines='skip'": "--on-bad-lines skip",
    "on_bad_lines=": "--on-bad-lines ",
    "force=True": "--force",
    "prune=True": "--prune",
    "database= ": "--db ",
}


def as_flags(text: str, flags: dict[str, str]) -> str:
    """``text`` with the library's argument names written as this task's flags."""
    for argument, flag in flags.items():
        text = text.replace(argument, flag)
    return text


@task(help={"notebook": "a notebook (.ipynb or paired .py): its path, or its name in notebooks/"})
def cells(c, notebook):
    """List a notebook's cells: number, kind, In [n], tags, first line, names each needs."""
    from {{ cookiecutter.module_name }} import notebook as notebooks
    from {{ cookiecutter.module_name }}.notebook.listing import listing

    with user_errors():
        print("\n".join(listing(notebooks.read(notebook))))


@task(
    help={
        "notebook": "a notebook (.ipynb or paired .py): its path, or its name in notebooks/",
        "cell": "cell number as `invoke cells` shows it (1 = first), or a cell id, tag or title",
        "name": "script and results name (scripts/NAME.py, results/NAME/); default: tag or title",
        "execution_count": "read CELL as an execution count: the code cell that ran as In [CELL]",
        "force": "replace an existing script, showing what changed",
        "no_save": "leave out the results.save(...) at the end",
        "allow_undefined": "names no earlier cell defines come from the notebook under %run -i",
    },
)
def extract_cell(
    c,
    notebook,
    cell,
    name="",
    execution_count=False,
    force=False,
    no_save=False,
    allow_undefined=False,
):
    """Turn a notebook cell into scripts/NAME.py: argparse parameters, inputs, results."""
    from {{ cookiecutter.module_name }}.extract import extract_cell as extract

    if execution_count and not cell.isdigit():
        raise Exit(f"Error: --execution-count reads CELL as In [N], a number: {cell!r} is not one")
    with user_errors():
        done = extract(
            notebook,
            "" if execution_count else cell,
            name=name,
            force=force,
            save=not no_save,
            allow_undefined=allow_undefined,
            execution_count=int(cell) if execution_count else None,
        )
    print("\n".join(done.report()))


@task(
    iterable=["where"],
    help={
        "experiment": "the experiment's name: its folder under results/, e.g. kmeans",
        "show": "print the JSON record of run number N (or 'latest') instead of the table",
        "where": "only runs with this argument or result value, e.g. k=4; repeat for more",
        "script": "current: runs of the script as its code is now; old: the others; "
        "or a hash prefix, or a script's path",
        "sweep": "latest: the latest sweep's runs (of those chosen); or a sweep id",
        "clean": "only runs of a committed, unchanged script in a clean tree",
        "since": "only runs started since a date/time (2026-11-30) or for a while (3d, 12h)",
        "status": "complete (default), failed, crashed, running, damaged, incomplete or all",
        "archive": "move the chosen runs to results/.archive/EXPERIMENT/ (needs a selection)",
        "tidy": "first remove the temporary files of the experiment's dead saves",
    },
)
def results(
    c,
    experiment,
    show=None,
    where=None,
    script=None,
    sweep=None,
    clean=False,
    since=None,
    status="complete",
    archive=False,
    tidy=False,
):
    """Print the runs of an experiment (chosen by --where, --script, --sweep...) or archive them."""
    with user_errors():
        from {{ cookiecutter.module_name }} import paths
        from {{ cookiecutter.module_name }} import results as store

        if tidy:
            removed = store.tidy(experiment).get(paths.relative(store.folder_of(experiment)), [])
            print_lines([f"removed {len(removed)} temporary files of dead saves"])
        selection = {
            "where": store.parse_where(where) if where else None,
            "script": script,
            "sweep": sweep,
            "clean": True if clean else None,
            "since": since,
            "status": status,
        }
        if archive:
            moved = store.archive(experiment, **selection)
            target = paths.relative(paths.RESULTS_DIR / ".archive" / experiment)
            numbers = store.number_ranges(moved) or "none"
            print_lines([f"archived {len(moved)} runs of {experiment} to {target}/: {numbers}"])
            return
        print_lines(store.report(experiment, show, **selection).splitlines())


def print_lines(lines) -> None:
    """Print ``lines``; a reader that stops early (`| head`) ends the output quietly."""
    import os

    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def words_after_dashes(c) -> list[str]:
    """The words after `--`, as typed (invoke hands them on joined by spaces)."""
    import shlex

    if not c.remainder:
        return []
    if "--" in sys.argv:
        words = sys.argv[sys.argv.index("--") + 1 :]
        if " ".join(words) == c.remainder:
            return words
    return shlex.split(c.remainder)


@task
def lint(c):
    """Lint src/, scripts/, notebooks: ruff and the notebook checks; `-- PATH...` for some files.

    Prints one line per finding (file:line: CODE message (hint)) and fails if any
    is not a warning. `invoke lint -- scripts/kmeans.py notebooks/explore.ipynb`
    lints just those files or folders (the pre-commit hook passes changed files).
    """
    with user_errors():
        from {{ cookiecutter.module_name }}.lint import lint as find_problems

        findings = find_problems(words_after_dashes(c) or None)
    for finding in findings:
        print(finding)
    problems = sum(not finding.warning for finding in findings)
    warnings = len(findings) - problems
    also = f" and {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
    if problems:
        raise Exit(f"lint: {problems} problem{'s' * (problems != 1)}{also}", code=1)
    print(f"lint: no problems{also}")


@task(help={"timeout": "seconds a cell may run before the notebook counts as failed (default 600)"})
def check_notebooks(c, timeout=600):
    """Restart and run all: run notebooks top to bottom in a fresh kernel; `-- NAME...` for some.

    Without names, every notebook under notebooks/ runs (top folder first);
    `invoke check-notebooks -- explore results` runs those two. Each runs in its
    own folder, on a copy in memory: outputs are never written to the files.
    Fails, naming the first failing cell of each notebook, if any fails.
    """
    with user_errors():
        from {{ cookiecutter.module_name }}.check import run_notebooks

        runs = run_notebooks(words_after_dashes(c) or None, timeout=timeout)
        failed = total = 0
        for run in runs:
            print(run, flush=True)
            total += 1
            failed += not run.ok
    if not total:
        print("check-notebooks: no notebooks in notebooks/")
    if failed:
        raise Exit(f"check-notebooks: {failed} of {total} notebooks failed", code=1)


@task(
    iterable=["names"],
    help={
        "names": "a figure or figure source to build (repeat, or use commas); default: all",
        "force": "rebuild even the figures that are up to date",
        "jobs": "figure sources to run at once (default: one per core)",
        "list_": "list the figure sources and whether each is up to date; build nothing",
    },
)
def figures(c, names=None, force=False, jobs=0, list_=False):
    """Rebuild the paper figures: run notebooks/figures/*.py headless into figures/*.pdf, *.eps.

    `invoke figures -- kmeans_purity` builds just that figure (figure or source names)
    (as does `-n NAME`, repeated); by default every source that is out of date.
    """
    from {{ cookiecutter.module_name }} import figure_build

    chosen = [*(names or ()), *words_after_dashes(c)]
    with user_errors():
        if list_:
            print(figure_build.listing(chosen))
            return
        started = time.perf_counter()
        outcomes = figure_build.build(chosen, force=force, jobs=jobs or None, progress=print)
        print(figure_build.report(outcomes, time.perf_counter() - started))
    failed = [outcome for outcome in outcomes if outcome.failed]
    if failed:
        print("\n\n".join(outcome.error for outcome in failed), file=sys.stderr)
        sources = ", ".join(outcome.source for outcome in failed)
        raise Exit(f"Error: {len(failed)} figure source(s) failed: {sources}", code=1)


@task(
    help={
        "script": "the argparse script to run, e.g. scripts/kmeans.py",
        "grid": 'values to combine, NAME=V1,V2 separated by spaces, e.g. "k=2,3,4 seed=1,2"; '
        "ranges: k=2..6 (whole numbers), lr=0.1:1:0.1 (START:STOP:STEP)",
        "settings": "a .csv, .json or .toml file with one setting per row ([[run]] tables in TOML)",
        "repeat": "runs of each setting (default 1)",
        "jobs": "runs at once on this machine (default: sweep.jobs in pyproject, or one per core)",
        "scheduler": "a running Dask scheduler, e.g. tcp://host:8786 ('local': this machine)",
        "slurm": "start the workers as SLURM jobs, with this profile of sweep.slurm in pyproject",
        "resume": "skip settings that already have a complete result of this script",
        "dry_run": "only show the runs and their commands",
        "experiment": "the results folder (default: the script's name)",
    }
)
def sweep(
    c,
    script,
    grid="",
    settings="",
    repeat=1,
    jobs=0,
    scheduler="",
    slurm="",
    resume=False,
    dry_run=False,
    experiment="",
):
    """Run a script over a grid of settings, each run a fresh process, locally or on Dask."""
    with user_errors():
        from {{ cookiecutter.module_name }} import sweep as sweeps

        sweeps.check_jobs(jobs or None)  # a bad --jobs or sweep setting fails before planning
        plan = sweeps.plan(
            script,
            grid or None,
            settings or None,
            repeat=repeat,
            experiment=experiment or None,
            resume=resume,
        )
        if dry_run:
            print(plan.table().to_string(index=False))
            return
        outcome = sweeps.sweep(
            plan, jobs=jobs or None, scheduler=scheduler or None, slurm=slurm or None, notify=print
        )
        print(outcome.table().to_string(index=False))
        problem = outcome.problem()
        if problem:
            raise sweeps.SweepError(problem)


@task(
    help={
        "force": "reload every raw file and rebuild every figure (extracted scripts are kept)",
        "check": "also run every notebook top to bottom (invoke check-notebooks) at the end",
    }
)
def workflow(c, force=False, check=False):
    """Run the pipeline: etl, then the extractions and sweeps of pyproject.toml, then figures.

    The extractions and sweeps are those listed under
    [tool.{{ cookiecutter.module_name }}.workflow] in pyproject.toml. Each step is a
    task of its own and skips what is up to date: unchanged raw files are not reloaded,
    a script that exists is not extracted again (it is yours now), sweeps resume, and
    figures newer than their sources and results are kept. With nothing in data/raw
    yet, it says what to do next and exits 0.
    """
    if c.remainder:
        raise Exit(f"Error: invoke workflow takes no names after --: {c.remainder!r}", code=1)
    with user_errors():
        from {{ cookiecutter.module_name }}.workflow import next_steps, plan, raw_data_missing

        if raw_data_missing():
            print(next_steps())
            return
        steps = plan()

    def say(title):
        print(f"\n== {title}", flush=True)

    say("invoke etl")
    etl(c, force=force, quiet=True)
    for step in steps:
        say(step.title)
        if step.kind == "extract" and not step.done:
            extract_cell(c, **step.options)
        elif step.kind == "sweep":
            sweep(c, resume=True, **step.options)
    say("invoke figures")
    figures(c, force=force)
    if check:
        say("invoke check-notebooks")
        check_notebooks(c)


@task
def lab(c):
    """Start JupyterLab in the project on its own kernel (%workspace loaded); `-- ARGS` for more.

    Registers the project's kernel (named after the project) in this environment
    first. Arguments after `--` go to JupyterLab: `invoke lab -- --no-browser --port 8890`.
    """
    import os

    with user_errors():
        from {{ cookiecutter.module_name }} import starter

        command = starter.lab_command(words_after_dashes(c))  # first: is JupyterLab there?
        spec = starter.register_kernel()
    print(f"Kernel {spec.name!r} registered in {spec.parent}; starting JupyterLab", flush=True)
    os.execv(command[0], command)  # JupyterLab owns the terminal (and its Ctrl-C) from here


@task(help={"name": "the notebook's name: writes notebooks/NAME.ipynb and its pair NAME.py"})
def new_notebook(c, name):
    """Start a notebook: paired with a script, on the project's kernel, listing the tables."""
    with user_errors():
        from {{ cookiecutter.module_name }} import paths, starter

        written = starter.new_notebook(name)
    print(f"Wrote {' and '.join(paths.relative(p) for p in written)}: open it in `invoke lab`")


ns = Collection(
    workflow, etl, cells, extract_cell, sweep, results, figures, lint, check_notebooks, test
)
ns.add_task(lab)
ns.add_task(new_notebook)
