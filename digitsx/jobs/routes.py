"""Routes every job kind shares: show, status, edit, abort, resume, delete, clone, bulk actions.

DIGITS served the same job under ``/jobs/<id>``, ``/datasets/<id>`` and ``/models/<id>``; so do we.
"""
from __future__ import annotations

import json
import math
from operator import itemgetter
import time

from flask import Blueprint, current_app, redirect, render_template, request, stream_with_context, url_for

from .. import auth
from ..errors import BadRequest, Forbidden, NotFound, ValidationError
from ..fields import shown
from ..gpu.history import FILE as HISTORY_FILE, read as read_history
from ..http import form_list, form_value, name_problem, platform, wants_json
from . import kinds
from .runner import read_events, tail
from .status import Status
from ..schemas import answers, ref

bp = Blueprint("jobs", __name__)
PREFIXES = ("/jobs", "/datasets", "/models")



def _routes(suffix: str, endpoint: str, methods: list[str], json_twin: bool = True):
    """Register a view under every prefix (and its ``.json`` twin)."""

    def decorator(view):
        for prefix in PREFIXES:
            name = f"{endpoint}{'' if prefix == '/jobs' else '_' + prefix[1:]}"
            bp.add_url_rule(f"{prefix}/<job_id>{suffix}", name, view, methods=methods)
            if json_twin:
                bp.add_url_rule(f"{prefix}/<job_id>{suffix}.json", name + "_json", view,
                                methods=methods)
        return view

    return decorator


def job_details(job) -> dict:
    """The job page's data: the summary plus folder, spec, result, relatives and log tail."""
    p = platform()
    data = p.job_json(job)
    parent = p.store.db.get(job.parent_id) if job.parent_id else None
    data.update(directory=str(p.store.job_dir(job.id)), spec=job.spec, result=job.result,
                parent=p.job_json(parent) if parent else None,
                children=[p.job_json(c) for c in p.store.children(job.id)],
                log=tail(p.store.job_dir(job.id) / "log.txt", current_app.config["LOG_TAIL_LINES"]),
                resumable=_resumable(job), clonable=_clonable(job), lineage=_lineage(job),
                telemetry=read_history(p.store.job_dir(job.id) / HISTORY_FILE))
    kind = _kind(job)
    if kind is not None and kind.details is not None:
        data.update(kind.details(job, p.store.job_dir(job.id)))
    return data


def _lineage(job) -> list[dict]:
    """Where a model's starting weights came from: the pretrained model, the earlier model
    (``previous``) or the backbone's source, and where a pretrained model was made from."""
    p = platform()
    network = job.spec.get("network") or {}
    found = []
    for relation, job_id in (("Pretrained from", network.get("job_id") if network.get("method") == "pretrained" else None),
                             ("Continued from", (network.get("previous") or {}).get("job_id")),
                             ("Backbone from", network["backbone"].get("job_id")
                              if isinstance(network.get("backbone"), dict) else None),
                             ("Made from", job.spec.get("from_model"))):
        other = p.store.db.get(job_id) if job_id else None
        if other is not None:
            found.append({"relation": relation, **p.job_json(other)})
    for key, relation in (("weights", "Pretrained from"), ("weights_backbone", "Backbone from")):
        entry = network.get(key)
        if isinstance(entry, dict) and entry.get("name"):  # published weights: no job of ours
            found.append({"relation": relation, "name": f"torchvision {entry['name']}",
                          "url": entry.get("url", ""), "status": "published", "id": None})
    return found


def _kind(job):
    try:
        return kinds.get(job.kind)
    except NotFound:
        return None


def _resumable(job) -> bool:
    try:
        kind = kinds.get(job.kind)
    except NotFound:
        return False
    if kind.category == "dataset" and job.status == Status.ERROR.value:
        return False  # it failed on its input: the same input fails again (Clone to fix it)
    return kind.resumable and job.status in (Status.ABORTED.value, Status.ERROR.value,
                                             Status.INTERRUPTED.value)


def _clonable(job) -> bool:
    try:
        return kinds.get(job.kind).new_endpoint is not None
    except NotFound:
        return False


