"""Training through REST on a real server: dataset → model → Done, resume, kill -9, sweeps."""
from __future__ import annotations

import time

import pytest

from tests.conftest import download, wait_for

pytestmark = pytest.mark.server


def wait_status(server, job_id, statuses=("Done", "Error", "Aborted"), timeout=120):
    def check():
        s = server.session.get(f"{server.url}/models/{job_id}/status").json()
        return s if s["status"] in statuses else None
    return wait_for(check, timeout, 0.2, f"model {job_id} in {statuses}")


def train(server, dataset, **fields):
    data = {"model_name": "lenet", "dataset": dataset, "standard_networks": "lenet",
            "train_epochs": 4, "batch_size": 32, "learning_rate": 0.05, "lr_policy": "fixed",
            "random_seed": 7, "solver_type": "SGD", **fields}
    res = server.session.post(server.url + "/models/images/classification.json", data=data)
    assert res.status_code == 200, res.text
    return res.json()


def metrics(server, job_id):
    return server.session.get(f"{server.url}/models/{job_id}/metrics.json").json()["metrics"]


@pytest.mark.parametrize("dataset_server", ["open", "password"], indirect=True)  # password: a Bearer token
def test_train_to_done_with_metrics_snapshots_and_json(mnist_dataset):
    server, dataset = mnist_dataset
    job = train(server, dataset)
    assert wait_status(server, job["id"])["status"] == "Done"
    info = server.session.get(f"{server.url}/models/{job['id']}.json").json()
    assert info["snapshots"] == [1, 2, 3, 4] and info["dataset_id"] == dataset
    assert info["image dimensions"] == [28, 28, 1] and info["framework"] == "torch"
    points = metrics(server, job["id"])
    val = [p for p in points if p["phase"] == "val"]
    assert [p["epoch"] for p in val] == [1, 2, 3, 4]
    assert {"loss", "accuracy", "accuracy_top5"} <= set(val[-1]["values"])
    assert val[-1]["values"]["accuracy"] > 50  # 230 real digits, 4 epochs of LeNet
    train_pts = [p for p in points if p["phase"] == "train"]
    assert len(train_pts) >= 8 and {"loss", "accuracy", "learning_rate"} <= set(train_pts[0]["values"])
    v = info["model"]["validation"]
    assert len(v["per_class"]) == 10 and sum(map(sum, v["confusion"])) == 70  # 7 per class
    csv = server.session.get(f"{server.url}/models/{job['id']}/metrics.csv")
    assert csv.text.startswith("phase,epoch,step,time,") and csv.text.count("\nval,") == 4
    # The dataset is now protected from deletion.
    res = server.session.delete(f"{server.url}/datasets/{dataset}")
    assert res.status_code == 403 and "lenet" in res.json()["error"]["message"]


def test_same_seed_same_results(mnist_dataset):
    server, dataset = mnist_dataset
    a, b = train(server, dataset, train_epochs=2), train(server, dataset, train_epochs=2)
    assert wait_status(server, a["id"])["status"] == wait_status(server, b["id"])["status"] == "Done"
    strip = lambda pts: [(p["phase"], p["epoch"], p["values"]["loss"]) for p in pts]
    first, second = strip(metrics(server, a["id"])), strip(metrics(server, b["id"]))
    assert [e for phase, e, _ in first if phase == "val"] == [1, 2]  # both ran the whole way
    assert first == second


def test_abort_then_resume_reaches_the_final_epoch(mnist_dataset):
    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=20, learning_rate=0.01)  # the abort lands mid-run
    wait_for(lambda: 2 in server.session.get(f"{server.url}/models/{job['id']}.json").json()["snapshots"],
             120, 0.2, "two snapshots")
    server.session.post(f"{server.url}/models/{job['id']}/abort")
    assert wait_status(server, job["id"])["status"] == "Aborted"
    res = server.session.post(f"{server.url}/models/{job['id']}/resume")
    assert res.ok, res.text
    assert wait_status(server, job["id"])["status"] == "Done"
    points = metrics(server, job["id"])
    val_epochs = [p["epoch"] for p in points if p["phase"] == "val"]
    assert val_epochs == list(range(1, 21))  # continuous: no gap, no duplicate
    train_epochs = [p["epoch"] for p in points if p["phase"] == "train"]
    assert train_epochs == sorted(train_epochs) and len(train_epochs) == len(set(train_epochs))
    history = [h[0] for h in server.session.get(f"{server.url}/models/{job['id']}.json").json()["status_history"]]
    assert history[-3:] == ["Initialized", "Running", "Done"] and "Aborted" in history


