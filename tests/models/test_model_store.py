"""DIGITS's Model Store between two real servers: a model trained on one, made a pretrained
model and published in its store, is listed and imported by the other (whose user may not run
code: a standard network is rebuilt from our own source), fine-tuned there and served by
classify_one. Stores that are down, answer garbage, name files outside their folder, send a
file whose hash is not the one they give, or more bytes than they said: each a clear error,
the other stores still listed. Every store is on loopback."""
from __future__ import annotations

import json

import pytest

from tests.conftest import PASSWORD_MODE, Server, api_session, built_dataset, token_session, wait_for

from .weights_server import Mirror, sha256

pytestmark = pytest.mark.server


def wait_done(s, url: str, job_id: str, timeout: float = 180) -> dict:
    wait_for(lambda: s.get(f"{url}/models/{job_id}/status").json()["status"] in ("Done", "Error"),
             timeout, 0.3, f"job {job_id}")
    return s.get(f"{url}/jobs/{job_id}.json").json()


def static_store(folder):
    """A DIGITS store folder with a model whose info.json leaves its folder, one whose weights
    are not the file it names the hash of, and one larger than it says."""
    (folder / "evil").mkdir(parents=True)
    (folder / "evil" / "info.json").write_text(json.dumps({"name": "evil", "snapshot file": "../../etc/passwd",
                                                             "model file": "network.py"}))
    for name, data, info in (("tampered", b"x" * 1000, {"sha256": {"model.pt": "0" * 64}}),
                             ("liar", b"y" * 3_000_000, {"sizes": {"model.pt": 1000}})):
        (folder / name).mkdir()
        (folder / name / "model.pt").write_bytes(data)
        (folder / name / "network.py").write_text("x = 1\n")
        (folder / name / "labels.txt").write_text("a\nb\n")
        (folder / name / "info.json").write_text(json.dumps({
            "name": name, "framework": "torch", "network": "lenet", "image dimensions": [28, 28, 1],
            "snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt", **info}))
    (folder / "master.json").write_text(json.dumps({"msg": "a static store", "children": ["evil", "tampered", "liar"]}))


def test_publish_list_import_fine_tune_serve(server_factory, data_root, mnist_tree, tmp_path):
    first = server_factory(DIGITSX_DATA_ROOTS=str(data_root))
    a = api_session(first)
    dataset = built_dataset(a, first, mnist_tree)
    model = a.post(first.url + "/models/images/classification.json", data={
        "model_name": "digits", "dataset": dataset, "standard_networks": "lenet", "train_epochs": 1,
        "random_seed": 1}).json()["id"]
    assert wait_done(a, first.url, model)["status"] == "Done"
    made = a.post(f"{first.url}/models/{model}/to_pretrained", data={})
    assert made.ok, made.text
    pretrained = made.json()["id"]
    assert wait_done(a, first.url, pretrained)["status"] == "Done"
    assert a.get(f"{first.url}/store/{pretrained}/info.json").status_code == 404  # not published yet
    assert a.post(f"{first.url}/pretrained_models/{pretrained}/publish", data={"published": 1}).ok
    anonymous = __import__("requests").get(f"{first.url}/store/master.json").json()
    assert anonymous["children"] == [pretrained]

    stop = []
    static = tmp_path / "static"
    static_store(static)
    mirror = Mirror(static)
    try:
        (tmp_path / "jobs2").mkdir()
        second = Server(tmp_path / "jobs2", **PASSWORD_MODE, DIGITSX_DATA_ROOTS=str(data_root), DIGITSX_STORE_TIMEOUT="5",
                        DIGITSX_MODEL_STORES=f"{first.url}/store/,{mirror.url},http://127.0.0.1:9/").start()
        stop.append(second)
        b = token_session(second, "bob", can_run_code=False)
        stores = b.get(second.url + "/store/models.json").json()
        ours = stores[f"{first.url}/store/"]
        [listed] = ours["model_list"]
        assert listed["network"] == "lenet" and listed["classes"] == 10 and listed["input"] == [28, 28, 1]
        assert listed["standard"] and listed["size"] > 0 and "1 published" in ours["welcome_msg"]
        assert "did not answer" in stores["http://127.0.0.1:9/"]["error"]
        by_dir = {m["dir_name"]: m for m in stores[mirror.url + "/"]["model_list"]}
        assert "only a file inside the model's folder" in by_dir["evil"]["error"]
        page = b.get(second.url + "/store", headers={"Accept": "text/html"}).text
        assert "digits" in page and "did not answer" in page and "only a file inside" in page

        res = b.post(f"{second.url}/store/push?id={by_dir['evil']['id']}")
        assert res.status_code == 400 and "only a file inside" in res.json()["error"]["message"]
        for name, text in (("tampered", "is not the store's"), ("liar", "larger than")):
            job = b.post(f"{second.url}/store/push?id={by_dir[name]['id']}").json()["id"]
            done = wait_done(b, second.url, job, 60)
            assert "status" in done, done
            assert done["status"] == "Error" and text in done["error"], done["error"]
            assert not list((second.jobs_dir / job).glob("model.pt*"))

        imported = b.post(f"{second.url}/store/push?id={listed['id']}").json()["id"]
        done = wait_done(b, second.url, imported)
        assert done["status"] == "Done", done.get("error")
        folder = second.jobs_dir / imported
        assert sha256(folder / "model.pt") == sha256(first.jobs_dir / pretrained / "model.pt")
        assert "def build" in (folder / "network.py").read_text()
        # Fine-tuned on the second server by a user who may not run code, then served.
        data = built_dataset(b, second, mnist_tree)
        tuned = b.post(second.url + "/models/images/classification.json", data={
            "model_name": "tuned", "dataset": data, "method": "pretrained", "pretrained_networks": imported,
            "train_epochs": 1, "freeze_backbone_epochs": 1})
        assert tuned.ok, tuned.text
        tuned_job = wait_done(b, second.url, tuned.json()["id"])
        assert tuned_job["status"] == "Done", tuned_job.get("error")
        sample = str(next((mnist_tree / "two").glob("*.png")))
        answer = b.post(second.url + "/models/images/classification/classify_one.json",
                        data={"job_id": tuned_job["id"], "image_path": sample})
        assert answer.ok and len(answer.json()["predictions"]) == 5
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {}):  # a GET never starts an import
            refused = b.get(f"{second.url}/store/push?id={listed['id']}", headers=headers)
            assert refused.status_code == 405, refused.text
    finally:
        mirror.close()
        for server in stop:
            server.stop()
