"""`invoke lint` and `invoke check-notebooks`: notebooks and scripts built for each finding."""

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from {{ cookiecutter.module_name }} import ProjectError, paths
from {{ cookiecutter.module_name }}.check import find_notebooks, run_notebooks
from {{ cookiecutter.module_name }}.lint import check_notebook, lint

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty project (this one's pyproject.toml, so ruff's settings) that `paths` points at."""
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    shutil.copy(PROJECT / "jupytext.toml", tmp_path)  # pairs notebooks as in a real project
    for folder in ("src", "scripts", "notebooks"):
        (tmp_path / folder).mkdir()
    monkeypatch.setenv("PROJECT_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    paths.find_root.cache_clear()
    yield tmp_path
    paths.find_root.cache_clear()


def percent(*cells: str) -> str:
    """A py:percent notebook: each cell a `# %%` and its source (`md:` starts a markdown cell)."""
    parts = []
    for cell in cells:
        if cell.startswith("md:"):
            text = "\n".join(f"# {line}" for line in cell[3:].strip().splitlines())
            parts.append(f"# %% [markdown]\n{text}\n")
        else:
            parts.append(f"# %%\n{cell}\n")
    return "\n".join(parts)


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def lines_of(findings) -> list[str]:
    return [str(finding) for finding in findings]


# ---- notebooks --------------------------------------------------------------------------------


def test_a_clean_notebook_has_no_findings(root):
    """Magics, functions using later globals, updates, repeated imports and loops are all fine."""
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Clean"),
            new_code_cell("%matplotlib inline\nimport numpy as np", execution_count=1),
            new_code_cell("def scaled(x):\n    return np.sqrt(x) * scale", execution_count=2),
            new_code_cell("scale = np.float64(2)\ntotal = 0\nmodel = None", execution_count=4),
            new_code_cell("for i in range(3):\n    total += scaled(i)", execution_count=None),
            new_code_cell("import numpy as np\n\nfor i in range(2):\n    total = total + i"),
            new_code_cell("files = !ls\n%time model = np.poly1d([1, 2])\nprint(files, model)"),
            new_code_cell("%%capture out\nprint(total)", execution_count=9),
            new_code_cell("out.show()\n(n := len(files))"),
        ]
    )
    jupytext.write(notebook, root / "notebooks" / "clean.ipynb")
    jupytext.write(notebook, root / "notebooks" / "clean.py", fmt="py:percent")
    assert lines_of(lint()) == []


def test_a_cell_reading_a_name_only_a_later_cell_defines(root):
    """NB101 on the cell's line of the paired script; ruff's F821 there is not repeated."""
    write(
        root,
        "notebooks/circle.py",
        percent("md: Circle", "import math", "area = math.pi * radius**2", "radius = 2.0"),
    )
    assert lines_of(lint()) == [
        "notebooks/circle.py:8: NB101 cell 3 reads 'radius', which only a later cell defines "
        "(cell 4): 'run all' stops here (move the definition above cell 3, or this cell below it)"
    ]


def test_a_name_bound_with_different_meanings_names_the_cells(root):
    """NB102 on the second meaning, listing every cell that disagrees."""
    write(
        root,
        "notebooks/meanings.py",
        percent("threshold = 0.5", "n = 1", "threshold = 'high'\nn = n + 1", "threshold = [0.1]"),
    )
    assert lines_of(lint()) == [
        "notebooks/meanings.py:8: NB102 'threshold' is bound with different meanings in cells "
        "1 (a number), 3 (a string) and 4 (a list): a cell that reads it gets whichever ran last "
        "(give each meaning its own name)"
    ]


@pytest.mark.parametrize(
    "first, second, differ",
    [
        ("x = 1", "x = 'a'", ["x"]),
        ("x = 1", "x = 2.5", []),
        ("x = 1", "x = x + 1", []),
        ("x = 1", "x += 1", []),
        ("x = [1]", "x = {1: 2}", ["x"]),
        ("x = None", "x = [1]", []),
        ("x = load()", "x = summary()", []),
        ("x = load()", "x = 'a'", []),
        ("import numpy as np", "import numpy as np", []),
        ("import numpy as np", "import jax.numpy as np", ["np"]),
        ("import matplotlib.pyplot as plt", "from matplotlib import pyplot as plt", []),
        ("from scipy import stats", "stats = summary()", ["stats"]),
        ("def f():\n    pass", "f = 3", ["f"]),
        ("def f():\n    pass", "def f():\n    return 1", []),
        ("def f():\n    pass", "f = lambda: 1", []),
        ("class A:\n    pass", "A = 1", ["A"]),
        ("for i in range(3):\n    pass", "i = 'a'", []),
        ("with open('f') as handle:\n    pass", "handle = 1", []),
        ("a, b = 1, 'b'", "a, b = 'a', 2", ["a", "b"]),
        ("a, b = 1, 'b'", "a, b = load()", []),
    ],
)
def test_what_counts_as_a_different_meaning(tmp_path, first, second, differ):
    """One line a case: two cells in, the names NB102 reports out."""
    path = tmp_path / "pair.py"
    path.write_text(percent(first, second))
    assert [f.name for f in check_notebook(path) if f.code == "NB102"] == differ


def test_a_cell_reading_a_name_an_earlier_cell_deleted(root):
    """NB103; binding the name again in between clears it."""
    write(root, "notebooks/deleted.py", percent("data = [1, 2]", "del data", "print(len(data))"))
    write(
        root,
        "notebooks/rebound.py",
        percent("data = [1, 2]", "del data", "data = []", "print(data)"),
    )
    assert lines_of(lint()) == [
        "notebooks/deleted.py:8: NB103 cell 3 reads 'data', which cell 2 deletes (del) and no cell "
        "in between defines again (drop the del in cell 2, or stop using 'data' after it)"
    ]


def test_cells_last_run_out_of_order_are_a_warning(root):
    """NB104 from the stored counts; unrun cells are no disorder; on the paired script's line."""
    cells = ["a = 1", "b = a + 1", "c = b + 1", "d = c + 1"]

    def counted(*counts):
        pairs = zip(cells, counts, strict=True)
        return new_notebook(cells=[new_code_cell(s, execution_count=n) for s, n in pairs])

    disordered, ordered = counted(1, 7, 3, 4), counted(2, None, 5, 9)
    nbformat.write(disordered, root / "notebooks" / "order.ipynb")
    nbformat.write(ordered, root / "notebooks" / "fine.ipynb")
    [finding] = lint()
    assert str(finding) == (
        "notebooks/order.ipynb:cell 3:1: NB104 warning: cell 3 was last run (In [3]) before cell 2 "
        "above it (In [7]) (and 1 more cell after it): the saved state does not come from running "
        "the cells in order (restart the kernel and run all, or "
        "`invoke check-notebooks -- notebooks/order`)"
    )
    assert finding.warning
    jupytext.write(disordered, root / "notebooks" / "order.py", fmt="py:percent")
    assert [(f.path, f.line, f.code) for f in lint(["notebooks/order.py"])] == [
        ("notebooks/order.py", 18, "NB104")
    ]


