"""DIGITS's generic model routes, shared by every task that uses them (object detection now,
segmentation next): ``POST /models/images/generic[.json]`` picks the task by the kind of the
``dataset`` it names, ``infer_one`` and ``infer_many`` by the kind of the model (``job_id``).
A task registers its handlers from its plugin (:func:`register`); none edits another's routes.

The create route's form is the union of the registered tasks' forms (a choice field offers
every task's options; the task's own parser checks the rest), so the API document shows it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from flask import Blueprint

from ..errors import BadRequest, ValidationError
from ..fields import CONTROL, Form, accepts
from ..http import form_defaults, form_values, platform, twin_route
from ..schemas import answers, ref

bp = Blueprint("generic", __name__)
FORM = Form("New model (generic: the dataset's task)", {})


@dataclass(frozen=True)
class GenericTask:
    title: str  # "object detection"
    dataset_kind: str
    model_kind: str
    create: Callable[[], Any]  # the views, called inside the request
    infer_one: Callable[[], Any]
    infer_many: Callable[[], Any]
    infer_db: Callable[[], Any]


_BY_DATASET: dict[str, GenericTask] = {}
_BY_MODEL: dict[str, GenericTask] = {}


def register(task: GenericTask, form: Form) -> None:
    """Route the generic requests of ``task``'s datasets and models to its views; add its form
    to :data:`FORM`."""
    _BY_DATASET[task.dataset_kind] = task
    _BY_MODEL[task.model_kind] = task
    for name, field in form.fields.items():
        known = FORM.fields.get(name)
        if known is not None and known.type == "choice" == field.type:
            options = tuple(dict.fromkeys(known.options + field.options))
            field = replace(known, options=options)
        FORM.fields[name] = field


def _titles() -> str:
    return ", ".join(t.title for t in _BY_DATASET.values()) or "none"


def _by_job(table: dict[str, GenericTask], job_id: str, field: str, what: str) -> GenericTask:
    job_id = job_id.strip(CONTROL)  # as the task's own form reads it
    job = platform().store.db.get(job_id) if job_id else None
    if job is None:
        raise ValidationError({field: [f"required: the id of {what}" if not job_id else
                                       f"no job {job_id!r}"]})
    task = table.get(job.kind)
    if task is None:
        raise BadRequest(f"{job.name} ({job.id}) is not {what} of a task the generic routes serve "
                         f"({_titles()})")
    return task


@twin_route(bp, "/models/images/generic", methods=["POST"])
@accepts(FORM)
@answers("CreatedModels")
def create():
    """Create a model of the dataset's task (one job per learning rate × batch size)."""
    return _by_job(_BY_DATASET, str(form_values().get("dataset") or ""), "dataset", "a dataset").create()


@twin_route(bp, "/models/images/generic/infer_one", methods=["POST"])
@answers({"anyOf": [ref("Detections"), ref("ClassMap"), ref("Checked")]})
def infer_one():
    """One image through a model of any generic task (DIGITS's ``{"outputs": {...}}``)."""
    return _by_job(_BY_MODEL, str(form_values().get("job_id") or ""), "job_id", "a model").infer_one()


@twin_route(bp, "/models/images/generic/infer_many", methods=["POST"])
@answers("Accepted", 202)
@answers("Outputs")
def infer_many():
    """Many images through a model of any generic task: a test job (202), or for a short JSON
    ``image_list`` DIGITS's ``{"outputs": {path: outputs}}`` at once."""
    return _by_job(_BY_MODEL, str(form_values().get("job_id") or ""), "job_id", "a model").infer_many()


@bp.route("/models/images/generic/infer_db.json", methods=["POST"])
@answers("Outputs")
def infer_db():
    """The images of a dataset's LMDB (``db_path``: ``<dataset id>/<train|val>``) through a model
    of any generic task: DIGITS's ``{"outputs": {"<index>": outputs}}``."""
    return _by_job(_BY_MODEL, str(form_values().get("job_id") or ""), "job_id", "a model").infer_db()


def new_model_page(task: str, title: str, dataset_kind: str, model_kind: str, form: Form,
                   defaults: dict[str, Any], new_dataset: str, signature: str):
    """A generic task's *New model* page (``?clone=<id>`` fills it in): its finished datasets
    (each with a one-line summary), models to continue from, classification snapshots and
    pretrained models for the backbone, and its networks."""
    from flask import render_template

    from ..datasets.summary import picker_line
    from ..engine.schedules import POLICIES
    from ..jobs import kinds
    from ..jobs.status import Status
    from . import CLASSIFICATION, PRETRAINED, published, registry

    values = form_defaults(defaults, "model_name")
    p = platform()
    jobs = p.store.db.jobs(kinds=(dataset_kind, model_kind, CLASSIFICATION, PRETRAINED))
    datasets = [j for j in jobs if j.kind == dataset_kind and j.status == Status.DONE.value]
    models = [j for j in jobs if j.kind == model_kind and j.result.get("snapshots")]
    backbones = [j for j in jobs if (j.kind == CLASSIFICATION and j.result.get("snapshots"))
                 or (j.kind == PRETRAINED and j.status == Status.DONE.value)]
    return render_template(
        "models/generic_new.html", values=values, datasets=datasets, models=models,
        form_fields=form.fields, backbones=backbones, task_title=title, new_dataset=new_dataset,
        custom_signature=signature, networks=list(registry.networks(task).values()), policies=POLICIES,
        weights_choices=published.form_choices(task, p.app.config["WEIGHTS_DIR"]),
        dataset_summaries={d.id: picker_line(p.store.job_dir(d.id)) for d in datasets},
        main_metric=((kinds.get(model_kind).main_metric or ("val/accuracy",))[0]).split("/")[-1])
