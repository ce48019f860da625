"""Paper figures: one style, column-width sizes, reproducible PDF and EPS with provenance.

In a figure source (``notebooks/figures/*.py``) or any notebook::

    from <package> import figures
    figures.use_paper_style()
    fig, ax = plt.subplots(figsize=figures.size("single", aspect=0.6))
    ...
    figures.savefig(fig, "purity")   # figures/purity.pdf, .eps, .png preview, .json sidecar

The files carry no creation date (or the one ``SOURCE_DATE_EPOCH`` gives), so
rebuilding an unchanged figure gives the same bytes; fonts are embedded as
TrueType (Type 42), never Type 3. ``invoke figures`` runs every source headless
(:mod:`.figure_build`) and writes the overview sheet ``figures/index.html``.
Settings: ``[tool.<package>.figures]`` in ``pyproject.toml`` (see :func:`settings`).

>>> size("single", aspect=0.5)
(3.5, 1.75)
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import os
import pickle
import re
import sys
import tempfile
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths, provenance
from .errors import ProjectError

if TYPE_CHECKING:  # matplotlib is imported where it is used: `invoke --list` stays fast
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

FORMATS = ("pdf", "eps")
NAME = paths.PLAIN_NAME
# The rc settings use_paper_style adds to seaborn's paper context.
PAPER_RC = {
    # TrueType (Type 42) fonts: submission systems reject matplotlib's default Type 3.
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    # The figure keeps the exact column width; constrained layout fits the labels inside it.
    "figure.constrained_layout.use": True,
    "savefig.bbox": None,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # A translucent legend frame would be the only transparency of many figures (EPS has none).
    "legend.frameon": False,
    "legend.framealpha": 1.0,
}
# What every savefig writes with, whatever style is active.
SAVE_RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path", "savefig.bbox": None}


class FigureError(ProjectError):
    """A figure cannot be saved or built as asked."""


class FigureWarning(UserWarning):
    """An output differs from what was asked (EPS transparency), said with the figure and artist."""


# Set by figure_build's runner in the process that runs a figure source; files_read holds
# what the source opened under results/ and data/ (None outside `invoke figures`).
_RUN = {"source": None, "saved": [], "notes": [], "files_read": None}
# A result file as the results store names it: results/<experiment>/<experiment>.<number>.<suffix>
RESULT_FILE = re.compile(r"(?P<experiment>[^/]+)/(?P=experiment)\.(?P<number>[0-9]+)\..*")


def settings() -> dict:
    """The ``[tool.<package>.figures]`` settings (``settings.Figures``: defaults and checks)."""
    from .settings import Figures, read

    return read("figures", Figures).model_dump()


def use_paper_style(
    font_scale: float = 1.0, style: str = "ticks", palette: str = "colorblind", **rc
):
    """Seaborn's ``paper`` context with the settings papers need; ``rc`` overrides any of them.

    Fonts are TrueType in PDF and PS, the default figure is one column wide, and
    the layout is fitted inside the figure rather than cropped around it, so a
    figure is exactly as wide as :func:`size` says.
    """
    import seaborn as sns

    sns.set_theme(
        context="paper",
        style=style,
        palette=palette,
        font_scale=font_scale,
        rc={**PAPER_RC, "figure.figsize": size("single"), **rc},
    )


def size(kind: str = "single", aspect: float = 0.618) -> tuple[float, float]:
    """``(width, height)`` in inches of a figure one column (``"single"``) or the page wide.

    ``aspect`` is height over width (default: the golden ratio). The widths come
    from ``single_width`` and ``double_width`` in the settings. Both sides are
    rounded to whole points (1/72 in), so the EPS bounding box, which PostScript
    states in whole points, is exactly the figure.

    >>> [round(inches * 72, 6) for inches in size("double", aspect=0.3)]  # IEEE: 7.16 in
    [516.0, 155.0]
    """
    if kind not in ("single", "double"):
        raise FigureError(f"size({kind!r}): use 'single' (one column) or 'double' (page width)")
    if not (isinstance(aspect, (int, float)) and aspect > 0):
        raise FigureError(f"size(aspect={aspect!r}): give height/width as a positive number")
    points = round(float(settings()[f"{kind}_width"]) * 72)
    return points / 72, round(points * aspect) / 72


def check_name(name: str) -> str:
    """``name`` if it can name figure files in ``figures/``; a clear error otherwise."""
    if not isinstance(name, str) or "/" in name or "\\" in name or os.sep in name:
        raise FigureError(
            f"figure name {name!r} holds a path separator: give a plain name such as 'purity' "
            f"(files go to {paths.FIGURES_DIR})"
        )
    if Path(name).suffix.lstrip(".").lower() in (*FORMATS, "png", "json"):
        raise FigureError(
            f"figure name {name!r}: give it without an extension ({Path(name).stem!r})"
        )
    if not NAME.fullmatch(name):
        raise FigureError(
            f"figure name {name!r}: use letters, digits and '_.+-', starting with a letter or digit"
        )
    if paths.WINDOWS_RESERVED.fullmatch(name):
        raise FigureError(
            f"figure name {name!r} is reserved on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9), "
            "so collaborators there could not open its files: choose another name"
        )
    paths.inside(paths.FIGURES_DIR, name)
    return name


def savefig(fig: Figure, name: str) -> list[Path]:
    """Write ``figures/NAME.pdf`` and ``.eps`` (setting ``formats``), a PNG preview and a sidecar.

    The same in Jupyter (the figure is not closed, so it is still shown inline)
    and headless. EPS cannot show transparency: partially transparent artists
    are drawn flattened onto their background when that provably looks the same,
    else rasterized or drawn opaque (``eps_transparency``) with a
    :class:`FigureWarning` naming them. ``figures/NAME.json`` records the source,
    its hash, the git commit, and the results and inputs this process read.
    Returns the paths written.
    """
    import matplotlib

    check_name(name)
    config = settings()
    folder = paths.FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    eps_record, notes = None, []
    with tempfile.TemporaryDirectory(dir=folder, prefix=".saving-") as scratch:
        staged = []
        with matplotlib.rc_context(SAVE_RC), _frozen_layout(fig):
            if "pdf" in config["formats"]:
                target = Path(scratch, f"{name}.pdf")
                fig.savefig(target, format="pdf", metadata=_pdf_metadata(name), **_page(fig))
                staged.append(target)
            if "eps" in config["formats"]:
                target = Path(scratch, f"{name}.eps")
                eps_record, notes = _write_eps(fig, name, target, config)
                staged.append(target)
            if config["preview_dpi"]:
                target = Path(scratch, f"{name}.png")
                fig.savefig(target, format="png", dpi=config["preview_dpi"], **_page(fig))
                staged.append(target)
        sidecar = Path(scratch, f"{name}.json")
        record = _sidecar(fig, name, [p.name for p in staged], eps_record)
        sidecar.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        written = []
        for path in [*staged, sidecar]:
            os.replace(path, folder / path.name)
            written.append(folder / path.name)
    for note in notes:
        warnings.warn(note, FigureWarning, stacklevel=2)
    _RUN["saved"].append(name)
    _RUN["notes"].extend(notes)
    return written


@contextmanager
def _frozen_layout(fig: Figure):
    """Lay the figure out once, from its grid's own positions at 72 dpi, and keep that layout
    for every file: constrained layout otherwise moves things by rounding noise at each
    draw, and with it the bytes, depending on how often the figure was drawn before
    (a notebook shows it, a script does not)."""
    engine, dpi = fig.get_layout_engine(), fig.dpi
    if (
        engine is None
        or not hasattr(engine, "execute")
        or type(engine).__name__.startswith("PlaceHolder")
    ):
        yield
        return
    for axes in fig.axes:
        spec = axes.get_subplotspec()
        if spec is not None:  # the private setter: the public one takes the axes out of the layout
            axes._set_position(spec.get_position(fig))
    fig.dpi = 72
    try:
        engine.execute(fig)
        fig.set_layout_engine("none")
        fig.dpi = dpi
        yield
    finally:
        fig.dpi = dpi
        fig.set_layout_engine(engine)


def _page(fig: Figure) -> dict:
    # The figure's own size and colours, whatever a notebook backend set for display.
    return {"bbox_inches": None, "facecolor": fig.get_facecolor(), "edgecolor": "none"}


def _pdf_metadata(name: str) -> dict:
    # Without SOURCE_DATE_EPOCH no date at all, so unchanged figures rebuild byte for byte;
    # with it, matplotlib writes that date.
    metadata = {"Title": name}
    if not os.environ.get("SOURCE_DATE_EPOCH"):
        metadata["CreationDate"] = None
    return metadata


# ---- EPS and transparency --------------------------------------------------------------------


def _write_eps(fig: Figure, name: str, target: Path, config: dict) -> tuple[dict | None, list[str]]:
    """Write the EPS, dealing with transparency; return the sidecar's note and the warnings."""
    transparent = transparent_artists(fig)
    record, notes, figure = None, [], fig
    unhandled = [what for _, what, axes in transparent if axes is None]
    in_axes = [(artist, what, axes) for artist, what, axes in transparent if axes is not None]
    rasterize_axes, dpi = {}, None
    if transparent:
        flat = _flattened_copy(fig, transparent)
        if flat is not None:
            figure = flat
            record = {"transparent": [what for _, what, _ in transparent], "treatment": "flattened"}
            unhandled = []
        elif config["eps_transparency"] == "rasterize" and in_axes:
            dpi = int(config["eps_dpi"])
            for artist, _, axes in in_axes:
                rasterize_axes.setdefault(axes, []).append(_top_zorder(artist, axes))
            record = {
                "transparent": [what for _, what, _ in transparent],
                "treatment": "rasterized",
                "dpi": dpi,
                "opaque": unhandled,
            }
            where = ", ".join(what for _, what, _ in in_axes)
            notes.append(
                f"{name}.eps: EPS has no transparency, so {where} (and what lies beneath "
                f"in the same axes) are rasterized at {dpi} dpi to look as in the PDF"
            )
        else:
            unhandled = [what for _, what, _ in transparent]
            record = {"transparent": unhandled, "treatment": "opaque"}
    if unhandled:
        notes.append(
            f"{name}.eps: EPS has no transparency, so {', '.join(unhandled)} "
            "are drawn opaque and look different from the PDF "
            + (
                "(outside any axes, they cannot be rasterized)"
                if config["eps_transparency"] == "rasterize"
                else "(set eps_transparency = 'rasterize' to rasterize them)"
            )
        )
    before = {axes: axes.get_rasterization_zorder() for axes in rasterize_axes}
    lifted = _lift_axes_lines(figure, {axes: max(z) for axes, z in rasterize_axes.items()})
    seen = _TransparencyLog()
    logger = logging.getLogger("matplotlib.backends.backend_ps")
    logger.addFilter(seen)
    try:
        for axes, zorders in rasterize_axes.items():
            # Everything of the axes up to the transparent artist is drawn into one image.
            axes.set_rasterization_zorder(max(zorders) + 1e-6)
        figure.savefig(target, format="eps", dpi=dpi or figure.dpi, **_page(figure))
    finally:
        logger.removeFilter(seen)
        for axes, zorder in before.items():
            axes.set_rasterization_zorder(zorder)
        for axis, zorder in lifted:
            axis.set_zorder(zorder)
    data = _compress_images(target.read_bytes())
    if not os.environ.get("SOURCE_DATE_EPOCH"):
        data = re.sub(rb"^%%CreationDate: [^\n]*\n", b"", data, count=1, flags=re.M)
    target.write_bytes(data)
    if seen.fired and not unhandled and not (record and record["treatment"] == "opaque"):
        notes.append(
            f"{name}.eps: matplotlib drew partially transparent parts that no artist check "
            "found; they are opaque in the EPS and may look different from the PDF"
        )
    return record, notes


