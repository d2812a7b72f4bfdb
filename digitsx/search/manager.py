"""Studies run by the web process: Optuna samples and prunes, our scheduler runs the trials.

A study is a job (kind ``study``) that no worker runs: this manager moves it. Its Optuna study
lives in our database (Optuna's RDB storage on ``DIGITSX_DATABASE_URL``, its own tables), named
``digitsx-<job id>``; each Optuna trial is an ordinary model job, made from the study's form
values with the trial's values, parsed and permission-checked as the study's owner by the
task's own form (:func:`digitsx.auth.acting_as`). The job id is recorded on the trial *before*
the job is made, so a server killed in between makes that job after its restart, never twice.

Every second, and at once when a trial reports a validation point (:meth:`Studies.wake`; a
short trial can end between two ticks): each new validation point of a running trial is reported
to Optuna, and its pruner asked (a pruned trial's job is stopped and ends ``Pruned``); a trial
job that ended tells Optuna (Done: its best value of the metric; Error, Aborted, deleted:
failed); an interrupted one (the server restarted) is resumed from its snapshot; new trials
start while fewer than ``parallel`` run, until ``trials`` or the time budget is spent. Optuna is
imported only when a study exists.
"""
from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from typing import Any, Callable

from ..errors import DigitsxError
from ..jobs import kinds
from ..jobs.status import ACTIVE, Status
from ..jobs.store import new_job_id
from . import STUDY, space
from . import optuna_parts as op

log = logging.getLogger(__name__)
ACTIVE_VALUES = {s.value for s in ACTIVE}
WAKE_STEP = 0.05  # seconds: how soon a woken loop ticks


