"""`invoke results` in a baked project, and the store sharing a folder with the real seqfile."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import textwrap

import pytest
from conftest import make_venv

# A script as extract-cell writes them: argparse options, then results.save(..., args=args).
TOY_SCRIPT = """\
import argparse

from {module} import results

parser = argparse.ArgumentParser()
parser.add_argument("--k", type=int, default=3)
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()
results.save("toy", {{"inertia": 12.0 / args.k, "purity": args.k / 10}}, args=args)
"""


@pytest.fixture
def toy(project, baked):
    """The project with scripts/toy.py, run for k = 2, 3, 4."""
    (project.path / "scripts" / "toy.py").write_text(TOY_SCRIPT.format(module=package_of(baked)))
    for k in (2, 3, 4):
        project.run("python", "scripts/toy.py", "--k", str(k))
    return project


def package_of(baked) -> str:
    # (Baked.module may name the egg-info folder once the project is installed.)
    return next(p.name for p in (baked.path / "src").iterdir() if (p / "__init__.py").is_file())


def one_error_line(done) -> str:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_invoke_results_prints_one_row_per_run_with_its_arguments(toy):
    """The table has the run columns, every argument and every scalar result."""
    done = toy.run("invoke", "results", "toy")
    header, *rows = done.stdout.splitlines()
    columns = header.split()
    assert columns[:4] == ["number", "started", "duration", "host"]
    assert {"k", "seed", "inertia", "purity"} <= set(columns)
    assert [line.split()[0] for line in rows[:3]] == ["0", "1", "2"]
    # "started" prints as two words (date and time), so later cells sit one word further
    k_at, purity_at = columns.index("k") + 1, columns.index("purity") + 1
    assert [line.split()[k_at] for line in rows[:3]] == ["2", "3", "4"]
    assert [line.split()[purity_at] for line in rows[:3]] == ["0.2", "0.3", "0.4"]
    assert rows[3] == "3 complete runs in results/toy: 0-2"


def test_invoke_results_show_prints_the_record_of_one_run(toy):
    """--show N prints run N's JSON record: arguments, script, git state of the project."""
    record = json.loads(toy.run("invoke", "results", "toy", "--show", "1").stdout)
    assert record["number"] == 1 and record["status"] == "complete"
    assert record["args"] == {"k": 3, "seed": 42}
    assert record["argv"][1:] == ["--k", "3"]
    assert record["script"] == str(toy.path / "scripts" / "toy.py")
    # The baked project is a git repository; the new script is not committed yet.
    assert len(record["git"]["commit"]) == 40 and record["git"]["dirty"] is True
    assert record["git"]["script"] == "untracked"  # why it is dirty: the script is new
    assert record["script_hash"] and record["sweep"] is None
    latest = json.loads(toy.run("invoke", "results", "toy", "--show", "latest").stdout)
    assert latest["number"] == 2 and latest["scalars"]["purity"] == 0.4


def test_invoke_results_show_of_a_missing_run_is_one_clear_line(toy):
    done = toy.run("invoke", "results", "toy", "--show", "9", check=False)
    assert one_error_line(done).startswith("Error: 'toy' has no run 9")
    done = toy.run("invoke", "results", "toy", "--show", "nine", check=False)
    assert one_error_line(done) == "Error: show='nine': give a run number (or 'latest')"


@pytest.mark.parametrize("name", ["../etc", "/tmp", "a/b", ".."])
def test_invoke_results_refuses_a_path_as_experiment_name(project, name):
    done = project.run("invoke", "results", name, check=False)
    assert one_error_line(done).startswith(f"Error: experiment name {name!r} must be one folder name")


def test_invoke_results_of_an_experiment_that_does_not_exist_is_one_clear_line(project):
    done = project.run("invoke", "results", "nope", check=False)
    assert one_error_line(done) == (
        f"Error: no experiment 'nope': {project.path / 'results' / 'nope'} does not exist "
        "(known experiments: none yet)"
    )


