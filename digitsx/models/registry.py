"""The networks each task offers, by name, without importing torch (as timm's registry does).

An entry says what a form needs to show and check (name, title, description, the input size it
was designed for, the channel counts it takes) and where its factory lives, as
``"module:function"``: the factory is imported only when a worker builds the network. The web
process lists and validates networks from here; the new-model form offers exactly these names.

A task registers its networks in its own module, one :func:`register` call each::

    register("classification", "lenet", "LeNet", "digitsx.classification.networks:lenet", 28,
             "DIGITS's LeNet for small grayscale images (MNIST)")
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Network:
    """A registered network: a factory ``(num_classes, in_channels, image_size, **kwargs)``
    found lazily at ``factory`` (``"module:function"``), called with ``kwargs``."""

    task: str
    name: str
    title: str
    factory: str
    intended_size: int
    description: str = ""
    channels: tuple[int, ...] = (1, 3)
    kwargs: dict[str, Any] = field(default_factory=dict)
    parameters: int = 0  # with 10 classes and 3 channels at the intended size (0: not given)

    def load(self) -> Callable[..., Any]:
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)

    def build(self, num_classes: int, in_channels: int, image_size: int) -> Any:
        return self.load()(num_classes, in_channels, image_size, **self.kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "intended_size": self.intended_size, "channels": list(self.channels),
                "parameters": self.parameters}


_NETWORKS: dict[str, dict[str, Network]] = {}
_LOADERS: dict[str, str] = {}  # task → the module whose import registers its networks


def register(task: str, name: str, title: str, factory: str, intended_size: int,
             description: str = "", channels: tuple[int, ...] = (1, 3), parameters: int = 0,
             **kwargs: Any) -> Network:
    """Add a network to ``task``'s list (a second registration of a name replaces the first).
    ``parameters``: its size with 10 classes at the intended size, for the form's table."""
    entry = Network(task, name, title, factory, intended_size, description, channels, kwargs,
                    parameters)
    _NETWORKS.setdefault(task, {})[name] = entry
    return entry


def declare_task(task: str, module: str) -> None:
    """Say which torch-free module registers ``task``'s networks (imported on first use)."""
    _LOADERS[task] = module


def networks(task: str) -> dict[str, Network]:
    """``task``'s networks in registration order."""
    if task not in _NETWORKS and task in _LOADERS:
        importlib.import_module(_LOADERS[task])
    return dict(_NETWORKS.get(task, {}))


def names(task: str) -> tuple[str, ...]:
    return tuple(networks(task))


def get(task: str, name: str) -> Network:
    """The entry; KeyError names the known ones."""
    known = networks(task)
    if name not in known:
        raise KeyError(f"unknown {task} network {name!r}; known: {', '.join(known)}")
    return known[name]

