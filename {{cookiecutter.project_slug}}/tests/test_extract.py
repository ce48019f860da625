"""A notebook cell into a script: golden files, slicing cases, bad input, real runs.

Golden files: each folder of tests/extract_cases/ holds ``notebook.py`` (a
py:percent notebook whose header says which cell to extract and how) and the
expected result, ``expected.py`` (the script) or ``expected.txt`` (the error).
A missing expected file is written from what the code makes now and the test
fails, so a new case is reviewed once and then kept.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from {{ cookiecutter.module_name }} import extract, paths
from {{ cookiecutter.module_name }} import notebook as cells
from {{ cookiecutter.module_name }}.errors import ProjectError
from {{ cookiecutter.module_name }}.notebook import slicing
from {{ cookiecutter.module_name }}.notebook.listing import listing

CASES = Path(__file__).parent / "extract_cases"


def case_options(folder: Path) -> dict:
    return dict(jupytext.read(folder / "notebook.py").metadata.get("extract", {}))


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_golden_files(case, tmp_path, monkeypatch):
    """Each case notebook extracts to exactly its expected script, or fails with its message."""
    folder = CASES / case
    options = case_options(folder)
    monkeypatch.chdir(paths.find_root())
    try:
        made = extract.extract_cell(
            (folder / "notebook.py").relative_to(paths.find_root()),
            options.get("cell", ""),
            name=options.get("name", case),
            save=options.get("save", True),
            allow_undefined=options.get("allow_undefined", False),
            scripts_dir=tmp_path,
        )
    except ProjectError as error:
        produced, expected = str(error) + "\n", folder / "expected.txt"
    else:
        produced, expected = made.text, folder / "expected.py"
    if not expected.exists():
        expected.write_text(produced, encoding="utf-8")
        pytest.fail(f"wrote {expected.relative_to(CASES)}: review it, then run the tests again")
    assert produced == expected.read_text(encoding="utf-8")


def expected_scripts():
    return sorted(CASES.glob("*/expected.py"))


@pytest.mark.parametrize("script", expected_scripts(), ids=lambda p: p.parent.name)
def test_every_expected_script_passes_pyflakes_and_opens_as_a_notebook(script):
    """pyflakes reports nothing; jupytext reads the script's sections as code cells."""
    done = subprocess.run(
        [sys.executable, "-m", "pyflakes", str(script)], capture_output=True, text=True
    )
    assert done.stdout == "", done.stdout
    notebook = jupytext.read(script)
    titles = [c.metadata.get("title") for c in notebook.cells]
    assert titles[:3] == [None, "Imports", "Parameters"]
    assert all(c.cell_type == "code" for c in notebook.cells)


# ---- what the slice keeps: earlier cells in, kept statements out --------------------------------


def kept(earlier: list[str], cell: str) -> list[str]:
    """The source of the earlier statements that the slice for ``cell`` keeps."""
    before = [cells.Cell(i, "code", s) for i, s in enumerate(earlier, start=1)]
    return [ast.unparse(s.node) for s in slicing.needed(before, cell).statements]


