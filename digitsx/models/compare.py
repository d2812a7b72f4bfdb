"""Comparing runs: ``/models/compare?job_id=A&job_id=B…`` (the page) and
``GET /models/compare.json?job_id=…`` (its data), for up to :data:`MAX_JOBS` jobs of any tasks.

For each job: its name, task, network, dataset, status, wall time; every metric's series (by
phase and name: ``"val/accuracy"``), each down-sampled on the server to at most
:data:`MAX_POINTS` points keeping every bucket's lowest and highest value (full resolution:
``/models/<id>/metrics.csv``); each metric's best value (the lowest for a loss, else the
highest) and its epoch, and its last value; the task's main metric. Across the jobs: the spec
fields that differ (flattened: ``solver.type``, ``lr.base_lr``, ``batch_size``…), which the
page shows as table columns and, when numeric, as a parallel-coordinates plot; and the metrics
every job shares (jobs of different tasks compare on those). Torch-free.
"""
from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, render_template, request

from .. import auth
from ..errors import BadRequest
from ..http import page, platform
from ..jobs import kinds
from ..jobs.summary import elapsed_seconds
from ..jobs.thin import keep_extremes
from ..schemas import NUMBER, OBJECT, STRING, answers, array, nullable, obj

bp = Blueprint("compare", __name__)
MAX_JOBS = 100
MAX_POINTS = 2000
SKIPPED = ("form.", "dataset.path", "resources.", "extra.")  # not settings a person compares
LONG = 120  # a longer value (a custom network's source) is shown by its length


def goal(name: str) -> str:
    """Which way a metric gets better: ``min`` for losses and errors, else ``max``."""
    lowered = name.lower()
    return "min" if "loss" in lowered or "error" in lowered else "max"


def downsample(points: list[list[float]], limit: int = MAX_POINTS) -> list[list[float]]:
    """At most ``limit`` points (``[epoch, step, t, value]``) of a series: the first and last,
    and in each bucket between them the lowest and the highest value, in order."""
    return keep_extremes(points, limit, lambda p: p[3])


