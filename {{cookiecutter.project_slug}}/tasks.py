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
def user_errors():
    """Turn the package's own errors into one line and a non-zero exit, never a traceback."""
    from {{ cookiecutter.module_name }}.errors import ProjectError

    try:
        yield
    except ProjectError as error:
        raise Exit(f"Error: {error}", code=1) from None
    except KeyboardInterrupt:
        raise Exit("Interrupted: run the task again to finish.", code=130) from None


@task(help={"args": 'extra arguments for pytest, e.g. "-k etl -x"'})
def test(c, args=""):
    """Run the project's own tests (pytest)."""
    import shlex
    import subprocess

    code = subprocess.run([sys.executable, "-m", "pytest", *shlex.split(args)]).returncode
    if code:
        raise Exit(code=code)


@task(
    help={
        "experiment": "the experiment's name: its folder under results/, e.g. kmeans",
        "show": "print the JSON record of run number N (or 'latest') instead of the table",
    }
)
def results(c, experiment, show=None):
    """Print the runs of an experiment as a table, or one run's record with --show N."""
    with user_errors():
        from {{ cookiecutter.module_name }} import results as store

        print(store.report(experiment, show))


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
    """Rebuild the paper figures: run notebooks/figures/*.py headless into figures/*.pdf, *.eps."""
    from {{ cookiecutter.module_name }} import figure_build

    with user_errors():
        if list_:
            print(figure_build.listing(names or ()))
            return
        started = time.perf_counter()
        outcomes = figure_build.build(names or (), force=force, jobs=jobs or None, progress=print)
        print(figure_build.report(outcomes, time.perf_counter() - started))
    failed = [outcome for outcome in outcomes if outcome.failed]
    if failed:
        print("\n\n".join(outcome.error for outcome in failed), file=sys.stderr)
        sources = ", ".join(outcome.source for outcome in failed)
        raise Exit(f"Error: {len(failed)} figure source(s) failed: {sources}", code=1)


ns = Collection(test, results, figures)
