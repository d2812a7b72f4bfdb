"""Registers the segmentation kinds (dataset, model, test), its routes and generic handlers."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request
from ..models import code_policy
from . import DATASET, MODEL, TEST


def init_app(app: Flask) -> None:
    from ..models import generic
    from . import forms, routes, summary

    kinds.register(kinds.JobKind(
        DATASET, "dataset", "Segmentation dataset", "digitsx.segmentation.build",
        lambda spec: Request(cpu=1), new_endpoint="segmentation.new_dataset",
        new_label="New dataset: images → segmentation", resumable=True, url_prefix="/datasets",
        details=summary.dataset_details, template="segmentation/dataset.html"))
    kinds.register(kinds.JobKind(
        MODEL, "model", "Segmentation model", "digitsx.segmentation.train",
        lambda spec: Request.from_dict(spec.get("resources") or {"gpu_count": 1}),
        new_endpoint="segmentation.new_model", new_label="New model: images → segmentation",
        resumable=True, distributed=True, url_prefix="/models", details=summary.model_details,
        template="segmentation/model.html", serve="digitsx.segmentation.infer",
        export="digitsx.segmentation.export", runs_code=code_policy.spec_code,
        main_metric=("val/miou", "val mIoU"), model_form=forms.MODEL_FORM, parse=forms.parse_model))
    kinds.register(kinds.JobKind(
        TEST, "inference", "Segmentation test", "digitsx.segmentation.infer_many",
        lambda spec: Request(gpu_count=1), url_prefix="/models", details=summary.test_details,
        template="segmentation/report.html"))
    app.register_blueprint(routes.bp)
    generic.register(generic.GenericTask("segmentation", DATASET, MODEL, routes.create_model,
                                         routes.infer_one, routes.infer_many, routes.infer_db),
                     forms.MODEL_FORM)
