"""A snapshot's first download is built off the request: 202 with the export's step while it
runs, the file once it exists (the same GET), a failed export answered once with its reason."""
from __future__ import annotations

from tests.conftest import login, run_job, wait_for


def test_a_first_download_answers_202_then_the_file(make_app):
    app = make_app(EXPORT_WAIT_SECONDS=0)
    client = app.test_client()
    login(client)
    job = run_job(app, client, kind="test.train", steps=2, delay=0.01, export_seconds=1.5)
    url = f"/models/{job['id']}/download.tar.gz"
    first = client.get(url, headers={"Accept": "application/json"})
    assert first.status_code == 202 and first.headers["Retry-After"] == "2", first.data
    body = first.get_json()
    assert body["status"] == "preparing" and body["status_url"].startswith(f"/models/{job['id']}/export.json")
    joined = client.get(url)  # a second request joins the export running, it starts no other
    assert joined.status_code == 202 and len(app.extensions["digitsx"].exports.running) == 1
    steps = []

    def ready():
        status = client.get(body["status_url"]).get_json()
        steps.append(status.get("step"))
        return status["status"] == "ready" and status

    assert wait_for(ready, 20, 0.1, "the export")["size"] > 0
    assert "a stand-in step" in steps
    res = client.get(url)
    assert res.status_code == 200 and res.headers["Content-Type"] == "application/gzip"
    assert f"{job['id']}_epoch_2.tar.gz" in res.headers["Content-Disposition"]
    downloads = app.extensions["digitsx"].store.job_dir(job["id"]) / "downloads"
    wait_for(lambda: not list(downloads.glob("*.progress")), 10, what="the progress file to go")

    failing = run_job(app, client, kind="test.train", steps=1, delay=0.01, export_seconds=0, export_fails=1)
    status_url = f"/models/{failing['id']}/export.json?format=zip"
    assert client.get(status_url).get_json()["status"] == "absent"
    started = client.post(status_url, headers={"Accept": "application/json", "X-Requested-With": "x"})
    assert started.status_code == 200 and started.get_json()["status"] in ("preparing", "error")
    answer = wait_for(lambda: (r := client.get(status_url)).status_code == 400 and r, 20, 0.1, "the failure")
    assert "the stand-in export fails on purpose" in answer.get_json()["error"]["message"]
    assert client.get(status_url).get_json()["status"] == "absent"  # answered once; the next try starts anew