# An image as matplotlib's PS backend writes it: uncompressed hexadecimal RGB.
PS_IMAGE = re.compile(
    rb"/DataString \d+ string def\n(\d+ \d+ 8 \[[^\]\n]*\])\n\{\n"
    rb"currentfile DataString readhexstring pop\n\} bind false 3 colorimage\n"
    rb"([0-9a-f\n]+)\ngrestore"
)


def _compress_images(data: bytes) -> bytes:
    """Images re-encoded as Flate + ASCII85 (PostScript level 3, as the file declares):
    a rasterized single-column figure shrinks from megabytes to tens of kilobytes."""

    def packed(match):
        pixels = bytes.fromhex(match[2].replace(b"\n", b"").decode("ascii"))
        text = base64.a85encode(zlib.compress(pixels, 9), wrapcol=76)
        return (
            match[1] + b"\ncurrentfile /ASCII85Decode filter /FlateDecode filter\n"
            b"false 3 colorimage\n" + text + b"~>\ngrestore"
        )

    return PS_IMAGE.sub(packed, data)


def _lift_axes_lines(fig: Figure, thresholds: dict) -> list:
    """Keep ticks, tick labels and axis labels out of the image, as vector text, by drawing
    the axes' x and y axis just above the rasterized artists; only if that provably looks
    the same (rendered both ways). Returns the ``(axis, zorder)`` to restore."""
    import numpy as np

    changes = [
        (axis, axis.get_zorder())
        for axes, threshold in thresholds.items()
        for axis in (axes.xaxis, axes.yaxis)
        if axis.get_zorder() <= threshold
    ]
    if not changes:
        return []
    before = _pixels(fig)
    for axis, _ in changes:
        axis.set_zorder(thresholds[axis.axes] + 2e-6)
    after = _pixels(fig)
    if before.shape != after.shape or np.abs(before - after).max() > 3:
        for axis, zorder in changes:
            axis.set_zorder(zorder)
        return []
    return changes


