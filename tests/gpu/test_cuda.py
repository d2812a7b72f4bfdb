"""Each task on CUDA through a real server: a dataset, a training job frozen mid-run and killed
(SIGSTOP, then the runner's SIGKILL: wherever the GPU was), resumed to Done, served by a warm
worker, exported with its checks; nvJPEG against the host decoder; NCCL on two GPUs."""
from __future__ import annotations

import contextlib
import io
import json
import tarfile

import psutil
import pytest
import torch

from tests.conftest import api_session, download, wait_for
from tests.detection.conftest import wait_done
from tests.gpu.conftest import DEVICE, gpu

pytestmark = gpu

CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def job_log(server, job_id: str) -> str:
    return (server.jobs_dir / job_id / "log.txt").read_text(errors="replace")


def workers(server, job_id: str) -> list[psutil.Process]:
    """The job's worker processes: they run in its folder (a prestarted one moves there)."""
    folder, found = str(server.jobs_dir / job_id), []
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if proc.cwd() == folder:
                found.append(proc)
    return found


def val_epochs(server, job_id: str) -> list[float]:
    points = server.session.get(f"{server.url}/models/{job_id}/metrics.json").json()["metrics"]
    return [p["epoch"] for p in points if p["phase"] == "val"]


def stop_and_resume(server, job_id: str, epochs: int) -> list[int]:
    """Freeze the worker as soon as its first snapshot is on disk, abort it (the runner's SIGKILL
    ends it mid-epoch, perhaps mid-write of the next snapshot), resume it to Done. Returns the
    frozen workers' pids; checks the run is continuous and really resumed."""
    wait_for((server.jobs_dir / job_id / "snapshot_epoch_1.pt").exists, 600, 0.01, "a first snapshot")
    frozen = []
    for proc in workers(server, job_id):
        with contextlib.suppress(psutil.Error):
            proc.suspend()
            frozen.append(proc.pid)
    assert frozen, f"the job ended before it could be stopped: give it more epochs\n{job_log(server, job_id)}"
    assert server.session.post(f"{server.url}/models/{job_id}/abort").ok
    assert wait_done(server, job_id, 60, "/models")["status"] == "Aborted"
    res = server.session.post(f"{server.url}/models/{job_id}/resume")
    assert res.ok, res.text
    done = wait_done(server, job_id, 900, "/models")
    log = job_log(server, job_id)
    assert done["status"] == "Done", log[-3000:]
    assert "resumed from snapshot_epoch_" in log, log[-3000:]
    assert log.count(f" on {DEVICE}") >= 2, log[-3000:]  # both runs, on the GPU
    assert val_epochs(server, job_id) == list(range(1, epochs + 1))  # no gap, no duplicate
    return frozen


def shipped(server, job_id: str) -> tuple[dict, set]:
    """The model archive's info.json and file names; TorchScript always ships."""
    res = download(server.session, f"{server.url}/models/{job_id}/download.tar.gz")
    assert res.ok, res.text[:500]
    with tarfile.open(fileobj=io.BytesIO(res.content)) as tf:
        names = set(tf.getnames())
        info = json.loads(tf.extractfile("info.json").read())
    for name, check in info["exports"].items():  # shipped only when it agrees, else says why
        assert (check["file"] in names) if check["file"] else check["error"], (name, check)
    assert info["exports"]["torchscript"]["file"] in names
    return info, names


