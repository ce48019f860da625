"""The workspace extension: cheap summaries, and a real IPython kernel running %run -i."""

import datetime
import json
import os
import re
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

from {{ cookiecutter.module_name }} import workspace
from {{ cookiecutter.module_name }}.workspace import (
    RunReport,
    Summary,
    WorkspaceError,
    bound_names,
    format_bytes,
    is_ipython_name,
    summarize,
    table,
)
from {{ cookiecutter.module_name }}.workspace.links import cell_number

PACKAGE = "{{ cookiecutter.module_name }}"


class Explosive:
    """A value whose repr, str and unknown attributes all fail: a listing must not touch them."""

    def __repr__(self):
        raise AssertionError("repr called")

    __str__ = __repr__

    def __getattr__(self, name):
        raise AssertionError(f"attribute {name} asked for")


@pytest.mark.parametrize(
    "value, expected",
    [
        (3, Summary("int", bytes=28, preview="3")),
        (True, Summary("bool", bytes=28, preview="True")),
        (None, Summary("NoneType", bytes=16, preview="None")),
        ("Adelie", Summary("str", shape=(6,), bytes=55, preview="'Adelie'")),
        (np.float64(1.5), Summary("float64", dtype="float64", bytes=8, preview="1.5")),
        (np.int32(7), Summary("int32", dtype="int32", bytes=4, preview="7")),
        (np.zeros((3, 4)), Summary("ndarray", dtype="float64", shape=(3, 4), bytes=96)),
        (
            np.array(["a", None], dtype=object),
            Summary("ndarray", dtype="object", shape=(2,), bytes=16, shallow=True),
        ),
        (
            pd.Series([1, 2, 3], dtype="int64"),
            Summary("Series", dtype="int64", shape=(3,), bytes=156),
        ),
        (datetime.date(2024, 5, 1), Summary("date", bytes=32, preview="2024-05-01")),
    ],
)
def test_summaries_come_from_cheap_attributes(value, expected):
    assert summarize(value) == expected


def test_containers_give_their_length_and_a_shallow_size():
    summary = summarize(set(range(1000)))
    assert (summary.type, summary.shape, summary.shallow, summary.preview) == (
        "set",
        (1000,),
        True,
        None,
    )
    assert summary.bytes < 100_000  # the hash table only, not the ints in it


def test_long_strings_and_huge_ints_get_no_preview():
    assert summarize("x" * 41).preview is None
    assert summarize("x" * 40).preview == repr("x" * 40)
    assert summarize(10**1000).preview is None


def test_a_value_is_listed_without_its_repr_str_or_unknown_attributes():
    summary = summarize(Explosive())
    assert summary.type == "Explosive" and summary.preview is None and summary.bytes > 0


def test_a_dataframe_counts_its_columns_without_a_deep_scan():
    frame = pd.DataFrame(
        {"x": np.arange(10, dtype="int64"), "o": pd.Series(["a"] * 10, dtype=object)}
    )
    summary = summarize(frame)
    assert (summary.type, summary.shape, summary.shallow) == ("DataFrame", (10, 2), True)
    assert summary.bytes == frame.memory_usage(deep=False).sum()


@pytest.mark.parametrize(
    "source, names",
    [
        ("x = 1", {"x"}),
        ("import numpy as np\nfrom os import path", {"np", "path"}),
        ("def f():\n    y = 2\nclass A:\n    z = 3", {"f", "A"}),
        ("for i, j in pairs:\n    total = i", {"i", "j", "total"}),
        ("%time result = f(x)", {"result"}),
        ("files = !ls", {"files"}),
        ("%run -i script.py", set()),
        ("x = = 1", set()),
    ],
)
def test_bound_names(source, names):
    assert bound_names(source) == names


@pytest.mark.parametrize(
    "name, ipythons",
    [("_", True), ("__", True), ("_i3", True), ("_12", True), ("_ih", True), ("__file__", True)]
    + [("_private", False), ("In", False), ("x_1", False)],
)
def test_ipython_names(name, ipythons):
    assert is_ipython_name(name, object(), hidden={}) is ipythons


def test_table_of_a_namespace_filters_sorts_and_leaves_out_modules():
    namespace = {
        "np": np,
        "pd": pd,
        "zeros": np.zeros,
        "k": 3,
        "big": np.zeros(1000),
        "frame": pd.DataFrame(),
    }
    assert list(table(namespace=namespace).name) == ["big", "frame", "k"]
    assert list(table(namespace=namespace, sort="size").name)[0] == "big"
    assert list(table("b*", namespace=namespace).name) == ["big"]
    assert list(table(type="DataFrame,int", namespace=namespace).name) == ["frame", "k"]
    assert "np" in set(table(namespace=namespace, imported=True).name)


