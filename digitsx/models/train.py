"""Worker: train an image classification network on a digitsx dataset.

    python -m digitsx.models.train JOB_DIR

Reads ``spec.json``; writes ``snapshot_epoch_<e>.pt`` (weights, optimizer, scaler, RNG, epoch:
enough to resume) and ``network.json``; emits train metrics several times per epoch and
validation loss / top-1 / top-5 (percent) at each validation. Continues from the newest
snapshot in the folder when there is one (resume). No host-device synchronisation per step:
metrics are summed on the device and read only when they are reported.
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from ..jobs.protocol import Emitter, run_worker
from . import checkpoint, schedules
from .networks import build_network, describe
from .augment import Augment, prepare
from .data import DatasetInfo, default_loader_workers, loader



class TrainingError(Exception):
    """A problem to report to the user as the job's error (not a bug)."""


def make_optimizer(params, solver: dict) -> torch.optim.Optimizer:
    """DIGITS's solver types (plus AdamW) with the spec's learning rate and regularisation."""
    kind, lr = solver["type"].upper(), float(solver["learning_rate"])
    wd, momentum = float(solver.get("weight_decay", 0)), float(solver.get("momentum", 0))
    if kind in ("SGD", "NESTEROV"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd,
                               nesterov=kind == "NESTEROV" and momentum > 0)
    if kind == "ADAM":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if kind == "ADAMW":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if kind == "RMSPROP":
        return torch.optim.RMSprop(params, lr=lr, alpha=float(solver.get("rms_decay", 0.99)),
                                   weight_decay=wd)
    if kind == "ADAGRAD":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    if kind == "ADADELTA":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)
    raise TrainingError(f"unknown solver_type {solver['type']!r}")


def _distributed() -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's environment; (1, 0, 0) alone."""
    return (int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
            int(os.environ.get("LOCAL_RANK", 0)))


