"""The model form's *Where*: this server, or a Slurm partition with nodes, GPUs per node, a
time limit, account and QOS (every task's form; the same fields over REST). Checked against
what Slurm itself says the partition has (one ``sinfo``), never passed on as typed: the
batch script is written from the parsed values (:mod:`digitsx.jobs.slurm`)."""
from __future__ import annotations

from typing import Any

from ..errors import ServiceUnavailable
from ..fields import Field, FieldReader
from ..jobs import slurm

FIELDS = {
    "slurm_partition": Field("text", help="where the job runs: blank for this server, or a Slurm "
                                          "partition (DIGITSX_SLURM_PARTITIONS)"),
    "nodes": Field("int", 1, 1, 1024, help="Slurm: nodes (the batch size stays the global batch)"),
    "gpus_per_node": Field("int", 0, 0, 64, help="Slurm: GPUs per node (0: one process per node, on its CPUs)"),
    "time_limit": Field("text", help="Slurm: minutes, HH:MM:SS or D-HH:MM (blank: 1 day)"),
    "slurm_account": Field("text", help="Slurm: --account, where the site needs one"),
    "slurm_qos": Field("text", help="Slurm: --qos"),
    "slurm_requeue": Field("flag", "", help="Slurm: requeue on node failure and resume from the last snapshot"),
}
DATASET_FIELDS = {k: FIELDS[k] for k in ("slurm_partition", "time_limit")}  # a build: one node
DEFAULT_MINUTES = 1440


def read(r: FieldReader, config: dict) -> dict[str, Any] | None:
    """The parsed cluster part of a spec, or None for this server (errors go to ``r``; 503 when
    Slurm cannot be asked)."""
    name = r.text("slurm_partition").strip()
    if not name:
        return None
    allowed = config.get("SLURM_PARTITIONS")
    if not allowed:
        r.error("slurm_partition", "this server has no Slurm cluster (DIGITSX_SLURM_PARTITIONS)")
        return None
    if not slurm.NAME.match(name) or name not in allowed:
        r.error("slurm_partition", f"{name[:60]!r} is not a partition jobs may use: {', '.join(allowed)}")
        return None
    try:
        found = slurm.partitions(allowed)
    except slurm.SlurmError as err:
        raise ServiceUnavailable(f"Slurm cannot be reached to check partition {name}: {err}") from None
    partition = found.get(name)
    if partition is None:
        r.error("slurm_partition", f"Slurm has no partition {name!r} (it has: {', '.join(found) or 'none'})")
        return None
    nodes = (r.number("nodes") or 1) if "nodes" in (r.form.fields if r.form else FIELDS) else 1
    gpus = (r.number("gpus_per_node") or 0) if "gpus_per_node" in (r.form.fields if r.form else FIELDS) else 0
    if nodes > partition.nodes:
        r.error("nodes", f"partition {name} has {partition.nodes} node(s); {nodes} asked for")
    if gpus and not partition.gpus:
        r.error("gpus_per_node", f"partition {name} has no GPUs (a CPU partition): ask for 0")
    elif gpus > partition.gpus:
        r.error("gpus_per_node", f"partition {name}'s nodes have {partition.gpus} GPU(s); {gpus} asked for")
    minutes = DEFAULT_MINUTES
    if r.text("time_limit").strip():
        try:
            minutes = slurm.parse_time_limit(r.text("time_limit"))
        except ValueError as err:
            r.error("time_limit", str(err))
    out = {"partition": name, "nodes": int(nodes), "gpus_per_node": int(gpus), "time_limit": minutes,
           "cpus_per_node": partition.cpus,
           "requeue": r.flag("slurm_requeue") if "slurm_requeue" in (r.form.fields if r.form else FIELDS) else False}
    for key, field in (("account", "slurm_account"), ("qos", "slurm_qos")):
        value = r.text(field).strip() if field in (r.form.fields if r.form else FIELDS) else ""
        if value and not slurm.NAME.match(value):
            r.error(field, f"{value[:60]!r}: letters, digits, '_', '.' and '-' only")
        out[key] = value or None
    return out


def read_dataset(values: dict[str, Any], config: dict) -> dict[str, Any] | None:
    """A dataset build's cluster part (one node, no GPU), or None; ValidationError as a form's."""
    from ..errors import ValidationError
    from ..fields import Form

    r = Form("Where", DATASET_FIELDS).reader({k: v for k, v in values.items() if k in DATASET_FIELDS})
    cluster = read(r, config)
    if r.errors:
        raise ValidationError(r.errors)
    return cluster
