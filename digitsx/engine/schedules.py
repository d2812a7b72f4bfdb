"""Learning-rate policies as pure functions of training progress ``x`` in percent (0–100).

DIGITS's seven policies with its parameter names and defaults, plus ``cosine`` and
``onecycle`` (both with a linear warm-up over ``lr_warmup`` percent). No torch here: the web
process draws the preview graph with the same code the worker trains with.
"""
from __future__ import annotations

import math
from typing import Any

POLICIES = ("fixed", "step", "multistep", "exp", "inv", "poly", "sigmoid", "cosine", "onecycle")
DEFAULTS: dict[str, Any] = {
    "lr_step_size": 33.0, "lr_step_gamma": 0.1, "lr_multistep_values": "50,85",
    "lr_multistep_gamma": 0.5, "lr_exp_gamma": 0.95, "lr_inv_gamma": 0.1, "lr_inv_power": 0.5,
    "lr_poly_power": 3.0, "lr_sigmoid_step": 50.0, "lr_sigmoid_gamma": 0.1, "lr_warmup": 0.0,
    "lr_onecycle_div": 25.0,
}

# What each parameter may be, so every policy gives a finite rate over the whole run (a decay
# factor above 1 overflows after 10,000 steps; a sigmoid gamma past ±7 overflows exp()).
BOUNDS: dict[str, tuple[float, float]] = {
    "lr_step_size": (0.01, 100), "lr_step_gamma": (0, 1), "lr_multistep_values": (0, 100),
    "lr_multistep_gamma": (0, 1), "lr_exp_gamma": (0, 1), "lr_inv_gamma": (0, 1000),
    "lr_inv_power": (0, 100), "lr_poly_power": (0, 100), "lr_sigmoid_step": (0, 100),
    "lr_sigmoid_gamma": (-7, 7), "lr_warmup": (0, 99), "lr_onecycle_div": (1, 10000),
}


def _values(text: Any) -> list[float]:
    if isinstance(text, (list, tuple)):
        return [float(v) for v in text]
    return [float(v) for v in str(text).split(",") if v.strip()]


def learning_rate(policy: str, base_lr: float, x: float, params: dict[str, Any] | None = None) -> float:
    """The learning rate at ``x`` percent of training under ``policy``."""
    p = {**DEFAULTS, **(params or {})}
    x = min(100.0, max(0.0, float(x)))
    if policy == "fixed":
        return base_lr
    if policy == "step":
        return base_lr * float(p["lr_step_gamma"]) ** math.floor(x / float(p["lr_step_size"]))
    if policy == "multistep":
        passed = sum(1 for v in _values(p["lr_multistep_values"]) if v <= x)
        return base_lr * float(p["lr_multistep_gamma"]) ** passed
    if policy == "exp":
        return base_lr * float(p["lr_exp_gamma"]) ** x
    if policy == "inv":
        return base_lr * (1 + float(p["lr_inv_gamma"]) * x) ** (-float(p["lr_inv_power"]))
    if policy == "poly":
        return base_lr * (1 - x / 100.0) ** float(p["lr_poly_power"])
    if policy == "sigmoid":
        return base_lr / (1 + math.exp(float(p["lr_sigmoid_gamma"]) *
                                       (x - float(p["lr_sigmoid_step"]))))
    if policy == "cosine":
        warm = float(p["lr_warmup"])
        if x < warm:
            return base_lr * x / warm
        return base_lr * 0.5 * (1 + math.cos(math.pi * (x - warm) / max(1e-9, 100 - warm)))
    if policy == "onecycle":
        warm = float(p["lr_warmup"]) or 30.0
        start = base_lr / float(p["lr_onecycle_div"])
        if x < warm:  # cosine rise from base/div to base
            return start + (base_lr - start) * 0.5 * (1 - math.cos(math.pi * x / warm))
        end = start / 1e4
        return end + (base_lr - end) * 0.5 * (1 + math.cos(math.pi * (x - warm) / max(1e-9, 100 - warm)))
    raise ValueError(f"lr_policy must be one of {', '.join(POLICIES)}, not {policy!r}")


def curve(policy: str, base_lr: float, params: dict[str, Any] | None = None,
          points: int = 101) -> list[float]:
    """The policy sampled at ``points`` evenly spaced percentages (DIGITS's preview: 101)."""
    return [learning_rate(policy, base_lr, 100.0 * i / (points - 1), params) for i in range(points)]
