"""The sweep itself: send a plan's runs to a backend, gather every run's record, report.

``sweep(plan(...))`` returns an :class:`Outcome`: one record per run (status,
result number, host, the tail of its stderr) and a table of them with the
scalar results of each run beside its setting.
"""

from __future__ import annotations

import numbers
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import paths, results
from . import SweepError, backends
from .planning import Plan, Run
from .worker import numbers_by_process, read_json, write_json

STATE_FOLDER = ".sweeps"
CANCELLED = re.compile(r"\*\*\* JOB \d+ .*CANCELLED")  # SLURM's line in a job's log
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class Outcome:
    """What a sweep did: every run's record (state files' contents) and where it ran."""

    plan: Plan
    records: dict[int, dict]
    where: str
    state: Path
    scalars: object = None  # the results store's scalar columns of this sweep's results

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.plan.todo if self.records.get(r.index, {}).get("status") != "done"]

    def table(self):
        """One row per run of this sweep: setting, status, result number, time, host, error;
        with the scalar results of the runs table of the results store."""
        import pandas as pd

        rows = []
        for run in self.plan.runs:
            record = self.records.get(run.index, {})
            status = (
                "skipped (complete)" if run.existing is not None else record.get("status", "lost")
            )
            rows.append(
                {
                    "run": run.index,
                    **run.setting,
                    **({"repeat": run.repeat} if self.plan.repeats else {}),
                    "status": status,
                    "number": run.existing if run.existing is not None else record.get("number"),
                    "seconds": record.get("seconds"),
                    "host": record.get("host"),
                    "error": _last_line(record)
                    if status not in ("done", "skipped (complete)")
                    else "",
                }
            )
        table = pd.DataFrame(rows)
        if self.scalars is not None and not self.scalars.empty:
            table = table.merge(self.scalars, on="number", how="left")
        table["number"] = table["number"].astype("Int64")
        return table

    def problem(self) -> str | None:
        """One line naming the failed runs and their errors, or None when every run finished."""
        failed = self.failed
        if not failed:
            return None
        first = "; ".join(
            f"run {r.index} ({' '.join(f'{k}={v}' for k, v in r.setting.items())}): "
            f"{_last_line(self.records.get(r.index, {}))}"
            for r in failed[:3]
        )
        return (
            f"{len(failed)} of {len(self.plan.todo)} runs failed: {first}; each run's stderr "
            f"is in {paths.relative(self.state)}/; fix and re-run with --resume"
        )


def _last_line(record: dict) -> str:
    if record.get("status") == "cancelled":
        return "not started (sweep interrupted)"
    if record.get("error"):
        return record["error"]
    lines = [line for line in (record.get("stderr") or "").splitlines() if line.strip()]
    if lines:
        return lines[-1].strip()
    if "returncode" in record:
        return f"exit status {record['returncode']}"
    return "never ran (worker lost)"


def sweep(
    plan: Plan,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    slurm: str | None = None,
    notify=lambda message: None,
) -> Outcome:
    """Run the plan's runs that are not complete yet; return every run's outcome.

    ``notify`` receives one-line messages (where the runs go); the progress bar
    (done / failed / running, ETA) is shown only on a terminal.
    """
    jobs = backends.check_jobs(jobs)
    # Unique, also for two sweeps started in the same second: the state files of one
    # must never be taken for an earlier attempt of the other's runs.
    sweep_id = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    state = paths.RESULTS_DIR / STATE_FOLDER / plan.experiment / sweep_id
    todo = plan.todo
    outcome = Outcome(plan, {}, "nowhere (nothing to run)", state)
    started = time.time()
    if todo:
        backend = backends.choose(jobs, scheduler, slurm, notify, state / "slurm")
        state.mkdir(parents=True, exist_ok=True)  # SLURM logs may be in it already
        outcome.where = backend.where
        skipped = len(plan.runs) - len(todo)
        notify(
            f"Sweep {sweep_id}: {len(todo)} runs of {paths.relative(plan.script)} "
            f"on {backend.where}" + (f" ({skipped} skipped: already complete)" if skipped else "")
        )
        job = {
            "sweep": sweep_id,
            "state": str(state),
            "root": str(paths.find_root()),
            "script": str(plan.script),
            "experiment": plan.experiment,
            "env": _run_environment(),
        }
        if slurm:
            profile = backends.slurm_profile(slurm).cluster_options()
            job["slurm_logs"] = str(profile.get("log_directory") or state / "slurm")
        _drive(backend, todo, job, outcome)
        write_json(state / "sweep.json", _summary(outcome, started))
    else:
        notify(f"Nothing to run: all {len(plan.runs)} runs already have a complete result.")
    table = results.runs(plan.experiment)
    records = outcome.records.values()
    # Each saved result names its sweep and its run's index in it (sweep, sweep_run); results
    # saved by older scripts' runs are found by the process that saved them.
    by_index = _numbers_by_index(table, sweep_id) if todo else {}
    wanted = {(r["host"], r["pid"]) for r in records if r.get("pid") and _may_have_saved(r)}
    by_process = numbers_by_process(plan.experiment, table, started, wanted)
    for record in outcome.records.values():
        key = (record.get("host"), record.get("pid"))
        number = by_index.get(record.get("index"), by_process.get(key))
        if record.get("status") == "done" and record.get("number") is None:
            record["number"] = number
        elif record.get("status") != "done" and number is not None:
            # killed (scancel, a lost worker) after its result was saved: it is complete
            record.update(status="done", number=number, error=None)
    outcome.scalars = _scalars(plan, outcome, table)
    return outcome