def test_run_i_binds_what_the_script_binds_and_reads_what_it_reads(root):
    """`%run -i` (from the notebook's folder) defines the script's names and reads its reads."""
    write(root, "scripts/scale.py", "scaled = [value * factor for value in values]\n")
    write(
        root,
        "notebooks/uses.py",
        percent("factor = 2\nvalues = [1, 2]", "# %run -i ../scripts/scale.py", "print(scaled)"),
    )
    write(
        root,
        "notebooks/early.py",
        percent("values = [1]", "# %run -i ../scripts/scale.py", "factor = 3"),
    )
    assert lines_of(lint(["notebooks"])) == [
        "notebooks/early.py:5: NB101 cell 2 runs scripts/scale.py with %run -i; it reads 'factor', "
        "which only a later cell defines (cell 3): 'run all' stops here "
        "(move the definition above cell 2, or this cell below it)"
    ]
    # a script not written yet may bind anything: what follows is not reported
    unknown = write(
        root,
        "elsewhere/unknown.py",
        percent("# %run not_written_yet.py", "print(made)", "made = 1"),
    )
    assert check_notebook(unknown) == []


def test_noqa_silences_a_line_and_ruffs_twin_finding(root):
    write(root, "notebooks/quiet.py", percent("total = base + 1  # noqa: NB101", "base = 1"))
    write(root, "notebooks/quiet_too.py", percent("total = base + 1  # noqa: F821", "base = 1"))
    assert lines_of(lint()) == []


# ---- scripts ----------------------------------------------------------------------------------


def test_a_script_reading_a_name_the_notebook_supplies(root):
    """NB001 (with every line) and NB002 replace ruff's F821 and F401; `# noqa: F821` holds."""
    write(
        root,
        "scripts/fit.py",
        "import argparse\n"
        "import os\n"
        "\n"
        "parser = argparse.ArgumentParser()\n"
        'parser.add_argument("--k", type=int, default=3)\n'
        "args = parser.parse_args()\n"
        "print(measured[: args.k])\n"
        "print(len(measured), extra)  # noqa: F821\n",
    )
    assert lines_of(lint(["scripts/fit.py"])) == [
        "scripts/fit.py:2: NB002 'os' is imported but never used (remove the import; "
        "`ruff check --fix` does it)",
        "scripts/fit.py:7: NB001 'measured' is read but never defined in this script "
        "(also line 8): under %run -i the notebook supplies it, anywhere else the script fails "
        "(define or load it in the script, or make it an argparse option)",
    ]


