"""The home page's lists in a real browser: a page at a time from the server, sorted, searched,
filtered by status and tag, counted per tab; a job page's tags; live updates of the rows shown
without fetching the page again."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from digitsx.models import CLASSIFICATION
from tests.browser.test_home_live import api, login

pytestmark = [pytest.mark.browser, pytest.mark.server]


def populate(jobs_dir, n: int) -> list[str]:
    from digitsx import create_app
    from digitsx.jobs import listing
    from digitsx.jobs.status import Status

    app = create_app({"JOBS_DIR": str(jobs_dir), "DATABASE_URL": f"sqlite:///{jobs_dir / 'digitsx.db'}",
                      "TESTING": True, "SCHEDULER_AUTOSTART": False, "SECRET_KEY": "test", "PRESTART_WORKER": False})
    store = app.extensions["digitsx"].store
    ids = []
    try:
        for i in range(n):
            job = store.create(CLASSIFICATION, f"run {i:02d}", {"network": {"method": "standard", "name": "lenet"}}, "alice")
            store.merge_result(job.id, {"metric_summary": {"columns": {"accuracy (val)": {"last": i, "min": 0, "max": i}}}})
            if i % 10 == 0:
                store.update(job.id, tags=listing.tags_column(["tenth"]))
            store.set_status(job.id, Status.RUNNING)
            store.set_status(job.id, Status.DONE if i % 7 else Status.ERROR)
            ids.append(job.id)
    finally:
        app.extensions["digitsx"].stop()
    return ids


def test_pages_sort_search_filters_and_tags(server_factory, page, tmp_path):
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir(exist_ok=True)
    ids = populate(jobs_dir, 60)
    server = server_factory()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "/index.json" in r.url else None)
    login(page, server)
    page.click("button[data-tab=models]")
    rows = page.locator("#jobs-table tbody tr[data-id]")
    expect(rows).to_have_count(50)
    expect(page.locator("button[data-tab=models] .count")).to_have_text("(60)")
    expect(page.locator("#page-info")).to_have_text("page 1 of 2 · 60 jobs")
    assert all("per_page=" in u for u in fetched)  # never every job
    page.click("#page-next")
    expect(rows).to_have_count(10)
    page.click("#jobs-table th[data-sort=main_metric]")  # best first, over every page
    expect(rows.first).to_contain_text("run 59")
    page.select_option("#per-page", "25")
    expect(rows).to_have_count(25)
    page.fill("#filter", "run 4")
    expect(rows).to_have_count(10)  # 40..49
    page.fill("#filter", "")
    page.select_option("#status-filter", "Error")
    expect(rows).to_have_count(9)  # 0, 7, …, 56
    page.select_option("#status-filter", "")
    page.fill("#tag-filter", "tenth")
    expect(rows).to_have_count(6)
    expect(page.locator("#jobs-table .tag").first).to_have_text("tenth")
    page.goto(f"{server.url}/models/{ids[1]}")
    page.fill("#job-tags", "best, keep")
    page.click("#btn-save")
    page.locator("#job-message", has_text="Saved").wait_for(timeout=5000)
    assert api(server).get(f"{server.url}/jobs/{ids[1]}.json").json()["tags"] == ["best", "keep"]
    page.goto(server.url + "/")
    page.fill("#tag-filter", "best")
    expect(rows).to_have_count(1)
    # a live change of a row shown changes that row, without fetching the page again
    page.fill("#tag-filter", "")
    expect(rows).to_have_count(25)
    before = len(fetched)
    api(server).put(f"{server.url}/jobs/{ids[-1]}", data={"job_name": "renamed live"})
    expect(page.locator(f"#jobs-table tr[data-id='{ids[-1]}']")).to_contain_text("renamed live")
    page.wait_for_timeout(800)
    assert len(fetched) == before
    assert page.js_errors == []
