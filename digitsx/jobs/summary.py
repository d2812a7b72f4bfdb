"""The JSON a client sees of a job (DIGITS's ``J`` plus ours), and the ETA rule."""
from __future__ import annotations

import time
from typing import Any

from ..db import Job
from . import kinds
from .status import Status


def eta_seconds(progress: float, started: float | None, now: float | None = None) -> float | None:
    """DIGITS's rule: ``(1 - progress) * elapsed / progress``; None before any progress."""
    if not started or progress <= 0 or progress >= 1:
        return None
    elapsed = (now or time.time()) - started
    return (1 - progress) * elapsed / progress


def elapsed_seconds(job: Job, now: float | None = None) -> float:
    """Seconds spent running (up to now for a running job)."""
    if not job.started:
        return 0.0
    end = job.finished if job.finished and job.status != Status.RUNNING.value else (now or time.time())
    return max(0.0, end - job.started)


def category(job: Job) -> str:
    """The home-page tab of a job (its kind's category; "other" for an unknown kind)."""
    try:
        return kinds.get(job.kind).category
    except Exception:
        return "other"


PRIORITY_NAMES = {-1: "low", 0: "normal", 1: "high"}


def fields(job: Any, waiting: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every JSON of a job shows, from its list columns (a job row, or a row of
    ``listing.COLUMNS``): ``J`` without its timeline and metrics."""
    try:
        kind = kinds.get(job.kind)
        title, prefix = kind.title, kind.url_prefix
    except Exception:
        title, prefix = job.kind, "/jobs"
    running = job.status == Status.RUNNING.value
    return {
        "id": job.id, "name": job.name, "group": job.group_name, "status": job.status,
        "submitted": job.created, "started": job.started, "finished": job.finished,
        "elapsed": elapsed_seconds(job), "progress": job.progress,
        "eta": eta_seconds(job.progress, job.started) if running else None,
        "type": title, "kind": job.kind, "category": category(job), "username": job.username,
        "notes": job.notes, "parent_id": job.parent_id, "error": job.error,
        "gpus": [int(g) for g in job.gpus.split(",") if g != ""],
        "url": f"{prefix}/{job.id}", "waiting": waiting,
        "tags": [t for t in (job.tags or "").split(",") if t], "network": job.network or None,
        "dataset": job.dataset or None, "main_metric": job.main_metric,
        "priority": PRIORITY_NAMES.get(getattr(job, "priority", 0) or 0, "normal"),
    }


def summarize(job: Job, waiting: dict[str, Any] | None = None) -> dict[str, Any]:
    """``J``: ``{id, name, group, status, submitted, elapsed, progress, type, username, ...}``
    with its status timeline and metric summary."""
    return {**fields(job, waiting), "status_history": [[c.status, c.timestamp, c.note] for c in job.history],
            "metrics": job.result.get("metric_summary")}


SPARK_POINTS = 40  # the train-loss points a running model's sparkline keeps


def fold_metric(summary: dict[str, Any], phase: str, values: dict[str, Any]) -> dict[str, Any]:
    """Fold one metric point into a job's summary: ``{"<name> (<phase>)": {last, min, max}}``
    for the home page's metric columns (DIGITS's "<metric> (train|val) last|min|max"), and
    ``loss_tail``, the last train losses, for its sparkline."""
    columns = summary.setdefault("columns", {})
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            continue
        entry = columns.get(f"{name} ({phase})")
        if entry is None:
            columns[f"{name} ({phase})"] = {"last": value, "min": value, "max": value}
        else:
            entry.update(last=value, min=min(entry["min"], value), max=max(entry["max"], value))
    if phase == "train" and isinstance(values.get("loss"), (int, float)):
        summary["loss_tail"] = (summary.get("loss_tail") or [])[-(SPARK_POINTS - 1):] + [values["loss"]]
    return summary


def metric_summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of a whole list of points (after a rewind drops some)."""
    summary: dict[str, Any] = {}
    for point in points:
        fold_metric(summary, point["phase"], point["values"])
    return summary
