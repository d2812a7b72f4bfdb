"""Steering the queue on a real one-slot server with two users: users take turns, a high
priority job preempts a preemptible low one, which resumes from its snapshot."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import wait_for
from tests.datasets.conftest import data_root, dataset_server, mnist_tree  # noqa: F401
from tests.models.conftest import mnist_dataset  # noqa: F401
from tests.models.test_training_api import metrics, train, wait_status

pytestmark = pytest.mark.server


def session_of(server, user):
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    assert s.post(server.url + "/login", data={"username": user}).ok
    return s


def status(server, job_id):
    return server.session.get(f"{server.url}/models/{job_id}/status").json()["status"]


def test_fair_share_and_preemption_on_a_one_slot_server(mnist_dataset):
    server, dataset = mnist_dataset
    alice, bob = server.session, session_of(server, "bob")
    long = train(server, dataset, model_name="alice long", train_epochs=200, learning_rate=0.01,
                 priority="low", preemptible="y")
    wait_for(lambda: 1 in server.session.get(f"{server.url}/models/{long['id']}.json").json()["snapshots"],
             120, 0.2, "a first snapshot")
    more = [train(server, dataset, model_name=f"alice {i}", train_epochs=1, priority="low") for i in range(2)]
    server.session = bob
    bobs = train(server, dataset, model_name="bob normal", train_epochs=1)
    urgent = train(server, dataset, model_name="bob urgent", train_epochs=2, priority="high")
    server.session = alice
    # the urgent job takes the slot: alice's long job snapshots, waits, and says why
    assert wait_status(server, urgent["id"], ("Running", "Done"), 60)
    info = alice.get(f"{server.url}/models/{long['id']}.json").json()
    wait_for(lambda: alice.get(f"{server.url}/models/{long['id']}.json").json()["status"] == "Waiting",
             30, 0.2, "the long job back in the queue")
    info = alice.get(f"{server.url}/models/{long['id']}.json").json()
    preempted = [h for h in info["status_history"] if h[0] == "Waiting" and "preempted by bob urgent" in h[2]]
    assert preempted and "bob" in preempted[0][2], info["status_history"]
    assert wait_status(server, urgent["id"])["status"] == "Done"
    # then bob's normal job before alice's low ones (higher priority), then alice's by age
    assert wait_status(server, bobs["id"])["status"] == "Done"
    assert [status(server, m["id"]) for m in more] == ["Waiting", "Waiting"]  # low: after bob's
    # the long job resumes from its snapshot: no epoch lost but the one it was in
    wait_for(lambda: status(server, long["id"]) == "Running" and
             len([p for p in metrics(server, long["id"]) if p["phase"] == "val"]) >= 3, 240, 0.5,
             "the long job resumed")
    assert alice.post(f"{server.url}/models/{long['id']}/abort").ok
    val = [p["epoch"] for p in metrics(server, long["id"]) if p["phase"] == "val"]
    assert val == list(range(1, len(val) + 1))
    history = [h[0] for h in alice.get(f"{server.url}/models/{long['id']}.json").json()["status_history"]]
    assert history.count("Running") == 2
    for m in more:  # then alice's short ones
        assert wait_status(server, m["id"])["status"] == "Done"


def test_moving_a_waiting_job(mnist_dataset):
    server, dataset = mnist_dataset
    first = train(server, dataset, model_name="first", train_epochs=30, learning_rate=0.01)
    wait_for(lambda: status(server, first["id"]) == "Running", 60, 0.2, "the first job running")
    a = train(server, dataset, model_name="a", train_epochs=1)
    b = train(server, dataset, model_name="b", train_epochs=1)
    place = lambda j: (server.session.get(f"{server.url}/models/{j}.json").json()["waiting"] or {}).get("position")  # noqa: E731
    wait_for(lambda: place(b["id"]) == 2, 10, 0.2, "b second")
    res = server.session.post(f"{server.url}/jobs/{b['id']}/priority", data={"move": "up"})
    assert res.ok and res.json()["priority"] == "high"
    wait_for(lambda: place(b["id"]) == 1 and place(a["id"]) == 2, 10, 0.2, "b first")
    bad = server.session.post(f"{server.url}/jobs/{b['id']}/priority", data={"priority": "urgent"})
    assert bad.status_code == 400 and "priority" in bad.json()["errors"]
    other = session_of(server, "mallory")
    assert other.post(f"{server.url}/jobs/{b['id']}/priority", data={"move": "up"}).status_code == 403
    done = server.session.post(f"{server.url}/jobs/{first['id']}/priority", data={"priority": "low"})
    assert done.status_code == 409
    server.session.post(f"{server.url}/models/{first['id']}/abort")
