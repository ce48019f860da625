"""The hooks' functions, rendered as cookiecutter renders them and imported."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jinja2
import jupytext
import pytest
from conftest import DEFAULT_CONTEXT, TEMPLATE


def load_hook(name: str, tmp_path: Path, **answers):
    """Render hooks/<name>.py with the given answers and import it as a module."""
    context = {k: (v[0] if isinstance(v, list) else v) for k, v in DEFAULT_CONTEXT.items()}
    context.update(project_slug="penguin-study", module_name="penguin_study", **answers)
    source = (TEMPLATE / "hooks" / f"{name}.py").read_text()
    rendered = tmp_path / f"{name}.py"
    rendered.write_text(jinja2.Environment().from_string(source).render(cookiecutter=context))
    spec = importlib.util.spec_from_file_location(name, rendered)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pre(tmp_path):
    return load_hook("pre_gen_project", tmp_path)


@pytest.fixture
def post(tmp_path):
    return load_hook("post_gen_project", tmp_path)


@pytest.mark.parametrize(
    "module, problem",
    [
        ("penguin_study", None),
        ("study2024", None),
        ("match", None),  # a soft keyword imports fine
        ("lambda", "keyword"),
        ("json", "shadow"),
        ("numpy", "shadow"),
        ("Pandas", "shadow"),
        ("tests", "shadow"),
        ("_private", "underscore"),
        ("étude", "not a valid Python identifier"),
        ("a b", "not a valid Python identifier"),
        ("", "not a valid Python identifier"),
    ],
)
def test_module_names_are_judged(pre, module, problem):
    found = pre.module_problem(module)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    "slug, ok",
    [
        ("penguin-study", True),
        ("a", True),
        ("study.v2", True),
        ("-x", False),
        ("Caps", False),
        ("x y", False),
    ],
)
def test_slugs_are_judged(pre, slug, ok):
    assert (pre.slug_problem(slug) is None) == ok


def test_the_rendered_context_is_data(tmp_path):
    """A value closing the raw string and adding code is read back verbatim."""
    hostile = "''' + __import__('os').system('false') + r''' \"\"\" \\\"\n\\"
    hook = load_hook("pre_gen_project", tmp_path, author_name=hostile)
    assert hook.CONTEXT["author_name"] == hostile


PERCENT_CASES = {
    "magics_and_shell": "# %%\n# %matplotlib inline\nx = 1\n# !ls -l\n    # %time f()\n",
    "metadata_and_title": '# %% Model tags=["parameters"] key="value"\nalpha = 0.1\n',
    "markdown_raw": (
        "# %% [markdown]\n# # Title\n#\n# Text with `code`.\n\n# %% [raw]\n# raw text\n\n# %%\n1 + 1\n"
    ),
    # jupytext writes two blank lines after a def (PEP 8), as the template sources do
    "blank_lines_inside": "# %%\nimport os\n\n\ndef f():\n    return os.sep\n\n\n# %%\nf()\n",
    "cell_magics": "# %%\n# %%time\nx = 1\n\n# %%\n# %%capture out\nprint(1)\n",
    "code_before_first_marker": "import sys\n\n# %%\nprint(sys.argv)\n",
}


@pytest.mark.parametrize("case", sorted(PERCENT_CASES))
def test_percent_reader_agrees_with_jupytext(post, case):
    """The hook's stdlib reader gives the cells jupytext gives for the same script."""
    text = PERCENT_CASES[case]
    ours = post.percent_to_notebook(text, case)
    theirs = jupytext.reads(text, fmt="py:percent")
    assert [(c["cell_type"], c["source"], c["metadata"]) for c in ours["cells"]] == [
        (c.cell_type, c.source, dict(c.metadata)) for c in theirs.cells
    ]


def test_pair_notebooks_writes_valid_nbformat(post, tmp_path):
    import nbformat

    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "a.py").write_text(PERCENT_CASES["markdown_raw"])
    (folder / "helper.py").write_text("def f():\n    return 1\n")  # not a notebook
    written = post.pair_notebooks(folder)
    assert [p.name for p in written] == ["a.ipynb"]
    notebook = nbformat.read(folder / "a.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert (
        json.loads((folder / "a.ipynb").read_text())["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    )


def test_git_init_reports_a_missing_git(post, tmp_path, monkeypatch):
    monkeypatch.setattr(post.shutil, "which", lambda name: None)
    assert "git not found" in post.git_init(tmp_path, "A", "a@b")
    assert not (tmp_path / ".git").exists()
