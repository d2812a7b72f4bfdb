"""A test job's report: per-image results (paged, by confusion-matrix cell), CSV, top N per
class, the input images, and what the job's JSON adds (the summary the worker wrote)."""
from __future__ import annotations

import csv
import io
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from flask import Blueprint, Response, current_app, request, send_file

from ..files import within_roots
from ..errors import BadRequest, NotFound
from ..http import platform
from ..fields import TRUE
from . import TEST as INFERENCE

bp = Blueprint("model_reports", __name__)
TOP = 5


class Results:
    """A finished inference job's outputs, read once per change of its files."""

    def __init__(self, folder: Path) -> None:
        out = folder / "results"
        if not (out / "report.json").exists():
            raise NotFound("the results are not ready yet")
        self.folder = folder
        self.report = json.loads((out / "report.json").read_text())
        self.names: list[str] = self.report["labels"]
        self.paths, labels = [], []
        for line in (out / "images.tsv").read_text().splitlines():
            path, _, label = line.rpartition("\t")
            self.paths.append(path)
            labels.append(int(label))
        self.labels = np.asarray(labels, dtype=np.int64)
        self.probs = np.load(out / "probs.npy", mmap_mode="r", allow_pickle=False)
        self.ok = np.load(out / "ok.npy", allow_pickle=False)
        self.errors = {int(k): v for k, v in json.loads((out / "errors.json").read_text()).items()}
        self.top = np.argsort(-self.probs, axis=1, kind="stable")[:, :min(TOP, len(self.names))]

    def predictions(self, i: int) -> list:
        return [[self.names[c], round(100 * float(self.probs[i, c]), 2)] for c in self.top[i]]

    def row(self, i: int, job_id: str, spec: dict) -> dict:
        label = int(self.labels[i])
        return {"index": i, "path": self.paths[i], "label": self.names[label] if label >= 0 else None,
                "predictions": self.predictions(i) if self.ok[i] else [],
                "error": self.errors.get(i), "image": image_url(job_id, spec, i)}


@lru_cache(maxsize=8)
def _results(folder: str, stamp: float) -> Results:
    return Results(Path(folder))


def results_of(job_id: str) -> tuple[object, Results]:
    job = platform().store.get(job_id)
    if job.kind != INFERENCE:
        raise BadRequest(f"{job.name} ({job.id}) is not an inference job")
    folder = platform().store.job_dir(job.id)
    report = folder / "results" / "report.json"
    if not report.exists():
        raise NotFound(f"{job.name} has no results yet ({job.status})")
    return job, _results(str(folder), report.stat().st_mtime)


def image_url(job_id: str, spec: dict, i: int) -> str:
    if spec.get("source") == "split":
        return f"/datasets/{spec['dataset_id']}/images/{spec['split']}/{i}"
    return f"/models/{job_id}/images/{i}"


