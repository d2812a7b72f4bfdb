"""Job lists that stay fast at any number of jobs: filtered, sorted, counted and paged in the
database, reading only the columns a list shows.

What a list shows of a job (its main metric, network, dataset, tags, metric columns) is kept on
its row when the job changes (:func:`refresh`: at creation, at each result merge; the web
process is the only writer), so no list reads a spec, a result or a status timeline, and no
request parses every job's JSON. :func:`row` is a list row: the job's JSON (DIGITS's ``J``)
without its timeline.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import load_only, raiseload

from ..db import Database, Job
from . import kinds
from .status import Status
from .summary import category, fields

# The columns a list reads (never spec_json, result_json or the timeline).
COLUMNS = (Job.id, Job.kind, Job.category, Job.name, Job.group_name, Job.username, Job.notes, Job.status,
           Job.progress, Job.parent_id, Job.error, Job.created, Job.started, Job.finished, Job.gpus,
           Job.tags, Job.network, Job.dataset, Job.main_metric, Job.summary_json, Job.priority)
SORTS = {"created": Job.created, "submitted": Job.created, "name": Job.name, "status": Job.status,
         "user": Job.username, "username": Job.username, "type": Job.kind, "kind": Job.kind,
         "main_metric": Job.main_metric, "network": Job.network, "dataset": Job.dataset,
         "group": Job.group_name}
CATEGORIES = ("dataset", "model", "pretrained", "inference", "other")
TASKS = {"classification": "classification", "detection": "object-detection",
         "object-detection": "object-detection", "segmentation": "segmentation"}
MAX_PER_PAGE = 500
MAX_TAGS, MAX_TAG = 20, 40


# -- what a row keeps ----------------------------------------------------------------------
def main_value(kind_name: str, metric_summary: dict[str, Any]) -> float | None:
    """The job's main metric (its kind's ``main_metric``), its best value so far."""
    try:
        main = kinds.get(kind_name).main_metric
    except Exception:  # noqa: BLE001 - an unknown kind has none
        return None
    if not main:
        return None
    phase, name = main[0].split("/", 1)
    column = ((metric_summary or {}).get("columns") or {}).get(f"{name} ({phase})")
    if not column:
        return None
    return column["min"] if "loss" in name or "error" in name else column["max"]


def kept(job: Job, dataset_name: str | None = None) -> dict[str, Any]:
    """The list columns of a job from its spec and result (one parse, when it changes)."""
    spec, result = job.spec, job.result
    network = spec.get("network") if isinstance(spec.get("network"), dict) else {}
    metric_summary = result.get("metric_summary") or {}
    out = {"category": category(job), "network": str(network.get("name") or network.get("method") or "")[:128],
           "main_metric": main_value(job.kind, metric_summary),
           "summary_json": json.dumps({"metrics": metric_summary or None})}
    if dataset_name is not None:
        out["dataset"] = dataset_name[:256]
    return out


def refresh(db: Database, job_id: str) -> None:
    """Recompute a job's list columns (after its result or spec changed)."""
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        dataset = job.spec.get("dataset") if isinstance(job.spec.get("dataset"), dict) else {}
        name = None
        if dataset.get("id") and not job.dataset:
            found = s.get(Job, str(dataset["id"]), options=[load_only(Job.name), raiseload(Job.history)])
            name = found.name if found else ""
        for key, value in kept(job, name).items():
            setattr(job, key, value)
    db.job_writes += 1


def backfill(db: Database, batch: int = 500) -> int:
    """Compute the list columns of rows an older version wrote (``summary_json`` NULL or no
    ``category``), a batch at a time; returns how many."""
    done = 0
    while True:
        with db.session() as s:
            ids = list(s.scalars(select(Job.id).where(or_(Job.summary_json.is_(None), Job.category == ""))
                                 .limit(batch)))
        if not ids:
            return done
        for job_id in ids:
            refresh(db, job_id)
        done += len(ids)


