"""What a model job gives to take away: its snapshot as an archive, its metrics as CSV."""
from __future__ import annotations

import csv
import gzip
import io
import tarfile
import time
import zipfile
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request, send_file, stream_with_context

from .. import auth
from ..errors import BadRequest, Forbidden, TooManyRequests, ValidationError
from ..http import platform
from ..jobs import kinds
from ..schemas import answers
from .exports import ExportLimit
from .testing import best_epoch

STREAM_BLOCK = 1 << 20

bp = Blueprint("model_downloads", __name__)


@bp.route("/models/<job_id>/metrics.csv")
def metrics_csv(job_id: str):
    """Every metric point as CSV (phase, epoch, step, then one column per value), streamed a
    batch of points at a time (a job of millions of points holds no request up)."""
    from ..extensions import STREAM_BATCH, give_turn

    store = platform().store
    job = store.get(job_id)
    keys: set[str] = set()
    for batch in store.metric_batches(job.id, batch=STREAM_BATCH):
        keys.update(k for p in batch for k in p["values"])
        give_turn()
    columns = sorted(keys)

    def rows():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["phase", "epoch", "step", "time"] + columns)
        for batch in store.metric_batches(job.id, batch=STREAM_BATCH):
            for p in batch:
                writer.writerow([p["phase"], p["epoch"], p["step"], p["t"]] + [p["values"].get(k, "") for k in columns])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            give_turn()
        if buf.getvalue():
            yield buf.getvalue()

    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={job.id}_metrics.csv"})


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
        export = platform().exports.get(archive)
        if export is None:
            if not _may_start_from_get():
                raise Forbidden("A download linked from another site's page does not start an "
                                "export; open the model's page here and click download (or POST "
                                f"/models/{job.id}/export.json)")
            export = _export(job, epoch, archive, module)
        export.done.wait(float(current_app.config.get("EXPORT_WAIT_SECONDS", 10)))
        if not archive.exists():
            return _export_answer(job, epoch, extension, export)
    return _send(archive, extension, f"{job.id}_epoch_{epoch:g}.{extension}")


def _may_start_from_get() -> bool:
    """A GET may start an export for this server's own pages (``Sec-Fetch-Site`` same-origin or
    none) and for scripts (a Bearer token, or none of the headers browsers add); never for a
    link, image or frame on another site's page, which a browser marks with them."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.lower() in ("same-origin", "none")
    caller = auth.current_caller()
    if caller is not None and caller.via == "token":
        return True
    referer = request.headers.get("Referer") or request.headers.get("Origin")
    return referer is None or urlsplit(referer).netloc.lower() == request.host.lower()


def _send(archive, extension: str, name: str):
    """The snapshot's one archive (``.tar.gz``) in the asked format: the file itself for
    ``.tar.gz``/``.tgz``; ``.tar`` (its bytes unzipped) and ``.zip`` (its members, stored)
    streamed from it in blocks, so no second archive is written and no request holds the
    server while it is made."""
    if extension in ("tar.gz", "tgz"):
        return send_file(archive, mimetype=ARCHIVE_TYPES[extension], as_attachment=True, download_name=name)
    body = _tar_stream(archive) if extension == "tar" else _zip_stream(archive)
    return Response(stream_with_context(body), mimetype=ARCHIVE_TYPES[extension],
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _tar_stream(archive):
    with gzip.open(archive, "rb") as source:
        for block in iter(lambda: source.read(STREAM_BLOCK), b""):
            yield block


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come (zipfile writes to it)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def _zip_stream(archive):
    pipe = _Pipe()
    with tarfile.open(archive, "r:gz") as tar, zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as zf:
        for member in tar:
            if not member.isfile():
                continue
            source = tar.extractfile(member)
            info = zipfile.ZipInfo(member.name, time.localtime(max(member.mtime, 315532800))[:6])
            with zf.open(info, "w", force_zip64=member.size > 2**31) as target:
                for block in iter(lambda: source.read(STREAM_BLOCK), b""):
                    target.write(block)
                    out = pipe.take()
                    if out:  # an empty chunk would end a chunked answer
                        yield out
        zf.close()
        out = pipe.take()
        if out:
            yield out


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
    epoch = epoch_arg(epoch_value, max(epochs), best_epoch(job.result))
    if epoch not in [float(e) for e in epochs]:
        raise BadRequest(f"model {job.name} has no snapshot for epoch {epoch:g} "
                         f"(snapshots: {', '.join(f'{float(e):g}' for e in epochs)})")
    # one archive per snapshot, whatever the format asked: every format is served from it
    return job, epoch, p.store.job_dir(job.id) / "downloads" / f"{job.id}_epoch_{epoch:g}.tar.gz", module


def _export(job, epoch: float, archive, module: str):
    """The export of ``archive``, started now (rate-limited per user) unless one runs."""
    p = platform()
    export = p.exports.get(archive)
    if export is None:
        auth.rate_limit("exports")
        try:
            export, _ = p.exports.start(module, p.store.job_dir(job.id), epoch, archive,
                                        auth.current_username() or "")
        except ExportLimit as err:
            raise TooManyRequests(str(err)) from None
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


def epoch_arg(value, last: float, best: float | None = None) -> float:
    """A snapshot epoch from a field: a number, ``last`` (``last``), ``best`` or blank (the
    best epoch ``best``, else ``last``), or a 400 naming the field."""
    word = str(value or "").strip().lower()
    if word in ("", "best"):
        return float(best if best is not None else last)
    if word == "last":
        return float(last)
    try:
        epoch = float(value)
    except (TypeError, ValueError):
        epoch = float("nan")
    if epoch != epoch or epoch in (float("inf"), float("-inf")):
        raise ValidationError({"epoch": [f"expected a snapshot epoch, got {value!r}"]})
    return epoch