@_routes("", "show", ["GET"])
@answers("JobDetails")
def show(job_id: str):
    """A job's page (JSON: the job with its timeline, spec, result, relatives, log tail)."""
    job = platform().store.get(job_id)
    data = job_details(job)
    if wants_json():
        return data
    kind = _kind(job)
    return render_template(kind.template if kind else "jobs/show.html", job=data)


@_routes("", "edit", ["PUT", "PATCH"], json_twin=False)
@answers("Job")
def edit(job_id: str):
    """Rename a job, change its notes or group (``job_name``, ``job_notes``, ``group_name``)."""
    store = platform().store
    job = store.get(job_id)
    auth.require_owner(job, "edit")
    fields, errors = {}, {}
    for field, column in (("job_name", "name"), ("job_notes", "notes"), ("group_name", "group_name")):
        value = form_value(field)
        if value is None:
            continue
        fields[column] = str(value).strip()
        problem = None if field == "job_notes" else name_problem(fields[column], field == "job_name")
        if problem:
            errors[field] = [problem]
    if errors:
        raise ValidationError(errors)
    job = store.update(job_id, "attribute", **fields)
    return platform().job_json(job) if wants_json() else "Job updated."


@_routes("/priority", "priority", ["POST"], json_twin=False)
@answers("Job")
def priority(job_id: str):
    """A waiting job's queue level: ``priority`` (low, normal, high), or ``move`` (up, down:
    one level); the owner's or an admin's act. Among equal priority users take turns."""
    from .store import PRIORITIES

    job = platform().store.get(job_id)
    auth.require_owner(job, "reprioritise")
    level, move = form_value("priority"), form_value("move")
    if level is not None:
        if str(level) not in PRIORITIES:
            raise ValidationError({"priority": [f"expected low, normal or high, got {shown(level)}"]})
        value = PRIORITIES[str(level)]
    elif move in ("up", "down"):
        value = (job.priority or 0) + (1 if move == "up" else -1)
    else:
        raise ValidationError({"priority": ["give priority (low, normal, high) or move (up, down)"]})
    job = platform().scheduler.set_priority(job_id, value)
    return platform().job_json(job)


@_routes("/tags", "tags", ["POST"], json_twin=False)
@answers("Job")
def tags(job_id: str):
    """Set a job's tags (``tags``: names separated by commas, or a JSON list), or change them
    (``add``, ``remove``); the owner's or an admin's act. Lists filter by ``tag=``."""
    from . import listing

    store = platform().store
    job = store.get(job_id)
    auth.require_owner(job, "tag")
    current = listing.tags_of(job.tags)
    try:
        if form_value("tags") is not None:
            current = listing.parse_tags(form_value("tags"))
        for tag in listing.parse_tags(form_value("add") or []):
            current.append(tag) if tag not in current else None
        removed = set(listing.parse_tags(form_value("remove") or []))
        current = listing.parse_tags([t for t in current if t not in removed])
    except ValueError as err:
        raise ValidationError({"tags": [str(err)]}) from None
    job = store.update(job_id, "attribute", tags=listing.tags_column(current))
    return platform().job_json(job)


@_routes("/status", "status", ["GET"], json_twin=False)
@answers("JobStatus")
def status(job_id: str):
    """``{status, type, name, error}`` (404 with ``error`` for an unknown id)."""
    from . import listing

    p = platform()
    job = listing.one(p.store.db, job_id)  # a poll: the list columns only
    if job is None:
        raise NotFound(f"Job not found: {job_id}")  # 404 in the API's error shape
    summary = listing.row(job, p.scheduler.waiting.get(job.id))
    return {"status": job.status, "type": summary["type"], "name": job.name, "error": job.error,
            "progress": job.progress, "eta": summary["eta"], "waiting": summary["waiting"]}


@bp.route("/jobs/<job_id>/table_data.json")
@answers({"type": "object", "required": ["job"], "properties": {"job": ref("Job")}})
def table_data(job_id: str):
    """``{job: J}`` for one row of the home page."""
    return {"job": platform().job_json(platform().store.get(job_id))}


@_routes("/log", "log", ["GET"])
@answers("Log")
def log_tail(job_id: str):
    """The last lines of the job's log (``?lines=N``, at most 2000)."""
    platform().store.get(job_id)
    raw = request.args.get("lines", "200")
    try:
        lines = max(1, min(2000, int(raw)))
    except ValueError:
        raise BadRequest(f"lines: expected a number of lines (1 to 2000), got {raw!r}") from None
    return {"job_id": job_id, "lines": tail(platform().store.job_dir(job_id) / "log.txt", lines)}