# -- tags ------------------------------------------------------------------------------------
def parse_tags(values: Any) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, at most ``MAX_TAG`` characters,
    no control characters, each once; ValueError names the problem."""
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, (list, tuple)):
        raise ValueError("tags: a list of names, or names separated by commas")
    out: list[str] = []
    for raw in values:
        tag = str(raw).strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG or any(ord(c) < 32 or ord(c) == 127 or c == "," for c in tag):
            raise ValueError(f"tags: {tag[:MAX_TAG]!r} must be at most {MAX_TAG} characters, without commas "
                             f"or control characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"tags: at most {MAX_TAGS} on a job")
    return out


def tags_column(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""


def tags_of(column: str | None) -> list[str]:
    return [t for t in (column or "").split(",") if t]


# -- reading lists -------------------------------------------------------------------------
@dataclass
class Query:
    """What a list asks for; every filter is optional."""

    q: str = ""
    status: list[str] = field(default_factory=list)
    category: str = ""
    task: str = ""
    user: str = ""
    group: str | None = None
    tag: str = ""
    sort: str = "created"
    descending: bool = True
    page: int = 1
    per_page: int = 50


def _filtered(query, q: Query, with_status: bool = True):
    if q.q:
        like = f"%{q.q.lower()}%"
        query = query.where(or_(func.lower(Job.name).like(like), func.lower(Job.notes).like(like),
                                func.lower(Job.network).like(like), func.lower(Job.dataset).like(like),
                                func.lower(Job.id).like(like)))
    if with_status and q.status:
        query = query.where(Job.status.in_(q.status))
    if q.category:
        query = query.where(Job.category == q.category)
    if q.task:
        query = query.where(Job.kind.like(f"%.{TASKS[q.task]}%"))
    if q.user:
        query = query.where(Job.username == q.user)
    if q.group is not None:
        query = query.where(Job.group_name == q.group)
    if q.tag:
        query = query.where(Job.tags.like(f"%,{q.tag},%"))
    return query


def page(db: Database, q: Query) -> tuple[list, int, dict[str, int]]:
    """(the page's rows with their list columns only, how many match, how many match in each
    status): three queries whatever the number of jobs."""
    column = SORTS[q.sort]
    first = column.desc() if q.descending else column.asc()
    if q.sort == "main_metric":  # runs without a value last, whichever way
        first = first.nulls_last()
    order = [first, Job.id.desc() if q.descending else Job.id.asc()]
    with db.session() as s:
        # The page's ids first, from an index (sort column, id) alone: skipping to a deep page
        # reads index entries, not rows; then those ids' list columns (plain rows, no ORM objects).
        ids = [r[0] for r in s.execute(_filtered(select(Job.id), q).order_by(*order)
                                       .offset((q.page - 1) * q.per_page).limit(q.per_page))]
        found = {r.id: r for r in s.execute(select(*COLUMNS).where(Job.id.in_(ids)))} if ids else {}
        rows = [found[i] for i in ids if i in found]
        key = ("status", q.category) if not (q.q or q.task or q.user or q.group is not None or q.tag) else None
        counts = _cached(db, key, lambda: {status: n for status, n in s.execute(
            _filtered(select(Job.status, func.count()), q, with_status=False).group_by(Job.status))})
        total = sum(n for status, n in counts.items() if not q.status or status in q.status)
    return rows, total, counts


def category_counts(db: Database) -> dict[str, int]:
    """How many jobs each home-page tab has (one GROUP BY over the kind index)."""
    def count() -> dict[str, int]:
        out = {c: 0 for c in CATEGORIES}
        with db.session() as s:
            for category_name, n in s.execute(select(Job.category, func.count()).group_by(Job.category)):
                out[category_name if category_name in out else "other"] += n
        return out

    return dict(_cached(db, ("tabs",), count))


def _cached(db: Database, key, compute):
    """``compute()``, kept under ``key`` until a job row changes (``key`` None: not kept)."""
    if key is None:
        return compute()
    found = db.counted.get(key)
    if found is not None and found[0] == db.job_writes:
        return found[1]
    writes = db.job_writes
    value = compute()
    if len(db.counted) > 64:
        db.counted.clear()
    db.counted[key] = (writes, value)
    return value


def group_ids(db: Database, group: str, category_name: str = "model", limit: int = 100) -> list[str]:
    """The ids of a group's jobs of one category, oldest first (at most ``limit``)."""
    with db.session() as s:
        return list(s.scalars(select(Job.id).where(Job.group_name == group, Job.category == category_name)
                              .order_by(Job.created).limit(limit)))


def one(db: Database, job_id: str):
    """One job's list columns (a status poll: no spec, result or timeline)."""
    with db.session() as s:
        return s.execute(select(*COLUMNS).where(Job.id == job_id)).first()


def active(db: Database) -> list:
    """Queued and running jobs, oldest first (the running table): list columns only."""
    statuses = [s.value for s in Status if s.active]
    with db.session() as s:
        return list(s.execute(select(*COLUMNS).where(Job.status.in_(statuses)).order_by(Job.created)))


def briefs(db: Database) -> list[tuple[str, str, str, str]]:
    """Every job's (id, name, status, kind), oldest first: DIGITS's ``/index.json``."""
    with db.session() as s:
        return list(s.execute(select(Job.id, Job.name, Job.status, Job.kind).order_by(Job.created, Job.id)))


ROWS_KEPT = 10_000  # finished jobs' list rows kept (about 5 KB each with its key: ~50 MB at most)
_rows: dict[Row, dict[str, Any]] = {}


def row(job, waiting: dict[str, Any] | None = None) -> dict[str, Any]:
    """A list row: the job's JSON (DIGITS's ``J``) from its list columns (a job, or a row of
    :data:`COLUMNS`), without its timeline; the train-loss sparkline's points for an active job
    only. A finished job's row is made once and kept, keyed by its list columns' values (which
    it depends on alone: a change to any of them is another key), so a page of finished jobs
    costs its query and its JSON, not 50 rows' making. The answer is shared: do not change it."""
    if waiting is None and isinstance(job, Row) and not Status(job.status).active \
            and (job.finished or not job.started):  # else its elapsed time moves on
        found = _rows.get(job)
        if found is None:
            found = _make_row(job, None)
            if len(_rows) >= ROWS_KEPT:
                try:
                    del _rows[next(iter(_rows))]  # the oldest kept
                except (KeyError, RuntimeError, StopIteration):  # another thread's turn changed it
                    pass
            _rows[job] = found
        return found
    return _make_row(job, waiting)


def _make_row(job, waiting: dict[str, Any] | None) -> dict[str, Any]:
    metrics = (json.loads(job.summary_json) if job.summary_json else {}).get("metrics")
    if metrics and "loss_tail" in metrics and not Status(job.status).active:
        metrics = {k: v for k, v in metrics.items() if k != "loss_tail"}  # a running job's sparkline only
    return {**fields(job, waiting), "metrics": metrics}
