"""The data path: a split held in memory (seeded batches by index, resumable order), the
streamed path with JPEG records decoded by the training process, loader processes that follow
the cores, and snapshots written off the loop."""
from __future__ import annotations

import errno
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler

from digitsx.engine import checkpoint, data
from digitsx.engine.data import MemoryLoader


class Squares(Dataset):
    """Item i: a 1×4×4 uint8 image filled with i, label i % 3."""

    def __init__(self, n: int = 50) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return torch.full((1, 4, 4), i, dtype=torch.uint8), i % 3


def ids(batch) -> list[int]:
    return batch[0][:, 0, 0, 0].tolist()


def test_a_split_in_memory_is_stacked_and_served_in_seeded_batches():
    loader = MemoryLoader(Squares(), 8, True, seed=5, threads=2)
    assert loader.stacked is not None and loader.stacked[0].shape == (50, 1, 4, 4)
    assert len(loader) == 7 and loader.location == "host"
    epoch = [i for batch in loader for i in ids(batch)]
    assert sorted(epoch) == list(range(50)) and epoch != list(range(50))
    first = next(iter(loader))
    assert first[1].tolist() == [i % 3 for i in ids(first)]  # labels stay with their images
    again = MemoryLoader(Squares(), 8, True, seed=5)
    assert [i for batch in again for i in ids(batch)] == epoch  # same seed, same order
    state = loader.generator.get_state()  # what a snapshot keeps
    following = [ids(b) for b in loader]
    loader.generator.set_state(state)
    assert [ids(b) for b in loader] == following  # a resumed job draws the same next epoch
    streamed = data.loader(Squares(), 8, True, workers=1, seed=5, pin=False)
    fresh = MemoryLoader(Squares(), 8, True, seed=5)
    # the first epoch's batches are those the loader processes would give from the same seed
    assert [ids(b) for b in fresh] == [ids(b) for b in streamed]
    plain = MemoryLoader(Squares(), 16, False, seed=0)
    assert [i for batch in plain for i in ids(batch)] == list(range(50))


def test_items_that_do_not_stack_keep_the_tasks_collate_and_a_sampler_shares_them():
    def collate(batch):  # detection-style: lists
        return [b[0] for b in batch], [b[1] for b in batch]

    loader = MemoryLoader(Squares(20), 6, True, seed=1, collate=collate)
    assert loader.stacked is None
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [6, 6, 6, 2] and isinstance(batches[0][0], list)
    sampler = DistributedSampler(Squares(20), num_replicas=2, rank=1, shuffle=True, seed=3)
    shared = MemoryLoader(Squares(20), 4, True, seed=1, sampler=sampler)
    assert len(shared) == 3
    mine = [i for batch in shared for i in ids(batch)]
    assert sorted(mine) == sorted(list(iter(sampler))) and len(mine) == 10


def test_what_fits_follows_the_budget_and_loader_processes_follow_the_cores(monkeypatch):
    monkeypatch.setenv("DIGITSX_IN_MEMORY_MB", "1")
    assert data.memory_budget() == 2**20
    assert data.decoded_size(Squares(100)) == 100 * (16 + 8)
    monkeypatch.setenv("DIGITSX_IN_MEMORY_MB", "0")
    assert data.memory_budget() == 0  # off: everything streams
    monkeypatch.delenv("DIGITSX_IN_MEMORY_MB")
    assert 0 < data.memory_budget() <= 8 * 2**30
    monkeypatch.setattr(data, "usable_cores", lambda: 16)
    assert data.default_loader_workers() == 15  # no fixed cap of 8
    assert data.default_loader_workers(processes=4) == 3  # a share per DDP process
    monkeypatch.setattr(data, "usable_cores", lambda: 1)
    assert data.default_loader_workers() == 1


def test_snapshots_are_written_off_the_loop_from_a_copy_and_a_failed_write_is_raised(tmp_path, monkeypatch):
    writer = checkpoint.BackgroundWriter()
    weights = torch.zeros(3)
    told = []
    path = tmp_path / "snapshot_epoch_1.pt"
    writer.submit(path, {"model": {"w": weights}, "epoch": 1}, lambda: told.append(path.exists()))
    weights += 7  # the loop goes on changing the live tensors
    writer.wait()
    saved = torch.load(path, weights_only=True)
    assert saved["model"]["w"].tolist() == [0, 0, 0] and saved["epoch"] == 1
    assert told == [True]  # the snapshot is announced once its file is there
    assert not list(tmp_path.glob("*.tmp"))

    def full(path, state):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "write", full)
    writer.submit(tmp_path / "snapshot_epoch_2.pt", {"epoch": 2}, lambda: told.append("no"))
    with pytest.raises(OSError, match="No space left"):
        writer.wait()
    assert told == [True]