def _numbers_by_index(table, sweep_id: str) -> dict[int, int]:
    """The complete results of sweep ``sweep_id`` in ``table``, by their run's index."""
    if table.empty or "sweep" not in table or "sweep_run" not in table:
        return {}
    mine = table[table["sweep"] == sweep_id]
    return {
        int(index): int(number)
        for index, number in zip(mine["sweep_run"], mine["number"], strict=True)
        if str(index).isdigit()
    }


def _may_have_saved(record: dict) -> bool:
    """Done, or stopped from outside (a signal, its worker lost) rather than failing itself."""
    returncode = record.get("returncode")
    return record.get("status") == "done" or returncode is None or returncode < 0


def _run_environment() -> dict:
    environment = {"PROJECT_ROOT": str(paths.find_root())}
    threads = str(backends.config().threads_per_run)
    # Parallel runs that each start one BLAS thread per core would fight over the cores.
    environment.update({v: os.environ.get(v, threads) for v in THREAD_VARIABLES})
    return environment


def _batches(runs: list[Run], slots: int) -> list[list[dict]]:
    size = backends.config().batch_size or 0
    size = size or max(1, min(32, len(runs) // (max(slots, 1) * 16)))
    items = [{"index": r.index, "arguments": r.arguments} for r in runs]
    return [items[i : i + size] for i in range(0, len(items), size)]


def _drive(backend, todo: list[Run], job: dict, outcome: Outcome) -> None:
    from tqdm import tqdm

    futures = {backend.submit(b, job): b for b in _batches(todo, backend.slots())}
    done = failed = 0
    bar = tqdm(total=len(todo), unit="run", disable=None, dynamic_ncols=True)
    try:
        for future, records in backend.completed(list(futures)):
            if isinstance(records, BaseException):  # its workers kept dying, or all jobs ended
                records = [_lost(r["index"], records, job) for r in futures[future]]
            for record in records:
                ended = _slurm_end(record, job)  # a run SLURM killed: say so, not "signal 15"
                if ended:
                    record["error"] = ended
                outcome.records[record["index"]] = record
                done += record.get("status") == "done"
                failed += record.get("status") != "done"
            remaining = len(todo) - done - failed
            bar.set_postfix(
                done=done, failed=failed, running=min(backend.slots(), remaining), refresh=False
            )
            bar.update(len(records))
    except KeyboardInterrupt:
        (Path(job["state"]) / "CANCELLED").touch()
        backend.stop(job["sweep"], list(futures))
        raise SweepError(
            f"interrupted after {done + failed} of {len(todo)} runs: run the same command with "
            "--resume to finish"
        ) from None
    finally:
        bar.close()
        backend.close()


def _lost(index: int, error: BaseException, job: dict) -> dict:
    """The record of a run whose task failed: what its state file knows, and why it was lost."""
    started = read_json(Path(job["state"]) / f"{index}.json") or {}
    record = {**started, "index": index, "status": "failed"}
    ended = _slurm_end(record, job)
    if ended:
        record["error"] = ended
    elif started.get("pid"):
        record["error"] = (
            f"lost with its worker on {started.get('host')} ({type(error).__name__}: {error})"
        )
    elif type(error).__name__.endswith("CancelledError") and job.get("slurm_logs"):
        record["error"] = _no_slurm_worker(Path(job["slurm_logs"]))
    elif type(error).__name__.endswith("CancelledError"):  # its jobs ended, or Ctrl-C
        record["error"] = "never ran: no worker was left to run it"
    else:
        record["error"] = f"{type(error).__name__}: {error}"
    return record


def _slurm_end(record: dict, job: dict) -> str | None:
    """Why the SLURM job under a run that did not finish ended, from the job's log (SLURM's
    own line); None when the run was not in a SLURM job or finished on its own."""
    slurm_job = record.get("slurm_job")
    returncode = record.get("returncode")
    if not slurm_job or (returncode is not None and returncode >= 0):
        return None
    logs = Path(job.get("slurm_logs") or job["state"])
    text = ""
    for log in sorted(logs.glob(f"*-{slurm_job}.*")):  # dask-jobqueue's <name>-<job id>.err
        text += log.read_text(encoding="utf-8", errors="replace")
    shown = paths.relative(logs)
    if "DUE TO TIME LIMIT" in text:
        return (
            f"SLURM job {slurm_job} was killed at its walltime before this run finished: raise "
            f"walltime in the SLURM profile (job log in {shown}/)"
        )
    if CANCELLED.search(text):
        return f"SLURM job {slurm_job} was cancelled while this run ran (job log in {shown}/)"
    if "returncode" in record:
        return None  # killed by a signal, not by SLURM: the run's own stderr tells
    return f"SLURM job {slurm_job} ended before this run finished (job log in {shown}/)"


def _no_slurm_worker(logs: Path) -> str:
    """Why a run never ran on SLURM: every job ended; the last job log's last line says why."""
    shown = paths.relative(logs)
    found = sorted(logs.glob("*.err"), key=lambda p: p.stat().st_mtime)
    text = found[-1].read_text(encoding="utf-8", errors="replace") if found else ""
    last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), None)
    if "DUE TO TIME LIMIT" in text:
        return (
            "never ran: the SLURM jobs reached their walltime before it started: raise walltime "
            f"in the SLURM profile (job logs in {shown}/)"
        )
    if CANCELLED.search(text):
        return f"never ran: the SLURM jobs were cancelled before it started (job logs in {shown}/)"
    said = f"; {found[-1].name} ends with: {last[:300]}" if last else ""
    return (
        f"never ran: the SLURM jobs ended with no worker left to run it{said} (job logs in "
        f"{shown}/: check the profile's python and job_script_prologue)"
    )


