"""What every task's model tests share: the model and snapshot a request names, the image of
a one-image request (checked before anything runs), test jobs under a model (many images: a
list, an archive or a dataset split), and DIGITS's generic ``infer_many``/``infer_db`` answered
at once from the warm worker for a few images.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

from flask import current_app, redirect, request

from .. import auth
from ..archives import archive_suffix
from ..datasets.folder import DatasetFolder
from ..files import within_roots
from ..errors import BadRequest, ValidationError
from ..fields import shown
from ..http import form_values, platform, wants_json
from ..engine import checkpoint
from .checks import declared, readable_image

JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
TRUE = ("1", "y", "yes", "on", "true")


def snapshot_epoch(values: dict) -> str:
    """The ``snapshot_epoch`` field: "best" (blank, or "best": the best validation epoch's
    snapshot), "last" (the newest), or a canonical number ("3", "2.5")."""
    epoch = str(values.get("snapshot_epoch") or "").strip().lower()
    if epoch in ("", "best"):
        return "best"
    if epoch in ("last", "latest", "newest"):
        return "last"
    try:
        return f"{float(epoch):g}"
    except ValueError:
        raise ValidationError({"snapshot_epoch": [f"expected best, last or an epoch number, got "
                                                  f"{shown(epoch)}"]}) from None


def best_epoch(result: dict) -> float | None:
    """The best validation epoch of a model's ``result``, when its snapshot is listed."""
    best = result.get("best") if isinstance(result.get("best"), dict) else {}
    listed = {float(s["epoch"]) for s in result.get("snapshots", []) if isinstance(s, dict)}
    try:
        epoch = float(best.get("epoch"))
    except (TypeError, ValueError):
        return None
    return epoch if epoch in listed else None


def warm_epoch(job_dir, epoch: str) -> str:
    """The epoch a warm worker is keyed by: "best" resolves to the model's best epoch (when
    it has one, else the newest), "" (the newest) to the newest snapshot on disk now, so
    classify one and classify many share one worker, and a model still training is never
    served stale."""
    if epoch == "best":
        job = platform().store.db.get(Path(job_dir).name)
        best = best_epoch(job.result) if job is not None else None
        epoch = f"{best:g}" if best is not None else ""
    if epoch and epoch != "last":
        return epoch
    latest = checkpoint.latest_epoch(job_dir)
    return f"{latest:g}" if latest is not None else ""


def model_and_epoch(values: dict, kind: str, what: str):
    """The model of ``kind`` named by ``job_id`` and the ``snapshot_epoch`` asked for ("" =
    the newest; "best", the default, resolved to the best epoch when the model has one)."""
    job = platform().store.get(str(values.get("job_id", "")))
    if job.kind != kind:
        raise BadRequest(f"{job.name} ({job.id}) is not {what}")
    epoch = snapshot_epoch(values)
    if epoch == "best":
        best = best_epoch(job.result)
        epoch = f"{best:g}" if best is not None else ""
    epoch = "" if epoch == "last" else epoch
    if epoch:
        if float(epoch) not in [float(s["epoch"]) for s in job.result.get("snapshots", [])]:
            raise BadRequest(f"model {job.name} has no snapshot for epoch {epoch}")
    elif not job.result.get("snapshots"):
        raise BadRequest(f"model {job.name} has no snapshot yet")
    return job, epoch


def server_path(path: str, field: str) -> str:
    """An absolute path inside the data roots, or a ValidationError on ``field``."""
    if "\x00" in path:
        raise ValidationError({field: ["a path may not contain a NUL byte"]})
    path = os.path.abspath(os.path.expanduser(path))
    if not within_roots(path, current_app.config["DATA_ROOTS"]):
        raise ValidationError({field: [f"{path} is outside the allowed data roots"]})
    return path


def image_request() -> tuple[dict, bytes | None]:
    """The image a one-image request names: ``image_file`` (→ ``{"image": base64}`` and its
    bytes) or ``image_path`` inside the data roots (→ ``{"path"}``, None); a 400 otherwise."""
    import base64

    upload = request.files.get("image_file")
    values = form_values()
    if upload is not None and upload.filename:
        data = upload.read()
        readable_image(io.BytesIO(data), "image_file", upload.filename)
        checked(values)
        return {"image": base64.b64encode(data).decode()}, data
    path = str(values.get("image_path") or "")
    if not path:
        raise ValidationError({"image_file": ["upload an image or give image_path"]})
    path = server_path(path, "image_path")
    if not os.path.isfile(path):
        raise ValidationError({"image_path": [f"{path} does not exist"]})
    readable_image(path, "image_path", path)
    checked(values)
    return {"path": path}, None


