"""Image classification's pages and creates: the new-dataset form, create, the resize
preview, Explore and stored images; the new-model form and create (with sweeps).

Its other routes live by responsibility: :mod:`.inference` (one image, many images, top N, a
split), :mod:`.report` (a test job's results), :mod:`.pretrained_routes`, and the network
preview registered on the shared previews (:mod:`digitsx.models.previews`)."""
from __future__ import annotations

import base64
import io

from flask import Blueprint, Response, current_app, render_template, request

from ..datasets.explore import gallery, read_image
from ..datasets.resize import MODES, resize_image
from ..datasets.routes import create_dataset
from ..datasets.summary import picker_line
from ..engine.schedules import POLICIES
from ..errors import BadRequest, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_defaults, form_values, page, platform, twin_route, wants_json
from ..jobs.status import Status
from ..models import published, registry
from ..models.create import create_models
from ..models.forms import SOLVERS
from ..schemas import answers
from . import DATASET, MODEL, PRETRAINED, forms
from .sample import sample_image

datasets_bp = Blueprint("datasets", __name__)
bp = Blueprint("models", __name__)
RESIZE_FORM = Form("Resize preview", {
    "width": Field("int", 256, 1, 1024), "height": Field("int", 256, 1, 1024),
    "channels": forms.DATASET_FORM.fields["resize_channels"], "resize_mode": forms.DATASET_FORM.fields["resize_mode"],
    "image_file": Field("file", help="an image to resize (default: a sample photo)")})




@datasets_bp.route("/datasets/images/classification/new", endpoint="new_classification")
@page
def new_dataset():
    """The new image classification dataset form (``?clone=<id>`` fills it in)."""
    values = form_defaults(forms.DATASET_DEFAULTS, "dataset_name")
    return render_template("datasets/new.html", values=values, modes=MODES, form_fields=forms.DATASET_FORM.fields,
                           roots=current_app.config["DATA_ROOTS"])


@twin_route(datasets_bp, "/datasets/images/classification", methods=["POST"], endpoint="create_classification")
@accepts(forms.DATASET_FORM)
@answers("Created")
def create_dataset_job():
    """Create an image classification dataset job: ``{id, name, status}`` (400 ``errors``)."""
    return create_dataset(DATASET, forms.parse_dataset)


@datasets_bp.route("/datasets/images/resize-example", methods=["POST"])
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


@twin_route(datasets_bp, "/datasets/images/classification/explore")
def explore():
    """A page of the stored images of a split (``job_id``, ``db``, ``page``, ``size``, ``label``)."""
    job = platform().store.get(request.args.get("job_id", ""))
    if job.kind != DATASET:
        raise BadRequest(f"{job.name} ({job.id}) is not an image classification dataset")
    data = gallery(job, platform().store.job_dir(job.id), request.args)
    if wants_json():
        return data
    return render_template("datasets/explore.html", job=platform().job_json(job), data=data)


@datasets_bp.route("/datasets/<job_id>/images/<split>/<int:index>")
def stored_image(job_id: str, split: str, index: int):
    """One stored image as it will be fed to the network (PNG or JPEG)."""
    job = platform().store.get(job_id)
    body, mimetype = read_image(platform().store.job_dir(job.id), split, index)
    return Response(body, mimetype=mimetype, headers={"Cache-Control": "max-age=86400"})


@bp.route("/models/images/classification/new", endpoint="new_classification")
@page
def new_model():
    """The new image classification model form (``?clone=<id>`` fills it in)."""
    values = form_defaults(forms.MODEL_DEFAULTS, "model_name")
    p = platform()
    if request.args.get("pretrained_networks"):  # "New model from this" on a pretrained model
        values.update(method="pretrained", pretrained_networks=request.args["pretrained_networks"])
    datasets = p.store.db.jobs(Status.DONE.value, kinds=(DATASET,))
    models = [j for j in p.store.db.jobs(kinds=(MODEL,)) if j.result.get("snapshots")]
    pretrained = p.store.db.jobs(Status.DONE.value, kinds=(PRETRAINED,))
    weights_choices = published.form_choices("classification", p.app.config["WEIGHTS_DIR"])
    return render_template("models/new.html", values=values, datasets=datasets, models=models,
                           network_fit={d.id: _fit(p.store.job_dir(d.id), d.spec, weights_choices) for d in datasets},
                           chosen_network=bool(request.args.get("clone")),
                           form_fields=forms.MODEL_FORM.fields, dataset_summaries={
                               d.id: picker_line(p.store.job_dir(d.id)) for d in datasets},
                           pretrained=pretrained, solvers=SOLVERS, policies=POLICIES,
                           networks=list(registry.networks("classification").values()),
                           weights_choices=weights_choices)


def _fit(folder, spec: dict, weights_choices: dict) -> dict:
    """:func:`sizing.fit` for one dataset: its image, its classes."""
    from ..datasets.folder import DatasetFolder
    from .sizing import fit

    meta = DatasetFolder(folder).read_meta() or {}
    image = meta.get("image") or spec.get("image") or {}
    return fit(image, len(meta.get("labels") or []) or 2, weights_choices)


@twin_route(bp, "/models/images/classification", methods=["POST"], endpoint="create_classification")
@accepts(forms.MODEL_FORM)
@answers("CreatedModels")
def create_model():
    """Create a model job (or one per learning rate × batch size): job JSON, or ``{jobs}``."""
    return create_models(MODEL, forms.parse_model)