class _TransparencyLog(logging.Filter):
    """Catches (and keeps off stderr) the PS backend's own 'no transparency' message."""

    fired = False

    def filter(self, record):
        if "does not support transparency" in record.getMessage():
            self.fired = True
            return False
        return True


def transparent_artists(fig: Figure) -> list[tuple[Artist, str, object]]:
    """Visible artists of ``fig`` drawn with 0 < alpha < 1: ``(artist, description, axes)``.

    ``axes`` is the innermost Axes holding the artist (None outside any axes).
    Legend frames, text boxes, collections' per-item colours and markers count.
    """
    from matplotlib.axes import Axes
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    owner = {}
    for axes in reversed(fig.findobj(Axes)):  # outer axes first, inner (insets) override
        for artist in axes.findobj(include_self=False):
            owner[id(artist)] = axes
    frames = {id(legend.get_frame()): legend for legend in fig.findobj(Legend)}
    found = []
    for artist in fig.findobj(lambda a: a.get_visible()):
        parts = [artist]
        if isinstance(artist, Text) and artist.get_bbox_patch() is not None:
            parts.append(artist.get_bbox_patch())
        for part in parts:
            alpha = _partial_alpha(part)
            if alpha is None:
                continue
            axes = owner.get(id(artist))
            found.append((part, _describe(part, artist, frames, fig, axes, alpha), axes))
    return found


