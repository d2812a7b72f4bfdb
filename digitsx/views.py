"""Home page, ``/index.json``, ``/completed_jobs.json``, the GPU state, files, OpenAPI
(login and accounts: :mod:`digitsx.auth.routes`)."""
from __future__ import annotations

import re

from pathlib import Path

from flask import Blueprint, current_app, render_template, send_file

from .api import openapi_document
from .errors import NotFound
from .http import platform, twin_route, wants_json
from .jobs import kinds
from .jobs.status import Status
from .schemas import answers

bp = Blueprint("main", __name__)



def _jobs_by_category() -> dict[str, list[dict]]:
    p = platform()
    out: dict[str, list[dict]] = {"running": [], "dataset": [], "model": [], "pretrained": [],
                                  "inference": [], "other": []}
    for job in p.store.db.jobs():
        summary = p.job_json(job)
        if Status(job.status).active:
            out["running"].append(summary)
        out.setdefault(summary["category"], []).append(summary)
    return out


@twin_route(bp, "/", endpoint="home")
def home():
    """Home: GPUs available, running jobs, datasets and models."""
    data = completed_jobs()
    if wants_json():
        return data
    return render_template("home.html", jobs=data, gpu=data["gpus"],
                           new_kinds=[k for k in kinds.all_kinds() if k.new_endpoint and k.new_label])


@bp.route("/index.json")
@answers("Index")
def index_json():
    """DIGITS's summary: ``{version, jobs_dir, datasets, models}``."""
    jobs = _jobs_by_category()
    brief = lambda js: [{"id": j["id"], "name": j["name"], "status": j["status"]} for j in js]
    return {"version": current_app.config["VERSION"], "jobs_dir": current_app.config["JOBS_DIR"],
            "datasets": brief(jobs["dataset"]), "models": brief(jobs["model"]),
            "pretrained_models": brief(jobs["pretrained"]), "tests": brief(jobs["inference"]),
            "other": brief(jobs["other"])}


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
    running = [j for j in p.store.db.jobs() if Status(j.status).active]
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
        "jobs": {"total": len(p.store.db.jobs()), "active": len(running)},
        "weights": weights_state(),
        "cluster": cluster_state(current_app.config),
    }
    if wants_json():
        return data
    return render_template("system.html", system=data)
