"""Home page, ``/index.json``, ``/completed_jobs.json``, the GPU state, files, OpenAPI
(login and accounts: :mod:`digitsx.auth.routes`)."""
from __future__ import annotations

import re
import time

from pathlib import Path

from flask import Blueprint, current_app, render_template, request, send_file

from .api import openapi_document
from .errors import NotFound, ValidationError
from .fields import TRUE, Field, Form, accepts
from .http import page, platform, twin_route, wants_json
from .jobs import kinds, listing
from .jobs.status import Status
from .schemas import answers, ref

bp = Blueprint("main", __name__)



def _jobs_by_category() -> dict[str, list[dict]]:
    """Every job's list row by home-page tab (DIGITS's ``completed_jobs``): list columns only,
    no timeline, no spec or result parsed."""
    p = platform()
    out: dict[str, list[dict]] = {"running": [], "dataset": [], "model": [], "pretrained": [],
                                  "inference": [], "other": []}
    waiting = p.scheduler.waiting
    query = listing.Query(sort="created", descending=False, per_page=10**9)
    rows, _, _ = listing.page(p.store.db, query)
    for job in rows:
        summary = listing.row(job, waiting.get(job.id))
        if Status(job.status).active:
            out["running"].append(summary)
        out.setdefault(summary["category"], []).append(summary)
    return out


@twin_route(bp, "/", endpoint="home")
def home():
    """Home: GPUs available, running jobs, and each tab's jobs a page at a time (the page
    asks ``/index.json?category=…&page=…``)."""
    if wants_json():
        return completed_jobs()
    p = platform()
    running = [listing.row(j, p.scheduler.waiting.get(j.id)) for j in listing.active(p.store.db)]
    return render_template("home.html", running=running, gpu=p.gpu_state(), any_jobs=p.store.db.count() > 0,
                           new_kinds=[k for k in kinds.all_kinds() if k.new_endpoint and k.new_label],
                           per_page=LIST_FORM.fields["per_page"].default)


LIST_FORM = Form("A page of jobs", {
    "page": Field("int", 1, 1, 10**6, help="the page, from 1"),
    "per_page": Field("int", 50, 1, listing.MAX_PER_PAGE, help="jobs a page"),
    "sort": Field("choice", "created", options=tuple(sorted(listing.SORTS))),
    "order": Field("choice", "desc", options=("asc", "desc")),
    "q": Field("text", help="words in the name, notes, network, dataset or id"),
    "status": Field("text", help="statuses, comma-separated (Done,Error)"),
    "category": Field("choice", "", options=("",) + listing.CATEGORIES, help="a home-page tab"),
    "task": Field("choice", "", options=("",) + tuple(sorted(listing.TASKS))),
    "user": Field("text", help="the owner"),
    "group": Field("text", help="the group name"),
    "tag": Field("text", help="a tag"),
    "tabs": Field("flag", "no", help="also count the jobs of each home-page tab (tabs)"),
})
PAGING = ("page", "per_page", "sort", "order", "q", "status", "category", "task", "user", "group", "tag", "tabs")


def list_query(values) -> listing.Query:
    """The list a request asks for; a 400 naming each field that is wrong."""
    r = LIST_FORM.reader(values)
    statuses = [x.strip() for x in r.text("status").split(",") if x.strip()]
    known = {s.value.lower(): s.value for s in Status}
    for x in statuses:
        if x.lower() not in known:
            r.error("status", f"{x!r} is not a status ({', '.join(known.values())})")
    query = listing.Query(
        q=r.text("q")[:200], status=[known[x.lower()] for x in statuses if x.lower() in known],
        category=r.choice("category") or "", task=r.choice("task") or "", user=r.text("user"),
        group=r.text("group") if "group" in values else None, tag=r.text("tag"),
        sort=r.choice("sort") or "created", descending=(r.choice("order") or "desc") == "desc",
        page=r.number("page") or 1, per_page=r.number("per_page") or 50)
    r.flag("tabs")
    if r.errors:
        raise ValidationError(r.errors)
    return query


