"""What a model job gives to take away: its snapshot as an archive, its metrics as CSV."""
from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, current_app, request, send_file

from .. import auth
from ..errors import BadRequest, ValidationError
from ..http import platform
from ..jobs import kinds, launch

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


@bp.route("/models/<job_id>/download.<path:extension>")
def download(job_id: str, extension: str):
    """The snapshot (``?epoch=``, default the newest) as ``<id>_epoch_<E>.<ext>``: weights,
    network source, labels, mean, info.json, checked ONNX and TorchScript exports."""
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
    epoch = epoch_arg(request.args.get("epoch"), max(epochs))
    if epoch not in [float(e) for e in epochs]:
        raise BadRequest(f"model {job.name} has no snapshot for epoch {epoch:g} "
                         f"(snapshots: {', '.join(f'{float(e):g}' for e in epochs)})")
    name = f"{job.id}_epoch_{epoch:g}.{extension}"
    archive = p.store.job_dir(job.id) / "downloads" / name
    if not archive.exists():
        auth.rate_limit("exports")
        code, out, err = launch.run_module(
            module, [str(p.store.job_dir(job.id)), f"{epoch:g}", str(archive)],
            p.store.jobs_dir, timeout=float(current_app.config.get("EXPORT_TIMEOUT", 1800)))
        try:
            answer = json.loads(out.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            answer = {"ok": False, "error": "took too long" if code is None else err[-500:]}
        if not answer.get("ok"):
            raise BadRequest(f"export failed: {answer.get('error')}")
    return send_file(archive, mimetype=ARCHIVE_TYPES[extension], as_attachment=True,
                     download_name=name)


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
