"""Model routes: the new image classification model form and create (with sweeps).

The other model routes live by responsibility: :mod:`.previews` (LR and network previews),
:mod:`.classify` (one image), :mod:`.testing` and :mod:`.report` (many images),
:mod:`.downloads` (archives, metrics CSV), :mod:`.pretrained_routes`."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request

from .. import auth
from ..datasets import CLASSIFICATION as DATASET_KIND
from ..datasets.summary import picker_line
from ..fields import accepts
from ..http import form_values, page, platform, twin_route, wants_json
from ..jobs.status import Status
from . import CLASSIFICATION, PRETRAINED, forms, registry
from ..engine.schedules import POLICIES
from ..schemas import answers

bp = Blueprint("models", __name__)


@bp.route("/models/images/classification/new")
@page
def new_classification():
    """The new image classification model form (``?clone=<id>`` fills it in)."""
    values = dict(forms.DEFAULTS)
    p = platform()
    clone = request.args.get("clone")
    if clone:
        values.update(p.store.get(clone).spec.get("form", {}))
        values["model_name"] = values.get("model_name", "") + " (clone)"
    if request.args.get("pretrained_networks"):  # "New model from this" on a pretrained model
        values.update(method="pretrained", pretrained_networks=request.args["pretrained_networks"])
    datasets = [j for j in p.store.db.jobs(Status.DONE.value) if j.kind == DATASET_KIND]
    models = [j for j in p.store.db.jobs() if j.kind == CLASSIFICATION and j.result.get("snapshots")]
    pretrained = [j for j in p.store.db.jobs(Status.DONE.value) if j.kind == PRETRAINED]
    return render_template("models/new.html", values=values, datasets=datasets, models=models,
                           form_fields=forms.FORM.fields, dataset_summaries={
                               d.id: picker_line(p.store.job_dir(d.id)) for d in datasets},
                           pretrained=pretrained,
                           networks=list(registry.networks("classification").values()), solvers=forms.SOLVERS, policies=POLICIES)


@twin_route(bp, "/models/images/classification", methods=["POST"])
@accepts(forms.FORM)
@answers("CreatedModels")
def create_classification():
    """Create a model job (or one per learning rate × batch size): job JSON, or ``{jobs}``."""
    return create_models(CLASSIFICATION, forms.parse)


def create_models(kind: str, parse) -> Any:
    """Any task's model create: validate with ``parse(values, store, config)`` → ``(jobs,
    dataset, group, request)`` (which refuses code the caller may not run, from the parsed
    network: :func:`.forms.training_jobs`), submit one job per sweep point; job JSON, ``{jobs}``,
    or a redirect to the job (or home)."""
    username = auth.require_login()
    values = form_values()
    auth.rate_limit("new jobs", "JOB_LIMIT")
    p = platform()
    jobs, dataset, group, _ = parse(values, p.store, current_app.config)
    created = []
    for item in jobs:
        job = p.store.create(kind, item.name, item.spec, username, group, dataset.id)
        p.scheduler.submit(job)
        created.append(p.job_json(job))
    if wants_json():
        return created[0] if len(created) == 1 else {"jobs": created}
    return redirect(created[0]["url"] if len(created) == 1 else "/")
