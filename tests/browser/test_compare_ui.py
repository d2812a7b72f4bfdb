"""Comparing runs in a real browser: models of all three tasks overlaid (the metric they share),
the table sortable with the differing settings as columns, the CSV, the parallel-coordinates
plot; the home page's Compare button and a group's *compare all*."""
from __future__ import annotations

import csv
import io

import pytest

from digitsx.detection import MODEL as DETECTION
from digitsx.models import CLASSIFICATION
from digitsx.segmentation import MODEL as SEGMENTATION
from tests.browser.test_home_live import login
from tests.models.test_compare import model

pytestmark = [pytest.mark.browser, pytest.mark.server]


def populate(jobs_dir) -> list[str]:
    """Model jobs with their metrics in the server's database, written before it starts."""
    from digitsx import create_app

    app = create_app({"JOBS_DIR": str(jobs_dir), "DATABASE_URL": f"sqlite:///{jobs_dir / 'digitsx.db'}",
                      "TESTING": True, "SCHEDULER_AUTOSTART": False, "SECRET_KEY": "test",
                      "PRESTART_WORKER": False})
    store = app.extensions["digitsx"].store
    try:
        made = [model(store, CLASSIFICATION, "lenet lr 0.01", 6, 0.01, "accuracy", lambda e: 50 + 5 * e),
                model(store, CLASSIFICATION, "lenet lr 0.1", 6, 0.1, "accuracy", lambda e: 40 + 9 * e),
                model(store, DETECTION, "ssd", 4, 0.05, "map", lambda e: 0.1 * e),
                model(store, SEGMENTATION, "unet", 4, 0.2, "miou", lambda e: 0.2 * e)]
        for job in made[:2]:
            store.update(job.id, group_name="lenet sweep")
        return [j.id for j in made]
    finally:
        app.extensions["digitsx"].stop()


def test_compare_runs_of_three_tasks(server_factory, page, tmp_path):
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir(exist_ok=True)
    ids = populate(jobs_dir)
    server = server_factory()
    login(page, server)
    page.goto(server.url + "/models/compare?" + "&".join(f"job_id={i}" for i in ids))
    page.wait_for_function("(window.dxCompareDrawn || 0) >= 1")
    assert page.input_value("#cmp-metric") == "val/loss"  # the tasks share their losses
    assert page.evaluate("Chart.getChart('cmp-chart').data.datasets.length") == 4
    assert page.locator("#cmp-table tbody tr").count() == 4
    headers = page.locator("#cmp-table th").all_inner_texts()
    assert "lr.base_lr" in headers and "val/accuracy best" in headers
    page.click("#cmp-table th[data-sort='m:val/accuracy']")
    page.click("#cmp-table th[data-sort='m:val/accuracy']")  # descending: the best run first
    assert page.locator("#cmp-table tbody tr").first.inner_text().startswith(" lenet lr 0.1") or \
        "lenet lr 0.1" in page.locator("#cmp-table tbody tr").first.inner_text()
    page.select_option("#cmp-metric", "val/accuracy")
    assert page.evaluate("Chart.getChart('cmp-chart').data.datasets.filter(d => d.data.length).length") == 2
    page.check("#cmp-log")
    assert page.evaluate("Chart.getChart('cmp-chart').options.scales.y.type") == "logarithmic"
    page.select_option("#cmp-x", "step")
    assert page.evaluate("Chart.getChart('cmp-chart').data.datasets[0].data[0].x") == 10
    assert page.locator("#cmp-parallel .pc-line").count() == 4
    with page.expect_download() as got:
        page.click("#cmp-csv")
    rows = list(csv.reader(io.StringIO(open(got.value.path()).read())))
    assert rows[0][0] == "Run" and len(rows) == 5 and "lr.base_lr" in rows[0]
    page.goto(server.url + "/")
    page.click("button[data-tab=models]")
    page.locator(f"tr[data-id='{ids[0]}'] input.sel").check()
    page.locator(f"tr[data-id='{ids[2]}'] input.sel").check()
    page.click("#btn-compare")
    page.wait_for_url("**/models/compare?*")
    page.wait_for_function("(window.dxCompareDrawn || 0) >= 1")
    assert page.locator("#cmp-table tbody tr").count() == 2
    page.goto(server.url + "/")
    page.click("button[data-tab=models]")
    page.click("a.compare-group")
    page.wait_for_function("(window.dxCompareDrawn || 0) >= 1")
    assert page.locator("#cmp-table tbody tr").count() == 2
    assert page.js_errors == []


def test_running_jobs_update_live_without_refetching(server_factory, page, tmp_path):
    """A running job's points arrive over Socket.IO: its curve and table grow while
    compare.json was fetched once; when it ends, the page fetches the comparison once more."""
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir(exist_ok=True)
    finished = populate(jobs_dir)[0]
    server = server_factory()
    login(page, server)
    from tests.browser.test_home_live import api

    live = api(server).post(server.url + "/test/jobs.json",
                            data={"kind": "test.train", "name": "live run", "steps": 40, "delay": 0.2}).json()
    page.goto(server.url + f"/models/compare?job_id={finished}&job_id={live['id']}")
    page.wait_for_function("(window.dxCompareDrawn || 0) >= 1")
    page.select_option("#cmp-metric", "train/loss")
    page.wait_for_function("(window.dxComparePoints || 0) >= 3", timeout=20000)
    assert page.evaluate("window.dxCompareLoads") == 1
    assert "running: live" in page.inner_text("#cmp-status")
    page.wait_for_function("Chart.getChart('cmp-chart').data.datasets[1].data.length >= 3")
    page.wait_for_function("document.querySelector(`#cmp-table tr[data-id='%s']`).innerText.includes('Done')" % live["id"],
                           timeout=30000)
    page.wait_for_function("window.dxCompareLoads === 2")
    assert page.evaluate("Chart.getChart('cmp-chart').data.datasets[1].data.length") == 40
    assert page.inner_text("#cmp-status") == ""
    assert page.js_errors == []
