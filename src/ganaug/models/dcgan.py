"""DCGAN (Radford et al. 2016) for 16..256 px, 1 or 3 channels, optionally class-conditional.

At 64 px with ngf = ndf = 64, z_dim = 100 and no classes the layer stack is exactly that of the
PyTorch DCGAN example (examples/dcgan/main.py), so a benchmark against it compares like with like:
`classic_dcgan64(nc)` builds that pair. Other resolutions add or remove stride-2 stages; the
channel count doubles per stage away from the image and is capped at 8 * ngf (8 * ndf).

Conditioning: G concatenates a learned class embedding to z; D adds a projection term
<embed(c), sum-pooled features> (Miyato & Koyama 2018) to the logit of its final 4x4 conv.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganaug.models.layers import FreezableD


def weights_init(m: nn.Module) -> None:
    """The DCGAN initialisation: conv weights N(0, 0.02), batch-norm scale N(1, 0.02), shift 0."""
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _stage_channels(width: int, num_stages: int) -> list[int]:
    """Channels from the image side inward: width, 2 width, 4 width, ... capped at 8 width."""
    return [width * min(2**i, 8) for i in range(num_stages)]


class DCGANGenerator(nn.Module):
    """z [B, z_dim] (+ c [B]) -> images [B, C, R, R] in [-1, 1] (tanh)."""

    def __init__(
        self,
        z_dim: int = 100,
        img_resolution: int = 64,
        img_channels: int = 3,
        num_classes: int = 0,
        ngf: int = 64,  # channels of the last hidden layer
        batch_norm: bool = True,
    ):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.img_resolution, self.img_channels = img_resolution, img_channels
        # Class embedding concatenated to z; default N(0, 1) init matches z's scale.
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        in_dim = z_dim * (2 if num_classes else 1)

        n = int(math.log2(img_resolution)) - 2  # stride-2 stages after the 4x4 projection
        ch = _stage_channels(ngf, n)[::-1]  # channels at 4x4, 8x8, ..., R/2 (e.g. 512, 256, 128, 64)

        def block(conv: nn.Module, c: int) -> nn.Sequential:
            layers = [conv] + ([nn.BatchNorm2d(c)] if batch_norm else []) + [nn.ReLU(True)]
            return nn.Sequential(*layers)

        bias = not batch_norm  # a bias in front of batch norm is redundant
        blocks = [block(nn.ConvTranspose2d(in_dim, ch[0], 4, 1, 0, bias=bias), ch[0])]  # [B, ch0, 4, 4]
        for a, b in itertools.pairwise(ch):
            blocks.append(block(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=bias), b))  # doubles H, W
        blocks.append(nn.Sequential(nn.ConvTranspose2d(ch[-1], img_channels, 4, 2, 1, bias=False), nn.Tanh()))
        self.blocks = nn.Sequential(*blocks)
        self.apply(weights_init)

    def forward(
        self,
        z: torch.Tensor,  # [B, z_dim]
        c: torch.Tensor | None = None,  # [B] int64, conditional models only
        truncation_psi: float = 1.0,  # shrinks z toward its mean (0)
        noise_mode: str = "random",  # accepted for interface parity with StyleGAN2; DCGAN has no noise inputs
        **_: object,
    ) -> torch.Tensor:
        if truncation_psi != 1:
            z = z * truncation_psi
        if self.embed is not None:
            if c is None:
                raise ValueError("this generator is class-conditional: pass class indices c")
            z = torch.cat([z, self.embed(c.long())], dim=1)
        return self.blocks(z[:, :, None, None])


class DCGANDiscriminator(FreezableD, nn.Module):
    """images [B, C, R, R] (+ c [B]) -> logits [B] (float32, no sigmoid)."""

    def __init__(
        self,
        img_resolution: int = 64,
        img_channels: int = 3,
        num_classes: int = 0,
        ndf: int = 64,  # channels of the first layer
        batch_norm: bool = True,
        spectral: bool = False,  # spectral norm on every weight (batch norm is then left out)
        dropout: float = 0.0,
        slope: float = 0.2,
    ):
        super().__init__()
        self.img_resolution, self.img_channels, self.num_classes = img_resolution, img_channels, num_classes
        batch_norm = batch_norm and not spectral
        n = int(math.log2(img_resolution)) - 2  # stride-2 stages down to 4x4
        ch = _stage_channels(ndf, n)  # e.g. 64, 128, 256, 512

        def block(a: int, b: int, norm: bool, bias: bool) -> nn.Sequential:
            layers = [nn.Conv2d(a, b, 4, 2, 1, bias=bias)]
            if norm:
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(slope, inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            return nn.Sequential(*layers)

        # No batch norm on the first layer (as in DCGAN): it would normalise away the image statistics.
        # The first layer has no bias either, as in the PyTorch example.
        self.blocks = nn.ModuleList([block(img_channels, ch[0], norm=False, bias=False)])
        self.blocks.extend(
            block(a, b, norm=batch_norm, bias=not batch_norm) for a, b in itertools.pairwise(ch)
        )
        self.out = nn.Conv2d(ch[-1], 1, 4, 1, 0, bias=False)  # [B, 1, 1, 1]: a linear map of the 4x4 features
        self.embed = nn.Embedding(num_classes, ch[-1]) if num_classes else None
        self.apply(weights_init)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if spectral:
            # After the init: a parametrised weight is recomputed on access, so it cannot be initialised.
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Embedding)):
                    spectral_norm(m)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if img.shape[-1] != self.img_resolution or img.shape[1] != self.img_channels:
            raise ValueError(
                f"D expects [B, {self.img_channels}, {self.img_resolution}, {self.img_resolution}] "
                f"images, got {list(img.shape)}"
            )
        x = img
        for block in self.blocks:
            x = block(x)  # [B, ch, 4, 4] after the last
        logits = self.out(x).flatten()  # [B]
        if self.embed is not None:
            if c is None:
                raise ValueError("this discriminator is class-conditional: pass class indices c")
            # Projection: <embed(c), sum-pooled features>, added to the unconditional logit.
            logits = logits + (self.embed(c.long()) * x.sum(dim=[2, 3])).sum(dim=1)
        return logits.float()

    def freezable_layers(self) -> list[nn.Module]:
        """Freeze-D's unit: one conv (with its batch norm) per block, from the image side."""
        return list(self.blocks)

    def freeze_blocks(self, n: int) -> None:
        """Freeze the first n conv blocks (from the image side) for transfer learning (Freeze-D)."""
        self.freeze_layers(n)


def classic_dcgan64(nc: int = 3) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """(G, D) with exactly the layers, parameter counts and init of the PyTorch DCGAN example."""
    G = DCGANGenerator(z_dim=100, img_resolution=64, img_channels=nc, ngf=64, batch_norm=True)
    D = DCGANDiscriminator(img_resolution=64, img_channels=nc, ndf=64, batch_norm=True)
    return G, D
