"""The workspace extension in a baked project: notebooks run by the project's own kernel."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import nbformat

# Executes a notebook with nbclient in the project's venv, so the kernel is that venv's own
# Python with the project installed, as a user's Jupyter started from the project runs it.
RUNNER = """
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
where = {"metadata": {"path": str(Path(sys.argv[1]).parent)}}
NotebookClient(notebook, kernel_name="python3", timeout=120, resources=where).execute()
nbformat.write(notebook, sys.argv[2])
"""

MASS_SCRIPT = """
    heaviest = penguins.groupby("species")["body_mass_g"].mean().idxmax()
    k = 3
    mean_mass = float(penguins["body_mass_g"].mean())
"""


def run_notebook(project, cells: list[str]) -> list[str]:
    """Run ``cells`` in notebooks/ of the project with its venv's kernel; return what each printed."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = project.path / "notebooks" / "workspace_check.ipynb"
    nbformat.write(notebook, source)
    runner = project.path / "run_notebook.py"
    runner.write_text(RUNNER)
    done = project.path / "notebooks" / "workspace_check.out.ipynb"
    # Jupyter's server tells a kernel its notebook so; "cell N" is then the notebook's cell
    project.run(
        "python", str(runner), str(source), str(done), timeout=300, env={"JPY_SESSION_NAME": str(source)}
    )
    executed = nbformat.read(done, as_version=4)
    return [
        "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        for cell in executed.cells
    ]


def write_script(project) -> None:
    (project.path / "scripts" / "mass.py").write_text(textwrap.dedent(MASS_SCRIPT).lstrip())


def test_a_notebook_loads_the_extension_and_reports_a_run_on_the_example_data(project):
    """%load_ext, the penguins, %run -i of a script that reads and clobbers, then %workspace."""
    write_script(project)
    module = project.path.name.replace("-", "_")
    outputs = run_notebook(
        project,
        [
            f"%load_ext {module}.workspace",
            "import sys\nimport pandas as pd\n"
            f"from {module} import paths\n"
            'penguins = pd.read_csv(paths.RAW_DIR / "penguins.csv.gz")\n'
            "k = 0\n"
            "print(sys.executable)",
            "%run -i ../scripts/mass.py",
            "%workspace -t DataFrame,int,float --sort name",
        ],
    )
    assert Path(outputs[1].strip()).parent == Path(project.venv.bin("python")).parent  # the project's kernel
    report = outputs[2]
    assert report.splitlines()[0] == (
        "%run -i ../scripts/mass.py: 2 created, 1 overwritten, 1 read from the notebook"
    )
    assert re.search(r"created\s+heaviest\s+str 'Gentoo'$", report, re.M)
    assert re.search(r"^\s+mean_mass\s+float 4201\.75438596491\d*$", report, re.M)
    assert re.search(r"overwrote\s+k\s+int 0  →  int 3$", report, re.M)
    assert re.search(r"read\s+penguins \(lines 1, 3\)$", report, re.M)
    listing = {line.split()[0]: line for line in outputs[3].splitlines()[1:] if line and line[0] != "("}
    assert set(listing) == {"penguins", "k", "mean_mass"}  # heaviest is a str; pd, paths are modules
    assert re.match(r"penguins\s+DataFrame\s+344×8\s+[\d.]+ KiB\+?\s+cell 2$", listing["penguins"])
    assert re.match(r"k\s+int\s+28 B\s+3\s+mass\.py \(cell 3\)$", listing["k"])


def test_the_documented_setting_loads_it_in_every_kernel_of_the_venv(project):
    """The README's line in <venv>/etc/ipython/ipython_config.py: no %load_ext needed."""
    write_script(project)
    module = project.path.name.replace("-", "_")
    readme = (project.path / "docs" / "workspace.md").read_text()  # the README's page on it
    setting = f'c.InteractiveShellApp.extensions.append("{module}.workspace")'
    assert setting in readme and ".venv/etc/ipython/ipython_config.py" in readme
    config = project.venv.path / "etc" / "ipython" / "ipython_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(setting + "\n")
    try:
        outputs = run_notebook(
            project,
            [
                "penguins = __import__('pandas').DataFrame({'body_mass_g': [1.0], 'species': ['x']})",
                "%run -i ../scripts/mass.py",
                f"import json\nfrom {module}.workspace import table\nprint(json.dumps(list(table().name)))",
            ],
        )
    finally:
        config.unlink()  # the venv is shared by the session's other tests
    assert outputs[1].startswith("%run -i ../scripts/mass.py: 3 created, 1 read from the notebook")
    assert json.loads(outputs[2]) == ["heaviest", "k", "mean_mass", "penguins"]
