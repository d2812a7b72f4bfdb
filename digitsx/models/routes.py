"""Model routes: the new-model form, create (with sweeps), LR preview, network preview, CSV,
classify one, download, pretrained models. Testing on many images is in :mod:`.testing`."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import time

from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template,
                   request, send_file)

from .. import auth
from ..datasets import CLASSIFICATION as DATASET_KIND
from ..datasets.folder import DatasetFolder
from ..archives import archive_suffix
from ..errors import BadRequest, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_post, form_values, page, platform, twin_route, wants_json
from ..jobs.status import Status
from . import CLASSIFICATION, PRETRAINED, forms, registry
from .schedules import DEFAULTS as LR_DEFAULTS, POLICIES, curve
from .testing import JOB_ID, model_and_epoch, server_path, snapshot_epoch, warm_epoch

bp = Blueprint("models", __name__)
LR_FORM = Form("Learning rate preview", {k: forms.TRAINING.fields[k] for k in
                                         ("learning_rate", "lr_policy", *LR_DEFAULTS)})
NETWORK_FORM = Form("Network preview", {
    **{k: forms.FORM.fields[k] for k in ("method", "standard_networks", "custom_network",
                                         "crop_size")},
    "dataset": Field("id", help="take classes, channels and size from this dataset"),
    "num_classes": Field("int", 10, 1, 100000), "channels": Field("int", 3, 1, 4),
    "size": Field("int", 224, 1, 4096)})




@bp.route("/models/images/classification/new")
@page
def new_classification():
    """The new image classification model form (``?clone=<id>`` fills it in)."""
    values = dict(forms.DEFAULTS)
    p = platform()
    clone = request.args.get("clone")
    if clone:
        values.update(p.store.get(clone).spec.get("form", {}))
        values["model_name"] = values.get("model_name", "") + " (clone)"
    datasets = [j for j in p.store.db.jobs(Status.DONE.value) if j.kind == DATASET_KIND]
    models = [j for j in p.store.db.jobs() if j.kind == CLASSIFICATION and j.result.get("snapshots")]
    pretrained = [j for j in p.store.db.jobs(Status.DONE.value) if j.kind == PRETRAINED]
    return render_template("models/new.html", values=values, datasets=datasets, models=models,
                           pretrained=pretrained,
                           networks=list(registry.networks("classification").values()), solvers=forms.SOLVERS, policies=POLICIES)


@twin_route(bp, "/models/images/classification", methods=["POST"])
@accepts(forms.FORM)
def create_classification():
    """Create a model job (or one per learning rate × batch size): job JSON, or ``{jobs}``."""
    username = auth.require_login()
    values = form_values()
    if values.get("method") == "custom":
        auth.require_code_permission("A custom network")
    auth.rate_limit("new jobs", "JOB_LIMIT")
    p = platform()
    jobs, dataset, group, _ = forms.parse(values, p.store, current_app.config)
    created = []
    for item in jobs:
        job = p.store.create(CLASSIFICATION, item.name, item.spec, username, group, dataset.id)
        p.scheduler.submit(job)
        created.append(p.job_json(job))
    if wants_json():
        return created[0] if len(created) == 1 else {"jobs": created}
    return redirect(created[0]["url"] if len(created) == 1 else "/")


@bp.route("/models/visualize-lr", methods=["POST"])
@accepts(LR_FORM)
def visualize_lr():
    """The LR policy over training, 101 points: ``{"data": {"columns": [["Learning Rate 0", ...]]}}``."""
    values = form_values()
    r = LR_FORM.reader(values)
    policy = r.choice("lr_policy")
    rates = r.numbers("learning_rate")
    params = forms.lr_params(r)
    if r.errors:
        raise ValidationError(r.errors)
    columns = [[f"Learning Rate {i}"] + curve(policy, lr, params) for i, lr in enumerate(rates)]
    return {"data": {"columns": columns}}


@bp.route("/models/images/classification/visualize-network", methods=["POST"])
@accepts(NETWORK_FORM)
def visualize_network():
    """Every layer with its output shape and parameter count (run in a worker process)."""
    auth.require_login()
    values = form_values()
    if values.get("method", "standard") == "custom":
        auth.require_code_permission("Visualize with a custom network")
    auth.rate_limit("network previews")
    r = NETWORK_FORM.reader({k: v for k, v in values.items() if v != ""})
    payload = {"method": str(values.get("method", "standard")),
               "source": str(values.get("custom_network", "")),
               "name": str(values.get("standard_networks", "lenet")),
               "classes": r.number("num_classes"), "channels": r.number("channels"),
               "size": r.number("size")}
    if r.errors:
        raise ValidationError(r.errors)
    dataset = values.get("dataset")
    if dataset:
        job = platform().store.db.get(dataset)
        if job is not None and job.kind == DATASET_KIND:
            image = job.spec.get("image", {})
            payload.update(channels=image.get("channels", 3),
                           size=int(values.get("crop_size") or min(image.get("width", 224),
                                                                  image.get("height", 224))))
            labels = DatasetFolder(platform().store.job_dir(dataset)).labels
            if labels:
                payload["classes"] = len(labels)
    try:
        proc = subprocess.run([sys.executable, "-m", "digitsx.models.visualize"],
                              input=json.dumps(payload), capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise BadRequest("custom_network: building the network took longer than 120 s") from None
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BadRequest(f"custom_network: the network could not be built: {proc.stderr[-500:]}") from None
    if "error" in answer:
        raise ValidationError({"custom_network": [answer["error"]]})
    return answer


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


@twin_route(bp, "/models/images/classification/classify_one", methods=["POST"])
def classify_one():
    """Classify one image (``image_file`` upload or ``image_path`` on the server) with a model
    snapshot (``snapshot_epoch``, default the newest): ``{"predictions": [[label, pct], ...]}``."""
    started = time.perf_counter()
    values = form_values()
    p = platform()
    job_id = str(values.get("job_id", ""))
    epoch = snapshot_epoch(values)
    if JOB_ID.fullmatch(job_id):  # "latest" is the newest snapshot on disk now
        epoch = warm_epoch(p.store.job_dir(job_id), epoch)
    job = None
    if p.serving.warm(job_id, epoch) is None:  # a warm worker means the model and snapshot exist
        job, epoch = model_and_epoch({"job_id": job_id, "snapshot_epoch": epoch})
    upload = request.files.get("image_file")
    if upload is not None and upload.filename:
        data = upload.read()
        ask = {"image": base64.b64encode(data).decode()}
        shown = data
    else:
        path = str(values.get("image_path") or "")
        if not path:
            raise ValidationError({"image_file": ["upload an image or give image_path"]})
        path = server_path(path, "image_path")
        if not os.path.isfile(path):
            raise ValidationError({"image_path": [f"{path} does not exist"]})
        ask, shown = {"path": path}, None
    ask["visualize"] = str(values.get("show_visualizations", "")).lower() in ("1", "y", "yes", "on", "true")
    asked = time.perf_counter()
    answer = p.serving.classify(job_id, epoch, ask)
    answered = time.perf_counter()
    if wants_json():
        response = jsonify({k: answer[k] for k in ("predictions", "timing", "visualizations") if k in answer})
        timing = answer.get("timing", {})
        response.headers["Server-Timing"] = (
            f"app;dur={(time.perf_counter() - started) * 1000:.3f}, "
            f"worker;dur={(answered - asked) * 1000:.3f}, "
            f"preprocess;dur={timing.get('preprocess_ms', 0):.3f}, forward;dur={timing.get('forward_ms', 0):.3f}")
        return response
    image = base64.b64encode(shown if shown is not None else open(ask["path"], "rb").read()).decode()
    job = job or p.store.get(job_id)
    return render_template("models/classify_one.html", job=p.job_json(job), answer=answer,
                           image=image)


ARCHIVE_TYPES = {"tar.gz": "application/gzip", "tgz": "application/gzip", "tar": "application/x-tar",
                 "zip": "application/zip"}


@bp.route("/models/<job_id>/download", defaults={"extension": "tar.gz"})
@bp.route("/models/<job_id>/download.<path:extension>")
def download(job_id: str, extension: str):
    """The snapshot (``?epoch=``, default the newest) as ``<id>_epoch_<E>.<ext>``: weights,
    network source, labels, mean, info.json, checked ONNX and TorchScript exports."""
    if extension not in ARCHIVE_TYPES:
        raise BadRequest(f"download: use .tar.gz, .tgz, .tar or .zip, not .{extension}")
    p = platform()
    job, _ = model_and_epoch({"job_id": job_id})
    epochs = [s["epoch"] for s in job.result.get("snapshots", [])]
    if not epochs:
        raise BadRequest(f"model {job.name} has no snapshot yet")
    epoch = _epoch(request.args.get("epoch"), max(epochs))
    if epoch not in [float(e) for e in epochs]:
        raise BadRequest(f"model {job.name} has no snapshot for epoch {epoch:g} "
                         f"(snapshots: {', '.join(f'{float(e):g}' for e in epochs)})")
    name = f"{job.id}_epoch_{epoch:g}.{extension}"
    archive = p.store.job_dir(job.id) / "downloads" / name
    if not archive.exists():
        auth.rate_limit("exports")
        proc = subprocess.run([sys.executable, "-m", "digitsx.models.export",
                               str(p.store.job_dir(job.id)), f"{epoch:g}", str(archive)],
                              capture_output=True, text=True, timeout=1800)
        try:
            answer = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            answer = {"ok": False, "error": proc.stderr[-500:]}
        if not answer.get("ok"):
            raise BadRequest(f"export failed: {answer.get('error')}")
    return send_file(archive, mimetype=ARCHIVE_TYPES[extension], as_attachment=True,
                     download_name=name)


def _epoch(value, default: float) -> float:
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


def _pretrained_job(name: str, spec: dict, files: dict | None = None):
    """Create a pretrained-model job; its worker assembles and checks the files."""
    p = platform()
    username = auth.require_login()
    if spec["source"] in ("archive", "files"):
        auth.require_code_permission("An uploaded model (its network.py)")
    auth.rate_limit("new jobs", "JOB_LIMIT")
    job = p.store.create(PRETRAINED, name, spec, username)
    p.store.put_files(job.id, files or {})
    p.scheduler.submit(job)
    if wants_json():
        return {"status": "success", "id": job.id, "name": job.name, "job": p.job_json(job)}
    return redirect("/")


@bp.route("/models/<job_id>/to_pretrained", methods=["POST"])
def to_pretrained(job_id: str):
    """Make a pretrained model from a snapshot (``epoch``, default the newest)."""
    job, _ = model_and_epoch({"job_id": job_id})
    epochs = [float(s["epoch"]) for s in job.result.get("snapshots", [])]
    epoch = _epoch(form_values().get("epoch"), max(epochs) if epochs else 0)
    if epoch not in epochs:
        raise BadRequest(f"model {job.name} has no snapshot for epoch {epoch:g}")
    return _pretrained_job(f"{job.name} (epoch {epoch:g})", {
        "source": "snapshot", "model_dir": str(platform().store.job_dir(job.id)), "epoch": epoch,
        "from_model": job.id})


@bp.route("/pretrained_models/upload_archive", methods=["POST"])
def upload_pretrained_archive():
    """Upload a model in digitsx's download format (``archive``): ``{"status": "success"}``."""
    archive = request.files.get("archive")
    if archive is None or not archive.filename or archive_suffix(archive.filename) is None:
        raise ValidationError({"archive": ["upload a .tar.gz, .tgz, .tar or .zip download archive"]})
    rel = f"uploads/archive{archive_suffix(archive.filename)}"
    name = str(form_values().get("job_name") or archive.filename)
    return _pretrained_job(name, {"source": "archive", "archive": rel}, {rel: archive})


