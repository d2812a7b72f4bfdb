"""After a kill -9 of the server, a snapshot past the last validation the server stored is not
resumed from: that validation's event died in the pipe, and resuming from the snapshot would
leave a hole in the job's curve (found by tests/search/test_study.py's kill -9 test)."""
from __future__ import annotations

from digitsx.jobs.status import Status


def test_snapshots_past_the_last_stored_validation_are_dropped_at_recovery(app):
    p = app.extensions["digitsx"]
    store = p.store
    job = store.create("test.train", "killed mid-epoch", {"val_interval": 1}, "alice")
    folder = store.job_dir(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    for e in range(1, 12):
        (folder / f"snapshot_epoch_{e}.pt").write_bytes(b"x")
        store.add_metric(job.id, "train", e, e * 10, {"loss": 1 / e})
        if e <= 10:  # the server stored validations 1..10; the 11th died in the pipe
            store.add_metric(job.id, "val", e, e * 10, {"loss": 1 / e, "accuracy": e})
    store.set_status(job.id, Status.RUNNING, "")
    assert job.id in p.scheduler.recover(grace=0.1)
    assert not (folder / "snapshot_epoch_11.pt").exists() and (folder / "snapshot_epoch_10.pt").exists()
    assert [s["epoch"] for s in store.get(job.id).result["snapshots"]][-1] == 10  # resumes from 10

    every_other = store.create("test.train", "validates every 2", {"val_interval": 2}, "alice")
    other = store.job_dir(every_other.id)
    other.mkdir(parents=True, exist_ok=True)
    for e in (9, 10, 11):
        (other / f"snapshot_epoch_{e}.pt").write_bytes(b"x")
    store.add_metric(every_other.id, "val", 10, 100, {"loss": 0.1})
    assert store.drop_unrecorded_snapshots(every_other.id) == []  # the next validation is at 12
    none_stored = store.create("test.train", "no validation", {"val_interval": 1}, "alice")
    (store.job_dir(none_stored.id)).mkdir(parents=True, exist_ok=True)
    (store.job_dir(none_stored.id) / "snapshot_epoch_3.pt").write_bytes(b"x")
    assert store.drop_unrecorded_snapshots(none_stored.id) == []
