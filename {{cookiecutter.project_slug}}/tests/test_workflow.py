"""The workflow settings: steps in order, each entry checked before anything runs."""

import pytest

from {{ cookiecutter.module_name }} import paths
from {{ cookiecutter.module_name }}.workflow import WorkflowError, plan

EXTRACT = {"notebook": "notebooks/explore.ipynb", "cell": 10, "name": "kmeans"}
SWEEP = {"script": "scripts/kmeans.py", "grid": "k=2,3"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "scripts").mkdir()
    monkeypatch.setenv("PROJECT_ROOT", str(tmp_path))
    paths.find_root.cache_clear()
    yield tmp_path
    paths.find_root.cache_clear()


def test_steps_come_in_order_extractions_first(project):
    steps = plan({"sweep": [SWEEP], "extract": [EXTRACT]})
    assert [(s.kind, s.done) for s in steps] == [("extract", False), ("sweep", False)]
    assert steps[0].options == {**EXTRACT, "cell": "10"}
    assert steps[1].options == {"script": "scripts/kmeans.py", "grid": "k=2,3", "settings": ""}


def test_an_existing_script_is_not_extracted_again(project):
    (project / "scripts" / "kmeans.py").write_text("k = 3\n")
    (step,) = plan({"extract": [EXTRACT]})
    assert step.done and step.title == "scripts/kmeans.py exists: not extracted again"


def test_no_settings_no_steps(project):
    assert plan({}) == []


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"extract": "oops"}, "extract must be a list of tables"),
        ({"extract": [{"notebook": "n.ipynb", "cell": 1}]}, "extract entry 1 needs name"),
        ({"extract": [{**EXTRACT, "nmae": "x"}]}, "extract entry 1 has unknown keys nmae"),
        ({"extract": [{**EXTRACT, "name": "../x"}]}, "extract name '../x' is not a plain name"),
        ({"extract": [{**EXTRACT, "cell": [1]}]}, "cell = [1] must be a string or number"),
        ({"sweep": [{"script": "scripts/m.py"}]}, "sweep of scripts/m.py needs a grid"),
        ({"sweep": [{"grid": "k=1"}]}, "sweep entry 1 needs script"),
    ],
)
def test_bad_settings_are_one_clear_line(project, settings, message):
    with pytest.raises(WorkflowError, match="workflow] in pyproject.toml") as raised:
        plan(settings)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
