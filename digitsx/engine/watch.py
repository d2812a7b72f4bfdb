"""The best epoch and early stopping: what a training job learns from each validation.

The spec's ``monitor`` names the validation metric that decides (``{"metric": "accuracy",
"mode": "max"}``: the task's main metric, or a study's metric), ``early_stopping`` its patience
(validations without an improvement larger than ``min_delta``). Torch-free: the web process
reads the same rules to explain a job's end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Watch:
    """Follows one metric across validations: the best value and epoch, and whether to stop."""

    metric: str = ""
    mode: str = "max"
    patience: int = 0  # 0: never stop early
    min_delta: float = 0.0
    best: float | None = None
    best_epoch: int | None = None
    since: int = 0  # validations since the last improvement by more than min_delta

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Watch":
        monitor = spec.get("monitor") if isinstance(spec.get("monitor"), dict) else {}
        stop = spec.get("early_stopping") if isinstance(spec.get("early_stopping"), dict) else {}
        return cls(str(monitor.get("metric") or ""), "min" if monitor.get("mode") == "min" else "max",
                   int(stop.get("patience") or 0), float(stop.get("min_delta") or 0.0))

    def _better(self, value: float, than: float, delta: float) -> bool:
        return value > than + delta if self.mode == "max" else value < than - delta

    def see(self, epoch: int, scalars: dict[str, Any]) -> str:
        """One validation's values: "best" (a new best epoch), "stop" (patience ran out),
        or "" (neither, or the metric is missing)."""
        value = scalars.get(self.metric) if self.metric else None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return ""
        improved = self.best is None or self._better(value, self.best, 0.0)
        enough = self.best is None or self._better(value, self.best, self.min_delta)
        self.since = 0 if enough else self.since + 1
        if improved:
            self.best, self.best_epoch = float(value), int(epoch)
        if self.patience and self.since >= self.patience:
            return "stop"
        return "best" if improved else ""

    def state(self) -> dict[str, Any]:
        """What a snapshot keeps, so a resumed job goes on counting where it was."""
        return {"best": self.best, "best_epoch": self.best_epoch, "since": self.since}

    def restore(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.best, self.best_epoch = state.get("best"), state.get("best_epoch")
        self.since = int(state.get("since") or 0)

    def as_result(self) -> dict[str, Any] | None:
        """The job result's ``best``: ``{epoch, metric, mode, value}``, or None before one."""
        if self.best_epoch is None:
            return None
        return {"epoch": self.best_epoch, "metric": self.metric, "mode": self.mode, "value": self.best}


def stopped_note(result: dict[str, Any]) -> str:
    """The Done note of a job that stopped early: "stopped early at epoch N (best: epoch M)"."""
    stop = result.get("stopped_early") if isinstance(result.get("stopped_early"), dict) else None
    if not stop:
        return ""
    return f"stopped early at epoch {stop.get('epoch')} (best: epoch {stop.get('best_epoch')})"