@pytest.mark.parametrize("path", ["memory", "stream"])
def test_classification_on_the_gpu(server_factory, data_root, path):
    """memory: the split held on the GPU, the job handed to the prestarted worker; stream: JPEG
    records read by loader processes and decoded in batches by nvJPEG, a cold worker."""
    from digitsx.classification.demo import write_mnist_folder

    write_mnist_folder(data_root / "mnist", per_class=100)
    env = {"DIGITSX_PRESTART_WORKER": "1"} if path == "memory" else {"DIGITSX_IN_MEMORY_MB": "0"}
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), **env)
    server.session = api_session(server)
    res = server.session.post(server.url + "/datasets/images/classification.json", data={
        "dataset_name": "digits", "folder_train": str(data_root / "mnist"), "resize_channels": 1,
        "resize_width": 28, "resize_height": 28, "folder_pct_val": 25, "encoding": "jpg"})
    assert res.ok, res.text
    dataset = wait_done(server, res.json()["id"])
    assert dataset["status"] == "Done", dataset
    prestarted = None
    if path == "memory":
        prestarted = wait_for(lambda: [p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)
                                       if "digitsx.jobs.prestart" in " ".join(p.cmdline())], 30, 0.1,
                              "a prestarted worker")[0]
    epochs = 30
    res = server.session.post(server.url + "/models/images/classification.json", data={
        "model_name": "lenet", "dataset": dataset["id"], "standard_networks": "lenet",
        "train_epochs": epochs, "batch_size": 32, "learning_rate": 0.01, "solver_type": "SGD",
        "random_seed": 7, "keep_snapshots": 3})
    assert res.ok, res.text
    job_id = res.json()["id"]
    frozen = stop_and_resume(server, job_id, epochs)
    if prestarted is not None:
        assert prestarted in frozen  # the first run was the prestarted worker's
    decoded_where_expected(job_log(server, job_id), path)
    info = server.session.get(f"{server.url}/models/{job_id}.json").json()
    assert info["model"]["validation"]["accuracy"] > 70, info["model"]["validation"]  # 750 digits, 30 epochs

    url = server.url + "/models/images/classification/classify_one.json"
    sample = next((data_root / "mnist" / "seven").glob("*.png"))
    by_path = server.session.post(url, data={"job_id": job_id, "image_path": str(sample)})
    assert by_path.ok, by_path.text
    upload = server.session.post(url, data={"job_id": job_id}, files={"image_file": ("7.png", sample.read_bytes())})
    assert upload.json()["predictions"] == by_path.json()["predictions"]
    assert {p[0] for p in by_path.json()["predictions"]} <= set(CLASSES)
    assert f"epoch {epochs} on {DEVICE}" in server.read_log()  # the warm worker's device
    info, names = shipped(server, job_id)
    for export in ("onnx", "torchscript"):
        assert info["exports"][export]["max_abs_diff"] < 1e-3, info["exports"]


def decoded_where_expected(log: str, path: str) -> None:
    """On CUDA a streamed JPEG dataset is decoded there (nvJPEG); one in memory is held there."""
    if DEVICE == "cuda":
        assert ("decoded on cuda" if path == "stream" else "MiB on cuda") in log, log[-3000:]


def generic_model(server_factory, data_root, build, fields: dict, path: str, epochs: int = 12) -> tuple:
    """A detection or segmentation dataset (JPEG) and a model trained, stopped and resumed on
    it; returns (server, model id, its last validation)."""
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root),
                            **({"DIGITSX_IN_MEMORY_MB": "0"} if path == "stream" else {}))
    server.session = api_session(server)
    dataset = build(server, {**fields, "dsopts_feature_encoding": "jpg"})
    assert dataset["status"] == "Done", dataset
    res = server.session.post(server.url + "/models/images/generic.json", data={
        "dataset": dataset["id"], "model_name": "generic", "train_epochs": epochs, "batch_size": 8,
        "random_seed": 1, "keep_snapshots": 2})
    assert res.ok, res.text
    job_id = res.json()["id"]
    stop_and_resume(server, job_id, epochs)
    decoded_where_expected(job_log(server, job_id), path)
    return server, job_id, server.session.get(f"{server.url}/models/{job_id}.json").json()["model"]["validation"]


