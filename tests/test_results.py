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
    assert rows[3].endswith("3 complete runs in " + str(toy.path / "results" / "toy"))


def test_invoke_results_show_prints_the_record_of_one_run(toy):
    """--show N prints run N's JSON record: arguments, script, git state of the project."""
    record = json.loads(toy.run("invoke", "results", "toy", "--show", "1").stdout)
    assert record["number"] == 1 and record["status"] == "complete"
    assert record["args"] == {"k": 3, "seed": 42}
    assert record["argv"][1:] == ["--k", "3"]
    assert record["script"] == str(toy.path / "scripts" / "toy.py")
    # The baked project is a git repository; the new script is not committed yet.
    assert len(record["git"]["commit"]) == 40 and record["git"]["dirty"] is True
    latest = json.loads(toy.run("invoke", "results", "toy", "--show", "latest").stdout)
    assert latest["number"] == 2 and latest["scalars"]["purity"] == 0.4


def test_invoke_results_show_of_a_missing_run_is_one_clear_line(toy):
    done = toy.run("invoke", "results", "toy", "--show", "9", check=False)
    assert one_error_line(done).startswith("Error: 'toy' has no run 9")
    done = toy.run("invoke", "results", "toy", "--show", "nine", check=False)
    assert one_error_line(done) == "Error: --show takes a run number (or 'latest'), not 'nine'"


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
