"""Object detection: KITTI / COCO / VOC / YOLO datasets, torchvision detectors trained on the
task-neutral engine, live COCO mAP, a box view and test reports.

Importing this package stays light (no torch, no Flask); the web side registers through
:mod:`digitsx.detection.plugin`, the workers are :mod:`.build`, :mod:`.train`, :mod:`.infer`
and :mod:`.infer_many`.
"""

DATASET = "dataset.images.object-detection"
MODEL = "model.images.object-detection"
TEST = "model.images.object-detection.inference"

from ..models.registry import declare_task  # noqa: E402 (torch-free)

declare_task("detection", "digitsx.detection.catalog")
