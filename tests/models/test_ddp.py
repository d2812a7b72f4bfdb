"""Several processes train one model with DistributedDataParallel (gloo on the CPU here; one
process per GPU with NCCL on a GPU host), started by the runner through torchrun."""
from __future__ import annotations

import io
import json

import pytest

from digitsx.classification import build
from digitsx.classification.demo import write_mnist_folder
from digitsx.jobs.protocol import Emitter
from digitsx.classification import MODEL as CLASSIFICATION
from tests.conftest import wait_job


def test_two_process_ddp_job_runs_to_done(make_app, tmp_path):
    ddp_job(make_app, tmp_path, gpus=0)


def ddp_job(make_app, tmp_path, gpus: int) -> None:
    """Two processes: on the CPU with gloo (``gpus=0``: the server is shown no GPU, even on a GPU
    host), or one per GPU with NCCL (tests/gpu runs it where two are found)."""
    write_mnist_folder(tmp_path / "mnist", per_class=20)
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "spec.json").write_text(json.dumps({
        "method": "folder", "backend": "lmdb", "data_roots": [str(tmp_path)], "seed": 0,
        "workers": 1, "parallel": "threads", "image": {"width": 28, "height": 28, "channels": 1,
                                                       "resize_mode": "squash", "encoding": "png"},
        "folder": {"train": str(tmp_path / "mnist"), "archive": None, "pct_val": 25,
                   "pct_test": 0, "train_min": 2, "train_max": None}}))
    build.run(dataset, Emitter(io.StringIO()))
    app = make_app() if gpus else make_app(GPUS=[])
    platform = app.extensions["digitsx"]
    spec = {"dataset": {"id": "x", "dir": str(dataset)}, "processes": 2,
            "network": {"method": "standard", "name": "lenet"},
            "solver": {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0},
            "lr": {"policy": "fixed"}, "train_epochs": 2, "snapshot_interval": 1,
            "val_interval": 1, "random_seed": 1, "batch_size": 32, "augment": {"use_mean": "image"},
            "loader_workers": 1, "resources": {"gpu_count": max(1, gpus)}}
    job = platform.store.create(CLASSIFICATION, "ddp", spec, "alice")
    assert "torch.distributed.run" in platform.runner.command(job)
    from digitsx.jobs.resources import Reservation

    with pytest.raises(ValueError, match="2 processes asked for, but the job holds 1 GPU"):
        platform.runner.command(job, Reservation(gpus=(0,)))  # refused, not a CUDA crash
    assert "--nproc_per_node=2" in platform.runner.command(job, Reservation(gpus=(0, 1)))
    platform.scheduler.tick()
    done = wait_job(app, job.id, 180)
    log = (platform.store.job_dir(job.id) / "log.txt").read_text()
    assert done["status"] == "Done", log[-3000:]
    assert (" on cuda:0 " if gpus else " on cpu ") in log, log[-3000:]
    points = platform.store.metrics(job.id)
    assert [p["epoch"] for p in points if p["phase"] == "val"] == [1, 2]  # rank 0 only: no doubles
    assert sorted(p.name for p in platform.store.job_dir(job.id).glob("snapshot_*")) == \
        ["snapshot_epoch_1.pt", "snapshot_epoch_2.pt"]
