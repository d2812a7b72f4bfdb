"""Datasets through REST on a real server: folder, textfile and archive, and bad input."""
from __future__ import annotations

import io
import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from digitsx.datasets.lmdb_io import LmdbReader
from tests.conftest import wait_for
from tests.datasets.conftest import photo

pytestmark = pytest.mark.server
URL = "/datasets/images/classification.json"


def create(server, files=None, **fields):
    return server.session.post(server.url + URL, data=fields, files=files)


def wait_done(server, job_id, timeout=60):
    def finished():
        status = server.session.get(f"{server.url}/datasets/{job_id}/status").json()
        return status if status["status"] in ("Done", "Error", "Aborted") else None
    return wait_for(finished, timeout, 0.2, f"dataset {job_id}")


@pytest.mark.parametrize("dataset_server", ["open", "password"], indirect=True)  # password: a Bearer token
def test_folder_dataset_end_to_end(dataset_server, mnist_tree):
    server = dataset_server
    res = create(server, dataset_name="digits", method="folder", folder_train=str(mnist_tree),
                 resize_channels=1, resize_width=28, resize_height=28, folder_pct_val=20,
                 folder_pct_test=10, encoding="png")
    assert res.status_code == 200, res.text
    body = res.json()
    assert set(body) >= {"id", "name", "status"} and body["name"] == "digits"
    assert wait_done(server, body["id"])["status"] == "Done"
    info = server.session.get(f"{server.url}/datasets/{body['id']}.json").json()
    parse = info["ParseFolderTasks"][0]
    assert (parse["label_count"], parse["train_count"], parse["val_count"], parse["test_count"]) \
        == (10, 210, 60, 30)
    dbs = {t["name"]: t for t in info["CreateDbTasks"]}
    assert dbs["Create DB (train)"]["entries"] == 210
    assert dbs["Create DB (val)"] == {"name": "Create DB (val)", "entries": 60, "image_width": 28,
                                      "image_height": 28, "image_channels": 1, "backend": "lmdb",
                                      "encoding": "png"}
    ds = info["dataset"]
    assert ds["labels"] == ["eight", "five", "four", "nine", "one", "seven", "six", "three",
                            "two", "zero"]  # sub-folders sorted alphabetically
    assert ds["splits"]["train"]["counts"] == [21] * 10 and ds["skipped_count"] == 0
    assert ds["size_bytes"] > 0 and ds["mean_image"]
    assert server.session.get(server.url + ds["mean_image"]).headers["Content-Type"] == "image/png"
    folder = server.jobs_dir / body["id"]
    mean = np.load(folder / "mean.npy")
    assert mean.shape == (28, 28) and 10 < mean.mean() < 80  # MNIST: dark background
    # The LMDB holds real digits with their labels.
    reader = LmdbReader(folder / "val")
    assert len(reader) == 60
    image, label = reader[0]
    assert image.shape == (28, 28) and image.dtype == np.uint8 and 0 <= label < 10
    assert image.max() > 200  # a drawn stroke
    # Explore: filter by class, page sizes, stored images.
    page = server.session.get(f"{server.url}/datasets/images/classification/explore.json",
                              params={"job_id": body["id"], "db": "train", "label": 3,
                                      "size": 10, "page": 1}).json()
    assert page["total"] == 21 and page["pages"] == 3 and len(page["items"]) == 10
    assert all(item["name"] == "nine" for item in page["items"])
    png = server.session.get(server.url + page["items"][0]["url"])
    assert png.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (28, 28)
    html = server.session.get(f"{server.url}/datasets/images/classification/explore",
                              params={"job_id": body["id"], "db": "val", "size": 25},
                              headers={"Accept": "text/html"})
    assert html.ok and html.text.count("<figure") == 25
    assert server.session.get(f"{server.url}/datasets/images/classification/explore.json",
                              params={"job_id": body["id"], "size": 7}).status_code == 400


def test_textfile_dataset_with_uploads_and_prefix(dataset_server, mnist_tree, data_root):
    server = dataset_server
    classes = sorted(os.listdir(mnist_tree))
    lines = {"train": [], "val": []}
    for label, name in enumerate(classes):
        files = sorted(os.listdir(mnist_tree / name))
        lines["train"] += [f"{name}/{f} {label}" for f in files[:20]]
        lines["val"] += [f"{mnist_tree / name / f} {label}" for f in files[20:25]]
    files = {"textfile_train_images": ("train.txt", "\n".join(lines["train"]) + "\n"),
             "textfile_val_images": ("val.txt", "\n".join(lines["val"])),
             "textfile_labels_file": ("labels.txt", "\n".join(classes))}
    res = create(server, files, dataset_name="from lists", method="textfile",
                 textfile_train_folder=str(mnist_tree), resize_width=32, resize_height=32,
                 resize_mode="fill", encoding="jpg")
    assert res.status_code == 200, res.text
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    info = server.session.get(f"{server.url}/datasets/{res.json()['id']}.json").json()
    assert info["ParseFolderTasks"][0]["train_count"] == 200
    assert info["dataset"]["splits"]["val"]["counts"] == [5] * 10
    assert info["dataset"]["labels"] == classes
    image, _ = LmdbReader(server.jobs_dir / res.json()["id"] / "train")[0]
    assert image.shape == (32, 32, 3)  # colour by default, fill-padded to 32×32


