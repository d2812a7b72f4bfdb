"""Slurm's side of a cluster job: what the cluster has, the batch script, and its commands.

Everything here uses Slurm's own tools (``sinfo``, ``sbatch``, ``squeue``, ``scontrol``,
``sacct``, ``scancel``) with argument lists, never a shell: a batch script is generated from
validated values only (a partition from Slurm's own list, bounded integers, a parsed time
limit, names matched against a strict pattern) and kept in the job folder. The executor that
follows cluster jobs is :mod:`digitsx.jobs.executors`.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")  # a partition, account or QOS
TIMEOUT = 15.0  # seconds a Slurm command may take
RENDEZVOUS_PORT = 29400  # + the Slurm job id % 1000: two jobs on one head node do not collide


class SlurmError(Exception):
    """Slurm cannot be reached or refused a command; the message says which and why."""


def command(*args: str, timeout: float = TIMEOUT) -> str:
    """Run a Slurm client command; its stdout, or SlurmError with its own message."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(f"{args[0]} is not installed on this server (Slurm's client commands "
                         f"and munge are needed)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{args[0]} did not answer within {timeout:.0f} s (is slurmctld up?)") from None
    if done.returncode:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise SlurmError(f"{args[0]}: {' '.join(message[-2:]) or f'exit code {done.returncode}'}")
    return done.stdout


@dataclass
class Partition:
    name: str
    nodes: int
    cpus: int  # per node (the smallest)
    gpus: int  # per node (the smallest; 0: a CPU partition)
    state: str
    node_list: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "nodes": self.nodes, "cpus_per_node": self.cpus,
                "gpus_per_node": self.gpus, "state": self.state, "node_list": self.node_list}


def _gpus(gres: str) -> int:
    """GPUs in a GRES string (``gpu:4``, ``gpu:a100:2(S:0-1)``, ``(null)``)."""
    total = 0
    for part in gres.split(","):
        bits = part.split("(")[0].split(":")
        if bits[0] == "gpu" and bits[-1].isdigit():
            total += int(bits[-1])
    return total


def partitions(allowed: list[str] | None = None) -> dict[str, Partition]:
    """The cluster's partitions (those in ``allowed`` when given), per node, in one ``sinfo``."""
    out = command("sinfo", "-h", "-N", "-o", "%R|%N|%c|%G|%t")
    found: dict[str, Partition] = {}
    for line in out.splitlines():
        bits = line.strip().split("|")
        if len(bits) != 5:
            continue
        name, node, cpus, gres, state = bits
        if allowed is not None and name not in allowed:
            continue
        p = found.setdefault(name, Partition(name, 0, 10**6, 10**6, "up"))
        p.nodes += 1
        p.cpus = min(p.cpus, int(cpus) if cpus.isdigit() else 1)
        p.gpus = min(p.gpus, _gpus(gres))
        p.node_list.append({"node": node, "cpus": int(cpus) if cpus.isdigit() else None,
                            "gpus": _gpus(gres), "state": state})
    return found


def queue_summary() -> list[dict]:
    """What the cluster is running and holding (for the System page)."""
    out = command("squeue", "-h", "-o", "%i|%P|%j|%u|%T|%M|%D|%R")
    rows = []
    for line in out.splitlines():
        bits = line.split("|")
        if len(bits) == 8:
            rows.append(dict(zip(("job", "partition", "name", "user", "state", "time", "nodes", "where"), bits)))
    return rows


def parse_time_limit(text: str) -> int:
    """Slurm's time formats (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``,
    ``D-HH:MM:SS``) → whole minutes (at least 1); ValueError names the formats."""
    text = text.strip()
    m = re.fullmatch(r"(?:(\d{1,4})-)?(\d{1,6})(?::(\d{1,2}))?(?::(\d{1,2}))?", text)
    if not m:
        raise ValueError(f"{text!r} is not a time limit: use minutes (90), HH:MM:SS (1:30:00) or "
                         f"D-HH:MM (2-00:00)")
    days, a, b, c = m.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        minutes = int(days) * 1440 + int(a) * 60 + int(b or 0) + (1 if c and int(c) else 0)
    elif c is not None:  # HH:MM:SS
        minutes = int(a) * 60 + int(b) + (1 if int(c) else 0)
    elif b is not None:  # MM:SS
        minutes = int(a) + (1 if int(b) else 0)
    else:
        minutes = int(a)
    if not 1 <= minutes <= 365 * 1440:
        raise ValueError(f"{text!r}: a time limit is between 1 minute and 365 days")
    return minutes


