"""Image classification: class-per-folder and text-list datasets, DIGITS's networks and
torchvision's trained on the task-neutral engine, pretrained models, one-image and many-image
tests with top-N and confusion reports, exports.

Importing this package stays light (no torch, no Flask); the web side registers through
:mod:`digitsx.classification.plugin`, the workers are :mod:`.build`, :mod:`.train`,
:mod:`.infer`, :mod:`.infer_many`, :mod:`.pretrained` and :mod:`.visualize`.
"""

from ..models import CLASSIFICATION as MODEL, PRETRAINED  # noqa: F401 (the names other tasks refer to)

DATASET = "dataset.images.classification"
TEST = "model.images.classification.inference"

from ..models.registry import declare_task  # noqa: E402 (torch-free)

declare_task("classification", "digitsx.classification.catalog")  # its networks, loaded on first use
