"""The cluster as the System page and ``digitsx config`` show it: partitions (nodes, CPUs and
GPUs per node, each node's state) and what Slurm is running and holding."""
from __future__ import annotations

from . import slurm


def cluster_state(config: dict) -> dict:
    allowed = config.get("SLURM_PARTITIONS")
    if not allowed:
        return {}
    try:
        return {"partitions": [p.to_dict() for p in slurm.partitions(allowed).values()],
                "queue": slurm.queue_summary(), "allowed": allowed}
    except slurm.SlurmError as err:
        return {"error": str(err), "allowed": allowed}