def test_local_text_files_and_a_missing_image_is_skipped(dataset_server, mnist_tree, data_root):
    server = dataset_server
    classes = sorted(os.listdir(mnist_tree))[:2]
    train = [f"{mnist_tree / c / f} {i}" for i, c in enumerate(classes)
             for f in sorted(os.listdir(mnist_tree / c))[:10]]
    train.append(f"{mnist_tree / classes[0] / 'missing.png'} 0")
    (data_root / "train.txt").write_text("\n".join(train))
    (data_root / "labels.txt").write_text("\n".join(classes))
    res = create(server, dataset_name="local", method="textfile", textfile_use_local_files="y",
                 textfile_local_train_images=str(data_root / "train.txt"),
                 textfile_local_labels_file=str(data_root / "labels.txt"), textfile_use_val="",
                 resize_width=28, resize_height=28, resize_channels=1)
    assert res.status_code == 200, res.text
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    ds = server.session.get(f"{server.url}/datasets/{res.json()['id']}.json").json()["dataset"]
    assert ds["splits"]["train"]["entries"] == 20
    assert ds["skipped"] == [{"path": str(mnist_tree / classes[0] / "missing.png"),
                              "reason": "missing.png: file not found", "split": "train"}]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archive_upload(dataset_server, mnist_tree, tmp_path, kind):
    server = dataset_server
    archive = tmp_path / f"digits.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in mnist_tree.rglob("*.png"):
                zf.write(path, f"digits/{path.relative_to(mnist_tree)}")
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(mnist_tree, "digits")
    with open(archive, "rb") as f:
        res = create(server, {"folder_train_archive": (archive.name, f)}, dataset_name="upload",
                     resize_width=28, resize_height=28, resize_channels=1, folder_pct_val=10)
    assert res.status_code == 200, res.text
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    info = server.session.get(f"{server.url}/datasets/{res.json()['id']}.json").json()
    assert info["ParseFolderTasks"][0]["label_count"] == 10
    assert info["ParseFolderTasks"][0]["train_count"] + info["ParseFolderTasks"][0]["val_count"] == 300
    assert not (server.jobs_dir / res.json()["id"] / "uploads" / "extracted").exists()


def test_corrupt_images_are_skipped_and_listed_and_duplicates_found(dataset_server, data_root):
    server = dataset_server
    tree = data_root / "photos"
    for k, c in enumerate(("cats", "dogs")):
        (tree / c).mkdir(parents=True)
        for i in range(6):
            photo(tree / c / f"{i}.jpg", seed=100 * k + i)  # all different: no accidental duplicates
    (tree / "cats" / "truncated.jpg").write_bytes((tree / "cats" / "0.jpg").read_bytes()[:2000])
    (tree / "cats" / "garbage.png").write_bytes(b"this is not a png")
    (tree / "dogs" / "notes.txt").write_text("ignored: not an image extension")
    shutil.copy(tree / "dogs" / "0.jpg", tree / "dogs" / "copy-of-0.JPG")  # duplicate
    (tree / "dogs" / "nested" / "deeper").mkdir(parents=True)
    photo(tree / "dogs" / "nested" / "deeper" / "n.jpeg", seed=7)  # nested: flattened
    res = create(server, dataset_name="photos", folder_train=str(tree), resize_width=64,
                 resize_height=64, folder_pct_val=0)
    assert res.status_code == 200, res.text
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    ds = server.session.get(f"{server.url}/datasets/{res.json()['id']}.json").json()["dataset"]
    skipped = {os.path.basename(s["path"]): s["reason"] for s in ds["skipped"]}
    assert set(skipped) == {"truncated.jpg", "garbage.png"}
    assert skipped["garbage.png"] == "garbage.png: not an image Pillow can read (17 bytes: a broken, truncated or renamed file)"
    assert skipped["truncated.jpg"].startswith("truncated.jpg: ")
    assert not any("BytesIO" in r or "0x" in r for r in skipped.values())
    assert ds["splits"]["train"]["counts"] == [6, 8]  # cats 6 readable; dogs 6 + copy + nested
    dups = ds["health"]["duplicates_within"]["train"]
    assert [sorted(os.path.basename(p) for p in g) for g in dups] == [["0.jpg", "copy-of-0.JPG"]]
    assert any("duplicate" in w for w in ds["health"]["warnings"])


