"""The runner with real worker processes (the fixture worker), driven through REST."""
from __future__ import annotations

import json
import time
import psutil

from tests.conftest import login, run_job, wait_for, wait_job


def test_job_runs_to_done_with_events_metrics_and_result(app, client):
    login(client)
    job = run_job(app, client, steps=5, delay=0.01, stray_print=1)
    assert job["status"] == "Done" and job["progress"] == 1.0
    store = app.extensions["digitsx"].store
    folder = store.job_dir(job["id"])
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    kinds_seen = [e["event"] for e in events]
    assert kinds_seen.count("progress") == 5 and kinds_seen.count("metric") == 5
    assert "snapshot" in kinds_seen and all(e["v"] == 1 for e in events)
    metrics = client.get(f"/jobs/{job['id']}/metrics.json").get_json()["metrics"]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5]
    assert metrics[-1]["values"]["loss"] == 0.2
    result = store.get(job["id"]).result
    assert result["total"] == 5 and result["snapshots"] == [{"epoch": 2, "file": "state.json"}]
    log = (folder / "log.txt").read_text()
    assert "a stray line that is not JSON" in log and "starting at step 0" in log
    assert "CUDA_VISIBLE_DEVICES=''" in log  # a CPU job sees no GPU


def test_worker_error_message_becomes_job_error(app, client):
    login(client)
    job = run_job(app, client, steps=5, fail=2)
    assert job["status"] == "Error"
    assert job["error"] == "FixtureError: failing on purpose at step 2"
    status = client.get(f"/jobs/{job['id']}/status").get_json()
    assert status["status"] == "Error" and "failing on purpose" in status["error"]


def test_crash_shows_exit_code_and_traceback_in_log(app, client):
    login(client)
    job = run_job(app, client, steps=5, crash=1, scratch=1)
    assert job["status"] == "Error" and "exited with code 1" in job["error"]
    folder = app.extensions["digitsx"].store.job_dir(job["id"])
    assert not (folder / "scratch").exists()  # a worker's throwaway space goes however it ends
    page = client.get(f"/jobs/{job['id']}.json").get_json()
    assert any("RuntimeError: crashing on purpose at step 1" in line for line in page["log"])


def test_abort_stops_the_whole_process_group(app, client):
    login(client)
    res = client.post("/test/jobs.json", data={"steps": 1000, "delay": 0.05, "children": 2})
    job_id = res.get_json()["id"]
    platform = app.extensions["digitsx"]
    platform.scheduler.tick()
    store = platform.store
    kids = wait_for(lambda: store.get(job_id).result.get("children"), what="children")
    assert client.post(f"/jobs/{job_id}/abort", headers={"Accept": "application/json"}).status_code == 200
    job = wait_job(app, job_id, 15)
    assert job["status"] == "Aborted"
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                             for p in kids), 10, what="worker children to die")
    # The reservation goes back right after the final status (the watcher's last step).
    wait_for(lambda: platform.pool.holders == {}, 5, what="the reservation to be released")


def test_worker_ignoring_sigterm_is_killed_after_grace(app, client):
    login(client)
    res = client.post("/test/jobs.json", data={"steps": 1000, "delay": 0.05, "ignore_term": 1})
    job_id = res.get_json()["id"]
    platform = app.extensions["digitsx"]
    platform.scheduler.tick()
    wait_for(lambda: platform.store.get(job_id).progress > 0, what="progress")
    pid = platform.runner.pids()[job_id]
    client.post(f"/jobs/{job_id}/abort")
    time.sleep(0.3)
    assert psutil.Process(pid).status() != "zombie"  # SIGTERM alone did not stop it
    job = wait_job(app, job_id, 15)
    assert job["status"] == "Aborted"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_training_job_gets_its_gpus_in_cuda_visible_devices(make_app):
    app = make_app(FAKE_GPUS=2)
    client = app.test_client()
    login(client)
    job = run_job(app, client, kind="test.train", steps=2, gpu_ids="1")
    assert job["status"] == "Done" and job["gpus"] == [1]
    log = (app.extensions["digitsx"].store.job_dir(job["id"]) / "log.txt").read_text()
    assert "CUDA_VISIBLE_DEVICES='GPU-fake-1'" in log and "on cuda" in log


def test_resume_continues_from_where_it_stopped(app, client):
    login(client)
    res = client.post("/test/jobs.json", data={"steps": 40, "delay": 0.05})
    job_id = res.get_json()["id"]
    platform = app.extensions["digitsx"]
    platform.scheduler.tick()
    wait_for(lambda: platform.store.get(job_id).progress >= 0.2, what="some progress")
    client.post(f"/jobs/{job_id}/abort")
    assert wait_job(app, job_id)["status"] == "Aborted"
    res = client.post(f"/jobs/{job_id}/resume", headers={"Accept": "application/json"})
    assert res.status_code == 200 and res.get_json()["status"] == "Initialized"
    job = wait_job(app, job_id, 30, ("Done", "Error"))
    assert job["status"] == "Done"
    steps = [m["step"] for m in platform.store.metrics(job_id)]
    assert steps == sorted(steps) and steps[-1] == 40 and len(steps) == len(set(steps))
    statuses = [h[0] for h in job["status_history"]]
    assert statuses == ["Initialized", "Running", "Aborted", "Initialized", "Running", "Done"]