def test_resume_before_the_first_snapshot_starts_clean(mnist_dataset):
    server, dataset = mnist_dataset
    # a validation would snapshot its best epoch: none until the end
    job = train(server, dataset, train_epochs=12, snapshot_interval=12, val_interval=12, learning_rate=0.01)
    wait_for(lambda: any(p["phase"] == "train" and p["epoch"] > 1 for p in metrics(server, job["id"])),
             120, 0.2, "a first epoch")
    server.session.post(f"{server.url}/models/{job['id']}/abort")
    assert wait_status(server, job["id"])["status"] == "Aborted"
    assert server.session.get(f"{server.url}/models/{job['id']}.json").json()["snapshots"] == []
    assert server.session.post(f"{server.url}/models/{job['id']}/resume").ok
    assert wait_status(server, job["id"])["status"] == "Done"
    points = metrics(server, job["id"])
    keys = [(p["phase"], p["epoch"], p["step"]) for p in points]
    assert len(keys) == len(set(keys)), "a restart from scratch kept the first run's points"
    assert [p["epoch"] for p in points if p["phase"] == "val"] == [12]


def test_kill9_during_training_then_resume(mnist_dataset, server_factory, data_root):
    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=15, learning_rate=0.01)
    wait_for(lambda: 1 in server.session.get(f"{server.url}/models/{job['id']}.json").json()["snapshots"],
             120, 0.2, "a snapshot")
    server.kill9()
    second = server_factory(DIGITSX_DATA_ROOTS=str(data_root))
    second.session = server.session.__class__()
    second.session.headers["Accept"] = "application/json"
    second.session.post(second.url + "/login", data={"username": "alice"})
    assert wait_status(second, job["id"], ("Interrupted",), 10)["status"] == "Interrupted"
    assert second.session.post(f"{second.url}/models/{job['id']}/resume").ok
    assert wait_status(second, job["id"])["status"] == "Done"
    val_epochs = [p["epoch"] for p in metrics(second, job["id"]) if p["phase"] == "val"]
    assert val_epochs == list(range(1, 16))


def test_sweep_creates_one_job_per_combination(mnist_dataset):
    server, dataset = mnist_dataset
    res = server.session.post(server.url + "/models/images/classification.json", data={
        "model_name": "sweep", "dataset": dataset, "learning_rate": "0.01,0.05",
        "batch_size": "16,32", "train_epochs": 1})
    jobs = res.json()["jobs"]
    assert len(jobs) == 4
    names = sorted(j["name"] for j in jobs)
    assert names[0] == "sweep (lr 0.01, batch 16)" and names[-1] == "sweep (lr 0.05, batch 32)"
    for j in jobs:
        assert wait_status(server, j["id"])["status"] == "Done"


def test_bad_model_fields(mnist_dataset):
    server, dataset = mnist_dataset
    res = server.session.post(server.url + "/models/images/classification.json", data={
        "model_name": "", "dataset": "nope", "solver_type": "LBFGS", "learning_rate": "0.1,abc",
        "lr_policy": "warp", "crop_size": 5000, "standard_networks": "vgg99"})
    assert res.status_code == 400
    errors = res.json()["errors"]
    assert {"model_name", "dataset", "solver_type", "learning_rate", "lr_policy",
            "standard_networks"} <= set(errors)
    # numbers that only failed later (or as a 500), names that break pages, absent GPUs
    res = server.session.post(server.url + "/models/images/classification.json", data={
        "model_name": "x" * 300, "dataset": dataset, "group_name": "a\x00b", "momentum": "abc",
        "weight_decay": "-1e308", "rms_decay": "nan", "lr_step_gamma": "nan",
        "lr_step_size": "1e309", "select_gpus": "999"})
    assert res.status_code == 400
    errors = res.json()["errors"]
    assert {"model_name", "group_name", "momentum", "weight_decay", "rms_decay", "lr_step_gamma",
            "lr_step_size", "select_gpus"} <= set(errors), errors
    assert "no GPU 999" in errors["select_gpus"][0]
    res = server.session.post(server.url + "/models/images/classification.json", data={
        "model_name": "big", "dataset": dataset, "batch_size": ",".join(map(str, range(1, 11))),
        "learning_rate": ",".join(f"0.{i + 1}" for i in range(11))})
    assert res.status_code == 400 and "110 jobs; at most 100" in res.json()["errors"]["learning_rate"][0]
    for value in ("nan", "abc"):
        res = server.session.post(server.url + "/models/images/classification.json", data={
            "model_name": "m", "dataset": dataset, "momentum": value, "weight_decay": value})
        assert res.status_code == 400 and {"momentum", "weight_decay"} <= set(res.json()["errors"])
    lr = server.session.post(server.url + "/models/visualize-lr",
                             data={"lr_policy": "step", "learning_rate": "0.1,0.01"}).json()
    cols = lr["data"]["columns"]
    assert cols[0][0] == "Learning Rate 0" and len(cols[0]) == 102 and cols[1][1] == 0.01
    assert cols[0][34] == pytest.approx(0.01)  # x = 33 %: one step down


