"""A throw-away Slurm cluster on this machine: ``slurmctld`` on a bridge in the root network
namespace and two compute nodes, each ``slurmd`` in its own network, UTS and mount namespace
(its own address, hostname and hosts file), sharing the file system (the jobs folder, the
Python environment), as nodes that mount one file system do.

Known traps (Slurm 22.05 on Debian 12, no cgroups): ``proctrack/linuxproc``, ``task/none``,
no accounting; ``ip netns exec`` remounts /sys and slurmd dies, so the namespaces are entered
with ``nsenter``; the munge socket's folder is 0755.

    with Cluster(folder) as cluster:   # needs root, slurm-wlm and munge
        cluster.env                     # SLURM_CONF for sbatch/squeue/scancel
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

NET = "10.77.0"
BRIDGE = "dxslurm0"
NODES = ("n1", "n2")
CTL_PORT, NODE_PORT = 16817, 16818


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def available() -> str | None:
    """Why no cluster can be made here, or None."""
    if os.geteuid() != 0:
        return "not root"
    for exe in ("slurmctld", "slurmd", "munged", "sbatch", "ip", "nsenter", "unshare"):
        if shutil.which(exe) is None and not Path(f"/usr/sbin/{exe}").exists():
            return f"{exe} is not installed (apt-get install slurm-wlm munge iproute2)"
    return None


class Cluster:
    def __init__(self, folder: Path, cpus: int = 1, partition: str = "cpu") -> None:
        self.folder = Path(folder)
        self.cpus, self.partition = cpus, partition
        self.procs: dict[str, subprocess.Popen] = {}
        self.conf = self.folder / "slurm.conf"
        self.env = {"SLURM_CONF": str(self.conf)}

    # -- set-up ---------------------------------------------------------------------
    def _munge(self) -> None:
        sock = self.folder / "munge"
        sock.mkdir(parents=True, exist_ok=True)
        os.chmod(sock, 0o755)
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        self.munge_socket = sock / "munge.socket"
        self.procs["munged"] = subprocess.Popen(
            ["munged", "--foreground", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
             f"--pid-file={sock / 'munged.pid'}", f"--log-file={self.folder / 'munged.log'}",
             f"--seed-file={sock / 'seed'}"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.munge_socket.exists():
                return
            time.sleep(0.05)
        raise RuntimeError("munged did not start: " + (self.folder / "munged.log").read_text(errors="replace"))

    def _network(self) -> None:
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{NET}.1/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        for i, node in enumerate(NODES, start=11):
            ns = f"dx-{node}"
            run("ip", "netns", "add", ns)
            run("ip", "link", "add", f"dxv{node}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            run("ip", "link", "set", f"dxv{node}", "master", BRIDGE)
            run("ip", "link", "set", f"dxv{node}", "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{NET}.{i}/24", "dev", "eth0")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def _config(self) -> None:
        hosts = self.folder / "hosts"
        hosts.write_text("127.0.0.1 localhost\n" + f"{NET}.1 dxctl\n" +
                         "".join(f"{NET}.{i} {n}\n" for i, n in enumerate(NODES, start=11)))
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(exist_ok=True)
        nodes = "".join(f"NodeName={n} NodeAddr={NET}.{i} CPUs={self.cpus} RealMemory=2000 State=UNKNOWN\n"
                        for i, n in enumerate(NODES, start=11))
        self.conf.write_text(f"""ClusterName=dxtest
SlurmctldHost=dxctl({NET}.1)
SlurmctldPort={CTL_PORT}
SlurmdPort={NODE_PORT}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.folder / 'state'}
SlurmdSpoolDir={self.folder / 'spool'}/%n
SlurmctldPidFile={self.folder / 'slurmctld.pid'}
SlurmdPidFile={self.folder / 'slurmd-%n.pid'}
SlurmctldLogFile={self.folder / 'slurmctld.log'}
SlurmdLogFile={self.folder / 'slurmd-%n.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=10
SlurmctldTimeout=10
InactiveLimit=0
KillWait=5
MinJobAge=300
MessageTimeout=5
{nodes}PartitionName={self.partition} Nodes={','.join(NODES)} Default=YES MaxTime=INFINITE State=UP
""")

    def start(self) -> "Cluster":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stop()  # what an earlier run left
        try:
            self._munge()
            self._network()
            self._config()
            # slurmctld runs only on a host named as SlurmctldHost: its own UTS namespace
            self.procs["slurmctld"] = subprocess.Popen(
                ["unshare", "--uts", "sh", "-c", f"hostname dxctl && exec slurmctld -D -i -f {self.conf}"],
                stdout=open(self.folder / "slurmctld.out", "ab"), stderr=subprocess.STDOUT,
                env={**os.environ, **self.env})
            for node in NODES:
                self.start_node(node)
            self.wait_idle()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, node: str) -> None:
        (self.folder / "spool" / node).mkdir(parents=True, exist_ok=True)
        inner = (f"mount --bind {self.folder / 'hosts'} /etc/hosts && hostname {node} && "
                 f"exec nsenter --net=/run/netns/dx-{node} slurmd -D -N {node} -f {self.conf}")
        self.procs[node] = subprocess.Popen(
            ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", inner],
            stdout=open(self.folder / f"slurmd-{node}.out", "ab"), stderr=subprocess.STDOUT,
            env={**os.environ, **self.env}, start_new_session=True)

    def kill_node(self, node: str) -> None:
        """The node dies: its slurmd and every process it started (its session)."""
        proc = self.procs.pop(node, None)
        # Every process of the node is in its network namespace (slurmd, slurmstepd, which
        # makes sessions of its own, and the job's processes)
        pids = set(run("ip", "netns", "pids", f"dx-{node}", check=False).stdout.split())
        if proc is not None:
            pids |= set(run("pgrep", "-s", str(proc.pid), check=False).stdout.split())
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        if proc is not None:
            proc.wait(10)

    def sinfo(self) -> str:
        return subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True,
                              env={**os.environ, **self.env}).stdout

    def wait_idle(self, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            states = dict(line.split() for line in self.sinfo().splitlines() if line.strip())
            if len(states) == len(NODES) and all(s.startswith("idle") for s in states.values()):
                return
            time.sleep(0.3)
        raise RuntimeError(f"the nodes did not come up: {self.sinfo()!r}; "
                           + (self.folder / "slurmctld.log").read_text(errors="replace")[-2000:])

    # -- tear-down ------------------------------------------------------------------
    def stop(self) -> None:
        for name in list(self.procs):
            if name in NODES:
                self.kill_node(name)
        for name, proc in list(self.procs.items()):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
            self.procs.pop(name, None)
        for node in NODES:
            for pid in run("ip", "netns", "pids", f"dx-{node}", check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run("ip", "netns", "del", f"dx-{node}", check=False)
            run("ip", "link", "del", f"dxv{node}", check=False)
        run("ip", "link", "del", BRIDGE, check=False)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
