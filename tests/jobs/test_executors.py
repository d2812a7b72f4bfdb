"""The Slurm executor's pure parts, without a cluster: the batch script from a validated spec,
time limits, squeue's JSON, and an abort while Slurm is down."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from digitsx.errors import ServiceUnavailable
from digitsx.jobs import executors, slurm


def test_time_limits():
    assert slurm.parse_time_limit("90") == 90
    assert slurm.parse_time_limit("1:30:00") == 90
    assert slurm.parse_time_limit("2-00:00") == 2880
    assert slurm.parse_time_limit("10:30") == 11
    for bad in ("1 hour", "", "-5", "1;reboot", "999999999"):
        with pytest.raises(ValueError):
            slurm.parse_time_limit(bad)


def test_batch_script_is_made_of_validated_values(tmp_path):
    spec = {"partition": "gpu", "nodes": 2, "gpus_per_node": 4, "time_limit": 90, "cpus_per_node": 32,
            "requeue": True, "account": "lab", "qos": None}
    script = slurm.batch_script("20261202-1", tmp_path, "digitsx.classification.train", spec)
    assert "#SBATCH --nodes=2" in script and "#SBATCH --gpus-per-node=4" in script
    assert "#SBATCH --requeue" in script and "#SBATCH --account=lab" in script and "--qos" not in script
    assert "--nproc-per-node=4" in script and "--rdzv-backend=c10d" in script and "--kill-on-bad-exit=0" in script
    assert "OMP_NUM_THREADS=8" in script and "TORCH_DISTRIBUTED_BACKEND=nccl" in script
    one = slurm.batch_script("j", tmp_path, "digitsx.classification.build", {**spec, "nodes": 1, "gpus_per_node": 0},
                             distributed=False)
    assert "torch.distributed.run" not in one and "srun --kill-on-bad-exit=0 --ntasks=1" in one


def test_squeue_json_is_read_and_filtered(monkeypatch):
    answer = {"jobs": [
        {"job_id": 7, "job_state": "FAILED", "state_reason": "NonZeroExitCode", "nodes": "n1", "exit_code": 768},
        {"job_id": 8, "job_state": ["PENDING"], "state_reason": "Resources", "nodes": ""},
        {"job_id": 99, "job_state": "RUNNING"}]}  # another user's: squeue ignores -j
    monkeypatch.setattr(slurm, "command", lambda *a, **k: json.dumps(answer))
    found = slurm.states(["7", "8"])
    assert set(found) == {"7", "8"}
    assert found["7"].exit_code == 3 and found["7"].state == "FAILED"  # 22.05's raw wait status
    assert found["8"].state == "PENDING" and found["8"].reason == "Resources"


def test_abort_while_slurm_is_down_says_503(monkeypatch, tmp_path):
    def down(*args, **kwargs):
        raise slurm.SlurmError("scancel: Unable to contact slurm controller")

    monkeypatch.setattr(slurm, "command", down)
    ex = executors.SlurmExecutor(None, None, lambda *a: None, lambda s: None, lambda j: None)
    ex.handles["job"] = executors.ClusterHandle("job", Path(tmp_path), "12")
    with pytest.raises(ServiceUnavailable, match="could not cancel job 12"):
        ex.abort("job")
    assert not ex.handles["job"].aborting


def test_job_output_is_read_capped_and_never_through_a_link(tmp_path):
    """A job's output and its nodes' telemetry are read a capped block at a time; a link a job's
    code planted (to a file outside its folder) is never followed."""
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"t": 1, "node": "SECRET", "cpu": 1}) + "\n")
    folder = tmp_path / "job"
    (folder / "nodes").mkdir(parents=True)
    (folder / "nodes" / "n1.jsonl").symlink_to(secret)
    (folder / "nodes" / "n2.jsonl").write_text(json.dumps({"t": 2, "node": "n2", "cpu": 5}) + "\n")
    published = []

    class Runner:
        def publish(self, job_id, event, data):
            published.append(data)

    ex = executors.SlurmExecutor(Runner(), None, lambda *a: None, lambda s: None, lambda j: None)
    handle = executors.ClusterHandle("job", folder, "12")
    ex._read_nodes(handle)
    kept = (folder / "telemetry.jsonl").read_text()
    assert "SECRET" not in kept and '"n2"' in kept and "n1.jsonl" not in handle.node_offsets
    (folder / "out").symlink_to(secret)
    assert executors.read_new(folder / "out", 0) == b""
    big = folder / "big.out"
    big.write_bytes(b"x" * (3 * executors.READ_CAP))
    assert len(executors.read_new(big, 0)) == executors.READ_CAP
    assert executors.read_new(big, 3 * executors.READ_CAP - 10) == b"x" * 10