@pytest.mark.parametrize(
    "earlier, cell, statements",
    [
        (["x = 1", "y = 2"], "z = x", ["x = 1"]),
        (["x = 1\nx = 2"], "z = x", ["x = 2"]),  # the last definition wins
        (["x = [1]", "x.append(2)", "print(x)"], "z = x", ["x = [1]", "x.append(2)"]),
        (["a = 1", "b = a + 1", "c = 5"], "z = b", ["a = 1", "b = a + 1"]),
        (["d = {}", "d['k'] = 1"], "z = d", ["d = {}", "d['k'] = 1"]),
        (["o = C()", "o.attr = 2"], "z = o", ["o = C()", "o.attr = 2"]),
        (
            ["df = load()", "df.dropna(inplace=True)"],
            "z = df",
            ["df = load()", "df.dropna(inplace=True)"],
        ),
        (["df = load()", "df.head()", "df.describe()"], "z = df", ["df = load()"]),
        (["m = M()", "m.fit(X)"], "z = m", ["m = M()", "m.fit(X)"]),
        (["n = 1", "n += 1"], "z = n", ["n = 1", "n += 1"]),
        (["xs = [3, 1]", "shuffle(xs)"], "z = xs", ["xs = [3, 1]", "shuffle(xs)"]),
        (["xs = [3, 1]", "print(xs)", "len(xs)"], "z = xs", ["xs = [3, 1]"]),
        (["a = [1]", "b = a", "b.append(2)"], "z = a", ["a = [1]", "b = a", "b.append(2)"]),
        (
            ["t = {'a': [1]}", "v = t['a']", "v.sort()"],
            "z = t",
            ["t = {'a': [1]}", "v = t['a']", "v.sort()"],
        ),
        (
            ["k = 0\ndef f():\n    global k\n    k = 1", "f()"],
            "z = k",
            ["k = 0", "def f():\n    global k\n    k = 1", "f()"],
        ),
        (
            ["import numpy as np", "np.random.seed(0)", "np.zeros(1)"],
            "z = np.ones(1)",
            ["import numpy as np", "np.random.seed(0)"],
        ),
        (["import pandas as pd", "pd.DataFrame()"], "z = pd", ["import pandas as pd"]),
        (
            ["def f(x):\n    return g(x)", "def g(x):\n    return x"],
            "z = f(1)",
            ["def f(x):\n    return g(x)", "def g(x):\n    return x"],
        ),
        (["xs = [1, 2]", "for x in xs:\n    x2 = x"], "z = xs", ["xs = [1, 2]"]),
        (
            ["total = 0", "for x in [1, 2]:\n    total += x"],
            "z = total",
            ["total = 0", "for x in [1, 2]:\n    total += x"],
        ),
        (
            ["if c:\n    w = 1", "w = 2 if c else w"],
            "z = w",
            ["if c:\n    w = 1", "w = 2 if c else w"],
        ),
        (
            ["try:\n    q = 1\nexcept NameError:\n    q = 2"],
            "z = q",
            ["try:\n    q = 1\nexcept NameError:\n    q = 2"],
        ),
        (
            ["s = [1]", "ys = [(h := v) for v in s]"],
            "z = h",
            ["s = [1]", "ys = [(h := v) for v in s]"],
        ),
        (["u = 1", "del u", "u = 3"], "z = u", ["u = 3"]),
        (["e = 1", "%time e = 2"], "z = e", ["e = 2"]),
    ],
)
def test_the_slice_keeps_exactly_what_the_cell_needs(earlier, cell, statements):
    assert kept(earlier, cell) == statements


@pytest.mark.parametrize(
    "earlier, cell, statements",
    [
        # A body that mutates and calls a later helper does nothing where it is defined.
        (
            [
                "def step(theta):\n    path.append(theta)\n    return schedule(theta)",
                "path = []",
                "def schedule(t):\n    return t / 2",
                "x0 = 1",
            ],
            "z = x0",
            ["x0 = 1"],
        ),
        # ... and where it is called, it needs its helpers, defined after it but before the call.
        (
            ["def f(x):\n    return helper(x)", "def helper(x):\n    return x", "y = f(1)"],
            "z = y",
            ["def f(x):\n    return helper(x)", "def helper(x):\n    return x", "y = f(1)"],
        ),
        # ... transitively, through a helper that calls a helper.
        (
            ["def a():\n    return b()", "def b():\n    return c()", "def c():\n    return 1"],
            "z = a()",
            ["def a():\n    return b()", "def b():\n    return c()", "def c():\n    return 1"],
        ),
        # A call changes what the body changes.
        (
            ["path = []", "def add(v):\n    path.append(v)", "add(3)"],
            "z = path",
            ["path = []", "def add(v):\n    path.append(v)", "add(3)"],
        ),
        # Imports used only inside a kept body are kept.
        (
            ["import os, tarfile\ndef fetch():\n    return tarfile.open(os.sep)"],
            "data = fetch()",
            ["import os, tarfile", "def fetch():\n    return tarfile.open(os.sep)"],
        ),
        # Default values, decorators and base classes run at definition: they are kept.
        (["d = 3", "def f(x=d):\n    return x"], "z = f()", ["d = 3", "def f(x=d):\n    return x"]),
        (
            ["import functools", "@functools.cache\ndef f():\n    return 1"],
            "z = f()",
            ["import functools", "@functools.cache\ndef f():\n    return 1"],
        ),
        (
            ["class B:\n    pass", "class C(B):\n    pass"],
            "z = C()",
            ["class B:\n    pass", "class C(B):\n    pass"],
        ),
        # Lambda and method bodies read their globals where called.
        (["k = 2", "f = lambda x: x * k"], "z = f(1)", ["k = 2", "f = lambda x: x * k"]),
        (
            ["scale = 2", "class M:\n\n    def go(self):\n        return scale"],
            "z = M().go()",
            ["scale = 2", "class M:\n\n    def go(self):\n        return scale"],
        ),
        # A lambda passed along runs now: what it reads is needed now.
        (
            ["k = 2", "ys = list(map(lambda v: v * k, [1]))"],
            "z = ys",
            ["k = 2", "ys = list(map(lambda v: v * k, [1]))"],
        ),
        # A name bound only in a branch is still the one to keep.
        (["if c:\n    w = 1"], "z = w", ["if c:\n    w = 1"]),
        # A builtin that a cell rebinds is that cell's name.
        (
            ["def sum(x, y):\n    return x + y"],
            "print(sum(1, 2))",
            ["def sum(x, y):\n    return x + y"],
        ),
    ],
)
def test_function_bodies_count_where_they_are_called(earlier, cell, statements):
    assert kept(earlier, cell) == statements


