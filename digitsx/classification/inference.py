"""Image classification's tests: one image on the warm inference worker (``classify_one``),
many images (``classify_many``: a short list answered at once in DIGITS's shape, else a test
job), top N per category, a dataset split. A test job's page is the report
(:mod:`.report`): accuracy, per-class accuracy, a confusion matrix whose cells open the images
behind them (most confident first), every image's top 5, top N per class, CSV."""
from __future__ import annotations

import base64
import time

import os
import re
from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, request

from ..archives import archive_suffix
from ..datasets.folder import DatasetFolder
from ..engine.spec import DatasetRef
from ..errors import BadRequest, ValidationError
from ..fields import TRUE
from ..http import form_values, platform, twin_route, wants_json
from ..models.checks import declared
from ..models.testing import (JOB_ID, accepted, create_job, image_request, limit, model_and_epoch as
                              any_model_and_epoch, server_path, snapshot_epoch, warm_epoch)
from ..schemas import answers, ref
from . import MODEL, TEST

bp = Blueprint("model_classify", __name__)
tests_bp = Blueprint("model_tests", __name__)
WHAT = "an image classification model"


def model_and_epoch(values: dict):
    """The image classification model ``job_id`` names and the ``snapshot_epoch`` asked for."""
    return any_model_and_epoch(values, MODEL, WHAT)


@twin_route(bp, "/models/images/classification/classify_one", methods=["POST"])
@answers({"anyOf": [ref("Predictions"), ref("Checked")]})
def classify_one():
    """Classify one image (``image_file`` upload or ``image_path`` on the server) with a model
    snapshot (``snapshot_epoch``, default the newest): ``{"predictions": [[label, pct], ...]}``."""
    started = time.perf_counter()
    values = form_values()
    p = platform()
    job_id = str(values.get("job_id", ""))
    epoch = snapshot_epoch(values)
    if JOB_ID.fullmatch(job_id):  # "latest" is the newest snapshot on disk now
        epoch = warm_epoch(p.store.job_dir(job_id), epoch)
    job = None
    if p.serving.warm(job_id, epoch) is None:  # a warm worker means the model and snapshot exist
        job, epoch = model_and_epoch({"job_id": job_id, "snapshot_epoch": epoch})
    ask, shown = image_request()
    ask["visualize"] = str(values.get("show_visualizations", "")).lower() in ("1", "y", "yes", "on", "true")
    asked = time.perf_counter()
    answer = p.serving.classify(job_id, epoch, ask)
    answered = time.perf_counter()
    if wants_json():
        response = jsonify({k: answer[k] for k in ("predictions", "timing", "visualizations") if k in answer})
        timing = answer.get("timing", {})
        response.headers["Server-Timing"] = (
            f"app;dur={(time.perf_counter() - started) * 1000:.3f}, "
            f"worker;dur={(answered - asked) * 1000:.3f}, "
            f"preprocess;dur={timing.get('preprocess_ms', 0):.3f}, forward;dur={timing.get('forward_ms', 0):.3f}")
        return response
    image = base64.b64encode(shown if shown is not None else open(ask["path"], "rb").read()).decode()
    job = job or p.store.get(job_id)
    return render_template("models/classify_one.html", job=p.job_json(job), answer=answer,
                           image=image)


def class_names(model) -> list[str]:
    return DatasetFolder(platform().store.job_dir(DatasetRef.of(model.spec).id)).labels


def parse_list(text: str, folder: str, names: list[str]) -> list[tuple[str, int]]:
    """``path [label]`` lines → ``(absolute path, label index or -1)``. The label is a class
    index or a class name; paths are relative to ``folder`` unless absolute. Paths outside the
    data roots and labels out of range are errors naming the line."""
    entries, errors = [], []
    by_name = {n.lower(): i for i, n in enumerate(names)}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(None, 1)
        path, label = line, -1
        if len(parts) == 2:
            if re.fullmatch(r"-?[0-9]+", parts[1]):
                path, label = parts[0], int(parts[1])
                if not 0 <= label < len(names):
                    errors.append(f"line {number}: label {label} is not a class index "
                                  f"(0–{len(names) - 1})")
            elif parts[1].lower() in by_name and not os.path.splitext(parts[1])[1]:
                path, label = parts[0], by_name[parts[1].lower()]
        if not os.path.isabs(path) and folder:
            path = os.path.join(folder, path)
        try:
            entries.append((server_path(path, "image_list"), label))
        except ValidationError:
            errors.append(f"line {number}: {os.path.abspath(path)} is outside the allowed data roots")
        if len(errors) >= 10:
            break
    if errors:
        raise ValidationError({"image_list": errors})
    if not entries:
        raise ValidationError({"image_list": ["the list has no image paths"]})
    return entries