def checked(values) -> None:
    """With ``check_only`` set, a one-image request that passed every check (the model, its
    snapshot, the image) ends here with 200 ``{"checked": true}`` and runs no inference: the
    test-one forms ask this before posting for their result page, so a bad request is answered
    beside the form and a good one is inferred once."""
    if str(values.get("check_only", "")).lower() in ("1", "y", "yes", "on", "true"):
        from flask import abort, jsonify

        abort(jsonify(checked=True))  # a response, not an error: Flask's handlers pass it through


def limit(values: dict) -> int | None:
    """``num_test_images``: test only the first N images (None: every one)."""
    return declared(values, "num_test_images")


def create_job(model, epoch: str, spec: dict, name: str, files: dict | None, kind: str) -> dict:
    """An inference job under the model (its parent); returns the job's JSON."""
    p = platform()
    spec = {"model": {"id": model.id, "dir": str(p.store.job_dir(model.id)), "name": model.name},
            "epoch": float(epoch) if epoch else None, **spec}
    username = auth.require_login()
    auth.rate_limit("new jobs", "JOB_LIMIT")
    job = p.store.create(kind, name, spec, username, None, model.id)
    p.store.put_files(job.id, files or {})
    p.scheduler.submit(job)
    return p.job_json(job)


def accepted(job: dict, anchor: str = ""):
    """A created test job: 202 ``{job_id, status_url, results_url, job}``, or its page."""
    if wants_json():
        return {"job_id": job["id"], "status": job["status"], "url": job["url"],
                "status_url": f"/models/{job['id']}/status",
                "results_url": f"/models/{job['id']}/results.json", "job": job}, 202
    return redirect(job["url"] + anchor)


def _outputs(model, epoch: str, requests: dict[str, dict], ask: dict) -> dict:
    """DIGITS's generic answer for a few images, from the warm worker: ``{"outputs": {key:
    outputs (or {"error": why})}}`` for each ``key: {"path"} or {"image"}`` of ``requests``."""
    p = platform()
    epoch = warm_epoch(p.store.job_dir(model.id), epoch)
    outputs: dict = {}
    for key, image in requests.items():
        try:
            outputs[key] = p.serving.classify(model.id, epoch, {**ask, **image})["outputs"]
        except BadRequest as err:
            outputs[key] = {"error": err.message}
    return {"outputs": outputs}


def infer_db(kind: str, what: str, dataset_kind: str, image_record, ask) -> dict:
    """DIGITS's generic ``infer_db``: the images of a dataset's LMDB through the model, answered
    at once as ``{"outputs": {"<index>": outputs}}``. ``db_path`` names a split of a dataset of
    the model's task: ``<dataset id>/<train|val>`` or that folder's path in the jobs folder;
    ``num_test_images`` takes the first N; at most ``CLASSIFY_MANY_DIRECT`` records (a larger
    split is a test job: ``infer_many`` with ``split``). ``image_record(value)`` is the task's
    image record inside an LMDB value; ``ask(values)`` its infer_one fields."""
    import base64

    from ..datasets.lmdb_io import LmdbReader, image_file

    values = form_values()
    model, epoch = model_and_epoch({"job_id": values.get("job_id", ""),
                                    "snapshot_epoch": values.get("snapshot_epoch", "")}, kind, what)
    asked, most = ask(values), limit(values)
    folder, split = _db_split(str(values.get("db_path") or "").strip(), dataset_kind)
    count = min(folder.entries(split), most or folder.entries(split))
    direct = int(current_app.config.get("CLASSIFY_MANY_DIRECT", 1000))
    if count > direct:
        raise ValidationError({"db_path": [
            f"{count} images: at most {direct} are answered at once; give num_test_images, or use "
            f"infer_many with split={split} for a test job"]})
    reader = LmdbReader(folder.folder / split)
    try:
        images = {str(i): {"image": base64.b64encode(image_file(image_record(reader.raw(i)))[0]).decode()}
                  for i in range(count)}
    finally:
        reader.close()
    return _outputs(model, epoch, images, asked)


