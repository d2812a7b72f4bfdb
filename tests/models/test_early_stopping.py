"""Early stopping and the best epoch through a real server: a job whose metric stalls ends Done
"stopped early"; its best epoch's snapshot is kept past keep_snapshots and is what inference,
test jobs and downloads use unless *last* (or an epoch) is asked for."""
from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.models.test_training_api import metrics, train, wait_status

pytestmark = pytest.mark.server


def test_a_stalled_metric_stops_the_job_early_and_the_best_snapshot_is_used(mnist_dataset, data_root):
    server, dataset = mnist_dataset
    # a learning rate too small to move: accuracy stays where it started, so epoch 1 stays best
    job = train(server, dataset, train_epochs=20, learning_rate=1e-9, keep_snapshots=1,
                early_stopping_patience=2)
    status = wait_status(server, job["id"])
    assert status["status"] == "Done"
    info = server.session.get(f"{server.url}/models/{job['id']}.json").json()
    note = info["status_history"][-1][2]
    assert note == "stopped early at epoch 3 (best: epoch 1)", note
    assert [p["epoch"] for p in metrics(server, job["id"]) if p["phase"] == "val"] == [1, 2, 3]
    assert info["snapshots"] == [1, 3]  # the best, kept past keep_snapshots=1, and the last
    assert info["result"]["best"]["epoch"] == 1 and info["result"]["best"]["metric"] == "accuracy"
    # a test job (classify many) uses the best snapshot by default, the last when asked
    folder = data_root / "mnist"
    one = sorted(folder.rglob("*.png"))[0]
    lines = f"{one.relative_to(folder)} 0"
    for asked, epoch in (("", 1.0), ("last", None), ("best", 1.0), ("3", 3.0)):  # None: the newest
        res = server.session.post(f"{server.url}/models/images/classification/classify_many.json",
                                  data={"job_id": job["id"], "image_folder": str(folder), "snapshot_epoch": asked,
                                        "background": "y"},
                                  files={"image_list": ("list.txt", lines)})
        assert res.status_code == 202, res.text
        spec = server.session.get(f"{server.url}/models/{res.json()['job_id']}.json").json()["spec"]
        assert spec["epoch"] == epoch, (asked, spec["epoch"])
    bad = server.session.post(f"{server.url}/models/images/classification/classify_many.json",
                              data={"job_id": job["id"], "image_folder": str(folder), "snapshot_epoch": "worst"},
                              files={"image_list": ("list.txt", lines)})
    assert bad.status_code == 400 and "best, last" in bad.text
    # the download's default is the best epoch too
    res = server.session.get(f"{server.url}/models/{job['id']}/export.json?format=tar")
    assert res.ok and res.json()["url"].endswith("epoch=1"), res.text
    res = server.session.get(f"{server.url}/models/{job['id']}/export.json?format=tar&epoch=last")
    assert res.json()["url"].endswith("epoch=3")
    wait_for(lambda: server.session.get(f"{server.url}/models/{job['id']}/export.json?format=tar&epoch=last")
             .json().get("state") in ("ready", None), 120, 0.5, "the exports")


def test_snapshots_stay_within_the_disk_budget_with_the_best_and_the_last(mnist_dataset):
    """keep_snapshots 0 (the default) keeps what snapshot_budget_mb allows: a LeNet snapshot
    (weights and momentum) is ~3.4 MB, so 5 MB keeps the last, plus the best when it differs."""
    server, dataset = mnist_dataset
    job = train(server, dataset, train_epochs=4, learning_rate=1e-9, snapshot_budget_mb=5)
    assert wait_status(server, job["id"])["status"] == "Done"
    info = server.session.get(f"{server.url}/models/{job['id']}.json").json()
    assert info["spec"]["snapshot_budget_mb"] == 5
    best = info["result"]["best"]["epoch"]
    assert info["snapshots"] == sorted({best, 4}), (best, info["snapshots"])
    files = sorted(p.name for p in (server.jobs_dir / job["id"]).glob("snapshot_epoch_*.pt"))
    assert len(files) == len(info["snapshots"])
    unlimited = train(server, dataset, train_epochs=3, learning_rate=1e-9, snapshot_budget_mb=0)
    assert wait_status(server, unlimited["id"])["status"] == "Done"
    assert server.session.get(f"{server.url}/models/{unlimited['id']}.json").json()["snapshots"] == [1, 2, 3]


def test_prune_to_budget_keeps_the_newest_and_the_protected(tmp_path):
    from digitsx.engine import checkpoint

    for e in range(1, 6):
        (tmp_path / f"snapshot_epoch_{e}.pt").write_bytes(b"x" * 1000)
    assert checkpoint.prune_to_budget(tmp_path, 10_000) is None  # all fit
    kept = checkpoint.prune_to_budget(tmp_path, 2500, protect=2)
    assert [k["epoch"] for k in kept] == [2, 5]
    kept = checkpoint.prune_to_budget(tmp_path, 10, protect=None)
    assert [k["epoch"] for k in kept] == [5]  # the newest stays, even over the budget