def _partial_alpha(artist) -> float | None:
    """The smallest alpha strictly between 0 and 1 the artist draws with, or None."""
    import numpy as np
    from matplotlib import collections, colors, image, lines, patches, text

    alpha = artist.get_alpha()
    values = [] if alpha is None else list(np.ravel(alpha))
    if isinstance(artist, patches.Patch):
        if artist.get_fill():
            values.append(artist.get_facecolor()[3])
        if artist.get_linewidth():
            values.append(artist.get_edgecolor()[3])
    elif isinstance(artist, collections.Collection):
        artist.update_scalarmappable()
        values += list(np.asarray(artist.get_facecolor()).reshape(-1, 4)[:, 3])
        if np.any(np.asarray(artist.get_linewidth()) > 0):
            values += list(np.asarray(artist.get_edgecolor()).reshape(-1, 4)[:, 3])
    elif isinstance(artist, lines.Line2D):
        if artist.get_linestyle() not in ("None", "none", " ", ""):
            values.append(colors.to_rgba(artist.get_color(), alpha)[3])
        if artist.get_marker() not in (None, "None", "none", " ", ""):
            values.append(colors.to_rgba(artist.get_markerfacecolor(), alpha)[3])
            values.append(colors.to_rgba(artist.get_markeredgecolor(), alpha)[3])
    elif isinstance(artist, text.Text):
        if artist.get_text():
            values.append(colors.to_rgba(artist.get_color(), alpha)[3])
    elif isinstance(artist, image._ImageBase):
        data = artist.get_array()
        if data is not None and np.ndim(data) == 3 and np.shape(data)[2] == 4:
            scale = 255.0 if np.asarray(data).dtype == np.uint8 else 1.0
            values += list(np.unique(np.asarray(data)[..., 3] / scale))
    partial = [float(v) for v in values if 0 < v < 1]
    return min(partial) if partial else None