def test_nan_loss_stops_with_a_hint(mnist_dataset):
    server, dataset = mnist_dataset
    job = train(server, dataset, learning_rate=50, train_epochs=3, use_mean="none")
    status = wait_status(server, job["id"])
    assert status["status"] == "Error" and "lower learning rate" in status["error"]


@pytest.mark.parametrize("dataset_server", ["open", "password"], indirect=True)  # password: a Bearer token
def test_custom_network_trains_and_visualizes(mnist_dataset):
    server, dataset = mnist_dataset
    source = ("def build(num_classes, in_channels, image_size):\n"
              "    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size ** 2, num_classes))\n")
    vis = server.session.post(server.url + "/models/images/classification/visualize-network",
                              data={"method": "custom", "custom_network": source, "dataset": dataset}).json()
    assert [l["type"] for l in vis["layers"]] == ["Flatten", "Linear"] and vis["parameters"] == 7850
    bad = server.session.post(server.url + "/models/images/classification/visualize-network",
                              data={"method": "custom", "custom_network": "def build(a, b, c):\n    return 1/0\n"})
    assert bad.status_code == 400 and "ZeroDivisionError" in bad.json()["errors"]["custom_network"][0]
    job = train(server, dataset, method="custom", custom_network=source, train_epochs=1)
    assert wait_status(server, job["id"])["status"] == "Done"


def test_previous_network_and_keep_last_snapshots(mnist_dataset):
    server, dataset = mnist_dataset
    first = train(server, dataset, train_epochs=3, keep_snapshots=1)
    assert wait_status(server, first["id"])["status"] == "Done"
    info = server.session.get(f"{server.url}/models/{first['id']}.json").json()
    assert info["snapshots"] == [3]
    assert sorted(p.name for p in (server.jobs_dir / first["id"]).glob("snapshot_*")) == \
        ["snapshot_epoch_3.pt"]
    tuned = train(server, dataset, method="previous", previous_networks=first["id"],
                  train_epochs=1, learning_rate=0.001)
    assert wait_status(server, tuned["id"])["status"] == "Done"
    acc = lambda job_id: [p for p in metrics(server, job_id) if p["phase"] == "val"][-1]["values"]["accuracy"]
    assert acc(tuned["id"]) >= acc(first["id"]) - 5  # started from the trained weights, not scratch
    clone = server.session.get(f"{server.url}/clone/{first['id']}", headers={"Accept": "text/html"})
    assert clone.ok and "lenet (clone)" in clone.text


