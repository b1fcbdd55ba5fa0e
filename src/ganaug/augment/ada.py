"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with Limited Data").

`AugmentPipe` applies a chain of differentiable augmentations, each to a sample with probability
p, to every image D sees (reals and fakes alike), so D cannot simply memorise the few reals.
Because each op is skipped with probability 1 - p, the augmented distribution still identifies
the clean one and G does not learn the augmentations ("non-leaking") as long as p stays below ~0.8.
`AdaController` tunes p from how confidently D scores the reals (the r_t overfitting heuristic).

Geometric ops are composed into one per-sample 3x3 matrix and applied by one oversampled warp,
as in the official pipeline (NVlabs/stylegan2-ada-pytorch): reflection padding wide enough for
the transformed image, 2x upsampling with the orthogonal sym6 wavelet low-pass filter, one
bilinear `grid_sample`, and 2x downsampling with the same filter. Sampling at twice the
resolution keeps more of the image's high frequencies (white noise keeps ~61 % of its power
under a random ADA warp at 32 px instead of ~45 % for one bilinear resample): augmented images
are less blurred, a difference D can tell apart and that would otherwise leak into G at high p.
Colour ops are composed into one per-sample 4x4 matrix applied with one batched matmul.
(kornia's random augmentations draw their own parameters and each warps separately; ADA needs
one warp for a chain of ops with per-op probabilities, so the pipeline uses torch directly.)

The pipeline always computes in float32 with autocast off: under mixed precision, D's reals,
D's fakes and G's fakes are augmented identically whatever the dtype of the images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Op -> preset group: b = pixel blitting, g = general geometric, c = colour.
OPS = {
    "xflip": "b",
    "rotate90": "b",
    "xint": "b",
    "scale": "g",
    "rotate": "g",
    "aniso": "g",
    "xfrac": "g",
    "brightness": "c",
    "contrast": "c",
    "lumaflip": "c",
    "hue": "c",
    "saturation": "c",
}
# Ranges of the random parameters (StyleGAN2-ADA defaults).
RANGES = {
    "xint_max": 0.125,  # integer translation, fraction of the image size
    "scale_std": 0.2,  # log2 stddev of isotropic scaling
    "rotate_max": 1.0,  # arbitrary rotation, fraction of pi
    "aniso_std": 0.2,  # log2 stddev of anisotropic scaling
    "xfrac_std": 0.125,  # fractional translation stddev, fraction of the image size
    "brightness_std": 0.2,
    "contrast_std": 0.5,  # log2 stddev
    "hue_max": 1.0,  # fraction of pi
    "saturation_std": 1.0,  # log2 stddev
}
_GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")

# Low-pass filter of the geometric warp: the sym6 wavelet's decomposition filter (orthogonal: 2x
# upsampling followed by 2x downsampling with it is the identity), as in the official pipeline.
SYM6 = (
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
)
_COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


# ----------------------------------------------------------------------------
# Batched homogeneous matrices. Each takes [B] tensors and returns [B, 3, 3] (2-D) or [B, 4, 4] (3-D).


def _matrix(rows: list[list], ref: torch.Tensor) -> torch.Tensor:
    B = ref.shape[0]
    cols = [
        [torch.as_tensor(v, dtype=torch.float32, device=ref.device).expand(B) for v in row] for row in rows
    ]
    return torch.stack([torch.stack(row, dim=-1) for row in cols], dim=-2)


def _translate2d(tx, ty):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def _scale2d(sx, sy):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def _rotate2d(theta):
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def _translate3d(t):
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], t)


def _scale3d(s):
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], s)


