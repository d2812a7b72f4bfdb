"""Comparing runs: /models/compare.json for models of all three tasks (their series, each
metric's best value and epoch and last value, the main metric, the settings that differ, the
metrics they share), the series thinned on the server keeping the extremes, and the errors."""
from __future__ import annotations

import pytest

from digitsx.detection import MODEL as DETECTION
from digitsx.models import CLASSIFICATION
from digitsx.models.compare import downsample
from digitsx.segmentation import MODEL as SEGMENTATION
from tests.conftest import login


def model(store, kind: str, name: str, epochs: int, lr: float, main: str, values, solver="sgd"):
    """A model job as a finished training leaves it: its spec and its metric points."""
    spec = {"dataset": {"id": "", "path": "/x"}, "network": {"method": "standard", "name": "net-" + kind[-5:]},
            "solver": {"type": solver}, "lr": {"base_lr": lr}, "batch_size": 16, "train_epochs": epochs,
            "form": {"noise": name}}
    job = store.create(kind, name, spec, "alice")
    for epoch in range(1, epochs + 1):
        store.add_metric(job.id, "train", epoch, epoch * 10, {"loss": 2.0 / epoch})
        store.add_metric(job.id, "val", epoch, epoch * 10, {"loss": 2.5 / epoch, main: values(epoch)})
    return job


@pytest.fixture
def jobs(app):
    store = app.extensions["digitsx"].store
    a = model(store, CLASSIFICATION, "lenet lr 0.01", 5, 0.01, "accuracy", lambda e: [50, 70, 90, 85, 80][e - 1])
    b = model(store, CLASSIFICATION, "lenet lr 0.1", 3, 0.1, "accuracy", lambda e: 60 + e, solver="adam")
    c = model(store, DETECTION, "ssd", 2, 0.01, "map_50", lambda e: 0.1 * e)
    d = model(store, SEGMENTATION, "unet", 2, 0.01, "miou", lambda e: 0.2 * e)
    return a, b, c, d


def test_compare_json_for_all_three_tasks(client, jobs):
    login(client)
    a, b, c, d = jobs
    res = client.get(f"/models/compare.json?job_id={a.id}&job_id={b.id}&job_id={c.id},{d.id}")
    assert res.status_code == 200, res.data
    data = res.get_json()
    by = {j["name"]: j for j in data["jobs"]}
    assert [j["id"] for j in data["jobs"]] == [a.id, b.id, c.id, d.id]
    first = by["lenet lr 0.01"]
    assert first["metrics"]["val/accuracy"] == {"best": 90, "best_epoch": 3, "last": 80, "goal": "max", "points": 5}
    assert first["metrics"]["val/loss"]["best"] == 0.5 and first["metrics"]["val/loss"]["goal"] == "min"
    assert first["main_metric"]["key"] == "val/accuracy" and first["main_metric"]["best"] == 90
    assert by["ssd"]["main_metric"]["key"] == "val/map_50" and by["unet"]["main_metric"]["key"] == "val/miou"
    assert first["series"]["val/accuracy"][2] == [3.0, 30, pytest.approx(first["series"]["val/accuracy"][2][2]), 90.0]
    assert first["task"] == "Image classification model" and first["network"].startswith("net-")
    assert sorted(data["shared_metrics"]) == ["train/loss", "val/loss"]  # different tasks: what they share
    differing = data["differing"]
    assert differing["lr.base_lr"] == [0.01, 0.1, 0.01, 0.01] and differing["solver.type"][1] == "adam"
    assert "batch_size" not in differing and not any(k.startswith("form.") for k in differing)


def test_compare_page_and_errors(client, jobs):
    login(client)
    a, b, *_ = jobs
    page = client.get(f"/models/compare?job_id={a.id}&job_id={b.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"cmp-chart" in page.data
    assert client.get("/models/compare.json").status_code == 400
    assert client.get("/models/compare.json?job_id=nope").status_code == 404
    many = "&".join(f"job_id=j{i}" for i in range(101))
    assert client.get(f"/models/compare.json?{many}").status_code == 400


def test_downsample_keeps_the_extremes_and_the_ends():
    points = [[i / 100, i, float(i), float(i % 97)] for i in range(200_000)]
    points[123_457][3] = 1000.0  # a spike
    points[77_777][3] = -5.0  # a dip
    thin = downsample(points, 2000)
    assert len(thin) <= 2000 and thin[0] == points[0] and thin[-1] == points[-1]
    values = [p[3] for p in thin]
    assert 1000.0 in values and -5.0 in values
    assert [p[1] for p in thin] == sorted(p[1] for p in thin)
    assert downsample(points[:10], 2000) == points[:10]
