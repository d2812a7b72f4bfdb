"""Batched preprocessing on the training device, in DIGITS's order.

uint8 batches arrive on the device (CPU or GPU) and are turned into network input there:
HSV shift (on [0,1]) → noise → mean subtraction → flip → quadrilateral rotation →
rotation + scale (bilinear) → crop (random in training, centre in validation), then scaled by
1/255. Each step is a small function of explicit random draws, so tests check its effect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """The form's data-transform fields."""

    use_mean: str = "image"  # none | image | pixel
    crop_size: int | None = None
    flip: str = "none"  # none | fliplr | flipud | fliplrud
    quad_rot: str = "none"  # none | rot90 | rot180 | rotall
    rot: float = 0.0  # ± degrees
    scale: float = 0.0  # stddev of the scale factor
    noise: float = 0.0  # stddev of additive noise, as a fraction of the full range
    hsv_use: bool = False
    hsv_h: float = 0.02
    hsv_s: float = 0.04
    hsv_v: float = 0.06


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) RGB in [0,1] → HSV in [0,1]."""
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-12), torch.zeros_like(maxc))
    dc = delta.clamp_min(1e-12)
    h = torch.where(maxc == r, ((g - b) / dc) % 6,
                    torch.where(maxc == g, (b - r) / dc + 2, (r - g) / dc + 4)) / 6
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6)
    f = h * 6 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(x)
    for k, (rr, gg, bb) in enumerate(choices):
        m = (i == k).unsqueeze(1)
        out = torch.where(m, torch.stack([rr, gg, bb], 1), out)
    return out


def hsv_shift(x: torch.Tensor, dh: torch.Tensor, ds: torch.Tensor, dv: torch.Tensor) -> torch.Tensor:
    """Shift hue (wrapping), saturation and value by per-image amounts (N,)."""
    if x.shape[1] == 1:
        return (x + dv.view(-1, 1, 1, 1)).clamp(0, 1)
    hsv = rgb_to_hsv(x)
    h = (hsv[:, 0] + dh.view(-1, 1, 1)) % 1.0
    s = (hsv[:, 1] + ds.view(-1, 1, 1)).clamp(0, 1)
    v = (hsv[:, 2] + dv.view(-1, 1, 1)).clamp(0, 1)
    return hsv_to_rgb(torch.stack([h, s, v], 1))


def flip(x: torch.Tensor, lr: torch.Tensor, ud: torch.Tensor) -> torch.Tensor:
    """Mirror the images where the boolean masks (N,) say so."""
    x = torch.where(lr.view(-1, 1, 1, 1), x.flip(3), x)
    return torch.where(ud.view(-1, 1, 1, 1), x.flip(2), x)


def quad_rotate(x: torch.Tensor, quarters: torch.Tensor) -> torch.Tensor:
    """Rotate each image by ``quarters[i]`` × 90° (odd quarters need square images)."""
    out = x.clone()
    for k in (1, 2, 3):
        m = quarters == k
        if m.any():
            out[m] = torch.rot90(x[m], k, dims=(2, 3))
    return out


def rotate_scale(x: torch.Tensor, degrees: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Rotate by ``degrees`` and zoom by ``scales`` (N,) about the centre, bilinear, zero fill."""
    a = degrees * math.pi / 180
    cos, sin = torch.cos(a) / scales, torch.sin(a) / scales
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def crop(x: torch.Tensor, size: int, tops: torch.Tensor, lefts: torch.Tensor) -> torch.Tensor:
    """Cut a ``size × size`` window from each image at (tops[i], lefts[i])."""
    return torch.stack([x[i, :, t:t + size, l:l + size]
                        for i, (t, l) in enumerate(zip(tops.tolist(), lefts.tolist()))])


def prepare(batch: torch.Tensor, mean: torch.Tensor | None, aug: Augment, training: bool,
            gen: torch.Generator | None = None) -> torch.Tensor:
    """uint8 (N,C,H,W) on the device → float network input, augmented when ``training``."""
    n, dev = batch.shape[0], batch.device
    rand = lambda *shape: torch.rand(*shape, generator=gen, device=dev)
    randn = lambda *shape: torch.randn(*shape, generator=gen, device=dev)
    x = batch.float() / 255.0
    if training and aug.hsv_use:
        x = hsv_shift(x, randn(n) * aug.hsv_h, randn(n) * aug.hsv_s, randn(n) * aug.hsv_v)
    if training and aug.noise > 0:
        x = x + randn(*x.shape) * aug.noise
    if mean is not None and aug.use_mean != "none":
        m = mean / 255.0
        x = x - (m.mean((1, 2), keepdim=True) if aug.use_mean == "pixel" else m)
    if training and aug.flip != "none":
        lr = (rand(n) < 0.5) & (aug.flip in ("fliplr", "fliplrud"))
        ud = (rand(n) < 0.5) & (aug.flip in ("flipud", "fliplrud"))
        x = flip(x, lr, ud)
    if training and aug.quad_rot != "none":
        square = x.shape[2] == x.shape[3]
        choices = {"rot90": [0, 1, 3], "rot180": [0, 2], "rotall": [0, 1, 2, 3]}[aug.quad_rot]
        if not square:
            choices = [c for c in choices if c % 2 == 0]
        pick = torch.tensor(choices, device=dev)[(rand(n) * len(choices)).long().clamp_max(len(choices) - 1)]
        x = quad_rotate(x, pick)
    if training and (aug.rot > 0 or aug.scale > 0):
        x = rotate_scale(x, (rand(n) * 2 - 1) * aug.rot, (1 + randn(n) * aug.scale).clamp(0.5, 2))
    if aug.crop_size and aug.crop_size < min(x.shape[2], x.shape[3]):
        c, h, w = aug.crop_size, x.shape[2], x.shape[3]
        if training:
            tops, lefts = (rand(n) * (h - c + 1)).long(), (rand(n) * (w - c + 1)).long()
        else:
            tops = torch.full((n,), (h - c) // 2, device=dev)
            lefts = torch.full((n,), (w - c) // 2, device=dev)
        x = crop(x, c, tops, lefts)
    return x