class Trainer:
    """One training run: the five steps of torchvision's reference, with an event emitter."""

    def __init__(self, folder: Path, spec: dict, out: Emitter) -> None:
        self.folder, self.spec = folder, spec
        self.info = DatasetInfo(Path(spec["dataset"]["dir"]))
        self.world, self.rank, local = _distributed()
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if visible and local >= visible:  # CUDA_VISIBLE_DEVICES holds the reservation only
            raise RuntimeError(f"process {local} of {self.world} has no GPU: the job holds "
                               f"{visible}; run at most one process per reserved GPU")
        self.device = torch.device(f"cuda:{local}" if visible else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        # Only rank 0 speaks the protocol and writes snapshots; the others train quietly.
        self.out = out if self.rank == 0 else Emitter(open(os.devnull, "w"))
        seed = spec.get("random_seed")
        self.seed = int(seed) if seed not in (None, "") else int(time.time()) % 2**31
        torch.manual_seed(self.seed)
        random.seed(self.seed)
        self.aug = Augment(**spec["augment"])
        self.amp = bool(spec.get("amp", True)) and self.device.type == "cuda"
        self.channels_last = bool(spec.get("channels_last", True)) and self.device.type == "cuda"
        self.net = build_network(spec, self.info).to(self.device)  # the bare module: snapshots
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.model = DDP(self.net, device_ids=[local] if self.device.type == "cuda" else None) \
            if self.world > 1 else self.net
        self.optimizer = make_optimizer(self._param_groups(), spec["solver"])
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.mean = self.info.mean()
        self.mean = self.mean.to(self.device) if self.mean is not None else None
        self.aug_gen = torch.Generator(device=self.device)
        self.aug_gen.manual_seed(self.seed + 1)
        self.load_data()
        self.epoch, self.step = 0, 0

    def _param_groups(self) -> list[dict]:
        """One group, or for a pretrained start: loaded layers (frozen, or at ``lr_mult`` × the
        learning rate) and fresh ones; the job's result lists which were which."""
        transfer = getattr(self.net, "digitsx_transfer", None)
        if not transfer:
            return [{"params": list(self.model.parameters()), "lr_mult": 1.0}]
        net = self.spec["network"]
        loaded_names = set(transfer["loaded"])
        named = dict(self.net.named_parameters())
        loaded = [p for n, p in named.items() if n in loaded_names]
        fresh = [p for n, p in named.items() if n not in loaded_names]
        if net.get("freeze"):
            for p in loaded:
                p.requires_grad_(False)
        mult = 0.0 if net.get("freeze") else float(net.get("lr_mult") if net.get("lr_mult") is not None else 1)
        self.out.result(transfer={**transfer, "frozen": bool(net.get("freeze")), "lr_mult": mult,
                                  "pretrained": net.get("name")})
        self.out.log(f"pretrained {net.get('name')}: loaded {len(transfer['loaded'])} tensors, "
                     f"{len(transfer['fresh'])} initialised fresh: {', '.join(transfer['fresh'][:8])}")
        groups = [{"params": fresh, "lr_mult": 1.0}]
        if loaded and not net.get("freeze"):
            groups.append({"params": loaded, "lr_mult": mult})
        return groups

    def load_data(self) -> None:
        spec = self.spec
        workers = int(spec.get("loader_workers") or default_loader_workers())
        pin = self.device.type == "cuda"
        train = self.info.split("train")
        if train is None:
            raise TrainingError("the dataset has no training images")
        batch = max(1, int(spec["batch_size"]) // self.world)  # the form's batch is global
        self.sampler = DistributedSampler(train, self.world, self.rank, bool(spec.get("shuffle", True)),
                                          self.seed) if self.world > 1 else None
        self.train_loader = loader(train, batch, bool(spec.get("shuffle", True)), workers,
                                   self.seed, pin, self.sampler)
        val = self.info.split("val")
        self.val_loader = loader(val, int(spec["batch_size"]), False, max(1, workers // 2),
                                 self.seed, pin) if val is not None else None
        accumulation = max(1, int(spec.get("batch_accumulation") or 1))
        self.steps_per_epoch = max(1, math.ceil(len(self.train_loader) / accumulation))
        self.accumulation = accumulation
        self.total_steps = self.steps_per_epoch * int(spec["train_epochs"])

    # -- snapshots ------------------------------------------------------------------------
    def save(self, epoch: int) -> None:
        """Everything needed to resume after ``epoch``."""
        if self.rank != 0:
            return
        path = checkpoint.snapshot_path(self.folder, epoch)
        checkpoint.write(path, {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scaler": self.scaler.state_dict(), "epoch": epoch, "step": self.step,
                    "seed": self.seed, "torch_rng": torch.get_rng_state(),
                    "loader_rng": self.train_loader.generator.get_state(),
                    "aug_rng": self.aug_gen.get_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
                    "python_rng": list(random.getstate()[1])})
        self.out.snapshot(epoch, path.name)
        keep = int(self.spec.get("keep_snapshots") or 0)
        if keep > 0:
            self.out.result(snapshots=checkpoint.prune(self.folder, keep))

    def restore(self, path: Path) -> None:
        """Continue from a snapshot: weights, optimizer, RNG, epoch."""
        # On the CPU: load_state_dict copies weights and optimizer state onto the model's device,
        # and every generator, CUDA ones included, takes its state as a CPU ByteTensor.
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step, self.seed = int(state["epoch"]), int(state["step"]), int(state["seed"])
        byte_state = lambda t: t.detach().to("cpu", torch.uint8)  # noqa: E731
        torch.set_rng_state(byte_state(state["torch_rng"]))
        self.train_loader.generator.set_state(byte_state(state["loader_rng"]))
        self.aug_gen.set_state(byte_state(state["aug_rng"]))
        if self.device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all([byte_state(s) for s in state["cuda_rng"]])
        random.setstate((3, tuple(state["python_rng"]), None))
        self.out.rewind(self.epoch)
        self.out.log(f"resumed from {path.name} (epoch {self.epoch})")

    # -- the loop ---------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        """The policy's learning rate at an optimizer step."""
        lr = self.spec["lr"]
        return schedules.learning_rate(lr["policy"], float(self.spec["solver"]["learning_rate"]),
                                       100.0 * step / self.total_steps, lr)

    def _to_device(self, images: torch.Tensor, labels: torch.Tensor):
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, labels.to(self.device, non_blocking=True)

    def train_one_epoch(self) -> None:
        """One pass over the training split, reporting about five times."""
        self.model.train()
        batches = len(self.train_loader)
        report_every = max(1, batches // 5)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen, tick = 0, time.perf_counter()
        for i, (images, labels) in enumerate(self.train_loader):
            if i % self.accumulation == 0:
                for group in self.optimizer.param_groups:
                    group["lr"] = self.lr_at(self.step) * group.get("lr_mult", 1.0)
            images, labels = self._to_device(images, labels)
            x = prepare(images, self.mean, self.aug, True, self.aug_gen)
            with torch.autocast(self.device.type, enabled=self.amp, dtype=torch.float16):
                logits = self.model(x)
                loss = F.cross_entropy(logits, labels)
            self.scaler.scale(loss / self.accumulation if self.accumulation > 1 else loss).backward()
            if (i + 1) % self.accumulation == 0 or i + 1 == batches:
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
            loss_sum += loss.detach() * labels.shape[0]
            correct += (logits.detach().argmax(1) == labels).sum()
            seen += labels.shape[0]
            if (i + 1) % report_every == 0 or i + 1 == batches:
                now = time.perf_counter()
                if self.world > 1:  # every rank's share of the report
                    stats = torch.stack([loss_sum, correct.float(), torch.tensor(
                        float(seen), device=self.device)])
                    dist.all_reduce(stats)
                    loss_sum, correct, seen = stats[0], stats[1], int(stats[2].item())
                mean_loss = loss_sum.item() / seen  # the one sync, a few times per epoch
                if not math.isfinite(mean_loss):
                    raise TrainingError(
                        f"the loss became {mean_loss} at epoch {self.epoch + (i + 1) / batches:.2f}"
                        f" (learning rate {self.lr_at(self.step):g}): try a lower learning rate")
                self.out.metric("train", self.epoch + (i + 1) / batches, self.step,
                                loss=mean_loss, accuracy=100.0 * float(correct.item()) / seen,
                                learning_rate=self.lr_at(self.step),
                                images_per_second=seen / max(now - tick, 1e-9))  # all ranks
                self.out.progress(self.epoch * batches + i + 1, batches * int(self.spec["train_epochs"]))
                loss_sum = torch.zeros((), device=self.device)
                correct = torch.zeros((), device=self.device, dtype=torch.long)
                seen, tick = 0, now

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss, top-1 and top-5 accuracy (percent), per-class accuracy, confusion."""
        self.net.eval()
        k = len(self.info.labels)
        confusion = torch.zeros(k * k, dtype=torch.long, device=self.device)
        loss_sum = torch.zeros((), device=self.device)
        top5 = torch.zeros((), dtype=torch.long, device=self.device)
        total = 0
        for images, labels in self.val_loader:
            images, labels = self._to_device(images, labels)
            x = prepare(images, self.mean, self.aug, False)
            with torch.autocast(self.device.type, enabled=self.amp, dtype=torch.float16):
                logits = self.net(x)
            loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum")
            pred = logits.argmax(1)
            confusion += torch.bincount(labels * k + pred, minlength=k * k)
            top5 += (logits.topk(min(5, k), 1).indices == labels[:, None]).any(1).sum()
            total += labels.shape[0]
        matrix = confusion.view(k, k).cpu()
        per_class = (matrix.diag().float() / matrix.sum(1).clamp_min(1).float() * 100).tolist()
        return {"loss": loss_sum.item() / max(total, 1),
                "accuracy": 100.0 * matrix.diag().sum().item() / max(total, 1),
                "accuracy_top5": 100.0 * top5.item() / max(total, 1),
                "per_class": per_class, "confusion": matrix.tolist() if k <= 100 else None}

    def run(self) -> None:
        """Train to ``train_epochs``, validating and snapshotting at their intervals."""
        snapshot = checkpoint.latest_snapshot(self.folder)
        if snapshot is not None:
            self.restore(snapshot)
        else:  # from scratch, perhaps again (resumed before the first snapshot): no old points
            self.out.rewind(-1.0)
        epochs = int(self.spec["train_epochs"])
        self.out.log(f"training {self.spec['network'].get('name') or 'custom network'} on "
                     f"{self.device} for {epochs} epochs, {self.steps_per_epoch} steps/epoch, "
                     f"seed {self.seed}, amp {self.amp}")
        size = int(self.spec["augment"].get("crop_size") or min(self.info.height, self.info.width))
        layers = describe(self.net, self.info.channels, size)
        if self.rank == 0:
            (self.folder / "network.json").write_text(json.dumps({
                "layers": layers, "parameters": sum(p.numel() for p in self.net.parameters()),
                "input": [self.info.channels, size, size], "labels": self.info.labels}, indent=1))
        val_every = max(1, int(float(self.spec.get("val_interval") or 1)))
        snap_every = max(1, int(float(self.spec.get("snapshot_interval") or 1)))
        while self.epoch < epochs:
            if self.sampler is not None:
                self.sampler.set_epoch(self.epoch)
            self.train_one_epoch()
            self.epoch += 1
            if self.rank == 0 and self.val_loader is not None and \
                    (self.epoch % val_every == 0 or self.epoch == epochs):
                v = self.evaluate()
                self.out.metric("val", self.epoch, self.step, loss=v["loss"], accuracy=v["accuracy"],
                                accuracy_top5=v["accuracy_top5"])
                self.out.result(validation={"epoch": self.epoch, **v}, labels=self.info.labels)
            if self.epoch % snap_every == 0 or self.epoch == epochs:
                self.save(self.epoch)
            if self.world > 1:
                dist.barrier()  # the others wait while rank 0 validates and saves
        if self.world > 1:
            dist.destroy_process_group()


def main(job_dir: str) -> int:
    """Entry point: 0 when trained, 2 for a problem the user can fix, 1 for a bug."""
    return run_worker(lambda folder, out: Trainer(folder, json.loads((folder / "spec.json").read_text()),
                                                  out).run(),
                      job_dir, (TrainingError, FileNotFoundError, ValueError, KeyError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