def table_of(done) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a printed runs table, one list of words per row."""
    header, *rows = done.stdout.splitlines()
    return header.split(), [line.split() for line in rows if line.startswith(" ")]


def test_invoke_results_chooses_runs_by_value_script_version_and_latest_sweep(toy):
    """Two real sweeps of the script, the second after a change of its code: --script current
    --sweep latest shows the second sweep's runs only, --where picks values."""
    grid = ["invoke", "sweep", "scripts/toy.py", "--grid", "k=5,6", "--jobs", "2"]
    toy.run(*grid)  # runs 3-4
    script = toy.path / "scripts" / "toy.py"
    script.write_text(script.read_text().replace("12.0 / args.k", "24.0 / args.k"))
    toy.run(*grid)  # runs 5-6
    header, rows = table_of(toy.run("invoke", "results", "toy", "--script", "current", "--sweep", "latest"))
    assert [row[0] for row in rows] == ["5", "6"]
    k, inertia = header.index("k") + 1, header.index("inertia") + 1  # "started": two words
    assert sorted((row[k], row[inertia]) for row in rows) == [("5", "4.8"), ("6", "4.0")]
    assert {"sweep", "sweep_run", "script_hash", "script_git"} <= set(header)
    done = toy.run("invoke", "results", "toy", "--where", "k=5")
    header, rows = table_of(done)
    assert [row[header.index("k") + 1] for row in rows] == ["5", "5"]  # one run of each sweep
    summary = done.stdout.splitlines()[-1]
    assert summary.startswith("2 complete runs in results/toy (where={'k': [5]}): ")
    done = toy.run("invoke", "results", "toy", "--script", "old", "--where", "k=5", "--where", "k=6")
    assert [row[0] for row in table_of(done)[1]] == ["3", "4"]


def test_invoke_results_archives_the_chosen_runs_and_refuses_to_archive_all(toy):
    done = toy.run("invoke", "results", "toy", "--archive", check=False)
    assert "needs a selection" in one_error_line(done)
    done = toy.run("invoke", "results", "toy", "--archive", "--where", "k=3")
    assert done.stdout.strip() == "archived 1 runs of toy to results/.archive/toy/: 1"
    assert (toy.path / "results" / ".archive" / "toy" / "toy.1.json").is_file()
    assert [row[0] for row in table_of(toy.run("invoke", "results", "toy"))[1]] == ["0", "2"]


def test_invoke_results_tidy_removes_temp_files_of_dead_saves(toy):
    temps = toy.path / "results" / "toy" / ".tmp"
    dead = temps / "4194999~node-elsewhere~1234.pkl"
    dead.write_bytes(b"half a payload")
    os.utime(dead, (0, 0))  # untouched for decades: its writer on another machine is gone
    done = toy.run("invoke", "results", "toy", "--tidy")
    assert done.stdout.splitlines()[0] == "removed 1 temporary files of dead saves"
    assert not dead.exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--status", "done"], "Error: status='done': use one of complete"),
        (["--since", "soon"], "Error: since='soon' is not a time"),
        (["--where", "k"], "Error: where 'k' is not NAME=VALUE"),
        (["--script", "nonsense"], "Error: script='nonsense': give 'current'"),
    ],
)
def test_invoke_results_refuses_a_selection_in_one_line(toy, option, message):
    done = toy.run("invoke", "results", "toy", *option, check=False)
    assert one_error_line(done).startswith(message)