def test_detection_on_the_gpu(server_factory, data_root):
    """Streamed: the JPEG records decoded by nvJPEG (the split in memory is the bench's case)."""
    from digitsx.detection.shapes import write_shapes
    from tests.detection.conftest import build, shapes_fields

    shapes = write_shapes(data_root / "shapes", train=48, val=8, width=128, height=128, sizes=(28, 56))
    server, job_id, validation = generic_model(server_factory, data_root, build,
                                               shapes_fields(shapes, "voc"), "stream")
    assert 0 <= validation["map_50"] <= 1 and len(validation["per_class"]) == 3

    url = server.url + "/models/images/generic/infer_one.json"
    image = shapes / "images" / "val" / "0001.png"
    answer = server.session.post(url, data={"job_id": job_id, "image_path": str(image)})
    assert answer.ok, answer.text
    rows = answer.json()["outputs"]["bbox-list"]
    assert all(len(r) == 6 and r[0] <= r[2] <= 128 and r[1] <= r[3] <= 128 for r in rows)
    confident = server.session.post(url, data={"job_id": job_id, "image_path": str(image), "min_confidence": "0.5"})
    assert confident.json()["outputs"]["bbox-list"] == [r for r in rows if r[4] >= 0.5]
    assert f"epoch 12 on {DEVICE}" in server.read_log()  # the warm worker's device
    shipped(server, job_id)


@pytest.mark.parametrize("path", ["memory", "stream"])
def test_segmentation_on_the_gpu(server_factory, data_root, path):
    from digitsx.segmentation.shapes import write_shapes
    from tests.segmentation.conftest import build, fields

    shapes = write_shapes(data_root / "seg", train=48, val=8, width=96, height=96)
    server, job_id, validation = generic_model(server_factory, data_root, build, fields(shapes), path)
    assert 0 <= validation["miou"] <= 1, validation

    url = server.url + "/models/images/generic/infer_one.json"
    image = shapes / "images" / "val" / "0001.png"
    lists = server.session.post(url, data={"job_id": job_id, "image_path": str(image)})
    assert lists.ok, lists.text
    class_map = lists.json()["outputs"]["class_map"]
    assert len(class_map) == 96 and len(class_map[0]) == 96
    as_png = server.session.post(url, data={"job_id": job_id, "image_path": str(image), "class_map_format": "png"})
    assert as_png.ok and "class_map_png" in as_png.json()["outputs"]
    assert f"epoch 12 on {DEVICE}" in server.read_log()  # the warm worker's device
    shipped(server, job_id)


@pytest.mark.skipif(DEVICE != "cuda", reason="nvJPEG is CUDA's")
@pytest.mark.parametrize("channels", [1, 3])
def test_nvjpeg_batches_match_the_host_decoder(channels):
    import numpy as np
    from PIL import Image

    from digitsx.classification.data import decode_batch

    rng = np.random.default_rng(channels)
    images = []
    for _ in range(8):
        small = rng.integers(0, 256, (6, 8, channels), dtype=np.uint8)
        photo = Image.fromarray(small.squeeze(-1) if channels == 1 else small).resize((80, 60), Image.BICUBIC)
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=90)
        images.append(torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8))
    images[3] = decode_batch([images[3]], channels, torch.device("cpu"))[0]  # a record decoded already
    on_gpu = decode_batch(images, channels, torch.device("cuda"))
    on_host = decode_batch(images, channels, torch.device("cpu"))
    assert on_gpu.device.type == "cuda" and on_gpu.shape == on_host.shape == (8, channels, 60, 80)
    diff = (on_gpu.cpu().int() - on_host.int()).abs()
    assert diff.float().mean() < 1 and diff.max() <= 8, (diff.float().mean(), diff.max())  # IDCTs round differently


@pytest.mark.skipif(DEVICE != "cuda" or torch.cuda.device_count() < 2, reason="NCCL needs two GPUs")
def test_two_gpus_train_one_model_with_nccl(make_app, tmp_path):
    from tests.models.test_ddp import ddp_job

    ddp_job(make_app, tmp_path, gpus=2)
