"""Object-detection routes: the dataset and model forms and creates, Explore with boxes,
infer_one (the box view) and infer_many (test jobs), test results. The model create,
infer_one and infer_many views answer DIGITS's generic routes through
:mod:`digitsx.models.generic`, which picks detection by the dataset's or model's kind."""
from __future__ import annotations

import base64
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file

from ..errors import BadRequest, NotFound, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_defaults, form_values, page, platform, twin_route, wants_json
from ..models.testing import JOB_ID, image_request, model_and_epoch, snapshot_epoch, warm_epoch
from . import DATASET, MODEL, TEST, forms
from ..schemas import answers

bp = Blueprint("detection", __name__)
WHAT = "an object detection model"
ONE_IMAGE = Form("Detect objects in one image", {  # beside job_id, snapshot_epoch and the image
    "min_confidence": Field("float", None, 0, 1, blank=True,
                            help="leave out detections scoring below this (blank: 0.05, all the "
                                 "view's slider can show)"),
})


# -- datasets ---------------------------------------------------------------------------------
@bp.route("/datasets/images/object-detection/new")
@page
def new_dataset():
    """The new object-detection dataset form (``?clone=<id>`` fills it in)."""
    values = form_defaults(forms.DATASET_DEFAULTS, "dataset_name")
    return render_template("detection/dataset_new.html", values=values, form_fields=forms.DATASET_FORM.fields,
                           roots=current_app.config["DATA_ROOTS"])


@twin_route(bp, "/datasets/generic/create/image-object-detection", methods=["POST"])
@accepts(forms.DATASET_FORM)
@answers("Created")
def create_dataset():
    """Create an object-detection dataset job: ``{id, name, status}`` (400 ``errors``)."""
    from ..datasets.routes import create_dataset as create

    return create(DATASET, forms.parse_dataset)


def _dataset(job_id: str):
    job = platform().store.get(job_id)
    if job.kind != DATASET:
        raise BadRequest(f"{job.name} ({job.id}) is not an object detection dataset")
    return job


@twin_route(bp, "/datasets/<job_id>/detection/explore")
def explore(job_id: str):
    """A page of stored images with their boxes: ``split``, ``page``, ``size``, ``class``."""
    from ..datasets.explore import page_args
    from ..datasets.folder import DatasetFolder
    from ..datasets.lmdb_io import LmdbReader
    from . import records

    job = _dataset(job_id)
    folder = DatasetFolder(platform().store.job_dir(job.id))
    split, page_no, size = page_args(request.args)
    try:
        wanted = int(request.args["class"]) if request.args.get("class", "") != "" else None
    except ValueError:
        raise BadRequest("class: expected a class id") from None
    total = folder.entries(split)
    items = []
    if total and folder.has_split(split):
        reader = LmdbReader(folder.folder / split)
        try:
            index, skipped = 0, 0
            while index < total and len(items) < size:
                boxes, _ = records.split(reader.raw(index))
                if wanted is None or (boxes[:, 4] == wanted).any():
                    if skipped >= page_no * size:
                        items.append({"index": index, "url": f"/datasets/{job.id}/detection/images/{split}/{index}",
                                      "boxes": [[round(float(v), 1) for v in row[:4]] + [int(row[4]), int(row[5])]
                                                for row in boxes]})
                    skipped += 1
                index += 1
        finally:
            reader.close()
    data = {"split": split, "page": page_no, "size": size, "total": total, "class": wanted,
            "labels": folder.labels, "images": items}
    if wants_json():
        return data
    return render_template("detection/explore.html", job=platform().job_json(job), data=data)


@bp.route("/datasets/<job_id>/detection/images/<split>/<int:index>")
def stored_image(job_id: str, split: str, index: int):
    """One stored (padded, resized) image."""
    from ..datasets.lmdb_io import LmdbReader, image_file
    from . import records

    job = _dataset(job_id)
    if split not in ("train", "val"):
        raise NotFound("no such split")
    path = platform().store.job_dir(job.id) / split
    if not (path / "data.mdb").exists():
        raise NotFound(f"dataset {job.name} has no {split} images")
    reader = LmdbReader(path)
    try:
        _, image = records.split(reader.raw(index))
    except IndexError:
        raise NotFound(f"no image {index} in {split}") from None
    finally:
        reader.close()
    payload, encoding = image_file(image)
    return Response(payload, mimetype="image/png" if encoding == "png" else "image/jpeg",
                    headers={"Cache-Control": "max-age=86400"})


# -- models ------------------------------------------------------------------------------------
@bp.route("/models/images/object-detection/new")
@page
def new_model():
    """The new object-detection model form (``?clone=<id>`` fills it in)."""
    from ..models.generic import new_model_page

    return new_model_page("detection", "object detection", DATASET, MODEL, forms.MODEL_FORM,
                          forms.MODEL_DEFAULTS, "detection.new_dataset", "build(num_classes, image_size)")


def create_model():
    """Create an object-detection model job (one per learning rate × batch size)."""
    from ..models.create import create_models

    return create_models(MODEL, forms.parse_model)


