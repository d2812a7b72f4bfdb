"""Image classification datasets: the form, the LMDB-building worker, the page and Explore."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request

CLASSIFICATION = "dataset.images.classification"


def init_app(app: Flask) -> None:
    """Register the dataset kind and its routes."""
    from . import routes, summary

    app.config.setdefault("DATASET_WORKERS", None)  # None: every core
    app.config.setdefault("DATASET_PARALLEL", "threads")
    kinds.register(kinds.JobKind(
        CLASSIFICATION, "dataset", "Image classification dataset", "digitsx.datasets.build",
        lambda spec: Request(cpu=1), new_endpoint="datasets.new_classification",
        resumable=True, url_prefix="/datasets", details=summary.details,
        template="datasets/show.html"))
    app.register_blueprint(routes.bp)