def batch_script(job_id: str, folder: Path, worker: str, slurm: dict, prelude: str = "",
                 distributed: bool = True) -> str:
    """The batch script of a cluster job: ``srun`` starts ``torch.distributed.run`` on every node
    (c10d rendezvous on the first node, the Slurm job id as rendezvous id, one process per GPU or
    one on a CPU node); rank 0's protocol lines go to ``slurm-<id>.out`` in the job folder.
    Every value comes from a validated spec (``slurm``)."""
    nodes, gpus = int(slurm["nodes"]), int(slurm.get("gpus_per_node") or 0)
    procs = max(1, gpus)
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name=digitsx-{job_id}",
             f"#SBATCH --partition={slurm['partition']}",
             f"#SBATCH --nodes={nodes}",
             "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --cpus-per-task={int(slurm.get('cpus_per_node') or 1)}",
             f"#SBATCH --time={int(slurm['time_limit'])}",
             f"#SBATCH --output={folder}/slurm-%j.out",
             f"#SBATCH --error={folder}/slurm-%j.err",
             "#SBATCH --open-mode=append",
             f"#SBATCH --signal=TERM@{int(slurm.get('signal_seconds') or 60)}",
             "#SBATCH --requeue" if slurm.get("requeue") else "#SBATCH --no-requeue"]
    if gpus:
        lines.append(f"#SBATCH --gpus-per-node={gpus}")
    for key, flag in (("account", "--account"), ("qos", "--qos")):
        if slurm.get(key):
            lines.append(f"#SBATCH {flag}={slurm[key]}")
    lines += ["", "# generated by digitsx from the job's validated spec; kept in the job folder",
              prelude.rstrip(), "set -e",
              "export PYTHONUNBUFFERED=1 TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 DIGITSX_JOB_ID=" + shlex.quote(job_id),
              'export DIGITSX_DEVICE=' + ("cuda" if gpus else "cpu"),
              'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
              ('export TORCH_DISTRIBUTED_BACKEND=' + ("nccl" if gpus else "gloo")),
              # each process gets its share of the node's CPUs (no cgroups pin them: set it)
              f"export OMP_NUM_THREADS={max(1, int(slurm.get('cpus_per_node') or 1) // procs)}",
              # each node's CPU, memory and GPUs, beside the worker (the job page charts them)
              "srun --overlap --ntasks-per-node=1 --kill-on-bad-exit=0 " +
              " ".join(shlex.quote(a) for a in [sys.executable, "-m", "digitsx.jobs.node_telemetry", str(folder)]) +
              " >/dev/null 2>&1 &",
              launch(worker, folder, nodes, procs, distributed), ""]
    return "\n".join(line for line in lines if line is not None)


def launch(worker: str, folder: Path, nodes: int, procs: int, distributed: bool) -> str:
    """The script's ``srun`` line. Several processes: ``torch.distributed.run`` on every node
    (c10d rendezvous on the first node, the Slurm job id as rendezvous id, a port of its own).
    One process (a dataset build, a one-node CPU job): the worker itself, without a launcher
    that would import torch once more before it starts. ``--kill-on-bad-exit=0``: its cancel of
    a dead node's step would kill a requeued run's new step."""
    q = lambda args: " ".join(shlex.quote(a) for a in args)  # noqa: E731
    job = [sys.executable, "-m", worker, str(folder)]
    if not distributed or nodes * procs == 1:
        return "srun --kill-on-bad-exit=0 --ntasks=1 " + q(job)
    return ("srun --kill-on-bad-exit=0 --ntasks-per-node=1 " +
            q([sys.executable, "-m", "torch.distributed.run", f"--nnodes={nodes}",
               f"--nproc-per-node={procs}", "--rdzv-backend=c10d"]) +
            f' --rdzv-endpoint="$head:$(({RENDEZVOUS_PORT} + SLURM_JOB_ID % 1000))" --rdzv-id="$SLURM_JOB_ID" --no-python ' +
            q(job))


def submit(script: Path) -> str:
    """``sbatch --parsable SCRIPT`` → the Slurm job id."""
    out = command("sbatch", "--parsable", str(script))
    job = out.strip().split(";")[0]
    if not job.isdigit():
        raise SlurmError(f"sbatch answered {out.strip()!r}, not a job id")
    return job


def cancel(slurm_id: str) -> None:
    """``scancel`` (TERM to every step, KILL after Slurm's KillWait)."""
    command("scancel", str(int(slurm_id)))


@dataclass
class State:
    slurm_id: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED...
    reason: str = ""
    nodes: str = ""
    exit_code: int | None = None
    restarts: int = 0

    def to_dict(self) -> dict:
        return {"job_id": self.slurm_id, "state": self.state, "reason": self.reason,
                "nodes": self.nodes, "exit_code": self.exit_code, "restarts": self.restarts}


def _state_of(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").upper()


def states(ids: list[str]) -> dict[str, State]:
    """The state of every job in ``ids``, in one ``squeue --json`` (all states; it ignores
    ``-j``: filtered here). Jobs Slurm has already forgotten are missing."""
    if not ids:
        return {}
    data = json.loads(command("squeue", "--json", "--states=all") or "{}")
    wanted, found = set(ids), {}
    for j in data.get("jobs", []):
        sid = str(j.get("job_id"))
        if sid not in wanted:
            continue
        exit_code = j.get("exit_code")
        if isinstance(exit_code, dict):  # newer Slurm: {"return_code": ...}
            exit_code = exit_code.get("return_code", {}).get("number") if isinstance(
                exit_code.get("return_code"), dict) else exit_code.get("return_code")
        if isinstance(exit_code, int) and exit_code > 255:  # 22.05: the raw wait status
            exit_code = exit_code >> 8
        found[sid] = State(sid, _state_of(j.get("job_state")), str(j.get("state_reason") or ""),
                           str(j.get("nodes") or ""), exit_code if isinstance(exit_code, int) else None,
                           int(j.get("restart_cnt") or 0))
    return found


def accounting_state(slurm_id: str) -> State | None:
    """The final state from ``sacct`` (text: 22.05's JSON gets the exit code wrong), or None
    when there is no accounting."""
    try:
        out = command("sacct", "-n", "-X", "-P", "-j", str(int(slurm_id)), "-o", "State,ExitCode,NodeList")
    except SlurmError:
        return None
    for line in out.splitlines():
        bits = line.split("|")
        if len(bits) == 3:
            code = bits[1].split(":")[0]
            return State(slurm_id, bits[0].split()[0].upper(), "", bits[2],
                         int(code) if code.isdigit() else None)
    return None
