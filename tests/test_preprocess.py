"""Resizing, fitting and channel conversion."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganaug.data.imageset import ImageSet
from ganaug.data.preprocess import convert_channels, normalize_mode, resize_array, resize_imageset, to_array


def bars(w: int = 40, h: int = 20) -> Image.Image:
    """Wide image: left quarter black, middle half gray 128, right quarter white."""
    a = np.full((h, w), 128, np.uint8)
    a[:, : w // 4] = 0
    a[:, 3 * w // 4 :] = 255
    return Image.fromarray(a)


def test_to_array_fits():
    crop = to_array(bars(), 10, resample="nearest")  # center-crop keeps the middle 20x20
    assert crop.shape == (1, 10, 10)
    assert (crop == 128).all()
    pad = to_array(bars(), 10, fit="pad", resample="nearest")  # letterbox: 10x5 image in black bands
    assert pad.shape == (1, 10, 10)
    assert (pad[0, :2] == 0).all() and (pad[0, -2:] == 0).all()
    assert pad[0, 5, -1] == 255 and pad[0, 5, 5] == 128
    stretch = to_array(bars(), 10, fit="stretch", resample="nearest")
    assert stretch[0, 0, 0] == 0 and stretch[0, 0, -1] == 255 and stretch[0, 0, 5] == 128
    rgb = to_array(bars(), (4, 6), channels=3)
    assert rgb.shape == (3, 4, 6) and (rgb[0] == rgb[1]).all()


def test_normalize_modes():
    rgba = Image.new("RGBA", (2, 2), (255, 0, 0, 128))
    out, note = normalize_mode(rgba)
    assert out.mode == "RGB" and "white" in note
    assert out.getpixel((0, 0)) == (255, 127, 127)
    out, _ = normalize_mode(rgba, alpha="black")
    assert out.getpixel((0, 0)) == (128, 0, 0)
    i16 = Image.fromarray(np.array([[0, 100], [300, 400]], np.uint16))
    out, note = normalize_mode(i16)
    assert out.mode == "L" and np.asarray(out).tolist() == [[0, 64], [191, 255]] and "8 bit" in note
    assert normalize_mode(Image.new("1", (2, 2), 1))[0].getpixel((0, 0)) == 255
    assert normalize_mode(Image.new("L", (2, 2)))[1] is None


def test_convert_channels():
    rgb = np.zeros((2, 3, 2, 2), np.uint8)
    rgb[:, 0] = 255
    gray = convert_channels(rgb, 1)
    assert gray.shape == (2, 1, 2, 2) and (gray == 76).all()  # 0.299 * 255
    back = convert_channels(gray, 3)
    assert back.shape == (2, 3, 2, 2) and (back == 76).all()


def test_resize_imageset(make_imageset):
    s = make_imageset(counts=(3, 2), size=16, channels=1)
    assert resize_imageset(s, 16) is s  # nothing to do
    r = resize_imageset(s, 8, channels=3)
    assert r.images.shape == (5, 3, 8, 8) and r.images.dtype == np.uint8
    assert r.paths == s.paths and r.hashes == s.hashes and r.labels.tolist() == s.labels.tolist()
    # Antialiased downsampling of noise keeps the mean and shrinks the variance.
    assert abs(r.images.mean() - s.images.mean()) < 3
    assert r.images.std() < s.images.std()
    const = ImageSet(np.full((2, 1, 12, 20), 99, np.uint8), np.array([0, 0]), ["a"])
    for fit in ("center-crop", "pad", "stretch"):
        out = resize_imageset(const, 32, fit=fit).images
        assert out.shape == (2, 1, 32, 32)
        if fit != "pad":
            assert (out == 99).all()
    padded = resize_imageset(const, 20, fit="pad").images[0, 0]
    assert (padded[:4] == 0).all() and (padded[10] == 99).all()
    with pytest.raises(Exception, match="channels"):
        resize_imageset(s, 8, channels=2)


def test_resize_array_matches_pil_roughly():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1, 1, 64, 64), dtype=np.uint8)
    ours = resize_array(img, 16).astype(int)[0, 0]
    pil = np.asarray(Image.fromarray(img[0, 0]).resize((16, 16), Image.Resampling.BICUBIC)).astype(int)
    assert np.abs(ours - pil).mean() < 6
