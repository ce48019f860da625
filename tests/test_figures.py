"""`invoke figures` in a baked project: headless builds, real PDF/PS tools, skips, failures.

PDF and EPS files are checked with the tools a publisher's system uses: poppler's
pdffonts and pdftoppm, and ghostscript (`.ci/run` installs poppler-utils and
ghostscript where they are missing).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import jupytext
import pytest

TOOLS = ("gs", "pdffonts", "pdftoppm")


@pytest.fixture(scope="module", autouse=True)
def pdf_tools():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"{missing} not found: apt-get install poppler-utils ghostscript (as .ci/run does)"


def module_of(project) -> str:
    return next(p.name for p in (project.path / "src").iterdir() if p.is_dir() and p.name.isidentifier())


def write_source(project, name: str, body: str) -> Path:
    """A figure source in notebooks/figures/, in py:percent cells."""
    source = project.path / "notebooks" / "figures" / f"{name}.py"
    text = textwrap.dedent(body).replace("PACKAGE", module_of(project))
    source.write_text(text)
    return source


def without_the_example(project) -> None:
    for path in (project.path / "notebooks" / "figures").glob("kmeans_purity.*"):
        path.unlink()


LINES = """\
    # %% [markdown]
    # Two lines.

    # %%
    import matplotlib.pyplot as plt

    from PACKAGE import figures

    # %%
    figures.use_paper_style()
    fig, ax = plt.subplots(figsize=figures.size("single", aspect=0.6))
    ax.plot([1, 2, 3, 4], [0.5, 0.7, 0.9, 0.8], marker="o", label="purity")
    ax.plot([1, 2, 3, 4], [0.9, 0.6, 0.4, 0.3], marker="s", label="inertia")
    ax.set(xlabel="clusters $k$", ylabel="score")
    ax.legend()
    figures.savefig(fig, "lines")
"""

BAND = """\
    # %%
    import matplotlib.pyplot as plt
    import numpy as np

    from PACKAGE import figures

    # %%
    figures.use_paper_style()
    x = np.linspace(0, 10, 60)
    fig, ax = plt.subplots(figsize=figures.size("single", aspect=0.6))
    for shift in (0, 1.5):
        ax.plot(x, np.sin(x + shift))
        ax.fill_between(x, np.sin(x + shift) - 0.6, np.sin(x + shift) + 0.6, alpha=0.3, label=f"band {shift}")
    ax.set(xlabel="time", ylabel="signal")
    figures.savefig(fig, "band")
"""

BROKEN = """\
    # %% [markdown]
    # This one fails in its third cell.

    # %%
    import matplotlib.pyplot as plt

    # %%
    counts = [3, 2]
    share = counts[0] / (counts[1] - 2)
"""

NO_SAVEFIG = """\
    # %%
    import matplotlib.pyplot as plt

    plt.plot([1, 2, 3])
"""

SLASHED = """\
    # %%
    import matplotlib.pyplot as plt

    from PACKAGE import figures

    fig, ax = plt.subplots()
    figures.savefig(fig, "../escape")
"""


def run_figures(project, *options, check=True):
    return project.run("invoke", "figures", *options, check=check, timeout=600)


def rows(output: str) -> dict[str, list[str]]:
    """The closing table as {figure or source: [source, outputs, time, status]}."""
    lines = output[output.index("figure  ") :].splitlines()
    header = lines[0]
    starts = [header.index(column) for column in ("source", "outputs", "time", "status")]
    table = {}
    for line in lines[1:]:
        if not line.strip():
            break
        cells = [line[: starts[0]].strip()] + [
            line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)
        ]
        table[cells[0] if cells[0] != "-" else cells[1]] = cells[1:]
    return table


COMPARE = """
import subprocess, sys
import numpy as np
from PIL import Image

def ghostscript(path, out):
    done = subprocess.run(
        ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dEPSCrop", "-dTextAlphaBits=4",
         "-dGraphicsAlphaBits=4", "-sDEVICE=png16m", "-r100", "-sOutputFile=" + out, path],
        capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr
    return np.asarray(Image.open(out).convert("RGB"), dtype=float)

