"""Bad detection input: each problem gets a message naming the file and line (a 400 before the
job exists, the dataset's health list, or a job that ends in Error with the reason); the
server and other jobs carry on."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.detection.conftest import build, shapes_fields

pytestmark = pytest.mark.server
URL = "/datasets/generic/create/image-object-detection.json"


def test_form_errors_name_the_field_and_file(server, shapes, data_root, tmp_path):
    s = server.session
    missing = s.post(server.url + URL, data=shapes_fields(shapes, "voc", train_label_folder=str(data_root / "nope")))
    assert missing.status_code == 400
    assert "does not exist" in json.dumps(missing.json()["errors"]["train_label_folder"])
    outside = s.post(server.url + URL, data=shapes_fields(shapes, "voc", train_image_folder=str(tmp_path)))
    assert "outside the allowed data roots" in json.dumps(outside.json()["errors"]["train_image_folder"])
    half = s.post(server.url + URL, data=shapes_fields(shapes, "voc", val_label_folder=""))
    assert "or neither" in json.dumps(half.json()["errors"])
    broken = shapes / "coco" / "broken.json"
    broken.write_text('{"images": [\n  {"id": 1,, }\n]}')
    coco = s.post(server.url + URL, data=shapes_fields(shapes, "coco", train_label_file=str(broken)))
    assert coco.status_code == 400
    message = json.dumps(coco.json()["errors"])
    assert "broken.json is not valid JSON (line 2" in message
    fmt = s.post(server.url + URL, data={**shapes_fields(shapes, "voc"), "label_format": "pascal"})
    assert "label_format" in fmt.json()["errors"]
    pad = s.post(server.url + URL, data=shapes_fields(shapes, "voc", padding_image_width="600"))
    assert "padding_image_width" in pad.json()["errors"]


def test_bad_lines_and_boxes_are_listed_with_file_and_line(server, shapes):
    kitti = shapes / "kitti" / "train"
    (kitti / "0000.txt").write_text(
        "circle 0 0 0 10 10 40 40 0 0 0 0 0 0 0\n"        # fine
        "circle 0 0 0 10 10 40\n"                          # too few columns
        "square 0 0 0 ten 10 40 40 0 0 0 0 0 0 0\n"       # not a number
        "square 0 0 0 50 10 20 40 0 0 0 0 0 0 0\n"        # right < left
        "hexagon 0 0 0 10 50 40 90 0 0 0 0 0 0 0\n"       # not a custom class
        "circle 0 0 0 100 100 400 400 0 0 0 0 0 0 0\n")   # leaves the 128×128 image
    (kitti / "orphan.txt").write_text("circle 0 0 0 1 1 5 5 0 0 0 0 0 0 0\n")
    (kitti / "0001.txt").unlink()
    (shapes / "images" / "train" / "0002.png").write_bytes(b"not a png at all")
    job = build(server, shapes_fields(shapes, "kitti"))
    assert job["status"] == "Done", job
    health = job["detection"]["health"]
    by_kind = {}
    for issue in health["issues"]:
        by_kind.setdefault(issue["kind"], []).append(issue["message"])
    assert any("train/0000.txt:2: 7 columns" in m for m in by_kind["bad line"])
    assert any("train/0000.txt:3" in m and "must be numbers" in m for m in by_kind["bad line"])
    assert any("train/0000.txt:4: right < left" in m for m in by_kind["bad box"])
    assert any("train/0000.txt:5: class 'hexagon'" in m for m in by_kind["unknown class"])
    assert any("train/0000.txt:6" in m and "clipped" in m for m in by_kind["box outside image"])
    assert any("orphan.txt" in m for m in by_kind["label without image"])
    assert any("0001.png" in m for m in by_kind["image without labels"])
    assert any("0002.png: not a readable image" in m for m in by_kind["unreadable image"])
    assert job["detection"]["splits"]["train"]["entries"] == 23  # the corrupt image is skipped


def test_an_image_larger_than_the_padding_fails_the_job_naming_it(server, shapes):
    job = build(server, shapes_fields(shapes, "voc", padding_image_width="100", padding_image_height="100"))
    assert job["status"] == "Error"
    assert "0000.png is 128×128, larger than the padding 100×100" in job["error"]
    ok = build(server, shapes_fields(shapes, "voc", dataset_name="still fine"))  # the server carries on
    assert ok["status"] == "Done"


def test_coco_pointing_at_missing_images(server, shapes):
    data = json.loads((shapes / "coco" / "train.json").read_text())
    data["images"][3]["file_name"] = "gone.png"
    data["images"][4]["file_name"] = "../../../etc/passwd"
    (shapes / "coco" / "train.json").write_text(json.dumps(data))
    job = build(server, shapes_fields(shapes, "coco"))
    assert job["status"] == "Done"
    messages = [i["message"] for i in job["detection"]["health"]["issues"]]
    assert any("images[3]: gone.png is not in the image folder" in m for m in messages)
    assert any("images[4]: file_name '../../../etc/passwd' leaves the image folder" in m for m in messages)
    assert job["detection"]["splits"]["train"]["entries"] == 22


def test_an_archive_upload_and_a_path_out_of_it(server, shapes, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "shapes"), "zip", shapes)
    fields = {"dataset_name": "from zip", "label_format": "yolo", "train_image_folder": "images/train",
              "train_label_folder": "yolo/train", "padding_image_width": "", "padding_image_height": ""}
    res = server.session.post(server.url + URL, data=fields,
                              files={"train_archive": ("shapes.zip", open(archive, "rb"))})
    assert res.ok, res.text
    from tests.detection.conftest import wait_done

    job = wait_done(server, res.json()["id"])
    assert job["status"] == "Done", job
    assert job["detection"]["splits"]["train"]["entries"] + job["detection"]["splits"]["val"]["entries"] == 24
    escape = server.session.post(server.url + URL, data={**fields, "train_image_folder": "../../etc"},
                                 files={"train_archive": ("shapes.zip", open(archive, "rb"))})
    assert escape.status_code == 400 and "relative path inside it" in escape.text


def test_abort_resume_a_non_image_and_a_list_with_a_bad_file(server, shapes):
    from tests.conftest import wait_for
    from tests.detection.conftest import wait_done

    s = server.session
    dataset = build(server, shapes_fields(shapes, "voc"))
    res = s.post(server.url + "/models/images/generic.json",
                 data={"dataset": dataset["id"], "model_name": "resumed", "train_epochs": "4",
                       "batch_size": "8", "random_seed": "1"})
    model_id = res.json()["id"]
    wait_for(lambda: 1 in s.get(f"{server.url}/models/{model_id}.json").json()["snapshots"], 120, 0.2, "a snapshot")
    s.post(f"{server.url}/models/{model_id}/abort")
    assert wait_done(server, model_id, 60, "/models")["status"] == "Aborted"
    assert s.post(f"{server.url}/models/{model_id}/resume").ok  # the engine's resume, for detection
    model = wait_done(server, model_id, 300, "/models")
    assert model["status"] == "Done", model
    points = s.get(f"{server.url}/models/{model_id}/metrics.json").json()["metrics"]
    assert [p["epoch"] for p in points if p["phase"] == "val"] == [1, 2, 3, 4]  # no gap, no duplicate

    bad = s.post(server.url + "/models/images/generic/infer_one.json", data={"job_id": model_id},
                 files={"image_file": ("notes.png", b"this is text")})
    assert bad.status_code == 400 and "not a readable image" in bad.json()["error"]["message"]
    check = s.post(server.url + "/models/images/generic/infer_one.json",
                   data={"job_id": model_id, "check_only": "1",
                         "image_path": str(shapes / "images" / "val" / "0000.png")})
    assert check.ok and check.json() == {"checked": True}
    wrong = s.post(server.url + "/models/images/generic/infer_one.json",
                   data={"job_id": dataset["id"], "image_path": str(shapes / "images" / "val" / "0000.png")})
    assert wrong.status_code == 400 and "is not a model of a task the generic routes serve (object detection, segmentation)" in wrong.text
    (shapes / "broken.png").write_bytes(b"\x89PNG broken")
    listing = "\n".join(["images/val/0000.png", "broken.png", "images/val/0001.png"])
    direct = s.post(server.url + "/models/images/generic/infer_many.json",  # DIGITS's answer, at once
                    data={"job_id": model_id, "image_folder": str(shapes), "min_confidence": "0.3"},
                    files={"image_list": ("list.txt", listing.encode())})
    assert direct.status_code == 200, direct.text
    outputs = direct.json()["outputs"]
    assert set(outputs) == {str(shapes / name) for name in listing.splitlines()}
    assert "not a readable image" in outputs[str(shapes / "broken.png")]["error"]
    one = s.post(server.url + "/models/images/generic/infer_one.json", data={
        "job_id": model_id, "image_path": str(shapes / "images" / "val" / "0000.png"), "min_confidence": "0.3"})
    assert outputs[str(shapes / "images" / "val" / "0000.png")] == one.json()["outputs"]  # min_confidence applied
    too_high = s.post(server.url + "/models/images/generic/infer_many.json",
                      data={"job_id": model_id, "image_folder": str(shapes), "min_confidence": "7"},
                      files={"image_list": ("list.txt", listing.encode())})
    assert too_high.status_code == 400 and "min_confidence" in too_high.json()["errors"]
    url = server.url + "/models/images/generic/infer_db.json"  # a dataset's LMDB, as DIGITS's infer_db
    db = s.post(url, data={"job_id": model_id, "db_path": f"{dataset['id']}/val", "num_test_images": "2",
                           "min_confidence": "0.3"})
    assert db.status_code == 200, db.text
    assert set(db.json()["outputs"]) == {"0", "1"}
    stored = s.get(f"{server.url}/datasets/{dataset['id']}/detection/images/val/1").content
    one = s.post(server.url + "/models/images/generic/infer_one.json", data={"job_id": model_id, "min_confidence": "0.3"},
                 files={"image_file": ("1.png", stored)})
    assert db.json()["outputs"]["1"] == one.json()["outputs"]  # the stored image, as infer_one sees it
    by_path = s.post(url, data={"job_id": model_id, "db_path": str(server.jobs_dir / dataset["id"] / "val"),
                                "num_test_images": "1", "min_confidence": "0.3"})
    assert by_path.json()["outputs"]["0"] == db.json()["outputs"]["0"]
    for wrong, why in ((f"{model_id}/val", "is not a dataset of this model's task"), ("/etc/passwd", "not a dataset's split"),
                       (f"{dataset['id']}/../../etc", "expected <dataset id>/<train|val>"), ("", "expected")):
        res = s.post(url, data={"job_id": model_id, "db_path": wrong})
        assert res.status_code == 400 and why in res.json()["errors"]["db_path"][0], (wrong, res.text)
    res = s.post(server.url + "/models/images/generic/infer_many.json",
                 data={"job_id": model_id, "image_folder": str(shapes), "background": "1", "min_confidence": "0.3"},
                 files={"image_list": ("list.txt", listing.encode())})
    assert res.status_code == 202, res.text
    test = wait_done(server, res.json()["job_id"], 120, "/models")
    assert test["status"] == "Done" and test["report"]["images"] == 3 and test["report"]["errors"] == 1
    rows = s.get(f"{server.url}/models/{test['id']}/detections.json").json()["images"]
    assert "not a readable image" in rows[1]["error"]
    for row in (rows[0], rows[2]):  # the test job keeps what infer_one keeps at that min_confidence
        bboxes = outputs[str(shapes / listing.splitlines()[row["index"]])]["bbox-list"]
        assert [[*d["box"], d["confidence"], d["class"]] for d in row["detections"]] == bboxes
    not_dataset = s.post(server.url + "/models/images/generic.json", data={"dataset": model_id, "model_name": "x"})
    assert not_dataset.status_code == 400 and "is not a dataset of a task the generic routes serve" in not_dataset.text
    nothing = s.post(server.url + "/models/images/generic.json", data={"model_name": "x"})
    assert nothing.status_code == 400 and "dataset" in nothing.json()["errors"]
    outside = s.post(server.url + "/models/images/generic/infer_many.json",
                     data={"job_id": model_id}, files={"image_list": ("list.txt", b"/etc/passwd\n")})
    assert outside.status_code == 400 and "outside the allowed data roots" in outside.text


def test_classes_missing_from_a_split_are_in_the_health_report(server, shapes):
    """Every training triangle relabelled a square: triangles are only in validation, which
    the health report says (it no longer says "no problems")."""
    for xml in (shapes / "voc" / "train").glob("*.xml"):
        xml.write_text(xml.read_text().replace("<name>triangle</name>", "<name>square</name>"))
    job = build(server, shapes_fields(shapes, "voc"))
    assert job["status"] == "Done", job
    health = job["detection"]["health"]
    missing = [i["message"] for i in health["issues"] if i["kind"] == "class missing from a split"]
    assert len(missing) == 1 and missing[0].startswith("triangle: no box in the training images (")
    assert "in validation): the model never learns it" in missing[0]
    assert health["counts"]["class missing from a split"] == 1
