"""Hostile label files through a real server: YAML alias bombs, class lists too long, JSON
nested past the stack, COCO ids and sizes of the wrong type answer 400 naming the file and the
problem; NaN, infinite and huge polygon coordinates and RLEs of the wrong (or a huge, or a
negative) size are skipped and listed in the health report while the dataset builds."""
from __future__ import annotations

import json

import pytest

from tests.segmentation.conftest import build, fields

pytestmark = pytest.mark.server
DETECTION = "/datasets/generic/create/image-object-detection.json"
SEGMENTATION = "/datasets/generic/create/image-segmentation.json"
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)
) + "names: *i\n"


def yolo(shapes, name: str, data_yaml: str) -> dict:
    folder = shapes / f"yolo-{name}"
    folder.mkdir()
    (folder / "data.yaml").write_text(data_yaml)
    return {"dataset_name": name, "label_format": "yolo",
            "train_image_folder": str(shapes / "images" / "train"), "train_label_folder": str(folder),
            "padding_image_width": "", "padding_image_height": ""}


def coco_file(shapes, name: str, doc) -> str:
    path = shapes / f"{name}.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_parser_bombs_and_malformed_labels_answer_400(server, shapes):
    s, url = server.session, server.url
    assert len(ALIAS_BOMB) < 600  # a few hundred bytes that would expand to 9**9 names
    cases = [  # (url, form, field, what the message says)
        (DETECTION, yolo(shapes, "bomb", ALIAS_BOMB), "train_label_folder", "YAML alias"),
        (DETECTION, yolo(shapes, "keys", "names: {0: a, x: b}\n"), "train_label_folder",
         "keys of \"names\" must be the class indexes"),
        (DETECTION, yolo(shapes, "many", "names: [" + ", ".join(f"c{i}" for i in range(10001)) + "]\n"),
         "train_label_folder", "10001 classes; at most 10000"),
        (DETECTION, yolo(shapes, "long", f"names: [{'x' * 500}]\n"), "train_label_folder",
         "500 characters long"),
        (DETECTION, yolo(shapes, "deep", "names: " + "[" * 200 + "]" * 200 + "\n"), "train_label_folder",
         "nested more than"),
    ]
    images = str(shapes / "images" / "train")
    detection_coco = {"dataset_name": "c", "label_format": "coco", "train_image_folder": images,
                      "padding_image_width": "", "padding_image_height": ""}
    good = json.loads((shapes / "coco" / "train.json").read_text())
    for name, doc, says in [
        ("nested", "[" * 200000 + "]" * 200000, "nested too deeply"),
        ("list-cat", {**good, "categories": [{"id": [1], "name": "a"}]}, "category ids must be integers"),
        ("list-image", {**good, "images": [{**good["images"][0], "id": [1]}]}, "\"id\" must be an integer"),
        ("mixed", {**good, "categories": [{"id": 1, "name": "a"}, {"id": "2", "name": "b"}]},
         "mix integers and strings"),
        ("height", {**good, "images": [{**good["images"][0], "height": "tall"}]}, "\"height\" must be a positive integer"),
    ]:
        path = coco_file(shapes, name, doc)
        cases.append((DETECTION, {**detection_coco, "train_label_file": path}, "train_label_file", says))
        cases.append((SEGMENTATION, fields(shapes, "coco", label_folder=path), "label_folder", says))
    for target, form, field, says in cases:
        res = s.post(url + target, data=form)
        assert res.status_code == 400, (form, res.text[:300])
        message = " ".join(res.json()["errors"].get(field) or [])
        assert says in message, (says, res.json()["errors"])


def test_bad_polygons_and_rles_are_skipped_and_listed(server, shapes):
    coco = json.loads((shapes / "coco" / "train.json").read_text())
    image = coco["images"][0]
    h, w = image["height"], image["width"]
    cat = coco["categories"][0]["id"]
    bad = {
        "NaN": [[0, 0, float("nan"), 5, 5, 5]],
        "Infinity": [[0, 0, float("inf"), 5, 5, 5]],
        "1e300": [[0, 0, 1e300, 5, 5, 5]],
        "huge RLE": {"size": [100000, 100000], "counts": [0, 10**10 - 1, 1]},
        "negative RLE": {"size": [-5, w], "counts": [1, 2]},
        "RLE overrun": {"size": [h, w], "counts": [h * w, h * w]},
        "string overrun": {"size": [h, w], "counts": "0" * 5 + "zzzzzz"},
    }
    first = len(coco["annotations"])
    for n, seg in enumerate(bad.values()):
        coco["annotations"].append({"id": 10000 + n, "image_id": image["id"], "category_id": cat,
                                    "segmentation": seg, "area": 1})
    (shapes / "coco" / "train.json").write_text(json.dumps(coco))  # NaN and Infinity as JSON allows
    job = build(server, fields(shapes, "coco"))
    assert job["status"] == "Done", job
    messages = [i["message"] for i in job["segmentation"]["health"]["issues"]]
    for n, what in enumerate(bad):
        mine = [m for m in messages if f"annotations[{first + n}]" in m]
        assert mine and "skipped" in mine[0], (what, messages)
    assert any("is for a 100000×100000 image" in m for m in messages)
