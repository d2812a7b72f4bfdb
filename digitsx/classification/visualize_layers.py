"""Layer-by-layer views for "classify one": each layer's activations and weights as tiled
images, with shape, mean, std, a histogram and parameter counts (as DIGITS showed them)."""
from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image

MAX_TILES = 36
MAX_LAYERS = 60


def tile(array: np.ndarray, max_tiles: int = MAX_TILES) -> str:
    """(N, H, W) or (H, W) floats → a normalised grid PNG as a data URI."""
    if array.ndim == 2:
        array = array[None]
    array = array[:max_tiles]
    n, h, w = array.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    lo, hi = float(array.min()), float(array.max())
    scaled = ((array - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(array)).astype(np.uint8)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = scaled[i]
    image = Image.fromarray(grid)
    if max(image.size) < 96:  # small maps: enlarge, keeping pixels sharp
        factor = max(1, 96 // max(image.size))
        image = image.resize((image.size[0] * factor, image.size[1] * factor), Image.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def stats(t: torch.Tensor) -> dict:
    """Shape, mean, std and a 20-bin histogram of a tensor."""
    values = t.detach().float().flatten().cpu()
    counts, edges = np.histogram(values.numpy(), bins=20)
    return {"shape": list(t.shape), "mean": float(values.mean()), "std": float(values.std()) if
            values.numel() > 1 else 0.0, "histogram": {"counts": counts.tolist(),
                                                       "edges": [float(e) for e in edges]}}


def visualize(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """Run ``x`` (one image) through the model, recording every leaf layer."""
    layers, hooks = [], []
    for name, module in model.named_modules():
        if not name or list(module.children()):
            continue

        def hook(mod, _inp, out, name=name):
            if len(layers) >= MAX_LAYERS or not isinstance(out, torch.Tensor):
                return
            act = out[0].detach().float().cpu()
            entry = {"name": name, "type": type(mod).__name__, "activations": stats(act),
                     "parameters": sum(p.numel() for p in mod.parameters(recurse=False))}
            if act.ndim == 3:
                entry["activations"]["image"] = tile(act.numpy())
            elif act.ndim == 1:
                entry["activations"]["image"] = tile(act.numpy()[None, None, :])
            weight = getattr(mod, "weight", None)
            if isinstance(weight, torch.Tensor):
                entry["weights"] = stats(weight)
                w = weight.detach().float().cpu()
                if w.ndim == 4:
                    entry["weights"]["image"] = tile(w[:, 0].numpy())
                elif w.ndim == 2:
                    entry["weights"]["image"] = tile(w.numpy()[None])
            layers.append(entry)

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return {"layers": layers, "total_parameters": sum(p.numel() for p in model.parameters())}
