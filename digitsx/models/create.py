"""Every task's model create: the caller checked, the task's form parsed (which refuses code
the caller may not run), one job per learning rate × batch size."""
from __future__ import annotations

from typing import Any

from flask import current_app, redirect

from .. import auth
from ..errors import ValidationError
from ..http import form_values, platform, wants_json
from ..jobs import kinds
from ..search import space as search


def create_models(kind: str, parse) -> Any:
    """Any task's model create: validate with ``parse(values, store, config)`` → ``(jobs,
    dataset, group, request)`` (which refuses code the caller may not run, from the parsed
    network: :func:`.forms.training_jobs`), submit one job per sweep point; job JSON, ``{jobs}``,
    or a redirect to the job (or home)."""
    username = auth.require_login()
    values = form_values()
    auth.rate_limit("new jobs", "JOB_LIMIT")
    p = platform()
    if search.wanted(values):
        return create_study(kind, values, username)
    jobs, dataset, group, _ = parse(values, p.store, current_app.config)
    created = []
    for item in jobs:
        job = p.store.create(kind, item.name, item.spec, username, group, dataset.id)
        p.scheduler.submit(job)
        created.append(p.job_json(job))
    if wants_json():
        return created[0] if len(created) == 1 else {"jobs": created}
    return redirect(created[0]["url"] if len(created) == 1 else "/")


def create_study(kind: str, values: dict, username: str) -> Any:
    """A study of ``kind`` models (the form's Search section: ``search_space`` and the other
    ``search_*`` fields): the search checked, every value any trial can take parsed by the task's
    form as the caller (a network the caller may not run is refused here), then the study job."""
    p, model = platform(), kinds.get(kind)
    main = (model.main_metric or ("val/accuracy", ""))[0]
    found = search.parse(values, model.model_form, main, int(current_app.config.get("MAX_SWEEP") or 100))
    base = {k: v for k, v in values.items() if not k.startswith("search_") and k != "username"}
    base.setdefault("preemptible", "y")  # a trial may wait for a user's urgent job
    for field in ("learning_rate", "batch_size"):  # the search, not a sweep, varies them
        if "," in str(base.get(field, "")) and field not in found.space:
            raise ValidationError({field: ["a comma list (a sweep) and a search do not mix: "
                                           "put the values in search_space"]})
    dataset = group = None
    for probe in search.probes(found):
        jobs, dataset, group, _ = model.parse({**base, **probe}, p.store, current_app.config)
    study = p.studies.create(kind, {k: str(v) for k, v in base.items()}, found, username,
                             str(values.get("model_name") or "study"), group or "", dataset)
    if wants_json():
        return {**p.job_json(study), "study_id": study.id}
    return redirect(p.job_json(study)["url"])
