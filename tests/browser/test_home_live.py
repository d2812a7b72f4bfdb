"""The home page and the job page update live (no reload) as jobs change state."""
from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import expect
import requests

from tests.conftest import PASSWORD_MODE, token_session, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server]
SHOTS = os.environ.get("DIGITSX_SCREENSHOTS")


def api(server, user="alice") -> requests.Session:
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    s.post(server.url + "/login", data={"username": user})
    return s


def login(page, server, user="alice", password=None):
    page.goto(server.url + "/login")
    page.fill("#username", user)
    if password is not None:
        page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")


def start(server_factory, page, mode: str, **env):
    """A server in ``mode``, the browser logged in as alice, and alice's REST session (a
    username login in open mode, an API token in password mode)."""
    if mode == "open":
        server = server_factory(**env)
        login(page, server)
        return server, api(server)
    server = server_factory(**PASSWORD_MODE, **env)
    s = token_session(server, "alice")
    login(page, server, "alice", "alice-password")
    return server, s


BOTH = pytest.mark.parametrize("mode", ["open", "password"])


@BOTH
def test_home_updates_live_when_jobs_change_state(server_factory, page, mode):
    server, s = start(server_factory, page, mode, DIGITSX_FAKE_GPUS="1")
    page.evaluate("window.__noReload = 'still here'")
    assert page.inner_text("#gpu-badge") == "1/1 GPUs available"

    job = s.post(server.url + "/test/jobs.json",
                 data={"kind": "test.train", "name": "live-model", "steps": 60, "delay": 0.05}).json()
    queued = s.post(server.url + "/test/jobs.json",
                    data={"kind": "test.train", "name": "queued-model", "steps": 1}).json()
    row = page.locator(f"#running-table tr[data-id='{job['id']}']")
    row.locator("text=Running").wait_for(timeout=15000)
    page.locator("#gpu-badge", has_text="0/1 GPUs available").wait_for(timeout=5000)
    page.locator("#gpu-table td.holder", has_text="live-model").wait_for(timeout=5000)
    page.locator(f"#running-table tr[data-id='{queued['id']}']",
                 has_text="Waiting for 1 free GPU").wait_for(timeout=5000)
    page.locator("#gpu-table td.queue", has_text="queued-model").wait_for(timeout=5000)
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "home-running.png"), full_page=True)

    # Done: it leaves the running table and shows in the Models tab, still without a reload.
    page.click("button[data-tab=models]")
    page.locator(f"#jobs-table tr[data-id='{job['id']}'] .status-done").wait_for(timeout=20000)
    page.locator(f"#jobs-table tr[data-id='{queued['id']}'] .status-done").wait_for(timeout=20000)
    assert page.locator(f"#running-table tr[data-id='{job['id']}']").count() == 0
    assert page.evaluate("window.__noReload") == "still here"
    assert page.js_errors == []


def test_filter_group_and_bulk_delete_from_the_home_page(server_factory, page):
    server = server_factory()
    login(page, server)
    s = api(server)
    ids = [s.post(server.url + "/test/jobs.json",
                  data={"name": f"dataset-{n}", "steps": 1, "group_name": "g1" if n < 2 else ""}
                  ).json()["id"] for n in range(3)]
    page.click("button[data-tab=datasets]")
    for job_id in ids:
        page.locator(f"#jobs-table tr[data-id='{job_id}'] .status-done").wait_for(timeout=15000)
    assert page.locator("#jobs-table tr.group-row", has_text="g1").count() == 1
    page.fill("#filter", "dataset-2")  # searched in the database: the page shows what it answers
    expect(page.locator("#jobs-table tbody tr[data-id]")).to_have_count(1)
    page.fill("#filter", "")
    expect(page.locator("#jobs-table tbody tr[data-id]")).to_have_count(3)
    page.locator(f"#jobs-table tr[data-id='{ids[0]}'] input.sel").check()
    page.locator(f"#jobs-table tr[data-id='{ids[1]}'] input.sel").check()
    page.click("#btn-delete")
    page.click("dialog.dx-dialog .dialog-ok")  # an in-page dialog, not the browser's confirm()
    page.locator(f"#jobs-table tr[data-id='{ids[0]}']").wait_for(state="detached", timeout=10000)
    page.locator(f"#jobs-table tr[data-id='{ids[1]}']").wait_for(state="detached", timeout=10000)
    assert page.locator(f"#jobs-table tr[data-id='{ids[2]}']").count() == 1
    assert s.get(f"{server.url}/jobs/{ids[0]}/status").status_code == 404


@BOTH
def test_job_page_follows_the_job_and_aborts_it(server_factory, page, mode):
    server, s = start(server_factory, page, mode, DIGITSX_TELEMETRY_HISTORY_INTERVAL="0.5")
    job = s.post(server.url + "/test/jobs.json",
                 data={"name": "watch-me", "steps": 100000, "delay": 0.05, "log_every": 20}).json()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if f"/jobs/{job['id']}.json" in r.url else None)
    page.goto(f"{server.url}/jobs/{job['id']}")
    page.locator("#job-status", has_text="Running").wait_for(timeout=15000)
    page.locator("#log", has_text="starting at step 0").wait_for(timeout=10000)
    # Log lines, progress and the clock arrive by push: no re-fetch, no poll, while it runs.
    before = len(fetched)
    step = s.get(f"{server.url}/jobs/{job['id']}.json").json()["progress"] * 100000
    later = int(step // 20 + 4) * 20
    page.locator("#log", has_text=f"at step {later}").wait_for(timeout=15000)
    page.wait_for_timeout(3500)
    assert len(fetched) == before, fetched
    page.locator("#job-process", has_text="pid").wait_for(timeout=10000)
    page.fill("#job-notes", "some notes")
    page.click("#btn-save")
    page.locator("#job-message", has_text="Saved").wait_for(timeout=5000)
    assert s.get(f"{server.url}/jobs/{job['id']}.json").json()["notes"] == "some notes"
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "job-running.png"), full_page=True)
    wait_for(lambda: len(s.get(f"{server.url}/jobs/{job['id']}.json").json()["telemetry"]) >= 2,
             15, what="two utilisation points")
    before = len(fetched)
    page.click("#btn-abort")
    page.locator("#job-status", has_text="Aborted").wait_for(timeout=15000)
    page.locator("#timeline td", has_text="aborted by user").wait_for(timeout=5000)
    page.locator("#btn-resume").wait_for(timeout=5000)
    assert len(fetched) == before  # the status push brought the whole page: no re-fetch
    # after the end, the run's utilisation stays on the page and in the job's JSON
    page.reload()
    page.locator("#utilization-card").wait_for(state="visible", timeout=5000)
    assert page.evaluate("window.dxUtilizationPoints") >= 2
    kept = s.get(f"{server.url}/jobs/{job['id']}.json").json()["telemetry"]
    assert len(kept) >= 2 and all(p["cpu"] is not None and p["rss"] > 0 for p in kept)
    # a job too short for a second point: its one sample in words, not an empty chart
    (server.jobs_dir / job["id"] / "telemetry.jsonl").write_text(json.dumps(
        {"t": 1.0, "cpu": 37.4, "rss": 300 * 2**20, "gpus": [{"index": 0, "util": 81}]}) + "\n")
    page.reload()
    page.locator("#utilization-one").wait_for(state="visible", timeout=5000)
    assert page.inner_text("#utilization-one") == \
        "One sample (the job ended before a second): CPU 37 %, GPU 0 81 %, memory 300 MiB."
    assert not page.locator("#utilization-box").is_visible()
    assert page.js_errors == []