def test_invoke_results_into_a_closed_pipe_ends_quietly(toy):
    """`invoke results toy | head -1`: the reader goes away, the task ends without a traceback."""
    reader = subprocess.Popen(
        [toy.venv.bin("invoke"), "results", "toy"],
        cwd=toy.path,
        env={**os.environ, **toy.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader.stdout.close()  # before the task prints anything
    assert reader.wait(timeout=120) == 0
    assert reader.stderr.read() == b""


def test_a_damaged_record_does_not_break_invoke_results(toy):
    record = toy.path / "results" / "toy" / "toy.1.json"
    data = json.loads(record.read_text())
    del data["number"]
    record.write_text(json.dumps(data))
    done = toy.run("invoke", "results", "toy")
    assert [row[0] for row in table_of(done)[1]] == ["0", "2"]
    assert done.stdout.splitlines()[-1] == (
        "not complete: run 1: damaged: results/toy/toy.1.json: 'number' is missing"
    )


# ---- interoperability with the real seqfile 0.2.0 --------------------------------------------
#
# seqfile 0.2.0 imports pkg_resources, which setuptools 82+ no longer ships: it only imports
# in a throwaway venv with an older setuptools. The project itself never depends on it.

SEQFILE_WRITER = """
import pickle, sys, seqfile
folder, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    path = seqfile.findNextFile(folder, prefix="kmeans.", suffix=".pkl", maxattempts=10_000)
    with open(path, "wb") as handle:
        pickle.dump({"writer": tag, "i": i}, handle)
    print(path)
"""

STORE_WRITER = """
import sys
from {module} import results
tag, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    print(results.save("kmeans", {{"writer": tag, "i": i}}))
"""


@pytest.fixture(scope="session")
def seqfile_venv(tmp_path_factory):
    """A venv where the real seqfile 0.2.0 imports (setuptools < 82 there, and only there)."""
    environment = make_venv(tmp_path_factory.mktemp("seqfile") / "venv")
    environment.run(
        "python", "-m", "pip", "install", "--quiet", "seqfile==0.2.0", "setuptools<82", cwd=environment.path
    )
    environment.run("python", "-c", "import seqfile", cwd=environment.path)
    return environment


def test_seqfile_cannot_be_imported_with_current_setuptools(project):
    """Why the store implements the protocol itself: the project's venv has no pkg_resources."""
    done = project.run("python", "-c", "import pkg_resources", check=False)
    assert "No module named 'pkg_resources'" in done.stderr


def test_seqfile_and_the_store_continue_each_others_numbers(project, baked, seqfile_venv):
    """Numbers seqfile made are continued by the store, and the store's by seqfile."""
    folder = project.path / "results" / "kmeans"
    folder.mkdir(parents=True)
    store = STORE_WRITER.format(module=package_of(baked))

    def by_seqfile(tag):
        done = seqfile_venv.run("python", "-c", SEQFILE_WRITER, str(folder), tag, "1", cwd=project.path)
        return done.stdout.strip().rpartition("/")[2]

    def by_store(tag):
        return project.run("python", "-c", store, tag, "1").stdout.strip().rpartition("/")[2]

    made = [by_seqfile("s0"), by_seqfile("s1"), by_store("r2"), by_seqfile("s3"), by_store("r4")]
    made += [by_store("r5"), by_seqfile("s6")]
    assert made == [f"kmeans.{n}.pkl" for n in range(7)]
    runs = project.run("invoke", "results", "kmeans").stdout
    assert "3 complete runs" in runs  # seqfile's files carry no record: not runs of the store
    for name in made:
        assert pickle.loads((folder / name).read_bytes())["writer"].endswith(name.split(".")[1])


def test_seqfile_and_the_store_writing_at_once_never_share_a_number(project, baked, seqfile_venv):
    """Two seqfile and two store processes race on one folder: every run keeps its own number."""
    folder = project.path / "results" / "kmeans"
    folder.mkdir(parents=True)
    count, tags = 150, ("seqfile-a", "seqfile-b", "store-a", "store-b")
    store = textwrap.dedent(STORE_WRITER.format(module=package_of(baked)))
    writers = [
        subprocess.Popen(
            [seqfile_venv.bin("python"), "-c", SEQFILE_WRITER, str(folder), tag, str(count)],
            stdout=subprocess.DEVNULL,
        )
        for tag in tags[:2]
    ] + [
        subprocess.Popen(
            [project.venv.bin("python"), "-c", store, tag, str(count)],
            cwd=project.path,
            env={**os.environ, **project.env},
            stdout=subprocess.DEVNULL,
        )
        for tag in tags[2:]
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0, 0]
    payloads = {int(p.name.split(".")[1]): pickle.loads(p.read_bytes()) for p in folder.glob("kmeans.*.pkl")}
    written = sorted((p["writer"], p["i"]) for p in payloads.values())
    expected = sorted((tag, i) for tag in tags for i in range(count))
    assert written == expected  # 600 payloads, none overwritten, none lost
    records = {int(p.name.split(".")[1]): json.loads(p.read_text()) for p in folder.glob("kmeans.*.json")}
    assert len(records) == 2 * count
    for number, record in records.items():
        assert record["status"] == "complete"
        assert payloads[number]["writer"].startswith("store")