def _describe(part, artist, frames, fig, axes, alpha) -> str:
    if id(part) in frames:
        kind = "legend frame"
    elif part is not artist:
        kind = f"text box of {artist.get_text()[:30]!r}"
    else:
        kind = type(part).__name__
        label = str(part.get_label() or "")
        if hasattr(part, "get_text") and part.get_text():
            kind += f" {part.get_text()[:30]!r}"
        elif label and not label.startswith("_"):
            kind += f" {label[:30]!r}"
    if axes is None:
        return f"{kind} (alpha {alpha:.2g}, outside any axes)"
    title = axes.get_title() or axes.get_ylabel()
    number = fig.axes.index(axes) + 1 if axes in fig.axes else "inset"
    return f"{kind} (alpha {alpha:.2g}, axes {number}" + (f" {title[:30]!r})" if title else ")")


def _top_zorder(artist, axes) -> float:
    """The zorder with which ``axes`` draws ``artist`` (that of its child holding it)."""
    for child in axes.get_children():
        if child is artist or artist in child.findobj(include_self=False):
            return child.get_zorder()
    return artist.get_zorder()


def _flattened_copy(fig: Figure, transparent) -> Figure | None:
    """A copy of ``fig`` with each transparent colour blended onto its background, if that
    provably looks the same (rendered both ways, no pixel differs by more than rounding);
    else None. Exact when a translucent artist lies over the bare background only."""
    import numpy as np
    from matplotlib import collections, lines, patches, text

    flattenable = (patches.Patch, collections.Collection, lines.Line2D, text.Text)
    if not all(isinstance(artist, flattenable) for artist, _, _ in transparent):
        return None
    # Mark the artists (a gid survives pickling) to find them in the copy.
    marks = {}
    for number, (artist, _, axes) in enumerate(transparent):
        marks[f"flatten-{number}"] = (artist, artist.get_gid(), axes)
        artist.set_gid(f"flatten-{number}")
    try:
        copy = pickle.loads(pickle.dumps(fig))
    except Exception:  # some artists (lambdas in formatters, ...) cannot be copied
        return None
    finally:
        for artist, gid, _ in marks.values():
            artist.set_gid(gid)
    found = {
        a.get_gid(): a for a in copy.findobj(lambda a: str(a.get_gid()).startswith("flatten-"))
    }
    found.update(
        (t.get_bbox_patch().get_gid(), t.get_bbox_patch())
        for t in copy.findobj(lambda a: getattr(a, "get_bbox_patch", lambda: None)() is not None)
    )
    for mark, (_, _, axes) in marks.items():
        background = _background(
            copy.axes[fig.axes.index(axes)] if axes in fig.axes else None, copy
        )
        if mark not in found or background is None:
            return None
        _flatten(found[mark], background)
    original, flattened = _pixels(fig), _pixels(copy)
    if original.shape == flattened.shape and np.abs(original - flattened).max() <= 3:
        return copy
    return None


def _background(axes, fig):
    from matplotlib import colors

    for patch in ([axes.patch] if axes is not None else []) + [fig.patch]:
        rgba = colors.to_rgba(patch.get_facecolor())
        if patch.get_visible() and rgba[3] == 1:
            return rgba
    return None


