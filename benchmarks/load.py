"""Benchmark `data.load` from the columnar copy against `pandas.read_sql` and the physical floor.

Run in a baked project with its Python (``python3 dev.py bench load`` does that), or::

    python benchmarks/load.py --rows 2000000 [--work DIR] [--repeat 2]

It loads ``benchmarks/etl.py``'s deterministic 10-column CSV (made once per row count and
shared with that benchmark) with ``invoke etl``, then times, each in its own process so that
its peak RSS is its own (``os.wait4``):

- ``pandas.read_sql`` of the table (the reference), and ``data.load`` reading SQLite;
- ``data.load`` cold (its first load: it writes the copy), warm, and with the copy's files
  dropped from the page cache (``posix_fadvise``: read from the disk);
- ``pyarrow`` mapping the copy's Arrow IPC files and ``to_pandas()``: the floor for any reader;
- each subset form (``columns``, ``where``, ``sample``) against ``read_sql`` of the same
  SQL (for ``sample``: the whole table and ``DataFrame.sample``) and the floor;
- a groupby of ``data.dask`` on a ``distributed.LocalCluster`` of two worker processes
  against ``read_sql`` and pandas' groupby.

Times are of the call alone: each process first imports pandas, pyarrow (with its dataset
module), the ADBC driver and the package (a notebook has them imported after its
first read; the imports cost the same whatever the table's size), and the process's whole
wall time, imports included, is printed beside it. For Dask, the cluster is started and its
workers have imported pandas and pyarrow before the clock starts. Ratios are ours over the reference, both
measured in this run: below 1 is faster. Each fast step runs ``--repeat`` times and the best
time counts (other work on a shared machine only slows a run down).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etl import prepare, scratch_project  # noqa: E402  (the shared benchmark table)

HERE = Path.cwd()
PACKAGE = next(p.name for p in (HERE / "src").iterdir() if (p / "data.py").exists())
SETUP = f"""
import glob, sqlite3, time
import adbc_driver_sqlite.dbapi, pandas as pd, pyarrow as pa, pyarrow.dataset as ds
from {PACKAGE} import data, paths
database = str(paths.DATABASE)
copy = sorted(glob.glob(str(paths.DATABASE.parent / "columnar" / "bench" / "*" / "part-*.arrow")))
def mapped():
    return pa.concat_tables([pa.ipc.open_file(pa.memory_map(f)).read_all() for f in copy])
"""


def timed(call: str, env: dict, before: str = "") -> tuple[float, float, int]:
    """Seconds of ``call`` alone, of its whole process, and the process's peak RSS (MB)."""
    code = SETUP + before + f"\nstarted = time.perf_counter()\n{call}\nprint(time.perf_counter() - started)\n"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    output, errors = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"benchmark step failed: {call}\n{errors.decode()[-2000:]}")
    return float(output.split()[-1]), wall, usage.ru_maxrss // 1024