@_routes("/metrics", "metrics", ["GET"])
@answers("Metrics")
def metrics(job_id: str):
    """The metric points the job's workers reported: every one (DIGITS's answer), or
    ``after=<last_id>`` only newer ones, ``max_points=N`` at most N a phase (each bucket's
    lowest and highest point kept: a long job's graph; ``/models/<id>/metrics.csv`` has every
    point), ``from_epoch``/``to_epoch`` only those epochs (a zoomed graph asks for its range,
    which is then at full resolution or close to it). Read a batch at a time, giving other
    requests their turn between batches."""
    from ..extensions import STREAM_BATCH, give_turn
    from .thin import Thinner

    p = platform()
    p.store.get(job_id)
    after = _int_arg("after", 0, 0)
    limit = _int_arg("max_points", 0, 10)
    epochs = _epoch_range()
    if limit:  # thinned by each point's graph value (no JSON read), then the kept points read whole
        thinner = Thinner(p.store.metric_counts(job_id, after, epochs), limit, value=itemgetter(2),
                          phase_of=itemgetter(1))
        last = after
        for batch in p.store.metric_values(job_id, after, epochs):
            thinner.add_rows(batch, order_of=itemgetter(0))
            last = batch[-1][0]
            give_turn()
        kept = p.store.metric_points([row[0] for row in thinner.result()])
        return {"job_id": job_id, "metrics": kept, "last_id": last, "thinned": True}

    def stream():  # every point: written a batch at a time, other requests served between
        yield '{"job_id": %s, "metrics": [' % json.dumps(job_id)
        last, first = after, True
        for batch in p.store.metric_batches(job_id, after, STREAM_BATCH, epochs=epochs):
            yield ("" if first else ",") + ",".join(json.dumps(x) for x in batch)
            first, last = False, batch[-1]["id"]
            give_turn()
        yield '], "last_id": %d, "thinned": false}' % last

    return current_app.response_class(stream_with_context(stream()), mimetype="application/json")


def _epoch_range() -> tuple[float, float] | None:
    """``from_epoch`` and ``to_epoch`` (either may be left out) as a range, or None."""
    bounds = []
    for name, default in (("from_epoch", float("-inf")), ("to_epoch", float("inf"))):
        raw = request.args.get(name)
        if raw in (None, ""):
            bounds.append(default)
            continue
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if len(str(raw)) > 32 or not math.isfinite(value):
            raise ValidationError({name: [f"expected an epoch (a number), got {str(raw)[:40]!r}"]})
        bounds.append(value)
    if bounds == [float("-inf"), float("inf")]:
        return None
    if bounds[0] > bounds[1]:
        raise ValidationError({"to_epoch": ["must not be before from_epoch"]})
    return bounds[0], bounds[1]


