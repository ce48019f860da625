"""The project's tasks: `invoke --list` shows them, `invoke --help TASK` explains one.

This file only wires tasks to the library in src/{{ cookiecutter.module_name }}/; the work happens there,
so every step can also be called from a notebook. Heavy imports (pandas, scipy,
matplotlib) stay inside task bodies so that `invoke --list` answers at once.
"""

import sys
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
    iterable=["names"],
    help={
        "names": "load only this table (or file/folder under data/raw); repeat for more: -n a -n b",
        "db": "database file to write (default: data/processed/<project>.sqlite)",
        "force": "reload every file, even those unchanged since the last load",
        "on-bad-lines": "error (default): a bad line fails its file; skip: load the other lines "
        "and write the bad ones to data/processed/rejects/<table>.csv",
        "quiet": "no progress bars",
    },
)
def etl(c, names=None, db=None, force=False, on_bad_lines="error", quiet=False):
    """Load every raw data file in data/raw/ into the SQLite database, typed and exact."""
    from {{ cookiecutter.module_name }} import etl as loader

    with user_errors():
        reports = loader.run(
            names or (), database=db, force=force, on_bad_lines=on_bad_lines, quiet=quiet
        )
        print(loader.summary(reports, db))
        failed = [r.table for r in reports if r.status == "failed"]
        if failed:
            raise Exit(
                f"Error: {len(failed)} of {len(reports)} tables failed to load: "
                + ", ".join(failed),
                code=1,
            )


ns = Collection(test, etl)
