"""The scheduler with fake GPUs and a fake runner: what starts, what waits, in which order."""
from __future__ import annotations

import pytest

from digitsx.db import Database
from digitsx.jobs import kinds
from digitsx.jobs.resources import Request, ResourcePool
from digitsx.jobs.scheduler import Scheduler
from digitsx.jobs.store import JobStore
from tests.conftest import database_url

GPU = kinds.register(kinds.JobKind("unit.gpu", "model", "GPU job", "unused",
                                   lambda spec: Request(gpu_count=spec.get("n", 1),
                                                        gpu_ids=tuple(spec.get("ids", ())))))
CPU = kinds.register(kinds.JobKind("unit.cpu", "dataset", "CPU job", "unused",
                                   lambda spec: Request(cpu=1), resumable=True))


class FakeRunner:
    def __init__(self):
        self.started: dict[str, tuple] = {}
        self.aborted: list[str] = []
        self.fail_start = False

    def start(self, job, reservation):
        if self.fail_start:
            raise OSError("no such interpreter")
        self.started[job.id] = reservation.gpus

    def abort(self, job_id):
        self.aborted.append(job_id)
        return job_id in self.started


@pytest.fixture
def world(tmp_path):
    db = Database()
    db.init(database_url(tmp_path))
    notes = []
    store = JobStore(db, tmp_path, lambda job, update: notes.append((job.id, update)))
    runner = FakeRunner()

    def make(gpus=(0, 1), cpu_slots=2):
        return Scheduler(store, ResourcePool(tuple(gpus), cpu_slots), runner)

    return store, runner, make


def finish(store, sched, job_id, status="Done"):
    from digitsx.jobs.status import Status
    store.set_status(job_id, Status(status))
    sched.on_exit(job_id)


def test_never_two_jobs_on_one_gpu(world):
    store, runner, make = world
    sched = make(gpus=(0, 1))
    ids = [store.create("unit.gpu", f"j{i}", {}).id for i in range(3)]
    assert sched.tick() == ids[:2]
    assert sorted(runner.started.values()) == [(0,), (1,)]
    assert store.get(ids[2]).status == "Waiting"
    finish(store, sched, ids[0])
    assert sched.tick() == [ids[2]]
    assert runner.started[ids[2]] == runner.started[ids[0]]


def test_fifo_a_big_request_is_not_starved(world):
    store, runner, make = world
    sched = make(gpus=(0, 1))
    a = store.create("unit.gpu", "a", {"n": 1}).id
    sched.tick()
    big = store.create("unit.gpu", "big", {"n": 2}).id
    small = store.create("unit.gpu", "small", {"n": 1}).id
    assert sched.tick() == []  # GPU 1 is free but promised to "big", first in line
    assert sched.waiting[big]["position"] == 1 and sched.waiting[small]["position"] == 2
    finish(store, sched, a)
    assert sched.tick() == [big]
    assert runner.started[big] == (0, 1)


def test_specific_gpu_requests_and_queue_positions(world):
    store, runner, make = world
    sched = make(gpus=(0, 1))
    a = store.create("unit.gpu", "a", {"ids": [0]}).id
    b = store.create("unit.gpu", "b", {"ids": [0]}).id
    c = store.create("unit.gpu", "c", {"ids": [1]}).id
    assert sched.tick() == [a, c]
    assert runner.started[a] == (0,) and runner.started[c] == (1,)
    info = sched.waiting[b]
    assert info["reason"] == "Waiting for GPU 0" and info["position"] == 1
    panel = {p["index"]: p for p in sched.gpu_panel()}
    assert panel[0] == {"index": 0, "job_id": a, "queue": [b]}
    assert panel[1]["job_id"] == c and panel[1]["queue"] == []


def test_waiting_for_a_busy_gpu_does_not_block_other_gpus(world):
    store, runner, make = world
    sched = make(gpus=(0, 1))
    a = store.create("unit.gpu", "a", {"ids": [0]}).id
    sched.tick()
    b = store.create("unit.gpu", "b", {"ids": [0]}).id
    c = store.create("unit.gpu", "c", {"n": 1}).id
    assert sched.tick() == [c] and runner.started[c] == (1,)
    assert store.get(b).status == "Waiting"
    finish(store, sched, a)
    assert sched.tick() == [b]


def test_impossible_request_fails_clearly(world):
    store, runner, make = world
    sched = make(gpus=(0,))
    job = store.create("unit.gpu", "too big", {"n": 4})
    sched.tick()
    job = store.get(job.id)
    assert job.status == "Error" and "4 GPUs requested but this host has 1" in job.error


def test_dependency_waits_then_runs(world):
    store, runner, make = world
    sched = make()
    parent = store.create("unit.cpu", "dataset", {}).id
    child = store.create("unit.gpu", "model", {}, parent_id=parent).id
    assert sched.tick() == [parent]
    assert store.get(child).status == "Waiting"
    assert "Waiting for job dataset" in sched.waiting[child]["reason"]
    finish(store, sched, parent)
    assert sched.tick() == [child]


@pytest.mark.parametrize("ending", ["Error", "Aborted"])
def test_dependency_on_failed_parent_fails_clearly(world, ending):
    store, runner, make = world
    sched = make()
    parent = store.create("unit.cpu", "my dataset", {}).id
    child = store.create("unit.gpu", "model", {}, parent_id=parent).id
    sched.tick()
    store.set_status(parent, __import__("digitsx.jobs.status", fromlist=["Status"]).Status(ending),
                     error="disk full" if ending == "Error" else None)
    sched.on_exit(parent)
    sched.tick()
    job = store.get(child)
    assert job.status == "Error"
    assert f"Parent job my dataset ({parent}) ended with status {ending}" in job.error


