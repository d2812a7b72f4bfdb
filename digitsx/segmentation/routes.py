"""Segmentation routes: the dataset and model forms and creates, infer_one (the overlay view)
and infer_many (test jobs) — the last three answer DIGITS's generic routes through
:mod:`digitsx.models.generic` — and test results."""
from __future__ import annotations

import base64

from flask import Blueprint, current_app, jsonify, render_template, request, send_file

from ..errors import BadRequest, NotFound, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_defaults, form_values, page, platform, twin_route, wants_json
from ..models.testing import JOB_ID, image_request, model_and_epoch, snapshot_epoch, warm_epoch
from . import DATASET, MODEL, TEST, forms
from ..schemas import answers

bp = Blueprint("segmentation", __name__)
WHAT = "a segmentation model"
ONE_IMAGE = Form("Segment one image", {  # beside job_id, snapshot_epoch, the image, dont_resize
    "class_map_format": Field("choice", "json", options=("json", "png"),
                              help="json: DIGITS's class_map lists; png: class_map_png, a base64 "
                                   "palette PNG whose pixel values are the classes (far smaller)"),
    "min_confidence": Field("float", None, 0, 1, blank=True,
                            help="detection's: checked (0-1) so a generic client may send it, and "
                                 "not applied: a class map has a class for every pixel"),
    "dont_resize": Field("flag", "", help="the image at its own size, not the network's"),
})


@bp.route("/datasets/images/segmentation/new")
@page
def new_dataset():
    values = form_defaults(forms.DATASET_DEFAULTS, "dataset_name")
    return render_template("segmentation/dataset_new.html", values=values, roots=current_app.config["DATA_ROOTS"],
                           form_fields=forms.DATASET_FORM.fields)


@twin_route(bp, "/datasets/generic/create/image-segmentation", methods=["POST"])
@accepts(forms.DATASET_FORM)
@answers("Created")
def create_dataset():
    """Create a segmentation dataset job: ``{id, name, status}`` (400 ``errors``)."""
    from ..datasets.routes import create_dataset as create

    return create(DATASET, forms.parse_dataset)


@bp.route("/models/images/segmentation/new")
@page
def new_model():
    """The new segmentation model form (``?clone=<id>`` fills it in)."""
    from ..models.generic import new_model_page

    return new_model_page("segmentation", "segmentation", DATASET, MODEL, forms.MODEL_FORM,
                          forms.MODEL_DEFAULTS, "segmentation.new_dataset", "build(num_classes, in_channels)")


def create_model():
    """Create a segmentation model job (one per learning rate × batch size)."""
    from ..models.create import create_models

    return create_models(MODEL, forms.parse_model)


def infer_one():
    """Segment one image: DIGITS's ``{"outputs": {"class_map": [[...]]}}`` with the class names
    and palette; the page overlays it (opacity, contours, hover) in the browser."""
    values = form_values()
    p = platform()
    job_id = str(values.get("job_id", ""))
    job, epoch = model_and_epoch({"job_id": job_id, "snapshot_epoch": snapshot_epoch(values)}, MODEL, WHAT)
    if JOB_ID.fullmatch(job_id):
        epoch = warm_epoch(p.store.job_dir(job_id), epoch)
    wanted = _asked(values)
    if not wants_json():
        wanted["class_map_format"] = "index_png"  # the page reads it back in a canvas
    ask, data = image_request()
    answer = p.serving.classify(job_id, epoch, {**ask, **wanted})
    v = job.result.get("validation") or {}
    answer["readiness"] = {"epochs": v.get("epoch") or 0, "validated": bool(v),
                           "miou": v.get("miou"), "accuracy": v.get("accuracy")}
    if wants_json():
        return jsonify({k: answer[k] for k in ("outputs", "labels", "palette", "image_size", "timing", "readiness")
                        if k in answer})
    shown = data if data is not None else open(ask["path"], "rb").read()
    return render_template("segmentation/infer_one.html", job=p.job_json(job), answer=answer,
                           image=base64.b64encode(shown).decode())


def infer_db():
    """A dataset's stored images (``db_path``) through the model: ``{"outputs": {"<index>":
    {"class_map": ...}}}`` (``class_map_format=png``: ``class_map_png``)."""
    from ..models.testing import infer_db as run
    from . import records

    return run(MODEL, WHAT, DATASET, lambda value: records.split(value)[0], _asked)


