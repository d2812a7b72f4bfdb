"""Registers the object-detection kinds (dataset, model, test) and their routes."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request
from ..models import code_policy
from . import DATASET, MODEL, TEST


def init_app(app: Flask) -> None:
    from . import forms, routes, summary

    kinds.register(kinds.JobKind(
        DATASET, "dataset", "Object detection dataset", "digitsx.detection.build",
        lambda spec: Request(cpu=1), new_endpoint="detection.new_dataset",
        new_label="New dataset: images → object detection", resumable=True, url_prefix="/datasets",
        details=summary.dataset_details, template="detection/dataset.html"))
    kinds.register(kinds.JobKind(
        MODEL, "model", "Object detection model", "digitsx.detection.train",
        lambda spec: Request.from_dict(spec.get("resources") or {"gpu_count": 1}),
        new_endpoint="detection.new_model", new_label="New model: images → object detection",
        resumable=True, distributed=True, url_prefix="/models", details=summary.model_details,
        template="detection/model.html", serve="digitsx.detection.infer",
        export="digitsx.detection.export", runs_code=code_policy.spec_code,
        main_metric=("val/map_50", "val mAP@0.5"), model_form=forms.MODEL_FORM, parse=forms.parse_model))
    kinds.register(kinds.JobKind(
        TEST, "inference", "Object detection test", "digitsx.detection.infer_many",
        lambda spec: Request(gpu_count=1), url_prefix="/models", details=summary.test_details,
        template="detection/report.html"))
    app.register_blueprint(routes.bp)
    from ..models import generic

    generic.register(generic.GenericTask("object detection", DATASET, MODEL, routes.create_model,
                                         routes.infer_one, routes.infer_many, routes.infer_db),
                     forms.MODEL_FORM)