def test_abort_queued_and_running_releases(world):
    store, runner, make = world
    sched = make(gpus=(0,))
    a = store.create("unit.gpu", "a", {}).id
    b = store.create("unit.gpu", "b", {}).id
    sched.tick()
    assert sched.abort(b).status == "Aborted"  # queued: aborted at once
    sched.abort(a)  # running: the runner is asked to stop it
    assert runner.aborted == [a]
    finish(store, sched, a, "Aborted")
    assert sched.pool.holders == {}
    c = store.create("unit.gpu", "c", {}).id
    assert sched.tick() == [c]


def test_abort_finished_job_is_a_conflict(world):
    from digitsx.errors import Conflict
    store, runner, make = world
    sched = make()
    a = store.create("unit.cpu", "a", {}).id
    sched.tick()
    finish(store, sched, a)
    with pytest.raises(Conflict, match="is not running"):
        sched.abort(a)


def test_cpu_slots_fifo(world):
    store, runner, make = world
    sched = make(gpus=(), cpu_slots=1)
    a, b, c = (store.create("unit.cpu", n, {}).id for n in "abc")
    assert sched.tick() == [a]
    assert sched.waiting[b]["position"] == 1 and sched.waiting[c]["position"] == 2
    finish(store, sched, a)
    assert sched.tick() == [b]


def test_no_gpu_host_runs_training_on_cpu_in_order(world):
    store, runner, make = world
    sched = make(gpus=())
    a = store.create("unit.gpu", "a", {}).id
    b = store.create("unit.gpu", "b", {}).id
    d = store.create("unit.cpu", "dataset", {}).id
    assert sched.tick() == [a, d]
    assert runner.started[a] == ()
    assert "no GPU" in sched.waiting[b]["reason"]
    finish(store, sched, a)
    assert sched.tick() == [b]


def test_start_failure_marks_error_and_releases(world):
    store, runner, make = world
    sched = make(gpus=(0,))
    runner.fail_start = True
    a = store.create("unit.gpu", "a", {}).id
    sched.tick()
    assert store.get(a).status == "Error" and "no such interpreter" in store.get(a).error
    assert sched.pool.holders == {}


def test_recovery_interrupts_running_and_queued(world):
    store, runner, make = world
    sched = make(gpus=(0,))
    a = store.create("unit.gpu", "a", {}).id
    b = store.create("unit.gpu", "b", {}).id
    done = store.create("unit.cpu", "done", {}).id
    sched.tick()
    finish(store, sched, done)
    fresh = make(gpus=(0,))  # a new server process on the same database
    assert sorted(fresh.recover(grace=0.1)) == sorted([a, b])
    for job_id in (a, b):
        job = store.get(job_id)
        assert job.status == "Interrupted" and "server restarted" in job.history[-1].note
    assert store.get(done).status == "Done"
    assert fresh.tick() == []  # never silently rerun


def test_resume(world):
    from digitsx.errors import Conflict
    store, runner, make = world
    sched = make()
    a = store.create("unit.cpu", "a", {}).id
    sched.tick()
    finish(store, sched, a, "Error")
    assert sched.resume(a).status == "Initialized"
    assert sched.tick() == [a]
    g = store.create("unit.gpu", "g", {}).id
    sched.tick()
    finish(store, sched, g, "Aborted")
    with pytest.raises(Conflict, match="cannot be resumed"):
        sched.resume(g)


def test_timeline_records_every_change(world):
    store, runner, make = world
    sched = make(gpus=(0,))
    a = store.create("unit.gpu", "a", {}).id
    b = store.create("unit.gpu", "b", {}).id
    sched.tick()
    finish(store, sched, a)
    sched.tick()
    assert [c.status for c in store.get(a).history] == ["Initialized", "Running", "Done"]
    assert [c.status for c in store.get(b).history] == ["Initialized", "Waiting", "Running"]
    stamps = [c.timestamp for c in store.get(b).history]
    assert stamps == sorted(stamps)


def test_a_bulk_action_waits_for_one_tick_at_its_end(world):
    import threading
    import time

    from tests.conftest import wait_for

    store, runner, make = world
    sched = make(gpus=(0,))
    sched.spawn = lambda fn: threading.Thread(target=fn, daemon=True).start()
    ticks: list[float] = []
    real = sched.tick
    sched.tick = lambda: ticks.append(time.time()) or real()
    sched.start()
    try:
        sched.wake()
        wait_for(lambda: ticks, 5, what="a first tick")
        with sched.batch():
            before = len(ticks)
            for _ in range(20):  # every abort in a bulk delete wakes the scheduler
                sched.wake()
                time.sleep(0.01)
            assert len(ticks) == before
        wait_for(lambda: len(ticks) > before, 3, what="the tick after the batch")
        time.sleep(0.1)
        assert len(ticks) == before + 1
    finally:
        sched.stop()


def test_abort_ends_a_job_whose_worker_is_gone(world):
    store, runner, make = world
    sched = make(gpus=(0,))
    job_id = store.create("unit.gpu", "orphan", {}).id
    assert sched.tick() == [job_id]
    runner.started.clear()  # its watcher died without recording the end
    runner.handles = {}
    assert sched.abort(job_id).status == "Aborted"
    assert sched.pool.free_gpus() == (0,) or list(sched.pool.free_gpus()) == [0]