def _asked(values: dict) -> dict:
    """What one image is asked with beside itself: ``class_map_format`` (checked), ``dont_resize``."""
    fields = ONE_IMAGE.reader(values)
    shape = fields.choice("class_map_format")
    fields.number("min_confidence")  # validated, not applied (see ONE_IMAGE)
    dont_resize = fields.flag("dont_resize")
    if fields.errors:
        raise ValidationError(fields.errors)
    return {"class_map_format": shape, "dont_resize": dont_resize}


def infer_many():
    """A test job: ``image_list``, ``image_archive`` or ``split=val`` (with labels: mIoU); a
    short JSON ``image_list`` is answered at once, as DIGITS did (``{"outputs": {path:
    {"class_map": ...}}}``, or ``class_map_png`` with ``class_map_format=png``)."""
    from ..models.testing import submit_test

    return submit_test(MODEL, WHAT, TEST, ask=_asked)


def _test_file(job_id: str, relative: str):
    p = platform()
    job = p.store.get(job_id)
    if job.kind != TEST:
        raise BadRequest(f"{job.name} ({job.id}) is not a segmentation test")
    path = p.store.job_dir(job.id) / "results" / relative
    if not path.exists():
        raise NotFound(f"test {job.name} has no {relative} (yet)")
    return path


@bp.route("/models/<job_id>/segmentation.json")
def results(job_id: str):
    """A segmentation test's report and every image's row."""
    return send_file(_test_file(job_id, "segmentation.json"), mimetype="application/json")


@bp.route("/models/<job_id>/segmentation-images/<int:index>_<any(image, label, predicted):part>.png")
def gallery_image(job_id: str, index: int, part: str):
    return send_file(_test_file(job_id, f"images/{index}_{part}.png"), mimetype="image/png")


def _dataset(job_id: str):
    job = platform().store.get(job_id)
    if job.kind != DATASET:
        raise BadRequest(f"{job.name} ({job.id}) is not a segmentation dataset")
    return job


@twin_route(bp, "/datasets/<job_id>/segmentation/explore")
def explore(job_id: str):
    """A page of stored images with their labels overlaid (``split``, ``page``, ``size``)."""
    from ..datasets.explore import page_args
    from ..datasets.folder import DatasetFolder

    job = _dataset(job_id)
    folder = DatasetFolder(platform().store.job_dir(job.id))
    split, page_no, size = page_args(request.args)
    total = folder.entries(split)
    indexes = range(page_no * size, min(total, (page_no + 1) * size))
    data = {"split": split, "page": page_no, "size": size, "total": total, "labels": folder.labels,
            "palette": (folder.read_meta() or {}).get("palette"),
            "images": [{"index": i, "image": f"/datasets/{job.id}/segmentation/{split}/{i}/image.png",
                        "label": f"/datasets/{job.id}/segmentation/{split}/{i}/label.png"} for i in indexes]}
    if wants_json():
        return data
    return render_template("segmentation/explore.html", job=platform().job_json(job), data=data)


@bp.route("/datasets/<job_id>/segmentation/<any(train, val):split>/<int:index>/<any(image, label):part>.png")
def stored(job_id: str, split: str, index: int, part: str):
    """A stored image, or its label coloured with the dataset's palette (class 0 and ignore
    transparent), as PNG."""
    import io

    import numpy as np
    from flask import Response
    from PIL import Image

    from ..datasets.folder import DatasetFolder
    from ..datasets.lmdb_io import LmdbReader
    from . import IGNORE, records

    job = _dataset(job_id)
    folder = DatasetFolder(platform().store.job_dir(job.id))
    if not folder.has_split(split):
        raise NotFound(f"dataset {job.name} has no {split} images")
    reader = LmdbReader(folder.folder / split)
    try:
        image, label = records.decode(reader.raw(index))
    except IndexError:
        raise NotFound(f"no image {index} in {split}") from None
    finally:
        reader.close()
    if part == "label":
        lut = np.zeros((256, 4), np.uint8)
        for i, rgb in enumerate((folder.read_meta() or {}).get("palette") or []):
            lut[i] = [*rgb, 255]
        lut[0, 3] = lut[IGNORE, 3] = 0
        image = lut[label]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return Response(buf.getvalue(), mimetype="image/png", headers={"Cache-Control": "max-age=86400"})
