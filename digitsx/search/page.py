"""What a study's page shows: its trials, the best so far, the importances (from Optuna's
storage and the trials' job rows, one query for those)."""
from __future__ import annotations

import time
from typing import Any

from . import optuna_parts as op


def details(studies, job) -> dict[str, Any]:
    """The study page's JSON: its trials (values, metric, best epoch, status, duration),
    the best so far after each trial, the parameter importances once enough trials ended."""
    search = job.spec.get("search") or {}
    try:
        study = studies.study(job)
        trials = op.started(study)
    except KeyError:  # its Optuna study is gone
        return {"search": search, "trials": [], "best": None, "best_so_far": [], "importances": {}}
    jobs = studies._trial_jobs(trials)
    maximize = search.get("direction") == "maximize"
    rows, best_so_far, best = [], [], None
    for trial in trials:
        trial_job = jobs.get(trial.user_attrs.get("job_id"))
        result = trial_job.result if trial_job is not None else {}
        steps = list(trial.intermediate_values)
        values = list(trial.intermediate_values.values())
        value = trial.value if trial.value is not None else \
            ((max(values) if maximize else min(values)) if values else None)
        rows.append({
            "number": trial.number, "state": trial.state.name.lower(), "params": trial.params,
            "value": value, "job_id": trial.user_attrs.get("job_id"),
            "name": trial_job.name if trial_job else None,
            "status": trial_job.status if trial_job else trial.user_attrs.get("ended", "gone"),
            "url": f"/models/{trial_job.id}" if trial_job else None,
            "best_epoch": (result.get("best") or {}).get("epoch") if isinstance(result.get("best"), dict) else None,
            "epochs": max(steps) if steps else 0,
            "pruned_at": trial.user_attrs.get("pruned_at"), "error": trial.user_attrs.get("error"),
            "duration": ((trial_job.finished or time.time()) - trial_job.started)
            if trial_job is not None and trial_job.started else None,
        })
        if trial.state.name == "COMPLETE" and trial.value is not None:
            if best is None or (trial.value > best if maximize else trial.value < best):
                best = trial.value
            best_so_far.append([trial.number, trial.value, best])
    best_trial = op.best(study)
    return {"search": search, "trials": rows, "best_so_far": best_so_far,
            "best": None if best_trial is None else {"number": best_trial.number, "value": best_trial.value,
                                                     "job_id": best_trial.user_attrs.get("job_id"),
                                                     "params": best_trial.params},
            "importances": studies.importances(job, study, trials)}
