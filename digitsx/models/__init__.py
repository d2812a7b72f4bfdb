"""Image classification models: networks, LR schedules, the training worker, forms and pages.

Importing this package stays light (no torch, no Flask); the web side registers through
:mod:`digitsx.models.plugin`, the worker is :mod:`digitsx.models.train`.
"""

CLASSIFICATION = "model.images.classification"
PRETRAINED = "model.pretrained"
INFERENCE = "model.images.classification.inference"
