"""The results store: numbered, complete-or-absent runs with a provenance record each."""

import argparse
import hashlib
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse

from {{ cookiecutter.module_name }} import provenance, results
from {{ cookiecutter.module_name }}.results import ResultsError


@pytest.fixture
def project(scratch_root):
    """An empty project folder (outside any git repository) that the package uses as its root."""
    return scratch_root


def number_of(path: Path) -> int:
    return int(path.name.split(".")[1])


def files_in(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden ones too, relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def run_python(code: str, project: Path, *args: str) -> subprocess.Popen:
    """Start ``code`` in a new Python process that uses ``project`` as its root."""
    env = {**os.environ, "PROJECT_ROOT": str(project)}
    env["GIT_CEILING_DIRECTORIES"] = str(project.parent)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env)


# ---- saving and loading ----------------------------------------------------------------------


def test_runs_are_numbered_in_turn_and_the_latest_is_loaded(project):
    """Each save takes the next number; payload and record share it; load_latest reads the last."""
    first = results.save("kmeans", {"labels": np.array([0, 1, 1]), "inertia": 3.5})
    second = results.save("kmeans", {"labels": np.array([1, 0, 0]), "inertia": 2.25})
    folder = project / "results" / "kmeans"
    assert (first, second) == (folder / "kmeans.0.pkl", folder / "kmeans.1.pkl")
    assert sorted(p.name for p in folder.glob("kmeans.*")) == [
        "kmeans.0.json",
        "kmeans.0.pkl",
        "kmeans.1.json",
        "kmeans.1.pkl",
    ]
    latest = results.load_latest("kmeans")
    assert latest["inertia"] == 2.25
    assert latest["labels"].tolist() == [1, 0, 0]
    assert results.load("kmeans", 0)["labels"].tolist() == [0, 1, 1]


def test_a_mat_file_round_trips_a_sparse_matrix_and_matlab_tools_can_read_it(project):
    """format='mat' writes a MATLAB file: scipy.io.loadmat reads the sparse matrix back exactly."""
    rng = np.random.default_rng(0)
    adjacency = scipy.sparse.random(60, 40, density=0.05, format="csr", random_state=rng)
    dense = rng.normal(size=(3, 4))
    path = results.save("graph", {"adjacency": adjacency, "weights": dense, "k": 3}, format="mat")
    assert path.name == "graph.0.mat"
    direct = scipy.io.loadmat(path)
    assert scipy.sparse.issparse(direct["adjacency"])
    assert (direct["adjacency"] != adjacency).nnz == 0
    loaded = results.load_latest("graph")
    assert sorted(loaded) == ["adjacency", "k", "weights"]
    assert np.array_equal(loaded["adjacency"].toarray(), adjacency.toarray())
    assert np.array_equal(loaded["weights"], dense)
    assert results.record("graph", 0)["scalars"] == {"k": 3}