def _db_split(db_path: str, dataset_kind: str) -> tuple[DatasetFolder, str]:
    """(the dataset folder, the split) ``db_path`` names, or a 400 on ``db_path``."""
    store = platform().store
    path = Path(db_path)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(store.jobs_dir.resolve())
        except (ValueError, OSError):
            raise ValidationError({"db_path": [f"{db_path} is not a dataset's split in the jobs folder"]}) from None
    parts = path.parts[:-1] if path.parts[-1:] == ("data.mdb",) else path.parts
    if len(parts) != 2 or parts[1] not in ("train", "val") or not JOB_ID.fullmatch(parts[0]):
        raise ValidationError({"db_path": [f"expected <dataset id>/<train|val>, got {db_path!r}"]})
    job = store.db.get(parts[0])
    if job is None or job.kind != dataset_kind:
        raise ValidationError({"db_path": [f"{parts[0]} is not a dataset of this model's task"]})
    folder = DatasetFolder(store.job_dir(job.id))
    if not folder.has_split(parts[1]):
        raise ValidationError({"db_path": [f"dataset {job.name} has no {parts[1]} images"]})
    return folder, parts[1]


def submit_test(kind: str, what: str, test_kind: str, extra=lambda model: {}, ask=None):
    """Any generic task's ``infer_many``: the model (``job_id``, ``snapshot_epoch``), and its
    images: ``split`` (val or train: the dataset's, with their labels), ``image_archive``, or
    ``image_list`` (paths; relative to ``image_folder``; inside the data roots); a test job of
    ``test_kind`` (202). ``extra(model)`` adds the task's own keys to the job's spec.

    As DIGITS did, a JSON ``image_list`` of at most ``CLASSIFY_MANY_DIRECT`` images (and no
    ``background``) is answered in the request: ``{"outputs": {path: infer_one's outputs}}``
    from the warm worker, each image asked with ``ask(values)`` (the task's infer_one fields,
    checked)."""
    values = form_values()
    model, epoch = model_and_epoch({"job_id": values.get("job_id", ""),
                                    "snapshot_epoch": values.get("snapshot_epoch", "")}, kind, what)
    spec: dict = {"limit": limit(values), **extra(model)}
    files: dict = {}
    archive = request.files.get("image_archive")
    upload = request.files.get("image_list")
    if str(values.get("split") or "") in ("val", "train"):
        spec.update(source="split", split=str(values["split"]))
        name = f"{model.name}: {values['split']} images"
    elif archive is not None and archive.filename:
        suffix = archive_suffix(archive.filename)
        if suffix is None:
            raise ValidationError({"image_archive": ["upload a .zip, .tar, .tar.gz or .tgz of images"]})
        spec.update(source="archive", archive=f"uploads/images{suffix}")
        files[spec["archive"]] = archive
        name = f"{model.name}: {archive.filename}"
    elif upload is not None and upload.filename:
        folder = str(values.get("image_folder") or "")
        paths, errors = [], []
        for number, line in enumerate(upload.read().decode("utf-8", "replace").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = line if os.path.isabs(line) or not folder else os.path.join(folder, line)
            try:
                paths.append(server_path(path, "image_list"))
            except ValidationError:
                errors.append(f"line {number}: {os.path.abspath(path)} is outside the allowed data roots")
        if errors or not paths:
            raise ValidationError({"image_list": errors[:10] or ["the list has no image paths"]})
        direct = int(current_app.config.get("CLASSIFY_MANY_DIRECT", 1000))
        paths = paths[:spec["limit"]] if spec["limit"] else paths
        if ask is not None and wants_json() and len(paths) <= direct \
                and str(values.get("background", "")).lower() not in TRUE:
            return _outputs(model, epoch, {path: {"path": path} for path in paths}, ask(values))
        spec.update(source="list")
        files["inputs/images.txt"] = "".join(f"{p}\n" for p in paths)
        name = f"{model.name}: {len(paths)} images"
    else:
        raise ValidationError({"image_list": ["upload a list of image paths, an archive "
                                              "(image_archive), or choose split=val"]})
    job = create_job(model, epoch, spec, str(values.get("job_name") or name), files, kind=test_kind)
    return accepted(job)