def test_a_run_report_says_what_changed():
    report = RunReport(
        command="-i fit.py --k 4",
        cell=5,
        created={"inertia": summarize(2.5)},
        overwritten={"k": (summarize(3), summarize(4))},
        read={"measured": [4, 9]},
        error="RuntimeError: diverged",
    )
    assert report.format().splitlines() == [
        "%run -i fit.py --k 4: 1 created, 1 overwritten, 1 read from the notebook",
        "  raised    RuntimeError: diverged (what it did before that is below)",
        "  created   inertia  float 2.5",
        "  overwrote k        int 3  →  int 4",
        "  read      measured (lines 4, 9)",
    ]
    assert report.clobbered


# ---- a real kernel ----------------------------------------------------------------------------

SCRIPTS = {
    "clobber.py": """
        import sys

        k = int(sys.argv[sys.argv.index("--k") + 1])
        seed = 42
        inertia = sum(measured) / k
    """,
    "failing.py": """
        partial = "set before the error"
        raise RuntimeError("the model diverged")
    """,
    "quiet.py": "extra = 1",
    "loud.py": 'label = "Gentoo"',
}

FIRST_SESSION = [
    f"%load_ext {PACKAGE}.workspace",
    "import numpy as np\nimport pandas as pd\n"
    "k = 3\nseed = 7\nmeasured = [1.0, 2.0, 5.0]\nlabel = 'Adelie'\n"
    "features = np.zeros((1000, 4))\nframe = pd.DataFrame({'x': np.arange(5), 'y': np.ones(5)})",
    "%run -i clobber.py --k 4",
    "%workspace",
    f"from {PACKAGE}.workspace import table\nprint(table().to_json(orient='records'))",
    "%run -i failing.py",
    "%workspace --quiet-runs",
    "%run -i quiet.py",
    "%run -i loud.py",
    "%reset -f\n%workspace",
]
AFTER_RESTART = [
    f"%load_ext {PACKAGE}.workspace",
    "fresh = 1",
    "%workspace",
    f"from {PACKAGE}.workspace import last_report\nprint(last_report())",
]