def series(points: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """A job's metric points as one series per ``phase/name``: ``[epoch, step, t, value]``."""
    out: dict[str, list[list[float]]] = {}
    for p in points:
        for name, value in (p.get("values") or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            out.setdefault(f"{p['phase']}/{name}", []).append(
                [float(p["epoch"]), int(p.get("step") or 0), float(p.get("t") or 0), float(value)])
    return out


def summary(points: list[list[float]], way: str) -> dict[str, Any]:
    """A series' best value and its epoch, and its last value."""
    best = (min if way == "min" else max)(points, key=lambda p: p[3])
    return {"best": best[3], "best_epoch": best[0], "last": points[-1][3], "goal": way, "points": len(points)}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A spec as ``{"solver.type": "adam", "lr.base_lr": 0.01, …}``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}{key}."))
        return out
    key = prefix[:-1]
    if isinstance(value, list):
        value = json.dumps(value)
    if isinstance(value, str) and len(value) > LONG:
        value = f"({len(value)} characters)"
    return {key: value}


def differing(specs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The flattened spec fields whose values are not the same in every job (a field a job
    lacks counts as ``None``), each with the jobs' values in order."""
    flat = [flatten(s) for s in specs]
    keys = sorted({k for f in flat for k in f if not k.startswith(SKIPPED) and k not in SKIPPED})
    out = {}
    for key in keys:
        values = [f.get(key) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out[key] = values
    return out


def main_metric(kind_name: str) -> tuple[str, str] | None:
    """The task's main metric ``(series key, label)`` (its kind's ``main_metric``), if any."""
    try:
        found = kinds.get(kind_name).main_metric
    except Exception:  # noqa: BLE001 - an unknown kind has none
        return None
    return found


def describe(job, points: list[dict[str, Any]]) -> dict[str, Any]:
    """One job's part of the comparison."""
    spec = job.spec
    network = spec.get("network") if isinstance(spec.get("network"), dict) else {}
    dataset = spec.get("dataset") if isinstance(spec.get("dataset"), dict) else {}
    found = series(points)
    metrics = {key: summary(values, goal(key.split("/", 1)[1])) for key, values in found.items()}
    main = main_metric(job.kind)
    try:
        task = kinds.get(job.kind).title
    except Exception:  # noqa: BLE001
        task = job.kind
    dataset_job = platform().store.db.get(str(dataset.get("id") or "")) if dataset.get("id") else None
    return {
        "id": job.id, "name": job.name, "kind": job.kind, "task": task, "status": job.status,
        "network": network.get("name") or network.get("method"),
        "dataset": {"id": dataset.get("id"), "name": dataset_job.name if dataset_job else None},
        "wall_time": elapsed_seconds(job), "started": job.started, "url": f"/models/{job.id}",
        "main_metric": ({"key": main[0], "label": main[1], **metrics[main[0]]}
                        if main and main[0] in metrics else None),
        "metrics": metrics, "series": {key: downsample(values) for key, values in found.items()},
    }


def job_ids() -> list[str]:
    """The ``job_id`` arguments (repeated, or comma-separated), each once, in order."""
    ids: list[str] = []
    for raw in request.args.getlist("job_id"):
        for part in str(raw).split(","):
            part = part.strip()
            if part and part not in ids:
                ids.append(part)
    if not ids:
        raise BadRequest("compare: give the jobs to compare, ?job_id=A&job_id=B")
    ids = list(dict.fromkeys(i for job_id in ids for i in _trials_of(job_id)))
    if len(ids) > MAX_JOBS:
        raise BadRequest(f"compare: at most {MAX_JOBS} jobs at once, got {len(ids)}")
    return ids


def _trials_of(job_id: str) -> list[str]:
    """A study stands for its trials (those whose jobs exist); any other job for itself."""
    from ..search import STUDY

    job = platform().store.db.get(job_id)
    if job is None or job.kind != STUDY:
        return [job_id]
    return platform().studies.trial_job_ids(job)


def points_of(job_id: str) -> list[dict[str, Any]]:
    """Every metric point of a job, read a batch at a time with the other requests served
    between batches (a comparison of long jobs holds no request up)."""
    from ..extensions import STREAM_BATCH, give_turn

    points: list[dict[str, Any]] = []
    for batch in platform().store.metric_batches(job_id, batch=STREAM_BATCH):
        points += batch
        give_turn()
    return points


def comparison(ids: list[str]) -> dict[str, Any]:
    store = platform().store
    jobs = [store.get(i) for i in ids]  # NotFound (404) names a missing one
    described = [describe(job, points_of(job.id)) for job in jobs]
    shared = sorted(set.intersection(*(set(d["metrics"]) for d in described))) if described else []
    return {"jobs": described, "differing": differing([job.spec for job in jobs]), "shared_metrics": shared,
            "max_points": MAX_POINTS}


COMPARISON = obj(["jobs", "differing", "shared_metrics"], jobs=array(obj(
    ["id", "name", "task", "status", "metrics", "series"], id=STRING, name=STRING, kind=STRING, task=STRING,
    status=STRING, network=nullable("string"), dataset=OBJECT, wall_time=NUMBER,
    main_metric=nullable("object"), metrics=OBJECT, series=OBJECT)),
    differing=OBJECT, shared_metrics=array(STRING), max_points=NUMBER)


@bp.route("/models/compare.json")
@answers(COMPARISON)
def compare_json():
    """Up to 100 jobs side by side (``job_id`` repeated): each one's series (down-sampled to
    ``max_points`` keeping each bucket's extremes), its metrics' best value and epoch and last
    value, its main metric; the spec fields that differ; the metrics every job shares."""
    auth.require_login()
    return comparison(job_ids())


@bp.route("/models/compare/group")
@page
def compare_group():
    """*compare all* of a group: its models (up to 100), compared."""
    from flask import redirect
    from urllib.parse import urlencode

    from ..jobs import listing

    auth.require_login()
    group = str(request.args.get("group") or "")
    ids = listing.group_ids(platform().store.db, group, "model", MAX_JOBS)
    if not ids:
        raise BadRequest(f"group {group[:80]!r} has no models to compare")
    return redirect("/models/compare?" + urlencode([("job_id", i) for i in ids]))


@bp.route("/models/compare")
@page
def compare_page():
    """Overlaid curves, a sortable table with the differing settings, a parallel-coordinates
    plot; running jobs update live."""
    auth.require_login()
    ids = job_ids()
    for job_id in ids:
        platform().store.get(job_id)
    return render_template("models/compare.html", job_ids=ids)