def test_train_val_leakage_is_reported(dataset_server, data_root):
    server = dataset_server
    for split in ("train", "val"):
        for c in ("a", "b"):
            (data_root / split / c).mkdir(parents=True)
            for i in range(3):
                photo(data_root / split / c / f"{split}{i}.jpg", seed=100 * (c == "a") + i + 10 * (split == "val"))
    shutil.copy(data_root / "train" / "a" / "train0.jpg", data_root / "val" / "a" / "leak.jpg")
    res = create(server, dataset_name="leaky", folder_train=str(data_root / "train"),
                 has_val_folder="y", folder_val=str(data_root / "val"), resize_width=32,
                 resize_height=32)
    assert res.status_code == 200, res.text
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    health = server.session.get(f"{server.url}/datasets/{res.json()['id']}.json").json()["dataset"]["health"]
    assert health["duplicates_across_count"] == 1
    group = health["duplicates_across"][0]["splits"]
    assert [os.path.basename(p) for p in group[1]["paths"]] == ["leak.jpg"]
    assert any("leakage" in w for w in health["warnings"])
    assert not any("missing from a split" in w for w in health["warnings"])
    shutil.rmtree(data_root / "val" / "b")  # validation without class b: said
    res = create(server, dataset_name="no b to validate", folder_train=str(data_root / "train"),
                 has_val_folder="y", folder_val=str(data_root / "val"), resize_width=32, resize_height=32)
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    health = server.session.get(f"{server.url}/datasets/{res.json()['id']}.json").json()["dataset"]["health"]
    assert "Class missing from a split: no validation images for b: its accuracy cannot be measured" in health["warnings"]


def test_bad_input_gets_field_errors(dataset_server, data_root, mnist_tree, tmp_path):
    server = dataset_server
    outside = tmp_path / "outside"
    (outside / "x").mkdir(parents=True)
    (data_root / "escape").symlink_to(outside)
    (data_root / "empty").mkdir()

    def errors(files=None, **fields):
        res = create(server, files, **{"dataset_name": "bad", **fields})
        assert res.status_code == 400, res.text
        return res.json()["errors"]

    assert "outside the allowed data roots" in errors(folder_train="/etc")["folder_train"][0]
    assert "outside" in errors(folder_train=f"{data_root}/../outside")["folder_train"][0]
    assert "outside" in errors(folder_train=str(data_root / "escape"))["folder_train"][0]
    assert "does not exist" in errors(folder_train=str(data_root / "nope"))["folder_train"][0]
    bad = errors(folder_train=str(mnist_tree), resize_mode="stretch", resize_width="abc",
                 resize_channels="2", encoding="gif", folder_pct_val="80", folder_pct_test="30",
                 dataset_name="")
    assert set(bad) >= {"resize_mode", "resize_width", "resize_channels", "encoding",
                        "folder_pct_val", "dataset_name"}
    assert "squash" in bad["resize_mode"][0]
    lists = {"textfile_labels_file": ("labels.txt", "a\nb\n"),
             "textfile_train_images": ("train.txt", "x/1.png 0\nthis line has no label\n")}
    err = errors(lists, method="textfile", textfile_use_val="",
                 textfile_train_folder=str(data_root))["textfile_train_images"][0]
    assert err.startswith("train list line 2:") and "expected 'path label'" in err
    lists["textfile_train_images"] = ("train.txt", "x/1.png 0\nx/2.png 5\n")
    err = errors(lists, method="textfile", textfile_use_val="", textfile_train_folder=str(data_root))
    assert "line 2: label 5 is out of range" in err["textfile_train_images"][0]
    lists["textfile_train_images"] = ("train.txt", "/etc/passwd 0\n")
    err = errors(lists, method="textfile", textfile_use_val="")
    assert "line 1: /etc/passwd is outside" in err["textfile_train_images"][0]
    assert "required" in errors(method="textfile", textfile_use_val="")["textfile_labels_file"][0]
    archive_err = errors({"folder_train_archive": ("x.rar", b"rar")})
    assert ".zip" in archive_err["folder_train_archive"][0]
    big = create(server, {"folder_train_archive": ("big.zip", b"0" * 6_000_000)}, dataset_name="x")
    assert big.status_code == 413 and big.json()["error"]["type"] == "PayloadTooLarge"
    anon = server.session.__class__()
    assert anon.post(server.url + URL, data={"dataset_name": "x"},
                     headers={"Accept": "application/json"}).status_code == 401
    # The server is fine and still serves.
    assert server.session.get(server.url + "/index.json").ok


