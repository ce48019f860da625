"""A one-node SLURM cluster on 127.0.0.1 for the tests: munged, slurmctld and slurmd started
in a temporary folder (their state, logs, key and sockets all live there), stopped after.

Debian's ``slurm-wlm`` and ``munge`` packages provide the daemons (``python3 dev.py test``
installs them when it runs as root). The daemons run as root (``SlurmUser=root``), so the
cluster needs root; finished jobs are logged by ``jobcomp/filetxt`` to :attr:`jobs_log`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def missing() -> str | None:
    """Why a one-node SLURM cannot start here, or None when it can."""
    absent = [d for d in (*DAEMONS, "sbatch", "squeue", "scancel") if not shutil.which(d)]
    if absent:
        return f"{', '.join(absent)} not found: install slurm-wlm and munge (python3 dev.py test does)"
    if os.geteuid() != 0:
        return "the one-node SLURM of the tests runs its daemons as root: run python3 dev.py test as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OneNodeSlurm:
    """One node, one partition (``debug``), every daemon a child process of this one."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.jobs_log = folder / "log" / "jobcomp.log"
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict:
        """What SLURM's commands (sbatch, squeue, scancel) need to find this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def start(self) -> OneNodeSlurm:
        folder = self.folder
        for sub in ("munge", "state", "spool", "log"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "munge").chmod(0o700)
        key = folder / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(128))
        key.chmod(0o600)
        socket_path = folder / "munge" / "munge.socket"
        self._start(
            "munged", "--foreground", "--force", f"--key-file={key}", f"--socket={socket_path}",
            f"--pid-file={folder / 'munge' / 'munged.pid'}", f"--log-file={folder / 'log' / 'munged.log'}",
            f"--seed-file={folder / 'munge' / 'seed'}",
        )  # fmt: skip
        self._wait(socket_path.exists, "munged's socket")
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
        node = next(line for line in node.splitlines() if line.startswith("NodeName="))
        self.conf.write_text(
            CONF.format(
                folder=folder,
                socket=socket_path,
                controller=node.split()[0].partition("=")[2],
                node=node,
                ctld_port=_free_port(),
                slurmd_port=_free_port(),
            )
        )
        self._start("slurmctld", "-D", "-f", str(self.conf))
        self._start("slurmd", "-D", "-f", str(self.conf))
        self._wait(self._idle, "the node to be idle (sinfo)")
        return self

    def _start(self, *command: str) -> None:
        log = open(self.folder / "log" / f"{command[0]}.out", "ab")
        self.processes.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        )
        log.close()

    def _wait(self, condition, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{process.args[0]} exited ({process.returncode}): see {self.folder}/log"
                    )
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}: see {self.folder}/log")

    def _idle(self) -> bool:
        done = self.run("sinfo", "--noheader", "--format=%t", check=False)
        return done.returncode == 0 and done.stdout.split() == ["idle"]

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """A SLURM command (squeue, scancel, ...) against this cluster."""
        return subprocess.run(
            command, capture_output=True, text=True, check=check, timeout=60, env={**os.environ, **self.env}
        )

    def queued(self) -> list[str]:
        """The ids of the jobs queued or running."""
        return self.run("squeue", "--noheader", "--format=%i").stdout.split()

    def finished(self) -> dict[str, str]:
        """Job id -> final state (COMPLETED, CANCELLED, TIMEOUT, ...) from the job log."""
        lines = self.jobs_log.read_text().splitlines() if self.jobs_log.exists() else []
        fields = [dict(f.partition("=")[::2] for f in line.split()) for line in lines]
        return {f["JobId"]: f["JobState"] for f in fields if "JobId" in f}

    def stop(self) -> None:
        """Cancel every job, then stop the daemons (slurmd, slurmctld, munged) and wait for them."""
        try:
            ids = self.queued()
            if ids:
                self.run("scancel", *ids, check=False)
                self._wait(lambda: not self.queued(), "the jobs to end", timeout=60)
        except Exception:  # the daemons may be half-started: stop them all the same
            pass
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


CONF = """\
ClusterName=tests
SlurmctldHost={controller}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={folder}/log/jobcomp.log
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
InactiveLimit=0
KillWait=5
MinJobAge=30
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
