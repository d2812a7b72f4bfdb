"""Image classification's networks: DIGITS's three adapted to the dataset's channels and size,
plus modern torchvision networks, all randomly initialised (nothing is downloaded). Torch-free:
each line names a factory in :mod:`digitsx.classification.networks`, imported when a worker builds it."""
from __future__ import annotations

from ..models.registry import register

TASK = "classification"
TV = "digitsx.classification.networks:torchvision_model"

register(TASK, "lenet", "LeNet", "digitsx.classification.networks:lenet", 28,
         "DIGITS's LeNet for small grayscale images (MNIST)",
         parameters=432080)
register(TASK, "alexnet", "AlexNet", TV, 224, "DIGITS's AlexNet (torchvision's, 224×224)",
         builder="alexnet",
         parameters=57044810)
register(TASK, "googlenet", "GoogLeNet", TV, 224,
         "DIGITS's GoogLeNet (Inception v1, no auxiliary heads)",
         builder="googlenet", aux_logits=False, init_weights=True,
         parameters=5610154)
register(TASK, "resnet18", "ResNet-18", TV, 224, "Residual network, 18 layers", builder="resnet18",
         parameters=11181642)
register(TASK, "resnet50", "ResNet-50", TV, 224, "Residual network, 50 layers", builder="resnet50",
         parameters=23528522)
register(TASK, "mobilenet_v3_small", "MobileNetV3 small", TV, 224, "Small and fast",
         builder="mobilenet_v3_small",
         parameters=1528106)
register(TASK, "mobilenet_v3_large", "MobileNetV3 large", TV, 224, "Fast, more accurate",
         builder="mobilenet_v3_large",
         parameters=4214842)
register(TASK, "efficientnet_b0", "EfficientNet-B0", TV, 224, "Accurate for its size",
         builder="efficientnet_b0",
         parameters=4020358)
