"""A training job's spec as typed, frozen values that map to and from ``spec.json``.

The form builds a :class:`TrainingSpec` and stores ``to_dict()``; the worker reads it back with
``from_dict`` (older specs, with keys missing, read with the defaults). Derived values live here
as methods, written once (:meth:`TrainingSpec.input_size`). Keys a task adds that the engine
does not know are kept in ``extra`` and written back unchanged. Torch-free.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class DatasetRef:
    """The dataset a model trains on: its job's folder and id."""

    dir: str
    id: str = ""

    @classmethod
    def of(cls, spec: dict[str, Any] | None) -> "DatasetRef":
        """The dataset a model job's spec names (empty when it names none: a fixture, a
        pretrained model)."""
        data = (spec or {}).get("dataset") or {}
        return cls(str(data.get("dir", "")), str(data.get("id", ""))) if isinstance(data, dict) \
            else cls("")


@dataclass(frozen=True)
class Solver:
    type: str = "SGD"
    learning_rate: float = 0.01
    momentum: float = 0.0  # the form fills in DIGITS's derived defaults
    weight_decay: float = 0.0
    rms_decay: float = 0.99


@dataclass(frozen=True)
class Schedule:
    """The LR policy and its parameters (``lr_step_size``...), stored flat: ``{policy, ...}``."""

    policy: str = "fixed"
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, **self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schedule":
        data = dict(data or {})
        return cls(str(data.pop("policy", "fixed")), data)


@dataclass(frozen=True)
class TrainingSpec:
    """What every training job holds, whatever its task."""

    dataset: DatasetRef
    network: dict[str, Any]
    solver: Solver = field(default_factory=Solver)
    lr: Schedule = field(default_factory=Schedule)
    batch_size: int = 64
    augment: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=lambda: {"gpu_count": 1})
    train_epochs: int = 30
    snapshot_interval: float = 1.0
    val_interval: float = 1.0
    random_seed: int | None = None
    batch_accumulation: int = 1
    shuffle: bool = True
    amp: bool = True
    channels_last: bool = True
    keep_snapshots: int = 0
    snapshot_budget_mb: float = 0.0  # keep_snapshots 0: the oldest go past this (0: no limit)
    loader_workers: int | None = None
    framework: str = "torch"
    requested_framework: str = "torch"
    form: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    # -- derived values -------------------------------------------------------------------
    def input_size(self, image: dict[str, Any]) -> int:
        """The network's square input: the crop size when cropping, else the image's shorter
        side (``image``: the dataset's ``{width, height}``)."""
        crop = self.augment.get("crop_size")
        return int(crop or min(int(image["width"]), int(image["height"])))

    @property
    def network_name(self) -> str:
        return self.network.get("name") or ("custom network" if self.network.get("method") == "custom"
                                            else str(self.network.get("method", "network")))

    # -- spec.json --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                continue
            if f.name == "loader_workers" and value is None:
                continue
            out[f.name] = value.to_dict() if isinstance(value, Schedule) else \
                asdict(value) if isinstance(value, (DatasetRef, Solver)) else value
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingSpec":
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        values["dataset"] = DatasetRef(**{k: str(v) for k, v in data["dataset"].items()
                                          if k in ("id", "dir")})
        solver = data.get("solver") or {}
        values["solver"] = Solver(**{f.name: solver[f.name] for f in fields(Solver) if f.name in solver})
        values["lr"] = Schedule.from_dict(data.get("lr") or {})
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})


@dataclass(frozen=True)
class DatasetSpec:
    """What every task's dataset job holds, whatever its task: the data roots its paths must
    stay in, the seed of its splits, its workers, an uploaded archive's limit, the form as sent;
    the task's own fields (its image settings, label format, folders...) are in ``extra``."""

    data_roots: tuple[str, ...] = ()
    seed: int = 0
    workers: int | None = None
    max_extract_bytes: int = 8 * 2**30
    form: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image(self) -> dict[str, Any]:
        """The stored images' settings a task's form chose (classification: width, height,
        channels, resize mode, encoding), or {}."""
        image = self.extra.get("image")
        return image if isinstance(image, dict) else {}

    @property
    def archive(self) -> str | None:
        """An uploaded archive of the images, relative to the job's folder, or None."""
        folder = self.extra.get("folder")
        found = self.extra.get("archive") or (folder.get("archive") if isinstance(folder, dict) else None)
        return str(found) if found else None

    def to_dict(self) -> dict[str, Any]:
        return {"data_roots": list(self.data_roots), "seed": self.seed, "workers": self.workers,
                "max_extract_bytes": self.max_extract_bytes, "form": self.form, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "DatasetSpec":
        data = dict(data or {})
        workers = data.pop("workers", None)
        return cls(tuple(str(r) for r in data.pop("data_roots", None) or ()), int(data.pop("seed", 0) or 0),
                   int(workers) if workers not in (None, "") else None,
                   int(data.pop("max_extract_bytes", 8 * 2**30) or 8 * 2**30),
                   dict(data.pop("form", None) or {}), data)
