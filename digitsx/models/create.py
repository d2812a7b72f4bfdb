"""Every task's model create: the caller checked, the task's form parsed (which refuses code
the caller may not run), one job per learning rate × batch size."""
from __future__ import annotations

from typing import Any

from flask import current_app, redirect

from .. import auth
from ..http import form_values, platform, wants_json


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
