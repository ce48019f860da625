"""Benchmark of `invoke lint` and `invoke check-notebooks`, against references in the same run.

Run by ``python3 dev.py bench lint`` with the baked project's Python, in the project folder.
In a scratch project (this project's pyproject.toml, so ruff's settings) it writes 40
notebooks of 30 cells (paired py:percent scripts) and 20 scripts, and prints:

- ``lint()`` over all of them, against ruff alone over the same files (a subprocess, as
  lint runs it): the notebook checks' own cost is the difference;
- linting the one changed notebook (what the pre-commit hook does), against ruff on it;
- one ``check-notebooks`` run of a two-cell notebook (a kernel's start and stop), against
  starting this Python and importing ipykernel;
- the peak resident memory of the process after each phase.
"""

from __future__ import annotations

import importlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS, CELLS, SCRIPTS, SAMPLES = 40, 30, 20, 5


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_s(function, samples: int = SAMPLES) -> float:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cell(number: int) -> str:
    """A cell of the kind notebooks hold: a load, a transform, a display."""
    if number == 0:
        return "import math\n\nimport numpy as np\n\ntotal = 0"
    return (
        f"values_{number} = np.arange({number + 10}) * math.pi\n"
        f"summary_{number} = {{'mean': float(values_{number}.mean()), 'n': len(values_{number})}}\n"
        f"total = total + summary_{number}['n']\n"
        f"summary_{number}"
    )


def write_project(root: Path) -> list[Path]:
    shutil.copy(Path.cwd() / "pyproject.toml", root)
    (root / "notebooks").mkdir()
    (root / "scripts").mkdir()
    (root / "src").mkdir()
    notebooks = []
    for n in range(NOTEBOOKS):
        text = "\n".join(f"# %%\n{cell(c)}\n" for c in range(CELLS))
        path = root / "notebooks" / f"explore_{n:02d}.py"
        path.write_text(text)
        notebooks.append(path)
    for n in range(SCRIPTS):
        (root / "scripts" / f"model_{n:02d}.py").write_text(
            "import argparse\n\nparser = argparse.ArgumentParser()\n"
            'parser.add_argument("--k", type=int, default=3)\nargs = parser.parse_args()\n'
            "print(args.k * 2)\n"
        )
    return notebooks


def main() -> None:
    sys.path.insert(0, str(Path.cwd() / "src"))
    package = next(p.name for p in (Path.cwd() / "src").iterdir() if (p / "__init__.py").is_file())
    scratch = Path(tempfile.mkdtemp(prefix="bench-lint-"))
    try:
        notebooks = write_project(scratch)
        os.environ["PROJECT_ROOT"] = str(scratch)  # before paths finds the root
        lint = importlib.import_module(f"{package}.lint")
        check = importlib.import_module(f"{package}.check")
        os.chdir(scratch)

        def ruff(*files: str) -> None:
            subprocess.run(
                [sys.executable, "-m", "ruff", "check", "--output-format=json", "--no-fix", *files],
                capture_output=True,
                check=False,
            )

        assert lint.lint() == [], lint.lint()[:3]
        full = median_s(lint.lint)
        ruff_full = median_s(lambda: ruff("src", "scripts", "notebooks"))
        print(f"lint, {NOTEBOOKS} notebooks x {CELLS} cells + {SCRIPTS} scripts: {full:.2f} s")
        print(f"  ruff alone on the same files: {ruff_full:.2f} s  (lint / ruff = {full / ruff_full:.1f})")
        print(f"  peak RSS {peak_rss_mb():.0f} MB")

        one = str(notebooks[0].relative_to(scratch))
        single = median_s(lambda: lint.lint([one]))
        ruff_single = median_s(lambda: ruff(one))
        print(f"lint of one changed notebook: {single * 1000:.0f} ms")
        print(f"  ruff alone on it: {ruff_single * 1000:.0f} ms  (lint / ruff = {single / ruff_single:.1f})")

        small = scratch / "notebooks" / "small.py"
        small.write_text("# %%\nx = 1\n\n# %%\ny = x + 1\n")
        run_one = median_s(lambda: check.run_notebook(small, timeout=60), samples=3)
        python_start = median_s(
            lambda: subprocess.run([sys.executable, "-c", "import ipykernel.kernelapp"], check=True),
            samples=3,
        )
        print(f"check-notebooks of a 2-cell notebook: {run_one:.2f} s")
        print(
            f"  starting Python and importing ipykernel: {python_start:.2f} s "
            f"(run / start = {run_one / python_start:.1f})"
        )
        print(f"  peak RSS {peak_rss_mb():.0f} MB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
