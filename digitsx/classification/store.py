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
import threading
import time
import unicodedata
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, send_file

from .. import auth, netfetch
from ..errors import BadRequest, NotFound
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


BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
USE_MEAN = ("none", "image", "pixel")
RESIZE = ("squash", "crop", "fill", "half_crop")
MAX_DIM = 4096
MAX_FILE = 2**40


def _refuse_constant(name: str) -> Any:
    raise StoreError(f"{name} is not a number JSON allows")


def _get_json(url: str, timeout: float) -> Any:
    """A small JSON document of a store, read under a total deadline (``timeout``) and a size
    cap; NaN, Infinity and nesting too deep to read are errors, as is anything that is not JSON."""
    try:
        body = netfetch.read(url, MAX_JSON, timeout)
    except netfetch.FetchError as err:
        raise StoreError(str(err)) from None
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise StoreError(f"{url[:200]} is nested too deeply to read") from None
    except StoreError as err:
        raise StoreError(f"{url[:200]}: {err}") from None
    except ValueError:
        raise StoreError(f"{url[:200]} is not JSON") from None


def base_url(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise StoreError(f"{url!r}: a store is an http:// or https:// URL")
    return url if url.endswith("/") else url + "/"


def text(value: Any, what: str, limit: int, default: str = "") -> str:
    """A store's string: at most ``limit`` characters, no control or bidirectional-override
    characters (a NUL, a newline or U+202E in a name breaks logs and misleads on a page)."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise StoreError(f"info.json's {what!r} is not a string")
    if len(value) > limit:
        raise StoreError(f"info.json's {what!r} is longer than {limit} characters")
    if any(unicodedata.category(c) == "Cc" or c in BIDI for c in value):
        raise StoreError(f"info.json's {what!r} holds control or bidirectional characters")
    return value


def integer(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StoreError(f"info.json's {what!r} must be a whole number from {low} to {high}")
    return value


def clean_info(info: Any) -> dict:
    """A model's ``info.json`` checked against its schema, as a new dict of the keys we use:
    strings of bounded length without control characters, bounded whole numbers (``image
    dimensions``, ``classes``, ``crop_size``, sizes), ``sha256`` digests of 64 hex digits in
    any case (kept lower-case; a malformed one is an error, never a skipped check)."""
    if not isinstance(info, dict):
        raise StoreError("info.json is not an object")
    if len(info) > 64:
        raise StoreError("info.json has more than 64 keys")
    out: dict[str, Any] = {}
    for key, limit in (("name", 200), ("task", 60), ("network", 64), ("framework", 40),
                       ("image resize mode", 20)):
        if info.get(key) is not None:
            out[key] = text(info[key], key, limit)
    if out.get("image resize mode") not in (None, *RESIZE):
        raise StoreError(f"info.json's 'image resize mode' must be one of {', '.join(RESIZE)}")
    for key, _ in FILE_KEYS:
        if info.get(key) not in (None, ""):
            out[key] = text(info[key], key, 128)
    if info.get("classes") is not None:
        out["classes"] = integer(info["classes"], "classes", 1, 100_000)
    dims = info.get("image dimensions")
    if dims is not None:
        if not isinstance(dims, list) or len(dims) != 3:
            raise StoreError("info.json's 'image dimensions' must be [height, width, channels]")
        out["image dimensions"] = [integer(d, "image dimensions", 1, MAX_DIM) for d in dims]
        if out["image dimensions"][2] not in (1, 3):
            raise StoreError("info.json's 'image dimensions' must have 1 or 3 channels")
    pre = info.get("preprocessing")
    if pre is not None:
        if not isinstance(pre, dict):
            raise StoreError("info.json's 'preprocessing' is not an object")
        mean = text(pre.get("use_mean"), "use_mean", 10, "none")
        if mean not in USE_MEAN:
            raise StoreError(f"info.json's 'use_mean' must be one of {', '.join(USE_MEAN)}")
        crop = pre.get("crop_size")
        if crop is not None:
            side = min(out["image dimensions"][:2]) if "image dimensions" in out else MAX_DIM
            crop = integer(crop, "crop_size", 1, side)
        out["preprocessing"] = {"use_mean": mean, "crop_size": crop}
    for key, check in (("sha256", _digest), ("sizes", lambda v, n: integer(v, f"sizes of {n}", 0, MAX_FILE))):
        found = info.get(key)
        if found is None:
            continue
        if not isinstance(found, dict) or len(found) > 16:
            raise StoreError(f"info.json's {key!r} must be an object of at most 16 files")
        out[key] = {text(n, f"{key} file name", 128): check(v, n) for n, v in found.items()}
    return out


def _digest(value: Any, name: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise StoreError(f"info.json's sha256 of {str(name)[:80]!r} is not 64 hex digits")
    return value.lower()


def files_of(info: dict) -> dict[str, dict]:
    """The files a model's (clean) ``info.json`` names → ``{local name: {"name", "sha256",
    "size"}}``; StoreError for a name that leaves its folder or a model without weights or
    network. Digest and size keys match file names in any case."""
    hashes = {k.lower(): v for k, v in (info.get("sha256") or {}).items()}
    sizes = {k.lower(): v for k, v in (info.get("sizes") or {}).items()}
    out: dict[str, dict] = {}
    for key, local in FILE_KEYS:
        name = info.get(key)
        if name in (None, "") or local in out:
            continue
        if not isinstance(name, str) or not NAME.match(name) or ".." in name:
            raise StoreError(f"info.json's {key!r} names {str(name)[:80]!r}: only a file inside the model's folder")
        out[local] = {"name": name, "sha256": hashes.get(name.lower()), "size": sizes.get(name.lower())}
    for needed, what in (("model.pt", "snapshot file"), ("network.py", "model file")):
        if needed not in out:
            raise StoreError(f"info.json names no {what!r}")
    return out


def model_id(base: str, child: str) -> str:
    return hashlib.sha1(f"{base}{child}".encode()).hexdigest()[:16]


def read_model(base: str, child: Any, timeout: float) -> dict:
    """One model folder of a store: DIGITS's ``{dir_name, id, info}`` plus what the page shows
    (name, task, network, classes, input, size) or its ``error``: whatever is wrong with one
    entry is that entry's error alone."""
    entry: dict[str, Any] = {"dir_name": str(child)[:128], "id": model_id(base, str(child))}
    try:
        if not isinstance(child, str) or not NAME.match(child) or ".." in child:
            raise StoreError(f"master.json lists {str(child)[:80]!r}, not a folder name")
        info = clean_info(_get_json(base + urllib.parse.quote(child) + "/info.json", timeout))
        files = files_of(info)
    except StoreError as err:
        return {**entry, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - a store's garbage is its own error, never a 500
        return {**entry, "error": f"info.json could not be read ({type(err).__name__})"}
    network = info.get("network")
    sizes = [f["size"] for f in files.values() if f["size"]]
    return {**entry, "info": info, "files": files, "name": info.get("name") or child,
            "task": info.get("task") or "image classification", "network": network,
            "standard": network in registry.names("classification"),
            "classes": info.get("classes"), "input": info.get("image dimensions"),
            "size": sum(sizes) if sizes else None, "framework": info.get("framework") or ""}


def read_store(url: str, timeout: float) -> dict:
    """A store's listing in DIGITS's shape (``base_url``, ``welcome_msg``, ``model_list``), or
    its ``error``; its models are read side by side, each under the same deadline."""
    try:
        base = base_url(url)
        master = _get_json(base + "master.json", timeout)
        if not isinstance(master, dict) or not isinstance(master.get("children"), list):
            raise StoreError(f"{base}master.json has no list of children")
        welcome = master.get("msg")
        welcome = welcome[:500] if isinstance(welcome, str) else ""
        welcome = "".join(c for c in welcome if unicodedata.category(c) != "Cc" and c not in BIDI)
    except StoreError as err:
        return {"base_url": url, "welcome_msg": "", "model_list": [], "error": str(err)}
    except Exception as err:  # noqa: BLE001
        return {"base_url": url, "welcome_msg": "", "model_list": [],
                "error": f"{url[:200]}: master.json could not be read ({type(err).__name__})"}
    children = master["children"][:MAX_CHILDREN]
    with ThreadPoolExecutor(max_workers=8) as pool:
        models = list(pool.map(lambda c: read_model(base, c, timeout), children))
    return {"base_url": base, "welcome_msg": welcome, "model_list": models}


REFRESH_SECONDS = 30.0  # ?refresh=1 reads the stores again at most this often


class Listing:
    """Every configured store, read in the background and shared: one read at a time, however
    many requests ask; a request waits for the first read (each transfer has its deadline) and
    later ones answer what was read last, while ``?refresh=1`` (at most every
    ``REFRESH_SECONDS``) reads again."""

    def __init__(self, urls: list[str], timeout: float, spawn) -> None:
        self.urls, self.timeout, self.spawn = urls, timeout, spawn
        self.stores: dict[str, dict] | None = None
        self.read_at = 0.0
        self.reading: threading.Event | None = None
        self._lock = threading.Lock()

    def _read(self, done: threading.Event) -> None:
        try:
            stores = {}
            with ThreadPoolExecutor(max_workers=4) as pool:
                for store in pool.map(lambda u: read_store(u, self.timeout), self.urls):
                    stores[store["base_url"]] = store
            self.stores, self.read_at = stores, time.time()
        finally:
            with self._lock:
                self.reading = None
            done.set()

    def get(self, refresh: bool = False) -> dict[str, dict]:
        with self._lock:
            due = self.stores is None or (refresh and time.time() - self.read_at >= REFRESH_SECONDS)
            if due and self.reading is None:
                self.reading = threading.Event()
                self.spawn(self._read, self.reading)
            waiting = self.reading
        if waiting is not None and (self.stores is None or refresh):
            # the whole read is bounded: the master, then the models side by side
            waiting.wait(self.timeout * 2 + 5)
        return self.stores if self.stores is not None else {
            u: {"base_url": u, "welcome_msg": "", "model_list": [], "error": "still being read"}
            for u in self.urls}


def listing(refresh: bool = False) -> dict[str, dict]:
    """Every configured store, read once in the background and shared (``refresh``: again, at
    most every ``REFRESH_SECONDS``)."""
    ext = current_app.extensions
    if "digitsx.store" not in ext:
        ext["digitsx.store"] = Listing(list(current_app.config.get("MODEL_STORES") or []),
                                       float(current_app.config.get("STORE_TIMEOUT") or 10),
                                       lambda fn, *a: threading.Thread(target=fn, args=a, daemon=True).start())
    return ext["digitsx.store"].get(refresh)


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