def job_page(values) -> dict:
    """A page of jobs, filtered and sorted in the database: ``{jobs, page, per_page, total,
    pages, counts}`` (``counts``: the matching jobs in each status, whatever ``status`` says)."""
    p = platform()
    query = list_query(values)
    rows, total, counts = listing.page(p.store.db, query)
    out = {"version": current_app.config["VERSION"], "jobs": [listing.row(j, p.scheduler.waiting.get(j.id)) for j in rows],
           "page": query.page, "per_page": query.per_page, "total": total,
           "pages": max(1, -(-total // query.per_page)), "counts": counts}
    if str(values.get("tabs", "")).lower() in TRUE:
        out["tabs"] = listing.category_counts(p.store.db)
    return out


PAGE_TTL = 1.0  # seconds a page's answer is shared (the elapsed times of running jobs move on)


def _shared_page():
    """:func:`job_page` as JSON, shared by every request for the same page until a job row
    changes (the web process is the only writer: ``db.job_writes`` counts every change) or
    :data:`PAGE_TTL` passes: fifty viewers polling one page cost one listing a second. The
    answer does not depend on the caller (any logged-in caller sees every job's row)."""
    db = platform().store.db
    cache = db.__dict__.setdefault("shared_pages", {})
    key, now = request.query_string, time.monotonic()
    found = cache.get(key)
    if found is not None and found[0] == db.job_writes and now - found[1] < PAGE_TTL:
        body = found[2]
    else:
        writes = db.job_writes
        body = current_app.json.dumps(job_page(request.args), separators=(",", ":"))
        if len(cache) > 256:
            cache.clear()
        cache[key] = (writes, now, body)
    return current_app.response_class(body + "\n", mimetype="application/json")


@bp.route("/index.json")
@accepts(LIST_FORM)
@answers({"anyOf": [ref("Index"), ref("JobPage")]})
def index_json():
    """DIGITS's summary ``{version, jobs_dir, datasets, models}`` (every job: id, name, status);
    with any of ``page``, ``per_page``, ``sort``, ``order``, ``q``, ``status``, ``category``,
    ``task``, ``user``, ``group``, ``tag``: a page of jobs, filtered, sorted and counted in the
    database."""
    if any(k in request.args for k in PAGING):
        return _shared_page()
    out: dict[str, list] = {"dataset": [], "model": [], "pretrained": [], "inference": [], "other": []}
    categories = {k.name: k.category for k in kinds.all_kinds()}
    for job_id, name, status, kind in listing.briefs(platform().store.db):
        out.get(categories.get(kind, "other"), out["other"]).append({"id": job_id, "name": name, "status": status})
    return {"version": current_app.config["VERSION"], "jobs_dir": current_app.config["JOBS_DIR"],
            "datasets": out["dataset"], "models": out["model"], "pretrained_models": out["pretrained"],
            "tests": out["inference"], "other": out["other"]}


@bp.route("/completed_jobs.json")
@answers("CompletedJobs")
def completed_jobs():
    """``{running, datasets, models, pretrained_models, tests}``: every job, as the home page lists it."""
    jobs = _jobs_by_category()
    return {"running": jobs["running"],
            "datasets": [j for j in jobs["dataset"] if j not in jobs["running"]],
            "models": [j for j in jobs["model"] if j not in jobs["running"]],
            "pretrained_models": jobs["pretrained"],
            "tests": [j for j in jobs["inference"] if j not in jobs["running"]],
            "other": [j for j in jobs["other"] if j not in jobs["running"]],
            "gpus": platform().gpu_state()}


@twin_route(bp, "/gpus", endpoint="gpus")
def gpus():
    """The GPU panel: devices, who holds each, the queue behind it, the last telemetry."""
    p = platform()
    return {**p.gpu_state(), "telemetry": p.telemetry.last}


@bp.route("/files/<path:path>")
def files(path: str):
    """A file inside a job's folder (never the jobs folder's own files: database, secret key,
    the first admin password)."""
    if "\x00" in path:  # a NUL cannot name a file (resolve() would raise): just not found
        raise NotFound("No such file: a path may not contain a NUL byte")
    root = Path(current_app.config["JOBS_DIR"]).resolve()
    target = (root / path).resolve()
    inside = root in target.parents and target.parent != root
    parts = target.relative_to(root).parts if inside else ()
    # a worker's files not yet checked (a store import's private/, downloads in progress)
    private = len(parts) > 2 and parts[1] == "private" or re.search(r"\.part\d*$", target.name)
    if not inside or private or not target.is_file() or platform().store.db.get(parts[0]) is None:
        raise NotFound(f"No such file: {path}")
    return send_file(target)


@bp.route("/api/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of every JSON route."""
    return openapi_document(current_app)


def _versions() -> dict[str, str]:
    """Versions of the platform and what it stands on (read from the installed metadata: the
    web process never imports torch)."""
    import platform as host
    from importlib import metadata

    out = {"digitsx": current_app.config["VERSION"], "python": host.python_version()}
    for name in ("torch", "torchvision", "flask", "flask-socketio", "sqlalchemy", "gevent", "lmdb",
                 "pillow", "torchmetrics"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cluster_state(config) -> dict:
    from .jobs.views_cluster import cluster_state as state

    return state(config)


def weights_state() -> dict:
    from .models.weights_routes import state

    return state()


GUIDES = {"user-guide": "User guide", "troubleshooting": "Troubleshooting"}


@bp.route("/docs/<name>")
@page
def guide(name: str):
    """The user guide and the troubleshooting page (``digitsx/docs/*.md``), as HTML: Markdown
    rendered by markdown-it with raw HTML off (escaped), links checked by it. No login needed."""
    from markdown_it import MarkdownIt

    if name not in GUIDES:
        raise NotFound(f"No page {name!r}: the guides are {', '.join(GUIDES)}")
    text = (Path(__file__).parent / "docs" / f"{name}.md").read_text(encoding="utf-8")
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return render_template("guide.html", title=GUIDES[name], body=body, guides=GUIDES, name=name)


@twin_route(bp, "/system", endpoint="system")
def system():
    """The system page: versions, GPUs (memory, utilisation history, who holds each and its
    queue), the host's CPU and memory, the jobs folder's disk; and what digitsx is (About)."""
    import os

    import psutil

    p = platform()
    jobs_dir = current_app.config["JOBS_DIR"]
    disk = psutil.disk_usage(jobs_dir)
    memory = psutil.virtual_memory()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    active = p.store.db.count(*[s.value for s in Status if s.active])
    data = {
        "versions": _versions(),
        "gpus": {**p.gpu_state(), "telemetry": p.telemetry.last, "history": list(p.gpu_history)},
        "host": {"cpu_cores": cores, "cpu_percent": psutil.cpu_percent(interval=None),
                 "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                 "memory_total": memory.total, "memory_available": memory.available},
        "jobs_folder": {"path": jobs_dir, "disk_total": disk.total, "disk_free": disk.free,
                        "disk_used": disk.used},
        "database": p.store.db.engine.dialect.name,
        "auth": current_app.config.get("AUTH"),
        "jobs": {"total": p.store.db.count(), "active": active},
        "weights": weights_state(),
        "cluster": cluster_state(current_app.config),
    }
    if wants_json():
        return data
    return render_template("system.html", system=data)
