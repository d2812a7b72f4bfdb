"""The published-weights cache over HTTP: what is there and what is missing (``GET
/weights.json``, also on the System page), and importing a file for an air-gapped host
(``POST /weights/import``: an upload, or a server path under the data roots). Importing
writes a file every job loads: an admin's act when accounts are on."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, redirect, request

from .. import auth
from ..engine import weights_cache
from ..errors import BadRequest, Conflict, ValidationError
from ..files import within_roots
from ..http import form_values, wants_json
from . import published

bp = Blueprint("weights", __name__)


def _admin() -> bool:
    """Whether the caller may see the server's paths and sources: anyone in open mode (one
    person's machine), an admin when accounts are on."""
    if current_app.config["AUTH"] != "password":
        return True
    caller = auth.current_caller()
    return bool(caller is not None and caller.is_admin)


def state() -> dict:
    """The cache listing (files, checked or not; each missing file's name and where it goes),
    the mirror, and the folder; the server's paths, the mirror and where each file came from
    only for an admin when accounts are on."""
    config = current_app.config
    listing = weights_cache.listing(config["WEIGHTS_DIR"], published.weights())
    out = {**listing, "cache": config["WEIGHTS_DIR"], "mirror": config.get("WEIGHTS_MIRROR") or None}
    if not _admin():
        out.update(folder=None, cache=None, mirror=None,
                   files=[{**f, "source": None} for f in out["files"]],
                   missing=[{**m, "path": None} for m in out["missing"]])
    return out


@bp.route("/weights.json")
def listing():
    """``{folder, files: [{file, size, weights, verified, pinned, sha256, source}], missing:
    [{file, weights, url, path, size_mb}], mirror}`` (``folder``, ``path``, ``source`` and the
    mirror are null for a user who is not an admin when accounts are on)."""
    auth.require_login()
    return state()


def _importer() -> None:
    if current_app.config["AUTH"] == "password":
        auth.require_admin()
    else:
        auth.require_login()


@bp.route("/weights/import", methods=["POST"])
def import_weights():
    """Put a published weights file into the cache: ``weights`` (torchvision's name, e.g.
    ``ResNet18_Weights.IMAGENET1K_V1``) and ``file`` (an upload) or ``path`` (a file on the
    server, under the data roots). Checked against the published SHA-256 like a download."""
    _importer()
    values = form_values()
    name = str(values.get("weights") or "").strip()
    entry = next((w for n, w in published.weights().items() if n.lower() == name.lower()), None)
    if entry is None:
        raise ValidationError({"weights": [f"{name or '(none)'} is not published weights; one of "
                                           f"{', '.join(published.weights())}"]})
    upload = request.files.get("file")
    path = str(values.get("path") or "").strip()
    try:
        if upload is not None and upload.filename:
            weights_cache.import_file(upload.stream, entry, current_app.config["WEIGHTS_DIR"],
                                      f"uploaded as {upload.filename}", wait=False)
        elif path:
            if not within_roots(path, current_app.config["DATA_ROOTS"]) or not Path(path).is_file():
                raise ValidationError({"path": [f"{path} is not a file under the data roots "
                                                f"({', '.join(current_app.config['DATA_ROOTS'])})"]})
            with open(path, "rb") as source:
                weights_cache.import_file(source, entry, current_app.config["WEIGHTS_DIR"],
                                          f"imported from {path}", wait=False)
        else:
            raise ValidationError({"file": ["upload the file, or give its path on the server"]})
    except weights_cache.Busy as err:  # never wait on the lock: the whole server would
        raise Conflict(str(err)) from None
    except weights_cache.WeightsError as err:
        raise BadRequest(str(err)) from None
    if wants_json():
        return {"status": "success", "weights": entry["name"], "file": entry["file"]}
    return redirect("/system#weights")
