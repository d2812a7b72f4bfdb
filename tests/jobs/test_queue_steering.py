"""Steering the queue with a fake runner: priority, users taking turns, preemption."""
from __future__ import annotations

import pytest

from digitsx.errors import Conflict
from digitsx.jobs.status import Status
from tests.jobs.test_scheduler import FakeRunner, finish, world  # noqa: F401 - the fixture


class PreemptingRunner(FakeRunner):
    """Remembers the end each abort asked for, like the real runner's ``ending``."""

    def __init__(self):
        super().__init__()
        self.handles: dict[str, object] = {}
        self.endings: dict[str, tuple] = {}

    def start(self, job, reservation):
        super().start(job, reservation)
        self.handles[job.id] = job

    def abort(self, job_id, ending=None):
        self.endings[job_id] = ending
        return super().abort(job_id)


def test_users_take_turns_among_equal_priority(world):  # noqa: F811
    store, runner, make = world
    sched = make(gpus=(0,))
    first = store.create("unit.gpu", "running", {}, "alice").id
    sched.tick()
    study = [store.create("unit.gpu", f"trial {i}", {}, "alice").id for i in range(4)]
    bob = store.create("unit.gpu", "bob's one job", {}, "bob").id
    sched.tick()
    assert sched.waiting[bob]["position"] == 1  # not 5: alice has a job running already
    assert sched.waiting[study[0]]["position"] == 2
    finish(store, sched, first)
    assert sched.tick() == [bob]
    carol = store.create("unit.gpu", "carol's", {}, "carol").id
    finish(store, sched, bob)
    assert sched.tick() == [carol]  # carol has had no turn yet; alice has
    finish(store, sched, carol)
    assert sched.tick() == [study[0]]


def test_priority_orders_the_queue_and_can_be_changed(world):  # noqa: F811
    store, runner, make = world
    sched = make(gpus=(0,))
    store.create("unit.gpu", "running", {}, "alice")
    sched.tick()
    low = store.create("unit.gpu", "low", {"priority": "low"}, "alice").id
    normal = store.create("unit.gpu", "normal", {}, "alice").id
    high = store.create("unit.gpu", "high", {"priority": "high"}, "bob").id
    sched.tick()
    assert [sched.waiting[j]["position"] for j in (high, normal, low)] == [1, 2, 3]
    sched.set_priority(low, 1)
    sched.tick()
    assert sched.waiting[low]["position"] in (1, 2) and sched.waiting[normal]["position"] == 3
    with pytest.raises(Conflict):
        sched.set_priority(next(iter(runner.started)), 1)  # running: not in the queue


@pytest.fixture
def preempting(world):  # noqa: F811
    store, _, make = world
    runner = PreemptingRunner()
    sched = make(gpus=(0,))
    sched.runner = runner
    return store, runner, sched


def test_a_high_priority_job_preempts_a_preemptible_low_one(preempting):
    store, runner, sched = preempting
    trial = store.create("unit.gpu", "trial", {"priority": "low", "preemptible": True}, "alice").id
    sched.tick()
    urgent = store.create("unit.gpu", "urgent", {"priority": "high"}, "bob").id
    sched.tick()
    status, note = runner.endings[trial]
    assert status is Status.WAITING and "preempted by urgent" in note and "bob" in note
    sched.tick()
    assert runner.aborted == [trial]  # asked once, not at every tick
    store.set_status(trial, Status.WAITING, note)  # what the real runner records at its end
    runner.handles.pop(trial)
    sched.on_exit(trial)
    assert sched.tick() == [urgent]  # the trial waits behind it, and resumes after
    assert store.get(trial).status == "Waiting"
    finish(store, sched, urgent)
    assert sched.tick() == [trial]


def test_no_preemption_without_consent_or_a_lower_priority(preempting):
    store, runner, sched = preempting
    store.create("unit.gpu", "not preemptible", {"priority": "low"}, "alice")
    sched.tick()
    store.create("unit.gpu", "urgent", {"priority": "high"}, "bob")
    sched.tick()
    assert runner.aborted == []
    store2 = store
    finish(store2, sched, next(iter(runner.started)))
    sched.tick()  # urgent runs now (high)
    store.create("unit.gpu", "same level", {"priority": "high", "preemptible": True}, "carol")
    sched.tick()
    assert runner.aborted == []
