"""FastGAN (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training for High-fidelity
Few-shot Image Synthesis"), for any resolution from 16 to 1024, conditional or not.

G: z (+ a class embedding concatenated to it) -> 4x4 by a transposed conv, then up-blocks
(nearest upsampling, 3x3 conv, batch norm, GLU; every other one a double conv with noise
injection), and **skip-layer excitation** (SLE): the features at resolution r are multiplied
channel-wise by a gate computed from the features at r/16 (at 64, 128, 256, 512; a model smaller
than 64 gets one SLE from 4x4 into its last resolution). Spectral norm on every conv.

D: two paths, both ending in a 5x5 map of patch logits: the image at full size (a stem, then
residual down-blocks averaging a strided-conv path and a pooled 1x1 path, with SLE from 8x
larger feature maps), and the image at half size (plain down-blocks). It is **self-supervised**:
on real images, small decoders reconstruct the image from the 8x8 features of each path and a
random quadrant of it from the matching quadrant of the 16x16 features; their L1 error is
added to D's loss (``D(img, c, return_aux=True)`` -> ``(logits, reconstruction_loss)``; the
training loop asks for it on reals when ``D.has_aux_loss``). The reference implementation uses
LPIPS, which needs downloaded weights; L1 needs nothing.

Differences from the reference (odegeasslbc/FastGAN-pytorch): the per-sample logit is the mean of
the patch logits (ganaug's D returns one logit per image; the hinge loss is applied to it), G
has no extra 128x128 output (D's half-size path gets the image pooled, for reals and fakes alike),
resolutions below 256 start D at full size with a 3x3 stem (the reference's 256 case),
conditional models concatenate a class embedding to z in G and add a projection term
(Miyato & Koyama 2018) to D's logit, and noise injection is deterministic in eval mode
(``noise_mode="const"``) so a seed always gives the same image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

# Channel multipliers of the reference, per resolution.
_G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
_DEC_MULT = {8: 8, 16: 4, 32: 2, 64: 2, 128: 1}


def _conv(*args, **kwargs) -> nn.Module:
    return spectral_norm(nn.Conv2d(*args, **kwargs))


class GLU(nn.Module):
    """Gated linear unit over channels: the first half times the sigmoid of the second."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class NoiseInjection(nn.Module):
    """Adds per-pixel noise times a learned strength (0 at start). Eval mode uses a fixed noise map."""

    def __init__(self, resolution: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        elif noise_mode == "const":
            noise = self.noise_const.to(x.dtype)
        elif noise_mode == "none":
            return x
        else:
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        return x + self.weight.to(x.dtype) * noise


class SLE(nn.Module):
    """Skip-layer excitation: gate the channels of a large feature map with a small one's summary."""

    def __init__(self, ch_small: int, ch_big: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            _conv(ch_small, ch_big, 4, 1, 0, bias=False),
            nn.SiLU(),
            _conv(ch_big, ch_big, 1, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.main(small)


class UpBlock(nn.Module):
    """x2 nearest upsampling, 3x3 conv, batch norm, GLU; ``double``: a second conv, noise before each norm."""

    def __init__(self, c_in: int, c_out: int, resolution: int, double: bool):
        super().__init__()
        self.double = double
        self.conv1 = _conv(c_in, c_out * 2, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out * 2)
        if double:
            self.noise1 = NoiseInjection(resolution)
            self.conv2 = _conv(c_out, c_out * 2, 3, 1, 1, bias=False)
            self.noise2 = NoiseInjection(resolution)
            self.bn2 = nn.BatchNorm2d(c_out * 2)
        self.glu = GLU()

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = self.conv1(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        if self.double:
            x = self.noise1(x, noise_mode)
        x = self.glu(self.bn1(x))
        if self.double:
            x = self.glu(self.bn2(self.noise2(self.conv2(x), noise_mode)))
        return x


def _sle_sources(resolution: int) -> dict[int, int]:
    """{target resolution: source resolution} of the generator's skip-layer excitations."""
    pairs = {r: r // 16 for r in (64, 128, 256, 512) if r <= resolution}
    return pairs or {resolution: 4}


class FastGANGenerator(nn.Module):
    """z [B, z_dim] (+ c [B]) -> images [B, C, R, R] in [-1, 1]."""

    def __init__(
        self, z_dim: int, img_resolution: int, img_channels: int, num_classes: int = 0, ngf: int = 64
    ):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.img_resolution, self.img_channels = img_resolution, img_channels
        ch = {r: max(int(ngf * m), 4) for r, m in _G_MULT.items()}
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        self.init = nn.Sequential(
            spectral_norm(
                nn.ConvTranspose2d(z_dim * (2 if num_classes else 1), ch[4] * 2, 4, 1, 0, bias=False)
            ),
            nn.BatchNorm2d(ch[4] * 2),
            GLU(),
        )
        self.resolutions = [2**i for i in range(3, int(math.log2(img_resolution)) + 1)]  # 8 .. R
        # The reference alternates: 8, 32, 128, 512 double (with noise); 16, 64, 256, 1024 single.
        self.up = nn.ModuleDict(
            {
                str(r): UpBlock(ch[r // 2], ch[r], r, double=bool(int(math.log2(r)) % 2))
                for r in self.resolutions
            }
        )
        self.sle_src = _sle_sources(img_resolution)
        self.sle = nn.ModuleDict({str(r): SLE(ch[s], ch[r]) for r, s in self.sle_src.items()})
        self.to_img = _conv(ch[img_resolution], img_channels, 3, 1, 1, bias=False)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        noise_mode: str | None = None,
    ) -> torch.Tensor:
        if noise_mode is None:  # training: fresh noise; eval: fixed, so a seed is one image
            noise_mode = "random" if self.training else "const"
        if truncation_psi != 1:
            z = z * truncation_psi
        x = z
        if self.num_classes:
            if c is None:
                raise ValueError("this generator is class-conditional: pass class indices c")
            x = torch.cat([z, self.embed(c.long()).to(z.dtype)], dim=1)
        feats = {4: self.init(x.reshape(x.shape[0], -1, 1, 1))}
        for r in self.resolutions:
            f = self.up[str(r)](feats[r // 2], noise_mode)
            if r in self.sle_src:
                f = self.sle[str(r)](feats[self.sle_src[r]], f)
            feats[r] = f
        return torch.tanh(self.to_img(feats[self.img_resolution]))


# ----------------------------------------------------------------------------
# Discriminator.


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class DownBlock(nn.Module):
    """4x4 stride-2 conv, batch norm, lrelu."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(_conv(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), _lrelu())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class DownBlockComp(nn.Module):
    """The mean of a (strided conv, 3x3 conv) path and an (average pool, 1x1 conv) path."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(
            _conv(c_in, c_out, 4, 2, 1, bias=False),
            nn.BatchNorm2d(c_out),
            _lrelu(),
            _conv(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
            _lrelu(),
        )
        self.direct = nn.Sequential(
            nn.AvgPool2d(2, 2), _conv(c_in, c_out, 1, 1, 0, bias=False), nn.BatchNorm2d(c_out), _lrelu()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class SimpleDecoder(nn.Module):
    """Features -> 8x8 (adaptive pooling) -> up-blocks -> an out_res x out_res image in [-1, 1]."""

    def __init__(self, c_in: int, img_channels: int, out_res: int, base: int):
        super().__init__()
        ch = {r: max(int(base * m), 4) for r, m in _DEC_MULT.items()}
        layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(8)]
        c, r = c_in, 8
        while r < out_res:
            r *= 2
            layers += [
                nn.Upsample(scale_factor=2.0, mode="nearest"),
                _conv(c, ch[r] * 2, 3, 1, 1, bias=False),
                nn.BatchNorm2d(ch[r] * 2),
                GLU(),
            ]
            c = ch[r]
        layers += [_conv(c, img_channels, 3, 1, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Square images to ``size``: average pooling down (anti-aliased), nearest up."""
    s = x.shape[-1]
    if s > size:
        return F.avg_pool2d(x, s // size)
    if s < size:
        return F.interpolate(x, size=(size, size), mode="nearest")
    return x


class FastGANDiscriminator(nn.Module):
    """images [B, C, R, R] (+ c [B]) -> logits [B] (float32); ``return_aux=True`` adds the
    reconstruction loss of the self-supervised decoders (call it on real images)."""

    has_aux_loss = True

    def __init__(self, img_resolution: int, img_channels: int, num_classes: int = 0, ndf: int = 64):
        super().__init__()
        R = self.img_resolution = img_resolution
        self.img_channels, self.num_classes = img_channels, num_classes

        def dch(s: int) -> int:  # full-size path: 8 ndf at 8x8, halved per doubling
            return max(min(ndf * 64 // s, ndf * 8), 4)

        def sch(s: int) -> int:  # half-size path: half as wide
            return max(min(ndf * 32 // s, ndf * 4), 4)

        # Full-size path: stem to S = min(R, 256), then residual down-blocks to 8x8.
        S = min(R, 256)
        if R <= 256:
            stem = [_conv(img_channels, dch(S), 3, 1, 1, bias=False), _lrelu()]
        elif R == 512:
            stem = [_conv(img_channels, dch(S), 4, 2, 1, bias=False), _lrelu()]
        else:
            stem = [
                _conv(img_channels, dch(512), 4, 2, 1, bias=False),
                _lrelu(),
                _conv(dch(512), dch(S), 4, 2, 1, bias=False),
                nn.BatchNorm2d(dch(S)),
                _lrelu(),
            ]
        self.blocks = nn.ModuleList([nn.Sequential(*stem)])  # blocks[0] at S, blocks[i] -> S / 2^i
        self.levels = [S]
        s = S
        while s > 8:
            self.blocks.append(DownBlockComp(dch(s), dch(s // 2)))
            s //= 2
            self.levels.append(s)
        # Feature map t is gated by the one 8x larger (the reference's 256->32, 128->16, 64->8).
        self.sle_src = {t: 8 * t for t in (32, 16, 8) if 8 * t <= S}
        self.sle = nn.ModuleDict({str(t): SLE(dch(8 * t), dch(t)) for t in self.sle_src})
        self.rf_big = nn.Sequential(
            _conv(dch(8), dch(8) * 2, 1, 1, 0, bias=False),
            nn.BatchNorm2d(dch(8) * 2),
            _lrelu(),
            _conv(dch(8) * 2, 1, 4, 1, 0, bias=False),
        )

        # Half-size path (the full image when R = 16), down to 8x8.
        self.small_res = R // 2 if R >= 32 else R
        small: list[nn.Module] = [
            _conv(img_channels, sch(self.small_res // 2), 4, 2, 1, bias=False),
            _lrelu(),
        ]
        s = self.small_res // 2
        while s > 8:
            small.append(DownBlock(sch(s), sch(s // 2)))
            s //= 2
        self.small = nn.Sequential(*small)
        self.rf_small = _conv(sch(8), 1, 4, 1, 0, bias=False)

        # Self-supervision: decoders of the 8x8 features (both paths) and of a 16x16 quadrant.
        self.rec_res = min(R, 128)
        base = max(ndf // 2, 2)
        self.decoder_big = SimpleDecoder(dch(8), img_channels, self.rec_res, base)
        self.decoder_small = SimpleDecoder(sch(8), img_channels, self.rec_res, base)
        self.decoder_part = SimpleDecoder(dch(16), img_channels, self.rec_res, base)
        self.embed = spectral_norm(nn.Embedding(num_classes, dch(8))) if num_classes else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None, return_aux: bool = False):
        if img.shape[-1] != self.img_resolution or img.shape[1] != self.img_channels:
            raise ValueError(
                f"D expects [B, {self.img_channels}, {self.img_resolution}, {self.img_resolution}] "
                f"images, got {list(img.shape)}"
            )
        feats = {}
        x = img
        for level, block in zip(self.levels, self.blocks):
            x = block(x)
            if level in self.sle_src:
                x = self.sle[str(level)](feats[self.sle_src[level]], x)
            feats[level] = x
        feat_last = feats[8]
        small_img = _resize(img, self.small_res)
        feat_small = self.small(small_img)
        logits = (
            self.rf_big(feat_last).flatten(1).mean(1) + self.rf_small(feat_small).flatten(1).mean(1)
        ) / 2
        if self.num_classes:
            if c is None:
                raise ValueError("this discriminator is class-conditional: pass class indices c")
            # Projection onto the class embedding of the globally pooled 8x8 features.
            logits = logits + (self.embed(c.long()).to(feat_last.dtype) * feat_last.mean(dim=[2, 3])).sum(1)
        logits = logits.float()
        if not return_aux:
            return logits
        return logits, self.reconstruction_loss(img, feat_last, feat_small, feats[16])

    def reconstruction_loss(self, img, feat_last, feat_small, feat_16) -> torch.Tensor:
        """L1 error of the three decoders (whole image from each path, one random quadrant)."""
        target = _resize(img, self.rec_res).float()
        loss = F.l1_loss(self.decoder_big(feat_last).float(), target) + F.l1_loss(
            self.decoder_small(feat_small).float(), target
        )
        q = int(torch.randint(4, ()))
        r, h = img.shape[-1] // 2, feat_16.shape[-1] // 2
        i, j = divmod(q, 2)
        part = _resize(img[:, :, i * r : (i + 1) * r, j * r : (j + 1) * r], self.rec_res).float()
        rec_part = self.decoder_part(feat_16[:, :, i * h : (i + 1) * h, j * h : (j + 1) * h]).float()
        return loss + F.l1_loss(rec_part, part)

    def freeze_blocks(self, n: int) -> None:
        """Freeze the stem and the first n - 1 down-blocks of the full-size path (transfer learning)."""
        for i, block in enumerate(self.blocks):
            block.requires_grad_(i >= n)
