"""Turn decoded images into the uint8 C x H x W arrays an :class:`ImageSet` holds.

Two paths:

* :func:`to_array` works on one PIL image (sources of files of any size): mode normalisation,
  fit to the target shape (center-crop, pad or stretch) with a chosen PIL filter, channels.
* :func:`resize_imageset` works on a whole :class:`ImageSet` at once with torch (vectorised,
  antialiased): the GAN resizes its training set to a power of two, the classifier to any size.

Mode conventions (documented in the README's data section):

* alpha (RGBA, LA, PA, palette with transparency) is composited on **white** by default
  (``alpha="black"`` to change): scanned documents, product shots and icons with transparent
  backgrounds are drawn on white; Fashion-MNIST-like dark backgrounds can ask for black;
* 16-bit (``I;16``), 32-bit (``I``) and float (``F``) images are linearly rescaled from the
  image's own min..max to 0..255 (the same rule DICOM uses when no window is stored);
* CMYK, YCbCr, LAB, HSV are converted to RGB; bilevel (``1``) to L.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from ganaug.constants import IMAGE_FITS as FITS
from ganaug.constants import RESAMPLES
from ganaug.data.imageset import ImageSet
from ganaug.errors import DataError, UserError

Fit = Literal["center-crop", "pad", "stretch"]
Size = int | tuple[int, int]  # int: square; tuple: (height, width)


def as_hw(size: Size) -> tuple[int, int]:
    """``64`` -> ``(64, 64)``; ``(h, w)`` unchanged."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def check_options(fit: str, resample: str) -> None:
    if fit not in FITS:
        raise UserError(f"unknown fit {fit!r}; choose from {', '.join(FITS)}")
    if resample not in RESAMPLES:
        raise UserError(f"unknown resample filter {resample!r}; choose from {', '.join(RESAMPLES)}")


def _pil_filter(resample: str):
    return {
        "lanczos": Image.Resampling.LANCZOS,
        "bicubic": Image.Resampling.BICUBIC,
        "bilinear": Image.Resampling.BILINEAR,
        "box": Image.Resampling.BOX,
        "hamming": Image.Resampling.HAMMING,
        "nearest": Image.Resampling.NEAREST,
    }[resample]


# ----------------------------------------------------------------------------
# Modes


GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def is_gray_mode(img) -> bool:
    """Grayscale judged from the mode (palette images: from the palette entries)."""
    if img.mode in GRAY_MODES:
        return True
    if img.mode in ("P", "PA"):
        pal = img.getpalette("RGB") or []
        return all(pal[i] == pal[i + 1] == pal[i + 2] for i in range(0, len(pal) - 2, 3))
    return False


def normalize_mode(img, alpha: str = "white"):
    """Any PIL image -> (image in mode L or RGB, note or None saying what was converted)."""
    mode = orig = img.mode
    if mode in ("L", "RGB"):
        return img, None
    background = 255 if alpha == "white" else 0
    if mode == "1":
        return img.convert("L"), None
    if mode in ("P", "PA"):
        gray = is_gray_mode(img)
        has_alpha = mode == "PA" or "transparency" in img.info
        if has_alpha:
            img = img.convert("RGBA")
            mode = "RGBA"
        else:
            return img.convert("L" if gray else "RGB"), None
    if mode in ("LA", "La", "RGBA", "RGBa"):
        base = "L" if mode in ("LA", "La") else "RGB"
        rgba = img.convert("RGBA")  # also un-premultiplies La / RGBa
        bg = Image.new("RGBA", rgba.size, (background, background, background, 255))
        out = Image.alpha_composite(bg, rgba).convert(base)
        return out, f"{orig}: alpha composited on {alpha}"
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        return Image.fromarray(rescale_to_uint8(arr)), f"{mode}: rescaled min..max to 8 bit"
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return img.convert("RGB"), f"{mode}: converted to RGB"
    return img.convert("RGB"), f"{mode}: converted to RGB"


