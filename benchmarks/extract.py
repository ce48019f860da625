"""Benchmark: extract a cell of a 150-cell notebook (the issue's goal: under a second).

Run by ``python3 dev.py bench extract`` inside a freshly baked project. It writes a
notebook of 150 cells (imports, data set up and changed in place, functions, magics,
markdown) and times, in this process:

- the reference: ``jupytext.read`` of that notebook (what any tool must pay to read it);
- ``extract_cell`` of the last cell (read, analyse all 149 cells before it, slice,
  write the script), and of a cell in the middle;
- ``listing`` (what ``invoke cells`` prints) of the whole notebook;
- the same extraction in a new Python process, imports included (what a user waits for,
  less invoke's own start);
- the whole corpus of notebooks written by others (``tests/data/notebooks``, 161
  notebooks): every code cell of every notebook built into a script (no file written),
  against reading those notebooks with ``jupytext.read``, once each.

It prints each time, its ratio to the reference, and the peak RSS. No assertion:
the numbers are for a person to read.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat


def notebook_of(cells: int = 150) -> nbformat.NotebookNode:
    """A notebook that looks like a long exploration: every 5th cell is markdown."""
    notebook = nbformat.v4.new_notebook()
    code = [
        "import math\nimport random\nfrom collections import Counter",
        "%matplotlib inline\nrandom.seed(0)",
        "rows = [random.random() for _ in range(100)]",
    ]
    for i in range(cells - len(code)):
        n = i + 1
        if n % 5 == 0:
            notebook.cells.append(nbformat.v4.new_markdown_cell(f"## Step {n}\n\nWhat step {n} does."))
            continue
        kind = n % 4
        if kind == 0:
            source = (
                f"def step_{n}(xs, scale={n}):\n    return [math.sqrt(x) * scale for x in xs]\n\n"
                f"values_{n} = step_{n}(rows)"
            )
        elif kind == 1:
            source = (
                f"rows.append({n} / 10)\ntable_{n} = Counter(round(x, 1) for x in rows)\n"
                f"%time total_{n} = sum(rows)"
            )
        elif kind == 2:
            source = (
                f"threshold_{n} = 0.{n % 9 + 1}  # cut-off of step {n}\n"
                f"kept_{n} = [x for x in rows if x > threshold_{n}]\nlen(kept_{n})"
            )
        else:
            source = f"summary_{n} = {{'n': len(rows), 'mean': sum(rows) / len(rows)}}\nsummary_{n}"
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.cells[:0] = [nbformat.v4.new_code_cell(s) for s in code]
    last = (
        "k = 3  # clusters\nseed = 42\n"
        "scores = [v * k for v in values_4] + kept_2 + [total_1, seed]\nbest = max(scores)"
    )
    notebook.cells[-1] = nbformat.v4.new_code_cell(last)
    return notebook


def timed(function, repeat: int = 5) -> float:
    """The median wall time of ``function()`` over ``repeat`` runs, after one warm-up run."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import importlib

    import jupytext

    # The baked project's package (penguin_study for the default answers).
    package = next(p.name for p in Path("src").iterdir() if (p / "extract.py").is_file())
    notebooks = importlib.import_module(f"{package}.notebook")
    scope = importlib.import_module(f"{package}.notebook.scope")
    listing = importlib.import_module(f"{package}.notebook.listing").listing
    extract = importlib.import_module(f"{package}.extract")

    folder = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    path = folder / "long.ipynb"
    nbformat.write(notebook_of(150), path)
    middle = 75 if notebook_of(150).cells[74].cell_type == "code" else 74

    def extract_last():
        scope._to_python.cache_clear()  # each run starts cold, as `invoke extract-cell` does
        extract.extract_cell(path, 150, name="last", force=True, scripts_dir=folder / "scripts")

    def extract_middle():
        scope._to_python.cache_clear()
        extract.extract_cell(path, middle, name="middle", force=True, scripts_dir=folder / "scripts")

    def in_a_new_process():
        code = (
            "import sys, importlib\n"
            f"extract = importlib.import_module('{package}.extract')\n"
            "extract.extract_cell(sys.argv[1], 150, name='cold', force=True, scripts_dir=sys.argv[2])\n"
        )
        subprocess.run([sys.executable, "-c", code, str(path), str(folder / "scripts")], check=True)

    def list_cells():
        scope._to_python.cache_clear()
        listing(notebooks.read(path))

    reference = timed(lambda: jupytext.read(path))
    results = {
        "jupytext.read (reference)": reference,
        "extract_cell, cell 150": timed(extract_last),
        f"extract_cell, cell {middle}": timed(extract_middle),
        "listing (invoke cells)": timed(list_cells),
        "cell 150, new process": timed(in_a_new_process, repeat=3),
    }
    print(f"notebook: 150 cells, {path.stat().st_size / 1024:.0f} KiB")
    for label, seconds in results.items():
        print(f"  {label:<28} {seconds * 1000:8.1f} ms  {seconds / reference:6.1f} x reference")
    goal = results["cell 150, new process"]
    print(
        f"  goal: extraction under 1 s, imports included: {'met' if goal < 1 else 'NOT met'} ({goal:.3f} s)"
    )
    corpus = sorted((Path(__file__).resolve().parents[1] / "tests/data/notebooks").rglob("*.ipynb"))
    start = time.perf_counter()
    for notebook in corpus:
        jupytext.read(notebook)
    read_all = time.perf_counter() - start
    scope._to_python.cache_clear()
    start, built, refused = time.perf_counter(), 0, 0
    for notebook in corpus:
        try:
            read = notebooks.read(notebook)
        except notebooks.NotebookError:
            continue
        for cell in read.code_cells():
            try:
                extract.build(read, cell, "case")
                built += 1
            except extract.ProjectError:
                refused += 1
    every_cell = time.perf_counter() - start
    print(f"corpus: {len(corpus)} notebooks, {built + refused} code cells ({refused} refused)")
    print(f"  {'jupytext.read of each (reference)':<34} {read_all:8.2f} s")
    print(
        f"  {'extract every code cell':<34} {every_cell:8.2f} s  {every_cell / read_all:6.1f} x reference"
        f"  ({every_cell / max(built + refused, 1) * 1000:.1f} ms a cell)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS: {peak:.0f} MiB")
    script = (folder / "scripts" / "last.py").read_text()
    print(f"  the last cell's script: {len(script.splitlines())} lines")


if __name__ == "__main__":
    main()
