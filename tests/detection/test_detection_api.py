"""Object detection end to end through a real server: each label format → an LMDB dataset →
training on the engine with live mAP → infer_one (DIGITS's bbox-list) → an infer_many report."""
from __future__ import annotations

import json


import pytest

from tests.conftest import download
from tests.detection.conftest import build, shapes_fields, train, wait_done

pytestmark = pytest.mark.server


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo", "kitti"])
def test_each_format_builds_the_same_boxes(server, shapes, fmt):
    job = build(server, shapes_fields(shapes, fmt))
    assert job["status"] == "Done", job
    d = job["detection"]
    assert d["labels"] == ["dontcare", "circle", "square", "triangle"]
    assert d["splits"]["train"]["entries"] == 24 and d["splits"]["val"]["entries"] == 8
    truth = sum(len(xml.read_text().split("<object>")) - 1 for xml in (shapes / "voc" / "train").glob("*.xml"))
    assert d["splits"]["train"]["boxes"] == truth
    assert d["health"]["counts"] == {}
    page = server.session.get(f"{server.url}/datasets/{job['id']}/detection/explore.json",
                              params={"split": "train", "class": 2}).json()
    assert page["images"] and all(any(b[4] == 2 for b in item["boxes"]) for item in page["images"])
    image = server.session.get(server.url + page["images"][0]["url"])
    assert image.headers["Content-Type"] == "image/png" and image.content[:4] == b"\x89PNG"


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo", "kitti"])
def test_train_infer_one_and_a_report(server, shapes, fmt):
    dataset = build(server, shapes_fields(shapes, fmt))
    epochs = 2 if fmt == "voc" else 1
    model = train(server, dataset["id"], train_epochs=str(epochs))
    assert model["status"] == "Done", model
    validation = model["model"]["validation"]
    for key in ("map", "map_50", "precision", "recall", "loss", "loss_bbox_regression", "loss_classification"):
        assert key in validation
    assert [c["label"] for c in validation["per_class"]] == ["circle", "square", "triangle"]
    metrics = server.session.get(f"{server.url}/models/{model['id']}/metrics.json").json()
    val_points = [p for p in metrics["metrics"] if p["phase"] == "val"]
    assert len(val_points) == epochs and "map_50" in val_points[0]["values"]

    image = shapes / "images" / "val" / "0001.png"
    answer = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                 data={"job_id": model["id"], "image_path": str(image)}).json()
    rows = answer["outputs"]["bbox-list"]
    assert rows and all(len(r) == 6 and r[0] <= r[2] <= 128 and r[1] <= r[3] <= 128 for r in rows)
    assert answer["detections"][0]["label"] in ("circle", "square", "triangle")
    assert 0 < answer["threshold"] <= 1
    ready = answer["readiness"]  # a model this short is weak: the view starts at 0.5 or more
    assert ready["epochs"] == epochs and ready["validated"] and 0 <= ready["f1"] <= 1
    f1 = 2 * validation["precision"] * validation["recall"] / max(validation["precision"] + validation["recall"], 1e-9)
    assert ready["weak"] == (f1 < 0.2) and ready["f1"] == pytest.approx(f1, abs=1e-3)
    assert answer["threshold"] >= (0.5 if ready["weak"] else 0)
    upload = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                 data={"job_id": model["id"]}, files={"image_file": ("x.png", image.read_bytes())})
    assert upload.json()["outputs"]["bbox-list"] == rows  # the same warm worker, the same answer
    scores = sorted({r[4] for r in rows})  # cut in the widest gap: the answer's scores are rounded
    low, high = max(zip(scores, scores[1:]), key=lambda pair: pair[1] - pair[0])
    fewer = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                data={"job_id": model["id"], "image_path": str(image),
                                      "min_confidence": (low + high) / 2}).json()["outputs"]["bbox-list"]
    assert fewer == [r for r in rows if r[4] >= high] and len(fewer) < len(rows)  # the low ones left out
    too_high = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                   data={"job_id": model["id"], "image_path": str(image), "min_confidence": "2"})
    assert too_high.status_code == 400 and "between 0 and 1" in too_high.json()["errors"]["min_confidence"][0]

    if fmt != "voc":  # the report reads the LMDB, whatever the format was: one format is enough
        return
    res = server.session.post(server.url + "/models/images/generic/infer_many.json",
                              data={"job_id": model["id"], "split": "val"})
    assert res.status_code == 202, res.text
    test = wait_done(server, res.json()["job_id"], 120, "/models")
    assert test["status"] == "Done", test
    report = test["report"]
    assert report["images"] == 8 and 0 <= report["map_50"] <= 1 and len(report["pr_curve"]) == 101
    assert len(report["gallery"]) == 8
    data = server.session.get(f"{server.url}/models/{test['id']}/detections.json").json()
    assert len(data["images"]) == 8 and "truth" in data["images"][0]
    csv = server.session.get(f"{server.url}/models/{test['id']}/detections.csv").text
    assert csv.splitlines()[0] == "image,label,class,confidence,left,top,right,bottom"
    assert len(csv.splitlines()) == 1 + report["detections"]
    archive = download(server.session, f"{server.url}/models/{model['id']}/download.tar.gz")
    assert archive.ok, archive.text
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tf:
        names = set(tf.getnames())
        info = json.loads(tf.extractfile("info.json").read())
        source = tf.extractfile("network.py").read().decode()
    assert {"model.pt", "network.py", "labels.txt", "info.json"} <= names
    assert "weights=None, weights_backbone=None" in source
    assert info["classes"] == ["dontcare", "circle", "square", "triangle"]
    for name, check in info["exports"].items():  # shipped only when it agrees, else says why
        assert (check["file"] in names) if check["file"] else check["error"], (name, check)
    assert info["exports"]["torchscript"]["file"] == "model.torchscript.pt"
