"""Registers the image classification dataset kind and its routes with the app."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request
from . import CLASSIFICATION


def init_app(app: Flask) -> None:
    """Register the dataset kind and its routes."""
    from . import routes, summary

    app.config.setdefault("DATASET_WORKERS", None)  # None: every core
    app.config.setdefault("DATASET_PARALLEL", "processes")  # see bench/dataset_build.py
    kinds.register(kinds.JobKind(
        CLASSIFICATION, "dataset", "Image classification dataset", "digitsx.datasets.build",
        lambda spec: Request(cpu=1), new_endpoint="datasets.new_classification",
        new_label="New dataset: images → classification",
        resumable=True, url_prefix="/datasets", details=summary.details,
        template="datasets/show.html"))
    app.register_blueprint(routes.bp)
