"""Object detection's networks: torchvision's detectors, always built with ``weights=None,
weights_backbone=None`` (their defaults download weights). Torch-free registrations; the
factory is :func:`digitsx.detection.networks.torchvision_detector`."""
from __future__ import annotations

from ..models.registry import register

TASK = "detection"
TV = "digitsx.detection.networks:torchvision_detector"

register(TASK, "ssdlite320_mobilenet_v3_large", "SSDlite 320 (MobileNetV3)", TV, 320,
         "Single-shot, 320×320 input: fast, trains on 2 CPU cores", channels=(3,),
         builder="ssdlite320_mobilenet_v3_large", parameters=2317400)
register(TASK, "fasterrcnn_mobilenet_v3_large_320_fpn", "Faster R-CNN MobileNetV3 320 FPN", TV, 320,
         "Two-stage, low resolution (shorter side 320)", channels=(3,),
         builder="fasterrcnn_mobilenet_v3_large_320_fpn", native_size=False, parameters=18995629)
register(TASK, "fasterrcnn_mobilenet_v3_large_fpn", "Faster R-CNN MobileNetV3 FPN", TV, 800,
         "Two-stage at the dataset's resolution", channels=(3,),
         builder="fasterrcnn_mobilenet_v3_large_fpn", native_size=True, parameters=18995629)
register(TASK, "retinanet_resnet50_fpn", "RetinaNet ResNet-50 FPN", TV, 800,
         "One-stage with focal loss at the dataset's resolution (GPU)", channels=(3,),
         builder="retinanet_resnet50_fpn", native_size=True, parameters=32387774)
register(TASK, "fcos_resnet50_fpn", "FCOS ResNet-50 FPN", TV, 800,
         "Anchor-free one-stage at the dataset's resolution (GPU)", channels=(3,),
         builder="fcos_resnet50_fpn", native_size=True, parameters=32136015)