def _int_arg(name: str, default: int | None, low: int = 0, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected a whole number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return value


@bp.route("/models/<job_id>/results.json")
def results(job_id: str):
    """A page of per-image results: ``?page=0&size=50``; ``true=<class>&predicted=<class>``
    keeps one confusion-matrix cell (sorted by confidence, highest first); ``errors=1`` keeps
    the images that could not be read."""
    job, r = results_of(job_id)
    size = _int_arg("size", 50, 1, 1000)
    page = _int_arg("page", 0)
    classes = len(r.names)
    true, predicted = _int_arg("true", None, 0, classes - 1), _int_arg("predicted", None, 0, classes - 1)
    keep = np.ones(len(r.paths), dtype=bool)
    if request.args.get("errors", "").lower() in TRUE:
        keep &= ~r.ok
    if true is not None:
        keep &= r.labels == true
    if predicted is not None:
        keep &= r.ok & (r.top[:, 0] == predicted)
    chosen = np.flatnonzero(keep)
    if predicted is not None:
        chosen = chosen[np.argsort(-r.probs[chosen, predicted], kind="stable")]
    total = int(len(chosen))
    rows = [r.row(int(i), job.id, job.spec) for i in chosen[page * size:(page + 1) * size]]
    return {"total": total, "page": page, "size": size, "pages": max(1, -(-total // size)),
            "true": true, "predicted": predicted, "labels": r.names, "rows": rows,
            "report": {k: v for k, v in r.report.items() if k not in ("labels",)}}


@bp.route("/models/<job_id>/results.csv")
def results_csv(job_id: str):
    """Every image: path, true label, top-5 labels and percentages, error."""
    job, r = results_of(job_id)
    buf = io.StringIO()
    w = csv.writer(buf)
    k = r.top.shape[1]
    w.writerow(["path", "label"] + [c for n in range(1, k + 1) for c in (f"top{n}", f"top{n}_pct")]
               + ["error"])
    for i, path in enumerate(r.paths):
        preds = r.predictions(i) if r.ok[i] else []
        w.writerow([path, r.names[r.labels[i]] if r.labels[i] >= 0 else ""]
                   + [x for pred in preds for x in pred] + [""] * (2 * (k - len(preds)))
                   + [r.errors.get(i, "")])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={job.id}_results.csv"})


@bp.route("/models/<job_id>/top_n.json")
def top_n_per_class(job_id: str):
    """For each class, the ``n`` images scored highest for it: ``{"top_n": [{label, images:
    [{index, path, pct, image, label}]}]}``."""
    job, r = results_of(job_id)
    n = _int_arg("n", job.spec.get("top_n") or 9, 1, 100)
    ok = np.flatnonzero(r.ok)
    out = []
    for c, name in enumerate(r.names):
        scores = r.probs[ok, c]
        best = ok[np.argsort(-scores, kind="stable")[:n]]
        out.append({"label": name, "images": [
            {"index": int(i), "path": r.paths[i], "pct": round(100 * float(r.probs[i, c]), 2),
             "image": image_url(job.id, job.spec, int(i)),
             "label": r.names[r.labels[i]] if r.labels[i] >= 0 else None} for i in best]})
    return {"n": n, "top_n": out}


@bp.route("/models/<job_id>/images/<int:index>")
def input_image(job_id: str, index: int):
    """An image of a list or archive, as uploaded (a thumbnail with ``?size=``)."""
    job, r = results_of(job_id)
    if not 0 <= index < len(r.paths):
        raise NotFound(f"{job.name} has no image {index}")
    path = r.paths[index]
    folder = str(platform().store.job_dir(job.id))
    if job.spec.get("source") == "archive":  # the archive is gone; its thumbnails stay
        if not r.ok[index]:
            raise NotFound(f"{path} was not a readable image")
        path = os.path.join(folder, "results", "thumbs", f"{index}.jpg")
    elif not within_roots(path, current_app.config["DATA_ROOTS"]):
        raise NotFound(f"{path} is outside the allowed data roots")
    if not os.path.isfile(path):
        raise NotFound(f"{r.paths[index]} no longer exists")
    size = _int_arg("size", None, 8, 1024)
    if size is None:
        return send_file(path, max_age=3600)
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.convert("RGB" if im.mode not in ("L", "RGB") else im.mode).save(buf, "PNG")
    except OSError as err:
        raise BadRequest(f"{path} is not a readable image: {err}") from None
    return Response(buf.getvalue(), mimetype="image/png", headers={"Cache-Control": "max-age=3600"})


def details(job, folder: Path) -> dict:
    """What an inference job's JSON adds: its model, source and (when done) the report."""
    spec = job.spec
    report_file = folder / "results" / "report.json"
    report = None
    if report_file.exists():
        try:
            report = json.loads(report_file.read_text())
        except (OSError, json.JSONDecodeError):
            report = None
    return {"inference": {"model": spec.get("model", {}).get("id"), "epoch": spec.get("epoch"),
                          "source": spec.get("source"), "split": spec.get("split"),
                          "top_n": spec.get("top_n"), "report": report}}
