"""Where a sweep's runs go: a local pool of threads, a LocalCluster, a running Dask scheduler,
or Dask workers started as SLURM jobs by dask-jobqueue.

Every backend has the same small interface (``submit``, ``completed``, ``slots``,
``stop``, ``close``) and sends :func:`worker.run_batch` tasks. A scheduler given
by address is first asked who it is, within ``connect_timeout``: anything else
(a closed port, a web server, a server that never answers, a name that does not
resolve) is one :class:`SweepError` line, never a hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from .. import settings
from . import SweepError
from .worker import run_batch, stop_runs

INSTALL_HINT = "pip install -e '.[cluster]'"
SCHEDULER_FIX = (
    "start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or give the "
    "address it prints (tcp://HOST:PORT) or its --scheduler-file"
)


def config() -> settings.Sweep:
    """The ``[tool.<package>.sweep]`` settings, checked (a bad value is one line)."""
    return settings.read("sweep", settings.Sweep)


def check_jobs(jobs: int | None) -> int:
    """How many runs go at once: ``jobs``, else ``sweep.jobs``, else one per core.

    The sweep settings are checked too: a bad value fails here, before anything runs.
    """
    chosen = config().jobs
    if jobs is not None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise SweepError(f"jobs={jobs!r}: give a whole number of 1 or more")
        return jobs
    return chosen or os.cpu_count() or 1


# ---- a local pool ---------------------------------------------------------------------------


class Pool:
    """Runs on this machine through a thread pool, each thread waiting on one run's process."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.where = f"a local pool of {jobs}"
        self.executor = concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="sweep")

    def submit(self, batch, job):
        return self.executor.submit(run_batch, batch, job)

    def completed(self, futures):
        """(future, its result or the exception it raised), in the order they finish."""
        for future in concurrent.futures.as_completed(futures):
            try:
                yield future, future.result()
            except Exception as error:
                yield future, error

    def slots(self) -> int:
        return self.jobs

    def stop(self, sweep: str, futures) -> None:
        for future in futures:
            future.cancel()
        stop_runs(sweep)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


# ---- Dask -----------------------------------------------------------------------------------


class Dask:
    """Runs as tasks of a Dask cluster: local, an existing scheduler, or SLURM jobs.

    ``ended`` (SLURM) tells when every job of the cluster has ended: the tasks still
    waiting then can never run, and are cancelled so that the sweep reports them.
    """

    def __init__(self, client, cluster, where: str, quiet=None, ended=None):
        self.client, self.cluster, self.where, self.quiet = client, cluster, where, quiet
        self.ended = ended
        self._slots, self._checked = 0, 0.0
        self._stop = threading.Event()

    def submit(self, batch, job):
        key = f"sweep-{job['sweep']}-{batch[0]['index']}"
        return self.client.submit(run_batch, batch, job, key=key, pure=False)

    def completed(self, futures):
        """(future, its result or the exception it raised), in the order they finish."""
        from distributed import as_completed

        if self.ended is not None:
            threading.Thread(target=self._watch, args=(futures,), daemon=True).start()
        # Results come with the completion messages: no round trip per future.
        for future, result in as_completed(futures, with_results=True, raise_errors=False):
            yield future, result[1] if future.status == "error" else result

    def _watch(self, futures) -> None:
        while not self._stop.wait(2):
            if all(f.done() for f in futures):
                return
            try:
                if self.ended():
                    self.client.cancel([f for f in futures if not f.done()])
                    return
            except Exception:  # the client is closing: nothing left to watch
                return

    def slots(self) -> int:
        if time.monotonic() - self._checked > 2:
            self._slots = sum(self.client.nthreads().values())
            self._checked = time.monotonic()
        return self._slots

    def stop(self, sweep: str, futures) -> None:
        stop_runs(sweep)  # runs of an in-process LocalCluster
        try:
            self.client.run(stop_runs, sweep)  # runs on the workers of a real cluster
        except Exception:  # a worker may be gone already; the CANCELLED file stops the rest
            pass
        self.client.cancel(futures)

    def close(self) -> None:
        self._stop.set()
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.quiet is not None:
            self.quiet.__exit__(None, None, None)


