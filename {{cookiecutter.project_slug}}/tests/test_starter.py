"""New notebooks, the project's kernel, and what `invoke workflow` says before any data."""

import json

import jupytext
import pytest

from {{ cookiecutter.module_name }} import paths, starter, workflow


def test_a_new_notebook_is_a_pair_on_the_projects_kernel(scratch_root):
    """NAME.ipynb and NAME.py hold the same cells; the kernel is the project's, named after it."""
    notebook, script = starter.new_notebook("first_look")
    assert (notebook, script) == (
        scratch_root / "notebooks" / "first_look.ipynb",
        scratch_root / "notebooks" / "first_look.py",
    )
    cells = jupytext.read(notebook).cells
    assert [c.source for c in cells] == [c.source for c in jupytext.read(script).cells]
    assert cells[1].source == f"from {paths.PACKAGE} import data, results  # noqa: F401"
    assert cells[2].source == "data.tables()"
    kernel = jupytext.read(notebook).metadata["kernelspec"]
    assert (kernel["name"], kernel["display_name"]) == ("scratch-study", "Python (scratch-study)")
    assert script.read_text() == starter.starter_text("first_look")
    assert script.stat().st_mtime >= notebook.stat().st_mtime  # jupytext opens the pair


@pytest.mark.parametrize(
    "name, problem",
    [
        ("os", "would shadow the module 'os'"),
        ("numpy", "would shadow the module 'numpy'"),
        ("{{ cookiecutter.module_name }}", "would shadow the module"),
        ("2nd", "use letters, digits"),
        ("a.b", "use letters, digits"),
        ("", "use letters, digits"),
    ],
)
def test_a_notebook_name_that_would_shadow_a_module_or_is_no_name_is_refused(
    scratch_root, name, problem
):
    with pytest.raises(starter.StarterError, match=problem):
        starter.new_notebook(name)
    assert not (scratch_root / "notebooks").exists()


def test_an_existing_notebook_is_never_overwritten(scratch_root):
    (scratch_root / "notebooks").mkdir()
    (scratch_root / "notebooks" / "mine.ipynb").write_text("{}")
    with pytest.raises(starter.StarterError, match="notebooks/mine.ipynb exists"):
        starter.new_notebook("mine")
    assert (scratch_root / "notebooks" / "mine.ipynb").read_text() == "{}"
    assert not (scratch_root / "notebooks" / "mine.py").exists()


def test_the_kernel_spec_runs_this_python_and_loads_the_workspace(scratch_root, tmp_path):
    """Registered under a prefix: this Python, the project's name, the extension at start."""
    import sys

    folder = starter.register_kernel(prefix=tmp_path)
    assert folder == tmp_path / "share" / "jupyter" / "kernels" / "scratch-study"
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert spec["display_name"] == "Python (scratch-study)"
    assert any(f"'{paths.PACKAGE}.workspace'" in word for word in spec["argv"])


def test_workflow_on_an_empty_data_raw_says_what_to_do_next(scratch_root):
    """Only the README (and hidden files) in data/raw: nothing to load, and the next steps."""
    raw = scratch_root / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "README.md").write_text("# data/raw\n")
    (raw / ".DS_Store").write_text("")
    assert workflow.raw_data_missing()
    said = workflow.next_steps()
    assert said.startswith("data/raw/ holds no data yet")
    assert "invoke new-notebook NAME" in said and f"[tool.{paths.PACKAGE}.workflow]" in said
    (raw / "survey.csv").write_text("a\n1\n")
    assert not workflow.raw_data_missing()
