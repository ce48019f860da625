"""What a Dask worker (or a thread of the local pool) runs: one batch of settings, each as
``python SCRIPT ARGS`` in a fresh process, reported as a small JSON record.

Workers import this module alone: it needs the standard library only (and the names
of two variables from provenance, which needs no more; the results
store is read only when a task is retried after its worker died, to find what the
lost attempt already saved), so a worker starts fast and never imports the planner,
the backends or the driver.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from ..provenance import SWEEP_RUN_VARIABLE, SWEEP_VARIABLE

TAIL_LINES = 20
TAIL_BYTES = 4000
_LIVE: dict[int, tuple[str, subprocess.Popen]] = {}  # pid -> (sweep id, process) in this process
_LIVE_LOCK = threading.Lock()


def run_batch(runs: list[dict], job: dict) -> list[dict]:
    """Run each of ``runs`` (``{"index", "arguments"}``) as ``python SCRIPT ARGS``, in turn.

    This is the task the scheduler sends to a worker. A run that an earlier
    attempt of this task finished (the worker died before reporting) is not run
    again: its state file says so, or the results store holds a record written
    by that attempt's process.
    """
    return [_run_one(run, job) for run in runs]


def _run_one(run: dict, job: dict) -> dict:
    state = Path(job["state"])
    marker = state / f"{run['index']}.json"
    previous = read_json(marker)
    if previous and "returncode" in previous:
        return previous
    if previous and previous.get("pid"):
        number = _number_written_by(
            job["experiment"], previous["host"], previous["pid"], previous["started"]
        )
        if number is not None:
            finished = {**previous, "status": "done", "returncode": 0, "number": number}
            write_json(marker, finished)
            return finished
    host = socket.gethostname()
    if (state / "CANCELLED").exists():
        return {"index": run["index"], "status": "cancelled", "host": host, "stderr": ""}
    command = [sys.executable, job["script"], *run["arguments"]]
    # The run's record names its sweep and its index in it (columns of results.runs()).
    environment = {
        **os.environ,
        **job["env"],
        SWEEP_VARIABLE: job["sweep"],
        SWEEP_RUN_VARIABLE: str(run["index"]),
    }
    started = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            command,
            cwd=job["root"],
            env=environment,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        with _LIVE_LOCK:
            _LIVE[process.pid] = (job["sweep"], process)
        outcome = {
            "index": run["index"],
            "attempt": (previous or {}).get("attempt", 0) + 1,
            "command": command,
            "host": host,
            "pid": process.pid,
            "started": started,
            "slurm_job": os.environ.get("SLURM_JOB_ID"),  # explains a run its job's end killed
        }
        try:
            write_json(marker, outcome)
            returncode = process.wait()
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(process.pid, None)
        outcome.update(
            returncode=returncode,
            status="done" if returncode == 0 else "failed",
            seconds=round(time.time() - started, 3),
            stdout=_tail(out),
            stderr=_tail(err),
        )
    write_json(marker, outcome)
    return outcome


def _tail(handle) -> str:
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - TAIL_BYTES))
    text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-TAIL_LINES:])


def stop_runs(sweep: str) -> int:
    """Kill the runs of sweep ``sweep`` that this process started; how many."""
    with _LIVE_LOCK:
        mine = [p for s, p in _LIVE.values() if s == sweep]
    for process in mine:
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    return len(mine)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_json(path: Path, data: dict) -> None:
    # Written whole under a temporary name and renamed: a reader never sees half a file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(temporary, path)


def _number_written_by(experiment: str, host: str, pid: int, since: float) -> int | None:
    from .. import results  # only when a task is retried: a worker starts without pandas

    table = results.runs(experiment)
    return numbers_by_process(experiment, table, since, {(host, pid)}).get((host, pid))


def numbers_by_process(
    experiment: str, table, since: float, wanted: set[tuple]
) -> dict[tuple, int]:
    """Result numbers in ``table`` (the results store's runs) by the (host, pid) that saved them."""
    if table.empty or not wanted:
        return {}
    from .. import results

    hosts = {h for h, _ in wanted}
    found = {}
    for row in table.to_dict("records"):
        if row.get("host") not in hosts:
            continue
        started = _epoch(row.get("started"))
        if started is not None and started < since - 5:
            continue
        record = results.record(experiment, int(row["number"]))
        key = (record.get("host", row.get("host")), record.get("pid"))
        if key in wanted:
            found[key] = int(row["number"])
    return found


def _epoch(value) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "timestamp"):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None