def test_bad_trees_fail_the_job_with_a_clear_message(dataset_server, data_root, tmp_path):
    server = dataset_server
    (data_root / "flat").mkdir()
    photo(data_root / "flat" / "a.jpg", 1)
    (data_root / "one" / "only").mkdir(parents=True)
    for i in range(3):
        photo(data_root / "one" / "only" / f"{i}.jpg", i)
    (data_root / "sparse" / "a").mkdir(parents=True)
    (data_root / "sparse" / "b").mkdir(parents=True)
    photo(data_root / "sparse" / "a" / "1.jpg", 1)
    photo(data_root / "sparse" / "b" / "1.jpg", 2)
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tf:
        data = b"x"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    (data_root / "no-images" / "a").mkdir(parents=True)
    (data_root / "no-images" / "a" / "notes.txt").write_text("x")
    (data_root / "no-images" / "b").mkdir(parents=True)
    expectations = [  # what can be seen at once is a 400 on the field, before any job exists
        ({"folder_train": str(data_root / "flat")}, "has no sub-folders"),
        ({"folder_train": str(data_root / "one")}, "at least 2 classes are needed, each in its own sub-folder "
                                                   "with at least 2 images; only only has"),
        ({"folder_train": str(data_root / "sparse")}, "none has (too few in a: 1, b: 1: lower the minimum"),
        ({"folder_train": str(data_root / "no-images")}, "no images found in the class folders"),
    ]
    before = len(server.session.get(server.url + "/index.json").json()["datasets"])
    for fields, message in expectations:
        res = create(server, dataset_name="bad tree", **fields)
        assert res.status_code == 400 and message in res.json()["errors"]["folder_train"][0], res.text
    assert len(server.session.get(server.url + "/index.json").json()["datasets"]) == before
    res = create(server, dataset_name="sparse, minimum 1", folder_train=str(data_root / "sparse"),
                 folder_train_min_per_class=1, folder_pct_val=0)
    assert wait_done(server, res.json()["id"])["status"] == "Done"
    one_class = tmp_path / "one.zip"  # an archive is only seen by its job
    with zipfile.ZipFile(one_class, "w") as zf:
        for i in range(3):
            zf.write(data_root / "one" / "only" / f"{i}.jpg", f"only/{i}.jpg")
    with open(one_class, "rb") as f:
        res = create(server, {"folder_train_archive": ("one.zip", f)}, dataset_name="one class")
    status = wait_done(server, res.json()["id"])
    assert status["status"] == "Error" and "has no sub-folders" in status["error"], status
    with open(evil, "rb") as f:
        res = create(server, {"folder_train_archive": ("evil.tar.gz", f)}, dataset_name="evil")
    status = wait_done(server, res.json()["id"])
    assert status["status"] == "Error" and "outside the extraction folder" in status["error"]
    assert not (server.jobs_dir / "escaped.txt").exists()
    assert not (server.jobs_dir.parent / "escaped.txt").exists()


def test_resize_example(dataset_server):
    server = dataset_server
    res = server.session.post(server.url + "/datasets/images/resize-example",
                              data={"width": 100, "height": 100, "resize_mode": "fill", "channels": 1})
    assert res.ok and res.json()["image"].startswith("data:image/png;base64,")
    import base64
    img = Image.open(io.BytesIO(base64.b64decode(res.json()["image"].split(",", 1)[1])))
    assert img.size == (100, 100) and img.mode == "L"
    bad = server.session.post(server.url + "/datasets/images/resize-example",
                              data={"width": 0, "resize_mode": "x"})
    assert bad.status_code == 400 and {"width", "resize_mode"} <= set(bad.json()["errors"])


def test_delete_dataset_and_clone_form(dataset_server, mnist_tree):
    server = dataset_server
    res = create(server, dataset_name="to clone", folder_train=str(mnist_tree), resize_width=28,
                 resize_height=28, resize_mode="crop")
    job_id = res.json()["id"]
    wait_done(server, job_id)
    form = server.session.get(f"{server.url}/clone/{job_id}", headers={"Accept": "text/html"})
    assert form.ok and "to clone (clone)" in form.text and 'value="crop" selected' in form.text
    assert server.session.delete(f"{server.url}/datasets/{job_id}").ok
    assert not (server.jobs_dir / job_id).exists()