# -- inference ---------------------------------------------------------------------------------
WEAK_F1 = 0.2  # below this F1 at its best threshold on validation, boxes are not reliable yet


def _readiness(job) -> dict:
    """How far the model has come, from its last validation: epochs, mAP@0.5, the F1 at the
    F1-best threshold, and whether that is too weak for its boxes to mean much."""
    v = job.result.get("validation") or {}
    try:
        p, r = float(v.get("precision") or 0), float(v.get("recall") or 0)
        map_50 = float(v.get("map_50") or 0)
    except (TypeError, ValueError):
        p = r = map_50 = 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"epochs": v.get("epoch") or 0, "map_50": map_50, "f1": round(f1, 4),
            "validated": bool(v), "weak": f1 < WEAK_F1}


def _threshold(job) -> float:
    """Where the view's slider starts: the F1-best confidence on validation; for a model too
    weak to trust (F1 < 0.2), at least 0.5, so noise is not drawn as 300 boxes."""
    validation = job.result.get("validation") or {}
    try:
        found = round(float(validation.get("threshold", 0.5)), 3)
    except (TypeError, ValueError):
        found = 0.5
    return max(found, 0.5) if _readiness(job)["weak"] else found


def infer_one():
    """Detect objects in one image (``image_file`` or ``image_path``) with a snapshot:
    DIGITS's ``{"outputs": {"bbox-list": [[l, t, r, b, confidence, class]...]}}`` plus
    ``detections``; the page draws them with a confidence slider."""
    started = time.perf_counter()
    values = form_values()
    p = platform()
    job_id = str(values.get("job_id", ""))
    epoch = snapshot_epoch(values)
    job, epoch = model_and_epoch({"job_id": job_id, "snapshot_epoch": epoch}, MODEL, WHAT)
    if JOB_ID.fullmatch(job_id):
        epoch = warm_epoch(p.store.job_dir(job_id), epoch)
    wanted = _asked(values)
    ask, data = image_request()
    answer = p.serving.classify(job_id, epoch, {**ask, **wanted})
    answer["threshold"] = _threshold(job)
    answer["readiness"] = _readiness(job)
    if wants_json():
        response = jsonify({k: answer[k] for k in ("outputs", "detections", "threshold", "image_size",
                                                   "labels", "timing", "readiness") if k in answer})
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
        return response
    shown = data if data is not None else open(ask["path"], "rb").read()
    return render_template("detection/infer_one.html", job=p.job_json(job), answer=answer,
                           image=base64.b64encode(shown).decode())


def infer_db():
    """A dataset's stored images (``db_path``) through the model: ``{"outputs": {"<index>":
    {"bbox-list": ...}}}``, with ``min_confidence``."""
    from ..models.testing import infer_db as run
    from . import records

    return run(MODEL, WHAT, DATASET, lambda value: records.split(value)[1], _asked)


def _asked(values: dict) -> dict:
    """What one image is asked with beside itself: ``min_confidence`` when given (checked)."""
    fields = ONE_IMAGE.reader(values)
    least = fields.number("min_confidence")
    if fields.errors:
        raise ValidationError(fields.errors)
    return {} if least is None else {"min_confidence": least}


def infer_many():
    """A test job over many images: ``image_list`` (paths, one per line; relative to
    ``image_folder``), ``image_archive``, or ``split=val`` (the validation images, with their
    boxes: mAP and the PR curve); ``min_confidence`` leaves out the lower-scoring detections from
its lists (the mAP still counts every detection). Answers 202 with the job; a short JSON ``image_list`` is
    answered at once, as DIGITS did (``{"outputs": {path: {"bbox-list": ...}}}``, with
    ``min_confidence`` as infer_one takes it)."""
    from ..models.testing import submit_test

    return submit_test(MODEL, WHAT, TEST, lambda model: {"threshold": _threshold(model),
                                                         **_asked(form_values())}, _asked)


def _test_file(job_id: str, relative: str):
    """A file of a detection test's ``results/`` (404 until it exists)."""
    p = platform()
    job = p.store.get(job_id)
    if job.kind != TEST:
        raise BadRequest(f"{job.name} ({job.id}) is not an object detection test")
    path = p.store.job_dir(job.id) / "results" / relative
    if not path.exists():
        raise NotFound(f"test {job.name} has no {relative} (yet)")
    return job, path


@bp.route("/models/<job_id>/detections.<any(json, csv):ext>")
def detections(job_id: str, ext: str):
    """A detection test's every detection, as JSON (with the report) or CSV."""
    job, path = _test_file(job_id, f"detections.{ext}")
    return send_file(path, mimetype="application/json" if ext == "json" else "text/csv",
                     as_attachment=ext == "csv", download_name=f"{job.id}_detections.{ext}")


@bp.route("/models/<job_id>/detection-images/<int:index>.jpg")
def gallery_image(job_id: str, index: int):
    """A gallery image of a detection test report."""
    return send_file(_test_file(job_id, f"images/{index}.jpg")[1], mimetype="image/jpeg")
