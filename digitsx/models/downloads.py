"""What a model job gives to take away: its snapshot as an archive, its metrics as CSV."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from .. import auth
from ..errors import BadRequest, ValidationError
from ..http import platform
from ..jobs import kinds
from ..schemas import answers

bp = Blueprint("model_downloads", __name__)


@bp.route("/models/<job_id>/metrics.csv")
def metrics_csv(job_id: str):
    """Every metric point as CSV (phase, epoch, step, then one column per value)."""
    points = platform().store.metrics(platform().store.get(job_id).id)
    keys = sorted({k for p in points for k in p["values"]})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["phase", "epoch", "step", "time"] + keys)
    for p in points:
        writer.writerow([p["phase"], p["epoch"], p["step"], p["t"]] + [p["values"].get(k, "") for k in keys])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={job_id}_metrics.csv"})


ARCHIVE_TYPES = {"tar.gz": "application/gzip", "tgz": "application/gzip", "tar": "application/x-tar",
                 "zip": "application/zip"}


@bp.route("/models/<job_id>/download")
def download_default(job_id: str):
    """``download.tar.gz``. (A second rule with ``defaults`` would make Werkzeug answer the
    documented ``download.tar.gz`` URL with a 308 to this one.)"""
    return download(job_id, "tar.gz")


EXPORT_STATUS = {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string", "enum": ["ready", "preparing", "error", "absent"]},
    "step": {"type": "string"}, "progress": {"type": "number"}, "elapsed": {"type": "number"},
    "url": {"type": "string"}, "status_url": {"type": "string"}, "size": {"type": "integer"}}}


@bp.route("/models/<job_id>/download.<path:extension>")
@answers(EXPORT_STATUS, 202)
def download(job_id: str, extension: str):
    """The snapshot (``?epoch=``, default the newest) as ``<id>_epoch_<E>.<ext>``: weights,
    network source, labels, mean, info.json, checked ONNX and TorchScript exports. The first
    time, the archive is built off the request (:mod:`.exports`): the file if it is ready within
    ``EXPORT_WAIT_SECONDS``, else 202 with the export's status and ``Retry-After``."""
    job, epoch, archive, module = _archive(job_id, extension, request.args.get("epoch"))
    if not archive.exists():
        export = _export(job, epoch, archive, module)
        export.done.wait(float(current_app.config.get("EXPORT_WAIT_SECONDS", 10)))
        if not archive.exists():
            return _export_answer(job, epoch, extension, export)
    return send_file(archive, mimetype=ARCHIVE_TYPES[extension], as_attachment=True,
                     download_name=archive.name)


@bp.route("/models/<job_id>/export.json", methods=["GET", "POST"])
@answers(EXPORT_STATUS)
def export_status(job_id: str):
    """How far the archive of a snapshot (``epoch``, ``format``: tar.gz, tgz, tar, zip) is:
    ``{status: ready|preparing|error|absent, step, progress, elapsed, url}``; a POST starts it."""
    from ..http import form_values

    values = {**request.args.to_dict(), **(form_values() if request.method == "POST" else {})}
    extension = str(values.get("format") or "tar.gz")
    job, epoch, archive, module = _archive(job_id, extension, values.get("epoch"))
    url = f"/models/{job.id}/download.{extension}?epoch={epoch:g}"
    if archive.exists():
        return {"status": "ready", "step": "ready", "progress": 1.0, "url": url,
                "size": archive.stat().st_size}
    export = platform().exports.get(archive)
    if export is None and request.method == "POST":
        export = _export(job, epoch, archive, module)
    if export is None:
        return {"status": "absent", "url": url}
    return _export_answer(job, epoch, extension, export, 200)


def _archive(job_id: str, extension: str, epoch_value):
    """(job, epoch, archive path, export module) of a download request; 400s naming the problem."""
    if extension not in ARCHIVE_TYPES:
        raise BadRequest(f"download: use .tar.gz, .tgz, .tar or .zip, not .{extension}")
    p = platform()
    job = p.store.get(job_id)
    module = kinds.get(job.kind).export
    if module is None:
        raise BadRequest(f"{job.name} ({job.id}) is not a model with snapshots to download")
    epochs = [s["epoch"] for s in job.result.get("snapshots", [])]
    if not epochs:
        raise BadRequest(f"model {job.name} has no snapshot yet")
    epoch = epoch_arg(epoch_value, max(epochs))
    if epoch not in [float(e) for e in epochs]:
        raise BadRequest(f"model {job.name} has no snapshot for epoch {epoch:g} "
                         f"(snapshots: {', '.join(f'{float(e):g}' for e in epochs)})")
    return job, epoch, p.store.job_dir(job.id) / "downloads" / f"{job.id}_epoch_{epoch:g}.{extension}", module


def _export(job, epoch: float, archive, module: str):
    """The export of ``archive``, started now (rate-limited per user) unless one runs."""
    p = platform()
    export = p.exports.get(archive)
    if export is None:
        auth.rate_limit("exports")
        export, _ = p.exports.start(module, p.store.job_dir(job.id), epoch, archive)
    return export


def _export_answer(job, epoch: float, extension: str, export, code: int = 202):
    """An export not (yet) done: 202 (or ``code``) with its status, or 400 with its error."""
    if export.state == "error":
        platform().exports.finish(export)  # answered: the next request tries again
        raise BadRequest(f"export failed: {export.error}")
    url = f"/models/{job.id}/download.{extension}?epoch={epoch:g}"
    body = {**export.status(), "url": url,
            "status_url": f"/models/{job.id}/export.json?epoch={epoch:g}&format={extension}"}
    if export.state == "ready":
        platform().exports.finish(export)
        return body
    return jsonify(body), code, {"Retry-After": "2"}


def epoch_arg(value, default: float) -> float:
    """A snapshot epoch from a field (blank: ``default``), or a 400 naming the field."""
    if value in (None, ""):
        return float(default)
    try:
        epoch = float(value)
    except (TypeError, ValueError):
        epoch = float("nan")
    if epoch != epoch or epoch in (float("inf"), float("-inf")):
        raise ValidationError({"epoch": [f"expected a snapshot epoch, got {value!r}"]})
    return epoch
