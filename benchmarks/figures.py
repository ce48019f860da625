"""Benchmark of `invoke figures`: a first build, a rebuild of nothing, a forced rebuild.

Run by ``python3 dev.py bench figures`` with the baked project's Python, in the project
folder. It saves five runs of the example's k-means model, adds ten small figure sources
beside the example (a paper's worth), and prints:

- the wall time of the first ``invoke figures`` (11 sources, two at a time on 2 cores);
- the wall time of a second ``invoke figures`` with nothing changed (median of 5), against
  ``invoke --list`` (the cost of starting invoke and importing tasks.py) in the same run:
  the issue's claim is that this second run rebuilds nothing and takes under a second;
- the wall time of ``invoke figures --force`` and whether every file came out byte-identical;
- the peak resident memory of the largest figure process.
"""

from __future__ import annotations

import hashlib
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path.cwd()
INVOKE = str(Path(sys.executable).parent / "invoke")
PACKAGE = next(p.name for p in (ROOT / "src").iterdir() if p.is_dir() and p.name.isidentifier())
KMEANS = f"""
import pandas as pd
from scipy.cluster.vq import kmeans2, whiten
from {PACKAGE} import results
cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
penguins = pd.read_csv("data/raw/penguins.csv.gz", na_values="NA").dropna(subset=cols)
features = whiten(penguins[cols].to_numpy(dtype=float))
for k in (2, 3, 4, 5, 6):
    centroids, labels = kmeans2(features, k, seed=42, minit="++")
    inertia = float(((features - centroids[labels]) ** 2).sum())
    purity = float(pd.crosstab(labels, penguins["species"].to_numpy()).max(axis=1).sum() / len(labels))
    results.save("kmeans", {{"inertia": inertia, "purity": purity}}, args={{"k": k, "seed": 42}})
"""
SOURCE = f"""# %%
import matplotlib.pyplot as plt
import numpy as np

from {PACKAGE} import figures

# %%
figures.use_paper_style()
x = np.linspace(0, 10, 200)
fig, ax = plt.subplots(figsize=figures.size("single", aspect=0.6))
for shift in range(NUMBER % 4 + 1):
    ax.plot(x, np.sin(x + shift), label=f"phase {{shift}}")
ax.set(xlabel="time $t$ / s", ylabel="signal")
ax.legend()
figures.savefig(fig, "panel_NUMBER")
"""


def seconds(*command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def digests() -> dict[str, str]:
    folder = ROOT / "figures"
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.iterdir()
        if p.suffix in (".pdf", ".eps", ".png", ".json")
    }


def main() -> None:
    subprocess.run([sys.executable, "-c", KMEANS], cwd=ROOT, check=True)
    for number in range(10):
        (ROOT / "notebooks" / "figures" / f"panel_{number}.py").write_text(
            SOURCE.replace("NUMBER", str(number))
        )
    first = seconds(INVOKE, "figures", "--jobs", "2")
    files = digests()
    print(f"first build: {first:.1f} s for 11 sources, {len(files)} files")

    listing = statistics.median(seconds(INVOKE, "--list") for _ in range(5))
    again = [seconds(INVOKE, "figures") for _ in range(5)]
    assert digests() == files
    second = statistics.median(again)
    print(
        f"second run, nothing to build: median {second:.3f} s (max {max(again):.3f} s); "
        f"`invoke --list` {listing:.3f} s; ratio {second / listing:.2f}"
    )
    forced = seconds(INVOKE, "figures", "--force", "--jobs", "2")
    same = digests() == files
    print(f"forced rebuild: {forced:.1f} s; every file byte-identical: {same}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest child process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
