"""Parameter sweeps: settings in, one fresh process per run, each result saved once."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from {{ cookiecutter.module_name }} import paths, provenance, results, sweep
from {{ cookiecutter.module_name }}.errors import ProjectError
from {{ cookiecutter.module_name }}.sweep import Option, SweepError

TOY = textwrap.dedent(
    '''
    """A toy model: its score depends on the settings; --fail makes it crash."""
    import argparse

    from {{ cookiecutter.module_name }} import results

    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=3, help="clusters")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()
    if args.fail:
        raise SystemExit(f"k={args.k} cannot be fitted")
    results.save("toy", {"score": 10 * args.k + args.seed}, args=args)
    '''
)

PYPROJECT = textwrap.dedent(
    """
    [project]
    name = "sweep-test"

    [tool.{{ cookiecutter.module_name }}.sweep]
    jobs = 2
    batch_size = 2

    [tool.{{ cookiecutter.module_name }}.sweep.slurm.short]
    jobs = 3
    queue = "short"
    cores = 4
    memory = "8GB"
    walltime = "00:30:00"
    job_script_prologue = ["module load python"]
    """
)


def _clear_caches():
    for cached in (paths.find_root, paths.config, paths.project_name):
        cached.cache_clear()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throwaway project (pyproject with sweep settings, a toy script), PROJECT_ROOT set to it."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "toy.py").write_text(TOY)
    monkeypatch.setenv("PROJECT_ROOT", str(tmp_path))
    _clear_caches()
    yield tmp_path
    _clear_caches()


@pytest.fixture
def without_dask(monkeypatch):
    """`import distributed` fails, as when the cluster extra is not installed."""
    monkeypatch.setitem(sys.modules, "distributed", None)


def saved(experiment="toy"):
    """(k, seed) of every complete result, sorted."""
    table = results.runs(experiment)
    return sorted(zip(table["k"].astype(int), table["seed"].astype(int), strict=True))


# ---- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, grid",
    [
        ("k=2,3,4", {"k": ["2", "3", "4"]}),
        ("k=2,3 seed=1", {"k": ["2", "3"], "seed": ["1"]}),
        ("  alpha=0.1,1e-3   n-iter=10 ", {"alpha": ["0.1", "1e-3"], "n-iter": ["10"]}),
        ("label='a b',c", {"label": ["a b", "c"]}),
        ("path=data/x=1.csv", {"path": ["data/x=1.csv"]}),
    ],
)
def test_a_grid_is_names_with_comma_separated_values(text, grid):
    assert sweep.parse_grid(text) == grid


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "names no parameter"),
        ("k", "'k' is not NAME=VALUE,VALUE,..."),
        ("k=2,,3", "'k=2,,3' has an empty value"),
        ("k=", "'k=' has an empty value"),
        ("=2", "'=2' is not NAME=VALUE"),
        ("k=1 k=2", "'k' is given twice"),
        ("k='2", "No closing quotation"),
        ("k;rm=1", "is not NAME=VALUE"),
    ],
)
def test_a_malformed_grid_is_refused_with_an_example(text, message):
    with pytest.raises(SweepError, match="e.g. --grid|given twice") as error:
        sweep.parse_grid(text)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "text, grid",
    [
        ("k=2..6", {"k": ["2", "3", "4", "5", "6"]}),
        ("k=6..4,9", {"k": ["6", "5", "4", "9"]}),
        ("k=-2..1", {"k": ["-2", "-1", "0", "1"]}),
        ("lr=0.1:1:0.1", {"lr": ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9",
                                 "1"]}),
        ("lr=0:1:0.3", {"lr": ["0", "0.3", "0.6", "0.9"]}),
        ("lr=1e-3:3e-3:1e-3", {"lr": ["0.001", "0.002", "0.003"]}),
        ("shift=1:-1:-0.5", {"shift": ["1", "0.5", "0", "-0.5", "-1"]}),
        ("path=../data/x.csv,a:b", {"path": ["../data/x.csv", "a:b"]}),
    ],
)  # fmt: skip
def test_a_grid_value_may_be_a_range_of_numbers_without_float_noise(text, grid):
    assert sweep.parse_grid(text) == grid


@pytest.mark.parametrize(
    "text, message",
    [
        ("k=2..x", "--grid: k=2..x is not a range: write FIRST..LAST of whole numbers (k=2..6) "
         "or START:STOP:STEP (k=0.1:1:0.1)"),
        ("k=1.5..3", "--grid: k=1.5..3 is not a range"),
        ("lr=0.1:1", "--grid: lr=0.1:1 is not a range"),
        ("lr=0:1:0", "--grid: lr=0:1:0 is START:STOP:STEP with a step of 0, which never goes "
         "from 0 to 1: e.g. lr=0.1:1:0.1"),
        ("lr=1:0:0.1", "--grid: lr=1:0:0.1 is START:STOP:STEP with a step of 0.1, which never"),
        ("k=1..10000000", "--grid: k=1..10000000 has 10,000,000 values (at most 100,000): check"),
    ],
)  # fmt: skip
def test_a_malformed_range_is_refused_in_one_line(text, message):
    with pytest.raises(SweepError) as error:
        sweep.parse_grid(text)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_values_that_look_like_options_reach_the_script_as_values(project, without_dask):
    """`--grid "shift=-1,0,1"`: each value joins its option (--shift=-1), so argparse takes it."""
    (project / "scripts" / "shift.py").write_text(
        "import argparse\n"
        "from {{ cookiecutter.module_name }} import results\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--shift', type=float)\n"
        "parser.add_argument('--label')\n"
        "args = parser.parse_args()\n"
        "results.save('shift', {'twice': 2 * args.shift}, args=args)\n"
    )
    plan = sweep.plan("scripts/shift.py", "shift=-1,0,-1e-3,-inf label=-x")
    assert [r.arguments for r in plan.runs][:2] == [
        ["--shift=-1", "--label=-x"],
        ["--shift", "0", "--label=-x"],
    ]
    outcome = sweep.sweep(plan)
    assert outcome.problem() is None
    table = results.runs("shift")
    assert sorted(table["shift"]) == [-float("inf"), -1.0, -0.001, 0.0]
    assert set(table["label"]) == {"-x"}


def test_settings_are_every_combination_for_each_row_of_a_file():
    rows = [{"model": "a"}, {"model": "b", "alpha": 2}]
    assert sweep.combine({"k": ["1", "2"]}, rows) == [
        {"model": "a", "k": "1"},
        {"model": "a", "k": "2"},
        {"model": "b", "alpha": 2, "k": "1"},
        {"model": "b", "alpha": 2, "k": "2"},
    ]
    with pytest.raises(SweepError, match="k is set by both --grid and --settings"):
        sweep.combine({"k": ["1"]}, [{"k": 2}])


def test_settings_files_are_read_as_csv_json_and_toml(tmp_path):
    (tmp_path / "s.csv").write_text("k,seed\n2,1\n3,\n")
    (tmp_path / "s.json").write_text('[{"k": 2, "seed": 1}, {"k": 3, "tags": ["a", "b"]}]')
    (tmp_path / "s.toml").write_text("[[run]]\nk = 2\nseed = 1\n\n[[run]]\nk = 3\n")
    assert sweep.read_settings(tmp_path / "s.csv") == [{"k": "2", "seed": "1"}, {"k": "3"}]
    assert sweep.read_settings(tmp_path / "s.json") == [
        {"k": 2, "seed": 1},
        {"k": 3, "tags": ["a", "b"]},
    ]
    assert sweep.read_settings(tmp_path / "s.toml") == [{"k": 2, "seed": 1}, {"k": 3}]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("s.json", '{"k": 2}', "no settings found: write a list of objects"),
        ("s.json", "[{", "cannot be read"),
        ("s.toml", "k = 2", "no settings found: write [[run]] tables"),
        ("s.yaml", "k: 2", "must be a .csv, .json or .toml file"),
        ("s.csv", "", "no settings found"),
    ],
)
def test_a_bad_settings_file_is_one_clear_error(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(SweepError, match="s\\.") as error:
        sweep.read_settings(tmp_path / name)
    assert message in str(error.value)
    with pytest.raises(SweepError, match="does not exist"):
        sweep.read_settings(tmp_path / "missing.csv")


# ---- the script's options -------------------------------------------------------------------


def test_options_are_read_from_the_scripts_argparse_calls(tmp_path):
    script = tmp_path / "model.py"
    script.write_text(
        textwrap.dedent(
            """
            import argparse
            raise RuntimeError("the script is read, never run")
            parser = argparse.ArgumentParser()
            parser.add_argument("-k", "--k", type=int, default=3)
            parser.add_argument("--n-iter", type=int)
            parser.add_argument("--verbose", action="store_true")
            parser.add_argument("--plot", action=argparse.BooleanOptionalAction)
            parser.add_argument("--sizes", nargs="+", type=float)
            parser.add_argument("--out", dest="output", default="out.csv")
            parser.add_argument("--jobs", default=os.cpu_count())
            parser.add_argument("data")
            """
        )
    )
    assert sweep.script_options(script) == {
        "k": Option("--k", "k", default=3, kind="int"),
        "n_iter": Option("--n-iter", "n_iter", default=None, kind="int"),
        "verbose": Option("--verbose", "verbose", takes_value=False, default=False),
        "plot": Option("--plot", "plot", takes_value=False, negation="--no-plot", default=None),
        "sizes": Option("--sizes", "sizes", default=None, kind="float"),
        "output": Option("--out", "output", default="out.csv"),
        "jobs": Option("--jobs", "jobs", default=sweep.UNKNOWN),
    }


def test_options_built_at_run_time_are_read_from_the_scripts_help(project):
    script = project / "dynamic.py"
    script.write_text(
        textwrap.dedent(
            """
            import argparse
            parser = argparse.ArgumentParser()
            for name in ["alpha", "n-iter"]:
                parser.add_argument("--" + name, type=float, default=1.0)
            parser.add_argument(*["--quiet"], action="store_true")
            parser.add_argument("--plot", action=argparse.BooleanOptionalAction)
            parser.parse_args()
            """
        )
    )
    assert sweep.script_options(script) == {
        "alpha": Option("--alpha", "alpha"),
        "n_iter": Option("--n-iter", "n_iter"),
        "quiet": Option("--quiet", "quiet", takes_value=False),
        "plot": Option("--plot", "plot", takes_value=False, negation="--no-plot"),
    }


def test_a_script_whose_help_hangs_or_fails_is_a_clear_error(project):
    hangs = project / "hangs.py"
    hangs.write_text("import time\ntime.sleep(60)\nparser.add_argument(*['--k'])\n")
    with pytest.raises(SweepError, match="did not answer within 1 s"):
        sweep.script_options(hangs, timeout=1)
    broken = project / "broken.py"
    broken.write_text("import argparse\nraise ImportError('no module named torch')\n")
    with pytest.raises(SweepError, match="--help failed \\(ImportError: no module named torch\\)"):
        sweep.script_options(broken)
    (project / "invalid.py").write_text("def f(:\n")
    with pytest.raises(SweepError, match="invalid.py:1: not valid Python"):
        sweep.script_options(project / "invalid.py")


def test_a_setting_becomes_the_scripts_command_line():
    options = {
        "k": Option("--k", "k"),
        "n_iter": Option("--n-iter", "n_iter"),
        "verbose": Option("--verbose", "verbose", takes_value=False),
        "plot": Option("--plot", "plot", takes_value=False, negation="--no-plot"),
        "sizes": Option("--sizes", "sizes"),
    }
    setting = {"k": "2", "n_iter": 100, "verbose": "yes", "plot": False, "sizes": [0.5, 1]}
    assert sweep.command_line(setting, options) == [
        "--k", "2", "--n-iter", "100", "--verbose", "--no-plot", "--sizes", "0.5", "1"
    ]  # fmt: skip
    assert sweep.command_line({"verbose": "0", "n-iter": "5"}, options) == ["--n-iter", "5"]
    with pytest.raises(SweepError, match="'maybe' is not true or false"):
        sweep.command_line({"verbose": "maybe"}, options)


# ---- planning ---------------------------------------------------------------------------------


def test_a_plan_lists_every_run_and_its_command(project):
    plan = sweep.plan("scripts/toy.py", "k=2,3 seed=1", repeat=2)
    assert plan.experiment == "toy"
    assert [(r.index, r.setting, r.repeat, r.arguments) for r in plan.runs] == [
        (0, {"k": "2", "seed": "1"}, 1, ["--k", "2", "--seed", "1"]),
        (1, {"k": "2", "seed": "1"}, 2, ["--k", "2", "--seed", "1"]),
        (2, {"k": "3", "seed": "1"}, 1, ["--k", "3", "--seed", "1"]),
        (3, {"k": "3", "seed": "1"}, 2, ["--k", "3", "--seed", "1"]),
    ]
    assert list(plan.table()["command"])[0] == "python scripts/toy.py --k 2 --seed 1"


@pytest.mark.parametrize(
    "script, grid, message",
    [
        ("scripts/toy.py", "k=2 alpha=1 beta=2", "scripts/toy.py has no option --alpha, --beta: "
         "it has --k, --seed, --fail (see python scripts/toy.py --help)"),
        ("scripts/nope.py", "k=2", "script 'scripts/nope.py' does not exist or is not a .py file: "
         "scripts/ has toy.py"),
        ("scripts/toy.py", None, "give the settings to run"),
    ],
)  # fmt: skip
def test_a_plan_refuses_bad_input_before_anything_runs(project, script, grid, message):
    with pytest.raises(SweepError) as error:
        sweep.plan(script, grid)
    assert str(error.value).startswith(message)
    assert not (project / "results").exists()


def test_a_value_the_scripts_argparse_type_refuses_is_refused_before_anything_runs(project):
    (project / "scripts" / "typed.py").write_text(
        "import argparse\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--k', type=int)\n"
        "parser.add_argument('--alpha', type=float)\n"
        "parser.add_argument('--sizes', nargs='+', type=float)\n"
        "parser.add_argument('--label', type=str)\n"
        "parser.add_argument('--fast', action='store_true')\n"
        "parser.parse_args()\n"
    )
    for grid, value in [("k=2,a", "'a'"), ("k=2.0", "'2.0'"), ("k=true", "'true'")]:
        with pytest.raises(SweepError) as error:
            sweep.plan("scripts/typed.py", grid)
        assert str(error.value) == (
            f"--k {value}: scripts/typed.py reads --k as type=int, and {value} is not a whole "
            "number: fix the value"
        )
    with pytest.raises(SweepError, match="^--alpha 'big': scripts/typed.py reads --alpha as"):
        sweep.plan("scripts/typed.py", "alpha=0.1,big")
    settings = project / "runs.json"
    settings.write_text(json.dumps([{"sizes": [0.5, 1, "x"]}]))
    with pytest.raises(SweepError, match="^--sizes 'x': .* type=float, and 'x' is not a number"):
        sweep.plan("scripts/typed.py", settings=settings)
    # what argparse takes is planned: int and float text, numbers from a file, any label
    settings.write_text(json.dumps([{"k": 3, "alpha": 1, "sizes": [0.5, 1], "label": "x"}]))
    planned = sweep.plan("scripts/typed.py", "fast=yes", settings=settings).runs[0].arguments
    assert planned == ["--k", "3", "--alpha", "1", "--sizes", "0.5", "1", "--label", "x", "--fast"]
    grid = "k=-1,+2,1_000 alpha=1e-3,nan,-inf,3"
    assert len(sweep.plan("scripts/typed.py", grid).runs) == 12
    assert not (project / "results").exists()


def test_the_experiment_name_cannot_leave_the_results_folder(project):
    with pytest.raises(ProjectError, match="must be one folder name"):
        sweep.plan("scripts/toy.py", "k=2", experiment="../elsewhere")


# ---- running ----------------------------------------------------------------------------------


def test_a_sweep_without_dask_runs_on_a_local_pool_and_says_how_to_scale_out(project, without_dask):
    messages = []
    outcome = sweep.sweep(sweep.plan("scripts/toy.py", "k=2,3,4 seed=1,2"), notify=messages.append)
    assert saved() == [(2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2)]
    assert "Dask is not installed: running on a local pool of 2" in messages[0]
    assert "pip install -e '.[cluster]'" in messages[0]
    table = outcome.table()
    assert list(table["status"]) == ["done"] * 6
    assert sorted(table["number"]) == sorted(results.runs("toy")["number"])
    assert list(table["score"]) == [21, 22, 31, 32, 41, 42]
    assert outcome.problem() is None


def test_a_sweep_on_a_local_dask_cluster_batches_short_runs(project):
    outcome = sweep.sweep(sweep.plan("scripts/toy.py", "k=2,3,4 seed=1,2"))
    assert outcome.where == "a local Dask cluster of 2 workers"
    assert saved() == [(2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2)]
    states = sorted(outcome.state.glob("[0-9]*.json"))
    assert len(states) == 6
    assert {json.loads(s.read_text())["attempt"] for s in states} == {1}


def test_resume_skips_settings_with_a_complete_result_of_the_same_script(project, without_dask):
    sweep.sweep(sweep.plan("scripts/toy.py", "k=2,3 seed=1"))
    again = sweep.plan("scripts/toy.py", "k=2,3,4 seed=1", resume=True)
    assert [r.existing is not None for r in again.runs] == [True, True, False]
    outcome = sweep.sweep(again)
    assert saved() == [(2, 1), (3, 1), (4, 1)]
    assert list(outcome.table()["status"]) == ["skipped (complete)"] * 2 + ["done"]
    # "2" given as "+2" matches the int the script recorded; a repeat needs a second result
    twice = sweep.plan("scripts/toy.py", {"k": ["+2", "5"], "seed": ["1"]}, repeat=2, resume=True)
    assert [r.existing is not None for r in twice.runs] == [True, False, False, False]
    # an option left out has the script's default: seed=0 here, not the seed=1 saved above
    assert [r.existing is None for r in sweep.plan("scripts/toy.py", "k=2", resume=True).runs] == [
        True
    ]
    sweep.sweep(sweep.plan("scripts/toy.py", "k=2"))  # a second sweep within the same second
    assert saved() == [(2, 0), (2, 1), (3, 1), (4, 1)]
    assert sweep.plan("scripts/toy.py", "k=2 seed=0", resume=True).runs[0].existing is not None
    # a reformatted script (comments, quotes, layout) is the same script: nothing re-runs
    script = project / "scripts" / "toy.py"
    script.write_text("# reformatted\n" + TOY.replace('"score"', "'score'").replace(" = ", "="))
    reformatted = sweep.plan("scripts/toy.py", "k=2,3,4 seed=1", resume=True)
    assert [r.existing is not None for r in reformatted.runs] == [True, True, True]
    # an edited script computes something else: its earlier results do not count
    script.write_text(TOY.replace("10 * args.k", "100 * args.k"))
    edited = sweep.plan("scripts/toy.py", "k=2,3,4 seed=1", resume=True)
    assert [r.existing for r in edited.runs] == [None, None, None]


def test_results_saved_before_records_had_a_script_hash_count_when_the_bytes_match(
    project, without_dask
):
    sweep.sweep(sweep.plan("scripts/toy.py", "k=2"))
    (number,) = results.runs("toy")["number"]
    assert results.record("toy", number)["script_hash"] == provenance.script_hash(
        project / "scripts" / "toy.py"
    )
    record = project / "results" / "toy" / f"toy.{number}.json"
    older = {k: v for k, v in json.loads(record.read_text()).items() if k != "script_hash"}
    record.write_text(json.dumps(older))
    assert sweep.plan("scripts/toy.py", "k=2", resume=True).runs[0].existing == number
    script = project / "scripts" / "toy.py"
    script.write_text(script.read_text() + "\n# the bytes differ now\n")
    assert sweep.plan("scripts/toy.py", "k=2", resume=True).runs[0].existing is None


def test_a_failed_run_keeps_its_stderr_and_the_sweep_goes_on(project, without_dask):
    outcome = sweep.sweep(sweep.plan("scripts/toy.py", "k=2,3 fail=false,true"))
    assert saved() == [(2, 0), (3, 0)]
    failed = [r.index for r in outcome.failed]
    assert failed == [1, 3]
    record = json.loads((outcome.state / "1.json").read_text())
    assert record["returncode"] == 1 and record["status"] == "failed"
    assert record["stderr"].endswith("k=2 cannot be fitted")
    assert outcome.problem().startswith(
        "2 of 4 runs failed: run 1 (k=2 fail=true): k=2 cannot be fitted; "
        "run 3 (k=3 fail=true): k=3 cannot be fitted; each run's stderr is in results/.sweeps/toy/"
    )
    errors = ["", "k=2 cannot be fitted", "", "k=3 cannot be fitted"]
    assert list(outcome.table()["error"]) == errors


@pytest.mark.parametrize("jobs", [-3, 0])
def test_jobs_below_one_are_refused_before_anything_runs(project, jobs):
    with pytest.raises(SweepError) as error:
        sweep.sweep(sweep.plan("scripts/toy.py", "k=2"), jobs=jobs)
    assert str(error.value) == f"jobs={jobs}: give a whole number of 1 or more"
    assert not (project / "results").exists()


@pytest.mark.parametrize(
    "setting, message",
    [
        ("jobs = -3", "jobs = -3 in [tool.{package}.sweep] of pyproject.toml: Input should be "
         "greater than 0"),
        ('jobs = "four"', "jobs = 'four' in [tool.{package}.sweep] of pyproject.toml: Input should "
         "be a valid integer"),
        ("jobs = 2.5", "jobs = 2.5 in [tool.{package}.sweep] of pyproject.toml: Input should be a "
         "valid integer"),
        ("batch_size = 0", "batch_size = 0 in [tool.{package}.sweep] of pyproject.toml: Input"),
        ("threads_per_run = 0", "threads_per_run = 0 in [tool.{package}.sweep] of pyproject"),
        ("connect_timeout = 0", "connect_timeout = 0 in [tool.{package}.sweep] of pyproject.toml: "
         "Input should be greater than 0"),
        ('connect_timeout = "soon"', "connect_timeout = 'soon' in [tool.{package}.sweep]"),
        ('scheduler = 8786', "scheduler = 8786 in [tool.{package}.sweep] of pyproject.toml: Input "
         "should be a valid string"),
        ("job = 2", "job = 2 in [tool.{package}.sweep] of pyproject.toml: unknown setting; the "
         "settings are: batch_size, connect_timeout, jobs, scheduler, slurm, threads_per_run"),
    ],
)  # fmt: skip
def test_a_bad_number_in_the_sweep_settings_is_refused_before_anything_runs(
    project, setting, message
):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("jobs = 2\nbatch_size = 2", setting))
    _clear_caches()
    plan = sweep.plan("scripts/toy.py", "k=2")
    for jobs in (None, 2):  # --jobs does not hide a bad setting
        with pytest.raises(ProjectError) as error:
            sweep.sweep(plan, jobs=jobs)
        assert str(error.value).startswith(message.format(package=paths.PACKAGE))
    assert not (project / "results").exists()


def _job(project, state):
    state.mkdir(parents=True)
    return {
        "sweep": "test",
        "state": str(state),
        "root": str(project),
        "script": str(project / "scripts" / "toy.py"),
        "experiment": "toy",
        "env": {"PROJECT_ROOT": str(project)},
    }


def test_a_worker_imports_the_worker_module_alone():
    """What Dask workers import to run a task: no planner, backends, driver, pandas or Dask
    (provenance, standard library only, names the variables that tell a run its sweep)."""
    code = (
        "import sys\n"
        "from {{ cookiecutter.module_name }}.sweep import worker\n"
        "print(sorted(m for m in sys.modules if m.startswith('{{ cookiecutter.module_name }}')))\n"
        "print('pandas' in sys.modules, 'distributed' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    package = "{{ cookiecutter.module_name }}"
    assert done.stdout.splitlines() == [
        str(
            sorted(
                [
                    package,
                    f"{package}.errors",
                    f"{package}.provenance",
                    f"{package}.sweep",
                    f"{package}.sweep.worker",
                ]
            )
        ),
        "False False",
    ]


def test_a_rerun_task_finds_the_result_its_lost_first_attempt_saved(project):
    """The worker died after the run saved but before it reported: the run is not repeated."""
    job = _job(project, project / "state")
    command = [sys.executable, job["script"], "--k", "7"]
    first = subprocess.Popen(command, env={**os.environ, **job["env"]})
    assert first.wait() == 0
    lost = {"index": 0, "host": socket.gethostname(), "pid": first.pid, "started": 0}
    (project / "state" / "0.json").write_text(json.dumps(lost))
    (record,) = sweep.run_batch([{"index": 0, "arguments": ["--k", "7"]}], job)
    assert record["status"] == "done"
    assert record["number"] == results.runs("toy")["number"].item()
    assert saved() == [(7, 0)]


def test_a_rerun_task_runs_again_when_its_first_attempt_saved_nothing(project):
    job = _job(project, project / "state")
    never = {"index": 0, "host": socket.gethostname(), "pid": 1, "started": 0, "attempt": 1}
    (project / "state" / "0.json").write_text(json.dumps(never))
    (record,) = sweep.run_batch([{"index": 0, "arguments": ["--k", "7"]}], job)
    assert (record["status"], record["attempt"]) == ("done", 2)
    assert saved() == [(7, 0)]


# ---- SLURM --------------------------------------------------------------------------------------

# The scheduler dask-jobqueue starts here listens on loopback only (on a cluster it must not).
LOOPBACK = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}


def test_a_slurm_profile_becomes_the_dask_jobqueue_job_script(project):
    cluster = sweep.slurm_cluster("short", scheduler_options=LOOPBACK)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for directive in ["#SBATCH -p short", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G",
                      "#SBATCH -t 00:30:00", "module load python"]:  # fmt: skip
        assert directive in lines
    assert f"{sys.executable} -m distributed.cli.dask_worker tcp://127.0.0.1:" in script
    assert "--nthreads 4" in script


def test_the_projects_own_slurm_profile_is_valid():
    """The default profile of this project's pyproject.toml makes a job script."""
    cluster = sweep.slurm_cluster("default", scheduler_options=LOOPBACK)
    try:
        assert "#SBATCH -t 04:00:00" in cluster.job_script().splitlines()
    finally:
        cluster.close()


