"""The hooks' functions, rendered as cookiecutter renders them and imported."""

from __future__ import annotations

import importlib.util
import re
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


def load_dev():
    spec = importlib.util.spec_from_file_location("dev", TEMPLATE / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_shipped_ipynb_is_what_jupytext_makes_of_its_script():
    """`python3 dev.py sync-notebooks` writes them; a script edited without it fails here."""
    dev = load_dev()
    scripts = dev.example_scripts()
    stems = sorted(s.name.split("%}")[1].split(".py")[0] for s in scripts)
    assert stems == ["explore", "kmeans_purity", "results", "start"]
    for script in scripts:
        shipped = dev.paired_ipynb(script)
        assert shipped.read_text(encoding="utf-8") == dev.notebook_text(script), (
            f"{shipped.name} differs from {script.name}: run `python3 dev.py sync-notebooks`"
        )

        # {{ cookiecutter.project_slug }} in the kernelspec header is not YAML: read a stand-in.
        def plain(text: str) -> str:
            return re.sub(r"\{\{.*?\}\}", "jinja", text)

        from_script = jupytext.reads(plain(script.read_text(encoding="utf-8")), fmt="py:percent")
        from_notebook = jupytext.reads(plain(shipped.read_text(encoding="utf-8")), fmt="ipynb")
        assert [(c.cell_type, c.source) for c in from_script.cells] == [
            (c.cell_type, c.source) for c in from_notebook.cells
        ]
        text = shipped.read_text(encoding="utf-8")
        assert "{%" not in text and "{#" not in text  # only {{ cookiecutter.* }} is Jinja here


def test_sync_notebooks_is_idempotent():
    """Writing again changes nothing: the cell ids depend only on the script."""
    dev = load_dev()
    script = dev.example_scripts()[0]
    assert dev.notebook_text(script) == dev.notebook_text(script)


def test_order_pairs_makes_each_script_at_least_as_new_as_its_notebook(post, tmp_path):
    import os

    folder = tmp_path / "notebooks"
    (folder / "figures").mkdir(parents=True)
    for stem in ("a", "figures/b"):
        (folder / f"{stem}.py").write_text("# %%\nx = 1\n")
        (folder / f"{stem}.ipynb").write_text("{}")
        os.utime(folder / f"{stem}.py", ns=(1_000_000_000, 1_000_000_000))
    (folder / "helper.py").write_text("def f():\n    return 1\n")  # not a notebook
    touched = post.order_pairs(folder)
    assert sorted(p.relative_to(folder).as_posix() for p in touched) == ["a.py", "figures/b.py"]
    for stem in ("a", "figures/b"):
        assert (folder / f"{stem}.py").stat().st_mtime_ns >= (folder / f"{stem}.ipynb").stat().st_mtime_ns


def test_git_init_reports_a_missing_git(post, tmp_path, monkeypatch):
    monkeypatch.setattr(post.shutil, "which", lambda name: None)
    assert "git not found" in post.git_init(tmp_path, "A", "a@b")
    assert not (tmp_path / ".git").exists()