def text_of(cell) -> str:
    """What a cell printed: its streams and its result, tracebacks aside."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def listing(text: str) -> dict[str, list[str]]:
    """The rows of a %workspace listing by name: columns are separated by two or more spaces."""
    lines = [line for line in text.splitlines() if line and not line.startswith("(")]
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    """One real kernel: the first session's cells, a restart, then the second session's.

    The notebook starts with a markdown cell, so a code cell's number (its position, as
    `invoke cells` counts) is one more than its ``In [n]``. The kernel is told which
    notebook it runs as Jupyter's server tells it (``JPY_SESSION_NAME``).
    """
    folder = tmp_path_factory.mktemp("workspace")
    for name, source in SCRIPTS.items():
        (folder / name).write_text(textwrap.dedent(source).lstrip())
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Workspace")] + [
        nbformat.v4.new_code_cell(s) for s in FIRST_SESSION + AFTER_RESTART
    ]
    path = folder / "session.ipynb"
    nbformat.write(notebook, path)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    code = notebook.cells[1:]
    with client.setup_kernel(env={**os.environ, "JPY_SESSION_NAME": str(path)}):
        for index, cell in enumerate(code[: len(FIRST_SESSION)], start=1):
            client.execute_cell(cell, index)
        run_sync(client.km.restart_kernel)(now=True)
        run_sync(client.kc.wait_for_ready)(timeout=60)
        for index, cell in enumerate(code[len(FIRST_SESSION) :], start=len(FIRST_SESSION) + 1):
            client.execute_cell(cell, index)
    cells = code
    return [text_of(c) for c in cells[: len(FIRST_SESSION)]], [
        text_of(c) for c in cells[len(FIRST_SESSION) :]
    ]


def test_the_report_of_a_run_names_what_the_script_overwrote_created_and_read(kernel_run):
    report = kernel_run[0][2]
    assert report.splitlines()[0] == (
        "%run -i clobber.py --k 4: 1 created, 2 overwritten, 1 read from the notebook"
    )
    assert re.search(r"created\s+inertia\s+float 2\.0$", report, re.M)
    assert re.search(r"overwrote\s+k\s+int 3  →  int 4$", report, re.M)
    assert re.search(r"^\s+seed\s+int 7  →  int 42$", report, re.M)
    assert re.search(r"read\s+measured \(line 5\)$", report, re.M)
    assert re.search(r"imported\s+sys$", report, re.M)
    assert "features" not in report and "label" not in report


def test_the_listing_shows_arrays_frames_and_scalars_and_who_set_them(kernel_run):
    rows = listing(kernel_run[0][3])
    assert set(rows) == {
        "features",
        "frame",
        "inertia",
        "k",
        "label",
        "measured",
        "seed",
    }  # no np, pd, sys
    # In [2] is the notebook's cell 3: the markdown cell comes first
    assert rows["features"] == ["ndarray float64", "1000×4", "31.2 KiB", "cell 3"]
    frame = pd.DataFrame({"x": np.arange(5), "y": np.ones(5)})  # as in the kernel
    assert rows["frame"] == ["DataFrame", "5×2", format_bytes(frame.memory_usage().sum()), "cell 3"]
    assert rows["k"] == ["int", "28 B", "4", "clobber.py (cell 4)"]
    assert rows["label"] == ["str", "6", "55 B", "'Adelie'", "cell 3"]
    assert rows["measured"] == [
        "list",
        "3",
        format_bytes(sys.getsizeof([1.0, 2.0, 5.0]), True),
        "cell 3",
    ]


def test_table_returns_the_same_listing_as_data(kernel_run):
    rows = {row["name"]: row for row in json.loads(kernel_run[0][4])}
    assert rows["features"]["shape"] == [1000, 4] and rows["features"]["bytes"] == 32_000
    k, features = rows["k"], rows["features"]
    assert (k["cell"], k["execution"], k["script"], k["preview"]) == (4, 3, "clobber.py", "4")
    assert (features["cell"], features["execution"], features["script"]) == (3, 2, None)
    assert rows["measured"]["shallow"] is True and rows["features"]["shallow"] is False


def test_a_script_that_raises_still_gets_its_report(kernel_run):
    report = kernel_run[0][5]
    assert "raised    RuntimeError: the model diverged" in report
    assert re.search(r"created\s+partial\s+str 'set before the error'$", report, re.M)


def test_quiet_runs_report_only_a_clobbering_script(kernel_run):
    first = kernel_run[0]
    assert first[6].startswith("%run reports: only when a script overwrites")
    assert first[7] == ""  # quiet.py only created a name
    assert re.search(r"overwrote\s+label\s+str 'Adelie'  →  str 'Gentoo'$", first[8], re.M)


def test_reset_and_a_kernel_restart_leave_no_stale_bookkeeping(kernel_run):
    first, second = kernel_run
    assert first[9].startswith("No variables")
    assert second[0] == ""  # the extension loads quietly in the new kernel
    # In [2] of the new kernel is the notebook's 13th cell
    assert listing(second[2]) == {"fresh": ["int", "28 B", "1", "cell 13"]}
    assert second[3].strip() == "None"


def test_a_cell_is_numbered_by_its_id_else_by_its_unique_code(tmp_path):
    """'cell N' is the position in the saved notebook, as `invoke cells` counts, not In [n]."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title")] + [
        nbformat.v4.new_code_cell(code) for code in ("x = 1", "x = 1", "y = 2")
    ]
    path = tmp_path / "analysis.ipynb"
    nbformat.write(notebook, path)
    ids = [cell.id for cell in notebook.cells]
    assert cell_number(path, ids[2], "x = 1") == 3  # the id tells the two x = 1 apart
    assert cell_number(path, None, "y = 2\n") == 4
    assert cell_number(path, None, "x = 1") is None  # two cells have that code
    assert cell_number(path, "not-in-the-file", "z = 3") is None
    assert cell_number(None, ids[1], "x = 1") is None  # no notebook known


# ---- defensive reads ---------------------------------------------------------------------------


class Remote:
    """A lazy value whose ``shape`` waits on a server: here, until the test lets it go."""

    def __init__(self, released, calls):
        self.released, self.calls = released, calls

    @property
    def shape(self):
        self.calls.append("shape")
        self.released.wait(60)
        return (10, 2)


def test_a_shape_property_that_hangs_is_left_out_and_not_asked_again():
    released, calls = threading.Event(), []
    try:
        first = summarize(Remote(released, calls))
        second = summarize(Remote(released, calls))
    finally:
        released.set()
    assert (first.type, first.shape, first.slow) == ("Remote", None, True)
    assert (second.shape, second.slow) == (None, True)
    assert calls == ["shape"]  # the class is remembered as slow after its first read