pdf, eps = ghostscript(sys.argv[1], "pdf.png"), ghostscript(sys.argv[2], "eps.png")
subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", sys.argv[1], "poppler"], check=True)
poppler = np.asarray(Image.open("poppler.png").convert("RGB"))
print(pdf.shape == eps.shape == poppler.shape, abs(pdf - eps).mean() if pdf.shape == eps.shape else -1)
"""


def difference(project, name: str) -> float:
    """Mean absolute difference (0-255) between the PDF and the EPS, both rendered by ghostscript
    at 100 dpi (poppler renders the PDF to the same size)."""
    folder = project.path / "figures"
    done = project.run("python", "-c", COMPARE, str(folder / f"{name}.pdf"), str(folder / f"{name}.eps"))
    same_size, mean = done.stdout.split()
    assert same_size == "True", "the EPS bounding box is the PDF page"
    return float(mean)


def test_figures_build_headless_with_truetype_fonts_and_valid_eps(project):
    """Each source runs; pdffonts finds only embedded TrueType; ghostscript renders the EPS like the PDF."""
    without_the_example(project)
    write_source(project, "lines", LINES)
    done = run_figures(project)
    table = rows(done.stdout)
    assert table["lines"] == [
        "notebooks/figures/lines.py",
        "pdf eps png json",
        table["lines"][2],
        "built (not built yet)",
    ]
    folder = project.path / "figures"
    fonts = subprocess.run(["pdffonts", folder / "lines.pdf"], capture_output=True, text=True, check=True)
    listed = fonts.stdout.splitlines()[2:]
    assert listed, fonts.stdout
    for line in listed:
        assert "Type 3" not in line and "CID TrueType" in line, line
        assert re.search(r"\s(yes)\s+(yes)\s+(yes)\s+\d+\s+0$", line), f"not embedded: {line}"
    eps = (folder / "lines.eps").read_bytes()
    assert eps.startswith(b"%!PS-Adobe-3.0 EPSF-3.0\n")
    assert b"\n%%BoundingBox: 0 0 252 151\n" in eps  # 3.5 in x 0.6, in points
    bbox = subprocess.run(
        ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=bbox", folder / "lines.eps"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    drawn = [float(v) for v in re.search(r"%%HiResBoundingBox: (.+)", bbox.stderr)[1].split()]
    assert drawn[0] >= 0 and drawn[1] >= 0 and drawn[2] <= 252 and drawn[3] <= 151, drawn
    assert drawn[2] - drawn[0] > 200, "the drawing fills the declared box"
    assert difference(project, "lines") < 0.5
    sidecar = json.loads((folder / "lines.json").read_text())
    assert sidecar["source"]["path"] == "notebooks/figures/lines.py"
    assert re.fullmatch(r"[0-9a-f]{40}", sidecar["git"]["commit"])
    assert sidecar["git"]["source_modified"] is True  # written after the project's commit
    page = (folder / "index.html").read_text()
    assert '<img src="lines.png"' in page and "notebooks/figures/lines.py" in page


def test_a_second_run_rebuilds_nothing_and_force_rebuilds_the_same_bytes(project):
    without_the_example(project)
    write_source(project, "lines", LINES)
    run_figures(project)
    folder = project.path / "figures"
    files = sorted(folder.glob("lines.*"))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    again = run_figures(project)
    assert "skip  notebooks/figures/lines.py: up to date" in again.stdout
    assert rows(again.stdout)["lines"][3] == "up to date"
    assert {p.name: p.stat().st_mtime_ns for p in files} == {n: m for n, (_, m) in before.items()}
    forced = run_figures(project, "--force")
    assert rows(forced.stdout)["lines"][3] == "built (--force)"
    assert {p.name: p.read_bytes() for p in files} == {n: b for n, (b, _) in before.items()}
    assert all(p.stat().st_mtime_ns > before[p.name][1] for p in files)
    # an edited source is rebuilt, and said why
    source = project.path / "notebooks" / "figures" / "lines.py"
    source.write_text(source.read_text().replace('"score"', '"score (a.u.)"'))
    edited = run_figures(project)
    assert "build notebooks/figures/lines.py: the source changed" in edited.stdout


def test_a_failing_source_shows_cell_and_line_while_the_others_build(project):
    """A source that raises, one that saves nothing and one with a slashed name: exit 1, good ones built."""
    without_the_example(project)
    write_source(project, "lines", LINES)
    write_source(project, "broken", BROKEN)
    write_source(project, "quiet", NO_SAVEFIG)
    write_source(project, "slashed", SLASHED)
    # a notebook without a paired script is a source too
    unpaired = write_source(project, "unpaired", BROKEN.replace("[3, 2]", "[5, 2]"))
    jupytext.write(jupytext.read(unpaired), unpaired.with_suffix(".ipynb"))
    unpaired.unlink()
    done = run_figures(project, "--jobs", "2", check=False)
    assert done.returncode == 1
    table = rows(done.stdout)
    assert table["lines"][3] == "built (not built yet)"
    assert table["notebooks/figures/broken.py"][3] == "FAILED"
    assert table["notebooks/figures/quiet.py"][3] == "no savefig"
    assert table["notebooks/figures/slashed.py"][3] == "FAILED"
    assert (
        "notebooks/figures/broken.py, cell 3, line 9: ZeroDivisionError: division by zero\n"
        "    9 | share = counts[0] / (counts[1] - 2)\n"
    ) in done.stderr
    assert table["notebooks/figures/unpaired.ipynb"][3] == "FAILED"
    assert "notebooks/figures/unpaired.ipynb, cell 3, line 2 of the cell: ZeroDivisionError" in done.stderr
    assert "share = counts[0] / (counts[1] - 2)" in done.stderr.split("unpaired.ipynb")[1]
    assert "notebooks/figures/quiet.py ran without saving a figure" in done.stderr
    assert (
        "notebooks/figures/slashed.py, cell 1, line 7: "
        "FigureError: figure name '../escape' holds a path separator" in done.stderr
    )
    assert (
        "Error: 4 figure source(s) failed: notebooks/figures/broken.py, notebooks/figures/quiet.py"
        in done.stderr
    )
    assert not (project.path / "escape.pdf").exists()
    assert sorted(p.name for p in (project.path / "figures").iterdir()) == [
        ".gitkeep", "index.html", "lines.eps", "lines.json", "lines.pdf", "lines.png",
    ]  # fmt: skip
    # the failed ones are tried again next time; the good one is not
    again = run_figures(project, check=False)
    assert "skip  notebooks/figures/lines.py" in again.stdout
    assert "build notebooks/figures/broken.py: not built yet" in again.stdout


def test_translucent_bands_are_rasterized_in_the_eps_so_it_looks_like_the_pdf(project):
    """Overlapping alpha bands: named in a note, rasterized at 300 dpi; the 'warn' setting draws
    them opaque instead, and ghostscript shows the difference the warning announced."""
    without_the_example(project)
    write_source(project, "band", BAND)
    done = run_figures(project)
    assert (
        "note: band.eps: EPS has no transparency, so "
        "FillBetweenPolyCollection 'band 0' (alpha 0.3, axes 1 'signal')" in done.stdout
    )
    assert "rasterized at 300 dpi" in done.stdout
    faithful = difference(project, "band")
    eps = project.path / "figures" / "band.eps"
    assert eps.stat().st_size < 400_000, "the image is compressed"
    pyproject = project.path / "pyproject.toml"
    settings = pyproject.read_text()
    assert 'eps_transparency = "rasterize"' in settings
    pyproject.write_text(settings.replace('eps_transparency = "rasterize"', 'eps_transparency = "warn"'))
    warned = run_figures(project, "--force")
    assert "are drawn opaque and look different from the PDF" in warned.stdout
    opaque = difference(project, "band")
    assert faithful < 1.5 and opaque > 10, (faithful, opaque)


def test_names_select_sources_and_list_tells_what_would_build(project):
    without_the_example(project)
    write_source(project, "lines", LINES)
    write_source(project, "band", BAND)
    listing = run_figures(project, "--list").stdout
    assert re.search(r"notebooks/figures/band.py\s+-\s+to build: not built yet", listing)
    only = run_figures(project, "--", "lines")
    assert list(rows(only.stdout)) == ["lines"]
    assert not (project.path / "figures" / "band.pdf").exists()
    listing = run_figures(project, "-l").stdout
    assert re.search(r"notebooks/figures/lines.py\s+lines\s+up to date", listing)
    assert re.search(r"notebooks/figures/band.py\s+-\s+to build: not built yet", listing)
    both = run_figures(project, "--names", "band", "--", "lines.py")
    assert rows(both.stdout)["band"][3] == "built (not built yet)"
    assert rows(both.stdout)["lines"][3] == "up to date"
    unknown = run_figures(project, "--names", "nope", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("Error: no figure or figure source named 'nope'")
    assert "Traceback" not in unknown.stderr


def test_savefig_in_jupyter_shows_the_figure_and_writes_the_same_pdf(project):
    """In a real kernel (inline backend) the figure is displayed, and its files equal the headless ones."""
    import nbformat

    without_the_example(project)
    source = write_source(project, "lines", LINES)
    run_figures(project)
    headless = {
        p.name: p.read_bytes() for p in (project.path / "figures").glob("lines.*") if p.suffix != ".json"
    }
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source.read_text().split("# %%\n", 1)[1].replace("# %%\n", ""))
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = (
        "import sys, nbformat\nfrom nbclient import NotebookClient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "NotebookClient(nb, timeout=300, resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
        "nbformat.write(nb, sys.argv[1])\n"
    )
    path = project.path / "inline.ipynb"
    nbformat.write(notebook, path)
    project.run("python", "-c", code, str(path), str(source.parent), timeout=600)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs
    inline = {
        p.name: p.read_bytes() for p in (project.path / "figures").glob("lines.*") if p.suffix != ".json"
    }
    assert inline == headless


KMEANS = """
import sys

