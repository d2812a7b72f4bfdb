"""Testing a model on many images through REST on a real server: the classify-many job (list
and archive), its report, CSV and top N; testing a dataset split; DIGITS's direct answer."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np
import pytest

from digitsx.classification.demo import write_mnist_folder
from tests.conftest import wait_for
from tests.models.test_training_api import train, wait_status

pytestmark = pytest.mark.server


def job_events(server, job_id):
    return server.session.get(f"{server.url}/jobs/{job_id}/events.json").json()["events"]


@pytest.fixture
def trained(mnist_dataset):
    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=3)
    assert wait_status(server, job["id"])["status"] == "Done"
    labels = server.session.get(f"{server.url}/files/{dataset}/labels.txt").text.splitlines()
    return server, dataset, job["id"], labels


def test_a_2000_image_list_runs_as_a_job_with_progress_and_a_correct_report(trained, data_root):
    server, _, model, labels = trained
    s, url = server.session, server.url
    digits = data_root / "digits2000"
    write_mnist_folder(digits, per_class=200)
    files = sorted(digits.rglob("*.png"))
    assert len(files) == 2000
    lines = [f"{p.parent.name}/{p.name} {labels.index(p.parent.name)}" for p in files]
    res = s.post(url + "/models/images/classification/classify_many.json",
                 data={"job_id": model, "image_folder": str(digits)},
                 files={"image_list": ("list.txt", "\n".join(lines))})
    assert res.status_code == 202, res.text
    job = res.json()
    assert job["status_url"] == f"/models/{job['job_id']}/status"
    status = wait_status(server, job["job_id"], timeout=300)
    assert status["status"] == "Done", status
    progress = [e for e in job_events(server, job["job_id"]) if e["event"] == "progress"]
    done = [e["done"] for e in progress]
    assert len(done) >= 10 and done == sorted(done) and done[-1] == 2000 and progress[-1]["total"] == 2000
    # Every image, in pages; the report's figures follow from the per-image answers.
    rows = []
    for page in range(2):
        body = s.get(f"{url}/models/{job['job_id']}/results.json", params={"page": page, "size": 1000}).json()
        assert body["total"] == 2000
        rows += body["rows"]
    report = body["report"]
    assert report["images"] == report["classified"] == report["labelled"] == 2000 and report["errors"] == 0
    confusion = np.zeros((10, 10), dtype=int)
    for row in rows:
        assert len(row["predictions"]) == 5 and row["label"] == row["path"].split("/")[-2]
        confusion[labels.index(row["label"]), labels.index(row["predictions"][0][0])] += 1
    assert confusion.tolist() == report["confusion"]
    top1 = 100 * np.trace(confusion) / 2000
    assert report["top1"] == pytest.approx(top1, abs=0.01) and report["top1"] > 60
    top5 = 100 * np.mean([row["label"] in [p[0] for p in row["predictions"]] for row in rows])
    assert report["top5"] == pytest.approx(top5, abs=0.01) and report["top5"] >= report["top1"]
    for c, entry in enumerate(report["per_class"]):
        assert entry["images"] == 200
        assert entry["top1"] == pytest.approx(100 * confusion[c, c] / 200, abs=0.01)
    # The batched job agrees with the warm worker's direct answer on the same images.
    first = lines[::20]
    direct = s.post(url + "/models/images/classification/classify_many.json",
                    data={"job_id": model, "image_folder": str(digits)},
                    files={"image_list": ("list.txt", "\n".join(first))}).json()
    by_path = {row["path"]: row["predictions"] for row in rows}
    for path, predictions in direct["classifications"].items():
        assert [p[0] for p in predictions][:1] == [p[0] for p in by_path[path]][:1]
        assert abs(predictions[0][1] - by_path[path][0][1]) < 0.02
    # A confusion cell lists its images, most confident first.
    wrong = [(i, j) for i in range(10) for j in range(10) if i != j and confusion[i, j]]
    i, j = max(wrong, key=lambda ij: confusion[ij])
    cell = s.get(f"{url}/models/{job['job_id']}/results.json", params={"true": i, "predicted": j}).json()
    assert cell["total"] == confusion[i, j]
    pcts = [row["predictions"][0][1] for row in cell["rows"]]
    assert pcts == sorted(pcts, reverse=True)
    assert all(row["label"] == labels[i] and row["predictions"][0][0] == labels[j] for row in cell["rows"])
    # CSV: one row per image, top-5 columns.
    table = list(csv.reader(io.StringIO(s.get(f"{url}/models/{job['job_id']}/results.csv").text)))
    assert table[0][:4] == ["path", "label", "top1", "top1_pct"] and len(table) == 2001
    # Top N per category: for each class, its N best-scored images in order.
    top = s.get(f"{url}/models/{job['job_id']}/top_n.json", params={"n": 4}).json()["top_n"]
    assert [c["label"] for c in top] == labels
    for c in top:
        assert len(c["images"]) == 4
        assert [im["pct"] for im in c["images"]] == sorted((im["pct"] for im in c["images"]), reverse=True)
    # The images behind the report are served (thumbnails too); the job lists under Tests.
    thumb = s.get(f"{url}{top[0]['images'][0]['image']}", params={"size": 16})
    assert thumb.ok and thumb.headers["Content-Type"] == "image/png"
    assert job["job_id"] in [j["id"] for j in s.get(url + "/completed_jobs.json").json()["tests"]]


def test_archive_of_images_with_a_corrupt_file_and_top_n(trained, mnist_tree, tmp_path):
    server, _, model, labels = trained
    s, url = server.session, server.url
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("one", "seven"):
            for p in sorted((mnist_tree / name).glob("*.png"))[:6]:
                z.write(p, f"photos/{name}/{p.name}")
        z.writestr("photos/seven/broken.png", b"not an image")
        z.write(next((mnist_tree / "two").glob("*.png")), "photos/loose.png")
    res = s.post(url + "/models/images/classification/top_n.json",
                 data={"job_id": model, "top_n": 3},
                 files={"image_archive": ("photos.zip", buf.getvalue())})
    assert res.status_code == 202, res.text
    job_id = res.json()["job_id"]
    assert wait_status(server, job_id, timeout=120)["status"] == "Done"
    report = s.get(f"{url}/models/{job_id}.json").json()["inference"]["report"]
    assert report["images"] == 14 and report["errors"] == 1 and report["labelled"] == 12
    broken = s.get(f"{url}/models/{job_id}/results.json", params={"errors": 1}).json()["rows"]
    assert len(broken) == 1 and broken[0]["path"].endswith("broken.png") and "not a readable image" in broken[0]["error"]
    unlabelled = [r for r in s.get(f"{url}/models/{job_id}/results.json").json()["rows"] if r["label"] is None]
    assert [r["path"].rsplit("/", 1)[1] for r in unlabelled] == ["loose.png"]
    top = s.get(f"{url}/models/{job_id}/top_n.json").json()
    assert top["n"] == 3 and all(len(c["images"]) == 3 for c in top["top_n"])
    assert all("broken" not in im["path"] for c in top["top_n"] for im in c["images"])
    page = s.get(f"{url}/models/{job_id}", headers={"Accept": "text/html"})
    assert page.ok and 'id="top-n"' in page.text
    # The unpacked archive is gone once the job ends; the report's images are its thumbnails.
    folder = server.jobs_dir / job_id
    assert not (folder / "scratch").exists() and not list(folder.rglob("*.png"))
    good = next(r for r in s.get(f"{url}/models/{job_id}/results.json").json()["rows"] if not r["error"])
    assert good["path"].startswith("photos/")
    thumb = s.get(url + good["image"])
    assert thumb.ok and thumb.headers["Content-Type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    assert s.get(url + good["image"], params={"size": 16}).headers["Content-Type"] == "image/png"
    assert s.get(url + broken[0]["image"]).status_code == 404
    # Bad input: not an archive, a label out of range, a path outside the data roots.
    bad = s.post(url + "/models/images/classification/classify_many.json", data={"job_id": model},
                 files={"image_archive": ("photos.rar", b"x")})
    assert bad.status_code == 400 and "image_archive" in bad.json()["errors"]
    bad = s.post(url + "/models/images/classification/classify_many.json", data={"job_id": model},
                 files={"image_list": ("l.txt", f"{mnist_tree}/one/x.png 12\n")})
    assert bad.status_code == 400 and "line 1: label 12" in bad.json()["errors"]["image_list"][0]
    bad = s.post(url + "/models/images/classification/top_n.json", data={"job_id": model, "top_n": 0},
                 files={"image_list": ("l.txt", f"{mnist_tree}/one/x.png\n")})
    assert bad.status_code == 400 and "top_n" in bad.json()["errors"]


def test_testing_the_validation_split_matches_training_validation(trained):
    server, dataset, model, labels = trained
    s, url = server.session, server.url
    res = s.post(f"{url}/models/{model}/test_split.json", data={"split": "val"})
    assert res.status_code == 202, res.text
    job_id = res.json()["job_id"]
    assert wait_status(server, job_id, timeout=120)["status"] == "Done"
    report = s.get(f"{url}/models/{job_id}.json").json()["inference"]["report"]
    validation = s.get(f"{url}/models/{model}.json").json()["result"]["validation"]
    assert report["labelled"] == sum(map(sum, validation["confusion"])) == 70
    assert report["confusion"] == validation["confusion"]
    assert report["top1"] == pytest.approx(validation["accuracy"], abs=0.01)
    row = s.get(f"{url}/models/{job_id}/results.json", params={"size": 1}).json()["rows"][0]
    assert row["image"] == f"/datasets/{dataset}/images/val/0" and s.get(url + row["image"]).ok
    none = s.post(f"{url}/models/{model}/test_split.json", data={"split": "test"})
    assert none.status_code == 400 and "no test images" in none.json()["errors"]["split"][0]
    # The model's tests go with it when it is deleted.
    assert s.delete(f"{url}/models/{model}").ok
    assert s.get(f"{url}/models/{job_id}/status").status_code == 404
