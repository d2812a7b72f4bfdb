"""Optuna's side of a study: the import (only once a study exists), samplers, pruners, how a
dimension is sampled, and what a study's trials add up to."""
from __future__ import annotations

from typing import Any


def optuna():
    import optuna as module  # the web process imports it only once a study exists

    module.logging.set_verbosity(module.logging.WARNING)
    return module


def suggest(trial, name: str, dim: dict[str, Any]) -> Any:
    if "choice" in dim:
        return trial.suggest_categorical(name, dim["choice"])
    log_scale = "log_uniform" in dim
    low, high = dim["log_uniform" if log_scale else "uniform"]
    if dim.get("int"):
        return trial.suggest_int(name, int(low), int(high), log=log_scale)
    return trial.suggest_float(name, float(low), float(high), log=log_scale)


def sampler(search: dict[str, Any]):
    samplers = optuna().samplers
    if search["sampler"] in ("random", "grid"):  # grid: its points were enqueued
        return samplers.RandomSampler()
    startup = max(2, min(10, int(search["trials"]) // 3))
    return samplers.TPESampler(n_startup_trials=startup, constant_liar=True)


def pruner(search: dict[str, Any]):
    pruners = optuna().pruners
    if search["pruner"] == "median":
        return pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if search["pruner"] == "asha":
        return pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return pruners.NopPruner()


def started(study) -> list:
    """The trials asked for so far (a grid's enqueued points wait until then)."""
    return [t for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]


def counts(trials) -> dict[str, int]:
    names = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
             "WAITING": "waiting"}
    out = {v: 0 for v in names.values()}
    for trial in trials:
        out[names.get(trial.state.name, "failed")] += 1
    return out


def best(study):
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None
