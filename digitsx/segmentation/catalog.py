"""Segmentation's networks: torchvision's segmenters (``weights=None, weights_backbone=None``)
and a small U-Net of our own. Torch-free registrations."""
from __future__ import annotations

from ..models.registry import register

TASK = "segmentation"
TV = "digitsx.segmentation.networks:torchvision_segmenter"

register(TASK, "lraspp_mobilenet_v3_large", "LR-ASPP MobileNetV3", TV, 256,
         "Light and fast: trains on 2 CPU cores", channels=(3,), builder="lraspp_mobilenet_v3_large", parameters=3219668)
register(TASK, "unet", "U-Net (small)", "digitsx.segmentation.networks:unet", 256,
         "Four levels, 16–128 channels: the usual choice for small data sets", channels=(1, 3), parameters=482890)
register(TASK, "deeplabv3_mobilenet_v3_large", "DeepLabV3 MobileNetV3", TV, 512,
         "Atrous pyramid on a light backbone", channels=(3,), builder="deeplabv3_mobilenet_v3_large", parameters=11022650)
register(TASK, "fcn_resnet50", "FCN ResNet-50", TV, 512, "DIGITS's FCN, on ResNet-50 (GPU)",
         channels=(3,), builder="fcn_resnet50", parameters=32951370)
register(TASK, "deeplabv3_resnet50", "DeepLabV3 ResNet-50", TV, 512, "Accurate (GPU)",
         channels=(3,), builder="deeplabv3_resnet50", parameters=39636042)