def rescale_to_uint8(arr: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Linear map of [lo, hi] (default: the array's min and max) onto 0..255, clipped."""
    arr = np.asarray(arr, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if lo is None:
        lo = float(finite.min()) if finite.size else 0.0
    if hi is None:
        hi = float(finite.max()) if finite.size else 1.0
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (np.nan_to_num(arr, nan=lo) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_uint8_nchw(x: np.ndarray, where: str) -> tuple[np.ndarray, str | None]:
    """Any N x H x W / N x H x W x C / N x C x H x W array -> (uint8 N x C x H x W with C in (1, 3),
    note saying what was rescaled or composited, or None). ``where`` names the source in errors."""
    note = None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[1] in (1, 2, 3, 4) and x.shape[3] not in (1, 2, 3, 4):
            pass  # NCHW
        elif x.shape[3] in (1, 2, 3, 4):
            x = x.transpose(0, 3, 1, 2)  # NHWC
        elif x.shape[1] not in (1, 2, 3, 4):
            raise DataError(f"{where}: cannot tell the channel axis of images shaped {x.shape}")
    else:
        raise DataError(f"{where}: images must be N x H x W or N x H x W x C, got shape {x.shape}")
    if x.dtype != np.uint8:
        xf = x.astype(np.float32)
        lo, hi = (float(xf.min()), float(xf.max())) if xf.size else (0.0, 1.0)
        if x.dtype.kind == "f" and lo >= 0 and hi <= 1:
            x, note = np.rint(xf * 255).astype(np.uint8), "float images in [0, 1] scaled to 0..255"
        elif x.dtype.kind == "f" and lo >= -1 and hi <= 1:
            x, note = np.rint((xf + 1) * 127.5).astype(np.uint8), "float images in [-1, 1] scaled to 0..255"
        elif lo >= 0 and hi <= 255:
            x = np.rint(xf).astype(np.uint8)
        else:
            x, note = rescale_to_uint8(xf, lo, hi), f"{x.dtype} images rescaled from {lo:g}..{hi:g} to 0..255"
    c = x.shape[1]
    if c in (2, 4):  # alpha: composite on white (as for files)
        rgb, a = x[:, : c - 1].astype(np.float32), x[:, c - 1 :].astype(np.float32) / 255
        x = np.rint(rgb * a + 255 * (1 - a)).astype(np.uint8)
        note = "alpha composited on white"
    return np.ascontiguousarray(x), note


def content_is_gray(arr: np.ndarray) -> bool:
    """uint8 C x H x W: one channel, or three equal channels."""
    if arr.shape[0] == 1:
        return True
    return bool(np.array_equal(arr[0], arr[1]) and np.array_equal(arr[1], arr[2]))


def convert_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """uint8 [..., C, H, W] with C in (1, 3) -> ``channels`` (1: ITU-R 601 luma; 3: repeat)."""
    c = arr.shape[-3]
    if c == channels:
        return arr
    if channels == 3 and c == 1:
        return np.repeat(arr, 3, axis=-3)
    if channels == 1 and c == 3:
        f = arr.astype(np.float32)
        y = 0.299 * f[..., 0:1, :, :] + 0.587 * f[..., 1:2, :, :] + 0.114 * f[..., 2:3, :, :]
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
    raise ValueError(f"cannot convert {c} channels to {channels}")


# ----------------------------------------------------------------------------
# One PIL image


def scale_factor(src_wh: tuple[int, int], size: Size, fit: str) -> float:
    """How much the image is magnified to reach ``size`` (> 1 means upscaled)."""
    h, w = as_hw(size)
    sw, sh = src_wh
    if fit == "center-crop":
        return max(w / sw, h / sh)
    if fit == "pad":
        return min(w / sw, h / sh)
    return max(w / sw, h / sh)


def fit_image(img, size: Size, fit: str = "center-crop", resample: str = "lanczos", pad_color: int = 0):
    """Resize a PIL image to ``size`` keeping its aspect by cropping (center-crop), letterboxing
    (pad, with ``pad_color``), or not at all (stretch)."""
    h, w = as_hw(size)
    if img.size == (w, h):
        return img
    method = _pil_filter(resample)
    if fit == "center-crop":
        return ImageOps.fit(img, (w, h), method=method, centering=(0.5, 0.5))
    if fit == "pad":
        color = pad_color if img.mode == "L" else (pad_color,) * 3
        return ImageOps.pad(img, (w, h), method=method, color=color, centering=(0.5, 0.5))
    return img.resize((w, h), method)


def to_array(
    img,
    size: Size | None,
    channels: int | None = None,
    *,
    fit: str = "center-crop",
    resample: str = "lanczos",
    alpha: str = "white",
) -> np.ndarray:
    """A PIL image -> uint8 C x H x W at ``size`` (None: keep) with ``channels`` (None: keep 1 for
    grayscale, 3 for colour)."""
    img, _ = normalize_mode(img, alpha=alpha)
    if size is not None:
        img = fit_image(img, size, fit=fit, resample=resample)
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    if channels is not None:
        arr = convert_channels(arr, channels)
    return np.ascontiguousarray(arr)


# ----------------------------------------------------------------------------
# A whole ImageSet at once (torch)


def _crop_or_pad_to_aspect(x, out_hw: tuple[int, int], fit: str):
    """Float N x C x H x W -> same content cropped (center-crop) or padded (pad) to the aspect
    ratio of ``out_hw``. stretch: unchanged."""
    import torch.nn.functional as F  # deferred, as in resize_array: keeps torch out of `ganaug --help`

    _, _, h, w = x.shape
    oh, ow = out_hw
    if fit == "stretch" or h * ow == w * oh:
        return x
    if fit == "center-crop":
        if w * oh > h * ow:  # too wide
            nw = max(1, round(h * ow / oh))
            left = (w - nw) // 2
            return x[:, :, :, left : left + nw]
        nh = max(1, round(w * oh / ow))
        top = (h - nh) // 2
        return x[:, :, top : top + nh, :]
    # pad with black
    if w * oh > h * ow:
        nh = round(w * oh / ow)
        top = (nh - h) // 2
        return F.pad(x, (0, 0, top, nh - h - top), value=0.0)
    nw = round(h * ow / oh)
    left = (nw - w) // 2
    return F.pad(x, (left, nw - w - left, 0, 0), value=0.0)


def resize_array(
    images: np.ndarray,
    size: Size,
    *,
    fit: str = "center-crop",
    mode: str = "bicubic",
    chunk: int = 1024,
) -> np.ndarray:
    """uint8 N x C x H x W -> uint8 N x C x h x w with torch ``interpolate(..., antialias=True)``.

    ``mode``: "bicubic" (default; "lanczos" maps to it), "bilinear", "area", "nearest".
    """
    # Imported here, not at the top: the readers import this module, and `ganaug inspect` /
    # `prepare` import the readers; a top-level torch import would add seconds to them (11 s
    # against 0.6 s for all of ganaug.data.sources, measured on a busy machine) and to `--help`.
    import torch
    import torch.nn.functional as F

    out_hw = as_hw(size)
    n, c, h, w = images.shape
    if (h, w) == out_hw:
        return images
    mode = {"lanczos": "bicubic", "hamming": "bilinear", "box": "area"}.get(mode, mode)
    out = np.empty((n, c, *out_hw), dtype=np.uint8)
    for i in range(0, n, chunk):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + chunk])).float()
        x = _crop_or_pad_to_aspect(x, out_hw, fit)
        if x.shape[-2:] != out_hw:
            kw = {"antialias": True} if mode in ("bilinear", "bicubic") else {}
            if mode not in ("nearest", "area"):
                kw["align_corners"] = False
            x = F.interpolate(x, size=out_hw, mode=mode, **kw)
        out[i : i + chunk] = x.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out


def resize_imageset(
    imageset, size: Size, channels: int | None = None, *, fit: str = "center-crop", mode: str = "bicubic"
):
    """The same images at ``size`` (int: square) and ``channels`` (None: unchanged).

    Labels, class names, paths and hashes (provenance of the source files) are kept.
    Returns the input itself when nothing changes.
    """
    images = imageset.images
    if channels is not None and channels not in (1, 3):
        raise UserError(f"channels must be 1 or 3, got {channels}")
    same_size = len(images) == 0 or tuple(images.shape[2:]) == as_hw(size)
    same_ch = channels is None or images.shape[1] == channels
    if same_size and same_ch:
        return imageset
    if not same_ch:
        images = convert_channels(images, channels)
    if len(images):
        images = resize_array(images, size, fit=fit, mode=mode)
    else:
        images = np.zeros((0, images.shape[1], *as_hw(size)), dtype=np.uint8)
    return ImageSet(
        images,
        imageset.labels.copy(),
        list(imageset.class_names),
        list(imageset.paths),
        list(imageset.hashes),
    )


def padded_size(data_hw: tuple[int, int], resolution: int, fit: str = "auto") -> tuple[int, int] | None:
    """The data's (H, W) when it is to be padded up to a GAN's square ``resolution`` (and generated
    images centre-cropped back to it), or None when it is resized instead.

    Padding is a lossless round trip, where resizing up and back down is not: real Fashion-MNIST
    test images sent 28 -> 32 -> 28 px by bicubic resizing keep 0.38 of their high-frequency power,
    and their recall against the training split drops from 0.91 to 0.66 (trained features), so a
    GAN trained on resized data cannot reach the real floor however good it is. ``fit``: "pad",
    "resize", or "auto" (pad when the data's shorter side is at least 3/4 of ``resolution``, so the
    margins stay small).
    """
    h, w = (int(v) for v in data_hw)
    if fit == "resize" or (h, w) == (resolution, resolution) or max(h, w) > resolution:
        return None
    if fit == "auto" and 4 * min(h, w) < 3 * resolution:
        return None
    return h, w


def pad_array(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 N x C x H x W -> N x C x size x size, the image centred and its borders mirrored
    (reflection, which continues the image's own texture instead of adding a frame)."""
    n, c, h, w = images.shape
    top, left = (size - h) // 2, (size - w) // 2
    return np.pad(images, ((0, 0), (0, 0), (top, size - h - top), (left, size - w - left)), mode="reflect")


def center_crop_array(images: np.ndarray, hw: Sequence[int]) -> np.ndarray:
    """The centre ``hw`` = (H, W) of N x C x h x w images: the inverse of :func:`pad_array`."""
    h, w = images.shape[-2:]
    oh, ow = (int(v) for v in hw)
    top, left = (h - oh) // 2, (w - ow) // 2
    return np.ascontiguousarray(images[..., top : top + oh, left : left + ow])


def median_side(sizes: Sequence[tuple[int, int]]) -> int:
    """Median of the shorter side of (w, h) sizes, rounded."""
    return round(float(np.median([min(s) for s in sizes])))