def _flatten(artist, background) -> None:
    import numpy as np
    from matplotlib import collections, colors, lines, patches, text

    def blend(rgba):
        rgba = np.array(colors.to_rgba_array(rgba), dtype=float)
        partial = (rgba[:, 3] > 0) & (rgba[:, 3] < 1)
        a = rgba[partial, 3:4]
        rgba[partial, :3] = a * rgba[partial, :3] + (1 - a) * np.array(background[:3])
        rgba[partial, 3] = 1.0
        return rgba

    if isinstance(artist, patches.Patch):
        face, edge = artist.get_facecolor(), artist.get_edgecolor()
        artist.set_alpha(None)
        artist.set_facecolor(tuple(blend(face)[0]))
        artist.set_edgecolor(tuple(blend(edge)[0]))
    elif isinstance(artist, collections.Collection):
        artist.update_scalarmappable()
        face, edge = artist.get_facecolor(), artist.get_edgecolor()
        artist.set_array(None)
        artist.set_alpha(None)
        artist.set_facecolor(blend(face) if len(face) else face)
        artist.set_edgecolor(blend(edge) if len(edge) else edge)
    elif isinstance(artist, lines.Line2D):
        alpha = artist.get_alpha()
        color = colors.to_rgba(artist.get_color(), alpha)
        face = colors.to_rgba(artist.get_markerfacecolor(), alpha)
        edge = colors.to_rgba(artist.get_markeredgecolor(), alpha)
        artist.set_alpha(None)
        artist.set_color(tuple(blend(color)[0]))
        artist.set_markerfacecolor(tuple(blend(face)[0]))
        artist.set_markeredgecolor(tuple(blend(edge)[0]))
    elif isinstance(artist, text.Text):
        color = colors.to_rgba(artist.get_color(), artist.get_alpha())
        artist.set_alpha(None)
        artist.set_color(tuple(blend(color)[0]))


def _pixels(fig: Figure):
    import numpy as np

    buffer = io.BytesIO()
    fig.savefig(buffer, format="rgba", dpi=100, **_page(fig))
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8).astype(np.int16)


# ---- provenance sidecar ----------------------------------------------------------------------


def current_source() -> Path | None:
    """The figure source (or notebook) this process runs, if it can be told."""
    if _RUN["source"]:
        return Path(_RUN["source"])
    session = os.environ.get("JPY_SESSION_NAME")  # Jupyter's notebook path, in its kernels
    if session and Path(session).is_file():
        notebook = Path(session)
        paired = notebook.with_suffix(".py")
        return paired if paired.is_file() else notebook
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    return Path(script) if script and Path(script).is_file() else None


def _sidecar(fig: Figure, name: str, files: list[str], eps: dict | None) -> dict:
    import matplotlib

    source = current_source()
    described = None
    git = provenance.git_state(paths.find_root(), source)
    if source is not None:
        described = {
            "path": paths.relative(source),
            "sha256": provenance.file_hash(source),
            "script_hash": provenance.script_hash(source) if source.suffix == ".py" else None,
        }
    source_state = (git or {}).get("script")
    return {
        "figure": name,
        "files": files,
        "size_inches": [round(float(v), 4) for v in fig.get_size_inches()],
        "source": described,
        "git": {
            "commit": (git or {}).get("commit"),
            "dirty": (git or {}).get("dirty"),
            "source": source_state,
            "source_modified": None if source_state is None else source_state != "committed",
        },
        "results_read": _results_read(_RUN["files_read"] or ()),
        # Which runs the source chose with results.runs(...), by which criteria.
        "results_selected": [_selection(entry) for entry in provenance.selections()],
        "inputs": [
            {**entry, "path": paths.relative(entry["path"])} for entry in provenance.inputs()
        ],
        "built_by": "savefig" if _RUN["files_read"] is None else "invoke figures",
        "files_read": None if _RUN["files_read"] is None else sorted(_RUN["files_read"]),
        "eps": eps,
        "matplotlib": matplotlib.__version__,
    }


def _selection(entry: dict) -> dict:
    from .results import number_ranges

    return {**entry, "ranges": number_ranges(entry["numbers"])}


def _results_read(files_read) -> list[dict]:
    """The results loaded (noted by the results store), and those whose files the source
    opened (``results.runs`` reads every run's record), by experiment and number."""
    found = {
        (entry["experiment"], entry["number"]): {**entry, "path": paths.relative(entry["path"])}
        for entry in provenance.results_read()
    }
    prefix = paths.relative(paths.RESULTS_DIR) + "/"
    for name in sorted(files_read):
        match = RESULT_FILE.fullmatch(name[len(prefix) :]) if name.startswith(prefix) else None
        if match:
            key = (match["experiment"], int(match["number"]))
            found.setdefault(key, {"experiment": key[0], "number": key[1], "path": name})
    return [found[key] for key in sorted(found)]


