"""A study's page in a real browser: the trials table fills in live over Socket.IO while the
study runs, sorts, marks the best; the best-so-far curve, the parallel coordinates, compare
these trials, and train the best longer."""
from __future__ import annotations

import json

import pytest

from tests.browser.test_home_live import login
from tests.datasets.conftest import data_root, dataset_server, mnist_tree  # noqa: F401
from tests.models.conftest import mnist_dataset  # noqa: F401
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_study_page_live(mnist_dataset, page):
    server, dataset = mnist_dataset
    res = server.session.post(server.url + "/models/images/classification.json", data={
        "model_name": "study ui", "dataset": dataset, "standard_networks": "lenet", "train_epochs": 2,
        "batch_size": 32, "lr_policy": "fixed", "random_seed": 3,
        "search_space": json.dumps({"learning_rate": {"log_uniform": [0.005, 0.2]},
                                    "solver_type": {"choice": ["SGD", "ADAM"]}}),
        "search_trials": 4, "search_parallel": 2, "search_pruner": "none"})
    assert res.status_code == 200, res.text
    study_id = res.json()["study_id"]
    login(page, server)
    page.goto(f"{server.url}/jobs/{study_id}")  # opened while it runs: the rows arrive live
    page.wait_for_function("document.querySelectorAll('#study-trials tbody tr[data-trial]').length === 4",
                           timeout=180_000)
    page.wait_for_function("document.getElementById('job-status').textContent === 'Done'", timeout=180_000)
    headers = page.locator("#study-trials th").all_inner_texts()
    assert headers[:3] == ["#", "learning_rate", "solver_type"] and "val accuracy" in headers
    best = json.loads(page.evaluate("JSON.stringify(document.querySelector('.best-row td').innerText)"))
    assert "★" in best
    page.click("#study-trials th[data-sort='value']")
    page.click("#study-trials th[data-sort='value']")  # descending: the best trial first
    assert "★" in page.locator("#study-trials tbody tr").first.inner_text()
    assert page.evaluate("Chart.getChart('study-best-chart').data.datasets[1].data.length") == 4
    assert page.locator("#study-parallel polyline").count() == 4
    assert page.locator("#study-best").inner_text().startswith("Best: trial")
    compare = server.session.get(server.url + page.get_attribute("#study-compare", "href")
                                 .replace("/compare?", "/compare.json?")).json()
    assert len(compare["jobs"]) == 4 and "solver.learning_rate" in compare["differing"]
    page.fill("#study-best-epochs", "3")
    page.click("#study-train-best")
    page.wait_for_url(f"{server.url}/models/*")
    made = server.session.get(page.url + ".json").json()
    assert made["spec"]["train_epochs"] == 3 and "best" in made["name"]
    assert page.js_errors == []
    wait_for(lambda: server.session.get(page.url + "/status").json()["status"] == "Done", 120, 0.5, "the clone")


def test_the_model_form_starts_a_study(mnist_dataset, page):
    server, dataset = mnist_dataset
    login(page, server)
    page.goto(server.url + "/models/images/classification/new")
    page.fill("#model_name", "form study")
    page.fill("#train_epochs", "1")
    page.fill("#search_space", '{"learning_rate": {"uniform": [0.1, 0.01]}}')
    page.click("#create")
    error = page.locator(".field-error[data-for='search_space']")
    error.filter(has_text="reversed").wait_for(timeout=10000)  # shown beside the field
    page.fill("#search_space", '{"learning_rate": {"choice": [0.01, 0.05]}}')
    page.select_option("#search_sampler", "grid")
    page.fill("#search_trials", "2")
    page.click("#create")
    page.wait_for_url(f"{server.url}/jobs/*")
    page.wait_for_function("document.querySelectorAll('#study-trials tbody tr[data-trial]').length === 2",
                           timeout=120_000)
    assert page.locator("#study-summary").inner_text().startswith("2 trials")
    assert page.js_errors == []


def test_moving_a_waiting_job_up_from_the_home_page(mnist_dataset, page):
    from tests.models.test_training_api import train

    server, dataset = mnist_dataset
    first = train(server, dataset, model_name="busy", train_epochs=50, learning_rate=0.01)
    wait_for(lambda: server.session.get(f"{server.url}/models/{first['id']}/status").json()["status"] == "Running",
             60, 0.2, "the first job running")
    a = train(server, dataset, model_name="a", train_epochs=1)
    b = train(server, dataset, model_name="b", train_epochs=1)
    login(page, server)
    row = page.locator(f"#running-table tr[data-id='{b['id']}']")
    row.locator("text=#2 in queue").wait_for(timeout=20000)
    row.locator("button[data-move=up]").click()
    row.locator("text=#1 in queue").wait_for(timeout=20000)  # pushed live after the tick
    page.locator(f"#running-table tr[data-id='{a['id']}']").locator("text=#2 in queue").wait_for(timeout=20000)
    assert row.locator("button[data-move=up]").is_disabled()  # high is the top
    assert page.js_errors == []
    server.session.post(f"{server.url}/models/{first['id']}/abort")
