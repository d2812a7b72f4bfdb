"""A study's page data (its trials, best-so-far curve, importances) and *train the best longer*."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, redirect

from .. import auth
from ..errors import BadRequest, ValidationError
from ..fields import Field, Form, accepts
from ..http import form_values, platform, wants_json
from ..jobs import kinds
from ..schemas import answers
from . import STUDY, space

bp = Blueprint("studies", __name__)
TRAIN_BEST = Form("Train the best trial longer", {
    "train_epochs": Field("int", None, 1, 100000, blank=True, help="blank: the study's epochs"),
    "model_name": Field("name", help="blank: the study's name and 'best'"),
})


def details(job, folder: Path) -> dict[str, Any]:
    """The study page's part of the job JSON: ``study`` (trials, best, best_so_far,
    importances, search)."""
    return {"study": platform().studies.details(job)}


@bp.route("/jobs/<job_id>/train_best", methods=["POST"])
@bp.route("/jobs/<job_id>/train_best.json", methods=["POST"])
@accepts(TRAIN_BEST)
@answers("Job")
def train_best(job_id: str):
    """A new model job cloned from the study's best trial (its spec, its values), with
    ``train_epochs`` (blank: the study's); the caller's own job."""
    p = platform()
    study = p.store.get(job_id)
    if study.kind != STUDY:
        raise BadRequest(f"{study.name} ({study.id}) is not a study")
    auth.require_login()
    best = (study.result.get("best") or {}) if isinstance(study.result.get("best"), dict) else {}
    trial = p.store.db.get(str(best.get("job_id") or ""))
    if trial is None:
        raise BadRequest(f"study {study.name} has no finished trial to train further yet")
    values = form_values()
    r = TRAIN_BEST.reader(values)
    epochs, name = r.number("train_epochs"), r.name("model_name")
    if r.errors:
        raise ValidationError(r.errors)
    params = trial.spec.get("study", {}).get("params", {})
    form = {**study.spec["form"], **{k: space.form_value(v) for k, v in params.items()}}
    form["model_name"] = name or f"{study.name} · best (trial {best.get('trial')})"
    if epochs:
        form["train_epochs"] = str(epochs)
    form.pop("preemptible", None)
    model = kinds.get(study.spec["model_kind"])
    jobs, dataset, group, _ = model.parse(form, p.store, p.app.config)
    job = p.store.create(model.name, jobs[0].name, jobs[0].spec, auth.current_username() or "",
                         group or study.group_name, dataset.id)
    p.scheduler.submit(job)
    return p.job_json(job) if wants_json() else redirect(p.job_json(job)["url"])
