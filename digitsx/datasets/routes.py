"""Dataset routes: the new-dataset form, create, resize preview, Explore and stored images."""
from __future__ import annotations

import base64
import io

from flask import Blueprint, Response, current_app, redirect, render_template, request

from .. import auth
from ..errors import BadRequest, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_values, page, platform, twin_route, wants_json
from . import CLASSIFICATION, forms
from .explore import gallery, read_image
from .resize import MODES, resize_image
from .sample import sample_image
from ..schemas import answers

bp = Blueprint("datasets", __name__)
RESIZE_FORM = Form("Resize preview", {
    "width": Field("int", 256, 1, 1024), "height": Field("int", 256, 1, 1024),
    "channels": forms.FORM.fields["resize_channels"], "resize_mode": forms.FORM.fields["resize_mode"],
    "image_file": Field("file", help="an image to resize (default: a sample photo)")})




@bp.route("/datasets/images/classification/new")
@page
def new_classification():
    """The new image classification dataset form (``?clone=<id>`` fills it in)."""
    values = dict(forms.DEFAULTS)
    clone = request.args.get("clone")
    if clone:
        values.update(platform().store.get(clone).spec.get("form", {}))
        values["dataset_name"] = values.get("dataset_name", "") + " (clone)"
    return render_template("datasets/new.html", values=values, modes=MODES, form_fields=forms.FORM.fields,
                           roots=current_app.config["DATA_ROOTS"])


@twin_route(bp, "/datasets/images/classification", methods=["POST"])
@accepts(forms.FORM)
@answers("Created")
def create_classification():
    """Create an image classification dataset job: ``{id, name, status}`` (400 ``errors``)."""
    return create_dataset(CLASSIFICATION, forms.parse)


def create_dataset(kind: str, parse):
    """Any task's dataset create: check the caller, validate with ``parse(values, files,
    config)`` → a :class:`~.forms.DatasetForm`, save its uploads, submit the job."""
    username = auth.require_login()
    auth.rate_limit("new jobs", "JOB_LIMIT")
    form = parse(form_values(), request.files, current_app.config)
    p = platform()
    job = p.store.create(kind, form.name, form.spec, username, form.group)
    p.store.put_files(job.id, form.uploads)
    p.scheduler.submit(job)
    if wants_json():
        return {"id": job.id, "name": job.name, "status": job.status, "url": f"/datasets/{job.id}"}
    return redirect(f"/datasets/{job.id}")


@bp.route("/datasets/images/resize-example", methods=["POST"])
@accepts(RESIZE_FORM)
def resize_example():
    """The chosen resize mode applied to a sample image (or an uploaded one), as a PNG data URI."""
    values = form_values()
    r = RESIZE_FORM.reader(values)
    width, height = r.number("width"), r.number("height")
    channels, mode = r.choice("channels", kind=int), r.choice("resize_mode")
    if r.errors:
        raise ValidationError(r.errors)
    upload = request.files.get("image_file")
    source = upload.stream if upload is not None and upload.filename else sample_image()
    try:
        array = resize_image(source, width, height, mode, channels)
    except (OSError, ValueError) as err:
        raise BadRequest(f"image_file: not a readable image ({err})") from err
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"image": data, "width": width, "height": height, "resize_mode": mode,
            "channels": channels}


@twin_route(bp, "/datasets/images/classification/explore")
def explore():
    """A page of the stored images of a split (``job_id``, ``db``, ``page``, ``size``, ``label``)."""
    job = platform().store.get(request.args.get("job_id", ""))
    if job.kind != CLASSIFICATION:
        raise BadRequest(f"{job.name} ({job.id}) is not an image classification dataset")
    data = gallery(job, platform().store.job_dir(job.id), request.args)
    if wants_json():
        return data
    return render_template("datasets/explore.html", job=platform().job_json(job), data=data)


@bp.route("/datasets/<job_id>/images/<split>/<int:index>")
def stored_image(job_id: str, split: str, index: int):
    """One stored image as it will be fed to the network (PNG or JPEG)."""
    job = platform().store.get(job_id)
    body, mimetype = read_image(platform().store.job_dir(job.id), split, index)
    return Response(body, mimetype=mimetype, headers={"Cache-Control": "max-age=86400"})
