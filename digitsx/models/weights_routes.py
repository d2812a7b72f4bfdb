"""The published-weights cache over HTTP: what is there and what is missing (``GET
/weights.json``, also on the System page), and importing a file for an air-gapped host
(``POST /weights/import``: an upload, or a server path under the data roots). Importing
writes a file every job loads: an admin's act when accounts are on."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, redirect, request

from .. import auth
from ..engine import weights_cache
from ..errors import BadRequest, ValidationError
from ..files import within_roots
from ..http import form_values, wants_json
from . import published

bp = Blueprint("weights", __name__)


def state() -> dict:
    """The cache listing (files, checked or not; each missing file's name and where it goes),
    the mirror, and the folder."""
    config = current_app.config
    listing = weights_cache.listing(config["WEIGHTS_DIR"], published.weights())
    return {**listing, "cache": config["WEIGHTS_DIR"], "mirror": config.get("WEIGHTS_MIRROR") or None}


@bp.route("/weights.json")
def listing():
    """``{folder, files: [{file, size, weights, verified, sha256, source}], missing: [{file,
    weights, url, path, size_mb}], mirror}``."""
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
                                      f"uploaded as {upload.filename}")
        elif path:
            if not within_roots(path, current_app.config["DATA_ROOTS"]) or not Path(path).is_file():
                raise ValidationError({"path": [f"{path} is not a file under the data roots "
                                                f"({', '.join(current_app.config['DATA_ROOTS'])})"]})
            with open(path, "rb") as source:
                weights_cache.import_file(source, entry, current_app.config["WEIGHTS_DIR"], f"imported from {path}")
        else:
            raise ValidationError({"file": ["upload the file, or give its path on the server"]})
    except weights_cache.WeightsError as err:
        raise BadRequest(str(err)) from None
    if wants_json():
        return {"status": "success", "weights": entry["name"], "file": entry["file"]}
    return redirect("/system#weights")