@pytest.mark.parametrize(
    "sources, message",
    [
        (
            ["z = later + 1", "later = 1"],
            "cell 1 of nb.ipynb uses names that no earlier cell defines: later (line 1; cell 2 "
            "defines it, after this one); move the cells that define them above this one, or "
            "define them in an earlier cell, or pass --allow-undefined",
        ),
        (
            ["files = !ls", "n = len(files)"],
            "cell 2 of nb.ipynb uses names that only IPython syntax sets: files (line 1; only "
            "IPython syntax in cell 1 sets it); compute them in Python instead of IPython syntax, "
            "or pass --allow-undefined",
        ),
        (
            ["x = 1", "del x", "y = x"],
            "cell 3 of nb.ipynb uses names that an earlier cell deletes: x (line 1; cell 2 deletes "
            "it); delete them after this cell, or not at all, or pass --allow-undefined",
        ),
    ],
)
def test_a_refusal_names_the_true_cause_the_cells_and_the_fix(sources, message):
    notebook = cells.Notebook(
        Path("nb.ipynb"), [cells.Cell(i, "code", s) for i, s in enumerate(sources, start=1)]
    )
    cell = next(c for c in notebook.cells if c.number == int(message.split()[1]))
    with pytest.raises(ProjectError) as raised:
        extract.build(notebook, cell, "case", package="pkg")
    assert str(raised.value).startswith(message)


def test_effects_say_what_code_binds_reads_mutates_and_deletes():
    found = cells.effects(
        "import numpy as np\nrows.append(np.pi)\ndel old\ndef f():\n    log.append(1)"
    )
    assert found == cells.Effects(
        binds=frozenset({"np", "f"}),
        reads=frozenset({"rows", "old", "log"}),
        mutates=frozenset({"rows"}),
        deletes=frozenset({"old"}),
    )
    assert cells.effects("def f():\n    log.append(1)\nf()").mutates == {"log"}


def parameters_of(source: str, earlier: tuple[str, ...] = ()) -> dict:
    notebook = cells.Notebook(
        Path("nb.ipynb"),
        [cells.Cell(i, "code", s) for i, s in enumerate([*earlier, source], start=1)],
    )
    made = extract.build(
        notebook, notebook.cells[-1], "case", save=False, package="pkg", source="nb.ipynb"
    )
    return {p.name: (p.value, p.help) for p in made.parameters}


@pytest.mark.parametrize(
    "source, found",
    [
        ("alpha = 0.1  # learning rate", {"alpha": (0.1, "learning rate")}),
        ("k = 3\nn = -2", {"k": (3, ""), "n": (-2, "")}),
        ("flag = True  # on", {"flag": (True, "on")}),
        ("s = 'x'  # a 'quoted' # help", {"s": ("x", "a 'quoted' # help")}),
        ("xs = [1, 2]\nys = ('a',)", {"xs": ([1, 2], ""), "ys": (("a",), "")}),
        ("none = None", {"none": (None, "")}),
        ("CONSTANT = 3", {}),  # upper case is a constant
        ("k = 3\nk = 4", {}),  # bound twice
        ("k = 3\nk += 1", {}),  # changed later
        ("xs = [1]\nxs.append(2)", {}),  # changed in place
        ("mixed = [1, 'a']\nnested = [[1]]\nd = {'a': 1}", {}),  # not simple literals
        ("k = 2 + 3", {}),  # an expression, not a literal
        ("help = 'x'\n_hidden = 1", {}),  # names argparse or privacy claim
    ],
)
def test_parameters_are_literal_constants_assigned_once(source, found):
    assert parameters_of(source) == found