def choose(jobs: int, scheduler: str | None, slurm: str | None, notify, log_directory=None):
    """The backend for a sweep: SLURM jobs, a scheduler, a LocalCluster, or a local pool.

    ``log_directory`` is where SLURM jobs write their output (unless the profile says).
    """
    sweep_settings = config()
    if not scheduler and not slurm:
        scheduler = sweep_settings.scheduler or None
    if scheduler == "local":
        scheduler = None
    if scheduler and slurm:
        raise SweepError("give scheduler or slurm, not both")
    try:
        import distributed
    except ImportError:
        if scheduler or slurm:
            raise SweepError(f"--scheduler and --slurm need Dask: {INSTALL_HINT}") from None
        notify(
            f"Dask is not installed: running on a local pool of {jobs}. To scale out to a "
            f"cluster: {INSTALL_HINT}, then --scheduler tcp://HOST:8786 or --slurm PROFILE."
        )
        return Pool(jobs)
    if slurm:
        profile = slurm_profile(slurm)
        if not shutil.which("sbatch"):
            raise SweepError(
                "sbatch is not on PATH: run a --slurm sweep on the cluster's login node"
            )
        extra = {} if log_directory is None else {"log_directory": str(log_directory)}
        cluster = slurm_cluster(slurm, **extra)
        cluster.scale(jobs=profile.jobs)
        return Dask(
            distributed.Client(cluster),
            cluster,
            f"SLURM profile {slurm!r} ({profile.jobs} jobs)",
            ended=lambda: _jobs_ended(cluster),
        )
    if scheduler:
        client = connect(scheduler, sweep_settings.connect_timeout)
        return Dask(client, None, f"the scheduler at {client.scheduler.address}")
    return _local_cluster(jobs)


def _local_cluster(jobs: int) -> Dask:
    import logging

    import dask
    import distributed

    # The workers share this process with the runs' bookkeeping: their statistical profiler
    # (a stack sample every 10 ms) and fast health ticks would cost more CPU than short runs.
    quiet = dask.config.set(
        {
            "distributed.worker.profile.enabled": False,
            "distributed.admin.tick.interval": "1s",
            "distributed.admin.system-monitor.gil.enabled": False,
        }
    )
    cluster = distributed.LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=False,  # each run is its own process already; threads only wait on them
        silence_logs=logging.ERROR,
        # No dashboard; the scheduler's small HTTP server listens on loopback only.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )
    where = f"a local Dask cluster of {jobs} workers"
    return Dask(distributed.Client(cluster), cluster, where, quiet)


# ---- a running scheduler --------------------------------------------------------------------