def jpeg_dataset(tmp_path: Path, per_class: int = 12) -> Path:
    """A 3-class 16×16 grey JPEG dataset built by the dataset worker."""
    from digitsx.classification import build
    from digitsx.jobs.protocol import Emitter

    rng = np.random.default_rng(0)
    for c, name in enumerate(("dark", "mid", "light")):
        folder = tmp_path / "images" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(40 + 80 * c, 20, (16, 16)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    job = tmp_path / "dataset"
    job.mkdir()
    (job / "spec.json").write_text(json.dumps({
        "method": "folder", "backend": "lmdb", "data_roots": [str(tmp_path)], "seed": 0,
        "workers": 1, "parallel": "threads",
        "image": {"width": 16, "height": 16, "channels": 1, "resize_mode": "squash", "encoding": "jpg"},
        "folder": {"train": str(tmp_path / "images"), "archive": None, "pct_val": 25, "pct_test": 0,
                   "train_min": 2, "train_max": None}}))
    build.run(job, Emitter(io.StringIO()))
    return job


def test_jpeg_records_streamed_undecoded_and_decoded_in_batches_match_the_host_decoder(tmp_path):
    from digitsx.engine.data import collate_encoded
    from digitsx.classification.data import DatasetInfo, LmdbEncoded, decode_batch

    info = DatasetInfo(jpeg_dataset(tmp_path))
    assert info.encoding == "jpg"
    decoded, encoded = info.split("train"), info.split("train", encoded=True)
    assert isinstance(encoded, LmdbEncoded) and len(encoded) == len(decoded) == 27
    items = [encoded[i] for i in range(5)]
    assert all(item[0].dim() == 1 and item[0][:2].tolist() == [0xFF, 0xD8] for item in items)  # JPEG bytes
    images, labels = collate_encoded(items)
    batch = decode_batch(images, 1, torch.device("cpu"))
    host = torch.stack([decoded[i][0] for i in range(5)])
    assert batch.shape == host.shape == (5, 1, 16, 16) and batch.dtype == torch.uint8
    assert (batch.int() - host.int()).abs().max() <= 2  # libjpeg builds round differently
    assert labels.tolist() == [decoded[i][1] for i in range(5)]


@pytest.mark.parametrize("path", ["memory", "stream"])
def test_a_training_job_reads_its_data_either_way_and_logs_its_phases(tmp_path, path, monkeypatch):
    from digitsx.engine.spec import TrainingSpec
    from digitsx.engine.trainer import Trainer
    from digitsx.jobs.protocol import Emitter
    from digitsx.classification.task import ClassificationTask

    dataset = jpeg_dataset(tmp_path)
    job = tmp_path / "model"
    job.mkdir()
    extra = {} if path == "memory" else {"data_path": "stream", "decode": "device"}
    spec = TrainingSpec.from_dict({
        "dataset": {"dir": str(dataset)}, "network": {"method": "standard", "name": "lenet"},
        "solver": {"type": "SGD", "learning_rate": 0.01, "momentum": 0.9}, "train_epochs": 2,
        "random_seed": 1, "batch_size": 8, "augment": {"use_mean": "image"}, "loader_workers": 1,
        **extra})
    out = io.StringIO()
    trainer = Trainer(job, spec, Emitter(out), ClassificationTask(spec))
    if path == "memory":
        assert isinstance(trainer.train_loader, MemoryLoader) and trainer.val_loader.batch_size == 64
    else:
        assert not isinstance(trainer.train_loader, MemoryLoader)
        assert trainer.train_loader.collate_fn.__name__ == "collate_encoded"  # bytes through the loader
    trainer.run()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert any(("in memory" if path == "memory" else "decoded on cpu") in m for m in logs)
    phases = next(m for m in logs if m.startswith("phases:"))
    for name in ("start-up", "reading", "training", "waiting for data", "validation", "snapshots"):
        assert name in phases
    timings = next(e["data"]["timings"] for e in events if e["event"] == "result" and "timings" in e["data"])
    assert timings["training"] > 0 and timings["validation"] > 0
    assert [e["epoch"] for e in events if e["event"] == "snapshot"] == [1, 2]
    assert sorted(p.name for p in job.glob("snapshot_epoch_*.pt")) == ["snapshot_epoch_1.pt", "snapshot_epoch_2.pt"]
    assert len([e for e in events if e["event"] == "metric" and e["phase"] == "val"]) == 2


@pytest.mark.parametrize("path", ["memory", "stream"])
def test_a_last_training_batch_of_one_image_is_left_out_for_batch_norm(tmp_path, path):
    """27 training images at batch 13 leave one image for a last batch: batch norm cannot train
    on it ("Expected more than 1 value per channel"), so training drops it; validation keeps all."""
    from digitsx.engine.spec import TrainingSpec
    from digitsx.engine.trainer import Trainer
    from digitsx.jobs.protocol import Emitter
    from digitsx.classification.task import ClassificationTask

    dataset = jpeg_dataset(tmp_path)
    job = tmp_path / "model"
    job.mkdir()
    extra = {} if path == "memory" else {"data_path": "stream"}
    spec = TrainingSpec.from_dict({
        "dataset": {"dir": str(dataset)}, "network": {"method": "standard", "name": "resnet18"},
        "solver": {"type": "SGD", "learning_rate": 0.01, "momentum": 0.9}, "train_epochs": 1,
        "random_seed": 1, "batch_size": 13, "loader_workers": 1, **extra})
    out = io.StringIO()
    trainer = Trainer(job, spec, Emitter(out), ClassificationTask(spec))
    assert len(trainer.train_loader) == 2  # 13 + 13, the 27th image left out this epoch
    trainer.run()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert not [e for e in events if e["event"] == "error"], events
    assert [e["epoch"] for e in events if e["event"] == "snapshot"] == [1]
    assert len(MemoryLoader(Squares(27), 13, True, seed=0)) == 3  # validation: every image
    assert [len(ids(b)) for b in MemoryLoader(Squares(27), 13, True, seed=0, training=True)] == [13, 13]
    assert [len(ids(b)) for b in MemoryLoader(Squares(28), 13, True, seed=0, training=True)] == [13, 13, 2]
