"""`invoke cells` and `invoke extract-cell`, run for real in a baked project.

The example's model cell becomes scripts/kmeans.py; bad input gets one line and a
non-zero exit; notebooks written by others (tests/data/notebooks, see its README)
extract cell by cell without a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "notebooks"


def invoke(project, *arguments: str, check: bool = True):
    return project.run("invoke", *arguments, check=check)


def test_cells_lists_every_cell_with_what_it_needs(project):
    """One line a cell: number, kind, tags, first line, and the earlier cells a code cell reads."""
    lines = invoke(project, "cells", "notebooks/explore.ipynb").stdout.splitlines()
    assert lines[0] == "notebooks/explore.ipynb: 10 cells; code cells: 2-6, 8, 10"
    assert lines[1].split() == ["1", "markdown", "Exploring", "the", "Palmer", "penguins"]
    assert lines[5].endswith('penguins = data.load("penguins")  <- needs data (3)')
    assert lines[10].split("<- ")[-1] == (
        "needs MEASUREMENTS (6), kmeans2 (3), measured (8), pd (3), whiten (3)"
    )
    assert "#kmeans  k = 3  # number of clusters" in lines[10]


def test_extract_cell_turns_the_model_cell_into_the_kmeans_script(project):
    """The example's cell 10 (tag kmeans) becomes scripts/kmeans.py with --k and --seed."""
    done = invoke(project, "extract-cell", "notebooks/explore.ipynb", "10")
    assert done.stdout.splitlines()[:4] == [
        "Wrote scripts/kmeans.py from cell 10 of notebooks/explore.ipynb",
        "  parameters: --k=3, --seed=42",
        "  inputs from earlier cells: cell 5: penguins; cell 6: MEASUREMENTS; cell 8: measured",
        "  imports: import pandas as pd; from scipy.cluster.vq import kmeans2, whiten; "
        "from penguin_study import data",
    ]
    script = project.path / "scripts" / "kmeans.py"
    text = script.read_text()
    assert (
        '_script.parser.add_argument(\n    "--k",\n    type=int,\n    default=3,\n'
        '    help="number of clusters (default: %(default)s)",\n)'
    ) in text
    assert "k = _script.args.k  # number of clusters\nseed = _script.args.seed  # random seed" in text
    assert 'results.save(\n    "kmeans",' in text and "args=_script.args," in text
    assert "penguins = data.load" in text and "data.tables()" not in text
    flakes = project.run("python", "-m", "pyflakes", "scripts/kmeans.py", check=False)
    assert (flakes.returncode, flakes.stdout) == (0, "")
    lint = project.run("ruff", "check", "--no-cache", "scripts/kmeans.py", check=False)
    assert lint.returncode == 0, lint.stdout
    formatted = project.run("ruff", "format", "--check", "--no-cache", "scripts/kmeans.py", check=False)
    assert formatted.returncode == 0, formatted.stdout  # the pre-commit hook leaves it as it is
    checked = invoke(project, "lint", "--", "scripts/kmeans.py")
    assert checked.stdout.strip() == "lint: no problems"