def sidecars() -> dict[str, dict]:
    """Every figure's sidecar in ``figures/``, by figure name."""
    found = {}
    for path in sorted(paths.FIGURES_DIR.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("figure") == path.stem:
            found[path.stem] = record
    return found


# ---- overview sheet --------------------------------------------------------------------------


def _results_line(record: dict) -> str:
    """The results a figure used, by experiment, as number ranges (``kmeans #3-7, 9``); where
    it chose runs with ``results.runs(...)``, those it chose and how (``script current, sweep
    20261130-...``)."""
    from .results import number_ranges

    numbers: dict[str, set[int]] = {}
    for result in record.get("results_read") or []:
        if isinstance(result, dict) and isinstance(result.get("number"), int):
            numbers.setdefault(str(result.get("experiment")), set()).add(result["number"])
    chosen: dict[str, str] = {}
    for selection in record.get("results_selected") or []:
        if isinstance(selection, dict) and isinstance(selection.get("numbers"), list):
            # The runs chosen, not every record that results.runs() read to choose them.
            experiment = str(selection.get("experiment"))
            before = numbers.get(experiment, set()) if experiment in chosen else set()
            numbers[experiment] = before | set(selection["numbers"])
            criteria = selection.get("criteria") or {}
            said = [
                f"{key} {criteria[key]}"
                for key in ("script", "sweep", "clean", "since")
                if key in criteria
            ]
            for column, values in (criteria.get("where") or {}).items():
                said.append(f"{column}={','.join(map(str, values))}")
            chosen[experiment] = f" ({', '.join(said)})" if said else ""
    if not numbers:
        return "none"
    return "; ".join(
        f"{experiment} #{number_ranges(numbers[experiment])}{chosen.get(experiment, '')}"
        for experiment in sorted(numbers)
    )


def write_index() -> Path:
    """Write ``figures/index.html``: every figure's preview, files, source and results read.

    The page holds no date, so it changes only when a figure does.
    """
    folder = paths.FIGURES_DIR
    cards = []
    for name, record in sidecars().items():
        files = [f for f in record.get("files", []) if (folder / f).exists()]
        preview = (
            f"{name}.png"
            if f"{name}.png" in files
            else (f"{name}.pdf" if f"{name}.pdf" in files else None)
        )
        if preview and preview.endswith(".png"):
            picture = f'<img src="{html.escape(preview)}" alt="{html.escape(name)}">'
        elif preview:
            picture = f'<object data="{html.escape(preview)}" type="application/pdf"></object>'
        else:
            picture = "<p>(no preview)</p>"
        links = " ".join(
            f'<a href="{html.escape(f)}">{html.escape(Path(f).suffix[1:])}</a>' for f in files
        )
        source = (record.get("source") or {}).get("path", "unknown source")
        commit = ((record.get("git") or {}).get("commit") or "")[:10] or "no commit"
        results = _results_line(record)
        eps = record.get("eps") or {}
        eps_note = (
            f"<p class=note>EPS: {html.escape(eps['treatment'])} transparency</p>" if eps else ""
        )
        cards.append(
            f'<section id="{html.escape(name)}"><h2>{html.escape(name)}</h2>{picture}'
            f'<p>{links} <a href="{html.escape(name)}.json">json</a></p>'
            f"<p>source <code>{html.escape(source)}</code> at {html.escape(commit)}</p>"
            f"<p>results: {html.escape(results)}</p>{eps_note}</section>"
        )
    page = (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>Figures of {html.escape(paths.project_name())}</title><style>"
        "body{font-family:sans-serif;margin:1em}main{display:flex;flex-wrap:wrap;gap:1em}"
        "section{border:1px solid #ccc;padding:.5em;max-width:46em}"
        "img,object{max-width:100%;height:auto}.note{color:#a40}h2{font-size:1.1em;margin:0}"
        "</style></head><body>\n"
        f"<h1>Figures of {html.escape(paths.project_name())} ({len(cards)})</h1>\n<main>\n"
        + "\n".join(cards)
        + "\n</main></body></html>\n"
    )
    target = folder / "index.html"
    folder.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text(encoding="utf-8") != page:
        target.write_text(page, encoding="utf-8")
    return target
