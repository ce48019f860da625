"""Parameter sweeps: one argparse script run over many settings, on this machine or a cluster.

Every run is a fresh ``python SCRIPT --opt value ...`` process (scripts keep
global state, so no two runs share an interpreter) that saves its result through
the results store into ``results/<experiment>/``. The runs are scheduled by Dask
distributed: an in-process ``LocalCluster`` by default, a running scheduler
(``--scheduler tcp://host:8786``), or workers started as SLURM jobs by
dask-jobqueue (``--slurm PROFILE``). Without Dask installed, the same runs go
through a local pool of threads, each waiting on its run's process.

The package has one module per job:

- ``planning``: the script's options, grids and ranges, settings files, and the
  :class:`Plan` of runs (``--resume`` skips settings with a complete result of the
  same script, known by :func:`provenance.script_hash`);
- ``backends``: where the runs go (a local pool, a LocalCluster, a running
  scheduler, SLURM jobs via dask-jobqueue);
- ``worker``: what a worker runs (one setting as a subprocess, its record); the
  only module a Dask worker imports, standard library only;
- ``driver``: :func:`sweep`, which sends the runs and gathers the :class:`Outcome`.

Each run leaves a small JSON file in ``results/.sweeps/<experiment>/<sweep>/``
(command, host, pid, exit status, the tail of its stderr): the record of a
failed run, and what makes a run that Dask re-schedules after losing a worker
find the result its first attempt already saved instead of running twice.

The names below are imported from their modules on first use, so that a worker
importing ``sweep.worker`` loads nothing else.
"""

from __future__ import annotations

import importlib

from ..errors import ProjectError


class SweepError(ProjectError):
    """A sweep cannot start or could not finish: the message says why and what to do."""


_EXPORTS = {
    "planning": (
        "UNKNOWN",
        "Option",
        "Plan",
        "Run",
        "combine",
        "command_line",
        "expand_range",
        "parse_grid",
        "plan",
        "read_settings",
        "script_options",
    ),
    "backends": ("INSTALL_HINT", "check_jobs", "config", "connect", "slurm_cluster"),
    "worker": ("run_batch", "stop_runs"),
    "driver": ("Outcome", "sweep"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["SweepError", *_HOME]


def __getattr__(name: str):
    if name in _EXPORTS:  # a module of the package: sweep.backends, ...
        return importlib.import_module(f".{name}", __name__)
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
