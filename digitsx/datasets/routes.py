"""Every task's dataset create: the caller checked, the task's form parsed, the job made."""
from __future__ import annotations

from flask import current_app, redirect, request

from .. import auth
from ..http import form_values, platform, wants_json


def create_dataset(kind: str, parse):
    """Any task's dataset create: check the caller, validate with ``parse(values, files,
    config)`` → a :class:`~digitsx.datasets.forms.DatasetForm`, save its uploads, submit the job."""
    username = auth.require_login()
    auth.rate_limit("new jobs", "JOB_LIMIT")
    values = form_values()
    form = parse(values, request.files, current_app.config)
    from ..models.cluster_fields import read_dataset

    cluster = read_dataset(values, current_app.config)  # a build on a Slurm partition (one node)
    if cluster:
        form.spec["slurm"] = cluster
    p = platform()
    job = p.store.create(kind, form.name, form.spec, username, form.group)
    p.store.put_files(job.id, form.uploads)
    p.scheduler.submit(job)
    if wants_json():
        return {"id": job.id, "name": job.name, "status": job.status, "url": f"/datasets/{job.id}"}
    return redirect(f"/datasets/{job.id}")
