"""A generated sample photo for the resize preview (nothing to download, nothing to ship)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw


@lru_cache(maxsize=1)
def _sample() -> Image.Image:
    w, h = 480, 300  # landscape 8:5, so every mode differs visibly
    y = np.linspace(0, 1, h)[:, None]
    sky = np.stack([70 + 100 * y, 130 + 90 * y, 230 - 40 * y], axis=2) * np.ones((1, w, 1))
    image = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 210, w, h], fill=(70, 140, 60))
    draw.ellipse([360, 40, 430, 110], fill=(250, 215, 70))
    draw.polygon([(60, 210), (150, 90), (240, 210)], fill=(120, 110, 100))
    draw.rectangle([5, 5, w - 6, h - 6], outline=(200, 30, 30), width=5)  # shows what is cropped
    return image


def sample_image() -> Image.Image:
    """A copy of the 480×300 sample image."""
    return _sample().copy()
