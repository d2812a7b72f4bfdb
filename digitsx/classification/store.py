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

Everything a store sends is hostile: sizes are capped, a store that does not answer or answers
garbage is shown with its error while the others are listed, and an ``info.json`` that names a
file outside its folder is refused.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, send_file

from .. import auth
from ..errors import BadRequest, Forbidden, NotFound
from ..http import form_values, page, platform, wants_json
from ..jobs.status import Status
from ..models import registry
from . import PRETRAINED

bp = Blueprint("store", __name__)
MAX_JSON = 1 << 20  # master.json and info.json: at most 1 MiB each
MAX_CHILDREN = 500
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._ +-]{0,127}$")  # a file or folder in a store
FILE_KEYS = (("snapshot file", "model.pt"), ("model file", "network.py"), ("network file", "network.py"),
             ("labels file", "labels.txt"), ("mean file", "mean.npy"))


class StoreError(ValueError):
    """What is wrong with a store's answer."""


def _get_json(url: str, timeout: float) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 (http(s) checked)
            body = reply.read(MAX_JSON + 1)
    except (OSError, ValueError) as err:
        raise StoreError(f"{url} did not answer: {getattr(err, 'reason', None) or err}") from None
    if len(body) > MAX_JSON:
        raise StoreError(f"{url} is larger than {MAX_JSON // 1024} KiB")
    try:
        return json.loads(body)
    except ValueError:
        raise StoreError(f"{url} is not JSON") from None


def base_url(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise StoreError(f"{url!r}: a store is an http:// or https:// URL")
    return url if url.endswith("/") else url + "/"


def files_of(info: Any) -> dict[str, dict]:
    """The files a model's ``info.json`` names → ``{local name: {"name", "sha256", "size"}}``;
    StoreError for a name that leaves its folder or a model without weights or network."""
    if not isinstance(info, dict):
        raise StoreError("info.json is not an object")
    hashes = info.get("sha256") if isinstance(info.get("sha256"), dict) else {}
    sizes = info.get("sizes") if isinstance(info.get("sizes"), dict) else {}
    out: dict[str, dict] = {}
    for key, local in FILE_KEYS:
        name = info.get(key)
        if name in (None, "") or local in out:
            continue
        if not isinstance(name, str) or not NAME.match(name) or ".." in name:
            raise StoreError(f"info.json's {key!r} names {name!r}: only a file inside the model's folder")
        digest = hashes.get(name)
        out[local] = {"name": name, "sha256": digest if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest) else None,
                      "size": sizes.get(name) if isinstance(sizes.get(name), int) else None}
    for needed, what in (("model.pt", "snapshot file"), ("network.py", "model file")):
        if needed not in out:
            raise StoreError(f"info.json names no {what!r}")
    return out


def model_id(base: str, child: str) -> str:
    return hashlib.sha1(f"{base}{child}".encode()).hexdigest()[:16]


def read_model(base: str, child: str, timeout: float) -> dict:
    """One model folder of a store: DIGITS's ``{dir_name, id, info}`` plus what the page shows
    (name, task, network, classes, input, size) or its ``error``."""
    entry: dict[str, Any] = {"dir_name": child, "id": model_id(base, child)}
    try:
        if not isinstance(child, str) or not NAME.match(child) or ".." in child:
            raise StoreError(f"master.json lists {str(child)[:80]!r}, not a folder name")
        info = _get_json(base + urllib.parse.quote(child) + "/info.json", timeout)
        files = files_of(info)
    except StoreError as err:
        return {**entry, "error": str(err)}
    dims = info.get("image dimensions")
    network = info.get("network") if isinstance(info.get("network"), str) else None
    sizes = [f["size"] for f in files.values() if f["size"]]
    return {**entry, "info": info, "files": files, "name": str(info.get("name") or child)[:200],
            "task": str(info.get("task") or "image classification")[:60], "network": network,
            "standard": network in registry.names("classification"),
            "classes": info.get("classes") if isinstance(info.get("classes"), int) else None,
            "input": dims if isinstance(dims, list) and len(dims) == 3 and all(isinstance(d, int) for d in dims) else None,
            "size": sum(sizes) if sizes else None, "framework": str(info.get("framework") or "")[:40]}


def read_store(url: str, timeout: float) -> dict:
    """A store's listing in DIGITS's shape (``base_url``, ``welcome_msg``, ``model_list``), or
    its ``error``."""
    try:
        base = base_url(url)
        master = _get_json(base + "master.json", timeout)
        if not isinstance(master, dict) or not isinstance(master.get("children"), list):
            raise StoreError(f"{base}master.json has no list of children")
    except StoreError as err:
        return {"base_url": url, "welcome_msg": "", "model_list": [], "error": str(err)}
    children = master["children"][:MAX_CHILDREN]
    return {"base_url": base, "welcome_msg": str(master.get("msg") or "")[:500],
            "model_list": [read_model(base, c, timeout) for c in children]}


def listing(refresh: bool = False) -> dict[str, dict]:
    """Every configured store, read once and kept until ``refresh``."""
    ext = current_app.extensions.setdefault("digitsx.store", {})
    if refresh or "listing" not in ext:
        timeout = float(current_app.config.get("STORE_TIMEOUT") or 10)
        stores = {}
        for url in current_app.config.get("MODEL_STORES") or []:
            store = read_store(url, timeout)
            stores[store["base_url"]] = store
        ext["listing"], ext["read"] = stores, time.time()
    return ext["listing"]


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


@bp.route("/store/push", methods=["GET", "POST"])
def push():
    """Import store model ``id`` as a pretrained model; answers the new job's id (plain text,
    as DIGITS; ``{"id", ...}`` to a JSON client)."""
    from .pretrained_routes import create_pretrained

    if request.method == "GET" and request.headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
        # DIGITS's GET makes a job: never on behalf of another site's page (a POST carries the CSRF token)
        raise Forbidden("GET /store/push from another site's page is refused; POST it from this server's store page")
    model = str(request.args.get("id") or form_values().get("id") or "")
    store, entry = find(model)
    if entry.get("error"):
        raise BadRequest(f"{entry['dir_name']} in {store['base_url']}: {entry['error']}")
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 2 * 1024**3)
    spec = {"source": "store", "store": store["base_url"], "folder": entry["dir_name"],
            "files": {local: {**f, "url": store["base_url"] + urllib.parse.quote(entry["dir_name"]) + "/"
                              + urllib.parse.quote(f["name"])} for local, f in entry["files"].items()},
            "info": entry["info"], "standard_network": entry["network"] if entry["standard"] else None,
            "max_bytes": limit}
    job = create_pretrained(entry["name"], spec)
    if wants_json():
        return {"status": "success", "id": job.id, "name": job.name}
    if request.method == "POST" and request.form:
        return redirect(f"/models/{job.id}")
    return job.id, 200, {"Content-Type": "text/plain"}


# -- this server as a store ---------------------------------------------------------------
def published_jobs() -> list:
    return [j for j in platform().store.db.jobs(Status.DONE.value)
            if j.kind == PRETRAINED and j.result.get("published")]


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
    files become readable by anyone who can reach the server. The owner's (or an admin's) act."""
    p = platform()
    job = p.store.get(job_id)
    if job.kind != PRETRAINED or job.status != Status.DONE.value:
        raise BadRequest(f"{job.name} is not a ready pretrained model")
    auth.require_owner(job, "publish")
    if str(form_values().get("published", "1")).lower() in ("0", "false", "no", ""):
        p.store.merge_result(job.id, {"published": None})
        return {"status": "success", "published": False} if wants_json() else redirect(f"/models/{job.id}")
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

