"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

Always-on differentiable augmentations applied to every image D sees, real and fake. Follows the
authors' reference implementation: images in [-1, 1], brightness +U(-0.5, 0.5), saturation
x U(0, 2), contrast x U(0.5, 1.5), translation up to 1/8 of the size with zero padding, and one
cutout square of half the size per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def rand_brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def rand_saturation(x: torch.Tensor) -> torch.Tensor:
    # On a 1-channel image the channel mean is the image itself: a no-op, as it should be.
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + mean


def rand_contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def rand_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels in x and y, filling with zeros."""
    B, C, H, W = x.shape
    sh, sw = int(H * ratio + 0.5), int(W * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, [B, 1, 1], device=x.device)
    tx = torch.randint(-sw, sw + 1, [B, 1, 1], device=x.device)
    # Source index of every output pixel in a 1-pixel zero-padded image; out-of-range -> the pad.
    rows = (torch.arange(H, device=x.device).reshape(1, H, 1) + ty + 1).clamp(0, H + 1)  # [B, H, 1]
    cols = (torch.arange(W, device=x.device).reshape(1, 1, W) + tx + 1).clamp(0, W + 1)  # [B, 1, W]
    padded = F.pad(x, [1, 1, 1, 1])  # [B, C, H+2, W+2]
    index = (rows * (W + 2) + cols).reshape(B, 1, H * W).expand(B, C, H * W)
    return padded.reshape(B, C, -1).gather(2, index).reshape(B, C, H, W)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a ratio * size square at a random centre (clipped at the borders) in each image."""
    B, _, H, W = x.shape
    ch, cw = int(H * ratio + 0.5), int(W * ratio + 0.5)
    cy = torch.randint(0, H + (1 - ch % 2), [B, 1, 1], device=x.device)
    cx = torch.randint(0, W + (1 - cw % 2), [B, 1, 1], device=x.device)
    y = torch.arange(H, device=x.device).reshape(1, H, 1)
    xx = torch.arange(W, device=x.device).reshape(1, 1, W)
    inside = (y >= cy - ch // 2) & (y < cy - ch // 2 + ch) & (xx >= cx - cw // 2) & (xx < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENT_FNS = {
    "color": [rand_brightness, rand_saturation, rand_contrast],
    "translation": [rand_translation],
    "cutout": [rand_cutout],
}


class DiffAugment(nn.Module):
    """policy: comma-separated subset of 'color', 'translation', 'cutout' (applied in that order given)."""

    def __init__(self, policy: str = "color,translation,cutout"):
        super().__init__()
        self.policy = [p.strip() for p in policy.split(",") if p.strip()]
        unknown = [p for p in self.policy if p not in AUGMENT_FNS]
        if unknown:
            raise ValueError(
                f"unknown DiffAugment policy {', '.join(unknown)}; choose from {', '.join(AUGMENT_FNS)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.policy:
            for fn in AUGMENT_FNS[name]:
                x = fn(x)
        return x

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)!r}"