import pandas as pd
from scipy.cluster.vq import kmeans2, whiten

from PACKAGE import results

MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
penguins = pd.read_csv("data/raw/penguins.csv.gz", na_values="NA")
measured = penguins.dropna(subset=MEASUREMENTS).reset_index(drop=True)
features = whiten(measured[MEASUREMENTS].to_numpy(dtype=float))
for k in map(int, sys.argv[1:]):
    centroids, labels = kmeans2(features, k, seed=42, minit="++")
    inertia = float(((features - centroids[labels]) ** 2).sum())
    purity = float(pd.crosstab(labels, measured["species"]).max(axis=1).sum() / len(labels))
    scores = {"inertia": inertia, "purity": purity, "labels": labels}
    results.save("kmeans", scores, args={"k": k, "seed": 42})
"""


def save_runs(project, *ks: int, sweep: str = "20261130-000000-abcdef") -> None:
    """The example's k-means model on the penguin data, run as scripts/kmeans.py by a sweep
    (as `invoke sweep` does: the sweep's id in the environment), saved through the results store."""
    script = project.path / "scripts" / "kmeans.py"
    script.write_text(KMEANS.replace("PACKAGE", module_of(project)))
    project.run("python", "scripts/kmeans.py", *map(str, ks), env={"PROJECT_SWEEP": sweep})


def test_the_example_figure_is_built_from_saved_results_and_rebuilt_only_when_they_change(project):
    """kmeans_purity reads results.runs("kmeans"): its sidecar cites each run; touching a run's
    record or adding a run rebuilds it and nothing else."""
    import os

    write_source(project, "lines", LINES)
    failed = run_figures(project, "-n", "kmeans_purity", check=False)
    assert (
        "kmeans_purity.py, cell 4, line 28: LookupError: no sweep of the current scripts/kmeans.py"
        in failed.stderr
    )
    save_runs(project, 2, 3, 4, 5)
    done = run_figures(project)
    table = rows(done.stdout)
    assert table["kmeans_purity"][0] == "notebooks/figures/kmeans_purity.py"
    assert (
        table["kmeans_purity"][3] == "built (not built yet)" and table["lines"][3] == "built (not built yet)"
    )
    folder, runs = project.path / "figures", project.path / "results" / "kmeans"
    records = sorted(runs.glob("kmeans.*.json"))
    sidecar = json.loads((folder / "kmeans_purity.json").read_text())
    assert [(r["experiment"], r["path"]) for r in sidecar["results_read"]] == [
        ("kmeans", f"results/kmeans/{p.name}")
        for p in sorted(records, key=lambda p: int(p.name.split(".")[1]))
    ]
    assert len(sidecar["results_read"]) == 4
    (selected,) = sidecar["results_selected"]
    assert selected["numbers"] == [0, 1, 2, 3] and selected["ranges"] == "0-3"
    assert selected["criteria"]["script"] == "current"
    assert selected["criteria"]["sweep"] == "20261130-000000-abcdef"
    assert json.loads((folder / "lines.json").read_text())["results_read"] == []
    fonts = subprocess.run(
        ["pdffonts", folder / "kmeans_purity.pdf"], capture_output=True, text=True, check=True
    )
    assert "Type 3" not in fonts.stdout and fonts.stdout.count("CID TrueType") >= 1
    assert difference(project, "kmeans_purity") < 0.5

    quiet = run_figures(project)
    assert set(row[3] for row in rows(quiet.stdout).values()) == {"up to date"}

    later = records[0].stat().st_mtime_ns + 10**9 * 3600
    os.utime(records[1], ns=(later, later))
    touched = run_figures(project)
    assert (
        f"build notebooks/figures/kmeans_purity.py: results/kmeans/{records[1].name} changed"
        in touched.stdout
    )
    assert "skip  notebooks/figures/lines.py: up to date" in touched.stdout
    assert rows(touched.stdout)["lines"][3] == "up to date"

    save_runs(project, 6)
    added = run_figures(project)
    assert (
        "build notebooks/figures/kmeans_purity.py: results/kmeans/ has new or removed files" in added.stdout
    )
    assert rows(added.stdout)["lines"][3] == "up to date"
    assert len(json.loads((folder / "kmeans_purity.json").read_text())["results_read"]) == 5

    # A later sweep of the same script: the figure shows it alone, and says so.
    save_runs(project, 2, 3, sweep="20261201-000000-fedcba")
    run_figures(project)
    (selected,) = json.loads((folder / "kmeans_purity.json").read_text())["results_selected"]
    assert selected["numbers"] == [5, 6] and selected["criteria"]["sweep"] == "20261201-000000-fedcba"
    page = (folder / "index.html").read_text()
    assert "results: kmeans #5-6 (script current, sweep 20261201-000000-fedcba)" in page
