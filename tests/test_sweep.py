"""`invoke sweep` for real in a baked project: a local Dask cluster, a separately started
scheduler with two workers (one killed mid-sweep), Ctrl-C and --resume, a machine without
Dask, and bad input. Every process a test starts is killed by its fixture."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import time

import pytest
from slurm import OneNodeSlurm
from slurm import missing as slurm_missing

TOY = textwrap.dedent(
    """
    \"\"\"Toy model for the sweep tests: logs each attempt, sleeps, saves a score.\"\"\"
    import argparse
    import os
    import time

    from {module} import paths, results

    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    with open(paths.ROOT / "attempts.log", "a") as log:
        log.write(f"start {{args.k}} {{args.seed}} {{os.getpid()}}\\n")
    time.sleep(args.sleep)
    results.save("toy", {{"score": 10 * args.k + args.seed}}, args=args)
    with open(paths.ROOT / "attempts.log", "a") as log:
        log.write(f"end {{args.k}} {{args.seed}} {{os.getpid()}}\\n")
    """
)

SAVED = (
    "import json, sys\n"
    "from {module} import results\n"
    "table = results.runs('toy')\n"
    "print(json.dumps(sorted([int(k), int(s)] for k, s in zip(table['k'], table['seed']))))\n"
)


def module_of(project) -> str:
    return next(p.name for p in (project.path / "src").iterdir() if p.name.isidentifier())


@pytest.fixture
def toy(project):
    """The baked project with scripts/toy.py."""
    (project.path / "scripts" / "toy.py").write_text(TOY.format(module=module_of(project)))
    return project


def saved(project) -> list[list[int]]:
    """[k, seed] of every complete result of the toy script, sorted: duplicates show twice."""
    code = SAVED.format(module=module_of(project))
    return json.loads(project.run("python", "-c", code).stdout)


def attempts(project) -> list[tuple[str, int, int, int]]:
    log = project.path / "attempts.log"
    lines = log.read_text().split("\n") if log.exists() else []
    return [(w, int(k), int(s), int(p)) for w, k, s, p in (line.split() for line in lines if line)]


def grid(ks, seeds) -> list[list[int]]:
    return sorted([k, s] for k in ks for s in seeds)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start(project, *command: str, env: dict | None = None, **options) -> subprocess.Popen:
    """Start a command of the project's venv in its own process group."""
    program, *rest = command
    return subprocess.Popen(
        [project.venv.bin(program), *rest],
        cwd=project.path,
        env={**os.environ, **project.env, "VIRTUAL_ENV": str(project.venv.path), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **options,
    )


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


@pytest.fixture
def cluster(toy, tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1 (killed after)."""
    loopback = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = start(
        toy, "dask", "scheduler", *loopback, "--port", "0", "--scheduler-file", str(scheduler_file)
    )
    processes = [scheduler]
    try:
        address = wait_for(
            lambda: scheduler_file.exists() and json.loads(scheduler_file.read_text())["address"],
            60,
            "the scheduler file",
        )
        for n in range(2):
            processes.append(
                start(
                    toy,
                    "dask",
                    "worker",
                    address,
                    *loopback,
                    "--nthreads",
                    "1",
                    "--local-directory",
                    str(tmp_path / f"worker{n}"),
                )
            )
        wait = (
            "from distributed import Client\n"
            f"with Client({address!r}, timeout=30) as c: c.wait_for_workers(2, timeout=60)\n"
        )
        toy.run("python", "-c", wait, timeout=90)
        yield address, processes[1:]
    finally:
        for process in processes:
            kill_group(process)


# ---- a whole sweep ----------------------------------------------------------------------------


def test_a_3x2_grid_on_a_local_cluster_saves_six_results_with_their_arguments(toy):
    """The default: a LocalCluster started in-process, one fresh process per setting."""
    done = toy.run("invoke", "sweep", "scripts/toy.py", "--grid", "k=2,3,4 seed=1,2", "--jobs", "2")
    assert "6 runs of scripts/toy.py on a local Dask cluster of 2 workers" in done.stdout
    assert saved(toy) == grid([2, 3, 4], [1, 2])
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[3:4] == ["done"]]
    assert sorted([int(r[1]), int(r[2])] for r in rows) == grid([2, 3, 4], [1, 2])
    assert sorted(int(r[-1]) for r in rows) == [21, 22, 31, 32, 41, 42]  # the score column
    pids = {p for w, _, _, p in attempts(toy)}
    assert len(pids) == 6  # no two runs shared an interpreter
    assert "6 complete runs in" in toy.run("invoke", "results", "toy").stdout


def test_a_lost_worker_loses_no_run_and_resume_adds_no_duplicate(toy, cluster):
    """Killing a worker (and its runs) mid-sweep: Dask re-runs its task elsewhere, and every
    setting still has exactly one complete result; --resume then finds nothing to run."""
    address, workers = cluster
    command = ["invoke", "sweep", "scripts/toy.py", "--grid", "k=1,2,3,4,5,6 seed=1,2 sleep=0.4"]
    sweep = start(toy, *command, "--scheduler", address)
    try:
        worker = os.getpgid(workers[0].pid)

        def a_run_of_the_first_worker_in_flight():
            log = attempts(toy)
            ended = {(k, s, p) for w, k, s, p in log if w == "end"}
            for w, k, s, p in log:
                if w == "start" and (k, s, p) not in ended:
                    try:
                        if os.getpgid(p) == worker:
                            return k, s
                    except ProcessLookupError:
                        pass
            return None

        interrupted = wait_for(a_run_of_the_first_worker_in_flight, 60, "a run on the first worker")
        os.killpg(worker, signal.SIGKILL)
        out, err = sweep.communicate(timeout=120)
    finally:
        kill_group(sweep)
    assert sweep.returncode == 0, out + err
    assert saved(toy) == grid(range(1, 7), [1, 2])
    starts = [(k, s) for w, k, s, _ in attempts(toy) if w == "start"]
    assert starts.count(interrupted) == 2  # killed mid-run, then run again on the other worker
    again = toy.run("invoke", *command[1:], "--scheduler", address, "--resume")
    assert "Nothing to run: all 12 runs already have a complete result." in again.stdout
    assert saved(toy) == grid(range(1, 7), [1, 2])


def test_an_interrupted_sweep_finishes_with_resume_without_duplicates(toy):
    """SIGINT (Ctrl-C) stops the runs in flight; --resume runs only what is missing."""
    command = ["invoke", "sweep", "scripts/toy.py", "--grid", "k=1,2,3,4,5,6 seed=1,2 sleep=0.3"]
    sweep = start(toy, *command, "--jobs", "2")
    try:
        wait_for(lambda: sum(w == "end" for w, *_ in attempts(toy)) >= 3, 60, "three runs")
        sweep.send_signal(signal.SIGINT)
        out, err = sweep.communicate(timeout=60)
    finally:
        kill_group(sweep)
    assert sweep.returncode == 1
    assert "Error: interrupted after" in err and "run the same command with --resume" in err
    first = saved(toy)
    assert 3 <= len(first) < 12
    resumed = toy.run(*command, "--jobs", "2", "--resume")
    assert f"({len(first)} skipped: already complete)" in resumed.stdout
    assert saved(toy) == grid(range(1, 7), [1, 2])


def test_without_dask_the_sweep_runs_on_a_local_pool_and_says_how_to_scale_out(toy, tmp_path):
    """The cluster extra absent (dask made unimportable): same runs, through a local pool."""
    blocked = tmp_path / "no-dask"
    for name in ("dask", "distributed"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {"PYTHONPATH": str(blocked)}
    done = toy.run("invoke", "sweep", "scripts/toy.py", "--grid", "k=2,3 seed=1,2", "--jobs", "2", env=env)
    assert "Dask is not installed: running on a local pool of 2." in done.stdout
    assert "pip install -e '.[cluster]', then --scheduler tcp://HOST:8786 or --slurm PROFILE" in done.stdout
    assert saved(toy) == grid([2, 3], [1, 2])
    refused = toy.run(
        "invoke", "sweep", "scripts/toy.py", "--grid", "k=2", "--scheduler", "tcp://127.0.0.1:8786",
        env=env, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip() == "Error: --scheduler and --slurm need Dask: pip install -e '.[cluster]'"


def test_a_failing_run_is_reported_and_the_others_still_finish(toy):
    """k=0 makes the toy divide by zero: one failed run, its error shown, exit status 1."""
    script = toy.path / "scripts" / "toy.py"
    script.write_text(script.read_text().replace("time.sleep(args.sleep)", "1 / args.k"))
    done = toy.run("invoke", "sweep", "scripts/toy.py", "--grid", "k=0,1,2", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "Error: 1 of 3 runs failed: run 0 (k=0): ZeroDivisionError: division by zero; "
        "each run's stderr is in results/.sweeps/toy/"
    )
    assert saved(toy) == [[1, 0], [2, 0]]
    state = next((toy.path / "results" / ".sweeps" / "toy").iterdir())
    assert "Traceback" in json.loads((state / "0.json").read_text())["stderr"]


def test_dry_run_shows_the_commands_and_runs_nothing(toy):
    done = toy.run("invoke", "sweep", "scripts/toy.py", "--grid", "k=2,3 sleep=0.5", "--dry-run")
    assert "python scripts/toy.py --k 2 --sleep 0.5" in done.stdout
    assert "python scripts/toy.py --k 3 --sleep 0.5" in done.stdout
    assert not (toy.path / "attempts.log").exists()
    assert not (toy.path / "results" / "toy").exists()


# ---- bad input: one line, exit 1, nothing run -------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["scripts/toy.py", "--grid", "k=2,,3"], "Error: --grid: 'k=2,,3' has an empty value"),
        (["scripts/toy.py", "--grid", "k=2 seed"], "Error: --grid: 'seed' is not NAME=VALUE,VALUE,..."),
        (
            ["scripts/toy.py", "--grid", "k=2 alpha=0.1"],
            "Error: scripts/toy.py has no option --alpha: it has --k, --seed, --sleep",
        ),
        (["scripts/missing.py", "--grid", "k=2"], "Error: script 'scripts/missing.py' does not exist"),
        (["scripts/toy.py", "--grid", "k=2", "--jobs", "-3"], "Error: jobs=-3: give a whole number of 1"),
        (["scripts/toy.py", "--grid", "k=2..x"], "Error: --grid: k=2..x is not a range: write FIRST..LAST"),
        (
            ["scripts/toy.py", "--grid", "k=2", "--scheduler", "tcp://127.0.0.1:{port}"],
            "Error: no Dask scheduler at tcp://127.0.0.1:{port} (nothing listens on port {port} of "
            "127.0.0.1): start one (`dask scheduler`",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_runs_nothing(toy, arguments, message):
    port = free_port()
    arguments = [a.format(port=port) for a in arguments]
    # a hang would hit this timeout; the scheduler's connect_timeout is 5 s
    done = toy.run("invoke", "sweep", *arguments, check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith(message.format(port=port))
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert not (toy.path / "attempts.log").exists()


def test_a_web_server_at_the_scheduler_address_is_one_line_within_the_connect_timeout(toy):
    """Not a Dask scheduler (here an HTTP server the test starts on 127.0.0.1): the sweep ends
    with one line naming the address once connect_timeout (5 s) has passed, never a hang."""
    web = start(toy, "python", "-u", "-m", "http.server", "--bind", "127.0.0.1", "0")
    try:
        port = int(wait_for(lambda: web.stdout.readline().split(" port ")[1].split()[0], 60, "http"))
        address = f"tcp://127.0.0.1:{port}"
        done = toy.run("invoke", "sweep", "scripts/toy.py", "--grid", "k=2", "--scheduler", address,
                       check=False, timeout=5 + 25)  # fmt: skip
    finally:
        kill_group(web)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: no Dask scheduler at {address} (no answer within 5 s): start one (`dask scheduler`, "
        "then `dask worker ADDRESS` on each machine) or give the address it prints (tcp://HOST:PORT) "
        "or its --scheduler-file"
    )
    assert not (toy.path / "attempts.log").exists()


def test_ranges_and_values_that_look_like_options_reach_the_script(toy):
    done = toy.run("invoke", "sweep", "scripts/toy.py", "--grid", "k=2..4 seed=-1", "--dry-run")
    assert [line.split(" planned ")[1] for line in done.stdout.splitlines()[1:]] == [
        f"python scripts/toy.py --k {k} --seed=-1" for k in (2, 3, 4)
    ]


def test_the_readme_sweep_is_planned_from_the_extracted_kmeans_scripts_options(project):
    """Step 4 of the README on the example: cell 10 extracted and its sweep planned. A dry run
    checks the planned commands here; tests/test_workflow.py runs this sweep for real, through
    `invoke workflow`. An option the script lacks, and a k that is not a whole number, are
    refused before anything runs."""
    project.run("invoke", "extract-cell", "notebooks/explore.ipynb", "10")
    command = ["invoke", "sweep", "scripts/kmeans.py", "--grid"]
    planned = project.run(*command, "k=2,3,4,5,6", "--dry-run").stdout.splitlines()
    shown = [line.split(" planned ")[1] for line in planned if " planned " in line]
    assert shown == [f"python scripts/kmeans.py --k {k}" for k in range(2, 7)]
    refused = project.run(*command, "k=2 alpha=0.1", check=False)
    assert refused.stderr.strip() == (
        "Error: scripts/kmeans.py has no option --alpha: it has --k, --seed, --fresh "
        "(see python scripts/kmeans.py --help)"
    )
    mistyped = project.run(*command, "k=2,a", "--dry-run", check=False)
    assert mistyped.returncode == 1
    assert mistyped.stderr.strip() == (
        "Error: --k 'a': scripts/kmeans.py reads --k as type=int, and 'a' is not a whole number: "
        "fix the value"
    )
    assert mistyped.stdout == ""


# ---- a real one-node SLURM on 127.0.0.1 ----------------------------------------------------


# The SLURM tests share one cluster: under pytest-xdist they run on one worker, one at a time.
SLURM_GROUP = pytest.mark.xdist_group("slurm")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """munged, slurmctld and slurmd for this session (python3 dev.py test installs them as root)."""
    why = slurm_missing()
    if why:  # as the figure tests without poppler: fail, saying what to do, never skip
        pytest.fail(f"no one-node SLURM: {why}")
    cluster = OneNodeSlurm(tmp_path_factory.mktemp("slurm")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


PROFILE = """
[tool.{module}.sweep.slurm.{name}]
jobs = {jobs}
cores = 1
memory = "1GB"
walltime = "{walltime}"
queue = "debug"
# The tests' scheduler and workers listen on loopback only (on a real cluster they must not).
scheduler_options = {{ host = "127.0.0.1", dashboard_address = "127.0.0.1:0" }}
worker_extra_args = ["--host", "127.0.0.1"]
"""


def add_profile(project, name: str, jobs: int = 1, walltime: str = "00:10:00", extra: str = "") -> None:
    text = PROFILE.format(module=module_of(project), name=name, jobs=jobs, walltime=walltime) + extra
    with open(project.path / "pyproject.toml", "a") as pyproject:
        pyproject.write(text)


def run_records(project, experiment: str) -> list[dict]:
    """The records of every run of every sweep of ``experiment`` (results/.sweeps/...)."""
    folder = project.path / "results" / ".sweeps" / experiment
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/[0-9]*.json"))]


@SLURM_GROUP
def test_the_readme_sweep_runs_as_slurm_jobs_and_saves_each_setting_once(project, slurm):
    """`invoke sweep scripts/kmeans.py --grid ... --slurm PROFILE` for real: the runs go to
    Dask workers that SLURM started as jobs, with the project's own Python."""
    project.run("invoke", "etl")
    project.run("invoke", "extract-cell", "notebooks/explore.ipynb", "10", "--name", "kmeans")
    add_profile(project, "ci", jobs=2)
    done = project.run(
        "invoke",
        "sweep",
        "scripts/kmeans.py",
        "--grid",
        "k=2..4",
        "--slurm",
        "ci",
        env=slurm.env,
        timeout=600,
    )
    assert (
        "Sweep " in done.stdout
        and "3 runs of scripts/kmeans.py on SLURM profile 'ci' (2 jobs)" in done.stdout
    )
    code = f"from {module_of(project)} import results; print(sorted(results.runs('kmeans')['k']))"
    assert project.run("python", "-c", code).stdout.strip() == "[2, 3, 4]"
    records = run_records(project, "kmeans")
    assert sorted(r["status"] for r in records) == ["done"] * 3
    assert {r["command"][0] for r in records} == {project.venv.bin("python")}
    jobs = {r["slurm_job"] for r in records}
    assert jobs and all(jobs)
    ended = wait_for(lambda: jobs <= set(slurm.finished()) and slurm.finished(), 60, "the job log")
    assert {ended[j] for j in jobs} <= {"COMPLETED", "CANCELLED"}  # the sweep ends its jobs
    assert not slurm.queued()


@SLURM_GROUP
def test_a_cancelled_slurm_job_is_reported_and_resume_finishes_without_duplicates(toy, slurm):
    """scancel of the only job mid-sweep: the sweep ends with the runs it lost, each named
    with its setting; --resume runs only what is missing."""
    add_profile(toy, "one", jobs=1)
    command = ["invoke", "sweep", "scripts/toy.py", "--grid", "k=1..6 seed=1 sleep=1", "--slurm", "one"]
    sweep = start(toy, *command, env=slurm.env)
    try:
        wait_for(lambda: sum(w == "end" for w, *_ in attempts(toy)) >= 2, 240, "two runs")
        slurm.run("scancel", *slurm.queued())
        out, err = sweep.communicate(timeout=120)
    finally:
        kill_group(sweep)
    assert sweep.returncode == 1, out + err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    first = saved(toy)
    assert 2 <= len(first) < 6
    lost = 6 - len(first)
    assert f"{lost} of 6 runs failed: run " in err
    assert "was cancelled while this run ran" in err or "jobs were cancelled before it started" in err
    resumed = toy.run(*command, "--resume", env=slurm.env, timeout=300)
    assert f"({len(first)} skipped: already complete)" in resumed.stdout
    assert saved(toy) == grid(range(1, 7), [1])


@SLURM_GROUP
def test_a_run_slurm_kills_at_its_walltime_is_reported_with_its_setting(toy, slurm):
    """A one-minute walltime and a run of ten: SLURM kills the job; the sweep says which run
    and why, and the run that finished in time is saved."""
    add_profile(toy, "short", walltime="00:01:00")
    done = toy.run(
        "invoke", "sweep", "scripts/toy.py", "--grid", "k=1 sleep=0,600", "--slurm", "short",
        env=slurm.env, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 1
    message = done.stderr.strip()
    assert message.startswith("Error: 1 of 2 runs failed: run 1 (k=1 sleep=600): SLURM job "), message
    assert (
        "was killed at its walltime before this run finished: raise walltime in the SLURM profile" in message
    )
    assert saved(toy) == [[1, 0]]
    assert "TIMEOUT" in slurm.finished().values()


@SLURM_GROUP
def test_a_slurm_job_whose_worker_cannot_start_is_reported_with_the_jobs_own_error(toy, slurm):
    """A profile whose python does not exist on the node: the job ends at once, and the sweep
    ends too (no hang), quoting the job's log."""
    add_profile(toy, "broken", extra='python = "/nonexistent/python"\n')
    done = toy.run(
        "invoke", "sweep", "scripts/toy.py", "--grid", "k=1", "--slurm", "broken",
        env=slurm.env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    message = done.stderr.strip()
    assert message.startswith(
        "Error: 1 of 1 runs failed: run 0 (k=1): never ran: the SLURM jobs ended with no worker "
        "left to run it; dask-worker-"
    ), message
    assert "/nonexistent/python: No such file or directory (job logs in results/.sweeps/toy/" in message
    assert "check the profile's python and job_script_prologue)" in message
    assert not (toy.path / "attempts.log").exists()