def test_ruff_findings_come_with_the_project_settings(root):
    """Ruff runs with pyproject's settings: E402 is allowed in notebooks, not in src/."""
    write(root, "src/late.py", 'print("x")\nimport os\n\nprint(os.sep)\n')
    write(root, "notebooks/late.py", percent('print("x")', "import os\n\nprint(os.sep)"))
    [finding] = lint()
    assert str(finding).startswith("src/late.py:2: E402 Module level import not at top of file")


def test_paths_must_exist_inside_the_project(root):
    with pytest.raises(ProjectError, match="leaves"):
        lint(["../elsewhere"])
    with pytest.raises(ProjectError, match="scripts/gone.py: no such file or folder"):
        lint(["scripts/gone.py"])


# ---- restart and run all -----------------------------------------------------------------------


def test_check_notebooks_names_the_first_failing_cell_and_writes_nothing(root):
    """A real kernel per notebook, in the notebook's folder, with a time limit per cell."""
    write(root, "notebooks/sub/here.txt", "hello\n")
    write(
        root,
        "notebooks/sub/fails.py",
        percent(
            "md: Fails at cell 4",
            'text = open("here.txt").read()',
            "import math",
            "value = math.sqrt(4) / missing",
            "print('never')",
        ),
    )
    write(root, "notebooks/slow.py", percent("import time", "time.sleep(60)"))
    write(
        root,
        "notebooks/good.py",
        percent("from pathlib import Path", 'assert Path.cwd().name == "notebooks"'),
    )
    before = {p: p.read_bytes() for p in (root / "notebooks").rglob("*") if p.is_file()}
    runs = list(run_notebooks(["sub/fails", "notebooks/slow.py", "good"], timeout=3))
    assert [run.failed_cell for run in runs] == [4, 2, None]
    assert (
        str(runs[0])
        == "notebooks/sub/fails.py:11: cell 4 failed: NameError: name 'missing' is not defined"
    )
    assert str(runs[1]) == (
        "notebooks/slow.py:5: cell 2 failed: did not finish within 3 s "
        "(make it faster, or give it more time with --timeout)"
    )
    assert str(runs[2]).startswith("notebooks/good.py: ok, 2 cells in ")
    assert {p: p.read_bytes() for p in (root / "notebooks").rglob("*") if p.is_file()} == before


def test_all_notebooks_run_top_folder_first_each_from_its_ipynb(root):
    """Without names: notebooks/ first, then its subfolders; a pair runs from its .ipynb."""
    for name in ("zeta.py", "alpha.py", "figures/fig.py", "helper.txt"):
        write(root, f"notebooks/{name}", percent("x = 1"))
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), root / "notebooks" / "alpha.ipynb")
    write(root, "notebooks/plain_module.py", "x = 1\n")  # no cells: not a notebook
    assert [p.relative_to(root).as_posix() for p in find_notebooks()] == [
        "notebooks/alpha.ipynb",
        "notebooks/zeta.py",
        "notebooks/figures/fig.py",
    ]


def test_check_notebooks_refuses_an_unknown_name_before_starting_a_kernel(root):
    write(root, "notebooks/good.py", percent("x = 1"))
    with pytest.raises(ProjectError, match="no notebook 'nope' in notebooks/"):
        run_notebooks(["good", "nope"])


def test_check_notebooks_leaves_results_and_figures_byte_for_byte_as_they_were(root):
    """A notebook that reads a result, saves another and rewrites a figure's sidecar changes
    nothing on disk: it ran against a scratch copy, which is gone afterwards."""
    from {{ cookiecutter.module_name }} import results

    results.save("exp", {"x": 1})
    write(root, "figures/fig.json", '{"source": "notebooks/figures/fig.py"}\n')
    write(root, "figures/fig.pdf", "%PDF-1.4 not really\n")
    write(
        root,
        "notebooks/saver.py",
        percent(
            "from {{ cookiecutter.module_name }} import paths, results",
            'assert results.load_latest("exp") == {"x": 1}',
            'results.save("exp", {"x": 2})',
            'assert results.load_latest("exp") == {"x": 2}',
            '(paths.FIGURES_DIR / "fig.json").write_text("{}")',
            '(paths.FIGURES_DIR / "fig.pdf").unlink()',
        ),
    )

    def snapshot():
        found = {}
        for folder in ("results", "figures"):
            for path in sorted((root / folder).rglob("*")):
                content = path.read_bytes() if path.is_file() else None
                found[path.relative_to(root).as_posix()] = content
        return found

    before = snapshot()
    [run] = run_notebooks(["saver"], timeout=120)
    assert run.ok, str(run)
    assert snapshot() == before
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".check")) == []
