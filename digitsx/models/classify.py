"""Classify one image with a model snapshot, on the warm inference worker."""
from __future__ import annotations

import base64
import time

from flask import Blueprint, jsonify, render_template

from ..http import form_values, platform, twin_route, wants_json
from .testing import JOB_ID, image_request, model_and_epoch, snapshot_epoch, warm_epoch
from ..schemas import answers, ref

bp = Blueprint("model_classify", __name__)


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