def test_an_earlier_parameter_is_an_option_when_the_cell_uses_it():
    assert parameters_of("y = seed * 2", ("seed = 42  # random seed",)) == {
        "seed": (42, "random seed")
    }


# ---- choosing a cell, and refusing bad input -----------------------------------------------------


def write_notebook(path: Path, sources: list[tuple[str, str]], **cell_extra) -> Path:
    notebook = nbformat.v4.new_notebook()
    for kind, source in sources:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(make(source))
    for number, extra in cell_extra.items():
        notebook.cells[int(number.removeprefix("c")) - 1].update(extra)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def notebook(tmp_path) -> Path:
    return write_notebook(
        tmp_path / "nb.ipynb",
        [("markdown", "# Title"), ("code", "x = 1"), ("code", ""), ("code", "y = x + 1  # two")],
        c2={"execution_count": 7, "metadata": {"tags": ["first"]}},
        c4={"execution_count": 9, "id": "the-cell"},
    )


@pytest.mark.parametrize(
    "how", [{"cell": 4}, {"cell": "4"}, {"cell": "the-cell"}, {"execution_count": 9}]
)
def test_a_cell_is_found_by_number_id_or_execution_count(notebook, how):
    read = cells.read(notebook)
    assert cells.select(read, **how).number == 4


@pytest.mark.parametrize(
    "cell, message",
    [
        (5, "{nb} has 4 cells (1-4), no cell 5: `invoke cells {nb}` lists them"),
        (0, "{nb} has 4 cells (1-4), no cell 0: `invoke cells {nb}` lists them"),
        (
            1,
            "cell 1 of {nb} is a markdown cell, not code: code cells are 2, 4 "
            "(`invoke cells {nb}` lists them)",
        ),
        (
            3,
            "cell 3 of {nb} is an empty code cell: code cells with code are 2, 4 "
            "(`invoke cells {nb}` lists them)",
        ),
        (
            "model",
            "{nb} has no cell with id, tag or title 'model' (tags: first): give a cell number; "
            "`invoke cells {nb}` lists them",
        ),
    ],
)
def test_a_bad_cell_is_refused_with_one_line(notebook, cell, message, tmp_path):
    with pytest.raises(ProjectError) as error:
        extract.extract_cell(notebook, cell, scripts_dir=tmp_path / "scripts")
    assert str(error.value) == message.format(nb=notebook)
    assert not (tmp_path / "scripts").exists()


def test_a_notebook_without_cells_says_so(tmp_path):
    empty = write_notebook(tmp_path / "empty.ipynb", [])
    with pytest.raises(ProjectError) as error:
        cells.select(cells.read(empty), 1)
    assert str(error.value) == f"{empty} has no cells: open it in Jupyter and write some code"


def test_an_unknown_execution_count_lists_the_known_ones(notebook):
    with pytest.raises(
        ProjectError, match=r"no cell of .*nb.ipynb ran as In \[3\]: it has In \[7, 9\]$"
    ):
        cells.select(cells.read(notebook), execution_count=3)


def test_a_missing_or_broken_notebook_is_refused(tmp_path):
    (tmp_path / "other.ipynb").write_text("{")
    with pytest.raises(ProjectError) as missing:
        cells.read(tmp_path / "nope.ipynb")
    assert (
        str(missing.value)
        == f"{tmp_path / 'nope.ipynb'} does not exist; {tmp_path} holds other.ipynb: "
        "give one of them"
    )
    with pytest.raises(
        ProjectError, match=r"other.ipynb is not a valid notebook \(.*\): restore it from git"
    ):
        cells.read(tmp_path / "other.ipynb")
    with pytest.raises(ProjectError) as folder:
        cells.read(tmp_path)
    assert str(folder.value) == (
        f"{tmp_path} is a folder; {tmp_path} holds other.ipynb: give one of them"
    )


