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


def test_one_archive_per_snapshot_every_format_capped_and_never_started_cross_site(make_app):
    """tar.gz, tgz, tar and zip of one snapshot are one export and one file; a GET from another
    site's page starts nothing; exports take a CPU slot, and the server's and each user's
    number of exports is capped (429)."""
    import io
    import tarfile
    import zipfile

    app = make_app(EXPORT_WAIT_SECONDS=0, EXPORT_LIMIT=2, EXPORT_USER_LIMIT=1)
    client = app.test_client()
    login(client)
    p = app.extensions["digitsx"]
    jobs = [run_job(app, client, kind="test.train", steps=1, delay=0.01, export_seconds=1.0) for _ in range(3)]
    first = jobs[0]["id"]
    for name, headers in (("cross-site", {"Sec-Fetch-Site": "cross-site"}),
                          ("old browser", {"Referer": "http://evil.example/page"})):
        res = client.get(f"/models/{first}/download.tar.gz", headers={"Accept": "application/json", **headers})
        assert res.status_code == 403, name
    assert not p.exports.running
    for ext in ("tar.gz", "tgz", "tar", "zip"):
        res = client.get(f"/models/{first}/download.{ext}", headers={"Sec-Fetch-Site": "same-origin"})
        assert res.status_code == 202, (ext, res.data)
    assert len(p.exports.running) == 1  # four formats, one export
    res = client.get(f"/models/{jobs[1]['id']}/download.zip")
    assert res.status_code == 429 and "per user" in res.get_json()["error"]["message"]
    other = app.test_client()
    login(other, "bob")
    assert other.get(f"/models/{jobs[1]['id']}/download.zip").status_code == 202
    carol = app.test_client()
    login(carol, "carol")
    res = carol.get(f"/models/{jobs[2]['id']}/download.zip")
    assert res.status_code == 429 and "on this server" in res.get_json()["error"]["message"]
    assert any(h.startswith("export:") for h in p.pool.holders)  # a CPU slot, as jobs hold them
    wait_for(lambda: client.get(f"/models/{first}/export.json").get_json()["status"] == "ready", 20, 0.1)
    downloads = p.store.job_dir(first) / "downloads"
    wait_for(lambda: not [h for h in p.pool.holders if h.startswith("export:")] or
             len(p.exports.running) < 2, 20, 0.1)
    names = {}
    for ext in ("tar.gz", "tgz", "tar", "zip"):
        res = client.get(f"/models/{first}/download.{ext}")
        assert res.status_code == 200, ext
        disposition = res.headers["Content-Disposition"]
        assert f"{first}_epoch_" in disposition and disposition.endswith(f".{ext}"), disposition
        data = res.get_data()
        if ext == "zip":
            names[ext] = zipfile.ZipFile(io.BytesIO(data)).namelist()
            assert zipfile.ZipFile(io.BytesIO(data)).read("spec.json").startswith(b"{")
        else:
            names[ext] = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    assert all(n == ["spec.json"] for n in names.values()), names
    [archive] = downloads.iterdir()  # one file
    assert archive.name.endswith(".tar.gz")