def _summary(outcome: Outcome, started: float) -> dict:
    return {
        "script": str(outcome.plan.script),
        "script_sha256": outcome.plan.script_sha256,
        "script_hash": outcome.plan.script_hash,
        "experiment": outcome.plan.experiment,
        "where": outcome.where,
        "started": started,
        "seconds": round(time.time() - started, 3),
        "runs": [
            {
                "index": r.index,
                "setting": r.setting,
                "repeat": r.repeat,
                "arguments": r.arguments,
                "existing": r.existing,
                "status": outcome.records.get(r.index, {}).get("status"),
            }
            for r in outcome.plan.runs
        ],
    }


def _scalars(plan: Plan, outcome: Outcome, table):
    """The results store's rows for this sweep's results: their scalar result columns."""
    mine = {r.existing for r in plan.runs if r.existing is not None}
    mine |= {r["number"] for r in outcome.records.values() if r.get("number") is not None}
    if table.empty or not mine:
        return None
    known = {*results.RUN_COLUMNS, *plan.options, *(f"arg.{d}" for d in plan.options)}
    known |= {k for r in plan.runs for k in r.setting}
    columns = [c for c in table.columns if c == "number" or c not in known]
    rows = table[table["number"].isin(mine)][columns]
    scalar = [
        c
        for c in columns
        if c == "number" or rows[c].map(lambda v: isinstance(v, str | numbers.Number)).all()
    ]
    return rows[scalar]
