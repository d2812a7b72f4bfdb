"""Semantic segmentation: palette / colour-map label images, torchvision segmenters and a small
U-Net trained on the task-neutral engine, live mIoU, an overlay view and test reports.

Importing this package stays light (no torch, no Flask); the web side registers through
:mod:`digitsx.segmentation.plugin`; the workers are :mod:`.build`, :mod:`.train`, :mod:`.infer`
and :mod:`.infer_many`.
"""

DATASET = "dataset.images.segmentation"
MODEL = "model.images.segmentation"
TEST = "model.images.segmentation.inference"
IGNORE = 255  # VOC's "ignore" label: left out of the loss and the metrics

from ..models.registry import declare_task  # noqa: E402 (torch-free)

declare_task("segmentation", "digitsx.segmentation.catalog")