def _int_arg(name: str, default: int, low: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not str(raw).isdigit() or len(str(raw)) > 12 or int(raw) < low:
        raise ValidationError({name: [f"expected a whole number of at least {low}"]})
    return int(raw)


@_routes("/events", "events", ["GET"])
@answers("Events")
def events(job_id: str):
    """The raw protocol events (``events.jsonl``) of the job."""
    platform().store.get(job_id)
    return {"job_id": job_id, "events": read_events(platform().store.job_dir(job_id))}


@_routes("/abort", "abort", ["POST"], json_twin=False)
@answers("Done")
def abort(job_id: str):
    """Abort a queued or running job (only its owner may)."""
    job = platform().store.get(job_id)
    auth.require_owner(job, "abort")
    platform().scheduler.abort(job_id)
    return {"status": "Job aborted.", "job_id": job_id} if wants_json() else "Job aborted."


@_routes("/resume", "resume", ["POST"], json_twin=False)
@answers("Job")
def resume(job_id: str):
    """Queue an aborted, failed or interrupted job again; it continues where it stopped."""
    job = platform().store.get(job_id)
    auth.require_owner(job, "resume")
    runs_code = kinds.get(job.kind).runs_code
    found = runs_code(job.spec, platform().store) if runs_code else None
    if found:  # its owner may since have lost the permission
        auth.require_code_permission(f"Resuming {found}")
    job = platform().scheduler.resume(job_id)
    if wants_json():
        return platform().job_json(job)
    return redirect(platform().job_json(job)["url"])


@_routes("", "delete", ["DELETE"], json_twin=False)
@answers("Done")
def delete(job_id: str):
    """Delete a job and its folder (refused for a dataset that models depend on; a model's
    test reports are deleted with it)."""
    delete_job(job_id)
    return {"status": "Job deleted.", "job_id": job_id} if wants_json() else "Job deleted."


def delete_job(job_id: str) -> None:
    """Check ownership and dependents, abort if needed, then remove the job."""
    p = platform()
    job = p.store.get(job_id)
    auth.require_owner(job, "delete")
    dependents = p.store.children(job_id)
    derived = [c for c in dependents if _kind(c) is not None and _kind(c).category == "inference"]
    dependents = [c for c in dependents if c not in derived]
    if dependents:
        names = ", ".join(f"{c.name} ({c.id})" for c in dependents)
        raise Forbidden(f"Cannot delete {job.name} ({job_id}): these jobs depend on it: {names}. "
                        f"Delete them first.")
    manager = p.scheduler.managers.get(job.kind)
    if manager is not None:  # a study: its running trials are aborted, its Optuna study dropped
        manager.delete(job)
    elif Status(job.status).active:
        p.scheduler.abort(job_id)
        deadline = time.time() + float(current_app.config["ABORT_GRACE_SECONDS"]) + 10
        while job_id in p.runner.handles and time.time() < deadline:
            p.runner.sleep(0.05)
        if p.scheduler.cluster is not None:  # scancel'd: nothing of it is followed any more
            p.scheduler.cluster.forget(job_id)
    for test in derived:  # a model's test reports go with it
        delete_job(test.id)
    p.serving.stop_model(job_id)
    p.store.delete(job_id)


@bp.route("/jobs", methods=["DELETE"])
def delete_many():
    """Delete ``job_ids[]``; answers what was deleted and why the rest were not. After a large
    delete the database gives the space back, a little at a time."""
    ids = form_list("job_ids")
    answer = _bulk(ids, delete_job, "deleted")
    if len(ids) >= VACUUM_AFTER:
        from ..extensions import give_turn, socketio

        socketio.start_background_task(platform().store.db.reclaim, give_turn)
    return answer


VACUUM_AFTER = 100  # jobs deleted at once


@bp.route("/abort_jobs", methods=["POST"])
def abort_many():
    """Abort ``job_ids[]``."""

    def one(job_id: str) -> None:
        job = platform().store.get(job_id)
        auth.require_owner(job, "abort")
        platform().scheduler.abort(job_id)

    return _bulk(form_list("job_ids"), one, "aborted")


@bp.route("/group", methods=["POST"])
def group():
    """Put ``job_ids[]`` in ``group_name`` (blank: ungroup)."""
    name = str(form_value("group_name", "") or "").strip()

    def one(job_id: str) -> None:
        job = platform().store.get(job_id)
        auth.require_owner(job, "group")
        platform().store.update(job_id, "attribute", group_name=name)

    return _bulk(form_list("job_ids"), one, "grouped")


def _bulk(job_ids: list[str], action, verb: str):
    if not job_ids:
        raise BadRequest("job_ids: no job selected")
    done, failed = [], {}
    with platform().scheduler.batch():  # one scheduler pass at the end, not one per job
        for job_id in job_ids:
            try:
                action(job_id)
                done.append(job_id)
            except Exception as err:  # one bad id must not stop the others
                failed[job_id] = getattr(err, "message", str(err))
    status = 200 if done or not failed else 400
    return {verb: done, "errors": failed}, status


@bp.route("/clone/<job_id>")
def clone(job_id: str):
    """Redirect to the job's new-job form, filled in with its spec."""
    job = platform().store.get(job_id)
    kind = kinds.get(job.kind)
    if kind.new_endpoint is None:
        raise BadRequest(f"A {kind.title} job cannot be cloned")
    return redirect(url_for(kind.new_endpoint, clone=job_id))
