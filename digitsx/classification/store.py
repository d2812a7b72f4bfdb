"""DIGITS's Model Store, both ways.

**Reading stores.** ``DIGITSX_MODEL_STORES`` lists store URLs. A store is a static HTTP folder:
``master.json`` (``{"msg", "children": [folder, ...]}``) and, per model folder, ``info.json``
and the files it names (``snapshot file``, ``model file`` or ``network file``, ``labels file``,
``mean file``; a digitsx download archive's files are such a folder). ``GET /store/models``
lists every store's models in DIGITS's shape; ``/store/push?id=`` imports one as a pretrained
model (its worker downloads the files with progress, checks the hashes a store gives, then runs
an uploaded archive's checks) and answers the new job's id.

**Being a store.** ``/store/master.json``, ``/store/<id>/info.json`` and the files serve this
server's pretrained models whose owners published them (``POST /pretrained_models/<id>/publish``):
anyone who can reach the server may read those, so one lab server can feed others.

Everything a store sends is hostile: reading, checking and sharing the listing is
:mod:`.store_reading`; the import is the pretrained worker's (:mod:`.pretrained`).
"""
from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, send_file

from .. import auth
from ..errors import BadRequest, NotFound
from ..http import form_values, page, platform, wants_json
from ..jobs.status import Status
from . import PRETRAINED
from .store_reading import listing

bp = Blueprint("store", __name__)


def find(model: str) -> tuple[dict, dict]:
    for store in listing().values():
        for entry in store["model_list"]:
            if entry["id"] == model:
                return store, entry
    raise NotFound(f"No model {model!r} in the model stores (GET /store/models?refresh=1 reads them again)")


@bp.route("/store/models")
@bp.route("/store/models.json", endpoint="models_json")
def models():
    """Every store's models: ``{base_url: {base_url, welcome_msg, model_list: [{dir_name, id,
    info, name, task, network, classes, input, size} or {..., error}], error?}}``
    (``?refresh=1`` reads the stores again)."""
    auth.require_login()
    return listing(request.args.get("refresh") == "1")


@bp.route("/store")
@page
def store_page():
    """*Load model → Retrieve from Model Store*: every store's models, one click imports."""
    auth.require_login()
    stores = listing(request.args.get("refresh") == "1")
    return render_template("models/store.html", stores=stores,
                           configured=current_app.config.get("MODEL_STORES") or [])


@bp.route("/store/push", methods=["POST"])
def push():
    """Import store model ``id`` as a pretrained model; answers the new job's id (plain text,
    as DIGITS; ``{"id", ...}`` to a JSON client). A POST only, with the CSRF token from a page
    (DIGITS's GET would let any page a user visits start a download on this server)."""
    from .pretrained_routes import create_pretrained

    model = str(request.args.get("id") or form_values().get("id") or "")
    store, entry = find(model)
    if entry.get("error"):
        raise BadRequest(f"{entry['dir_name']} in {store['base_url']}: {entry['error']}")
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 2 * 1024**3)
    standard = entry["network"] if entry["standard"] else None
    files = {local: {**f, "url": store["base_url"] + urllib.parse.quote(entry["dir_name"]) + "/"
                     + urllib.parse.quote(f["name"])} for local, f in entry["files"].items()
             if not (standard and local == "network.py")}  # ours is rebuilt: never fetched
    spec = {"source": "store", "store": store["base_url"], "folder": entry["dir_name"],
            "files": files, "info": entry["info"], "standard_network": standard, "max_bytes": limit}
    job = create_pretrained(entry["name"], spec)
    if wants_json():
        return {"status": "success", "id": job.id, "name": job.name}
    if request.form:
        return redirect(f"/models/{job.id}")
    return job.id, 200, {"Content-Type": "text/plain"}


# -- this server as a store ---------------------------------------------------------------
def published_jobs() -> list:
    return [j for j in platform().store.db.jobs(Status.DONE.value, kinds=(PRETRAINED,))
            if j.result.get("published")]


@bp.route("/store/master.json")
def master():
    """DIGITS's store index of this server's published pretrained models (no login)."""
    jobs = published_jobs()
    return {"msg": f"digitsx: {len(jobs)} published model(s)", "children": [j.id for j in jobs]}


def _published(job_id: str):
    job = platform().store.db.get(job_id)
    if job is None or job.kind != PRETRAINED or not job.result.get("published") \
            or job.status != Status.DONE.value:
        raise NotFound(f"No published model {job_id!r}")
    return job


@bp.route("/store/<job_id>/info.json")
def store_info(job_id: str):
    """A published model's ``info.json``, with each file's SHA-256 and size."""
    job = _published(job_id)
    folder = Path(platform().store.job_dir(job.id))
    info = json.loads((folder / "info.json").read_text())
    files = job.result["published"]["files"]
    return {**info, "name": job.name, "task": "image classification", "classes": len(job.result.get("labels") or []),
            "snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt",
            "mean file": "mean.npy" if "mean.npy" in files else None,
            "sha256": {n: f["sha256"] for n, f in files.items()}, "sizes": {n: f["size"] for n, f in files.items()}}


@bp.route("/store/<job_id>/<name>")
def store_file(job_id: str, name: str):
    """One file of a published model (only those its info.json names)."""
    job = _published(job_id)
    if name not in job.result["published"]["files"]:
        raise NotFound(f"{name} is not a file of published model {job.name}")
    return send_file(Path(platform().store.job_dir(job.id)) / name, as_attachment=True, download_name=name)


@bp.route("/pretrained_models/<job_id>/publish", methods=["POST"])
def publish(job_id: str):
    """Publish a pretrained model in this server's store (``published=0`` withdraws it): its
    files become readable by anyone who can reach the server. The owner's (or an admin's) act;
    for a pretrained model made from a model's snapshot, the owner of that model too (a copy of
    someone else's model is theirs to publish)."""
    p = platform()
    job = p.store.get(job_id)
    if job.kind != PRETRAINED or job.status != Status.DONE.value:
        raise BadRequest(f"{job.name} is not a ready pretrained model")
    auth.require_owner(job, "publish")
    if str(form_values().get("published", "1")).lower() in ("0", "false", "no", ""):
        p.store.merge_result(job.id, {"published": None})
        return {"status": "success", "published": False} if wants_json() else redirect(f"/models/{job.id}")
    source = (job.spec or {}).get("from_model")  # a copy of a model's snapshot (to_pretrained)
    if source:
        original = p.store.db.get(str(source))
        if original is None:
            auth.require_admin()
        else:  # publishing a copy is publishing the model: its owner's act (or an admin's)
            auth.require_owner(original, "publish a copy of")
    folder = Path(p.store.job_dir(job.id))
    files = {}
    for name in ("model.pt", "network.py", "labels.txt", "mean.npy"):
        if (folder / name).is_file():
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
            files[name] = {"sha256": digest, "size": (folder / name).stat().st_size}
    p.store.merge_result(job.id, {"published": {"at": time.time(), "files": files}})
    if wants_json():
        return {"status": "success", "published": True, "url": f"/store/{job.id}/info.json"}
    return redirect(f"/models/{job.id}")

