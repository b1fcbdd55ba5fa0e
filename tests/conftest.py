"""Shared fixtures. Keep this small: module-specific helpers belong in the test modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:  # run from a checkout without `pip install -e .`
    import ganaug  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def make_imageset():
    """Factory: a tiny ImageSet of random uint8 images, ``counts`` images per class."""
    from ganaug.data.imageset import ImageSet

    def make(counts=(6, 4), size: int = 8, channels: int = 1, seed: int = 0, class_names=None) -> ImageSet:
        rng = np.random.default_rng(seed)
        n = sum(counts)
        images = rng.integers(0, 256, size=(n, channels, size, size), dtype=np.uint8)
        labels = np.repeat(np.arange(len(counts)), counts)
        names = list(class_names) if class_names else [f"c{i}" for i in range(len(counts))]
        return ImageSet(images, labels, names, [f"mem/{i}.png" for i in range(n)])

    return make


@pytest.fixture
def write_png():
    """Write a uint8 H x W (gray) or H x W x 3 (RGB) array as a PNG; returns the path."""
    from PIL import Image

    def write(path, array, **save_kw) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, **save_kw)
        return path

    return write


def _png_header(w: int, h: int) -> bytes:
    """A valid-looking PNG claiming w x h pixels with (almost) no data: a decompression bomb stand-in."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def bad_files():
    """Factory: write one file of each problematic kind into ``folder``; returns {name: path}.

    Skipped: empty, truncated, text-as-png, huge (header claims 20000x20000).
    Loaded with a warning: animated GIF, EXIF-rotated JPEG, RGBA, 16-bit, small (upscaled).
    """
    import io

    from PIL import Image

    def make(folder, size: int = 16) -> dict[str, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        out["empty"] = folder / "empty.png"
        out["empty"].write_bytes(b"")
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (size, size), dtype=np.uint8)).save(
            buf, "PNG"
        )
        out["truncated"] = folder / "truncated.png"
        out["truncated"].write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        out["text"] = folder / "notes.png"
        out["text"].write_text("this is not an image\n")
        out["huge"] = folder / "huge.png"
        out["huge"].write_bytes(_png_header(20000, 20000))
        frames = [Image.new("L", (size, size), v) for v in (10, 200)]
        out["animated"] = folder / "anim.gif"
        frames[0].save(out["animated"], save_all=True, append_images=frames[1:], duration=50, loop=0)
        exif = Image.Exif()
        exif[0x0112] = 6
        half = np.zeros((size, size), dtype=np.uint8)
        half[:, size // 2 :] = 255
        out["exif"] = folder / "rotated.jpg"
        Image.fromarray(half).save(out["exif"], quality=95, exif=exif)
        rgba = np.zeros((size, size, 4), dtype=np.uint8)
        rgba[..., 0] = 255  # red, fully transparent -> white after compositing
        out["rgba"] = folder / "alpha.png"
        Image.fromarray(rgba).save(out["rgba"])
        out["16bit"] = folder / "deep.png"
        Image.fromarray(np.linspace(1000, 3000, size * size).reshape(size, size).astype(np.uint16)).save(
            out["16bit"]
        )
        out["small"] = folder / "small.png"
        Image.new("L", (size // 2, size // 2), 77).save(out["small"])
        return out

    return make