class Studies:
    """Creates, advances, aborts and describes studies."""

    def __init__(self, app, store, scheduler, url: str, sleep: Callable[[float], Any],
                 interval: float = 1.0) -> None:
        self.app, self.store, self.scheduler, self.url = app, store, scheduler, url
        self.sleep, self.interval = sleep, interval
        self._storage = None
        self._studies: dict[str, Any] = {}  # study job id → optuna.Study
        self._reported: dict[str, set[int]] = {}  # trial job id → steps reported
        self._cursor: dict[str, int] = {}  # trial job id → last metric point id read
        self._importance: dict[str, tuple[int, dict]] = {}
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._woken = False

    # -- storage ------------------------------------------------------------------------------
    def storage(self):
        if self._storage is None:
            engine: dict[str, Any] = {"pool_pre_ping": True}
            if self.url.startswith("sqlite"):
                engine = {"connect_args": {"timeout": 30, "check_same_thread": False}}
            self._storage = op.optuna().storages.RDBStorage(self.url, engine_kwargs=engine)
        return self._storage

    def study(self, job) -> Any:
        """The Optuna study of a study job (its sampler and pruner from the spec)."""
        found = self._studies.get(job.id)
        if found is None:
            spec = job.spec["search"]
            found = op.optuna().load_study(study_name=job.spec["optuna_study"], storage=self.storage(),
                                        sampler=op.sampler(spec), pruner=op.pruner(spec))
            self._studies[job.id] = found
        return found

    # -- creating -----------------------------------------------------------------------------
    def create(self, kind: str, values: dict, search: space.Search, username: str, name: str,
               group: str, dataset) -> Any:
        """The study job, Running, with its Optuna study made; the trials follow on the next tick."""
        study_id = new_job_id()
        spec = {"model_kind": kind, "form": values, "search": search.to_dict(),
                "optuna_study": f"digitsx-{study_id}", "dataset": {"id": dataset.id}}
        made = op.optuna().create_study(study_name=spec["optuna_study"], storage=self.storage(),
                                     direction=search.direction, load_if_exists=True)
        if search.sampler == "grid":  # every point once, in order (Optuna's GridSampler stops
            for point in itertools.product(*search.grid().values()):  # a study only in optimize())
                made.enqueue_trial(dict(zip(search.grid(), point)))
        job = self.store.create(STUDY, name, spec, username, group, dataset.id, job_id=study_id)
        job = self.store.set_status(job.id, Status.RUNNING, f"{search.trials} trials, {search.parallel} at once, "
                                                            f"{search.sampler} sampler, {search.pruner} pruner")
        self.store.merge_result(job.id, {"counts": {}, "best": None})
        return job  # its trials start on the next tick (within a second)

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        """Tick every ``interval`` seconds, or sooner when woken, until :meth:`stop`."""
        while not self._stopped.is_set():
            self._woken = False
            try:
                self.tick()
            except Exception:  # one bad tick must not end every study
                log.exception("study tick failed")
            waited = 0.0
            while waited < self.interval and not self._woken and not self._stopped.is_set():
                self.sleep(WAKE_STEP)
                waited += WAKE_STEP

    def wake(self, job_id: str) -> None:
        """A job reported a validation point: tick now if it is a trial of a running study
        (the pruner must see it while the trial still runs)."""
        if job_id in self._reported:  # a trial the loop follows
            self._woken = True

    def stop(self) -> None:
        self._stopped.set()

    def tick(self) -> None:
        with self._lock:
            for job in self.store.db.jobs(Status.RUNNING.value, kinds=(STUDY,)):
                try:
                    self._advance(job)
                except DigitsxError as err:
                    self._end(job, Status.ERROR, err.message)
                except Exception as err:  # noqa: BLE001 - recorded on the study, the rest go on
                    log.exception("study %s failed", job.id)
                    self._end(job, Status.ERROR, f"Internal error in the study: {err}")

    def _advance(self, job) -> None:
        study = self.study(job)
        search = job.spec["search"]
        states = op.optuna().trial.TrialState
        changed = False
        trials = study.get_trials(deepcopy=False)
        jobs = self._trial_jobs(trials)
        for trial in trials:
            job_id = trial.user_attrs.get("job_id")
            trial_job = jobs.get(job_id)
            if trial.state == states.RUNNING:
                changed |= self._follow(job, study, trial, trial_job)
            elif trial.state == states.PRUNED and trial_job is not None:
                self._finish_pruned(trial, trial_job)
        trials = op.started(study)
        running = sum(1 for t in trials if t.state == states.RUNNING)
        timed_out = search.get("timeout") and job.started and time.time() - job.started > float(search["timeout"])
        stopping = job.result.get("stopping")
        while not stopping and not timed_out and len(trials) < int(search["trials"]) and \
                running < int(search["parallel"]):
            self._start_trial(job, study)
            trials = op.started(study)
            running += 1
            changed = True
        if changed:
            self._publish(job, study)
        if running == 0 and (stopping or timed_out or len(trials) >= int(search["trials"])):
            why = "time budget spent" if timed_out and len(trials) < int(search["trials"]) else ""
            self._publish(job, study)
            self._end(job, Status.DONE, self._summary(job, study, why))

    def _trial_jobs(self, trials) -> dict[str, Any]:
        ids = [t.user_attrs.get("job_id") for t in trials if t.user_attrs.get("job_id")]
        return {j.id: j for j in self.store.db.by_ids(ids)} if ids else {}

    # -- one trial ----------------------------------------------------------------------------
    def _start_trial(self, job, study) -> None:
        """Ask Optuna for the next values, record the job id on the trial, then make the job."""
        trial = study.ask()
        search = job.spec["search"]
        params = {name: op.suggest(trial, name, dim) for name, dim in search["space"].items()}
        job_id = new_job_id()
        study._storage.set_trial_user_attr(trial._trial_id, "job_id", job_id)
        self._make_trial_job(job, study, trial.number, trial._trial_id, params, job_id)

    def _make_trial_job(self, job, study, number: int, trial_id: int, params: dict, job_id: str) -> None:
        """The trial's model job, parsed from the study's form with its values as the study's
        owner; a trial whose values the form refuses is recorded as failed."""
        spec = job.spec
        kind = kinds.get(spec["model_kind"])
        values = {**spec["form"], **{k: space.form_value(v) for k, v in params.items()},
                  "model_name": f"{job.name} · trial {number}"}
        try:
            context = self._acting_as(job.username)
            try:
                items, dataset, _, _ = kind.parse(values, self.store, self.app.config)
            finally:
                context.pop()
            item = items[0]
            metric, direction = spec["search"]["metric"], spec["search"]["direction"]
            item.spec.update(monitor={"metric": metric, "mode": "min" if direction == "minimize" else "max"},
                             study={"id": job.id, "trial": number, "params": params})
            created = self.store.create(kind.name, item.name, item.spec, job.username,
                                        job.group_name or job.name, dataset.id, job_id=job_id)
        except DigitsxError as err:
            study._storage.set_trial_user_attr(trial_id, "error", err.message[:2000])
            study.tell(number, state=op.optuna().trial.TrialState.FAIL, skip_if_finished=True)
            log.warning("study %s: trial %s refused: %s", job.id, number, err.message)
            return
        study._storage.set_trial_user_attr(trial_id, "created", True)
        self.scheduler.submit(created)

    def _acting_as(self, username: str):
        from .. import auth

        return auth.acting_as(self.app, username)

    def _follow(self, job, study, trial, trial_job) -> bool:
        """A running Optuna trial: make its job if the server died before, report its new
        validation points (and prune), tell Optuna how it ended. True if something changed."""
        states = op.optuna().trial.TrialState
        job_id = trial.user_attrs.get("job_id")
        if trial_job is None:
            if job_id and not trial.user_attrs.get("created"):  # killed between the two steps
                self._make_trial_job(job, study, trial.number, trial._trial_id, dict(trial.params), job_id)
            else:
                study._storage.set_trial_user_attr(trial._trial_id, "ended", "deleted")
                study.tell(trial.number, state=states.FAIL, skip_if_finished=True)
            return True
        changed = self._report(job, study, trial, trial_job)
        if trial_job.status in ACTIVE_VALUES or changed == "pruned":
            return bool(changed)
        status = trial_job.status
        if status == Status.INTERRUPTED.value and not job.result.get("stopping"):
            self.scheduler.resume(trial_job.id)  # from its snapshot: the server restarted
            return True
        study._storage.set_trial_user_attr(trial._trial_id, "ended", status)
        values = [v for v in self._values(study, trial) if v is not None]
        if status == Status.DONE.value and values:
            best = max(values) if job.spec["search"]["direction"] == "maximize" else min(values)
            study.tell(trial.number, best, skip_if_finished=True)
        elif status == Status.PRUNED.value:
            study.tell(trial.number, state=states.PRUNED, skip_if_finished=True)
        else:
            if status == Status.DONE.value:
                study._storage.set_trial_user_attr(
                    trial._trial_id, "error", f"it reported no validation {job.spec['search']['metric']}")
            study.tell(trial.number, state=states.FAIL, skip_if_finished=True)
        self._forget(trial_job.id)
        return True

    def _values(self, study, trial) -> list[float]:
        frozen = study._storage.get_trial(trial._trial_id)
        return list(frozen.intermediate_values.values())

    def _report(self, job, study, trial, trial_job) -> Any:
        """Report the trial job's new validation points; stop it if the pruner says so."""
        metric = job.spec["search"]["metric"]
        reported = self._reported.get(trial_job.id)
        if reported is None:
            reported = self._reported[trial_job.id] = set(trial.intermediate_values)
        after = self._cursor.get(trial_job.id, 0)
        points = []
        for batch in self.store.metric_batches(trial_job.id, after):
            for point in batch:
                after = point["id"]
                value = point["values"].get(metric)
                if point["phase"] == "val" and isinstance(value, (int, float)) and math.isfinite(value):
                    points.append((int(round(point["epoch"])), float(value)))
        self._cursor[trial_job.id] = after
        fresh = [(step, value) for step, value in points if step not in reported]
        if not fresh:
            return False
        live = op.optuna().trial.Trial(study, trial._trial_id)
        for step, value in fresh:
            live.report(value, step)
            reported.add(step)
        if trial_job.status != Status.RUNNING.value or not live.should_prune():
            return True
        step = max(s for s, _ in fresh)
        note = (f"pruned at epoch {step} by the {job.spec['search']['pruner']} pruner "
                f"({metric} {fresh[-1][1]:.4g})")
        study._storage.set_trial_user_attr(trial._trial_id, "pruned_at", step)
        study.tell(trial.number, state=op.optuna().trial.TrialState.PRUNED, skip_if_finished=True)
        self._stop(trial_job.id, note)
        return "pruned"

    def _stop(self, job_id: str, note: str) -> None:
        try:
            self.scheduler.abort(job_id, ending=(Status.PRUNED, note))
        except DigitsxError:  # it ended meanwhile
            pass

    def _finish_pruned(self, trial, trial_job) -> None:
        """A trial Optuna pruned whose job did not end Pruned (the server died in between)."""
        if trial_job.status == Status.RUNNING.value and trial_job.id not in self.scheduler.preempting:
            self._stop(trial_job.id, f"pruned at epoch {trial.user_attrs.get('pruned_at', '?')}")
        elif trial_job.status in (Status.INTERRUPTED.value, Status.INITIALIZED.value, Status.WAITING.value):
            if trial_job.status != Status.INTERRUPTED.value:
                self.scheduler.abort(trial_job.id)
            else:
                self.store.set_status(trial_job.id, Status.PRUNED,
                                      f"pruned at epoch {trial.user_attrs.get('pruned_at', '?')}")

    def _forget(self, job_id: str) -> None:
        self._reported.pop(job_id, None)
        self._cursor.pop(job_id, None)

    # -- ending -------------------------------------------------------------------------------
    def abort(self, job) -> Any:
        """Abort a study: its queued and running trials are aborted, finished ones stay."""
        with self._lock:
            if job.status != Status.RUNNING.value:
                from ..errors import Conflict

                raise Conflict(f"Study {job.name} is not running (status {job.status})")
            self.store.merge_result(job.id, {"stopping": "aborted"})
            study = self.study(job)
            states = op.optuna().trial.TrialState
            for trial in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
                trial_job = self.store.db.get(trial.user_attrs.get("job_id") or "")
                if trial_job is not None and trial_job.status in ACTIVE_VALUES:
                    try:
                        self.scheduler.abort(trial_job.id)
                    except DigitsxError:
                        pass
                study._storage.set_trial_user_attr(trial._trial_id, "ended", "aborted with the study")
                study.tell(trial.number, state=states.FAIL, skip_if_finished=True)
            self._publish(self.store.get(job.id), study)
            return self._end(self.store.get(job.id), Status.ABORTED,
                             "aborted by user: " + self._summary(job, study, ""))

    def _end(self, job, status: Status, note: str):
        fields = {"error": note} if status is Status.ERROR else {}
        ended = self.store.set_status(job.id, status, note, progress=1.0, **fields)
        self._studies.pop(job.id, None)
        return ended

    def _summary(self, job, study, why: str) -> str:
        counts = op.counts(op.started(study))
        text = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no trials"
        best = op.best(study)
        if best is not None:
            text += (f"; best: trial {best.number} ({best.user_attrs.get('job_id')}), "
                     f"{job.spec['search']['metric']} {best.value:.4g}")
        return text + (f" ({why})" if why else "")

    def delete(self, job) -> None:
        """A study deleted: its running trials aborted, its Optuna study dropped; its finished
        trials stay (they are models in their own right)."""
        with self._lock:
            if job.status == Status.RUNNING.value:
                self.abort(job)
            self._studies.pop(job.id, None)
            try:
                op.optuna().delete_study(study_name=job.spec["optuna_study"], storage=self.storage())
            except KeyError:
                pass

    # -- what the page shows --------------------------------------------------------------------
    def _publish(self, job, study) -> None:
        """The study's counts and best on its row: its page gets the whole JSON (a result change)."""
        best = op.best(study)
        self.store.merge_result(job.id, {
            "counts": op.counts(op.started(study)),
            "best": None if best is None else {"trial": best.number, "job_id": best.user_attrs.get("job_id"),
                                               "value": best.value, "params": best.params}})

    def trial_job_ids(self, job) -> list[str]:
        """The ids of a study's trial jobs that exist, in trial order."""
        try:
            trials = op.started(self.study(job))
        except KeyError:  # its Optuna study is gone
            return []
        jobs = self._trial_jobs(trials)
        return [t.user_attrs["job_id"] for t in trials if t.user_attrs.get("job_id") in jobs]

    def details(self, job) -> dict[str, Any]:
        """The study page's JSON (:func:`.page.details`)."""
        from . import page

        return page.details(self, job)

    def importances(self, job, study, trials) -> dict[str, float]:
        """Optuna's parameter importances (PED-ANOVA) once 4 trials finished, cached per count."""
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        if len(complete) < 4 or len(job.spec["search"]["space"]) < 2:
            return {}
        cached = self._importance.get(job.id)
        if cached and cached[0] == len(complete):
            return cached[1]
        try:
            found = op.optuna().importance.get_param_importances(
                study, evaluator=op.optuna().importance.PedAnovaImportanceEvaluator())
        except Exception as err:  # noqa: BLE001 - a page without importances, not an error page
            log.info("no importances for study %s: %s", job.id, err)
            found = {}
        found = {k: round(float(v), 4) for k, v in found.items()}
        self._importance[job.id] = (len(complete), found)
        return found
