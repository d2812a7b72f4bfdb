"""Studies through a real server: trials are model jobs, the pruner stops some, the best is
kept; the 400s; abort; kill -9 of the server mid-study."""
from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.server

BASE = {"model_name": "search", "standard_networks": "lenet", "train_epochs": 4, "batch_size": 32,
        "learning_rate": 0.05, "lr_policy": "fixed", "random_seed": 7, "solver_type": "SGD"}


def start_study(server, dataset, space, **fields):
    data = {**BASE, "dataset": dataset, "search_space": json.dumps(space), **fields}
    return server.session.post(server.url + "/models/images/classification.json", data=data)


def study_json(server, study_id):
    return server.session.get(f"{server.url}/jobs/{study_id}.json").json()


def wait_study(server, study_id, timeout=400):
    return wait_for(lambda: (lambda j: j if j["status"] not in ("Running", "Initialized") else None)(
        study_json(server, study_id)), timeout, 0.5, f"study {study_id} to end")


@pytest.mark.slow
def test_a_study_of_six_trials_two_at_once_with_asha(mnist_dataset):
    server, dataset = mnist_dataset
    # A grid, in order: three trials at a rate LeNet learns from, then three at one it does not
    # (random rates could all learn alike and none be pruned, or diverge and none complete)
    res = start_study(server, dataset, {"learning_rate": {"choice": [0.05, 0.000001]},
                                        "batch_size": {"choice": [16, 32, 64]}},
                      search_sampler="grid", search_trials=6, search_parallel=2, search_pruner="asha",
                      train_epochs=5)
    assert res.status_code == 200, res.text
    study_id = res.json()["study_id"]
    at_once = []

    def sample():
        trials = study_json(server, study_id)["study"]["trials"]
        at_once.append(sum(1 for t in trials if t["status"] == "Running"))
        return None
    done = wait_for(lambda: sample() or (lambda j: j if j["status"] == "Done" else None)(
        study_json(server, study_id)), 600, 1.0, "the study to finish")
    study = done["study"]
    assert len(study["trials"]) == 6 and max(at_once) <= 2
    states = [t["state"] for t in study["trials"]]
    why = [(t["state"], t.get("params"), server.session.get(f"{server.url}/jobs/{t['job_id']}/status").json().get("error"))
           for t in study["trials"] if t.get("job_id")]
    assert states.count("complete") >= 1 and "running" not in states, why
    # 5 epochs, rungs at 1 and 3: a trial that is not the best at epoch 1 among the first three
    # to get there is stopped — every trial that cannot learn
    assert states.count("pruned") >= 3, why
    assert all(t["state"] == "pruned" for t in study["trials"] if t["params"]["learning_rate"] < 0.001), why
    for t in study["trials"]:
        assert set(t["params"]) == {"learning_rate", "batch_size"} and t["job_id"]
        job = server.session.get(f"{server.url}/models/{t['job_id']}.json").json()
        assert job["status"] == {"complete": "Done", "pruned": "Pruned", "fail": "Error"}[t["state"]]
        if t["state"] == "pruned":
            assert "pruned at epoch" in job["status_history"][-1][2]
    best = study["best"]
    assert best["value"] == max(t["value"] for t in study["trials"] if t["state"] == "complete")
    assert done["result"]["best"]["job_id"] == best["job_id"]
    assert "best: trial" in done["status_history"][-1][2]
    # train the best longer: a new model with the best trial's values
    res = server.session.post(f"{server.url}/jobs/{study_id}/train_best.json", data={"train_epochs": 5})
    assert res.status_code == 200, res.text
    clone = server.session.get(f"{server.url}/models/{res.json()['id']}.json").json()
    assert clone["spec"]["train_epochs"] == 5
    assert clone["spec"]["solver"]["learning_rate"] == pytest.approx(best["params"]["learning_rate"], rel=1e-5)


def test_bad_searches_get_a_400_naming_the_field(mnist_dataset):
    server, dataset = mnist_dataset
    cases = [
        ({"learning_rate": {"uniform": [0.1, 0.01]}}, {}, "search_space.learning_rate", "reversed"),
        ({"learning_rate": {"uniform": [0.1, 0.1]}}, {}, "search_space.learning_rate", "empty"),
        ({"learning_rate": {"log_uniform": [0, 0.1]}}, {}, "search_space.learning_rate", "above 0"),
        ({"no_such_field": {"choice": [1]}}, {}, "search_space.no_such_field", "unknown field"),
        ({"solver_type": {"choice": ["SGD", "LBFGS"]}}, {}, "search_space.solver_type", "LBFGS"),
        ({"batch_size": {"choice": [16, 0]}}, {}, "search_space.batch_size", "between"),
        ({"learning_rate": {"uniform": [0.01, 0.1]}}, {"search_trials": 101}, "search_trials", "MAX_SWEEP"),
        ({"learning_rate": {"uniform": [0.01, 0.1]}}, {"search_sampler": "grid"}, "search_sampler", "grid"),
        ({"dataset": {"choice": ["x"]}}, {}, "search_space.dataset", "cannot be searched"),
    ]
    for space, extra, field, words in cases:
        res = start_study(server, dataset, space, **extra)
        assert res.status_code == 400, (space, res.text)
        errors = res.json()["errors"]
        assert field in errors and words in " ".join(errors[field]), (field, errors)
    res = start_study(server, dataset, {}, search_space="{not json")
    assert res.status_code == 400 and "search_space" in res.json()["errors"]
    assert server.session.get(f"{server.url}/index.json?category=model").json()["total"] == 0


