"""What a test request gives to check before anything runs: an image Pillow can read and that
is not a decompression bomb, and the numbers of the test forms read by their declarations."""
from __future__ import annotations

import os

from ..errors import ValidationError
from ..fields import Field, Form


def readable_image(source, field: str, name: str) -> None:
    """A 400 on ``field`` unless ``source`` (a path or a file object) is an image Pillow can
    read: the header and the data's integrity (``verify``), without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    shown = os.path.basename(str(name)) or "the upload"
    try:
        with Image.open(source) as image:
            width, height = image.size
            image.verify()
    except Image.DecompressionBombError as err:
        raise ValidationError({field: [f"{shown} is too large to decode ({err})"]}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError({field: [f"{shown} is not a readable "
                                       f"image (PNG, JPEG, BMP, GIF, TIFF or WebP)"]}) from None
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise ValidationError({field: [f"{shown} is {width}×{height}: more than "
                                       f"{Image.MAX_IMAGE_PIXELS} pixels, too large to decode"]})


LIMITS = Form("Test many", {
    "num_test_images": Field("int", None, 1, 10**9, blank=True, help="test only the first N images"),
    "top_n": Field("int", 9, 1, 100, help="images shown per class")})


def declared(values: dict, name: str) -> int | None:
    """``name`` read by its declaration in :data:`LIMITS` (``²`` or ``1e3`` is a 400)."""
    r = LIMITS.reader({name: values.get(name)} if values.get(name) not in (None, "") else {})
    value = r.number(name)
    if r.errors:
        raise ValidationError(r.errors)
    return value
