"""The engine's functions piece by piece, with a tiny regression task (no dataset, no job)."""
from __future__ import annotations

import pytest
import torch

from digitsx.engine.loop import Progress, TrainingError, evaluate, train_one_epoch
from digitsx.engine.task import Evaluator, Task
from digitsx.engine.trainer import make_optimizer


class Regression(Task):
    name = "regression"

    def to_device(self, batch, device, channels_last, training, generator):
        x, y = batch
        return x.to(device), y.to(device)

    def train_step(self, model, inputs, targets):
        loss = torch.nn.functional.mse_loss(model(inputs).squeeze(1), targets)
        return loss, {"within_half": (model(inputs).squeeze(1) - targets).abs().lt(0.5).sum()}, \
            int(targets.shape[0])

    def evaluator(self, device):
        return MeanError()


class MeanError(Evaluator):
    def __init__(self):
        self.error, self.n = 0.0, 0

    def update(self, model, inputs, targets):
        self.error += (model(inputs).squeeze(1) - targets).abs().sum().item()
        self.n += len(targets)

    def compute(self):
        return {"mean_error": self.error / self.n}, {"n": self.n}


def data(n=64, batch=8, scale=1.0):
    torch.manual_seed(0)
    x = torch.randn(n, 3)
    y = scale * (x @ torch.tensor([1.0, -2.0, 0.5]))
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def epoch(model, loader, lr=0.05, accumulation=1, **kw):
    optimizer = make_optimizer(model.parameters(), {"type": "SGD", "learning_rate": lr, "momentum": 0.9})
    progress, reports = Progress(total_steps=100), []
    train_one_epoch(model, Regression({}), optimizer, loader, torch.device("cpu"), progress,
                    scaler=torch.amp.GradScaler("cuda", enabled=False), accumulation=accumulation,
                    lr_at=lambda step: lr, report=lambda *a: reports.append(a), **kw)
    return progress, reports


def test_one_epoch_steps_reports_and_learns():
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 1)
    loader = data()
    before = evaluate(model, Regression({}), loader, torch.device("cpu"))[0]["mean_error"]
    progress, reports = epoch(model, loader)
    assert progress.step == 8 and len(reports) == 8  # 8 batches: a report each (at most 5 + 1 per epoch when longer)
    assert [r[1] for r in reports][-1] == 8 and reports[-1][0] == 1.0  # epoch fraction, batch
    assert set(reports[0][2]) == {"loss", "within_half"} and 0 <= reports[-1][2]["within_half"] <= 1
    for _ in range(5):
        epoch(model, loader)
    scalars, details = evaluate(model, Regression({}), loader, torch.device("cpu"))
    assert scalars["mean_error"] < before / 4 and details == {"n": 64}


def test_accumulation_steps_the_optimizer_less_often():
    progress, _ = epoch(torch.nn.Linear(3, 1), data(), accumulation=3)
    assert progress.step == 3  # 8 batches: after 3, 6 and the last


def test_a_loss_that_diverges_is_a_clear_error():
    with pytest.raises(TrainingError, match="try a lower learning rate"):
        for _ in range(20):
            epoch(torch.nn.Linear(3, 1), data(scale=1e30), lr=1e10)