@pytest.mark.parametrize("dataset_server", ["open", "password"], indirect=True)  # password: a Bearer token
def test_classify_one_with_a_warm_worker(mnist_dataset, mnist_tree):
    import psutil

    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=3)
    assert wait_status(server, job["id"])["status"] == "Done"
    url = server.url + "/models/images/classification/classify_one.json"
    sample = next((mnist_tree / "seven").glob("*.png"))
    with open(sample, "rb") as f:
        res = server.session.post(url, data={"job_id": job["id"]}, files={"image_file": ("7.png", f)})
    assert res.status_code == 200, res.text
    predictions = res.json()["predictions"]
    labels = {p[0] for p in predictions}
    assert len(predictions) == 5 and labels <= {"zero", "one", "two", "three", "four", "five",
                                                "six", "seven", "eight", "nine"}
    assert all(isinstance(p[1], float) for p in predictions) and sum(p[1] for p in predictions) <= 100.01
    assert predictions == sorted(predictions, key=lambda p: -p[1])
    by_path = server.session.post(url, data={"job_id": job["id"], "image_path": str(sample),
                                             "snapshot_epoch": 3}).json()["predictions"]
    again = server.session.post(url, data={"job_id": job["id"], "image_path": str(sample),
                                           "snapshot_epoch": 3}).json()["predictions"]
    assert by_path == again == predictions  # same preprocessing whichever way the image came
    infer = [p for p in psutil.process_iter(["cmdline"])
             if "digitsx.classification.infer" in " ".join(p.info["cmdline"] or [])
             and job["id"] in " ".join(p.info["cmdline"] or [])]
    assert len(infer) == 1  # one warm worker per snapshot: "latest" is epoch 3 now
    older = server.session.post(url, data={"job_id": job["id"], "image_path": str(sample),
                                           "snapshot_epoch": 2})
    assert older.ok and len(older.json()["predictions"]) == 5
    infer = [p for p in psutil.process_iter(["cmdline"])
             if "digitsx.classification.infer" in " ".join(p.info["cmdline"] or [])
             and job["id"] in " ".join(p.info["cmdline"] or [])]
    assert len(infer) == 2
    bad = server.session.post(url, data={"job_id": job["id"]}, files={"image_file": ("x.png", b"nope")})
    assert bad.status_code == 400 and "not a readable image" in bad.json()["error"]["message"]
    # check_only (the test-one forms' pre-check): checked, answered, and nothing inferred.
    check = server.session.post(url, data={"job_id": job["id"], "image_path": str(sample),
                                           "snapshot_epoch": 1, "check_only": "1"})
    assert check.ok and check.json() == {"checked": True}
    assert len([p for p in psutil.process_iter(["cmdline"])
                if "digitsx.classification.infer" in " ".join(p.info["cmdline"] or [])
                and job["id"] in " ".join(p.info["cmdline"] or [])]) == 2  # no worker for epoch 1
    bad = server.session.post(url, data={"job_id": job["id"], "check_only": "1"},
                              files={"image_file": ("x.png", b"nope")})
    assert bad.status_code == 400 and "not a readable image" in bad.json()["error"]["message"]
    outside = server.session.post(url, data={"job_id": job["id"], "image_path": "/etc/hostname"})
    assert outside.status_code == 400 and "outside" in outside.json()["errors"]["image_path"][0]
    missing = server.session.post(url, data={"job_id": job["id"], "image_path": str(sample),
                                             "snapshot_epoch": 99})
    assert missing.status_code == 400 and "no snapshot for epoch 99" in missing.json()["error"]["message"]
    page = server.session.post(server.url + "/models/images/classification/classify_one",
                               data={"job_id": job["id"], "image_path": str(sample)},
                               headers={"Accept": "text/html"})
    assert page.ok and predictions[0][0] in page.text
    # Deleting the model stops its warm workers.
    assert server.session.delete(f"{server.url}/models/{job['id']}").ok
    wait_for(lambda: not any(p.is_running() and p.status() != "zombie" for p in infer), 10)


