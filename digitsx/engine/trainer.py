"""A training job, whatever the task: device, DDP, AMP, solver, LR policy, the epoch loop with
validation and snapshot intervals, save / restore / resume (with rewind), seeds.

Reads only the engine's fields of the :class:`~.spec.TrainingSpec`; the task builds the
network and reads the data.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from ..jobs.protocol import Emitter
from . import checkpoint, published, schedules, transfer
from .data import MemoryLoader, decoded_size, default_loader_workers, loader, memory_budget, usable_cores
from .loop import Progress, TrainingError, evaluate, train_one_epoch
from .phases import Phases, process_age
from .spec import Solver, TrainingSpec
from .task import Task
from .watch import Watch


def make_optimizer(params, solver: Solver | dict) -> torch.optim.Optimizer:
    """DIGITS's solver types (plus AdamW) with the spec's learning rate and regularisation."""
    if isinstance(solver, dict):
        solver = Solver(**solver)
    kind, lr = solver.type.upper(), float(solver.learning_rate)
    wd, momentum = float(solver.weight_decay), float(solver.momentum)
    if kind in ("SGD", "NESTEROV"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd,
                               nesterov=kind == "NESTEROV" and momentum > 0)
    if kind == "ADAM":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if kind == "ADAMW":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if kind == "RMSPROP":
        return torch.optim.RMSprop(params, lr=lr, alpha=float(solver.rms_decay),
                                   weight_decay=wd)
    if kind == "ADAGRAD":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    if kind == "ADADELTA":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)
    raise TrainingError(f"unknown solver_type {solver.type!r}")


def distributed() -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's environment; (1, 0, 0) alone."""
    return (int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
            int(os.environ.get("LOCAL_RANK", 0)))


