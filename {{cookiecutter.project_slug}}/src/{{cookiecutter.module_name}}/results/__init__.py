"""Numbered results of runs, each with a provenance record beside it.

Scripts save with one call; notebooks and figures choose the runs that belong
together::

    from <package> import results
    results.save("kmeans", {"inertia": inertia, "labels": labels}, args=args)
    table = results.runs("kmeans", script="current", sweep="latest")
    data = results.load("kmeans", int(table["number"].iloc[-1]))

A record holds the script with its exact sha256 and its code hash (``script_hash``:
comments and formatting do not count), ``sys.argv``, the parsed arguments, the sweep
and the run's index in it, the git commit with a dirty flag, a hash of the diff and
whether the script itself is committed, host, pid, user, start, end and duration,
Python and package versions, the inputs this process read, the results it loaded,
the payload's size and sha256, the names left out of a partial save, and the
result's scalar values, so that :func:`runs` never opens a payload.

The jobs live in one module each: :mod:`.store` (numbering, atomic writes, temp
files), :mod:`.codecs` (pickle, ``.mat``, ``.npz``, JSON, Parquet), :mod:`.table`
(runs and selection), :mod:`.tidy` (archive, clean up), :mod:`.interim`
(``data/interim/``) and :mod:`.report` (what ``invoke results`` prints).
"""

from .codecs import FORMATS
from .interim import load_interim, save_interim
from .report import report
from .store import (
    PartialSave,
    ResultsError,
    UnknownExperiment,
    check_name,
    experiments,
    folder_of,
    latest_number,
    load,
    load_latest,
    record,
    save,
)
from .table import RUN_COLUMNS, incomplete, number_ranges, parse_where, runs
from .tidy import archive, tidy

__all__ = [
    "FORMATS",
    "RUN_COLUMNS",
    "PartialSave",
    "ResultsError",
    "UnknownExperiment",
    "archive",
    "check_name",
    "experiments",
    "folder_of",
    "incomplete",
    "latest_number",
    "load",
    "load_interim",
    "load_latest",
    "number_ranges",
    "parse_where",
    "record",
    "report",
    "runs",
    "save",
    "save_interim",
    "tidy",
]