def test_a_long_reason_is_cut_at_a_word(tmp_path):
    """jupytext's long refusal of a file it cannot read is cut at a word and marked '...'."""
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ProjectError) as broken:
        cells.read(text)
    reason = str(broken.value).split(" (", 1)[1].rsplit("): ", 1)[0]
    assert reason.endswith(" ...") and len(reason) <= 104
    assert reason.startswith("Extension '' is not a notebook extension.")


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a b", "x.py", "x;rm -rf", "ünïcode-", "-x"])
def test_a_hostile_name_is_refused_and_nothing_written(notebook, tmp_path, name):
    with pytest.raises(ProjectError, match="is not a valid script name"):
        extract.extract_cell(notebook, 4, name=name, scripts_dir=tmp_path / "scripts")
    assert not (tmp_path / "scripts").exists()


def test_the_default_name_comes_from_the_tag_then_the_notebook(notebook, tmp_path):
    assert extract.extract_cell(notebook, 2, scripts_dir=tmp_path).path.name == "first.py"
    assert extract.extract_cell(notebook, 4, scripts_dir=tmp_path).path.name == "nb_cell4.py"


def test_an_existing_script_is_kept_unless_forced_and_then_the_change_is_shown(notebook, tmp_path):
    first = extract.extract_cell(notebook, 4, name="two", scripts_dir=tmp_path)
    first.path.write_text(first.path.read_text() + "# my edit\n")
    with pytest.raises(
        ProjectError, match=r"two.py already exists \(and may hold your edits\): pass --force"
    ):
        extract.extract_cell(notebook, 4, name="two", scripts_dir=tmp_path)
    assert first.path.read_text().endswith("# my edit\n")
    again = extract.extract_cell(notebook, 4, name="two", scripts_dir=tmp_path, force=True)
    assert "-# my edit" in again.diff
    assert "# my edit" not in again.path.read_text()
    assert "  replaced the existing script:" in again.report()


