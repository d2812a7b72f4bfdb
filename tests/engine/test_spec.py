"""Typed training specs: spec.json → TrainingSpec → spec.json is the identity, old specs read."""
from __future__ import annotations

from digitsx.engine.spec import DatasetRef, Schedule, Solver, TrainingSpec

FORM_MADE = {
    "dataset": {"dir": "/jobs/d1", "id": "d1"}, "network": {"method": "standard", "name": "lenet"},
    "solver": {"type": "SGD", "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.0001,
               "rms_decay": 0.99},
    "lr": {"policy": "step", "lr_step_size": 33.0, "lr_step_gamma": 0.1},
    "batch_size": 64, "augment": {"use_mean": "image", "crop_size": None},
    "resources": {"gpu_count": 1}, "train_epochs": 30, "snapshot_interval": 1.0,
    "val_interval": 1.0, "random_seed": None, "batch_accumulation": 1, "shuffle": True,
    "amp": True, "channels_last": True, "keep_snapshots": 0, "snapshot_budget_mb": 2048.0, "framework": "torch",
    "requested_framework": "torch", "form": {"model_name": "m"}, "processes": 2,
}


def test_round_trip_keeps_every_key_including_a_tasks_own():
    spec = TrainingSpec.from_dict(FORM_MADE)
    assert spec.to_dict() == FORM_MADE
    assert spec.extra == {"processes": 2}  # unknown to the engine, kept as it was
    assert spec.solver == Solver("SGD", 0.01, 0.9, 0.0001, 0.99)
    assert spec.lr == Schedule("step", {"lr_step_size": 33.0, "lr_step_gamma": 0.1})
    assert spec.dataset == DatasetRef("/jobs/d1", "d1")


def test_an_old_spec_with_keys_missing_reads_with_the_engines_defaults():
    spec = TrainingSpec.from_dict({"dataset": {"dir": "/d"}, "network": {"method": "custom"},
                                   "solver": {"type": "ADAM", "learning_rate": 0.001},
                                   "lr": {"policy": "fixed"}, "train_epochs": 2, "batch_size": 8})
    assert (spec.solver.momentum, spec.shuffle, spec.amp, spec.batch_accumulation) == (0.0, True, True, 1)
    assert spec.network_name == "custom network" and spec.loader_workers is None


def test_the_input_size_is_written_once():
    spec = TrainingSpec.from_dict(FORM_MADE)
    assert spec.input_size({"width": 32, "height": 28}) == 28
    cropped = TrainingSpec.from_dict({**FORM_MADE, "augment": {"crop_size": 24}})
    assert cropped.input_size({"width": 32, "height": 28}) == 24
