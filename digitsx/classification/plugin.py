"""Registers image classification with the app: its job kinds (dataset, model, pretrained
model, test), its routes, and its network preview on the shared previews."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request
from ..models import code_policy
from . import DATASET, MODEL, PRETRAINED, TEST


def init_app(app: Flask) -> None:
    """Register the kinds and routes."""
    from ..models.previews import register_network_preview
    from . import forms, inference, pretrained_routes, previews, report, routes, store, summary

    app.config.setdefault("DATASET_WORKERS", None)  # None: every core
    app.config.setdefault("DATASET_PARALLEL", "processes")  # see bench/dataset_build.py
    kinds.register(kinds.JobKind(
        DATASET, "dataset", "Image classification dataset", "digitsx.classification.build",
        lambda spec: Request(cpu=1), new_endpoint="datasets.new_classification",
        new_label="New dataset: images → classification",
        resumable=True, url_prefix="/datasets", details=summary.dataset_details,
        template="datasets/show.html"))
    kinds.register(kinds.JobKind(
        MODEL, "model", "Image classification model", "digitsx.classification.train",
        lambda spec: Request.from_dict(spec.get("resources") or {"gpu_count": 1}),
        new_endpoint="models.new_classification", new_label="New model: images → classification",
        resumable=True, distributed=True, url_prefix="/models",
        details=summary.model_details, template="models/show.html",
        serve="digitsx.classification.infer", export="digitsx.classification.export",
        runs_code=code_policy.spec_code, main_metric=("val/accuracy", "val accuracy (%)"),
        model_form=forms.MODEL_FORM, parse=forms.parse_model))
    kinds.register(kinds.JobKind(
        PRETRAINED, "pretrained", "Pretrained model", "digitsx.classification.pretrained",
        lambda spec: Request(cpu=1), url_prefix="/models", template="models/pretrained.html",
        new_endpoint="pretrained_models.upload_page", new_label="Upload a pretrained model",
        runs_code=pretrained_routes.pretrained_code))
    kinds.register(kinds.JobKind(
        TEST, "inference", "Classification test", "digitsx.classification.infer_many",
        lambda spec: Request(gpu_count=1), url_prefix="/models", details=report.details,
        template="models/inference.html"))
    for bp in (routes.datasets_bp, routes.bp, inference.bp, pretrained_routes.bp, inference.tests_bp,
               report.bp, store.bp):
        app.register_blueprint(bp)
    register_network_preview(previews.NETWORK_FORM, previews.visualize_network)