def test_npz_json_and_parquet_round_trip(project):
    """Arrays as .npz, plain data as JSON, a DataFrame as Parquet: one number per run throughout."""
    frame = pd.DataFrame({"species": ["Adelie", "Gentoo"], "mass": [3700.0, 5076.0]})
    saved = [
        results.save("mixed", {"x": np.arange(6).reshape(2, 3)}, format="npz"),
        results.save("mixed", {"name": "run", "values": [1, 2.5, None]}, format="json"),
        results.save("mixed", frame, format="parquet"),
    ]
    assert [p.name for p in saved] == ["mixed.0.npz", "mixed.1.data.json", "mixed.2.parquet"]
    assert results.load("mixed", 0)["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert results.load("mixed", 1) == {"name": "run", "values": [1, 2.5, None]}
    pd.testing.assert_frame_equal(results.load("mixed", 2), frame)


def test_interim_data_round_trips_as_mat_and_is_cited_by_a_later_run(project):
    """save_interim writes data/interim/NAME.mat with a record; loading it notes the input."""
    matrix = scipy.sparse.identity(5, format="csc") * 2.0
    path = results.save_interim("distances", {"d": matrix})
    assert path == project / "data" / "interim" / "distances.mat"
    written = json.loads((path.parent / "distances.record.json").read_text())
    assert written["payload"]["file"] == "distances.mat"
    loaded = results.load_interim("distances")
    assert np.array_equal(loaded["d"].toarray(), matrix.toarray())
    results.save("uses_interim", {"total": 10.0})
    inputs = results.record("uses_interim", 0)["inputs"]
    assert [(i["path"], i["sha256"], i["role"]) for i in inputs] == [
        (str(path), written["payload"]["sha256"], "interim")
    ]


def test_interim_npz_and_a_missing_name(project):
    results.save_interim("features", {"f": np.ones((2, 2))}, format="npz")
    assert results.load_interim("features")["f"].sum() == 4.0
    with pytest.raises(ResultsError, match="no intermediate data 'nothing'"):
        results.load_interim("nothing")


# ---- the table of runs -----------------------------------------------------------------------


def test_runs_has_one_row_per_complete_run_with_arguments_and_scalars(project):
    """runs() tabulates number, time, host, every argument and every scalar result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int)
    parser.add_argument("--seed", type=int, default=42)
    for k in (2, 3, 4):
        args = parser.parse_args(["--k", str(k)])
        results.save("kmeans", {"k": k, "purity": k / 10, "labels": np.zeros(3)}, args=args)
    results.save("kmeans", {"purity": np.float64(0.9)}, args={"k": 5, "seed": 1, "host": "mine"})
    table = results.runs("kmeans")
    assert table["number"].tolist() == [0, 1, 2, 3]
    assert table["k"].tolist() == [2, 3, 4, 5]
    assert table["seed"].tolist() == [42, 42, 42, 1]
    assert table["purity"].tolist() == [0.2, 0.3, 0.4, 0.9]
    assert table["arg.host"].tolist()[-1] == "mine"  # an argument never hides a record column
    assert "labels" not in table and "result.k" not in table
    assert set(table["host"]) == {os.uname().nodename}
    assert str(table["started"].dtype).startswith("datetime64")
    assert (table["duration"] >= 0).all()
    assert table["script_sha256"].notna().all()


def test_runs_of_an_experiment_without_runs_is_an_empty_table(project):
    table = results.runs("never_run")
    assert len(table) == 0
    assert list(table.columns[:4]) == ["number", "started", "duration", "host"]


def test_the_report_shows_runs_made_outside_git_and_from_no_script_file(project):
    """report() (what `invoke results` prints) copes with runs that have no commit or script."""
    code = "from {{ cookiecutter.module_name }} import results; results.save('bare', {'x': 1.5})"
    env = {**os.environ, "PROJECT_ROOT": str(project)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    results.save("bare", {"x": 2.5})
    assert results.record("bare", 0)["script"] is None  # python -c: no script file
    header, first, second, total = results.report("bare").splitlines()
    # Columns no run has a value for (git outside a repository, sweeps) are left out.
    assert header.split() == "number started duration host script_hash x".split()
    assert first.split()[0] == "0" and first.split()[-2:] == ["-", "1.5"]
    script_hash = results.record("bare", 1)["script_hash"]
    assert second.split()[-2:] == [script_hash[:8], "2.5"]
    assert total == "2 complete runs in results/bare: 0-1"


# ---- run records -----------------------------------------------------------------------------


def test_the_record_carries_the_provenance_of_the_run(project):
    """Script and hash, argv, args, host, pid, user, times, versions, inputs and results read."""
    source = project / "inputs.csv"
    source.write_text("a,b\n1,2\n")
    provenance.note_input(source, role="table")
    results.save("first", {"x": 1.0})
    results.load("first", 0)
    results.save("second", {"y": 2.0}, args=argparse.Namespace(alpha=0.5, out=Path("/tmp/o")))
    record = results.record("second", 0)
    assert record["experiment"] == "second" and record["number"] == 0
    assert record["status"] == "complete" and record["format"] == "pickle"
    assert record["args"] == {"alpha": 0.5, "out": "/tmp/o"}
    assert record["argv"] == sys.argv
    script = Path(record["script"])
    assert script.is_file()
    assert record["script_sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert record["script_hash"] == provenance.script_hash(script)
    assert record["sweep"] is None and record["sweep_run"] is None and record["left_out"] == {}
    assert record["git"] is None  # the project is not a git repository
    assert record["pid"] == os.getpid() and record["host"] == os.uname().nodename
    assert record["user"]
    assert record["started"] <= record["ended"] and record["duration"] >= 0
    assert record["versions"]["python"] == sys.version.split()[0]
    assert record["versions"]["numpy"] == np.__version__
    assert [i["path"] for i in record["inputs"]] == [str(source.resolve())]
    assert record["inputs"][0]["role"] == "table"
    assert record["results_read"] == [
        {"experiment": "first", "number": 0, "path": str(project / "results/first/first.0.pkl")}
    ]
    payload = project / "results" / "second" / record["payload"]["file"]
    assert record["payload"]["size"] == payload.stat().st_size
    assert record["payload"]["sha256"] == hashlib.sha256(payload.read_bytes()).hexdigest()


def test_git_state_of_a_clean_and_a_dirty_tree(project):
    """A clean tree has its commit and no diff hash; each different change has its own hash."""

    def git(*args):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    assert provenance.git_state(project) is None
    git("init", "-q")
    git("-c", "user.name=T", "-c", "user.email=t@example.org", "add", "pyproject.toml")
    git("-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "start")
    clean = provenance.git_state(project)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True)
    assert clean["commit"] == head.stdout.strip()
    assert clean["dirty"] is False and clean["diff_sha256"] is None
    with open(project / "pyproject.toml", "a") as handle:
        handle.write("# edit one\n")
    one = provenance.git_state(project)
    with open(project / "pyproject.toml", "a") as handle:
        handle.write("# edit two\n")
    two = provenance.git_state(project)
    assert one["dirty"] is True and two["dirty"] is True
    assert one["diff_sha256"] != two["diff_sha256"]
    assert one["commit"] == clean["commit"]


NOTEBOOK_RUNS_A_SCRIPT = """
    import sys, time
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("from {{ cookiecutter.module_name }} import results")
    time.sleep(0.3)  # the notebook idles between cells
    print("submitted", time.time(), flush=True)
    shell.run_cell(f"%run -i {sys.argv[1]} --k 4")
"""

SCRIPT = """
import argparse, time
from {{ cookiecutter.module_name }} import results
parser = argparse.ArgumentParser()
parser.add_argument("--k", type=int)
args = parser.parse_args()
time.sleep(0.2)
results.save("cell", {"k2": args.k**2}, args=args)
"""


def test_a_run_with_percent_run_in_a_notebook_records_its_script_and_starts_with_its_cell(
    project, tmp_path
):
    """Under IPython's %run -i the record names the script and its arguments, and the run
    starts when its cell does, not when the kernel did."""
    script = tmp_path / "square.py"
    script.write_text(SCRIPT)
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NOTEBOOK_RUNS_A_SCRIPT), str(script)],
        env={**os.environ, "PROJECT_ROOT": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    submitted = float(child.stdout.split("submitted ")[1].split()[0])
    record = results.record("cell", 0)
    assert record["script"] == str(script) and record["argv"] == [str(script), "--k", "4"]
    assert record["args"] == {"k": 4} and record["scalars"] == {"k2": 16}
    started = pd.Timestamp(record["started"]).timestamp()
    assert submitted - 0.01 <= started <= submitted + 0.2
    assert record["duration"] >= 0.2


def test_non_finite_scalars_survive_the_record(project):
    results.save("nan", {"loss": float("nan"), "bound": float("inf"), "ok": 1.0})
    assert results.record("nan", 0)["scalars"]["bound"] == float("inf")
    row = results.runs("nan").iloc[0]
    assert np.isnan(row["loss"]) and row["bound"] == np.inf and row["ok"] == 1.0


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a/b", "..", "../escape", "/etc", "", ".hidden", "a\\b"])
def test_experiment_names_that_are_paths_are_refused(project, name):
    """A name with '/', '..' or an absolute path is refused before any folder is made."""
    with pytest.raises(ResultsError, match="must be one folder name"):
        results.save(name, {"x": 1})
    assert not (project / "results").exists()


def test_an_unpicklable_object_fails_clearly_and_uses_no_number(project):
    """Nothing is written for an object pickle refuses; the next good save is number 0."""
    with pytest.raises(ResultsError, match=r"save 'fn' as pickle: 'f': .*nothing was written"):
        results.save("fn", {"f": lambda x: x})
    folder = project / "results" / "fn"
    assert files_in(folder) == []
    assert results.save("fn", {"f": 1}).name == "fn.0.pkl"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"1x": np.ones(2)}, "'1x': not a MATLAB variable name"),
        ({"_private": np.ones(2)}, "'_private': not a MATLAB variable name"),
        ([1, 2, 3], "format 'mat' needs a dict"),
        ({"a": None}, "cannot save 'm' as mat: 'a': TypeError"),
    ],
)
def test_a_dict_that_cannot_be_a_mat_file_fails_before_a_number_is_used(project, data, message):
    with pytest.raises(ResultsError, match=message):
        results.save("m", data, format="mat")
    assert files_in(project / "results" / "m") == []


def test_unknown_format_and_wrong_kind_of_data_are_refused(project):
    with pytest.raises(ResultsError, match="unknown format 'xlsx': use one of pickle, mat"):
        results.save("e", {}, format="xlsx")
    with pytest.raises(ResultsError, match="format 'parquet' needs a pandas DataFrame, not dict"):
        results.save("e", {"a": 1}, format="parquet")
    with pytest.raises(ResultsError, match="args must be an argparse Namespace or a dict"):
        results.save("e", {"a": 1}, args=["--k", "3"])


def test_a_corrupt_payload_names_its_file_on_load(project):
    path = results.save("broken", {"x": np.arange(1000)})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ResultsError, match=rf"{path} cannot be read as pickle"):
        results.load_latest("broken")


def test_loading_an_unknown_experiment_or_run_says_so(project):
    results.save("known", {"x": 1})
    with pytest.raises(ResultsError, match=r"no experiment 'unknown'.*known experiments: known"):
        results.load_latest("unknown")
    with pytest.raises(ResultsError, match="'known' has no run 7"):
        results.load("known", 7)


# ---- numbering under contention, stale listings and crashes --------------------------------

SAVER = """
    import sys
    from {{ cookiecutter.module_name }} import results
    worker, count = int(sys.argv[1]), int(sys.argv[2])
    for i in range(count):
        results.save("race", {"worker": worker, "i": i})
"""


def test_eight_processes_saving_200_runs_each_get_1600_distinct_complete_numbers(project):
    """Real processes racing on one folder: no number shared, nothing overwritten."""
    workers = [run_python(SAVER, project, str(w), "200") for w in range(8)]
    assert [w.wait(timeout=300) for w in workers] == [0] * 8
    folder = project / "results" / "race"
    records = sorted(folder.glob("race.*.json"))
    payloads = sorted(folder.glob("race.*.pkl"))
    assert len(records) == len(payloads) == 1600
    table = results.runs("race")
    assert len(table) == 1600 and table["number"].is_unique
    saved = {(w, i) for w in range(8) for i in range(200)}
    assert set(zip(table["worker"], table["i"], strict=True)) == saved
    for number in table["number"].sample(100, random_state=0):
        payload = results.load("race", number)
        assert payload == {"worker": payload["worker"], "i": payload["i"]}
        assert results.record("race", number)["scalars"] == payload
    assert len(results.incomplete("race")) == 0


def test_a_stale_hint_still_gives_unique_numbers(project):
    """A hint far behind (another machine's view, say): saves walk on past the used numbers."""
    for i in range(5):
        results.save("stale", {"i": i})
    hint = project / "results" / "stale" / ".stale.last"
    hint.write_text("0")
    numbers = [number_of(results.save("stale", {"i": i})) for i in range(5, 45)]
    assert numbers == list(range(5, 45))
    table = results.runs("stale")
    assert table["number"].tolist() == list(range(45)) and table["i"].tolist() == list(range(45))


def test_a_save_starts_from_the_hint_not_from_a_listing_of_the_folder(project):
    """The hint file says where to start (so 10,000 runs are not listed at each save)."""
    results.save("quick", {"i": 0})
    (project / "results" / "quick" / ".quick.last").write_text("41")
    assert number_of(results.save("quick", {"i": 1})) == 42


def test_numbers_of_other_tools_and_other_experiments_are_respected(project):
    """A seqfile-made payload keeps its number; 'ba.7.pkl' does not count for experiment 'a'."""
    folder = project / "results" / "a"
    folder.mkdir(parents=True)
    (folder / "ba.7.pkl").write_bytes(b"other")
    assert results.save("a", {"x": 1}).name == "a.0.pkl"  # anchored pattern
    (folder / "a.1.pkl").write_bytes(b"seqfile's")  # made by seqfile: no record
    (folder / ".a.last").write_text("0")  # a hint that missed it
    assert results.save("a", {"x": 2}, format="mat").name == "a.2.mat"
    assert (folder / "a.1.pkl").read_bytes() == b"seqfile's"
    assert results.incomplete("a")[["number", "status"]].values.tolist() == [[1, "no record"]]


STALLS_MID_PAYLOAD = """
    import os, sys, time, pathlib
    from {{ cookiecutter.module_name }} import results

    class Stall:
        def __reduce__(self):
            pathlib.Path(sys.argv[1]).touch()
            time.sleep(300)

    results.save("crash", {"blob": os.urandom(8_000_000), "stall": Stall()})
"""


def test_a_process_killed_mid_payload_leaves_nothing_that_looks_complete(project, tmp_path):
    """SIGKILL while the payload is written: no new run, incomplete() shows it, saves go on."""
    results.save("crash", {"generation": 1})
    marker = tmp_path / "writing"
    child = run_python(STALLS_MID_PAYLOAD, project, str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the child never reached the middle of its payload"
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert results.load_latest("crash") == {"generation": 1}
    assert results.runs("crash")["number"].tolist() == [0]
    left = results.incomplete("crash")
    assert left[["status", "pid"]].values.tolist() == [["unfinished write", child.pid]]
    leftover = project / "results" / "crash" / left["files"][0][0]
    assert leftover.stat().st_size >= 8_000_000  # it was killed mid-payload
    assert results.save("crash", {"generation": 2}).name == "crash.1.pkl"
    assert not leftover.exists()  # the next save removed the dead save's temporary file
    assert results.load_latest("crash") == {"generation": 2}


DIES_BEFORE_ITS_RECORD = """
    import os, signal
    from {{ cookiecutter.module_name }} import results

    from {{ cookiecutter.module_name }}.results import store

    store.write_json_atomically = lambda path, record: os.kill(os.getpid(), signal.SIGKILL)
    results.save("late", {"generation": 2})
"""


def test_a_process_killed_before_its_record_is_a_crashed_run_never_a_result(project):
    """Payload in place, record still 'running', process dead: listed as crashed, not loaded."""
    results.save("late", {"generation": 1})
    child = run_python(DIES_BEFORE_ITS_RECORD, project)
    assert child.wait(timeout=60) == -signal.SIGKILL
    folder = project / "results" / "late"
    assert pickle.loads((folder / "late.1.pkl").read_bytes()) == {"generation": 2}
    assert results.load_latest("late") == {"generation": 1}
    assert results.runs("late")["number"].tolist() == [0]
    left = results.incomplete("late")
    assert left[["number", "status", "pid"]].values.tolist() == [[1, "crashed", child.pid]]
    with pytest.raises(ResultsError, match="run 1 of 'late' is running, not complete"):
        results.load("late", 1)
    assert results.save("late", {"generation": 3}).name == "late.2.pkl"
    assert results.load_latest("late") == {"generation": 3}


def test_a_damaged_record_is_incomplete_not_a_result(project):
    results.save("damaged", {"x": 1})
    results.save("damaged", {"x": 2})
    (project / "results" / "damaged" / "damaged.1.json").write_text('{"status": "compl')
    assert results.load_latest("damaged") == {"x": 1}
    left = results.incomplete("damaged")
    assert left[["number", "status"]].values.tolist() == [[1, "damaged"]]
    assert left["error"][0] == "results/damaged/damaged.1.json: empty or not JSON"


# ---- choosing runs: script version, sweep, state, time, values --------------------------------

VERSION_1 = """
import argparse
from {{ cookiecutter.module_name }} import results
parser = argparse.ArgumentParser()
parser.add_argument("--k", type=int)
args = parser.parse_args()
results.save("model", {"score": args.k * 10}, args=args)
"""
# The same code, reformatted and commented: the same script_hash.
VERSION_1_REFORMATTED = VERSION_1.replace("args.k * 10", "args.k*10").replace(
    "args = parser", "# ten per cluster\nargs = parser"
)
VERSION_2 = VERSION_1.replace("args.k * 10", "args.k * 100")


def run_script(project: Path, script: Path, k: int, sweep: str | None = None, index: int = 0):
    env = {**os.environ, "PROJECT_ROOT": str(project)}
    env.pop(provenance.SWEEP_VARIABLE, None)
    if sweep:
        env |= {provenance.SWEEP_VARIABLE: sweep, provenance.SWEEP_RUN_VARIABLE: str(index)}
    subprocess.run([sys.executable, str(script), "--k", str(k)], env=env, check=True)


@pytest.fixture
def two_versions(project):
    """Runs 0-3 by version 1 (sweeps a and b, b after a reformat), 4-5 by version 2 (sweep c),
    6 by version 2 outside any sweep."""
    script = project / "model.py"
    script.write_text(VERSION_1)
    for index, k in enumerate((2, 3)):
        run_script(project, script, k, "20261101-a", index)
    script.write_text(VERSION_1_REFORMATTED)
    for index, k in enumerate((2, 3)):
        run_script(project, script, k, "20261102-b", index)
    script.write_text(VERSION_2)
    for index, k in enumerate((2, 3)):
        run_script(project, script, k, "20261103-c", index)
    run_script(project, script, 4)
    return script


def test_runs_of_the_current_script_and_the_latest_sweep_are_chosen(project, two_versions):
    """A reformat keeps a script's version; a change of code starts a new one."""
    every = results.runs("model")
    assert every["number"].tolist() == list(range(7))
    sweeps = ["20261101-a"] * 2 + ["20261102-b"] * 2 + ["20261103-c"] * 2
    assert every["sweep"].tolist()[:6] == sweeps and pd.isna(every["sweep"][6])
    assert every["sweep_run"].tolist()[:6] == [0, 1, 0, 1, 0, 1]
    assert every["script_hash"].nunique() == 2
    current = results.runs("model", script="current")
    assert current["number"].tolist() == [4, 5, 6] and current["score"].tolist() == [200, 300, 400]
    chosen = results.runs("model", script="current", sweep="latest")
    assert chosen["number"].tolist() == [4, 5]
    assert results.runs("model", script="old")["number"].tolist() == [0, 1, 2, 3]
    old_hash = every["script_hash"][0]
    assert results.runs("model", script=old_hash[:6])["number"].tolist() == [0, 1, 2, 3]
    assert results.runs("model", sweep="20261102")["number"].tolist() == [2, 3]
    assert results.runs("model", where={"k": 3})["number"].tolist() == [1, 3, 5]
    assert results.runs("model", where={"k": [2, 4], "score": 400})["number"].tolist() == [6]
    assert results.runs("model", sweep="latest", where={"k": 2})["number"].tolist() == [4]
    two_versions.write_text(VERSION_1_REFORMATTED.replace("# ten", "# still ten"))
    assert results.runs("model", script="current", sweep="latest")["number"].tolist() == [2, 3]


def test_the_selection_is_noted_for_the_provenance_of_what_uses_it(project, two_versions):
    provenance.reset()
    results.runs("model", script="current", sweep="latest")
    (noted,) = provenance.selections()
    assert noted["experiment"] == "model" and noted["numbers"] == [4, 5]
    assert noted["criteria"]["sweep"] == "20261103-c"
    assert noted["criteria"]["script_hash"] == {"model.py": provenance.script_hash(two_versions)}


def test_runs_are_chosen_by_time(project, two_versions):
    assert len(results.runs("model", since="1h")) == 7
    assert len(results.runs("model", since="2100-01-01")) == 0
    started = results.runs("model")["started"]
    assert results.runs("model", since=started[5])["number"].tolist() == [5, 6]


@pytest.mark.parametrize(
    "selection, message",
    [
        ({"script": "nonsense"}, "script='nonsense': give 'current'"),
        ({"sweep": "2026"}, "sweep='2026' matches 3 sweeps"),
        ({"since": "last tuesday"}, "since='last tuesday' is not a time"),
        ({"status": "done"}, "status='done': use one of complete"),
        ({"where": {"kk": 3}}, "runs of 'model' have no column 'kk'"),
    ],
)
def test_a_selection_that_cannot_mean_anything_is_one_clear_error(
    project, two_versions, selection, message
):
    with pytest.raises(ResultsError, match=re.escape(message)):
        results.runs("model", **selection)


def test_where_values_from_the_command_line_are_typed(project):
    assert results.parse_where(["k=4", "solver=lloyd", "k=5", "fast=true"]) == {
        "k": [4, 5],
        "solver": ["lloyd"],
        "fast": [True],
    }
    with pytest.raises(ResultsError, match="where 'k' is not NAME=VALUE"):
        results.parse_where(["k"])


# ---- git: whether the script itself is committed ------------------------------------------------


def git(project: Path, *args: str) -> None:
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run(["git", *identity, *args], cwd=project, check=True, capture_output=True)


def test_the_record_tells_a_committed_script_in_a_changed_tree_from_a_changed_script(project):
    """git.script says whether the script itself is as committed; clean=True needs that and
    a clean tree."""
    (project / ".gitignore").write_text("results/\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "start")
    script = project / "model.py"
    script.write_text(VERSION_1)
    run_script(project, script, 2)  # new script, not committed yet
    git(project, "add", "-A")
    git(project, "commit", "-qm", "model")
    run_script(project, script, 3)  # everything committed
    (project / "notes.txt").write_text("other work\n")
    run_script(project, script, 4)  # the script committed, another file new
    script.write_text(VERSION_2)
    run_script(project, script, 5)  # the script itself changed
    table = results.runs("model")
    assert table["script_git"].tolist() == ["untracked", "committed", "committed", "modified"]
    assert table["git_dirty"].tolist() == [True, False, True, True]
    assert [results.record("model", n)["git"]["other_changes"] for n in range(4)] == [0, 0, 1, 1]
    assert results.runs("model", clean=True)["number"].tolist() == [1]
    assert results.runs("model", clean=False)["number"].tolist() == [0, 2, 3]
    report = results.report("model")
    assert "script_git" in report.splitlines()[0] and "untracked" in report


# ---- nothing breaks the listing -------------------------------------------------------------


def test_hand_edited_records_are_listed_as_damaged_and_the_others_list_normally(project):
    for k in range(6):
        results.save("edited", {"score": k}, args={"k": k})
    folder = project / "results" / "edited"

    def edit(number, change):
        path = folder / f"edited.{number}.json"
        record = json.loads(path.read_text())
        change(record)
        path.write_text(json.dumps(record))

    edit(1, lambda r: r.pop("number"))
    edit(2, lambda r: r.update(started="yesterday"))
    edit(3, lambda r: r.update(args=["--k", "3"]))
    (folder / "edited.4.json").write_text("[1, 2, 3]")
    edit(5, lambda r: r.update(number=9))
    assert results.runs("edited")["number"].tolist() == [0]
    damaged = results.runs("edited", status="damaged")
    assert damaged["number"].tolist() == [1, 2, 3, 4, 5]
    # (after the colon, pydantic's own words, which change with its version)
    assert [problem.partition(": input")[0] for problem in damaged["problem"]] == [
        "results/edited/edited.1.json: 'number' is missing",
        "results/edited/edited.2.json: 'started' is \"yesterday\"",
        'results/edited/edited.3.json: \'args\' is ["--k", "3"]',
        "results/edited/edited.4.json: empty or not JSON",
        "results/edited/edited.5.json: 'number' is 9, not the file's 5",
    ]
    report = results.report("edited").splitlines()
    assert report[2] == "1 complete runs in results/edited: 0"
    assert report[3] == (
        "not complete: run 1: damaged: results/edited/edited.1.json: 'number' is missing"
    )
    assert len(report) == 3 + 5
    assert results.runs("edited", status="all")["number"].tolist() == list(range(6))


# ---- partial saves ----------------------------------------------------------------------------


def test_a_name_the_format_cannot_hold_is_left_out_and_the_others_are_saved(project):
    """A generator among the saved names: the run is saved without it, and says so."""
    with pytest.warns(results.PartialSave, match=r"without 'numbers': TypeError: cannot pickle"):
        numbers = (i for i in range(3))
        path = results.save("part", {"k": 3, "labels": np.arange(3), "numbers": numbers})
    loaded = results.load("part", number_of(path))
    assert sorted(loaded) == ["k", "labels"] and loaded["labels"].tolist() == [0, 1, 2]
    assert results.record("part", 0)["left_out"] == {
        "numbers": "TypeError: cannot pickle 'generator' object"
    }
    with pytest.warns(results.PartialSave, match="without '1x': not a MATLAB variable name"):
        results.save("part", {"ok": np.ones(2), "1x": np.ones(2)}, format="mat")
    assert sorted(results.load("part", 1)) == ["ok"]


def test_a_strict_save_of_a_name_the_format_cannot_hold_writes_nothing(project):
    with pytest.raises(ResultsError, match=r"save 'strict' as pickle: TypeError: cannot pickle"):
        results.save("strict", {"k": 3, "numbers": (i for i in range(3))}, strict=True)
    assert files_in(project / "results" / "strict") == []


# ---- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["con", "NUL", "aux", "com1", "LPT9", "prn.data", "x" * 201, "y" * 300]
)
def test_names_reserved_on_windows_or_too_long_are_refused_and_nothing_is_created(project, name):
    with pytest.raises(ResultsError, match="reserved on Windows|too long") as raised:
        results.save(name, {"x": 1})
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300
    assert not (project / "results").exists()


# ---- tidying: temp files of dead saves, archive ------------------------------------------------


def test_temp_files_of_dead_saves_are_removed_and_those_of_live_ones_kept(project):
    """Here: removed once their process is gone. Another machine's: only after a day."""
    results.save("tidy", {"x": 1})
    temps = project / "results" / "tidy" / ".tmp"
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True)
    here = os.uname().nodename
    mine = temps / f"{os.getpid()}~{here}~live.pkl"
    gone = temps / f"{int(dead.stdout)}~{here}~dead.pkl"
    elsewhere_old = temps / "123~node17~old.pkl"
    elsewhere_new = temps / "123~node17~new.pkl"
    for path in (mine, gone, elsewhere_old, elsewhere_new):
        path.write_bytes(b"x" * 1000)
    two_days_ago = time.time() - 2 * 86400
    os.utime(elsewhere_old, (two_days_ago, two_days_ago))
    statuses = results.incomplete("tidy").set_index("pid")["status"].to_dict()
    assert statuses == {
        os.getpid(): "writing",
        int(dead.stdout): "unfinished write",
        123: "unfinished write",
    }
    removed = results.tidy()
    assert list(removed) == ["results/tidy"]
    assert sorted(removed["results/tidy"]) == sorted([elsewhere_old, gone])
    assert sorted(p.name for p in temps.iterdir()) == sorted([mine.name, elsewhere_new.name])


def test_archived_runs_move_away_and_their_numbers_are_never_reused(project, two_versions):
    with pytest.raises(ResultsError, match="needs a selection"):
        results.archive("model")
    assert results.archive("model", script="old") == [0, 1, 2, 3]
    archive = project / "results" / ".archive" / "model"
    moved = sorted(p.name for p in archive.glob("model.*.json"))
    assert moved == [f"model.{n}.json" for n in range(4)]
    assert results.runs("model")["number"].tolist() == [4, 5, 6]
    log = [json.loads(line) for line in (archive / "archived.jsonl").read_text().splitlines()]
    assert log[0]["numbers"] == "0-3" and log[0]["selection"] == {"script": "old"}
    assert results.archive("model", script="old") == []
    # Even with the hint gone and the newest runs archived, a number is never given twice.
    results.archive("model", where={"k": 4})
    (project / "results" / "model" / ".model.last").unlink()
    assert number_of(results.save("model", {"x": 1})) == 7


def test_number_ranges_are_sorted_numerically(project):
    assert results.number_ranges([10, 9, 2, 1, 3, 7, 11]) == "1-3, 7, 9-11"
    assert results.number_ranges([]) == ""