def _inputs(values: dict, model) -> dict:
    """The images to classify from the form: an uploaded list, an uploaded archive, or a list
    on the server (``image_list_path``)."""
    archive = request.files.get("image_archive")
    if archive is not None and archive.filename:
        if archive_suffix(archive.filename) is None:
            raise ValidationError({"image_archive": ["upload a .zip, .tar, .tar.gz or .tgz of images"]})
        return {"source": "archive", "upload": archive}
    upload = request.files.get("image_list")
    if upload is not None and upload.filename:
        text = upload.read().decode("utf-8", "replace")
    elif values.get("image_list_path"):
        path = server_path(str(values["image_list_path"]), "image_list_path")
        if not os.path.isfile(path):
            raise ValidationError({"image_list_path": [f"{path} does not exist"]})
        text = Path(path).read_text(errors="replace")
    else:
        raise ValidationError({"image_list": ["upload a text file of 'path [label]' lines, or an "
                                              "archive of images (image_archive)"]})
    entries = parse_list(text, str(values.get("image_folder") or ""), class_names(model))
    return {"source": "list", "entries": entries[:limit(values)]}


def _submit(values: dict, model, epoch: str, inputs: dict, top_n: int | None = None):
    what = "top N" if top_n else "classify many"
    spec = {"source": inputs["source"], "limit": limit(values), "top_n": top_n}
    if inputs["source"] == "archive":
        rel = f"uploads/images{archive_suffix(inputs['upload'].filename)}"
        spec["archive"] = rel
        files = {rel: inputs["upload"]}
        name = f"{model.name}: {what} ({inputs['upload'].filename})"
    else:
        spec["list"] = "inputs/images.tsv"
        files = {spec["list"]: "".join(f"{path}\t{label}\n" for path, label in inputs["entries"])}
        name = f"{model.name}: {what} ({len(inputs['entries'])} images)"
    job = create_job(model, epoch, spec, str(values.get("job_name") or name), files, TEST)
    return accepted(job, "#top-n" if top_n else "")


def _direct(model, epoch: str, entries: list[tuple[str, int]]) -> dict:
    """DIGITS's answer for a small list, classified by the warm worker."""
    p = platform()
    names = class_names(model)
    classifications, top1, top5, labelled = {}, 0, 0, 0
    for path, label in entries:
        try:
            predictions = p.serving.classify(model.id, epoch, {"path": path})["predictions"]
        except BadRequest as err:
            classifications[path] = {"error": err.message}
            continue
        classifications[path] = predictions
        if label >= 0:
            got = [pred[0] for pred in predictions]
            labelled += 1
            top1 += bool(got and got[0] == names[label])
            top5 += names[label] in got
    answer: dict = {"classifications": classifications}
    if labelled:
        answer["accuracy"] = {"top1": round(100 * top1 / labelled, 2),
                              "top5": round(100 * top5 / labelled, 2), "images": labelled}
    return answer


@twin_route(tests_bp, "/models/images/classification/classify_many", methods=["POST"])
@answers("Accepted", 202)
def classify_many():
    """Classify many images (``image_list`` of ``path [label]`` lines with ``image_folder`` for
    relative paths and ``num_test_images`` as a limit, or an ``image_archive``).

    JSON with a list of at most ``CLASSIFY_MANY_DIRECT`` images (and no ``background``): DIGITS's
    ``{"classifications": {path: [[label, pct], ...]}}`` plus accuracy. Otherwise an inference
    job: 202 ``{job_id, status_url, results_url}`` (the form goes to the job's report)."""
    values = form_values()
    model, epoch = model_and_epoch(values)
    inputs = _inputs(values, model)
    direct = int(current_app.config.get("CLASSIFY_MANY_DIRECT", 1000))
    if wants_json() and inputs["source"] == "list" and len(inputs["entries"]) <= direct \
            and str(values.get("background", "")).lower() not in TRUE:
        return _direct(model, warm_epoch(platform().store.job_dir(model.id), epoch),
                       inputs["entries"])
    return _submit(values, model, epoch, inputs)


@twin_route(tests_bp, "/models/images/classification/top_n", methods=["POST"])
@answers("Accepted", 202)
def top_n():
    """Top N per category (``top_n``, default 9) over an image list or archive, as a job whose
    report shows, for each class, the N images scored highest for it."""
    values = form_values()
    model, epoch = model_and_epoch(values)
    top = declared(values, "top_n")
    return _submit(values, model, epoch, _inputs(values, model), top)


@twin_route(tests_bp, "/models/<job_id>/test_split", methods=["POST"])
@answers("Accepted", 202)
def test_split(job_id: str):
    """The report over the model's dataset ``split`` (``val`` or ``test``) at ``snapshot_epoch``."""
    values = form_values()
    model, epoch = model_and_epoch({**values, "job_id": job_id})
    split = str(values.get("split") or "val")
    if split not in ("val", "test", "train"):
        raise ValidationError({"split": [f"must be val, test or train, got {split!r}"]})
    dataset = DatasetRef.of(model.spec).id
    entries = DatasetFolder(platform().store.job_dir(dataset)).entries(split)
    if not entries:
        raise ValidationError({"split": [f"the dataset has no {split} images"]})
    job = create_job(model, epoch, {"source": "split", "split": split, "dataset_id": dataset},
                     str(values.get("job_name") or f"{model.name}: test on {split} ({entries} images)"), None, TEST)
    return accepted(job)


