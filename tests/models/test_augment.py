"""Every augmentation's effect on a known image."""
import torch

from digitsx.classification.augment import (Augment, crop, flip, hsv_shift, hsv_to_rgb, prepare,
                                    quad_rotate, rgb_to_hsv, rotate_scale)


def ramp(c=3, h=4, w=4):
    return torch.arange(c * h * w, dtype=torch.float32).reshape(1, c, h, w)


def test_flip_masks():
    x = torch.cat([ramp(), ramp()])
    out = flip(x, torch.tensor([True, False]), torch.tensor([False, True]))
    assert torch.equal(out[0], x[0].flip(2))  # left-right
    assert torch.equal(out[1], x[1].flip(1))  # up-down


def test_quad_rotation():
    x = ramp(1)
    out = quad_rotate(torch.cat([x, x, x]), torch.tensor([0, 1, 2]))
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1], torch.rot90(x[0], 1, (1, 2)))
    assert out[2, 0, 0, 0] == x[0, 0, -1, -1]


def test_rotation_by_90_and_identity():
    x = ramp(1, 5, 5)
    same = rotate_scale(x, torch.tensor([0.0]), torch.tensor([1.0]))
    assert torch.allclose(same, x, atol=1e-4)
    turned = rotate_scale(x, torch.tensor([90.0]), torch.tensor([1.0]))
    assert torch.allclose(turned[0, 0], torch.rot90(x[0, 0], 1), atol=1e-3) or \
        torch.allclose(turned[0, 0], torch.rot90(x[0, 0], -1), atol=1e-3)


def test_scale_zooms_in_about_the_centre():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    zoomed = rotate_scale(x, torch.tensor([0.0]), torch.tensor([2.0]))
    assert zoomed[0, 0, 4, 4] > 0 and (zoomed[0, 0] > 0).sum() > 1  # the dot grew


def test_crop_offsets_and_centre_crop():
    x = ramp(1, 6, 6)
    out = crop(x, 3, torch.tensor([1]), torch.tensor([2]))
    assert torch.equal(out[0, 0], x[0, 0, 1:4, 2:5])
    val = prepare(torch.arange(36, dtype=torch.uint8).reshape(1, 1, 6, 6), None,
                  Augment(use_mean="none", crop_size=4), training=False)
    assert torch.allclose(val[0, 0] * 255, x[0, 0, 1:5, 1:5])


def test_hsv_round_trip_and_shift():
    x = torch.rand(2, 3, 5, 5)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5)
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    green = hsv_shift(red, torch.tensor([1 / 3]), torch.zeros(1), torch.zeros(1))
    assert torch.allclose(green[0, :, 0, 0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-5)
    darker = hsv_shift(torch.full((1, 1, 2, 2), 0.5), torch.zeros(1), torch.zeros(1), torch.tensor([-0.2]))
    assert torch.allclose(darker, torch.full((1, 1, 2, 2), 0.3))


def test_mean_subtraction_image_and_pixel():
    batch = torch.full((1, 3, 2, 2), 100, dtype=torch.uint8)
    mean = torch.zeros(3, 2, 2)
    mean[0] = 100
    mean[1, 0, 0] = 40
    img = prepare(batch, mean, Augment(use_mean="image"), training=False) * 255
    assert torch.allclose(img[0, 0], torch.zeros(2, 2), atol=1e-4)
    assert torch.allclose(img[0, 1, 0, 0], torch.tensor(60.0), atol=1e-3)
    pix = prepare(batch, mean, Augment(use_mean="pixel"), training=False) * 255
    assert torch.allclose(pix[0, 1], torch.full((2, 2), 90.0), atol=1e-3)  # channel mean 10
    none = prepare(batch, mean, Augment(use_mean="none"), training=False) * 255
    assert torch.allclose(none, torch.full((1, 3, 2, 2), 100.0), atol=1e-3)


def test_noise_and_training_only():
    batch = torch.full((4, 1, 8, 8), 128, dtype=torch.uint8)
    aug = Augment(use_mean="none", noise=0.1, flip="fliplrud", rot=30, scale=0.1)
    g = torch.Generator().manual_seed(0)
    noisy = prepare(batch, None, aug, training=True, gen=g)
    assert noisy.std() > 0.05
    clean = prepare(batch, None, aug, training=False)
    assert torch.allclose(clean, torch.full_like(clean, 128 / 255))
    again = prepare(batch, None, aug, training=True, gen=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)  # same seed, same augmentation
