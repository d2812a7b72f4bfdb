"""Registers the image classification model kind and its routes with the app."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request
from . import CLASSIFICATION, INFERENCE, PRETRAINED, code_policy


def init_app(app: Flask) -> None:
    """Register the model kind and its routes."""
    from . import classify, downloads, pretrained_routes, previews, report, routes, summary, testing

    kinds.register(kinds.JobKind(
        CLASSIFICATION, "model", "Image classification model", "digitsx.models.train",
        lambda spec: Request.from_dict(spec.get("resources") or {"gpu_count": 1}),
        new_endpoint="models.new_classification", new_label="New model: images → classification",
        resumable=True, distributed=True, url_prefix="/models",
        details=summary.details, template="models/show.html", serve="digitsx.models.infer",
        export="digitsx.models.export", runs_code=code_policy.spec_code))
    kinds.register(kinds.JobKind(
        PRETRAINED, "pretrained", "Pretrained model", "digitsx.models.pretrained",
        lambda spec: Request(cpu=1), url_prefix="/models", template="models/pretrained.html",
        new_endpoint="pretrained_models.upload_page", new_label="Upload a pretrained model"))
    kinds.register(kinds.JobKind(
        INFERENCE, "inference", "Classification test", "digitsx.models.classify_many",
        lambda spec: Request(gpu_count=1), url_prefix="/models", details=report.details,
        template="models/inference.html"))
    for module in (routes, previews, classify, downloads, pretrained_routes):
        app.register_blueprint(module.bp)
    app.register_blueprint(testing.bp)
    from . import generic

    app.register_blueprint(generic.bp)
    app.register_blueprint(report.bp)