def pick_device(local: int, world: int) -> torch.device:
    """``cuda:<local rank>`` among the reserved GPUs (``CUDA_VISIBLE_DEVICES``), else the CPU."""
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if visible and local >= visible:  # CUDA_VISIBLE_DEVICES holds the reservation only
        raise RuntimeError(f"process {local} of {world} has no GPU: the job holds "
                           f"{visible}; run at most one process per reserved GPU")
    device = torch.device(f"cuda:{local}" if visible else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


class Trainer:
    """One training run of ``task``, reporting through ``out``."""

    def __init__(self, folder: Path, spec: TrainingSpec, out: Emitter, task: Task) -> None:
        self.folder, self.spec, self.task = folder, spec, task
        self.phases = Phases()
        self.world, self.rank, local = distributed()
        self.device = pick_device(local, self.world)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        # Only rank 0 speaks the protocol and writes snapshots; the others train quietly.
        self.out = out if self.rank == 0 else Emitter(open(os.devnull, "w"))
        task.out = self.out
        seed = spec.random_seed
        self.seed = int(seed) if seed not in (None, "") else int(time.time()) % 2**31
        torch.manual_seed(self.seed)
        random.seed(self.seed)
        self.amp = bool(spec.amp) and self.device.type == "cuda"
        # channels_last on the CPU too: oneDNN's convolutions are faster in it (per training
        # step, 2 cores: LeNet 0.013 s against 0.018 s, SSDlite 0.63 against 1.11, LR-ASPP 0.35
        # against 0.39, U-Net 0.63 against 0.77; AlexNet level).
        self.channels_last = bool(spec.channels_last)
        task.device = self.device
        if self.device.type == "cuda" and task.fixed_input_size:
            torch.backends.cudnn.benchmark = True  # one shape all along: pick the fastest kernels
        for key in ("weights", "weights_backbone"):  # published weights: a step of the job
            if isinstance(spec.network.get(key), dict):
                published.fetch(spec.network[key], self.out)
        self.net = task.build().to(self.device)  # the bare module: snapshots
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.freezer = transfer.Freezer(self.net, spec.network)
        self.model = DDP(self.net, device_ids=[local] if self.device.type == "cuda" else None,
                         find_unused_parameters=bool(self.freezer.params)) \
            if self.world > 1 else self.net
        self.optimizer = make_optimizer(task.param_groups(self.net, self.model), spec.solver)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.aug_gen = torch.Generator(device=self.device)
        self.aug_gen.manual_seed(self.seed + 1)
        self.writer = checkpoint.BackgroundWriter()
        self.watch = Watch.from_spec(spec.to_dict())  # the best epoch; early stopping
        start = time.perf_counter()
        self.load_data()
        self.phases.add("reading", time.perf_counter() - start)
        self.progress = Progress(total_steps=self.total_steps)
        self.phases.add("start-up", max(0.0, process_age() - self.phases.seconds["reading"]))

    @property
    def epoch(self) -> int:
        return self.progress.epoch

    @property
    def step(self) -> int:
        return self.progress.step

    def load_data(self) -> None:
        """The training and validation loaders: both splits held in memory when they fit
        (:func:`~.data.memory_budget`), else streamed by loader processes, one per usable core
        but one (``loader_workers`` overrides)."""
        spec, data = self.spec, self.task.dataset()
        workers = int(spec.loader_workers or default_loader_workers(self.world))
        pin = self.device.type == "cuda"
        train, val = data.split("train"), data.split("val")
        if train is None or len(train) == 0:
            raise TrainingError("the dataset has no training images")
        batch = max(1, int(spec.batch_size) // self.world)  # the form's batch is global
        # Validation needs no activations kept for a backward pass: larger batches, fewer steps.
        # On a GPU at most twice the training batch (which held those activations) fits for sure.
        scale = int(self.task.eval_batch_scale)
        val_batch = max(1, int(spec.batch_size) * (scale if self.device.type == "cpu" else min(scale, 2)))
        shuffle = bool(spec.shuffle)
        # One order for any number of processes: the seeded permutation of each epoch, dealt
        # out round-robin, so a global batch holds the same images on 1 process or on N nodes
        # (and a 2-node job learns what a 1-process job with the same batch and seed learns).
        self.sampler = DistributedSampler(train, self.world, self.rank, shuffle, self.seed) \
            if self.world > 1 or shuffle else None
        size = decoded_size(train) + (decoded_size(val) if val is not None else 0)
        if size <= memory_budget() and spec.extra.get("data_path", "auto") != "stream":
            threads = max(1, usable_cores() // self.world)
            gpu_budget = 0
            if self.device.type == "cuda":
                gpu_budget = torch.cuda.get_device_properties(self.device).total_memory // 4
            collate = self.task.collate
            self.train_loader = MemoryLoader(train, batch, shuffle, self.seed, sampler=self.sampler,
                                             collate=collate, threads=threads, device=self.device,
                                             device_budget=gpu_budget, training=True)
            self.val_loader = MemoryLoader(val, val_batch, False, self.seed, collate=collate,
                                           threads=threads, device=self.device,
                                           device_budget=gpu_budget) if val is not None else None
            held = self.train_loader.bytes + (self.val_loader.bytes if self.val_loader else 0)
            self.data_path = f"in memory ({held / 2**20:.1f} MiB on {self.train_loader.location})"
        else:
            for split in (train, val):  # opened to size them: LMDB must not be open across a fork
                getattr(split, "close", lambda: None)()
            train, collate = self.task.streamed(train)
            self.train_loader = loader(train, batch, shuffle, workers, self.seed, pin, self.sampler, collate,
                                       training=True)
            if val is not None:
                val, val_collate = self.task.streamed(val)
                self.val_loader = loader(val, val_batch, False, max(1, workers // 2),
                                         self.seed, pin, None, val_collate)
            else:
                self.val_loader = None
            self.data_path = f"streamed by {workers} loader process(es)" + \
                (f", decoded on {self.device}" if getattr(train, "encoded", False) else "")
        self.accumulation = max(1, int(spec.batch_accumulation or 1))
        self.steps_per_epoch = max(1, math.ceil(len(self.train_loader) / self.accumulation))
        self.total_steps = self.steps_per_epoch * int(spec.train_epochs)

    # -- snapshots ------------------------------------------------------------------------
    def save(self, epoch: int) -> None:
        """Everything needed to resume after ``epoch``: copied to host memory here, written to
        disk (atomically) by a background thread while training goes on; the snapshot event
        follows the file."""
        if self.rank != 0:
            return
        path = checkpoint.snapshot_path(self.folder, epoch)
        keep = int(self.spec.keep_snapshots or 0)
        budget = float(self.spec.snapshot_budget_mb or 0) * 1024 * 1024
        best = self.watch.best_epoch

        def done() -> None:
            self.out.snapshot(epoch, path.name)
            if keep > 0:  # the best epoch's snapshot stays, whatever else goes
                self.out.result(snapshots=checkpoint.prune(self.folder, keep, protect=best))
            elif budget > 0:  # the disk budget: the oldest go (never the best nor the last)
                kept = checkpoint.prune_to_budget(self.folder, budget, protect=best)
                if kept is not None:
                    self.out.result(snapshots=kept)

        self.writer.submit(path, {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scaler": self.scaler.state_dict(), "epoch": epoch, "step": self.step,
                    "seed": self.seed, "torch_rng": torch.get_rng_state(),
                    "loader_rng": self.train_loader.generator.get_state(),
                    "aug_rng": self.aug_gen.get_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
                    "python_rng": list(random.getstate()[1]), "watch": self.watch.state()}, done)

    def restore(self, path: Path) -> None:
        """Continue from a snapshot: weights, optimizer, RNG, epoch."""
        # On the CPU: load_state_dict copies weights and optimizer state onto the model's device,
        # and every generator, CUDA ones included, takes its state as a CPU ByteTensor.
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.progress.epoch, self.progress.step = int(state["epoch"]), int(state["step"])
        self.seed = int(state["seed"])
        byte_state = lambda t: t.detach().to("cpu", torch.uint8)  # noqa: E731
        torch.set_rng_state(byte_state(state["torch_rng"]))
        self.train_loader.generator.set_state(byte_state(state["loader_rng"]))
        self.aug_gen.set_state(byte_state(state["aug_rng"]))
        if self.device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all([byte_state(s) for s in state["cuda_rng"]])
        random.setstate((3, tuple(state["python_rng"]), None))
        self.watch.restore(state.get("watch"))
        self.out.rewind(self.epoch)
        self.out.log(f"resumed from {path.name} (epoch {self.epoch})")

    # -- the loop ---------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        """The policy's learning rate at an optimizer step."""
        lr = self.spec.lr
        return schedules.learning_rate(lr.policy, float(self.spec.solver.learning_rate),
                                       100.0 * step / self.total_steps, lr.params)

    def train_one_epoch(self) -> None:
        batches, epochs = len(self.train_loader), int(self.spec.train_epochs)

        def report(epoch: float, batch: int, means: dict, ips: float) -> None:
            self.out.metric("train", epoch, self.step, **means, learning_rate=self.lr_at(self.step),
                            images_per_second=ips)  # all ranks
            self.out.progress(self.epoch * batches + batch, batches * epochs)

        train_one_epoch(self.model, self.task, self.optimizer, self.train_loader, self.device,
                        self.progress, scaler=self.scaler, amp=self.amp,
                        channels_last=self.channels_last, accumulation=self.accumulation,
                        lr_at=self.lr_at, generator=self.aug_gen, world=self.world, report=report,
                        phases=self.phases)

    def evaluate(self) -> tuple[dict, dict]:
        return evaluate(self.net, self.task, self.val_loader, self.device, amp=self.amp,
                        channels_last=self.channels_last)

    def _stop_early(self, verdict: str) -> bool:
        """Rank 0's early-stopping verdict, shared with every rank (they stop together)."""
        stop = verdict == "stop"
        if self.world > 1:
            flag = torch.tensor([1.0 if stop else 0.0], device=self.device)
            dist.broadcast(flag, 0)  # every rank learns rank 0's verdict
            stop = bool(flag.item())
        if stop and self.rank == 0:
            note = {"epoch": self.epoch, "best_epoch": self.watch.best_epoch,
                    "patience": self.watch.patience, "metric": self.watch.metric}
            self.out.result(stopped_early=note)
            self.out.log(f"stopped early at epoch {self.epoch}: no improvement of "
                         f"{self.watch.metric} for {self.watch.patience} validation(s) "
                         f"(best: epoch {self.watch.best_epoch})")
        return stop

    def run(self) -> None:
        """Train to ``train_epochs``, validating and snapshotting at their intervals."""
        if self.rank == 0:  # a write a killed worker left half done is never a snapshot
            for torn in self.folder.glob("snapshot_epoch_*.tmp"):
                torn.unlink(missing_ok=True)
        snapshot = checkpoint.latest_snapshot(self.folder)
        if snapshot is not None:
            self.restore(snapshot)
        else:  # from scratch, perhaps again (resumed before the first snapshot): no old points
            self.out.rewind(-1.0)
        epochs = int(self.spec.train_epochs)
        self.out.log(f"training {self.spec.network_name} on "
                     f"{self.device} for {epochs} epochs, {self.steps_per_epoch} steps/epoch, "
                     f"seed {self.seed}, amp {self.amp}; data {self.data_path}")
        if self.rank == 0:
            (self.folder / "network.json").write_text(json.dumps(self.task.describe(self.net), indent=1))
        val_every = max(1, int(float(self.spec.val_interval or 1)))
        snap_every = max(1, int(float(self.spec.snapshot_interval or 1)))
        if self.spec.extra.get("preemptible"):  # preempted, it loses at most the partial epoch
            snap_every = 1
        verdict = ""
        while self.epoch < epochs:
            if self.sampler is not None:
                self.sampler.set_epoch(self.epoch)
            self.freezer.apply(self.epoch, self.out)
            with self.phases.time("training"):
                self.train_one_epoch()
            self.progress.epoch += 1
            if self.rank == 0 and self.val_loader is not None and \
                    (self.epoch % val_every == 0 or self.epoch == epochs):
                with self.phases.time("validation"):
                    scalars, details = self.evaluate()
                self.out.metric("val", self.epoch, self.step, **scalars)
                verdict = self.watch.see(self.epoch, scalars)
                self.out.result(validation={"epoch": self.epoch, **scalars, **details},
                                best=self.watch.as_result(), **self.task.result())
            stop = self._stop_early(verdict if self.rank == 0 else "")
            if self.epoch % snap_every == 0 or self.epoch == epochs or verdict == "best" or stop:
                with self.phases.time("snapshots"):
                    self.save(self.epoch)  # the best epoch always has its snapshot
            if self.world > 1:
                dist.barrier()  # the others wait while rank 0 validates and saves
            verdict = ""
            if stop:
                break
        with self.phases.time("snapshots"):
            self.writer.wait()  # the last file is on disk before the job says Done
        if self.rank == 0:
            self.out.log(f"phases: {self.phases.line()}")
            self.out.result(timings=self.phases.as_dict())
        if self.world > 1:
            dist.destroy_process_group()
