"""resize_image against hand-computed geometry: shapes, crop offsets, padding rows, rounding."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from digitsx.datasets.resize import load_image, resize_image, round_half_away

GREEN = (0, 200, 0)


def bands(width=200, height=100, horizontal=True):
    """Left/top quarter red, middle half green, right/bottom quarter blue."""
    arr = np.zeros((height, width, 3), np.uint8)
    n = width if horizontal else height
    q = n // 4
    sl = lambda a, b: (slice(None), slice(a, b)) if horizontal else (slice(a, b), slice(None))
    arr[sl(0, q)] = (255, 0, 0)
    arr[sl(q, n - q)] = GREEN
    arr[sl(n - q, n)] = (0, 0, 255)
    return Image.fromarray(arr)


def pil_resize(image, w, h):
    return np.asarray(image.resize((w, h), Image.BILINEAR))


def test_rounding_is_half_away_from_zero():
    assert [round_half_away(x) for x in (0.5, 1.5, 2.5, 8.5, -2.5, 2.49)] == [1, 2, 3, 9, -3, 2]


@pytest.mark.parametrize("mode", ["squash", "crop", "fill", "half_crop"])
@pytest.mark.parametrize("channels,shape", [(3, (48, 64, 3)), (1, (48, 64))])
def test_every_mode_gives_the_requested_shape(mode, channels, shape):
    out = resize_image(bands(203, 117), 64, 48, mode, channels)
    assert out.shape == shape and out.dtype == np.uint8


def test_squash_is_a_plain_resize():
    img = bands()
    assert np.array_equal(resize_image(img, 50, 50, "squash"), pil_resize(img, 50, 50))


def test_crop_wide_keeps_centre_columns():
    # 200×100 → 50×50: wr=4 > hr=2, resize to 100×50, keep columns from round(25) = 25
    img = bands()
    out = resize_image(img, 50, 50, "crop")
    assert np.array_equal(out, pil_resize(img, 100, 50)[:, 25:75])
    assert (out[:, 2:-2] == GREEN).all()  # only the green middle half survives


def test_crop_tall_keeps_centre_rows():
    # 100×200 → 50×50: hr=4 > wr=2, resize to 50×100, keep rows from 25
    img = bands(100, 200, horizontal=False)
    out = resize_image(img, 50, 50, "crop")
    assert np.array_equal(out, pil_resize(img, 50, 100)[25:75, :])


def test_crop_offset_rounds_half_away_from_zero():
    # 203×100 → 50×50: rw = round(101.5) = 102, start = round(26.0) = 26
    # 201×100 → 50×50: rw = round(100.5) = 101 (half-even would give 100), start = round(25.5) = 26
    img = bands(201, 100)
    assert np.array_equal(resize_image(img, 50, 50, "crop"), pil_resize(img, 101, 50)[:, 26:76])


def test_fill_wide_pads_rows_with_noise_and_parity_fix():
    # 200×100 → 50×50: wr=4 > hr=2, rh = round(25) = 25, 50-25 odd → rh = 26; pad 12 rows each side
    img = Image.new("RGB", (200, 100), (128, 128, 128))
    out = resize_image(img, 50, 50, "fill", rng=np.random.default_rng(0))
    assert (out[12:38] == 128).all()
    top, bottom = out[:12].astype(int), out[38:].astype(int)
    assert top.std() > 50 and bottom.std() > 50  # uniform noise, not a colour
    assert top.min() < 10 and top.max() > 245


def test_fill_tall_pads_columns():
    # 100×300 → 60×60: hr=5 > wr=5/3: rw = round(20) = 20, 60-20 even; pad 20 columns each side
    img = Image.new("L", (100, 300), 77)
    out = resize_image(img, 60, 60, "fill", channels=1)
    assert out.shape == (60, 60) and (out[:, 20:40] == 77).all()
    assert out[:, :20].std() > 50 and out[:, 40:].std() > 50


def test_half_crop_crops_long_side_and_pads_short_side():
    # 200×100 → 50×50: wr=4, hr=2, r=3: 66.67×33.33 → 67×33; 50-33 odd → 34 rows;
    # crop columns from round(8.5) = 9 (half away from zero); pad (50-34)/2 = 8 rows each side
    img = bands()
    out = resize_image(img, 50, 50, "half_crop", rng=np.random.default_rng(1))
    assert np.array_equal(out[8:42], pil_resize(img, 67, 34)[:, 9:59])
    assert out[:8].std() > 50 and out[42:].std() > 50


def test_equal_ratios_are_a_plain_resize_in_every_mode():
    img = bands(200, 100)
    for mode in ("crop", "fill", "half_crop"):
        assert np.array_equal(resize_image(img, 100, 50, mode), pil_resize(img, 100, 50))


def test_fill_is_reproducible_with_a_seeded_rng():
    img = bands()
    a = resize_image(img, 50, 50, "fill", rng=np.random.default_rng(5))
    b = resize_image(img, 50, 50, "fill", rng=np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_bad_mode_and_channels():
    with pytest.raises(ValueError, match="resize_mode"):
        resize_image(bands(), 10, 10, "stretch")
    with pytest.raises(ValueError, match="channels"):
        resize_image(bands(), 10, 10, "squash", channels=2)


def save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    buf.seek(0)
    return buf


def test_grayscale_conversion_uses_luminance():
    out = resize_image(Image.new("RGB", (20, 20), (255, 0, 0)), 10, 10, "squash", channels=1)
    assert out.shape == (10, 10) and abs(int(out[0, 0]) - 76) <= 1  # ITU-R 601-2: 0.299 × 255


def test_rgba_palette_cmyk_and_16bit_inputs():
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    assert load_image(save(rgba, "PNG"), 3).getpixel((0, 0)) == (10, 20, 30)
    pal = Image.new("RGB", (8, 8), (200, 100, 50)).convert("P")
    assert load_image(save(pal, "PNG"), 3).mode == "RGB"
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red
    r, g, b = load_image(save(cmyk, "JPEG"), 3).getpixel((0, 0))
    assert r > 200 and g < 60 and b < 60
    sixteen = Image.fromarray(np.full((8, 8), 65535 // 2, np.uint16))
    gray = load_image(save(sixteen, "PNG"), 1)
    assert gray.mode == "L" and abs(gray.getpixel((0, 0)) - 127) <= 1


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 10, 20))  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    loaded = load_image(save(img, "JPEG", exif=exif.tobytes(), quality=95), 3)
    assert loaded.size == (20, 40)  # portrait after applying the tag
    assert loaded.getpixel((10, 2))[0] > 200 and loaded.getpixel((10, 37))[0] < 50


def test_truncated_file_raises():
    data = save(bands(), "JPEG").getvalue()
    with pytest.raises(OSError):
        load_image(io.BytesIO(data[: len(data) // 2]), 3)