def connect(scheduler: str, timeout: float = 5):
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (an address, ``host:port``,
    or a scheduler file), once it has answered as a Dask scheduler within ``timeout`` s.

    Anything else raises :class:`SweepError` within about ``timeout`` seconds.
    """
    import distributed

    address = _address(scheduler)
    problem = _not_a_scheduler(address, timeout)
    if problem:
        raise SweepError(f"no Dask scheduler at {address} ({problem}): {SCHEDULER_FIX}")
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, ValueError, TimeoutError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise SweepError(f"no Dask scheduler at {address} ({first}): {SCHEDULER_FIX}") from None


def _address(scheduler: str) -> str:
    if Path(scheduler).is_file():  # a scheduler file (dask scheduler --scheduler-file)
        try:
            return json.loads(Path(scheduler).read_text(encoding="utf-8"))["address"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise SweepError(
                f"{scheduler} is not a scheduler file (JSON with an address): give the file "
                "`dask scheduler --scheduler-file` wrote, or the scheduler's address"
            ) from None
    return scheduler if "://" in scheduler else f"tcp://{scheduler}"


def _not_a_scheduler(address: str, timeout: float) -> str | None:
    """Why ``address`` is not a Dask scheduler that answers within ``timeout``; None if it is.

    The question runs in a thread of its own that is given up after the timeout, so a
    peer that accepts and never answers (or a name lookup that hangs) cannot hold us.
    """
    answer: dict = {}

    def ask():
        try:
            _reachable(address, timeout)
            answer["identity"] = asyncio.run(asyncio.wait_for(_identity(address), timeout))
        except BaseException as error:  # reported below, in the caller's thread
            answer["error"] = error

    thread = threading.Thread(target=ask, name="sweep-scheduler-check", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if thread.is_alive() or isinstance(answer.get("error"), TimeoutError):
        return f"no answer within {timeout:g} s"
    error = answer.get("error")
    if error is not None:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return text[:200]
    identity = answer.get("identity")
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        kind = identity.get("type") if isinstance(identity, dict) else type(identity).__name__
        return f"it answered as {kind!r}, not as a Dask scheduler"
    return None


def _reachable(address: str, timeout: float) -> None:
    """Raise a plain-words OSError for a TCP address whose name or port is wrong."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        return  # other protocols (tls, ucx, ...) are left to Dask
    host = host.strip("[]")
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise OSError(f"the name {host!r} does not resolve") from None
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except ConnectionRefusedError:
        raise OSError(f"nothing listens on port {port} of {host}") from None


async def _identity(address: str):
    from distributed.comm import connect as open_comm
    from distributed.security import Security

    # TLS certificates etc. from the Dask configuration, as the client itself would use them.
    comm = await open_comm(address, **Security().get_connection_args("client"))
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


# ---- SLURM ----------------------------------------------------------------------------------


def slurm_profile(name: str) -> settings.SlurmProfile:
    """``[tool.<package>.sweep.slurm.<name>]``, checked."""
    profiles = config().slurm
    if name not in profiles:
        names = ", ".join(sorted(profiles)) or "none"
        raise SweepError(
            f"no SLURM profile {name!r} in {settings.where('sweep.slurm')} (profiles: {names}): "
            "add one to pyproject.toml"
        )
    return profiles[name]


def slurm_cluster(profile: str, **overrides):
    """A dask-jobqueue ``SLURMCluster`` from ``[tool.<package>.sweep.slurm.PROFILE]`` and
    ``overrides`` (the profile wins for ``log_directory``); no job is submitted yet
    (``cluster.job_script()`` shows what would be)."""
    options = slurm_profile(profile).cluster_options()
    if "log_directory" in options:
        overrides.pop("log_directory", None)
    # One worker per job whose threads each wait on one run (dask-jobqueue would split
    # the cores into single-threaded worker processes, which buys nothing here).
    options = {"processes": 1, **options, **overrides}
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise SweepError(f"--slurm needs dask-jobqueue: {INSTALL_HINT}") from None
    try:
        return SLURMCluster(**options)
    except (TypeError, ValueError) as error:
        raise SweepError(
            f"SLURM profile {profile!r} in {settings.where('sweep.slurm.' + profile)}: {error}: "
            "see the dask-jobqueue docs for SLURMCluster"
        ) from None


def _jobs_ended(cluster) -> bool:
    """True once the cluster has no worker and none of its SLURM jobs is queued or running."""
    if cluster.scheduler_info.get("workers"):
        return False
    ids = [str(job.job_id) for job in cluster.workers.values() if getattr(job, "job_id", None)]
    if not ids:
        return False  # not submitted yet
    try:
        queued = subprocess.run(
            ["squeue", "--noheader", "--format=%i", "--jobs", ",".join(ids)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    # squeue fails for ids it no longer knows: those jobs have ended too.
    return not set(queued.stdout.split()) & set(ids)