def _trials(server, study_id):
    return study_json(server, study_id)["study"]["trials"]


@pytest.mark.slow
def test_a_study_survives_kill9_of_the_server(mnist_dataset, server_factory, data_root):
    server, dataset = mnist_dataset
    res = start_study(server, dataset, {"learning_rate": {"choice": [0.01, 0.02, 0.03, 0.04]}},
                      search_trials=4, search_parallel=2, search_pruner="none", search_sampler="grid",
                      train_epochs=12)
    assert res.status_code == 200, res.text
    study_id = res.json()["study_id"]
    wait_for(lambda: any(t["epochs"] >= 2 for t in _trials(server, study_id)), 120, 0.3,
             "a trial past its second validation")
    before = {t["number"]: t["job_id"] for t in _trials(server, study_id)}
    server.kill9()
    second = server_factory(DIGITSX_DATA_ROOTS=str(data_root))
    second.session = server.session.__class__()
    second.session.headers["Accept"] = "application/json"
    second.session.post(second.url + "/login", data={"username": "alice"})
    done = wait_study(second, study_id, 600)
    assert done["status"] == "Done", done["status_history"]
    trials = done["study"]["trials"]
    assert len(trials) == 4 and {t["number"]: t["job_id"] for t in trials if t["number"] in before} == before
    assert sorted(t["params"]["learning_rate"] for t in trials) == [0.01, 0.02, 0.03, 0.04]  # none twice
    assert all(t["state"] == "complete" for t in trials), [(t["state"], t["status"], t["error"], t["epochs"]) for t in trials]
    ids = [t["job_id"] for t in trials]
    models = second.session.get(f"{second.url}/index.json?category=model&per_page=50").json()["jobs"]
    assert sorted(j["id"] for j in models if j["kind"] != "study") == sorted(ids)  # no job made twice
    interrupted = 0
    for job_id in ids:  # the interrupted trials went on from their snapshots
        job = second.session.get(f"{second.url}/models/{job_id}.json").json()
        history = [h[0] for h in job["status_history"]]
        cut = history.index("Interrupted") if "Interrupted" in history else None
        interrupted += cut is not None and "Running" in history[:cut]  # stopped mid-training
        assert history[-1] == "Done"
        val = [p["epoch"] for p in second.session.get(f"{second.url}/models/{job_id}/metrics.json")
               .json()["metrics"] if p["phase"] == "val"]
        assert val == list(range(1, 13))
    assert interrupted >= 1


def test_deleting_a_trial_then_aborting_the_study(mnist_dataset):
    server, dataset = mnist_dataset
    res = start_study(server, dataset, {"learning_rate": {"uniform": [0.01, 0.1]}},
                      search_trials=3, search_parallel=1, train_epochs=30)
    study_id = res.json()["study_id"]
    first = wait_for(lambda: next((t for t in _trials(server, study_id) if t["status"] == "Running"), None),
                     60, 0.3, "a running trial")
    assert server.session.delete(f"{server.url}/models/{first['job_id']}").ok  # the study goes on
    second = wait_for(lambda: next((t for t in _trials(server, study_id)
                                    if t["number"] == 1 and t["status"] == "Running"), None), 60, 0.3,
                      "the next trial running")
    gone = next(t for t in _trials(server, study_id) if t["number"] == 0)
    assert gone["state"] == "fail" and gone["status"] == "deleted"
    assert server.session.post(f"{server.url}/jobs/{study_id}/abort").ok
    done = wait_study(server, study_id, 60)
    assert done["status"] == "Aborted" and len(done["study"]["trials"]) == 2
    wait_for(lambda: server.session.get(f"{server.url}/models/{second['job_id']}/status").json()["status"]
             == "Aborted", 30, 0.2, "the trial aborted")
    # deleting the study leaves its trial (a model of its own)
    assert server.session.delete(f"{server.url}/jobs/{study_id}").ok
    assert server.session.get(f"{server.url}/models/{second['job_id']}.json").ok
