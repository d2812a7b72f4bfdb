"""The ``digitsx`` command a person runs in a shell, against a real server: a dataset built and
followed, a model trained with its progress and live metrics, predictions over a folder, the
mistakes said in one line; ``--version``, ``config`` in the README's names, demo-data's flags."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from digitsx.classification.demo import write_mnist_folder

pytestmark = pytest.mark.server
DIGITSX = str(Path(sys.executable).with_name("digitsx"))


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([DIGITSX, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_dataset_train_and_predict_from_the_shell(server_factory, tmp_path):
    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=8)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    where = ["--server", server.url, "--user", "shell-user"]
    made = cli("dataset", "create", str(data / "digits"), "resize_width=28", "resize_height=28",
               "resize_channels=1", "folder_pct_val=25", *where)
    assert made.returncode == 0, made.stderr + made.stdout
    assert "dataset digits (" in made.stdout and "100%  Done" in made.stdout
    assert "built: train 60 images, val 20 images" in made.stdout, made.stdout
    dataset = made.stdout.split("dataset digits (")[1].split(")")[0]

    trained = cli("train", "--dataset", dataset, "--network", "lenet", "--epochs", "2", "random_seed=1", *where)
    assert trained.returncode == 0, trained.stderr + trained.stdout
    out = trained.stdout
    assert "epoch 1  val  " in out and "epoch 2  val  " in out and "accuracy" in out, out
    assert "100%  Done" in out and "best: epoch" in out, out
    model = out.split("model ")[1].split("(")[1].split(")")[0]

    predicted = cli("predict", str(data / "digits" / "seven"), "--model", model, *where)
    assert predicted.returncode == 0, predicted.stderr
    lines = predicted.stdout.strip().splitlines()
    assert len(lines) == 8 and all(line.endswith("%") and "\t" in line for line in lines), lines
    assert "8 of 8 images" in predicted.stderr
    newest = cli("predict", str(data / "digits" / "two"), *where)  # no --model: the newest finished one
    assert newest.returncode == 0 and f"with the newest finished model, lenet on digits ({model})" in newest.stderr, \
        newest.stderr

    bad = cli("train", "--dataset", dataset, "learning_rate=-1", *where)
    assert bad.returncode == 1 and bad.stderr.startswith("digitsx: learning_rate:"), bad.stderr
    no_pair = cli("train", "--dataset", dataset, "learning_rate", *where)
    assert no_pair.returncode == 1 and "expected FIELD=VALUE" in no_pair.stderr
    one_class = data / "one"
    shutil.copytree(data / "digits" / "seven", one_class / "seven")
    refused = cli("dataset", "create", str(one_class), *where)
    assert refused.returncode == 1 and "folder_train:" in refused.stderr and "at least 2 classes" in refused.stderr
    nobody = cli("dataset", "create", str(data / "digits"), "--server", "http://127.0.0.1:9")
    assert nobody.returncode == 1 and "no server answers at http://127.0.0.1:9" in nobody.stderr


def test_version_config_names_and_demo_data_flags(tmp_path):
    from digitsx import __version__

    assert cli("--version").stdout.strip() == f"digitsx {__version__}"
    config = cli("config", env={"DIGITSX_JOBS_DIR": str(tmp_path / "jobs")})
    assert config.returncode == 0, config.stderr
    lines = config.stdout.splitlines()
    assert f"DIGITSX_JOBS_DIR={tmp_path / 'jobs'}" in lines
    assert all(line.startswith("DIGITSX_") for line in lines) and "None" not in config.stdout
    assert "NVML" not in config.stdout + config.stderr
    both = cli("demo-data", "--detection", "--segmentation", "20", str(tmp_path / "d"))
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    assert not (tmp_path / "d").exists()
