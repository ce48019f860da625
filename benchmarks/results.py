"""Benchmark of the results store against seqfile 0.2.0, measured in the same run.

Run by ``python3 dev.py bench results`` with the baked project's Python, in the project
folder (a git repository). It prints, with 10,000 runs already in the folder:

- the store's cost of saving a small result (a dict of a few scalars), against the
  payload write alone (pickle to a file in the same folder), and against what seqfile
  0.2.0 spends only to find the next number in a folder of 10,000 files;
- ``runs()`` over the 10,000 runs, a selection among them (the current script's latest
  sweep, one argument value), and ``load_latest``;
- the peak resident memory of the process after each phase.

seqfile 0.2.0's package ``__init__`` imports pkg_resources (absent with setuptools 82+),
so its module ``seqfile/seqfile.py`` is installed into a scratch folder and loaded on its
own: the code measured is exactly its ``findNextFile``.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 10_000
SAMPLES = 200
SEQFILE_SAMPLES = 20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_seqfile(scratch: Path):
    target = scratch / "seqfile-0.2.0"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "seqfile==0.2.0"],
        check=True,
    )
    sys.path.append(str(target))  # for natsort (last: its old argparse must not shadow the stdlib)
    spec = importlib.util.spec_from_file_location("seqfile_module", target / "seqfile" / "seqfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_call_ms(function, samples: int) -> tuple[float, float]:
    """Median and 90th percentile of ``function()``'s wall time, in milliseconds."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main() -> None:
    sys.path.insert(0, str(Path.cwd() / "src"))
    package = next(p.name for p in (Path.cwd() / "src").iterdir() if (p / "__init__.py").is_file())
    results = importlib.import_module(f"{package}.results")
    paths = importlib.import_module(f"{package}.paths")
    scratch = Path(tempfile.mkdtemp(prefix="bench-results-"))
    experiment = "bench_results"
    folder = paths.RESULTS_DIR / experiment
    shutil.rmtree(folder, ignore_errors=True)
    try:
        seqfile = load_seqfile(scratch)
        small = {"k": 3, "seed": 42, "inertia": 123.4, "purity": 0.87}
        args = {"k": 3, "seed": 42}

        start = time.perf_counter()
        results.save(experiment, small, args=args)
        first_ms = (time.perf_counter() - start) * 1000
        empty_ms, _ = per_call_ms(lambda: results.save(experiment, small, args=args), SAMPLES)

        start = time.perf_counter()
        provenance = importlib.import_module(f"{package}.provenance")
        for i in range(RUNS - 1 - SAMPLES):
            if i % 1000 == 0:  # ten sweeps of about 1,000 runs, each over k = 0..4
                os.environ[provenance.SWEEP_VARIABLE] = f"bench-sweep-{i // 1000:02d}"
            results.save(experiment, small, args={"k": i % 5, "seed": 42})
        fill_s = time.perf_counter() - start
        print(f"filled {folder.name}/ with {RUNS} runs in {fill_s:.1f} s; peak RSS {peak_rss_mb():.0f} MB")

        counter = iter(range(10**9))

        def payload_only():
            path = folder / f".payload-only.{next(counter)}"
            with open(path, "xb") as handle:
                pickle.dump(small, handle, protocol=pickle.HIGHEST_PROTOCOL)
            path.unlink()

        store_ms, store_p90 = per_call_ms(lambda: results.save(experiment, small, args=args), SAMPLES)
        write_ms, _ = per_call_ms(payload_only, SAMPLES)

        seq_folder = scratch / "seqfile-folder"
        seq_folder.mkdir()
        for number in range(RUNS):
            (seq_folder / f"kmeans.{number}.pkl").touch()

        def seqfile_next():
            os.unlink(seqfile.findNextFile(str(seq_folder), prefix="kmeans.", suffix=".pkl"))

        seq_ms, seq_p90 = per_call_ms(seqfile_next, SEQFILE_SAMPLES)

        print(f"save of a small dict, first in the process (git state, script hash): {first_ms:.2f} ms")
        print(f"save of a small dict into an empty folder: median {empty_ms:.2f} ms")
        print(
            f"save of a small dict with {RUNS} runs in the folder: median {store_ms:.2f} ms "
            f"(p90 {store_p90:.2f}); the payload write alone: {write_ms:.2f} ms; "
            f"beyond it: {store_ms - write_ms:.2f} ms (goal < 5 ms)"
        )
        print(
            f"seqfile 0.2.0 findNextFile alone with {RUNS} files: median {seq_ms:.2f} ms "
            f"(p90 {seq_p90:.2f}); store save / seqfile next number = {store_ms / seq_ms:.3f}"
        )
        print(f"peak RSS after saving: {peak_rss_mb():.0f} MB")

        total = len(list(folder.glob("*.json")))
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            table = results.runs(experiment)
            timings.append(time.perf_counter() - start)
        assert len(table) == total, (len(table), total)
        print(
            f"runs() over {len(table)} runs: best {min(timings):.2f} s, worst {max(timings):.2f} s "
            f"(goal < 2 s); {len(table.columns)} columns; peak RSS {peak_rss_mb():.0f} MB"
        )
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            chosen = results.runs(experiment, script="current", sweep="latest", where={"k": 3})
            timings.append(time.perf_counter() - start)
        print(
            f"runs(script='current', sweep='latest', where={{'k': 3}}) over {total} runs: "
            f"{len(chosen)} chosen; best {min(timings):.2f} s, worst {max(timings):.2f} s "
            f"(goal < 2 s); peak RSS {peak_rss_mb():.0f} MB"
        )
        latest_ms, _ = per_call_ms(lambda: results.load_latest(experiment), 20)
        print(f"load_latest with {total} runs: median {latest_ms:.2f} ms")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
