"""Job lists for thousands of jobs: paged, filtered, sorted and counted in the database, tags,
and no list route reading a spec, a result or a status timeline (the queries are counted)."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from digitsx.models import CLASSIFICATION
from tests.conftest import login

JSON = {"Accept": "application/json"}


def make_jobs(app, n: int, start: int = 0) -> list:
    store = app.extensions["digitsx"].store
    out = []
    for i in range(start, start + n):
        job = store.create(CLASSIFICATION if i % 2 else "test.train", f"job-{i:03d}",
                           {"network": {"method": "standard", "name": "lenet" if i % 3 else "alexnet"}},
                           "alice" if i % 4 else "bob", group="sweep" if i < 4 else "", notes="needle" if i == 7 else "")
        if i % 2:
            store.merge_result(job.id, {"metric_summary": {"columns": {
                "accuracy (val)": {"last": i, "min": 0, "max": 50 + i}}}})
        out.append(job)
    return out


@contextlib.contextmanager
def statements(app):
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    engine = app.extensions["digitsx"].store.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_paging_filters_sorting_and_counts(app, client):
    login(client)
    jobs = make_jobs(app, 12)
    page = client.get("/index.json?per_page=5&page=2", headers=JSON).get_json()
    assert page["total"] == 12 and page["pages"] == 3 and len(page["jobs"]) == 5
    assert [j["name"] for j in page["jobs"]] == [f"job-{i:03d}" for i in (6, 5, 4, 3, 2)]  # newest first
    models = client.get("/index.json?category=model&sort=main_metric&order=desc&tabs=1", headers=JSON).get_json()
    assert [j["name"] for j in models["jobs"]][:2] == ["job-011", "job-009"]
    assert models["jobs"][0]["main_metric"] == 61 and models["jobs"][0]["network"] == "lenet"
    assert models["tabs"]["model"] == 12 and models["total"] == 12  # the fixture kind is a model too
    assert client.get("/index.json?q=NEEDLE", headers=JSON).get_json()["jobs"][0]["name"] == "job-007"
    assert client.get("/index.json?q=alexnet", headers=JSON).get_json()["total"] == 4  # 0, 3, 6, 9
    assert client.get("/index.json?q=alexnet&task=classification", headers=JSON).get_json()["total"] == 2
    assert client.get("/index.json?user=bob", headers=JSON).get_json()["total"] == 3
    assert client.get("/index.json?group=sweep", headers=JSON).get_json()["total"] == 4
    assert client.get("/index.json?task=classification", headers=JSON).get_json()["total"] == 6
    by_status = client.get("/index.json?status=Initialized", headers=JSON).get_json()
    assert by_status["counts"] == {"Initialized": 12} and by_status["total"] == 12
    assert client.get("/index.json?status=Done", headers=JSON).get_json()["total"] == 0
    names = [j["name"] for j in client.get("/index.json?sort=name&order=asc&per_page=3", headers=JSON).get_json()["jobs"]]
    assert names == ["job-000", "job-001", "job-002"]
    for bad in ("per_page=0", "per_page=501", "page=x", "sort=spec_json", "status=Nope", "order=up"):
        res = client.get(f"/index.json?{bad}", headers=JSON)
        assert res.status_code == 400, bad
    digits = client.get("/index.json", headers=JSON).get_json()  # DIGITS's answer: every job
    assert len(digits["models"]) == 12 and set(digits["models"][0]) == {"id", "name", "status"}
    assert jobs


def test_tags_set_added_removed_and_filtered(app, client):
    login(client, "bob")  # job-000's owner
    job = make_jobs(app, 1)[0]
    res = client.post(f"/jobs/{job.id}/tags", data={"tags": "baseline, augment ,baseline"}, headers=JSON)
    assert res.status_code == 200 and res.get_json()["tags"] == ["baseline", "augment"]
    res = client.post(f"/jobs/{job.id}/tags", json={"add": ["best"], "remove": "augment"}, headers=JSON)
    assert res.get_json()["tags"] == ["baseline", "best"]
    assert client.get("/index.json?tag=best", headers=JSON).get_json()["total"] == 1
    assert client.get("/index.json?tag=base", headers=JSON).get_json()["total"] == 0  # whole tags only
    assert client.post(f"/jobs/{job.id}/tags", data={"tags": "x" * 41}, headers=JSON).status_code == 400
    assert client.post(f"/jobs/{job.id}/tags", json={"tags": ["a\nb"]}, headers=JSON).status_code == 400
    other = app.test_client()
    login(other, "mallory")
    assert other.post(f"/jobs/{job.id}/tags", data={"tags": "mine"}, headers=JSON).status_code == 403


@pytest.mark.parametrize("url", ["/index.json?per_page=50", "/index.json?category=model&sort=main_metric&tabs=1",
                                 "/index.json", "/", "/system.json", "/completed_jobs.json"])
def test_no_list_route_reads_full_rows_and_its_queries_do_not_grow(app, client, url):
    """A list selects the columns it shows: never spec_json, result_json or the timeline, and
    the same number of queries for 4 jobs as for 40."""
    login(client)
    make_jobs(app, 4)
    headers = {"Accept": "text/html"} if url == "/" else JSON
    client.get(url, headers=headers)  # warm: the login's lookups
    with statements(app) as few:
        assert client.get(url, headers=headers).status_code == 200
    make_jobs(app, 36, start=4)
    client.get(url, headers=headers)  # counts kept until a job changes: both measured warm
    with statements(app) as many:
        assert client.get(url, headers=headers).status_code == 200
    assert len(many) == len(few), (few, many)
    for sql in many:
        assert "spec_json" not in sql and "result_json" not in sql and "status_changes" not in sql, sql


def test_rows_an_older_version_wrote_get_their_list_columns(app):
    from digitsx.db import Job
    from digitsx.jobs import listing

    store = app.extensions["digitsx"].store
    job = make_jobs(app, 2)[1]
    with store.db.session() as s:
        s.get(Job, job.id).summary_json = None
        s.get(Job, job.id).main_metric = None
    assert listing.backfill(store.db) == 1
    assert store.db.get(job.id).main_metric == 51


def test_a_status_poll_reads_no_spec_result_or_timeline(app, client):
    login(client)
    job = make_jobs(app, 2)[1]
    client.get(f"/jobs/{job.id}/status", headers=JSON)
    with statements(app) as seen:
        answer = client.get(f"/jobs/{job.id}/status", headers=JSON)
    assert answer.status_code == 200 and answer.get_json()["status"] == "Initialized"
    for sql in seen:
        assert "spec_json" not in sql and "result_json" not in sql and "status_changes" not in sql, sql
    assert client.get("/jobs/nope/status", headers=JSON).status_code == 404


def test_a_large_delete_gives_the_space_back(app, client):
    from digitsx.jobs.routes import VACUUM_AFTER

    login(client)
    db = app.extensions["digitsx"].store.db
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's autovacuum gives space back itself")
    jobs = make_jobs(app, VACUUM_AFTER)
    for job in jobs:
        db_job = app.extensions["digitsx"].store
        db_job.merge_result(job.id, {"padding": "x" * 4000})
    res = client.delete("/jobs", json={"job_ids": [j.id for j in jobs]}, headers=JSON)
    assert res.status_code == 200
    from tests.conftest import wait_for

    with db.engine.connect() as conn:
        wait_for(lambda: conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0, 10, 0.1,
                 "the freed pages to go back")


def test_kept_counts_follow_every_change(app, client):
    login(client)
    make_jobs(app, 3)
    first = client.get("/index.json?per_page=5&tabs=1", headers=JSON).get_json()
    assert first["counts"] == {"Initialized": 3}
    job = make_jobs(app, 1, start=3)[0]
    store = app.extensions["digitsx"].store
    from digitsx.jobs.status import Status

    store.set_status(job.id, Status.ABORTED)
    again = client.get("/index.json?per_page=5&tabs=1", headers=JSON).get_json()
    assert again["counts"] == {"Initialized": 3, "Aborted": 1} and sum(again["tabs"].values()) == 4
    store.delete(job.id)
    assert client.get("/index.json?per_page=5", headers=JSON).get_json()["counts"] == {"Initialized": 3}


def test_a_finished_jobs_row_is_made_once_and_follows_every_change(app, client, monkeypatch):
    """A finished job's list row is made once and kept (keyed by its list columns' values); a
    change to the job (its tags here) is a new row at once; a running job's row is made for each
    answer (its elapsed time moves on)."""
    from digitsx.jobs import listing
    from digitsx.jobs.status import Status

    login(client, "bob")  # job-000's owner
    done, running = make_jobs(app, 2)
    store = app.extensions["digitsx"].store
    for status in (Status.WAITING, Status.RUNNING, Status.DONE):
        store.set_status(done.id, status)
    for status in (Status.WAITING, Status.RUNNING):
        store.set_status(running.id, status)
    made: list[str] = []
    real = listing.fields
    monkeypatch.setattr(listing, "fields", lambda job, waiting=None: made.append(job.id) or real(job, waiting))

    def rows(sort: str) -> dict:  # each sort its own shared answer: the rows are made or reused
        return {j["id"]: j for j in client.get(f"/index.json?per_page=5&sort={sort}", headers=JSON).get_json()["jobs"]}

    first = rows("created")
    assert made.count(done.id) == 1 and made.count(running.id) == 1
    again = rows("name")
    assert made.count(done.id) == 1 and made.count(running.id) == 2  # the finished row was kept
    assert again[done.id] == first[done.id] and again[done.id]["status"] == "Done"
    assert client.post(f"/jobs/{done.id}/tags", data={"tags": "best"}, headers=JSON).status_code == 200
    assert rows("status")[done.id]["tags"] == ["best"] and made.count(done.id) == 2
