"""Sample grids: G_ema's images from fixed seeds at every tick, and the real images beside them.

The seeds (and, for a conditional model, the class rows) are fixed, so the grids of one run show
the same latents from initialisation to the end, across resumes too. A conditional grid has one
row per shown class and ``grid_seeds`` columns.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ganaug.config import NetworkConfig
from ganaug.data.imageset import ImageSet, make_grid_array
from ganaug.utils import atomic_write_bytes, png_bytes, spread_indices

MAX_GRID_CLASSES = 16
GRID_SEED = 123  # the latents of every run's grids
UNCONDITIONAL_COLUMNS = 8


def grid_classes(num_classes: int, limit: int = MAX_GRID_CLASSES) -> list[int]:
    """Class indices shown in the sample grids: all of them up to ``limit``, else ``limit`` evenly
    spaced ones (first and last included), the same on every tick and every resume."""
    return spread_indices(num_classes, limit)


class SampleGrid:
    """The fixed latents and labels of a run's sample grids."""

    def __init__(self, net: NetworkConfig, grid_seeds: int):
        self.net = net
        self.grid_seeds = grid_seeds
        g = torch.Generator().manual_seed(GRID_SEED)
        self.classes = grid_classes(max(net.num_classes, 1)) if net.conditional else []  # readable row count
        n = grid_seeds * len(self.classes) if net.conditional else max(grid_seeds * 4, 16)
        self.z = torch.randn(n, net.z_dim, generator=g)
        self.c = torch.as_tensor(self.classes).repeat_interleave(grid_seeds) if net.conditional else None
        self.columns = grid_seeds if net.conditional else UNCONDITIONAL_COLUMNS

    @torch.no_grad()
    def render(self, G: nn.Module, device: torch.device) -> np.ndarray:
        """G's images of the fixed latents, as one uint8 grid [H, W, C]."""
        kwargs = {"noise_mode": "const"} if self.net.arch == "stylegan2" else {}
        imgs = []
        for i in range(0, len(self.z), 64):
            z = self.z[i : i + 64].to(device)
            c = self.c[i : i + 64].to(device) if self.c is not None else None
            imgs.append(G(z, c, **kwargs).float().cpu())
        u8 = (torch.cat(imgs) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
        return make_grid_array(u8, nrow=self.columns)

    def reals(self, data: ImageSet) -> np.ndarray:
        """Real training images laid out like the fakes: the shown classes' rows (padded white
        where a class has fewer images), or as many images as the fakes' grid."""
        rng = np.random.default_rng(0)
        if not self.net.conditional:
            pick = rng.choice(len(data), size=min(len(data), len(self.z)), replace=False)
            return make_grid_array(data.images[pick], nrow=UNCONDITIONAL_COLUMNS)
        rows = []
        for k in self.classes:
            idx = np.flatnonzero(data.labels == k)
            pick = rng.choice(idx, size=min(self.grid_seeds, len(idx)), replace=False) if len(idx) else []
            row = np.full((self.grid_seeds,) + data.images.shape[1:], 255, np.uint8)
            row[: len(pick)] = data.images[pick]
            rows.append(row)
        return make_grid_array(np.concatenate(rows), nrow=self.grid_seeds)


def save_png(path: Path, grid: np.ndarray) -> None:
    """Write a grid atomically; small images are enlarged to about 512 px, pixels kept sharp."""
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    scale = max(1, math.ceil(512 / max(grid.shape[:2])))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    atomic_write_bytes(path, png_bytes(img))
