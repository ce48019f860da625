"""Paper figures: sizes, names, fonts, reproducible bytes, EPS transparency and the sidecar."""

import hashlib
import json
import os
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from pypdf import PdfReader

from {{ cookiecutter.module_name }} import figure_build, figures, paths, provenance, results
from {{ cookiecutter.module_name }}.settings import SettingsError


@pytest.fixture
def root(scratch_root, monkeypatch):
    """A bare project folder for one test: figures land in its figures/."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    yield scratch_root
    plt.close("all")


def configure(root, **settings):
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    text = '[project]\nname = "scratch-study"\n[tool.{}.figures]\n{}\n'.format(
        paths.PACKAGE, "\n".join(lines)
    )
    (root / "pyproject.toml").write_text(text)
    paths.config.cache_clear()


def line_figure():
    figures.use_paper_style()
    fig, ax = plt.subplots(figsize=figures.size("single", aspect=0.5))
    ax.plot([1, 2, 3], [2, 1, 3], marker="o", label="runs")
    ax.set(xlabel="clusters $k$", ylabel="purity")
    return fig, ax


def pdf_fonts(path):
    """(subtype, embedded) of every font the PDF's pages use, descendants included."""
    found = []
    for page in PdfReader(path).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for part in [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]:
                descriptor = part.get("/FontDescriptor")
                if descriptor is None and part["/Subtype"] == "/Type0":
                    continue
                embedded = descriptor is not None and any(
                    key in descriptor.get_object()
                    for key in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                found.append((str(part["/Subtype"]), embedded))
    return found


# ---- sizes and names --------------------------------------------------------------------------


def test_sizes_are_column_widths_in_whole_points(root):
    """Single is 3.5 in (252 pt), double 7.16 in rounded to 516 pt; height = width x aspect."""
    assert figures.size("single", aspect=0.5) == (3.5, 1.75)
    width, height = figures.size("double", aspect=0.25)
    assert (width * 72, height * 72) == (516, 129)


def test_widths_come_from_the_settings(root):
    configure(root, single_width=3.33, double_width=7.0)
    assert [round(v * 72) for v in figures.size("single", aspect=1)] == [240, 240]
    assert figures.size("double", aspect=0.5) == (7.0, 3.5)


@pytest.mark.parametrize(
    "kind, aspect, message", [("triple", 1, "use 'single'"), ("single", 0, "positive")]
)
def test_a_bad_size_is_one_clear_error(root, kind, aspect, message):
    with pytest.raises(figures.FigureError, match=message):
        figures.size(kind, aspect=aspect)


@pytest.mark.parametrize(
    "name, message",
    [
        ("sub/purity", "path separator"),
        ("..\\\\purity", "path separator"),
        ("../purity", "path separator"),
        ("purity.pdf", "without an extension"),
        (".hidden", "letters, digits"),
        ("", "letters, digits"),
        ("a b", "letters, digits"),
        ("nul", "reserved on Windows"),
        ("COM1.final", "reserved on Windows"),
    ],
)
def test_savefig_refuses_names_that_are_not_plain_file_names(root, name, message):
    """Nothing is written outside figures/ and nothing at all for a bad name."""
    fig, _ = line_figure()
    with pytest.raises(figures.FigureError, match=message):
        figures.savefig(fig, name)
    assert not (root / "figures").exists() or list((root / "figures").iterdir()) == []
    assert not (root / "sub").exists() and not (root.parent / "purity.pdf").exists()


# ---- files, fonts, bytes --------------------------------------------------------------------


def test_savefig_writes_pdf_eps_png_and_a_sidecar(root):
    fig, _ = line_figure()
    written = figures.savefig(fig, "purity")
    assert [p.name for p in written] == ["purity.pdf", "purity.eps", "purity.png", "purity.json"]
    assert all(p.parent == root / "figures" for p in written)
    assert not [p for p in (root / "figures").iterdir() if p.name.startswith(".saving")]
    assert plt.fignum_exists(fig.number), "the figure stays open, so Jupyter still shows it"


def test_fonts_are_embedded_truetype_never_type3(root):
    """Even without the paper style, savefig writes Type 42 fonts into PDF and EPS."""
    matplotlib.rcdefaults()
    fig, ax = plt.subplots()
    ax.set_title("mathtext $\\alpha_k$ and text")
    pdf, eps, *_ = figures.savefig(fig, "fonts")
    fonts = pdf_fonts(pdf)
    assert fonts and all(embedded for _, embedded in fonts)
    assert "/Type3" not in {subtype for subtype, _ in fonts}
    assert {"/CIDFontType2"} <= {subtype for subtype, _ in fonts}
    text = eps.read_bytes()
    assert re.findall(rb"/FontType (\d+) def", text) and set(
        re.findall(rb"/FontType (\d+) def", text)
    ) == {b"42"}


def test_an_unchanged_figure_is_saved_byte_for_byte_again_without_a_date(root):
    fig, _ = line_figure()
    first = {p.name: p.read_bytes() for p in figures.savefig(fig, "same")}
    second = {p.name: p.read_bytes() for p in figures.savefig(fig, "same")}
    assert first == second
    assert "/CreationDate" not in PdfReader(root / "figures" / "same.pdf").metadata
    assert b"%%CreationDate" not in first["same.eps"]


def test_source_date_epoch_sets_the_date_in_both_files(root, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    fig, _ = line_figure()
    pdf, eps, *_ = figures.savefig(fig, "dated")
    assert PdfReader(pdf).metadata["/CreationDate"].startswith("D:20231114221320")
    assert b"%%CreationDate: Tue Nov 14 22:13:20 2023\n" in eps.read_bytes()


def test_the_eps_header_and_bounding_box_are_the_figure(root):
    fig, _ = line_figure()
    eps = figures.savefig(fig, "box")[1].read_bytes()
    assert eps.startswith(b"%!PS-Adobe-3.0 EPSF-3.0\n")
    assert b"\n%%BoundingBox: 0 0 252 126\n" in eps
    assert b"\n%%Title: box.eps\n" in eps
    assert b"\n%%EndComments\n" in eps and eps.rstrip().endswith(b"showpage")


def test_the_formats_setting_chooses_the_files(root):
    configure(root, formats=["pdf"], preview_dpi=0)
    fig, _ = line_figure()
    assert [p.name for p in figures.savefig(fig, "only")] == ["only.pdf", "only.json"]
    configure(root, formats=["pdf", "tiff"])
    with pytest.raises(SettingsError, match=r"formats\.1 = 'tiff' in \[tool\..*\.figures\]"):
        figures.savefig(fig, "only")
    configure(root, eps_transparency="maybe")
    with pytest.raises(SettingsError, match="eps_transparency = 'maybe'"):
        figures.savefig(fig, "only")


# ---- EPS transparency -----------------------------------------------------------------------


def test_transparent_artists_are_found_and_named(root):
    """Fill bands, scatter points, legend frames and text boxes with 0 < alpha < 1; not alpha 0."""
    fig, ax = line_figure()
    ax.fill_between([1, 2, 3], [1, 1, 1], [2, 2, 2], alpha=0.3, label="band")
    ax.scatter([1, 2], [1, 2], alpha=0.5)
    ax.legend(frameon=True, framealpha=0.6)
    ax.text(1, 1, "note", bbox={"facecolor": "yellow", "alpha": 0.4})
    ax.axvspan(1, 2, alpha=0)
    names = [description for _, description, _ in figures.transparent_artists(fig)]
    assert any(
        n.startswith("FillBetweenPolyCollection 'band' (alpha 0.3, axes 1 'purity')") for n in names
    )
    assert any(n.startswith("PathCollection (alpha 0.5") for n in names)
    assert any(n.startswith("legend frame (alpha 0.6") for n in names)
    assert any(n.startswith("text box of 'note' (alpha 0.4") for n in names)
    assert not any("alpha 0," in n or "alpha 0 " in n for n in names)


def test_an_opaque_figure_has_no_transparent_artist(root):
    fig, ax = line_figure()
    ax.legend()  # the paper style draws legends without a translucent frame
    assert figures.transparent_artists(fig) == []


def test_overlapping_translucent_points_are_rasterized_and_said_so(root):
    fig, ax = line_figure()
    ax.scatter([1, 1.02, 1.04], [2, 2, 2], s=200, alpha=0.5, label="dense")
    with pytest.warns(figures.FigureWarning) as caught:
        figures.savefig(fig, "dense")
    message = str(caught[0].message)
    assert message.startswith("dense.eps: EPS has no transparency")
    assert "PathCollection 'dense' (alpha 0.5, axes 1 'purity')" in message
    assert "rasterized at 300 dpi" in message
    eps = (root / "figures" / "dense.eps").read_bytes()
    assert eps.count(b"colorimage") == 1 and b"/FlateDecode filter" in eps
    assert b"/FontType 42" in eps, "tick labels stay vector text"
    sidecar = json.loads((root / "figures" / "dense.json").read_text())
    assert sidecar["eps"]["treatment"] == "rasterized" and sidecar["eps"]["dpi"] == 300
    assert ax.get_rasterization_zorder() is None and ax.xaxis.get_zorder() == 0.5, "figure restored"


def eps_image_size(path) -> tuple[int, int]:
    """Width and height in pixels of the one raster image in an EPS (its image dictionary)."""
    found = re.findall(rb"\n(\d+) (\d+) 8 \[", path.read_bytes())
    assert len(found) == 1, found
    return int(found[0][0]), int(found[0][1])


def test_the_eps_dpi_setting_is_used_and_stated(root):
    """eps_dpi = 150 is said, recorded, and the raster has half the pixels of 300 dpi a side."""
    sizes = {}
    for dpi in (150, 300):
        configure(root, eps_dpi=dpi)
        fig, ax = line_figure()
        ax.scatter([1, 1.02], [2, 2], s=200, alpha=0.5)
        with pytest.warns(figures.FigureWarning, match=f"rasterized at {dpi} dpi"):
            figures.savefig(fig, f"dots{dpi}")
        sidecar = json.loads((root / "figures" / f"dots{dpi}.json").read_text())
        assert sidecar["eps"]["dpi"] == dpi
        sizes[dpi] = eps_image_size(root / "figures" / f"dots{dpi}.eps")
    (coarse_w, coarse_h), (fine_w, fine_h) = sizes[150], sizes[300]
    assert abs(2 * coarse_w - fine_w) <= 2 and abs(2 * coarse_h - fine_h) <= 2, sizes


def test_with_the_warn_setting_the_artists_are_named_and_drawn_opaque(root):
    configure(root, eps_transparency="warn")
    fig, ax = line_figure()
    ax.scatter([1, 1.02], [2, 2], s=200, alpha=0.5, label="dense")
    with pytest.warns(figures.FigureWarning) as caught:
        figures.savefig(fig, "opaque")
    message = str(caught[0].message)
    assert "PathCollection 'dense' (alpha 0.5" in message and "drawn opaque" in message
    eps = (root / "figures" / "opaque.eps").read_bytes()
    assert b"colorimage" not in eps
    assert (
        json.loads((root / "figures" / "opaque.json").read_text())["eps"]["treatment"] == "opaque"
    )


def test_a_translucent_fill_over_the_bare_background_is_flattened_silently(root):
    """Blended onto the white axes it looks the same (rendered both ways): no image, no warning."""
    fig, ax = line_figure()
    ax.fill_between([1.5, 2.5], [0, 0], [0.5, 0.5], alpha=0.3, linewidth=0, zorder=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures.savefig(fig, "flat")
    eps = (root / "figures" / "flat.eps").read_bytes()
    assert b"colorimage" not in eps
    record = json.loads((root / "figures" / "flat.json").read_text())["eps"]
    assert record["treatment"] == "flattened"
    # 0.3 of the palette's first colour over white, as an opaque colour
    blended = 0.3 * np.array(matplotlib.colors.to_rgb("C0")) + 0.7
    assert f"{blended[0]:.3f} {blended[1]:.3f} {blended[2]:.3f} setrgbcolor".encode() in eps


def test_a_translucent_artist_outside_the_axes_is_named_in_a_warning(root):
    fig, _ = line_figure()
    fig.text(0.5, 0.5, "draft", alpha=0.3, fontsize=30)
    fig.text(0.2, 0.2, "draft", alpha=0.3, fontsize=30)  # overlapping itself: cannot be flattened
    fig.text(0.21, 0.2, "draft", alpha=0.3, fontsize=30)
    with pytest.warns(figures.FigureWarning, match=r"Text 'draft' \(alpha 0.3, outside any axes\)"):
        figures.savefig(fig, "draft")


# ---- provenance ---------------------------------------------------------------------------


def test_the_sidecar_names_source_results_and_inputs(root):
    source = root / "notebooks" / "figures" / "purity.py"
    source.parent.mkdir(parents=True)
    source.write_text("# the source\n")
    result = root / "results" / "kmeans" / "0001.pkl"
    result.parent.mkdir(parents=True)
    result.write_bytes(b"x")
    provenance.note_result_read("kmeans", 1, result)
    provenance.note_input(root / "data.sqlite", role="database")
    figures._RUN["source"] = str(source)
    try:
        fig, _ = line_figure()
        figures.savefig(fig, "purity")
    finally:
        figures._RUN["source"] = None
    record = json.loads((root / "figures" / "purity.json").read_text())
    assert record["figure"] == "purity"
    assert record["files"] == ["purity.pdf", "purity.eps", "purity.png"]
    assert record["source"]["path"] == "notebooks/figures/purity.py"
    assert record["source"]["sha256"] == hashlib.sha256(b"# the source\n").hexdigest()
    assert record["results_read"] == [
        {"experiment": "kmeans", "number": 1, "path": "results/kmeans/0001.pkl"}
    ]
    assert (
        record["inputs"][0]["path"] == "data.sqlite" and record["inputs"][0]["role"] == "database"
    )
    assert record["size_inches"] == [3.5, 1.75]
    assert record["git"] == {"commit": None, "dirty": None, "source": None, "source_modified": None}
    assert record["source"]["script_hash"] == provenance.script_hash(source)


def test_the_overview_sheet_shows_every_figure(root):
    fig, _ = line_figure()
    figures.savefig(fig, "one")
    figures.savefig(fig, "two")
    page = figures.write_index().read_text()
    assert page.count("<section") == 2
    assert '<img src="one.png"' in page and '<a href="two.eps">eps</a>' in page
    assert "<p>results: none</p>" in page
    before = (root / "figures" / "index.html").stat().st_mtime_ns
    figures.write_index()
    assert (root / "figures" / "index.html").stat().st_mtime_ns == before, (
        "unchanged: not rewritten"
    )


def test_the_overview_sheet_shows_the_runs_a_figure_chose_as_number_ranges(root):
    """A figure that chose runs with results.runs(...) says which and how, in its sidecar and on
    the overview sheet: numbers sorted as numbers, in ranges."""
    for k in [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20]:
        results.save("kmeans", {"purity": k / 20}, args={"k": k})
    chosen = results.runs("kmeans", where={"k": [2, 3, 4, 10, 11, 12, 20]})
    fig, _ = line_figure()
    figures.savefig(fig, "chosen")
    sidecar = json.loads((root / "figures" / "chosen.json").read_text())
    (selection,) = sidecar["results_selected"]
    assert selection["numbers"] == chosen["number"].tolist() == [0, 1, 2, 8, 9, 10, 11]
    assert selection["ranges"] == "0-2, 8-11"
    assert selection["criteria"] == {"where": {"k": [2, 3, 4, 10, 11, 12, 20]}}
    page = figures.write_index().read_text()
    assert "<p>results: kmeans #0-2, 8-11 (k=2,3,4,10,11,12,20)</p>" in page


# ---- the build's bookkeeping --------------------------------------------------------------


PERCENT = "\n".join(
    [
        "# ---",
        "# jupyter:",
        "#   kernelspec: x",
        "# ---",
        "",
        "# %% [markdown]",
        "# Title",
        "",
        "# %%",
    ]
    + ["import os", "", "# %%", "x = 1", "y = 2", "", "# %%", "z = x / 0"]
)


@pytest.mark.parametrize("line, cell", [(7, 1), (10, 2), (13, 3), (14, 3), (17, 4)])
def test_a_line_is_placed_in_its_percent_cell(line, cell):
    """Cells count as Jupyter shows them: the markdown cell is cell 1, the header is none."""
    assert figure_build.cell_of(PERCENT, line) == cell


def test_code_before_the_first_marker_is_a_cell_of_its_own():
    assert figure_build.cell_of("import os\n# %%\nx = 1\n", 1) == 1
    assert figure_build.cell_of("import os\n# %%\nx = 1\n", 3) == 2


def test_staleness_follows_the_source_and_what_it_read(root):
    folder = root / "figures"
    source = root / "notebooks" / "figures" / "f.py"
    result = root / "results" / "kmeans" / "0001.pkl"
    for path in (source, result):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    folder.mkdir()
    record = {
        "figure": "f",
        "files": ["f.pdf"],
        "results_read": [{"experiment": "kmeans", "number": 1, "path": "results/kmeans/0001.pkl"}],
        "inputs": [],
        "built_by": "invoke figures",
        "files_read": ["results/kmeans/0001.pkl", "results/kmeans"],
    }
    for name in ("f.pdf", "f.json"):
        (folder / name).write_text("{}")
    touch = os.utime
    stamp = result.stat().st_mtime_ns + 10**9
    for name in ("f.pdf", "f.json"):
        touch(folder / name, ns=(stamp, stamp))
    assert figure_build.why_stale(source, [record]) is None
    assert figure_build.why_stale(source, []) == "not built yet"
    from_a_notebook = {**record, "built_by": "savefig", "files_read": None}
    assert figure_build.why_stale(source, [from_a_notebook]).startswith("saved from a notebook")
    touch(result, ns=(stamp + 1, stamp + 1))
    assert figure_build.why_stale(source, [record]) == "results/kmeans/0001.pkl changed"
    touch(result, ns=(stamp - 5, stamp - 5))
    (result.parent / "0002.pkl").write_text("new run")
    touch(result.parent, ns=(stamp + 1, stamp + 1))
    assert figure_build.why_stale(source, [record]) == "results/kmeans/ has new or removed files"
    touch(result.parent, ns=(stamp - 5, stamp - 5))
    touch(source, ns=(stamp + 2, stamp + 2))
    assert figure_build.why_stale(source, [record]) == "the source changed"
    touch(source, ns=(stamp - 5, stamp - 5))
    (folder / "f.pdf").unlink()
    assert figure_build.why_stale(source, [record]) == "figures/f.pdf is missing"
    result.unlink()
    (folder / "f.pdf").write_text("")
    touch(folder / "f.pdf", ns=(stamp, stamp))
    assert figure_build.why_stale(source, [record]) == "results/kmeans/0001.pkl is gone"
