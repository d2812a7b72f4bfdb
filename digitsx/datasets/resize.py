"""Image loading and DIGITS's four resize modes, exactly as DIGITS computed them.

Rounding rule: every ``round`` below rounds halves **away from zero**, as DIGITS did under
Python 2 (Python 3's built-in ``round`` would send 2.5 to 2). Interpolation is bilinear
(Pillow's, as DIGITS's ``scipy.misc.imresize`` used). Noise padding is uniform in 0–255.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageOps

MODES = ("squash", "crop", "fill", "half_crop")
# What Pillow raises for a file that is not a usable image: corrupt, truncated, unknown, or a
# decompression bomb (more pixels than Image.MAX_IMAGE_PIXELS × 2): each the image's fault.
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def round_half_away(x: float) -> int:
    """Round to the nearest integer, halves away from zero (Python 2's round)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def load_image(source, channels: int) -> Image.Image:
    """Open a path or file object as an 8-bit ``L`` (channels 1) or ``RGB`` (channels 3) image.

    EXIF orientation is applied; RGBA/LA/palette lose their alpha; 16-bit and float images are
    scaled to 8 bits; CMYK and YCbCr are converted. Raises OSError/ValueError on a bad file.
    """
    image = Image.open(source)
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    image = _to_8bit(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    return _mode(image, channels)


def convert_channels(image: Image.Image, conversion: str) -> Image.Image:
    """A generic task's channel conversion (its dataset form's ``channel_conversion``): RGB,
    L, or none (RGB and L kept, other modes to RGB)."""
    return image.convert(conversion) if conversion in ("RGB", "L") else \
        image if image.mode in ("RGB", "L") else image.convert("RGB")


def _mode(image: Image.Image, channels: int) -> Image.Image:
    """The image in ``L`` or ``RGB`` (no copy when it already is)."""
    mode = "L" if channels == 1 else "RGB"
    return image if image.mode == mode else image.convert(mode)


def _to_8bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
        return Image.fromarray(np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
    return image


def _resize(image: Image.Image, width: int, height: int) -> np.ndarray:
    if image.size == (width, height):  # Pillow's resize would return a copy
        return np.asarray(image)
    return np.asarray(image.resize((width, height), Image.BILINEAR))


def _noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def resize_image(image, width: int, height: int, mode: str = "squash", channels: int = 3,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Resize ``image`` (a PIL image, an array or a path) to ``height × width`` (× channels).

    Returns uint8 ``(H, W)`` for one channel, ``(H, W, 3)`` for three.
    """
    if mode not in MODES:
        raise ValueError(f"resize_mode must be one of {', '.join(MODES)}, not {mode!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels!r}")
    image = _as_pil(image, channels)
    w_in, h_in = image.size
    wr, hr = w_in / width, h_in / height
    if mode == "squash" or wr == hr:
        return _resize(image, width, height)
    if mode == "crop":
        return _crop(image, width, height, wr, hr)
    rng = rng or np.random.default_rng()  # fill and half_crop pad with noise
    if mode == "fill":
        if wr > hr:
            rw, rh = width, round_half_away(h_in / wr)
            rh += (height - rh) % 2
        else:
            rw, rh = round_half_away(w_in / hr), height
            rw += (width - rw) % 2
        return _pad(_resize(image, rw, rh), width, height, wr > hr, rng)
    r = (wr + hr) / 2  # half_crop
    rw, rh = round_half_away(w_in / r), round_half_away(h_in / r)
    if wr > hr:
        rh += (height - rh) % 2
    else:
        rw += (width - rw) % 2
    array = _resize(image, rw, rh)
    if wr > hr:
        start = round_half_away((rw - width) / 2)
        array = array[:, start:start + width]
    else:
        start = round_half_away((rh - height) / 2)
        array = array[start:start + height, :]
    return _pad(array, width, height, wr > hr, rng)


def resize_to_pil(image, width: int, height: int, mode: str = "squash", channels: int = 3,
                  rng: np.random.Generator | None = None) -> Image.Image:
    """:func:`resize_image` as a PIL image; squash (the common case) never leaves Pillow."""
    image = _as_pil(image, channels)
    if mode == "squash" or image.size[0] * height == image.size[1] * width:
        return image.resize((width, height), Image.BILINEAR)
    return Image.fromarray(resize_image(image, width, height, mode, channels, rng))


def _crop(image: Image.Image, width: int, height: int, wr: float, hr: float) -> np.ndarray:
    w_in, h_in = image.size
    if wr > hr:
        rw = round_half_away(w_in / hr)
        start = round_half_away((rw - width) / 2)
        return _resize(image, rw, height)[:, start:start + width]
    rh = round_half_away(h_in / wr)
    start = round_half_away((rh - height) / 2)
    return _resize(image, width, rh)[start:start + height, :]


def _pad(array: np.ndarray, width: int, height: int, rows: bool,
         rng: np.random.Generator) -> np.ndarray:
    """Noise-pad both ends of the short axis (rows above/below, or columns left/right)."""
    if rows:
        pad = (height - array.shape[0]) // 2
        shape = (pad, width) + array.shape[2:]
        return np.concatenate([_noise(rng, shape), array, _noise(rng, shape)], axis=0)
    pad = (width - array.shape[1]) // 2
    shape = (height, pad) + array.shape[2:]
    return np.concatenate([_noise(rng, shape), array, _noise(rng, shape)], axis=1)


def _as_pil(image, channels: int) -> Image.Image:
    if isinstance(image, Image.Image):
        return _mode(image, channels)
    if isinstance(image, np.ndarray):
        arr = image.astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        return Image.fromarray(arr).convert("L" if channels == 1 else "RGB")
    return load_image(image, channels)