def test_slurm_needs_a_known_profile_and_sbatch(project, monkeypatch):
    plan = sweep.plan("scripts/toy.py", "k=2")
    with pytest.raises(SweepError, match="no SLURM profile 'gpu' .* \\(profiles: short\\)"):
        sweep.sweep(plan, slurm="gpu")
    monkeypatch.setenv("PATH", str(project))
    with pytest.raises(SweepError, match="sbatch is not on PATH: run a --slurm sweep on the"):
        sweep.sweep(plan, slurm="short")


@pytest.mark.parametrize("jobs, shown", [('"four"', "'four'"), ("0", "0")])
def test_a_slurm_profile_with_a_bad_number_of_jobs_is_one_clear_error(project, jobs, shown):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("jobs = 3", f"jobs = {jobs}"))
    _clear_caches()
    with pytest.raises(ProjectError) as error:
        sweep.sweep(sweep.plan("scripts/toy.py", "k=2"), slurm="short")
    assert str(error.value).startswith(
        f"slurm.short.jobs = {shown} in [tool.{paths.PACKAGE}.sweep] of pyproject.toml: Input"
    )
    assert not (project / "results").exists()


# ---- a scheduler that is not one: one line within the connect timeout ------------------------


@pytest.fixture
def servers():
    """Servers on 127.0.0.1 that are not Dask schedulers: (name, address) of each; closed after."""
    import http.server
    import threading

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    silent = socket.socket()  # accepts (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()  # bound, not listening: connections are refused
    closed.bind(("127.0.0.1", 0))
    yield {
        "a web server": f"tcp://127.0.0.1:{web.server_address[1]}",
        "a server that never answers": f"tcp://127.0.0.1:{silent.getsockname()[1]}",
        "a closed port": f"tcp://127.0.0.1:{closed.getsockname()[1]}",
        "a name that does not resolve": "tcp://scheduler.invalid:8786",
    }
    web.shutdown()
    web.server_close()
    silent.close()
    closed.close()


@pytest.mark.parametrize(
    "kind",
    ["a web server", "a server that never answers", "a closed port",
     "a name that does not resolve"],
)  # fmt: skip
def test_an_address_without_a_dask_scheduler_is_one_line_naming_it_and_the_fix(servers, kind):
    address = servers[kind]
    with pytest.raises(SweepError) as error:
        sweep.connect(address, timeout=1)
    message = str(error.value)
    assert message.startswith(f"no Dask scheduler at {address} (")
    assert message.endswith(
        "): start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or give the "
        "address it prints (tcp://HOST:PORT) or its --scheduler-file"
    )
    assert "\n" not in message


def test_a_running_scheduler_is_connected_to(project):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        client = sweep.connect(cluster.scheduler_address, timeout=5)
        try:
            assert client.scheduler.address == cluster.scheduler_address
            assert len(client.nthreads()) == 1
        finally:
            client.close()


def test_a_slurm_profiles_keys_are_slurmclusters_arguments_but_jobs(project):
    profile = sweep.backends.slurm_profile("short")
    assert profile.jobs == 3
    assert profile.cluster_options() == {
        "queue": "short",
        "cores": 4,
        "memory": "8GB",
        "walltime": "00:30:00",
        "job_script_prologue": ["module load python"],
    }
