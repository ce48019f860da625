"""The project's own package: one module per job of the research workflow.

- ``paths``: the project root and its folders.
- ``etl``: raw files in ``data/raw`` into one SQLite database (``invoke etl``): a package
  of ``pipeline`` (the run), ``table`` (one table, atomically), ``rawfiles`` (decompression,
  CSV), ``formats`` (JSON, XML, readers), ``inference`` (exact types); ``readers``: your
  own readers; ``db``: the database's connections and manifest.
- ``data``: load and query that database from notebooks and scripts.
- ``notebook``: notebooks as data (read and pair, cell numbers, scope analysis, slicing);
  ``extract``: a cell turned into a script.
- ``results``: numbered, provenance-carrying results of runs.
- ``figures``: paper figures as PDF and EPS.
- ``workspace``: an IPython extension listing the notebook's variables, in a cell
  (``%workspace``) or in JupyterLab's sidebar (``%workspace --pane``).
- ``sweep``: parameter sweeps on a process pool or a Dask cluster.
- ``lint``: ruff plus the notebook checks (``invoke lint``); ``check``: restart-and-run-all
  of the notebooks (``invoke check-notebooks``).

Modules are imported on demand, so ``import <package>`` stays cheap.
"""

from .errors import ProjectError

__all__ = ["ProjectError"]
__version__ = "0.1.0"