def test_a_full_disk_ends_the_job_in_error_never_running(app, client, monkeypatch):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    login(client)
    store = app.extensions["digitsx"].store
    full = OperationalError("INSERT INTO metrics", {}, sqlite3.OperationalError(
        "database or disk is full"))
    failures = {"metric": 1, "status": 2}
    real_metric, real_status = store.add_metric, store.set_status

    def add_metric(*a, **k):
        if failures["metric"]:
            failures["metric"] -= 1
            raise full
        return real_metric(*a, **k)

    def set_status(job_id, status, *a, **k):
        if status.value in ("Error", "Done") and failures["status"]:
            failures["status"] -= 1  # the disk is still full when the end is written
            raise full
        return real_status(job_id, status, *a, **k)

    monkeypatch.setattr(store, "add_metric", add_metric)
    monkeypatch.setattr(store, "set_status", set_status)
    job = run_job(app, client, steps=50, delay=0.02)
    assert job["status"] == "Error" and "disk is full" in job["error"], job
    assert failures == {"metric": 0, "status": 0}
    assert not app.extensions["digitsx"].runner.handles


def test_a_create_that_cannot_write_is_507(app, client, monkeypatch):
    import errno

    login(client)
    store = app.extensions["digitsx"].store

    def create(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "create", create)
    res = client.post("/test/jobs.json", data={"steps": 1}, headers={"Accept": "application/json"})
    assert res.status_code == 507
    assert "disk is full" in res.get_json()["error"]["message"]


def test_the_page_json_is_pushed_only_to_a_watched_job(app, client):
    """Status and result changes push the job page's whole JSON to its room, and only when
    someone is in it (building it reads the job's files)."""
    from digitsx.extensions import socketio

    login(client)
    platform = app.extensions["digitsx"]
    built = []
    page = platform.events.page
    platform.events.page = lambda job: built.append(job.id) or page(job)
    unwatched = run_job(app, client, steps=2, delay=0.01)
    assert built == []  # nobody on its page: nothing built

    watcher = socketio.test_client(app, namespace="/jobs", flask_test_client=client)
    res = client.post("/test/jobs.json", data={"steps": 2, "delay": 0.2})
    job_id = res.get_json()["id"]
    watcher.emit("join", {"room": job_id}, namespace="/jobs")
    wait_job(app, job_id)
    pages = [m["args"][0] for m in watcher.get_received("/jobs")
             if m["name"] == "task update" and m["args"][0]["update"] == "page"]
    assert pages and pages[-1]["job"]["status"] == "Done" and "log" in pages[-1]["job"]
    assert set(built) == {job_id} and unwatched["id"] not in built
    watcher.disconnect(namespace="/jobs")


def test_a_training_job_runs_in_the_prestarted_worker(make_app):
    """The worker started ahead (torch imported while idle) takes the next training job with
    that job's environment and log; a dataset job starts its own; a new one waits once idle."""
    app = make_app(PRESTART_WORKER=True)
    client = app.test_client()
    login(client)
    runner, store = app.extensions["digitsx"].runner, app.extensions["digitsx"].store
    try:
        runner.prestart_if_idle()
        first = runner.ready
        assert first is not None and first.poll() is None
        job = run_job(app, client, kind="test.prestart", steps=3, delay=0.01, timeout=60)
        assert job["status"] == "Done", job
        assert store.get(job["id"]).result["worker_pid"] == first.pid
        log = (store.job_dir(job["id"]) / "log.txt").read_text()
        assert "CUDA_VISIBLE_DEVICES=''" in log and "starting at step 0 of 3 on cpu" in log
        second = wait_for(lambda: runner.ready if runner.ready is not None and runner.ready.pid != first.pid
                          else None, 10, what="a new prestarted worker")
        counted = run_job(app, client, kind="test.count", steps=2, delay=0.01)
        assert store.get(counted["id"]).result["worker_pid"] != second.pid  # not a training job
        assert runner.ready is second and second.poll() is None
        failed = run_job(app, client, kind="test.prestart", steps=3, fail=1, timeout=60)
        assert failed["status"] == "Error" and "failing on purpose at step 1" in failed["error"]
        assert store.get(failed["id"]).result["worker_pid"] == second.pid
    finally:
        runner.close_prestarted()
    assert runner.ready is None and second.poll() is not None


def test_metric_summary_folds_last_min_max_and_a_loss_tail():
    from digitsx.jobs.summary import SPARK_POINTS, fold_metric, metric_summary

    summary = {}
    for i, loss in enumerate([2.0, 1.0, 1.5]):
        fold_metric(summary, "train", {"loss": loss, "accuracy": 10.0 * i, "note": "text"})
    fold_metric(summary, "val", {"loss": 0.9, "accuracy": float("nan")})
    assert summary["columns"]["loss (train)"] == {"last": 1.5, "min": 1.0, "max": 2.0}
    assert summary["columns"]["accuracy (train)"] == {"last": 20.0, "min": 0.0, "max": 20.0}
    assert "accuracy (val)" not in summary["columns"] and "note (train)" not in summary["columns"]
    assert summary["loss_tail"] == [2.0, 1.0, 1.5]
    for _ in range(100):
        fold_metric(summary, "train", {"loss": 0.5})
    assert len(summary["loss_tail"]) == SPARK_POINTS
    points = [{"phase": "train", "values": {"loss": 3.0}}, {"phase": "val", "values": {"loss": 2.0}}]
    assert metric_summary(points)["columns"] == {"loss (train)": {"last": 3.0, "min": 3.0, "max": 3.0},
                                                 "loss (val)": {"last": 2.0, "min": 2.0, "max": 2.0}}