def _rotate3d(axis: np.ndarray, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by theta about a unit axis (Rodrigues)."""
    vx, vy, vz = (float(a) for a in axis[:3])
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        theta,
    )


# ----------------------------------------------------------------------------
# The oversampled geometric warp.


def _upfirdn_1d(
    x: torch.Tensor,
    f: torch.Tensor,
    dim: int,
    up: int,
    down: int,
    pad: tuple[int, int],
    gain: float,
    flip: bool,
) -> torch.Tensor:
    """Upsample (zero insertion), pad (negative: crop), FIR filter, downsample along one spatial dim.

    x: [B, C, H, W]; dim: 2 (H) or 3 (W); f: 1-D taps. `flip` False convolves (the filter is
    reversed before the correlation that conv2d computes), True correlates.
    """
    B, C, H, W = x.shape
    if up > 1:
        shape = [B, C, H * up, W] if dim == 2 else [B, C, H, W * up]
        z = x.new_zeros(shape)
        if dim == 2:
            z[:, :, ::up] = x
        else:
            z[:, :, :, ::up] = x
        x = z
    p0, p1 = pad
    if dim == 2:
        x = F.pad(x, [0, 0, max(p0, 0), max(p1, 0)])
        x = x[:, :, max(-p0, 0) : x.shape[2] - max(-p1, 0)]
    else:
        x = F.pad(x, [max(p0, 0), max(p1, 0)])
        x = x[:, :, :, max(-p0, 0) : x.shape[3] - max(-p1, 0)]
    k = f if flip else f.flip(0)
    k = (k * gain).to(x.dtype)
    w = k.reshape(1, 1, -1, 1) if dim == 2 else k.reshape(1, 1, 1, -1)
    x = F.conv2d(x, w.expand(x.shape[1], 1, *w.shape[2:]), groups=x.shape[1])
    if down > 1:
        x = x[:, :, ::down] if dim == 2 else x[:, :, :, ::down]
    return x


def _upsample2x(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, 2H, 2W] with the separable low-pass f (normalised to sum 1, gain 2 per axis)."""
    k = f.numel()
    pad = ((k + 1) // 2, (k - 2) // 2)
    for dim in (2, 3):
        x = _upfirdn_1d(x, f, dim, up=2, down=1, pad=pad, gain=2.0, flip=False)
    return x


def _downsample2x(x: torch.Tensor, f: torch.Tensor, crop: int) -> torch.Tensor:
    """Filter with f (correlation) and keep every second sample, after cropping `crop` pixels per side."""
    k = f.numel()
    pad = (-crop + (k - 1) // 2, -crop + (k - 2) // 2)
    for dim in (2, 3):
        x = _upfirdn_1d(x, f, dim, up=1, down=2, pad=pad, gain=1.0, flip=True)
    return x


def _blit(x: torch.Tensor, G_inv: torch.Tensor) -> torch.Tensor:
    """Move whole pixels: G_inv maps output pixel centres onto input pixel centres (flips, quarter
    turns of a square image, integer translations); what comes from outside is reflected."""
    B, C, H, W = x.shape
    dev = x.device
    if dev.type == "cpu" and torch.equal(G_inv, torch.eye(3, device=dev).expand(B, 3, 3)):
        return x
    cx, cy = (W - 1) / 2, (H - 1) / 2
    ys, xs = torch.meshgrid(
        torch.arange(H, device=dev, dtype=torch.float32),
        torch.arange(W, device=dev, dtype=torch.float32),
        indexing="ij",
    )
    pts = torch.stack([xs.flatten() - cx, ys.flatten() - cy, torch.ones(H * W, device=dev)])  # [3, HW]
    src = G_inv @ pts  # [B, 3, HW]

    def reflect(i: torch.Tensor, n: int) -> torch.Tensor:
        i = torch.where(i < 0, -i, i)
        return torch.where(i > n - 1, 2 * (n - 1) - i, i).clamp(0, n - 1)

    sx = reflect(torch.round(src[:, 0] + cx).long(), W)
    sy = reflect(torch.round(src[:, 1] + cy).long(), H)
    idx = (sy * W + sx).unsqueeze(1).expand(B, C, H * W)
    return x.flatten(2).gather(2, idx).view(B, C, H, W)


def geometric_warp(
    x: torch.Tensor,  # [B, C, H, W] float32
    G_inv: torch.Tensor,  # [B, 3, 3]: output pixel -> input pixel, in pixels about the image centre
    taps: torch.Tensor,  # 1-D low-pass filter (sym6)
) -> torch.Tensor:
    """Warp each image by its matrix the way the official ADA pipeline does: reflection-pad by what
    the transform pulls in from outside the image, upsample 2x with the filter, sample bilinearly,
    downsample 2x with the same filter. The identity matrix gives back x (to float precision)."""
    B, C, H, W = x.shape
    dev = x.device
    f = (taps / taps.sum()).to(dev)
    pad = f.numel() // 4  # margin kept around the image, in input pixels (3 for sym6)

    # Padding: how far outside the image the output's corners reach, plus the filter margin.
    cx, cy = (W - 1) / 2, (H - 1) / 2
    corners = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device=dev).t()  # [3, 4]
    cp = (G_inv @ corners)[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, B * 4]
    margin = torch.cat([-cp, cp]).max(dim=1).values  # [x0, y0, x1, y1]
    margin = margin + torch.tensor([pad * 2 - cx, pad * 2 - cy] * 2, device=dev)
    margin = torch.minimum(
        margin.clamp(min=0), torch.tensor([W - 1, H - 1] * 2, device=dev, dtype=margin.dtype)
    )
    mx0, my0, mx1, my1 = (int(v) for v in margin.ceil().tolist())

    x = F.pad(x, [mx0, mx1, my0, my1], mode="reflect")
    G_inv = (
        _translate2d(
            torch.full([B], (mx0 - mx1) / 2, device=dev), torch.full([B], (my0 - my1) / 2, device=dev)
        )
        @ G_inv
    )
    # Upsample; the transform in upsampled pixels (pixel centres move by half a pixel).
    x = _upsample2x(x, f)
    S, S_inv = (
        torch.diag(torch.tensor([2.0, 2.0, 1.0], device=dev)),
        torch.diag(torch.tensor([0.5, 0.5, 1.0], device=dev)),
    )
    T = torch.tensor([[1.0, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], device=dev)
    T_inv = torch.tensor([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], device=dev)
    G_inv = T @ (S @ G_inv @ S_inv) @ T_inv
    # Sample the output (the image plus the filter margin, at twice the resolution).
    Ho, Wo = (H + pad * 2) * 2, (W + pad * 2) * 2
    N_in = torch.diag(torch.tensor([2 / x.shape[3], 2 / x.shape[2], 1.0], device=dev))
    N_out_inv = torch.diag(torch.tensor([Wo / 2, Ho / 2, 1.0], device=dev))
    theta = (N_in @ G_inv @ N_out_inv)[:, :2, :]
    grid = F.affine_grid(theta, [B, C, Ho, Wo], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return _downsample2x(x, f, crop=pad * 2)


# ----------------------------------------------------------------------------


class AugmentPipe(nn.Module):
    """Differentiable augmentations applied per sample with probability `p` (a buffer).

    preset: letters of the op groups to enable: "b" (x-flip, 90-degree rotations, integer
    translation), "g" (isotropic scale, rotation, anisotropic scale, fractional translation),
    "c" (brightness, contrast, luma flip, hue, saturation). "bgc" is ADA's default.
    strengths: per-op probability multipliers (e.g. `rotate=0`), or parameter ranges (`scale_std=0.1`).
    Hue and saturation are off for 1-channel images (luma flip there inverts the image).
    """

    def __init__(self, channels: int = 3, preset: str = "bgc", p: float = 0.0, **strengths: float):
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        unknown_groups = set(preset) - set("bgc")
        if unknown_groups:
            raise ValueError(
                f"unknown augmentation group(s) {''.join(sorted(unknown_groups))!r}; use letters of 'bgc'"
            )
        unknown = set(strengths) - set(OPS) - set(RANGES)
        if unknown:
            raise ValueError(f"unknown augmentation option(s): {', '.join(sorted(unknown))}")
        self.channels, self.preset = channels, preset
        self.strength = {
            op: float(strengths.get(op, 1.0 if group in preset else 0.0)) for op, group in OPS.items()
        }
        if channels == 1:
            self.strength["hue"] = self.strength["saturation"] = 0.0  # no colour to rotate on grayscale
        self.ranges = {k: float(strengths.get(k, v)) for k, v in RANGES.items()}
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("warp_filter", torch.tensor(SYM6, dtype=torch.float32), persistent=False)
        self._p_host: float | None = float(p)  # host copy of p: forward needs no device sync

    def set_p(self, value: float) -> None:
        """Set the augmentation probability (keeps the buffer and its host copy in step)."""
        value = min(max(float(value), 0.0), 1.0)
        with torch.no_grad():
            self.p.fill_(value)
        self._p_host = value

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._p_host = None  # re-read from the loaded buffer on next use

    @property
    def ops(self) -> list[str]:
        """The ops that can fire (strength > 0)."""
        return [op for op, s in self.strength.items() if s > 0]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, preset={self.preset!r}, p={float(self.p):.4f}, ops={self.ops}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._p_host is None:  # after load_state_dict or an in-place edit of the buffer
            self._p_host = float(self.p)
        p = self._p_host
        if p <= 0:
            return x  # exact identity, no work
        C = x.shape[1]
        if C != self.channels:
            raise ValueError(f"AugmentPipe was built for {self.channels} channels, got {C}")
        # float32 whatever the caller's precision: bf16 grids and matrices shift and blur the warp.
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            if any(self.strength[op] > 0 for op in _GEOMETRIC):
                x = self._geometric(x, p)
            if any(self.strength[op] > 0 for op in _COLOR):
                x = self._color(x, p)
        return x

    def _gate(self, op: str, p: float, value: torch.Tensor, identity: float) -> torch.Tensor:
        """`value` where the op fires for that sample (probability strength * p), else identity."""
        shape = [value.shape[0]] + [1] * (value.ndim - 1)
        fire = torch.rand(shape, device=value.device) < self.strength[op] * p
        return torch.where(fire, value, torch.full_like(value, identity))

    def _geometric(self, x: torch.Tensor, p: float) -> torch.Tensor:
        B, C, H, W = x.shape
        dev, r, s = x.device, self.ranges, self.strength
        # Compose the inverse transform (output pixel -> input pixel), in pixels about the image
        # centre; each op multiplies on the right (applied to the output coordinates first).
        G = torch.eye(3, device=dev).repeat(B, 1, 1)
        if s["xflip"] > 0:
            i = self._gate("xflip", p, torch.randint(0, 2, [B], device=dev).float(), 0)
            G = G @ _scale2d(1 - 2 * i, torch.ones_like(i))
        if s["rotate90"] > 0:
            i = self._gate("rotate90", p, torch.randint(0, 4, [B], device=dev).float(), 0)
            G = G @ _rotate2d(-math.pi / 2 * i)
        if s["xint"] > 0:
            t = self._gate("xint", p, (torch.rand([B, 2], device=dev) * 2 - 1) * r["xint_max"], 0)
            G = G @ _translate2d(-torch.round(t[:, 0] * W), -torch.round(t[:, 1] * H))
        # The blits (flips, quarter turns, integer shifts) move whole pixels: applied exactly, by
        # index, before the filtered warp of the general transforms (the same composition order).
        x = _blit(x, G)
        G = torch.eye(3, device=dev).repeat(B, 1, 1)
        if s["scale"] > 0:
            k = self._gate("scale", p, torch.exp2(torch.randn([B], device=dev) * r["scale_std"]), 1)
            G = G @ _scale2d(1 / k, 1 / k)
        # Rotation is applied before and after the anisotropic scaling, each with probability p_rot,
        # so that P(any rotation) = strength * p like every other op.
        p_rot = 1 - math.sqrt(max(0.0, 1 - s["rotate"] * p))
        for stage in ("pre", "post"):
            if stage == "post" and s["aniso"] > 0:
                k = self._gate("aniso", p, torch.exp2(torch.randn([B], device=dev) * r["aniso_std"]), 1)
                G = G @ _scale2d(1 / k, k)
            if s["rotate"] > 0:
                theta = (torch.rand([B], device=dev) * 2 - 1) * math.pi * r["rotate_max"]
                theta = torch.where(torch.rand([B], device=dev) < p_rot, theta, torch.zeros_like(theta))
                G = G @ _rotate2d(-theta)
        if s["xfrac"] > 0:
            t = self._gate("xfrac", p, torch.randn([B, 2], device=dev) * r["xfrac_std"], 0)
            G = G @ _translate2d(-t[:, 0] * W, -t[:, 1] * H)

        if dev.type == "cpu" and torch.equal(G, torch.eye(3, device=dev).expand(B, 3, 3)):  # no sync on GPUs
            return x  # nothing fired in this batch
        return geometric_warp(x, G, self.warp_filter)

    def _color(self, x: torch.Tensor, p: float) -> torch.Tensor:
        B, C, H, W = x.shape
        dev, r, s = x.device, self.ranges, self.strength
        M = torch.eye(4, device=dev).repeat(B, 1, 1)  # acts on homogeneous RGB
        luma = np.array([1, 1, 1, 0]) / math.sqrt(3)  # the gray axis
        vv = torch.as_tensor(np.outer(luma, luma), dtype=torch.float32, device=dev)
        eye4 = torch.eye(4, device=dev)
        if s["brightness"] > 0:
            b = self._gate("brightness", p, torch.randn([B], device=dev) * r["brightness_std"], 0)
            M = _translate3d(b) @ M
        if s["contrast"] > 0:
            c = self._gate("contrast", p, torch.exp2(torch.randn([B], device=dev) * r["contrast_std"]), 1)
            M = _scale3d(c) @ M
        if s["lumaflip"] > 0:
            # Householder reflection through the plane orthogonal to the gray axis (inverts luma).
            i = self._gate("lumaflip", p, torch.randint(0, 2, [B], device=dev).float(), 0)
            M = (eye4 - 2 * vv * i.reshape(B, 1, 1)) @ M
        if s["hue"] > 0:
            theta = self._gate("hue", p, (torch.rand([B], device=dev) * 2 - 1) * math.pi * r["hue_max"], 0)
            M = _rotate3d(luma, theta) @ M
        if s["saturation"] > 0:
            k = self._gate("saturation", p, torch.exp2(torch.randn([B], device=dev) * r["saturation_std"]), 1)
            M = (vv + (eye4 - vv) * k.reshape(B, 1, 1)) @ M

        if dev.type == "cpu" and torch.equal(M, torch.eye(4, device=dev).expand(B, 4, 4)):  # no sync on GPUs
            return x
        M = M.to(x.dtype)
        if C == 3:
            y = torch.baddbmm(M[:, :3, 3:], M[:, :3, :3], x.reshape(B, 3, H * W))  # [B, 3, HW]
            return y.reshape(B, C, H, W)
        # Grayscale: the image is (g, g, g); average the three output rows back to one channel.
        m = M[:, :3, :].mean(dim=1)  # [B, 4]
        return x * m[:, :3].sum(dim=1).reshape(B, 1, 1, 1) + m[:, 3].reshape(B, 1, 1, 1)


class AdaController:
    """Adjusts `pipe.p` so that the fraction of reals D scores positive, E[sign(D(real))], tracks `target`.

    Call `accumulate(real_logits)` after every D step and `update(pipe)` every step or every
    `interval` steps: it acts once `interval` D steps have been accumulated and returns the
    statistic then (None otherwise). Under torch.distributed the (sum, count) is all-reduced so
    every rank computes the same p.

    With ``num_classes`` and the reals' labels passed to `accumulate`, the statistic is also kept
    per class (``last_class_stats``); ``per_class=True`` then drives p by the largest of them: under
    class-balanced sampling a rare class's few images are repeated most often, and D overfits them
    first while the statistic over all classes still looks healthy.
    """

    def __init__(
        self,
        target: float = 0.6,  # E[sign(D(real))] above this -> D is overfitting -> raise p
        speed_kimg: float = 100.0,  # p can go from 0 to 1 in this many thousand images
        interval: int = 4,  # D steps between adjustments
        batch_size: int = 64,  # images per D step (over all ranks)
        num_classes: int = 0,  # > 0: also keep the statistic per class (labels passed to accumulate)
        per_class: bool = False,  # drive p by the most overfit class instead of all reals together
    ):
        self.target, self.speed_kimg, self.interval, self.batch_size = (
            target,
            speed_kimg,
            interval,
            batch_size,
        )
        self.num_classes, self.per_class = int(num_classes), bool(per_class)
        self.last_stat: float | None = None
        self.last_class_stats: list[float] | None = None
        self._sign_sums: torch.Tensor | None = (
            None  # [sum of signs, count], kept on the logits' device (no sync)
        )
        self._steps = 0

    def accumulate(self, real_logits: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        x = real_logits.detach().float()
        sums = torch.stack([torch.sign(x).sum(), torch.tensor(float(x.numel()), device=x.device)])
        if self.num_classes:
            per = torch.zeros(self.num_classes, 2, device=x.device)  # [K, (sum of signs, count)]
            if labels is not None:
                per.index_add_(
                    0, labels.to(x.device).long(), torch.stack([torch.sign(x), torch.ones_like(x)], 1)
                )
            sums = torch.cat([sums, per.flatten()])
        self._sign_sums = sums if self._sign_sums is None else self._sign_sums.to(sums.device) + sums
        self._steps += 1

    def update(self, pipe: nn.Module, nimg: int | None = None) -> float | None:
        """Adjust pipe.p if `interval` D steps have been accumulated; return the statistic (or None).

        nimg: images shown to D since the previous adjustment; default batch_size * accumulated steps.
        """
        if self._steps < self.interval or self._sign_sums is None:
            return None
        sums = self._sign_sums
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sums = sums.clone()
            torch.distributed.all_reduce(sums)
        stat = float(sums[0] / sums[1].clamp(min=1))
        if self.num_classes:
            per = sums[2:].reshape(self.num_classes, 2)
            seen = per[:, 1] > 0
            class_stats = torch.where(
                seen, per[:, 0] / per[:, 1].clamp(min=1), torch.full_like(per[:, 0], float("nan"))
            )
            self.last_class_stats = [float(v) for v in class_stats]
            if self.per_class and bool(seen.any()):
                stat = float(class_stats[seen].max())
        nimg = self.batch_size * self._steps if nimg is None else nimg
        adjust = float(np.sign(stat - self.target)) * nimg / (self.speed_kimg * 1000)
        current = pipe._p_host if getattr(pipe, "_p_host", None) is not None else float(pipe.p)
        pipe.set_p(current + adjust)
        self._sign_sums, self._steps, self.last_stat = None, 0, stat
        return stat

    def state_dict(self) -> dict:
        return {
            "target": self.target,
            "speed_kimg": self.speed_kimg,
            "interval": self.interval,
            "batch_size": self.batch_size,
            "last_stat": self.last_stat,
            "steps": self._steps,
            "num_classes": self.num_classes,
            "per_class": self.per_class,
            "last_class_stats": self.last_class_stats,
            "acc": None if self._sign_sums is None else [float(v) for v in self._sign_sums],
        }

    def load_state_dict(self, state: dict) -> None:
        self.target, self.speed_kimg = state["target"], state["speed_kimg"]
        self.interval, self.batch_size = state["interval"], state["batch_size"]
        self.last_stat, self._steps = state.get("last_stat"), state.get("steps", 0)
        self.num_classes = int(state.get("num_classes", self.num_classes))
        self.per_class = bool(state.get("per_class", self.per_class))
        self.last_class_stats = state.get("last_class_stats")
        sums = state.get("acc")
        if sums is not None and self.num_classes and len(sums) == 2:
            sums = list(sums) + [0.0] * (2 * self.num_classes)  # a state from before the per-class statistic
        self._sign_sums = None if sums is None else torch.tensor(sums, dtype=torch.float32)
