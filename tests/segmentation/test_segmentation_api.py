"""Segmentation end to end through a real server: palette and colour-map labels → LMDB →
training with live mIoU → infer_one (the class map) → an infer_many report; bad input."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import download
from tests.detection.conftest import wait_done
from tests.segmentation.conftest import build, fields, train

pytestmark = pytest.mark.server


@pytest.mark.parametrize("method", ["label", "textfile", "cvat", "coco"])
def test_dataset_training_infer_one_and_report(server, shapes, method):
    dataset = build(server, fields(shapes, method))
    assert dataset["status"] == "Done", dataset
    d = dataset["segmentation"]
    assert d["labels"] == ["background", "circle", "square", "triangle"]
    assert d["palette"][:2] == [[0, 0, 0], [220, 40, 40]]
    assert d["splits"]["train"]["entries"] == 24 and d["splits"]["val"]["entries"] == 8
    assert abs(sum(d["splits"]["train"]["share"]) - 1) < 1e-3
    assert (d["splits"]["train"]["ignored"] > 0) == (method != "coco")  # the VOC-style borders
    assert d["health"]["counts"] == {}  # VOC's border colour is "ignore", not an unknown colour
    model = train(server, dataset["id"], train_epochs="2" if method == "label" else "1",
                  standard_networks="lraspp_mobilenet_v3_large" if method in ("label", "coco") else "unet")
    assert model["status"] == "Done", model
    v = model["model"]["validation"]
    assert 0 <= v["miou"] <= 1 and 0 <= v["accuracy"] <= 100 and len(v["per_class_iou"]) == 4
    assert len(v["confusion"]) == 4
    metrics = server.session.get(f"{server.url}/models/{model['id']}/metrics.json").json()["metrics"]
    assert {"miou", "accuracy", "loss"} <= set(next(p for p in metrics if p["phase"] == "val")["values"])
    image = shapes / "images" / "val" / "0000.png"
    answer = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                 data={"job_id": model["id"], "image_path": str(image)}).json()
    classes = answer["outputs"]["class_map"]
    assert len(classes) == 96 and len(classes[0]) == 96 and {c for row in classes for c in row} <= {0, 1, 2, 3}
    assert answer["labels"][1] == "circle" and answer["palette"][1] == [220, 40, 40]
    as_png = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                 data={"job_id": model["id"], "image_path": str(image),
                                       "class_map_format": "png"}).json()
    with Image.open(io.BytesIO(base64.b64decode(as_png["outputs"]["class_map_png"]))) as png:
        assert png.mode == "P" and png.getpalette()[3:6] == [220, 40, 40]  # coloured as the dataset
        assert np.asarray(png).tolist() == classes  # pixel value = class: the same map
    wrong = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                data={"job_id": model["id"], "image_path": str(image), "class_map_format": "gif"})
    assert wrong.status_code == 400 and "must be one of json, png" in wrong.json()["errors"]["class_map_format"][0]
    for bad in ("abc", "7"):  # detection's field: checked here too (a generic client may send it)
        res = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                  data={"job_id": model["id"], "image_path": str(image), "min_confidence": bad})
        assert res.status_code == 400 and "min_confidence" in res.json()["errors"], res.text
    if method in ("cvat", "coco"):  # the report reads the LMDB, whatever the labels were
        return
    res = server.session.post(server.url + "/models/images/generic/infer_many.json",
                              data={"job_id": model["id"], "split": "val"})
    assert res.status_code == 202, res.text
    test = wait_done(server, res.json()["job_id"], 120, "/models")
    assert test["status"] == "Done", test
    report = test["report"]
    assert report["images"] == 8 and 0 <= report["miou"] <= 1 and len(report["gallery"]) == 8
    rows = server.session.get(f"{server.url}/models/{test['id']}/segmentation.json").json()["images"]
    assert len(rows) == 8 and all("miou" in r for r in rows)
    gallery = server.session.get(f"{server.url}/models/{test['id']}/segmentation-images/{report['gallery'][0]}_label.png")
    assert gallery.headers["Content-Type"] == "image/png"
    if method != "label":
        return
    listed = [str(shapes / "images" / "val" / f"000{i}.png") for i in range(3)] + [str(shapes / "missing.png")]
    direct = server.session.post(server.url + "/models/images/generic/infer_many.json",  # DIGITS's, at once
                                 data={"job_id": model["id"], "class_map_format": "png"},
                                 files={"image_list": ("list.txt", "\n".join(listed))}).json()["outputs"]
    assert set(direct) == set(listed) and "error" in direct[listed[3]]
    assert direct[str(image)] == as_png["outputs"]  # infer_one's PNG
    db = server.session.post(server.url + "/models/images/generic/infer_db.json", data={
        "job_id": model["id"], "db_path": f"{dataset['id']}/val", "class_map_format": "png"})
    assert db.ok and sorted(db.json()["outputs"], key=int) == [str(i) for i in range(8)], db.text
    assert all("class_map_png" in o for o in db.json()["outputs"].values())
    res = server.session.post(server.url + "/models/images/generic/infer_many.json",
                              data={"job_id": model["id"], "background": "1"},
                              files={"image_list": ("list.txt", "\n".join(listed))})
    assert res.status_code == 202, res.text
    test = wait_done(server, res.json()["job_id"], 120, "/models")
    assert test["status"] == "Done" and test["report"]["images"] == 4 and test["report"]["errors"] == 1, test
    rows = server.session.get(f"{server.url}/models/{test['id']}/segmentation.json").json()["images"]
    assert "error" in rows[3] and "missing.png" in rows[3]["path"]
    first = np.bincount(np.asarray(classes, np.uint8).ravel(), minlength=4)[:4] / (96 * 96)  # infer_one's map
    assert rows[0]["path"] == str(image) and np.allclose(rows[0]["share"], first, atol=1e-4)
    archive = download(server.session, f"{server.url}/models/{model['id']}/download.tar.gz")
    assert archive.ok, archive.text
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tf:
        names = set(tf.getnames())
        info = json.loads(tf.extractfile("info.json").read())
    assert {"model.pt", "network.py", "labels.txt", "palette.json", "info.json"} <= names
    for name, check in info["exports"].items():  # shipped only when it agrees, else says why
        assert (check["file"] in names) if check["file"] else check["error"], (name, check)
    assert info["exports"]["torchscript"]["file"] == "model.torchscript.pt"


def test_bad_input_is_named(server, shapes, data_root):
    from PIL import Image

    s = server.session
    url = server.url + "/datasets/generic/create/image-segmentation.json"
    missing = s.post(url, data=fields(shapes, label_folder=str(data_root / "nope")))
    assert missing.status_code == 400 and "does not exist" in json.dumps(missing.json()["errors"]["label_folder"])
    bad_map = shapes / "bad_colormap.txt"
    bad_map.write_text("0 0 0\n255 0\n")
    res = s.post(url, data=fields(shapes, "textfile", colormap_text_file=str(bad_map)))
    assert res.status_code == 400 and "bad_colormap.txt:2: expected 'R G B'" in res.text
    train_labels = shapes / "palette" / "train"
    (train_labels / "0001.png").unlink()  # an image without its label
    Image.new("P", (50, 50)).save(train_labels / "0002.png")  # another size
    Image.new("RGB", (96, 96), (1, 2, 3)).save(train_labels / "0003.png")  # RGB without a colour map
    Image.new("P", (10, 10)).save(train_labels / "orphan.png")
    job = build(server, fields(shapes))
    assert job["status"] == "Done", job
    messages = {i["kind"]: i["message"] for i in job["segmentation"]["health"]["issues"]}
    assert "0001.png: no label" in messages["image without label"]
    assert "0002.png is 50×50, its image 96×96" in messages["size mismatch"]
    assert "0003.png: a RGB label needs colormap_method=textfile" in messages["RGB label without a colour map"]
    assert "orphan.png" in messages["label without image"]
    assert job["segmentation"]["splits"]["train"]["entries"] == 21


def test_palettes_that_differ_and_coco_polygons_outside_the_image(server, shapes):
    from PIL import Image

    label = shapes / "palette" / "train" / "0004.png"
    other = Image.open(label)
    other.putpalette([255 - v for v in other.getpalette()])
    other.save(label)
    job = build(server, fields(shapes))
    kinds = {i["kind"]: i["message"] for i in job["segmentation"]["health"]["issues"]}
    assert "0004.png's label has another palette than the first" in kinds["palette differs"]

    coco = json.loads((shapes / "coco" / "train.json").read_text())
    polygon = next(a for a in coco["annotations"] if isinstance(a["segmentation"], list))
    polygon["segmentation"][0][0] = 500.0
    coco["annotations"].append({"id": 999, "image_id": 0, "category_id": 42, "segmentation": [[0, 0, 1, 1, 2, 0]]})
    (shapes / "coco" / "train.json").write_text(json.dumps(coco))
    job = build(server, fields(shapes, "coco"))
    assert job["status"] == "Done", job
    messages = [i["message"] for i in job["segmentation"]["health"]["issues"]]
    assert any(f"annotations[{coco['annotations'].index(polygon)}] has points outside the 96×96 image" in m
               for m in messages)
    assert any("annotations[" in m and "unknown category_id" in m for m in messages)
    broken = shapes / "coco" / "broken.json"
    broken.write_text("{not json")
    res = server.session.post(server.url + "/datasets/generic/create/image-segmentation.json",
                              data=fields(shapes, "coco", label_folder=str(broken)))  # answered at once
    assert res.status_code == 400 and "broken.json is not valid JSON (line 1" in res.json()["errors"]["label_folder"][0]
    no_map = server.session.post(server.url + "/datasets/generic/create/image-segmentation.json",
                                 data=fields(shapes, "cvat", label_folder=str(shapes / "palette" / "train")))
    assert no_map.status_code == 400 and "no labelmap.txt beside" in no_map.json()["errors"]["label_folder"][0]


def test_an_archive_upload(server, shapes, tmp_path):
    import shutil

    archive = shutil.make_archive(str(tmp_path / "seg"), "zip", shapes)
    data = {"dataset_name": "from zip", "feature_folder": "images/train", "label_folder": "palette/train",
            "class_labels_file": "classes.txt", "folder_pct_val": "25"}
    res = server.session.post(server.url + "/datasets/generic/create/image-segmentation.json", data=data,
                              files={"train_archive": ("seg.zip", open(archive, "rb"))})
    assert res.ok, res.text
    job = wait_done(server, res.json()["id"])
    assert job["status"] == "Done", job
    assert job["segmentation"]["splits"]["train"]["entries"] == 18 and job["segmentation"]["splits"]["val"]["entries"] == 6
    assert job["segmentation"]["labels"][3] == "triangle"


def test_a_class_missing_from_validation_is_in_the_health_report(server, shapes):
    import numpy as np
    from PIL import Image

    for label in (shapes / "palette" / "val").glob("*.png"):  # class 3 drawn as class 1 in validation
        image = Image.open(label)
        pixels = np.array(image)
        pixels[pixels == 3] = 1
        out = Image.fromarray(pixels, "P")
        out.putpalette(image.getpalette())
        out.save(label)
    job = build(server, fields(shapes))
    assert job["status"] == "Done", job
    messages = [i["message"] for i in job["segmentation"]["health"]["issues"] if i["kind"] == "class missing from a split"]
    assert len(messages) == 1 and ": no pixel in the validation images (" in messages[0], messages
    assert messages[0].endswith("in training): its quality cannot be measured")
