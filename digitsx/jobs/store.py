"""Job records: creation, status changes with their timeline, and the JSON a client sees.

Every state change goes through :meth:`JobStore.set_status`, which commits the row and its
timeline entry before any event leaves the process: what a browser saw is on disk.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select

from ..db import Database, Job, Metric, StatusChange
from ..errors import NotFound
from . import kinds, listing
from .status import Status, check_transition

PRIORITIES = {"low": -1, "normal": 0, "high": 1}  # a job's ``priority``: its queue level


def new_job_id(now: float | None = None) -> str:
    """A DIGITS-style id: ``YYYYMMDD-HHMMSS-xxxx``."""
    return time.strftime("%Y%m%d-%H%M%S-", time.localtime(now or time.time())) + secrets.token_hex(2)


class JobStore:
    """Reads and writes job rows and folders; ``notify(job, update)`` hears every change."""

    def __init__(self, db: Database, jobs_dir: str | Path,
                 notify: Callable[[Job, str], None] | None = None) -> None:
        self.db = db
        self.jobs_dir = Path(jobs_dir)
        self._notify = notify or (lambda job, update: None)

    def notify(self, job: Job, update: str) -> None:
        """Tell the listeners a job row changed (every write to one comes through here). A
        progress write (up to 4 a second a job) does not end what is shared until the next
        change (a listing page, the counts): it changes no count, and a shared page is at most
        ``PAGE_TTL`` old anyway; the pages get progress live from the event."""
        if update != "progress":
            self.db.job_writes += 1
        self._notify(job, update)

    def job_dir(self, job_id: str) -> Path:
        """The folder of a job (it need not exist)."""
        return self.jobs_dir / job_id

    def reconcile_snapshots(self, job_id: str) -> None:
        """The files are the truth: list every ``snapshot_epoch_<e>.pt`` in the job's folder as
        its snapshots (a server that died between a worker's ``snapshot`` event and storing
        it, or a worker's writer thread that finished after its server, left one unlisted) and
        remove half-written ``snapshot_epoch_<e>.tmp`` files. Only while no worker writes there:
        at a job's end, at restart recovery, at resume."""
        folder = self.job_dir(job_id)
        if not folder.is_dir():
            return
        for tmp in folder.glob("snapshot_epoch_*.tmp"):
            tmp.unlink(missing_ok=True)
        found = [{"epoch": int(epoch) if epoch.is_integer() else epoch, "file": path.name}
                 for path, epoch in _snapshot_files(folder)]
        listed = self.get(job_id).result.get("snapshots")
        # entries that name no snapshot file (a kind of job with its own convention) stay
        epochs = {s["epoch"] for s in found}
        found += [s for s in listed or [] if isinstance(s, dict) and s.get("epoch") not in epochs
                  and not str(s.get("file", "")).startswith("snapshot_epoch_")]
        found.sort(key=lambda s: float(s.get("epoch") or 0))
        if (listed is not None or found) and found != listed:
            self.merge_result(job_id, {"snapshots": found})

    def drop_unrecorded_snapshots(self, job_id: str) -> list[str]:
        """After the server died (kill -9): the snapshots a worker wrote past the last validation
        the server stored, when one was due at or before them (``val_interval``). The worker had
        validated, its event was still in the pipe, the snapshot reached the disk: resuming from
        it would leave that validation out of the job's curve for good. They are removed, so the
        job resumes from the last epoch its record covers and runs that validation again. A job
        with no stored validation is left alone. Returns the files removed."""
        job = self.get(job_id)
        interval = float(job.spec.get("val_interval") or 0)
        folder = self.job_dir(job_id)
        if interval <= 0 or not folder.is_dir():
            return []
        with self.db.session() as s:
            last = s.scalar(select(func.max(Metric.epoch)).where(Metric.job_id == job_id, Metric.phase == "val"))
        if last is None:
            return []
        due = (math.floor(float(last) / interval + 1e-9) + 1) * interval  # the next validation
        removed = []
        for path, epoch in _snapshot_files(folder):
            if epoch >= due - 1e-9:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return sorted(removed)

    def put_files(self, job_id: str, files: dict[str, Any]) -> None:
        """Write inputs into a job's folder before it is submitted: ``{relative path: bytes,
        str, or an uploaded file (anything with .save)}``."""
        folder = self.job_dir(job_id)
        for relpath, content in files.items():
            target = folder / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            elif isinstance(content, str):
                target.write_text(content)
            else:
                content.save(target)

    def create(self, kind: str, name: str, spec: dict[str, Any], username: str = "",
               group: str = "", parent_id: str | None = None, notes: str = "",
               job_id: str | None = None) -> Job:
        """A new Initialized job with its folder and ``spec.json`` (written once, here);
        ``job_id``: an id chosen before (a study records its next trial's id first)."""
        kinds.get(kind)  # refuse a kind no plugin registered
        with self.db.session() as s:
            job_id = job_id or new_job_id()
            while s.get(Job, job_id) is not None:
                job_id = new_job_id()
            folder = self.job_dir(job_id)
            folder.mkdir(parents=True)
            _write_json(folder / "spec.json", spec)
            job = Job(id=job_id, kind=kind, name=name, group_name=group, username=username,
                      notes=notes, status=Status.INITIALIZED.value, parent_id=parent_id,
                      spec_json=json.dumps(spec), created=time.time(),
                      priority=PRIORITIES.get(str(spec.get("priority") or "normal"), 0))
            job.history = [StatusChange(status=job.status, timestamp=job.created)]
            dataset = spec.get("dataset") if isinstance(spec.get("dataset"), dict) else {}
            found = s.get(Job, str(dataset["id"])) if dataset.get("id") else None
            for key, value in listing.kept(job, found.name if found else "").items():
                setattr(job, key, value)
            s.add(job)
        self.notify(job, "added")
        return job

    def get(self, job_id: str) -> Job:
        """The job row; NotFound names the id."""
        job = self.db.get(job_id)
        if job is None:
            raise NotFound(f"Job not found: {job_id}")
        return job

    def set_status(self, job_id: str, status: Status, note: str = "", **fields: Any) -> Job:
        """Move a job to ``status`` (checked against the transition table) and record it."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"Job not found: {job_id}")
            check_transition(job.status, status)
            now = time.time()
            job.status = status.value
            if status is Status.RUNNING:
                job.started, job.finished, job.error = now, None, None
            elif status.finished:
                job.finished = now
            elif status is Status.INITIALIZED:
                job.finished, job.error, job.pid = None, None, None
            for key, value in fields.items():
                setattr(job, key, value)
            s.add(StatusChange(job_id=job_id, status=status.value, timestamp=now, note=note))
            s.flush()
            s.refresh(job)
        self.notify(job, "status")
        return job

    def update(self, job_id: str, update: str = "attribute", **fields: Any) -> Job:
        """Change plain fields (name, notes, group, progress, pid, result_json)."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"Job not found: {job_id}")
            for key, value in fields.items():
                setattr(job, key, value)
        self.notify(job, update)
        return job

    def merge_result(self, job_id: str, data: dict[str, Any]) -> Job:
        """Merge a worker's ``result`` data into the job's result."""
        job = self.get(job_id)
        result = job.result
        for key, value in data.items():
            if isinstance(value, list) and key.endswith("[]"):
                result.setdefault(key[:-2], []).extend(value)
            else:
                result[key] = value
        job.result_json = json.dumps(result)  # and what the lists show of it, kept with it
        return self.update(job_id, "result", result_json=job.result_json, **listing.kept(job))

    def add_metric(self, job_id: str, phase: str, epoch: float, step: int,
                   values: dict[str, float], timestamp: float | None = None) -> Metric:
        """Store one metric point."""
        with self.db.session() as s:
            point = Metric(job_id=job_id, phase=phase, epoch=float(epoch), step=int(step),
                           values_json=json.dumps(values), timestamp=timestamp or time.time())
            s.add(point)
        return point

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """Every metric point of a job, in the order they came."""
        with self.db.session() as s:
            rows = s.scalars(select(Metric).where(Metric.job_id == job_id).order_by(Metric.id))
            return [m.as_dict() for m in rows]

    def metric_batches(self, job_id: str, after: int = 0, batch: int = 2000, raw: bool = False,
                       epochs: tuple[float, float] | None = None):
        """A job's metric points after point ``after`` (an id), a batch at a time, each point
        with its ``id``: a caller can give other requests their turn between two batches.
        ``raw``: each point's values as the stored JSON text (``raw``), not parsed; ``epochs``:
        only the points from one epoch to another (both included)."""
        last = after
        while True:
            with self.db.engine.connect() as conn:
                rows = plain_rows(conn, select(Metric.id, Metric.phase, Metric.epoch, Metric.step,
                                               Metric.values_json, Metric.timestamp)
                                  .where(Metric.job_id == job_id, Metric.id > last, *_in_epochs(epochs))
                                  .order_by(Metric.id).limit(batch))
            if not rows:
                return
            yield [{"id": r[0], "phase": r[1], "epoch": r[2], "step": r[3],
                    **({"raw": r[4]} if raw else {"values": json.loads(r[4])}), "t": r[5]} for r in rows]
            last = rows[-1][0]
            if len(rows) < batch:
                return

    def metric_values(self, job_id: str, after: int = 0, epochs: tuple[float, float] | None = None,
                      batch: int = 10000):
        """A job's points after point ``after`` as ``(id, phase, value)``, the value a graph is
        thinned by (:attr:`Metric.graph_value`; read from the JSON only for older rows), a
        batch at a time."""
        from .thin import _first_number

        last = after
        while True:
            with self.db.engine.connect() as conn:  # Core rows: no ORM loading for 10,000 tuples
                rows = plain_rows(conn, select(Metric.id, Metric.phase, Metric.graph_value)
                                  .where(Metric.job_id == job_id, Metric.id > last, *_in_epochs(epochs))
                                  .order_by(Metric.id).limit(batch))
                missing = [r[0] for r in rows if r[2] is None]  # older rows, or no finite number
                older = {r[0]: r[1] for k in range(0, len(missing), 500) for r in conn.execute(
                    select(Metric.id, Metric.values_json).where(Metric.id.in_(missing[k:k + 500])))}
            if not rows:
                return
            if older:
                rows = [(r[0], r[1], _first_number({"values": json.loads(older[r[0]])}) if r[0] in older else r[2])
                        for r in rows]
            yield rows
            last = rows[-1][0]
            if len(rows) < batch:
                return

    def metric_points(self, ids: list[int]) -> list[dict[str, Any]]:
        """The metric points with these ids (each with its ``id``), in id order."""
        out: list[dict[str, Any]] = []
        for k in range(0, len(ids), 500):
            with self.db.session() as s:
                rows = s.execute(select(Metric.id, Metric.phase, Metric.epoch, Metric.step,
                                        Metric.values_json, Metric.timestamp)
                                 .where(Metric.id.in_(ids[k:k + 500]))).all()
            out.extend({"id": r[0], "phase": r[1], "epoch": r[2], "step": r[3], "values": json.loads(r[4]),
                        "t": r[5]} for r in rows)
        return sorted(out, key=lambda p: p["id"])

    def metric_counts(self, job_id: str, after: int = 0,
                      epochs: tuple[float, float] | None = None) -> dict[str, int]:
        """How many metric points each phase of a job has after point ``after`` (within
        ``epochs``, when given)."""
        with self.db.session() as s:
            return dict(s.execute(select(Metric.phase, func.count())
                                  .where(Metric.job_id == job_id, Metric.id > after, *_in_epochs(epochs))
                                  .group_by(Metric.phase)).all())

    def delete_metrics_after(self, job_id: str, epoch: float) -> None:
        """Drop the points after ``epoch`` (a resumed job emits them again)."""
        with self.db.session() as s:
            s.query(Metric).filter(Metric.job_id == job_id, Metric.epoch > epoch).delete()

    def children(self, job_id: str) -> list[Job]:
        """Jobs that depend on this one (models on a dataset)."""
        with self.db.session() as s:
            return list(s.scalars(select(Job).where(Job.parent_id == job_id).order_by(Job.created)))

    def delete(self, job_id: str) -> None:
        """Remove the row, its timeline, its metrics and its folder."""
        job = self.get(job_id)
        with self.db.session() as s:
            for model in (Metric, StatusChange):
                s.query(model).filter_by(job_id=job_id).delete()
            s.query(Job).filter_by(id=job_id).delete()
        folder = self.job_dir(job_id)
        if folder.is_dir() and folder.parent == self.jobs_dir:
            shutil.rmtree(folder, ignore_errors=True)
        self.notify(job, "deleted")


def _snapshot_files(folder: Path):
    """Each ``snapshot_epoch_<e>.pt`` in ``folder`` with its epoch (files named otherwise: none)."""
    for path in folder.glob("snapshot_epoch_*.pt"):
        try:
            yield path, float(path.stem.rsplit("_", 1)[1])
        except ValueError:
            continue


def plain_rows(conn, statement) -> list[tuple]:
    """A SELECT's rows as the driver's own tuples, without a SQLAlchemy ``Row`` made for each
    (for a 200,000-point graph, making the Rows cost about as much as SQLite's reading them)."""
    compiled = statement.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    if compiled.positiontup:  # SQLite's "?" parameters: in their order
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def _in_epochs(epochs: tuple[float, float] | None) -> tuple:
    """The conditions that keep the metric points between two epochs (none: every point)."""
    if epochs is None:
        return ()
    low, high = epochs
    return tuple(c for bound, c in ((low, Metric.epoch >= low), (high, Metric.epoch <= high))
                 if math.isfinite(bound))


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a crash leaves the old file or the new one, never half)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