def test_classify_many_small_list(mnist_dataset, mnist_tree):
    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=4)
    assert wait_status(server, job["id"])["status"] == "Done"
    labels = server.session.get(f"{server.url}/files/{dataset}/labels.txt").text.splitlines()
    lines = [f"{name}/{p.name} {labels.index(name)}" for name in ("one", "seven")
             for p in sorted((mnist_tree / name).glob("*.png"))[:5]]
    lines.append("seven/missing.png 0")
    one = server.session.post(server.url + "/models/images/classification/classify_one.json",
                              data={"job_id": job["id"], "image_path": str(next(mnist_tree.glob("one/*.png")))})
    assert one.ok, one.text
    res = server.session.post(server.url + "/models/images/classification/classify_many.json",
                              data={"job_id": job["id"], "image_folder": str(mnist_tree)},
                              files={"image_list": ("list.txt", "\n".join(lines))})
    assert res.status_code == 200, res.text
    import psutil  # the short list went to classify one's warm worker, not a second one

    warm = [p for p in psutil.Process(server.proc.pid).children(recursive=True)
            if "digitsx.classification.infer" in " ".join(p.cmdline())]
    assert len(warm) == 1, [p.cmdline() for p in warm]
    body = res.json()
    assert len(body["classifications"]) == 11
    first = body["classifications"][str(mnist_tree / "one" / sorted((mnist_tree / "one").glob("*.png"))[0].name)]
    assert len(first) == 5 and first[0][1] >= first[1][1]
    assert "error" in body["classifications"][str(mnist_tree / "seven" / "missing.png")]
    acc = body["accuracy"]
    assert acc["images"] == 10 and 0 <= acc["top1"] <= acc["top5"] <= 100
    outside = server.session.post(server.url + "/models/images/classification/classify_many.json",
                                  data={"job_id": job["id"]},
                                  files={"image_list": ("list.txt", "/etc/passwd 0\n")})
    assert outside.status_code == 400 and "outside" in str(outside.json()["errors"])


@pytest.mark.parametrize("dataset_server", ["open", "password"], indirect=True)  # password: a Bearer token
def test_download_with_checked_exports_and_the_onnx_example(mnist_dataset, mnist_tree, tmp_path):
    import subprocess
    import sys
    import tarfile
    import zipfile
    from pathlib import Path

    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=2)
    assert wait_status(server, job["id"])["status"] == "Done"
    # The first download builds the archive off the request: started, watched, then fetched.
    status_url = f"{server.url}/models/{job['id']}/export.json"
    assert server.session.get(status_url, params={"epoch": 2}).json()["status"] == "absent"
    started = server.session.post(status_url, data={"epoch": 2, "format": "tar.gz"})
    assert started.status_code == 200 and started.json()["status"] in ("preparing", "ready"), started.text
    seen = [started.json()]
    while seen[-1]["status"] == "preparing":
        time.sleep(0.2)
        seen.append(server.session.get(status_url, params={"epoch": 2, "format": "tar.gz"}).json())
    assert seen[-1]["status"] == "ready" and seen[-1]["size"] > 0, seen[-1]
    assert {s.get("step") for s in seen} - {"ready", "starting"}  # the export's steps were shown
    res = server.session.get(f"{server.url}/models/{job['id']}/download.tar.gz", params={"epoch": 2})
    assert res.status_code == 200, res.text[:500]
    assert f'{job["id"]}_epoch_2.tar.gz' in res.headers["Content-Disposition"]
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(res.content)
    out = tmp_path / "model"
    with tarfile.open(archive) as tf:
        names = set(tf.getnames())
        tf.extractall(out, filter="data")
    assert names == {"model.pt", "network.py", "labels.txt", "mean.npy", "mean.png", "info.json",
                     "model.onnx", "model.torchscript.pt"}
    import json
    info = json.loads((out / "info.json").read_text())
    assert info["image dimensions"] == [28, 28, 1] and info["epoch"] == 2
    for export in ("onnx", "torchscript"):
        assert info["exports"][export]["file"] and info["exports"][export]["max_abs_diff"] < 1e-3
    sample = next((mnist_tree / "three").glob("*.png"))
    ours = server.session.post(server.url + "/models/images/classification/classify_one.json",
                               data={"job_id": job["id"], "image_path": str(sample)}).json()["predictions"]
    printed = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "examples" / "onnx_classify.py"),
                              str(out), str(sample)], capture_output=True, text=True, timeout=120)
    top = printed.stdout.splitlines()[0].split("\t")
    assert top[0] == ours[0][0] and abs(float(top[1].rstrip("%")) - ours[0][1]) < 0.05
    z = download(server.session, f"{server.url}/models/{job['id']}/download.zip")
    assert z.ok and f'{job["id"]}_epoch_2.zip' in z.headers["Content-Disposition"]
    zpath = tmp_path / "m.zip"
    zpath.write_bytes(z.content)
    assert "model.onnx" in zipfile.ZipFile(zpath).namelist()
    bad = server.session.get(f"{server.url}/models/{job['id']}/download.tar.gz", params={"epoch": 7})
    assert bad.status_code == 400 and "no snapshot for epoch 7" in bad.json()["error"]["message"]
    for value in ("abc", "nan", "inf"):
        bad = server.session.get(f"{server.url}/models/{job['id']}/download.tar.gz",
                                 params={"epoch": value})
        assert bad.status_code == 400 and "epoch" in bad.json()["errors"], value
        bad = server.session.post(f"{server.url}/models/{job['id']}/to_pretrained",
                                  data={"epoch": value})
        assert bad.status_code == 400 and "epoch" in bad.json()["errors"], value