def test_the_newer_file_of_a_pair_is_read_and_the_choice_said(tmp_path):
    (tmp_path / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
    ipynb = write_notebook(tmp_path / "nb.ipynb", [("code", "x = 1"), ("code", "y = x")])
    script = tmp_path / "nb.py"
    script.write_text("# %%\nx = 2\n\n# %%\ny = x\n\n# %%\nz = y\n")
    os.utime(ipynb, (1_000_000_000, 1_000_000_000))
    read = cells.read(ipynb)
    assert [c.source for c in read.cells] == ["x = 2", "y = x", "z = y"]
    assert (
        read.note == "nb.py and nb.ipynb differ: reading nb.py, the newer "
        f"(`jupytext --sync {ipynb}` pairs them again)"
    )
    same = write_notebook(
        tmp_path / "nb.ipynb", [("code", "x = 2"), ("code", "y = x"), ("code", "z = y")]
    )
    assert cells.read(same).note == ""


def test_a_cell_magic_cell_is_not_python(tmp_path):
    nb = write_notebook(tmp_path / "nb.ipynb", [("code", "%%bash\necho hi")])
    with pytest.raises(ProjectError, match=r"cell 1 of .* is a %%bash cell, not Python"):
        extract.extract_cell(nb, 1, scripts_dir=tmp_path)


def test_the_listing_shows_kind_count_tags_and_needs(notebook):
    lines = listing(cells.read(notebook))
    assert lines[0] == f"{notebook}: 4 cells; code cells: 2, 4"
    assert lines[2].split() == ["2", "code", "In", "[7]", "#first", "x", "=", "1"]
    assert lines[4].endswith("y = x + 1  # two  <- needs x (2)")


# ---- running the scripts for real ---------------------------------------------------------------


def run_script(script: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_a_script_runs_standalone_with_its_options(tmp_path):
    made = extract.extract_cell(
        CASES / "parameters" / "notebook.py", 5, save=False, scripts_dir=tmp_path
    )
    probe = (
        made.path.read_text()
        + "\nprint(repr((final, alpha, sizes, shape, verbose, label, DATASET)))\n"
    )
    made.path.write_text(probe)
    default = run_script(made.path, cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert (
        default.stdout.splitlines()[-1] == "(3.7, 0.1, [1, 2, 3], (4, 5), False, 'run', 'penguins')"
    )
    changed = run_script(
        made.path,
        "--alpha",
        "1",
        "--sizes",
        "1",
        "--shape",
        "7",
        "8",
        "--verbose",
        "--epochs",
        "2",
        "--dataset",
        "x",
        cwd=tmp_path,
    )
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines()[-1] == "(3.5, 1.0, [1], (7, 8), True, 'run', 'x')"
    assert "run 1 3.5 None (7, 8) ['a', 'b'] 7 x" in changed.stdout
    shown = run_script(made.path, "--help", cwd=tmp_path).stdout
    assert "One pass per epoch." in shown
    assert "--alpha ALPHA" in shown and "learning rate (default: 0.1)" in shown
    assert "--verbose, --no-verbose" in shown


def test_a_script_made_with_allow_undefined_stops_clearly_when_run_alone(tmp_path):
    made = extract.extract_cell(
        CASES / "allow_undefined" / "notebook.py",
        2,
        save=False,
        allow_undefined=True,
        scripts_dir=tmp_path,
    )
    done = run_script(made.path, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"{made.name}.py needs data_from_elsewhere from the notebook: "
        "run it with %run -i in a notebook that defines them"
    )


def test_a_cell_that_raises_raises_the_same_in_the_script(tmp_path):
    made = extract.extract_cell(
        CASES / "raises" / "notebook.py", 2, save=False, scripts_dir=tmp_path
    )
    done = run_script(made.path, "--limit", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "ValueError: 2 values above 1"
    assert run_script(made.path, "--limit", "3", cwd=tmp_path).returncode == 0


def test_the_magics_case_runs_without_ipython(tmp_path):
    made = extract.extract_cell(
        CASES / "magics" / "notebook.py", 4, save=False, scripts_dir=tmp_path
    )
    done = run_script(made.path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["14"]  # display(total): 0+1+4+9


def test_scripts_record_their_source_in_comments(tmp_path):
    made = extract.extract_cell(CASES / "transitive" / "notebook.py", 4, scripts_dir=tmp_path)
    assert made.name == "model"
    text = made.text
    assert "# Extracted from tests/extract_cases/transitive/notebook.py, cell 4" in text
    assert json.dumps(made.inputs) == '{"scale": 1, "offset": 2, "series": 3}'
    assert [p.name for p in made.parameters] == ["base"]


def run_alone(script: Path, *arguments: str, names: list[str], cwd: Path) -> dict:
    """Run ``script`` as ``python script ARGS`` would, in a new process; return some globals."""
    probe = (
        "import json, runpy, sys\n"
        "script, names, *arguments = sys.argv[1:]\n"
        "sys.argv = [script, *arguments]\n"
        "found = runpy.run_path(script, run_name='__main__')\n"
        "print(json.dumps({n: found[n] for n in names.split(',')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(script), ",".join(names), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def run_in_kernel(sources: list[str], cwd: Path, allow_errors: bool = False) -> list[str]:
    """Execute ``sources`` as a notebook's cells in a real IPython kernel; their printed text."""
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    if allow_errors:
        errors = [o for c in notebook.cells for o in c.outputs if o.output_type == "error"]
        return [f"{e.ename}: {e.evalue}" for e in errors] + [
            "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
            for c in notebook.cells
        ]
    return [
        "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
        for c in notebook.cells
    ]


def test_a_script_computes_the_same_alone_and_under_run_i_and_reuses_what_the_notebook_holds(
    tmp_path,
):
    """Alone it computes its inputs; under %run -i it reuses the notebook's; --fresh recomputes."""
    notebook = CASES / "transitive" / "notebook.py"
    made = extract.extract_cell(notebook, 4, name="model", save=False, scripts_dir=tmp_path)
    assert run_alone(made.path, "--base", "5", names=["total"], cwd=tmp_path) == {"total": 33}
    alone = run_alone(made.path, names=["series", "total"], cwd=tmp_path)
    assert alone == {"series": [0, 21, 42], "total": 63}
    earlier = [c.source for c in jupytext.read(notebook).cells[:3]]
    shown = run_in_kernel(
        [
            "\n".join(earlier),  # the notebook as the researcher ran it
            "%run -i model.py",
            "print(total, series)",
            "series = [100]\n%run -i model.py",  # proof that it reuses, not recomputes
            "print(total)",
            "%run -i model.py --fresh",
            "print(total, series)",
        ],
        cwd=tmp_path,
    )
    assert shown[1] == "model: reusing series from the notebook (--fresh recomputes them)\n"
    assert shown[2] == "63 [0, 21, 42]\n"
    assert shown[3] == shown[1]
    assert shown[4] == "100\n"
    assert shown[5] == ""
    assert shown[6] == "63 [0, 21, 42]\n"


def test_under_run_i_the_scripts_machinery_stays_out_of_the_notebook(tmp_path):
    """A user's own `args` and `parser` survive `%run -i`; the script adds the model's names."""
    notebook = CASES / "transitive" / "notebook.py"
    made = extract.extract_cell(notebook, 4, name="model", save=False, scripts_dir=tmp_path)
    earlier = [c.source for c in jupytext.read(notebook).cells[:3]]
    shown = run_in_kernel(
        [
            "\n".join(earlier) + "\nargs, parser = 'mine', 'also mine'",
            "before = set(globals())",
            "%run -i model.py",
            "print(sorted(n for n in set(globals()) - before if not n.startswith('_')))",
            "print(args, parser, '_script' in globals())",
        ],
        cwd=tmp_path,
    )
    assert shown[3] == "['argparse', 'before', 'total']\n"
    assert shown[4] == "mine also mine False\n"
    assert "_script" in made.text


def test_every_expected_script_is_what_ruff_format_writes():
    """The project's pre-commit hook (ruff format) leaves an extracted script as it is."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache"]
        + [str(script) for script in expected_scripts()],
        capture_output=True,
        text=True,
        cwd=paths.find_root(),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_script_under_run_i_leaves_every_variable_in_the_notebook_even_after_an_error(tmp_path):
    """The point of top-level code: after the cell's exception, its variables are there to see."""
    extract.extract_cell(
        CASES / "raises" / "notebook.py", 2, name="fails", save=False, scripts_dir=tmp_path
    )
    shown = run_in_kernel(
        ["%run -i fails.py --limit 1", "print(checked, limit, values, _script.args.limit)"],
        cwd=tmp_path,
        allow_errors=True,
    )
    assert shown == ["ValueError: 2 values above 1", "", "[1] 1 [1, 2, 3] 1\n"]


@pytest.fixture
def scratch_project(tmp_path, monkeypatch):
    """An empty project (its own results/) that PROJECT_ROOT points at, here and in children."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(paths.find_root() / "pyproject.toml", root / "pyproject.toml")
    monkeypatch.setenv("PROJECT_ROOT", str(root))
    paths.find_root.cache_clear()
    yield root
    monkeypatch.undo()
    paths.find_root.cache_clear()


def test_saved_results_are_the_same_alone_and_under_run_i(scratch_project):
    """The save tail: one numbered result per run, equal whether run alone or with %run -i."""
    from {{ cookiecutter.module_name }} import results

    notebook = CASES / "mutations" / "notebook.py"
    made = extract.extract_cell(
        notebook, 4, name="mutations", scripts_dir=scratch_project / "scripts"
    )
    alone = subprocess.run(
        [sys.executable, "scripts/mutations.py"],
        capture_output=True,
        text=True,
        cwd=scratch_project,
        timeout=120,
    )
    assert alone.returncode == 0, alone.stderr
    earlier = [c.source for c in jupytext.read(notebook).cells[:3]]
    shown = run_in_kernel(["\n".join(earlier), "%run -i scripts/mutations.py"], cwd=scratch_project)
    assert shown[1] == (
        "mutations: reusing model, n, noise, rng, rows, table from the notebook "
        "(--fresh recomputes them)\n"
    )
    assert results.latest_number("mutations") == 1  # runs are numbered from 0
    first, second = results.load("mutations", 0), results.load("mutations", 1)
    assert first == second
    assert first["summary"] == (["a", "b"], [4], 2, 3, "m", first["summary"][-1])
    assert sorted(first) == made.saved == ["draw", "summary"]
    assert results.record("mutations", 1)["args"] == {"fresh": False}


def test_an_import_after_a_change_of_sys_path_stays_after_it_and_runs(tmp_path):
    """`sys.path.insert(...)` then `from helpers import double`: both kept, in that order."""
    made = extract.extract_cell(
        CASES / "import_path" / "notebook.py", 3, save=False, scripts_dir=tmp_path
    )
    text = made.text
    assert text.index("sys.path.insert(0,") < text.index("from helpers import double")
    probe = made.path.read_text() + "\nprint(doubled)\n"
    made.path.write_text(probe)
    done = run_script(made.path, cwd=paths.find_root())
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[2, 4]\n"
