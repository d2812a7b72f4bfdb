"""One training epoch and one evaluation pass, as functions with explicit arguments.

No host-device synchronisation per step: the loss and the task's statistics are summed on the
device and read only when reported (about five times per epoch), where the NaN guard looks.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist

from .task import Task


class TrainingError(Exception):
    """A problem to report to the user as the job's error (not a bug)."""


@dataclass
class Progress:
    """Where training stands: ``epoch`` done so far, optimizer ``step``s taken."""

    epoch: int = 0
    step: int = 0
    total_steps: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def train_one_epoch(model: torch.nn.Module, task: Task, optimizer: torch.optim.Optimizer,
                    loader: Iterable, device: torch.device, progress: Progress, *,
                    scaler: torch.amp.GradScaler, amp: bool = False, channels_last: bool = False,
                    accumulation: int = 1, lr_at: Callable[[int], float] = lambda step: 0.0,
                    generator: torch.Generator | None = None, world: int = 1,
                    report: Callable[[float, int, dict[str, float], float], None] | None = None,
                    reports_per_epoch: int = 5, phases: Any = None) -> None:
    """One pass over ``loader``: set the policy's rate every ``accumulation`` batches, step the
    optimizer, and call ``report(epoch, step, means, images_per_second)`` a few times."""
    model.train()
    batches = len(loader)  # type: ignore[arg-type]
    report_every = max(1, batches // reports_per_epoch)
    loss_sum = torch.zeros((), device=device)
    sums: dict[str, torch.Tensor] = {}
    seen, tick = 0, time.perf_counter()
    waited, batches_iter = 0.0, iter(loader)
    for i in range(batches):
        wait_start = time.perf_counter()
        batch = next(batches_iter)
        waited += time.perf_counter() - wait_start
        if i % accumulation == 0:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(progress.step) * group.get("lr_mult", 1.0)
        inputs, targets = task.to_device(batch, device, channels_last, True, generator)
        with torch.autocast(device.type, enabled=amp, dtype=torch.float16):
            loss, stats, count = task.train_step(model, inputs, targets)
        scaler.scale(loss / accumulation if accumulation > 1 else loss).backward()
        if (i + 1) % accumulation == 0 or i + 1 == batches:
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            progress.step += 1
        loss_sum += loss.detach().float() * count
        for key, value in stats.items():
            sums[key] = sums.get(key, torch.zeros((), device=device)) + value.detach().float()
        seen += count
        if (i + 1) % report_every == 0 or i + 1 == batches:
            now = time.perf_counter()
            keys = sorted(sums)
            if world > 1:  # every rank's share of the report
                stacked = torch.stack([loss_sum, *(sums[k] for k in keys),
                                       torch.tensor(float(seen), device=device)])
                dist.all_reduce(stacked)
                loss_sum, seen = stacked[0], int(stacked[-1].item())
                sums = {k: stacked[1 + j] for j, k in enumerate(keys)}
            values = torch.stack([loss_sum, *(sums[k] for k in keys)]).tolist()  # the one sync
            mean_loss = values[0] / max(seen, 1)
            epoch = progress.epoch + (i + 1) / batches
            if not math.isfinite(mean_loss):
                raise TrainingError(f"the loss became {mean_loss} at epoch {epoch:.2f} (learning "
                                    f"rate {lr_at(progress.step):g}): try a lower learning rate")
            if report is not None:
                means = {"loss": mean_loss, **{k: v / max(seen, 1) for k, v in zip(keys, values[1:])}}
                report(epoch, i + 1, means, seen / max(now - tick, 1e-9))
            loss_sum = torch.zeros((), device=device)
            sums, seen, tick = {}, 0, now
    if phases is not None:
        phases.add("waiting for data", waited)


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: Task, loader: Iterable, device: torch.device, *,
             amp: bool = False, channels_last: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
    """A validation pass: the task's evaluator over ``loader`` → (scalars, details)."""
    model.eval()
    evaluator = task.evaluator(device)
    for batch in loader:
        inputs, targets = task.to_device(batch, device, channels_last, False, None)
        with torch.autocast(device.type, enabled=amp, dtype=torch.float16):
            evaluator.update(model, inputs, targets)
    return evaluator.compute()