# ---- the pane, kernel side: a real IPython shell in this process --------------------------------


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A fresh IPython shell with the extension loaded; unloaded and cleared afterwards."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", f"{PACKAGE}.workspace")
    yield shell
    shell.run_line_magic("unload_ext", f"{PACKAGE}.workspace")
    InteractiveShell.clear_instance()


def extension_calls(shell, code: str) -> int:
    """How many functions of the workspace package run while ``code`` runs as a cell."""
    folder = str(Path(workspace.__file__).parent)
    calls = 0

    def count(frame, event, _arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_filename.startswith(folder):
            calls += 1

    sys.setprofile(count)
    try:
        shell.run_cell(code, store_history=True)
    finally:
        sys.setprofile(None)
    return calls


def cell_callbacks(shell) -> list:
    """The workspace's callbacks among those IPython runs around every cell (its event registry)."""
    events = ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell")
    return [
        callback
        for event in events
        for callback in shell.events.callbacks[event]
        if getattr(callback, "__module__", "").startswith(workspace.__name__)
    ]


def test_with_the_pane_closed_a_cell_calls_nothing_of_the_extension(shell):
    assert cell_callbacks(shell) == []
    assert extension_calls(shell, "x = 1") == 0


def test_the_pane_refreshes_after_every_cell_only_while_it_is_shown(shell):
    shell.run_line_magic("workspace", "--pane")
    pane = workspace.pane()
    assert [c.__self__ for c in cell_callbacks(shell)] == [pane]
    code = "penguins = __import__('pandas').DataFrame({'mass': [3750.0, 3800.0]})"
    shell.run_cell(code, store_history=True)
    row = next(r for r in pane.view.rows if r["name"] == "penguins")
    assert (row["type"], row["shape"], row["code"]) == ("DataFrame", "2×1", False)

    pane.view.visible = False  # what the browser says when the sidebar hides the pane
    assert cell_callbacks(shell) == []
    assert extension_calls(shell, "hidden = 2") == 0
    assert "hidden" not in {r["name"] for r in pane.view.rows}

    pane.view.visible = True  # shown again: listed at once, and after every cell
    assert "hidden" in {r["name"] for r in pane.view.rows}
    shell.run_cell("later = 3", store_history=True)
    assert "later" in {r["name"] for r in pane.view.rows}

    shell.run_line_magic("workspace", "--pane off")
    assert cell_callbacks(shell) == [] and pane.closed
    assert extension_calls(shell, "after = 4") == 0


def test_the_pane_marks_what_the_last_run_did_until_the_next_run_or_reset(shell, tmp_path):
    (tmp_path / "fit.py").write_text("k = 4\npurity = 0.9\ntotal = sum(measured)\ndel old\n")
    (tmp_path / "noop.py").write_text("pass\n")
    shell.run_cell("k = 0\nmeasured = [1, 2]\nold = 'x'", store_history=True)
    shell.run_line_magic("workspace", "--pane")
    pane = workspace.pane()
    shell.run_cell("%run -i fit.py", store_history=True)
    marks = pane.view.marks
    assert {name: mark["mark"] for name, mark in marks.items()} == {
        "k": "overwritten",
        "purity": "created",
        "total": "created",
        "measured": "read",
        "old": "deleted",
    }
    assert marks["k"]["detail"] == "int 0  →  int 4"
    assert pane.view.run == "%run -i fit.py (In [2])"  # no notebook here: In [n]
    purity = next(r for r in pane.view.rows if r["name"] == "purity")
    assert purity["set_by"] == "fit.py (In [2])"
    shell.run_cell("y = 1", store_history=True)
    assert pane.view.marks == marks  # other cells keep the marks
    shell.run_cell("%run -i noop.py", store_history=True)
    assert pane.view.marks == {} and pane.view.run == "%run -i noop.py (In [4])"
    shell.run_cell("%run -i fit.py", store_history=True)
    shell.run_cell("%reset -f", store_history=True)
    assert (pane.view.marks, pane.view.run) == ({}, "")
    assert {r["name"] for r in pane.view.rows if not r["code"]} == set()


def test_the_pane_needs_the_extension_loaded_first():
    with pytest.raises(WorkspaceError, match=r"run %load_ext <package>.workspace first"):
        workspace.pane()
