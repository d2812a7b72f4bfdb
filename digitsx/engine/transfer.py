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


def fine_tuning(network: dict) -> tuple[int, float, bool]:
    """(epochs the loaded layers stay frozen, their learning-rate multiple, frozen for good)
    from a spec's network: ``freeze_backbone_epochs``, ``backbone_lr_mult`` (a pretrained
    model's ``lr_mult`` and ``freeze`` are the older names)."""
    network = network or {}
    mult = network.get("backbone_lr_mult")
    if mult in (None, 1, 1.0) and network.get("lr_mult") is not None:
        mult = network["lr_mult"]
    return (int(network.get("freeze_backbone_epochs") or 0), 1.0 if mult is None else float(mult),
            bool(network.get("freeze")))


def source_name(network: dict, transfer: dict) -> str | None:
    """Where the loaded tensors came from, for the log and the model page."""
    backbone = network.get("backbone")
    return transfer.get("pretrained") or (backbone.get("name") if isinstance(backbone, dict) else None) \
        or network.get("name")


def loaded_names(net: torch.nn.Module, transfer: dict) -> set[str]:
    """The parameters that count as loaded (the "backbone"): those the transfer loaded, except,
    when every parameter was loaded (a pretrained model for the same classes), the last layer's,
    which stays the head that learns while the rest is frozen."""
    loaded = set(transfer.get("loaded", ()))
    params = dict(net.named_parameters())
    if params and all(n in loaded for n in params):
        last = [m for m in net.modules() if not list(m.children()) and list(m.parameters(recurse=False))][-1]
        head = {id(p) for p in last.parameters(recurse=False)}
        loaded -= {n for n, p in params.items() if id(p) in head}
    return loaded


def param_groups(net: torch.nn.Module, model: torch.nn.Module, network: dict, out=None) -> list[dict]:
    """The optimizer's groups: one, or for a start from loaded weights (a pretrained model, a
    backbone, published weights) the fresh layers at the policy's rate and the loaded ones at
    ``backbone_lr_mult`` × it (none when frozen for good). Layers torchvision froze stay out of
    the count. The job's result and log say which were which."""
    transfer = getattr(net, "digitsx_transfer", None)
    if not transfer:
        return [{"params": list(model.parameters()), "lr_mult": 1.0}]
    epochs, mult, frozen = fine_tuning(network)
    backbone = loaded_names(net, transfer)
    named = dict(net.named_parameters())
    loaded = [p for n, p in named.items() if n in backbone and p.requires_grad]
    fresh = [p for n, p in named.items() if n not in backbone and p.requires_grad]
    if frozen:
        for p in loaded:
            p.requires_grad_(False)
    source = source_name(network, transfer)
    if out is not None:
        out.result(transfer={**transfer, "pretrained": source, "frozen": frozen, "lr_mult": 0.0 if frozen else mult,
                             "freeze_backbone_epochs": epochs})
        out.log(f"from {source}: loaded {len(transfer['loaded'])} tensors, {len(transfer['fresh'])} "
                f"initialised fresh: {', '.join(transfer['fresh'][:8])}"
                + (f"; loaded layers frozen for {epochs} epoch(s)" if epochs and not frozen else "")
                + (f"; their learning rate × {mult:g}" if mult != 1 and not frozen else ""))
    groups = [{"params": fresh, "lr_mult": 1.0}]
    if loaded and not frozen:
        groups.append({"params": loaded, "lr_mult": mult})
    return groups


class Freezer:
    """``freeze_backbone_epochs``: the loaded layers (those still trainable) learn nothing for
    the first N epochs while the new head does, then join in (resumed jobs too)."""

    def __init__(self, net: torch.nn.Module, network: dict) -> None:
        self.epochs, _, frozen = fine_tuning(network)
        transfer = getattr(net, "digitsx_transfer", None) or {}
        loaded = loaded_names(net, transfer) if transfer else set()
        self.params = [p for n, p in net.named_parameters() if n in loaded and p.requires_grad] \
            if self.epochs and not frozen else []
        self.state: bool | None = None

    def apply(self, epoch: int, out=None) -> None:
        """Set the loaded layers for ``epoch`` (0-based): frozen before N, trainable from N."""
        if not self.params:
            return
        frozen = epoch < self.epochs
        if frozen != self.state:
            for p in self.params:
                p.requires_grad_(not frozen)
                if frozen:
                    p.grad = None
            if out is not None:
                out.log(f"epoch {epoch + 1}: loaded layers {'frozen' if frozen else 'now train'} "
                        f"({len(self.params)} tensors)")
            self.state = frozen
