"""Classic augmentation: flips, 90-degree and small rotations, random crops, brightness/contrast.

Uses:

* :func:`mirror` doubles a tiny GAN training set with x-flipped copies (the official StyleGAN2-ADA
  ``--mirror``): flips only, so G learns nothing the data does not already allow.
* :func:`multiply` grows a set by rotations, crops and flips ("64 images x10"): deterministic per
  seed; the discrete transforms (flips, quarter turns) are cycled over the copies so that no copy
  repeats its original, the continuous ones (small angle, crop, colour) are drawn from the seed.
  For GAN training this leaks: G learns to generate the rotated/cropped copies (their black
  corners, their blur) as if they were data. Prefer :func:`mirror` plus ADA.
* :class:`ClassicAugment` is the on-the-fly batch transform of the classifier baseline, on float
  [-1, 1] NCHW tensors; one fused affine ``grid_sample`` per batch, so it is cheap on a CPU.

Defaults suit natural objects and clothing: horizontal flips yes, vertical flips and quarter turns
no (an upside-down shirt is not a shirt); turn them on for textures, cells, satellite images.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.errors import UserError

OPS = ("hflip", "vflip", "rot90", "rotate", "crop", "color")
DEFAULT_MULTIPLY_OPS = ("hflip", "rotate", "crop")


def augment_batch(
    x: torch.Tensor,  # float [B, C, H, W]
    *,
    hflip: torch.Tensor | None = None,  # bool [B]
    vflip: torch.Tensor | None = None,  # bool [B]
    quarter_turns: torch.Tensor | None = None,  # int [B], 0..3
    angle: torch.Tensor | None = None,  # degrees [B]
    zoom: torch.Tensor | None = None,  # >= 1 [B]: 1/zoom of the image is kept (crop)
    shift: torch.Tensor | None = None,  # [B, 2] in normalised coordinates (crop position)
    brightness: torch.Tensor | None = None,  # [B], added (in units of the [-1, 1] range / 2)
    contrast: torch.Tensor | None = None,  # [B], factor around each image's mean
    lo: float = -1.0,
    hi: float = 1.0,
) -> torch.Tensor:
    """Apply explicit per-sample parameters; ``None`` means "not this op"."""
    B, C, H, W = x.shape
    if any(t is not None for t in (hflip, vflip, quarter_turns, angle, zoom, shift)):
        dev, dt = x.device, torch.float32
        theta_deg = torch.zeros(B, device=dev, dtype=dt)
        if quarter_turns is not None:
            theta_deg = theta_deg + 90.0 * quarter_turns.to(dev, dt)
        if angle is not None:
            theta_deg = theta_deg + angle.to(dev, dt)
        t = theta_deg * (math.pi / 180)
        cos, sin = torch.cos(t), torch.sin(t)
        # Rotation in pixel space, expressed in normalised coordinates (aspect-correct).
        rot = torch.stack([torch.stack([cos, -sin * (H / W)], -1), torch.stack([sin * (W / H), cos], -1)], -2)
        s = 1.0 / zoom.to(dev, dt) if zoom is not None else torch.ones(B, device=dev, dtype=dt)
        fx = torch.where(hflip.to(dev), -1.0, 1.0) if hflip is not None else torch.ones(B, device=dev)
        fy = torch.where(vflip.to(dev), -1.0, 1.0) if vflip is not None else torch.ones(B, device=dev)
        scale = torch.diag_embed(torch.stack([fx * s, fy * s], -1).to(dt))
        mat = rot @ scale  # output coords -> input coords
        tr = shift.to(dev, dt) if shift is not None else torch.zeros(B, 2, device=dev, dtype=dt)
        theta = torch.cat([mat, tr[:, :, None]], dim=2)
        grid = F.affine_grid(theta, [B, C, H, W], align_corners=False)
        x = F.grid_sample(
            x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection", align_corners=False
        )
    if contrast is not None:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast.to(x)[:, None, None, None] + mean
    if brightness is not None:
        x = x + brightness.to(x)[:, None, None, None] * (hi - lo) / 2
    if contrast is not None or brightness is not None:
        x = x.clamp(lo, hi)
    return x


def _uniform(n: int, a: float, b: float, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=g) * (b - a) + a


class ClassicAugment(nn.Module):
    """Random classic augmentation of a batch of [-1, 1] NCHW float images (classifier baseline).

    Each sample gets its own flip / rotation / crop / colour parameters; ``p`` is the probability
    that a sample is augmented at all. Not differentiable by design (used on real data only).
    """

    def __init__(
        self,
        channels: int | None = None,  # accepted for symmetry with AugmentPipe; any C works
        *,
        hflip: bool = True,  # mirror left-right with probability 0.5
        vflip: bool = False,  # mirror top-bottom (off: clothes, faces, digits)
        rot90: bool = False,  # random quarter turns (square images; textures, cells)
        rotate: float = 10.0,  # max small-angle rotation, degrees
        crop: float = 0.1,  # random crop keeping >= (1 - crop) of each side, resized back
        brightness: float = 0.1,  # max brightness shift, fraction of the range
        contrast: float = 0.1,  # contrast factor in [1 - contrast, 1 + contrast]
        p: float = 1.0,  # probability to augment each sample
    ):
        super().__init__()
        if not 0 <= crop < 1:
            raise ValueError("crop must be in [0, 1)")
        self.channels = channels
        self.hflip, self.vflip, self.rot90 = hflip, vflip, rot90
        self.rotate, self.crop = float(rotate), float(crop)
        self.brightness, self.contrast, self.p = float(brightness), float(contrast), float(p)

    def sample_params(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        g = generator
        params: dict[str, torch.Tensor] = {}
        if self.hflip:
            params["hflip"] = torch.rand(n, generator=g) < 0.5
        if self.vflip:
            params["vflip"] = torch.rand(n, generator=g) < 0.5
        if self.rot90:
            params["quarter_turns"] = torch.randint(0, 4, (n,), generator=g)
        if self.rotate > 0:
            params["angle"] = _uniform(n, -self.rotate, self.rotate, g)
        if self.crop > 0:
            zoom = _uniform(n, 1.0, 1.0 / (1.0 - self.crop), g)
            room = 1.0 - 1.0 / zoom  # how far the kept window can move, normalised
            params["zoom"] = zoom
            params["shift"] = (torch.rand(n, 2, generator=g) * 2 - 1) * room[:, None]
        if self.brightness > 0:
            params["brightness"] = _uniform(n, -self.brightness, self.brightness, g)
        if self.contrast > 0:
            params["contrast"] = _uniform(n, 1 - self.contrast, 1 + self.contrast, g)
        if self.p < 1:
            skip = torch.rand(n, generator=g) >= self.p
            neutral = {
                "hflip": False,
                "vflip": False,
                "quarter_turns": 0,
                "angle": 0.0,
                "zoom": 1.0,
                "brightness": 0.0,
                "contrast": 1.0,
            }
            for k, v in params.items():
                if k == "shift":
                    params[k] = torch.where(skip[:, None], torch.zeros_like(v), v)
                else:
                    params[k] = torch.where(skip, torch.full_like(v, neutral[k]), v)
        return params

    @torch.no_grad()
    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if len(x) == 0:
            return x
        return augment_batch(x, **self.sample_params(len(x), generator))

    def extra_repr(self) -> str:
        return (
            f"hflip={self.hflip}, vflip={self.vflip}, rot90={self.rot90}, rotate={self.rotate}, "
            f"crop={self.crop}, brightness={self.brightness}, contrast={self.contrast}, p={self.p}"
        )


def multiply(
    imageset,
    factor: int,
    seed: int = 0,
    *,
    ops: Sequence[str] = DEFAULT_MULTIPLY_OPS,  # subset of OPS
    rotate: float = 15.0,  # max angle for "rotate"
    crop: float = 0.1,  # for "crop"
    brightness: float = 0.15,  # for "color"
    contrast: float = 0.15,  # for "color"
    chunk: int = 512,
):
    """The originals followed by ``factor - 1`` augmented copies of each (``len * factor`` images).

    Copy k of image ``p`` has path ``"p#augk"`` and the hash of its own pixels; labels are kept.
    Same input + seed -> same output.
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    unknown = set(ops) - set(OPS)
    if unknown:
        raise UserError(f"unknown augmentation op(s) {sorted(unknown)}; choose from {', '.join(OPS)}")
    if factor == 1 or len(imageset) == 0:
        return imageset

    # Discrete transforms are cycled over the copies (copy 1 gets the first non-identity one).
    flips = [False, True] if "hflip" in ops else [False]
    vflips = [False, True] if "vflip" in ops and "rot90" not in ops else [False]  # vflip = hflip + 180
    turns = [0, 1, 2, 3] if "rot90" in ops else [0]
    combos = list(itertools.product(flips, vflips, turns))
    cont = ClassicAugment(
        hflip=False,
        rotate=rotate if "rotate" in ops else 0.0,
        crop=crop if "crop" in ops else 0.0,
        brightness=brightness if "color" in ops else 0.0,
        contrast=contrast if "color" in ops else 0.0,
    )
    g = torch.Generator().manual_seed(int(seed))
    n = len(imageset)
    images = [imageset.images]
    paths = list(imageset.paths)
    for k in range(1, factor):
        hf, vf, qt = combos[k % len(combos)]
        out = np.empty_like(imageset.images)
        for i in range(0, n, chunk):
            x = torch.from_numpy(imageset.images[i : i + chunk]).float().div_(127.5).sub_(1.0)
            b = len(x)
            params = cont.sample_params(b, g)
            if "hflip" in ops:
                params["hflip"] = torch.full((b,), hf)
            if vf:
                params["vflip"] = torch.full((b,), True)
            if qt:
                params["quarter_turns"] = torch.full((b,), qt)
            y = augment_batch(x, **params)
            out[i : i + b] = y.add_(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8).numpy()
        images.append(out)
        paths += [f"{p}#aug{k}" for p in imageset.paths]
    allimg = np.concatenate(images)
    hashes = list(imageset.hashes) + [pixel_hash(img) for img in allimg[n:]]
    labels = np.tile(imageset.labels, factor)
    return ImageSet(allimg, labels, list(imageset.class_names), paths, hashes)


def mirror(imageset):
    """The originals followed by their left-right mirror images (``2 * len`` images), flips only.

    Copy ``p`` has path ``"p#xflip"`` and the hash of its own pixels; labels are kept.
    """
    if len(imageset) == 0:
        return imageset
    flipped = np.ascontiguousarray(imageset.images[..., ::-1])
    return ImageSet(
        np.concatenate([imageset.images, flipped]),
        np.tile(imageset.labels, 2),
        list(imageset.class_names),
        list(imageset.paths) + [f"{p}#xflip" for p in imageset.paths],
        list(imageset.hashes) + [pixel_hash(img) for img in flipped],
    )
