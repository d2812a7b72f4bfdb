"""Starting a network's backbone from a classification network's weights (detection and
segmentation both do it)."""
from __future__ import annotations

import torch


def load_backbone(model: torch.nn.Module, file: str, prefix: str = "backbone.") -> dict:
    """Start a detector's or segmenter's backbone (the tensors under ``prefix``) from a classification network's weights (a digitsx snapshot
    or a pretrained model's ``model.pt``): the backbone's tensors and the classifier's, each in
    module order, are paired one by one while their shapes agree (torchvision builds its
    detection backbones from the same feature layers, under other names). Returns
    ``{loaded: [names], fresh: [names]}``."""
    state = torch.load(file, map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    source = [(k, v) for k, v in state.items()
              if not k.startswith(("fc.", "classifier.", "head.")) and hasattr(v, "shape")]
    own = model.state_dict()
    targets = [k for k in own if k.startswith(prefix)]
    loaded, new = [], {}
    for (_, value), name in zip(source, targets):
        if own[name].shape != value.shape or own[name].dtype != value.dtype:
            break
        new[name] = value
        loaded.append(name)
    if not loaded:
        raise ValueError("no layer of that network fits this detector's backbone (their first "
                         "layers differ in shape: pick a model of the same family, e.g. "
                         "mobilenet_v3_large for the MobileNetV3 detectors, resnet50 for ResNet-50)")
    model.load_state_dict(new, strict=False)
    return {"loaded": loaded, "fresh": [k for k in own if k not in new]}