def test_a_cell_of_a_notebook_without_the_database_runs_standalone_with_options(project):
    """A notebook of its own: extracted, then run with `python scripts/NAME.py --k 4`."""
    notebook = project.path / "notebooks" / "toy.py"
    notebook.write_text(
        "# %%\nimport math\n\n# %%\nvalues = [math.sqrt(i) for i in range(10)]\n\n"
        '# %% tags=["toy"]\nk = 3  # how many values\nlargest = sorted(values)[-k:]\n'
        "print(f'largest {k}: {sum(largest):.3f}')\n"
    )
    done = invoke(project, "extract-cell", "notebooks/toy.py", "toy", "--no-save")
    assert done.stdout.splitlines()[0] == "Wrote scripts/toy.py from cell 3 of notebooks/toy.py"
    ran = project.run("python", "scripts/toy.py", "--k", "4")
    assert ran.stdout == f"largest 4: {sum(sorted(i**0.5 for i in range(10))[-4:]):.3f}\n"
    shown = project.run("python", "scripts/toy.py", "--help").stdout
    assert "--k K" in shown and "how many values (default: 3)" in shown and "--fresh" in shown


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["notebooks/nope.ipynb", "1"],
            "Error: notebooks/nope.ipynb does not exist; notebooks holds explore.ipynb, results.ipynb: "
            "give one of them",
        ),
        (
            ["notebooks/explore.ipynb", "12"],
            "Error: notebooks/explore.ipynb has 10 cells (1-10), no cell 12: "
            "`invoke cells notebooks/explore.ipynb` lists them",
        ),
        (
            ["notebooks/explore.ipynb", "9"],
            "Error: cell 9 of notebooks/explore.ipynb is a markdown cell, not code: code cells are "
            "2-6, 8, 10 (`invoke cells notebooks/explore.ipynb` lists them)",
        ),
        (
            ["notebooks/explore.ipynb", "model"],
            "Error: notebooks/explore.ipynb has no cell with id, tag or title 'model' (tags: kmeans): "
            "give a cell number; `invoke cells notebooks/explore.ipynb` lists them",
        ),
        (
            ["notebooks/explore.ipynb", "10", "--name", "../../x"],
            "Error: --name '../../x' is not a valid script name: use letters, digits and underscores "
            "(a Python identifier, e.g. kmeans), without a folder or '.py'",
        ),
        (
            ["notebooks/explore.ipynb", "10", "--name", "/tmp/evil"],
            "Error: --name '/tmp/evil' is not a valid script name: use letters, digits and underscores "
            "(a Python identifier, e.g. kmeans), without a folder or '.py'",
        ),
        (
            ["notebooks/explore.ipynb", "10", "--name", "a;touch pwned"],
            "Error: --name 'a;touch pwned' is not a valid script name: use letters, digits and "
            "underscores (a Python identifier, e.g. kmeans), without a folder or '.py'",
        ),
        (
            ["notebooks/explore.ipynb", "4", "--execution-count"],
            "Error: no cell of notebooks/explore.ipynb ran as In [4]: it holds no execution counts",
        ),
    ],
)
def test_bad_input_gets_one_line_a_non_zero_exit_and_writes_nothing(project, arguments, message):
    done = invoke(project, "extract-cell", *arguments, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == message
    assert "Traceback" not in done.stderr + done.stdout
    assert sorted(p.name for p in (project.path / "scripts").iterdir()) == [".gitkeep"]
    assert not (project.path / "pwned").exists()


def test_a_broken_notebook_and_an_existing_script_are_refused(project):
    (project.path / "notebooks" / "broken.ipynb").write_text('{"cells": [')
    done = invoke(project, "extract-cell", "notebooks/broken.ipynb", "1", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: notebooks/broken.ipynb is not a valid notebook (")
    assert done.stderr.strip().endswith("restore it from git or re-save it in Jupyter")
    invoke(project, "extract-cell", "notebooks/explore.ipynb", "10")
    again = invoke(project, "extract-cell", "notebooks/explore.ipynb", "10", check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "Error: scripts/kmeans.py already exists (and may hold your edits): pass --force to replace it "
        "(the changes are shown), or --name to write another script"
    )
    forced = invoke(project, "extract-cell", "notebooks/explore.ipynb", "10", "--force", "--no-save")
    assert "  replaced the existing script:" in forced.stdout
    assert "-results.save(" in forced.stdout


def test_a_notebook_path_with_spaces_and_shell_characters_works(project):
    """No shell is involved anywhere: the odd name is just a file name."""
    odd = "my notes; $(touch pwned) & 'x' `id`"
    notebooks = project.path / "notebooks"
    for suffix in (".ipynb", ".py"):
        shutil.copy(notebooks / f"explore{suffix}", notebooks / f"{odd}{suffix}")
    done = invoke(project, "extract-cell", f"notebooks/{odd}.ipynb", "10", "--name", "odd")
    assert done.stdout.splitlines()[0] == f"Wrote scripts/odd.py from cell 10 of notebooks/{odd}.ipynb"
    script = (project.path / "scripts" / "odd.py").read_text()
    assert f"# Extracted from notebooks/{odd}.ipynb, cell 10" in script
    listed = invoke(project, "cells", f"notebooks/{odd}.ipynb").stdout
    assert listed.startswith(f"notebooks/{odd}.ipynb: 10 cells")
    assert not (project.path / "pwned").exists()


PROPERTY_PROBE = r"""
import io, json, sys, traceback
from pyflakes import api, messages, reporter
from pyflakes.checker import Checker
import ast
from penguin_study import extract
from penguin_study import notebook as notebooks
from penguin_study.notebook import scope
from penguin_study.errors import ProjectError

# What extraction may cause: names it fails to define, imports it gathers for nothing.
BROKEN = (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)
report = {"eligible": 0, "clean": 0, "refused_rightly": 0, "scripts": 0, "refused": 0, "problems": []}
for name in sys.argv[1:]:
    try:
        notebook = notebooks.read(name)
    except ProjectError as error:
        report["refused"] += 1
        if "\n" in str(error):
            report["problems"].append(f"{name}: not one line: {error!r}")
        continue
    defined = set(scope.BUILTINS) | {"display"}
    for cell in notebook.cells:
        if cell.kind != "code" or not cell.source.strip():
            continue
        where = f"{name} cell {cell.number}"
        try:
            free = set(scope.free_names(cell.source))
            eligible = not scope.cell_magic(cell.source) and free <= defined
            bound = scope.effects(cell.source).binds
        except ProjectError:
            eligible, bound = False, set()
        defined |= bound
        try:
            made = extract.build(notebook, notebooks.select(notebook, cell.number), "case")
        except ProjectError as error:
            report["refused"] += 1
            if "\n" in str(error) or not str(error):
                report["problems"].append(f"{where}: not one line: {error!r}")
            elif eligible:
                report["eligible"] += 1
                if "no earlier cell defines" in str(error):  # the cell's names are all defined
                    report["problems"].append(f"{where}: refused wrongly: {error}")
                else:
                    report["refused_rightly"] += 1
            continue
        except Exception:
            report["problems"].append(f"{where}: {traceback.format_exc()}")
            continue
        report["scripts"] += 1
        try:
            tree = compile(made.text, "case.py", "exec", ast.PyCF_ONLY_AST)
        except SyntaxError as error:
            report["problems"].append(f"{where}: does not compile: {error}")
            continue
        found = Checker(tree, filename="case.py").messages
        broken = [m for m in found if isinstance(m, BROKEN)]
        report["problems"] += [f"{where}: {m}" for m in broken if not eligible]
        if eligible:
            report["eligible"] += 1
            if broken:
                report["problems"] += [f"{where}: {m}" for m in broken]
            else:
                report["clean"] += 1
report["rate"] = (report["clean"] + report["refused_rightly"]) / max(report["eligible"], 1)
print(json.dumps(report))
"""


def test_every_code_cell_of_notebooks_written_by_others_extracts_or_is_refused_clearly(project, tmp_path):
    """Over 150 notebooks from PyPI packages (tests/data/notebooks), the example's and the golden
    cases: never a traceback, and a cell whose names earlier cells all define gives a script that
    compiles with no undefined name, or a refusal naming IPython syntax or a del, >= 99% of them."""
    shutil.copytree(DATA, tmp_path / "others")
    notebooks = sorted(str(p) for p in (tmp_path / "others").rglob("*.ipynb"))
    assert len(notebooks) >= 150
    notebooks += sorted(str(p) for p in project.path.glob("notebooks/**/*.ipynb"))
    notebooks += sorted(str(p) for p in project.path.glob("tests/extract_cases/*/notebook.py"))
    done = project.run("python", "-W", "ignore", "-c", PROPERTY_PROBE, *notebooks)
    report = json.loads(done.stdout)
    rate = report["rate"]
    print(f"corpus: {report['eligible']} cells whose names earlier cells define, {rate:.2%} clean")
    assert report["eligible"] >= 2000, report
    assert rate >= 0.99, report["problems"][:20]
    assert [p for p in report["problems"] if "refused wrongly" not in p] == []


def test_a_bare_notebook_name_resolves_under_notebooks_in_every_command(project):
    """`invoke extract-cell explore.ipynb 10`, as the design card writes it; the output names the file."""
    done = invoke(project, "extract-cell", "explore.ipynb", "10")
    assert done.stdout.splitlines()[0] == "Wrote scripts/kmeans.py from cell 10 of notebooks/explore.ipynb"
    assert invoke(project, "cells", "explore").stdout.startswith("notebooks/explore.ipynb: 10 cells")
    listed = invoke(project, "cells", "kmeans_purity.py").stdout  # in notebooks/figures/, the only one
    assert listed.startswith("notebooks/figures/kmeans_purity.py: ")
    figures = invoke(project, "figures", "--list", "--", "figures/kmeans_purity.py").stdout
    assert "kmeans_purity.py" in figures
    for folder in ("a", "b"):
        (project.path / "notebooks" / folder).mkdir()
        (project.path / "notebooks" / folder / "twin.py").write_text("# %%\nx = 1\n")
    ambiguous = invoke(project, "cells", "twin.py", check=False)
    assert (ambiguous.returncode, ambiguous.stderr.strip()) == (
        1,
        "Error: twin.py is ambiguous: it could be notebooks/a/twin, notebooks/b/twin; give the path",
    )
    checked = invoke(project, "check-notebooks", "--", "twin.py", check=False)
    assert checked.stderr.strip() == ambiguous.stderr.strip()


@pytest.mark.parametrize(
    "content",
    [b'{"cells": [', b"[]", b'{"cells": 5}', b"\x89PNG\r\n\x1a\n\x00\xff\xfe"],
    ids=["invalid JSON", "a list", "cells not a list", "binary"],
)
def test_every_command_that_reads_a_notebook_gives_one_line_for_a_malformed_one(project, content):
    (project.path / "notebooks" / "bad.ipynb").write_bytes(content)
    for command in (
        ["cells", "bad.ipynb"],
        ["extract-cell", "notebooks/bad.ipynb", "1"],
        ["lint", "--", "notebooks/bad.ipynb"],
        ["check-notebooks", "--", "bad"],
    ):
        done = invoke(project, *command, check=False)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("Error: notebooks/bad.ipynb is not a valid notebook ("), (command, line)
        assert line.endswith("restore it from git or re-save it in Jupyter")
        assert "Traceback" not in done.stdout + done.stderr


PURE_PROBE = r"""
import ast, json, subprocess, sys, tempfile
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from penguin_study import extract
from penguin_study import notebook as notebooks
from penguin_study.notebook import scope
from penguin_study.errors import ProjectError

# Pure Python: no module outside the standard library, none that reaches the system, the
# clock or chance, and no call that reads files, input or object identities.
IMPURE = {"os", "sys", "subprocess", "socket", "urllib", "shutil", "pathlib", "random", "time",
          "datetime", "uuid", "tempfile", "glob", "io", "threading", "multiprocessing", "asyncio",
          "http", "getpass", "platform", "secrets", "signal", "webbrowser", "logging"}
CALLS = {"open", "input", "exec", "eval", "breakpoint", "id", "hash", "__import__", "display"}


def pure(source):
    try:
        tree = ast.parse(scope.to_python(source))
    except SyntaxError:
        return False
    if "get_ipython" in ast.unparse(tree):
        return False
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        if any(n in IMPURE or n not in sys.stdlib_module_names for n in names):
            return False
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALLS:
            return False
    return True


def error_of(outputs):
    return next((o.ename for o in outputs if o.output_type == "error"), "")


compared = []
folder = Path(tempfile.mkdtemp())
for name in sys.argv[1:]:
    try:
        notebook = notebooks.read(name)
    except ProjectError:
        continue
    prefix = []
    for cell in notebook.code_cells():
        if not pure(cell.source):
            break
        prefix.append(cell)
    wanted = []
    for cell in prefix:
        try:
            made = extract.build(notebook, cell, "case", save=False)
        except ProjectError:
            continue
        if "print(" in cell.source and "IPython only" not in made.text:
            wanted.append((cell, made.text))
    if not wanted:
        continue
    document = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c.source) for c in prefix[: prefix.index(wanted[-1][0]) + 1]]
    )
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    NotebookClient(document, km=manager, timeout=60, allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    for cell, text in wanted:
        outputs = document.cells[prefix.index(cell)].outputs
        in_kernel = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        script = folder / "case.py"
        script.write_text(text)
        alone = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                               cwd=folder, timeout=60)
        last = (alone.stderr.strip().splitlines() or [""])[-1]
        error = last.split(":")[0] if alone.returncode else ""
        # The script's slice may print before the cell does: the cell's print comes last.
        tail = alone.stdout[len(alone.stdout) - len(in_kernel):]
        compared.append({
            "where": f"{Path(name).name} cell {cell.number}",
            "kernel": [in_kernel, error_of(outputs)],
            "alone": [tail, error],
        })
print(json.dumps(compared))
"""


def test_pure_python_cells_print_the_same_as_a_script_as_in_a_kernel(project, tmp_path):
    """Cells of notebooks by others that need only pure Python (standard library, no files,
    clock or chance) print, as extracted scripts run alone, what they print in a real kernel."""
    shutil.copytree(DATA, tmp_path / "others")
    notebooks = sorted(str(p) for p in (tmp_path / "others").rglob("*.ipynb"))
    done = project.run("python", "-W", "ignore", "-c", PURE_PROBE, *notebooks, timeout=900)
    compared = json.loads(done.stdout)
    assert len(compared) >= 10, compared
    differ = [c for c in compared if c["kernel"] != c["alone"]]
    assert differ == []
