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
    res = start_study(server, dataset, {"learning_rate": {"log_uniform": [0.001, 0.3]},
                                        "batch_size": {"choice": [16, 32]}},
                      search_trials=6, search_parallel=2, search_pruner="asha", train_epochs=3)
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
    assert states.count("complete") >= 1 and "running" not in states
    assert states.count("pruned") >= 1, states  # 3 epochs, rungs at 1 and 3: someone is stopped
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