def test_pretrained_models_round_trip_and_transfer_learning(mnist_dataset, mnist_tree, data_root, tmp_path):
    import shutil

    server, dataset = mnist_dataset
    s, url = server.session, server.url
    job = train(server, dataset, train_epochs=2)
    assert wait_status(server, job["id"])["status"] == "Done"
    made = s.post(f"{url}/models/{job['id']}/to_pretrained", data={"epoch": 2}).json()
    assert made["status"] == "success" and made["job"]["category"] == "pretrained"
    assert wait_status(server, made["id"])["status"] == "Done"
    listed = s.get(url + "/completed_jobs.json").json()["pretrained_models"]
    assert [p["id"] for p in listed] == [made["id"]]
    # A download uploads back unchanged.
    archive = tmp_path / "m.tar.gz"
    archive.write_bytes(download(s, f"{url}/models/{job['id']}/download.tar.gz").content)
    with open(archive, "rb") as f:
        up = s.post(url + "/pretrained_models/upload_archive", files={"archive": ("m.tar.gz", f)}).json()
    assert wait_status(server, up["id"])["status"] == "Done"
    import torch
    a = torch.load(server.jobs_dir / made["id"] / "model.pt", weights_only=True)
    b = torch.load(server.jobs_dir / up["id"] / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (server.jobs_dir / up["id"] / "labels.txt").read_text() == \
        (server.jobs_dir / made["id"] / "labels.txt").read_text()
    # Separate files work too; a wrong network definition is refused by the worker.
    folder = server.jobs_dir / made["id"]
    files = {"weights_file": ("w.pt", (folder / "model.pt").read_bytes()),
             "model_def_file": ("net.py", (folder / "network.py").read_text()),
             "labels_file": ("labels.txt", (folder / "labels.txt").read_text())}
    ok = s.post(url + "/pretrained_models/new", files=files, data={
        "job_name": "from files", "image_type": "grayscale", "width": 28, "height": 28}).json()
    assert wait_status(server, ok["id"])["status"] == "Done"
    files["model_def_file"] = ("net.py", "def build(n, c, s):\n    return nn.Linear(3, n)\n")
    bad = s.post(url + "/pretrained_models/new", files=files, data={
        "job_name": "broken", "image_type": "grayscale", "width": 28, "height": 28}).json()
    status = wait_status(server, bad["id"])
    assert status["status"] == "Error" and "state_dict" in status["error"]
    # Transfer learning: a 3-class dataset starts from the 10-class model.
    three = data_root / "three"
    for name in ("one", "four", "seven"):
        shutil.copytree(mnist_tree / name, three / name)
    ds = s.post(url + "/datasets/images/classification.json", data={
        "dataset_name": "three", "folder_train": str(three), "resize_channels": 1,
        "resize_width": 28, "resize_height": 28}).json()
    wait_for(lambda: s.get(f"{url}/datasets/{ds['id']}/status").json()["status"] == "Done", 60)
    tuned = train(server, ds["id"], method="pretrained", pretrained_networks=made["id"],
                  pretrained_freeze="y", train_epochs=2)
    assert wait_status(server, tuned["id"])["status"] == "Done"
    transfer = s.get(f"{url}/models/{tuned['id']}.json").json()["result"]["transfer"]
    assert transfer["fresh"] == ["classifier.2.bias", "classifier.2.weight"]  # the 10→3 head
    assert len(transfer["loaded"]) == 6 and transfer["frozen"]
    assert s.get(f"{url}/models/{tuned['id']}.json").json()["model"]["transfer"] == transfer  # the page's card
    before = torch.load(folder / "model.pt", weights_only=True)
    after = torch.load(server.jobs_dir / tuned["id"] / "snapshot_epoch_2.pt", weights_only=True)["model"]
    assert torch.equal(before["features.0.weight"], after["features.0.weight"])  # frozen
    assert after["classifier.2.weight"].shape == (3, 500)
