"""Pretrained models: from a snapshot, from a download archive, from uploaded files."""
from __future__ import annotations


from flask import Blueprint, redirect, render_template, request

from .. import auth
from ..archives import archive_suffix
from ..errors import BadRequest, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_post, form_values, page, platform, wants_json
from ..models import code_policy, registry
from ..models.downloads import epoch_arg
from . import PRETRAINED
from .inference import model_and_epoch

bp = Blueprint("pretrained_models", __name__)


def pretrained_code(spec: dict, store) -> str | None:
    """What submitted Python a pretrained model of ``spec`` runs (its worker builds the network
    from ``network.py`` to check the weights load; new models start from it), or None: an upload
    is submitted code; a snapshot's is its model's network. The pretrained kind's ``runs_code``."""
    if spec.get("source") in ("archive", "files"):
        return "an uploaded model (its network.py)"
    if spec.get("source") == "store":  # a standard network is rebuilt from our own source
        network = spec.get("standard_network")
        if isinstance(network, str) and network in registry.names("classification"):
            return None
        return "a model from a store whose network is not one of ours (its network.py)"
    if spec.get("source") == "snapshot":
        model = store.db.get(str(spec.get("from_model") or ""))
        if model is None:
            return "a model made from a snapshot whose model is gone"
        found = code_policy.network_code((model.spec or {}).get("network"), store)
        return f"a pretrained model of {found}" if found else None
    return "a model of unknown origin"


def create_pretrained(name: str, spec: dict, files: dict | None = None):
    """Create a pretrained-model job (refused without the permission when its files run
    submitted code); its worker assembles and checks the files."""
    p = platform()
    username = auth.require_login()
    found = pretrained_code(spec, p.store)
    if found:
        code_policy.require(found[0].upper() + found[1:])
    auth.rate_limit("new jobs", "JOB_LIMIT")
    job = p.store.create(PRETRAINED, name, spec, username)
    p.store.put_files(job.id, files or {})
    p.scheduler.submit(job)
    return job


def _pretrained_job(name: str, spec: dict, files: dict | None = None):
    job = create_pretrained(name, spec, files)
    answer = platform().job_json(job)
    if wants_json():
        return {"status": "success", "id": job.id, "name": job.name, "job": answer}
    return redirect(answer["url"])  # land on the pretrained model just made


@bp.route("/pretrained_models/upload")
@page
def upload_page():
    """The upload form: a download archive, or weights + network.py + labels."""
    return render_template("models/pretrained_new.html", values={"image_type": "color", "resize_mode": "squash",
                                                                 "width": 256, "height": 256},
                           form_fields=PRETRAINED_FORM.fields)


@bp.route("/models/<job_id>/to_pretrained", methods=["POST"])
def to_pretrained(job_id: str):
    """Make a pretrained model from a snapshot (``epoch``, default the newest)."""
    job, _ = model_and_epoch({"job_id": job_id})
    epochs = [float(s["epoch"]) for s in job.result.get("snapshots", [])]
    epoch = epoch_arg(form_values().get("epoch"), max(epochs) if epochs else 0)
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
