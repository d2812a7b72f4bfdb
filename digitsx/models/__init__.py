"""Image classification models: networks, LR schedules, the training worker, forms and pages.

Importing this package stays light (no torch, no Flask); the web side registers through
:mod:`digitsx.models.plugin`, the worker is :mod:`digitsx.models.train`.
"""

CLASSIFICATION = "model.images.classification"
PRETRAINED = "model.pretrained"
INFERENCE = "model.images.classification.inference"

from .registry import declare_task  # noqa: E402 (torch-free)

declare_task("classification", "digitsx.models.catalog")  # its networks, loaded on first use