PRETRAINED_FORM = Form("Upload a pretrained model", {
    "job_name": Field("name"), "weights_file": Field("file", required=True, help="a state dict"),
    "model_def_file": Field("file", required=True, help="Python defining build(); needs can_run_code"),
    "labels_file": Field("file", required=True, help="one class name per line"),
    "image_type": Field("choice", "color", options=("color", "grayscale")),
    "resize_mode": Field("choice", "squash", options=("squash", "crop", "fill", "half_crop")),
    "width": Field("int", 256, 1, 4096), "height": Field("int", 256, 1, 4096)})


@bp.route("/pretrained_models/new", methods=["POST"])
@accepts(PRETRAINED_FORM)
@form_post
def new_pretrained():
    """Upload ``weights_file`` (state dict), ``model_def_file`` (Python defining ``build``),
    ``labels_file``, with ``image_type`` (color/grayscale), ``resize_mode``, ``width``, ``height``."""
    r = PRETRAINED_FORM.reader(form_values())
    files = {}
    for field, target in (("weights_file", "model.pt"), ("model_def_file", "network.py"),
                          ("labels_file", "labels.txt")):
        upload = request.files.get(field)
        if upload is None or not upload.filename:
            r.error(field, "required")
        files[target] = upload
    image_type = r.choice("image_type")
    job_name = r.name("job_name") or "pretrained model"
    spec = {"source": "files", "name": job_name,
            "width": r.number("width"), "height": r.number("height"), "resize_mode": r.choice("resize_mode"),
            "channels": 1 if image_type == "grayscale" else 3}
    if r.errors:
        raise ValidationError(r.errors)
    return _pretrained_job(spec["name"], spec, files)
