"""Image classification's network preview: every layer of a standard or custom network with
its output shape and parameter count, built in a worker process (custom code never runs in
the web process). Answers the shared route (:mod:`digitsx.models.previews`)."""
from __future__ import annotations

import json

from .. import auth
from ..datasets.folder import DatasetFolder
from ..engine.spec import DatasetSpec
from ..errors import BadRequest, ValidationError
from ..fields import Field, Form
from ..http import form_values, platform
from ..jobs import launch
from . import DATASET, forms

NETWORK_FORM = Form("Network preview", {
    **{k: forms.MODEL_FORM.fields[k] for k in ("method", "standard_networks", "custom_network",
                                               "crop_size")},
    "dataset": Field("id", help="take classes, channels and size from this dataset"),
    "num_classes": Field("int", 10, 1, 100000), "channels": Field("int", 3, 1, 4),
    "size": Field("int", 224, 1, 4096)})


def visualize_network():
    """Every layer with its output shape and parameter count (run in a worker process)."""
    auth.require_login()
    values = form_values()
    r = NETWORK_FORM.reader({k: v for k, v in values.items() if v != ""})
    method = r.choice("method")  # parsed: " custom" and "custom\n" are custom here too
    if method == "custom":
        auth.require_code_permission("Visualize with a custom network")
    auth.rate_limit("network previews")
    payload = {"method": "custom" if method == "custom" else "standard",
               "source": r.text("custom_network") if method == "custom" else "",
               "name": r.choice("standard_networks"),
               "classes": r.number("num_classes"), "channels": r.number("channels"),
               "size": r.number("size")}
    if r.errors:
        raise ValidationError(r.errors)
    dataset = values.get("dataset")
    if dataset:
        job = platform().store.db.get(dataset)
        if job is not None and job.kind == DATASET:
            image = DatasetSpec.from_dict(job.spec).image
            payload.update(channels=image.get("channels", 3),
                           size=int(values.get("crop_size") or min(image.get("width", 224),
                                                                  image.get("height", 224))))
            labels = DatasetFolder(platform().store.job_dir(dataset)).labels
            if labels:
                payload["classes"] = len(labels)
    code, out, err = launch.run_module("digitsx.classification.visualize", [], platform().store.jobs_dir,
                                       input=json.dumps(payload), timeout=120)
    if code is None:
        raise BadRequest("custom_network: building the network took longer than 120 s")
    try:
        answer = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BadRequest(f"custom_network: the network could not be built: {err[-500:]}") from None
    if "error" in answer:
        raise ValidationError({"custom_network": [answer["error"]]})
    return answer