def evict(folder: Path) -> None:
    """Drop a folder's files from the page cache, so the next read comes from the disk."""
    for path in folder.rglob("*.arrow"):
        with open(path, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated CSV")
    parser.add_argument("--work", type=Path, default=HERE / "build" / "bench-etl", help="scratch folder")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each fast step; the best counts")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    files = prepare(work, args.rows)
    root = scratch_project(work, "load-project", files["gz"])
    env = {"PROJECT_ROOT": str(root)}
    subprocess.run(
        [str(Path(sys.executable).with_name("invoke")), "etl", "--quiet"],
        env={**os.environ, **env},
        check=True,
    )
    columnar = root / "data" / "processed" / "columnar"
    database = next((root / "data" / "processed").glob("*.sqlite"))
    results: dict[str, tuple[float, float, int]] = {}

    def record(label: str, call: str, repeat: int = args.repeat, before=None, setup: str = "") -> None:
        runs = []
        for _ in range(repeat):
            if before:
                before()
            runs.append(timed(call, env, setup))
        best = min(runs)
        results[label] = (best[0], min(r[1] for r in runs), max(r[2] for r in runs))
        print(
            f"  {label:<52} {best[0]:7.3f} s  (process {results[label][1]:6.2f} s) {results[label][2]:6d} MB",
            flush=True,
        )

    print(f"{args.rows:,} rows: database {database.stat().st_size / 1e6:.0f} MB")
    record("pandas.read_sql of the table", "pd.read_sql('SELECT * FROM bench', sqlite3.connect(database))", 1)
    record("data.load reading SQLite", "data.load('bench', database=database)")
    record(
        "data.load cold (writes the copy)", "data.load('bench')", before=lambda: shutil.rmtree(columnar, True)
    )
    size = sum(p.stat().st_size for p in columnar.rglob("*.arrow"))
    print(f"  the copy: {size / 1e6:.0f} MB in {len(list(columnar.rglob('*.arrow')))} files")
    record("data.load warm", "data.load('bench')")
    record("data.load, the copy not in the page cache", "data.load('bench')", before=lambda: evict(columnar))
    record("pyarrow memory map + to_pandas (floor)", "mapped().to_pandas(split_blocks=True)")

    record("read_sql, 2 columns", "pd.read_sql('SELECT id, score FROM bench', sqlite3.connect(database))")
    record("data.load, 2 columns", "data.load('bench', columns=['id', 'score'])")
    record("pyarrow, 2 columns (floor)", "mapped().select(['id', 'score']).to_pandas(split_blocks=True)")
    where = "id <= 20000 AND word = 'beta'"
    record("read_sql, where", f'pd.read_sql("SELECT * FROM bench WHERE {where}", sqlite3.connect(database))')
    record("data.load, where", f"data.load('bench', where=\"{where}\")")
    floor = "(ds.field('id') <= 20000) & (ds.field('word') == 'beta')"
    record("pyarrow, where (floor)", f"mapped().filter({floor}).to_pandas(split_blocks=True)")
    record(
        "read_sql + DataFrame.sample(frac=0.01)",
        "pd.read_sql('SELECT * FROM bench', sqlite3.connect(database)).sample(frac=0.01, random_state=0)",
        1,
    )
    record("data.load, sample=0.01", "data.load('bench', sample=0.01, seed=0)")

    cluster = textwrap.dedent("""
        import logging, distributed
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        import dask.dataframe
        client.run(lambda: __import__("pyarrow.dataset") and __import__("pandas"))
    """)
    record(
        "read_sql + pandas groupby mean",
        "pd.read_sql('SELECT * FROM bench', sqlite3.connect(database)).groupby('word')['score'].mean()",
        1,
    )
    record(
        "data.dask groupby mean (LocalCluster, 2 processes)",
        "data.dask('bench').groupby('word')['score'].mean().compute()",
        setup=cluster,
    )

    def ratio(ours: str, reference: str, goal: str = "") -> None:
        value = results[ours][0] / results[reference][0]
        whole = results[ours][1] / results[reference][1]
        print(
            f"  {ours} / {reference}: {value:.3f} (processes: {whole:.2f}){f' (goal {goal})' if goal else ''}"
        )

    print("ratios (ours / reference, call time):")
    ratio("data.load warm", "pandas.read_sql of the table", "<= 0.05")
    ratio("data.load cold (writes the copy)", "pandas.read_sql of the table")
    ratio("data.load, the copy not in the page cache", "pandas.read_sql of the table")
    ratio("data.load reading SQLite", "pandas.read_sql of the table")
    ratio("data.load warm", "pyarrow memory map + to_pandas (floor)")
    ratio("data.load, 2 columns", "read_sql, 2 columns")
    ratio("data.load, 2 columns", "pyarrow, 2 columns (floor)")
    ratio("data.load, where", "read_sql, where")
    ratio("data.load, where", "pyarrow, where (floor)")
    ratio("data.load, sample=0.01", "read_sql + DataFrame.sample(frac=0.01)")
    ratio("data.dask groupby mean (LocalCluster, 2 processes)", "read_sql + pandas groupby mean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
