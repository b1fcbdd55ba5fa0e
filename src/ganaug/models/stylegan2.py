"""StyleGAN2 (config e / StyleGAN2-ADA flavour) in plain PyTorch, CPU friendly.

G: mapping network z (+ class embedding) -> w, tracked average w_avg for truncation, then a synthesis
network of modulated/demodulated 3x3 convs with noise inputs and a "skip" output: every resolution has
a toRGB whose image is upsampled and summed. D: residual blocks with FIR downsampling, minibatch
stddev, and class-conditioning by projection onto an embedding of c (the "cmap" of StyleGAN2-ADA).

Reference: Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN" and
"Training Generative Adversarial Networks with Limited Data" (NVlabs/stylegan2-ada-pytorch).
Differences: no custom CUDA ops (FIR resampling is a depthwise conv); class-conditional truncation
pulls toward a per-class average w (w_avg_class) so truncated samples keep their class.

Mixed precision per block, as officially: the networks read the caller's ``torch.autocast`` state and
run only the blocks of the ``num_fp16_res`` highest resolutions in its reduced dtype (bf16 on CPU,
the autocast dtype on CUDA), with autocast off inside every block so that everything else (mapping,
styles and demodulation, the image skip sum, D's epilogue and class embedding, the output) stays
float32; reduced-precision blocks clamp their conv outputs to +-conv_clamp.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ganaug.models.layers import (
    EqualConv2d,
    EqualLinear,
    FreezableD,
    MinibatchStd,
    autocast_dtype,
    bias_act,
    fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample2d,
)

CONV_CLAMP = 256.0  # default clamp of reduced-precision conv outputs (official: 256)


def _cpu_channels_last(x: torch.Tensor) -> torch.Tensor:
    # On CPU, oneDNN convs run 1.1-1.6x faster on channels-last (NHWC) activations (measured, 2 threads);
    # the format then propagates through every conv. On CUDA the training loop decides.
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution `res`."""
    return min(channel_base // res, channel_max)


def fp16_resolution(img_resolution: int, num_fp16_res: int) -> int:
    """Lowest block resolution run in reduced precision (the official rule: the N highest, never below 8)."""
    if num_fp16_res <= 0:
        return img_resolution * 4  # none
    return max(2 ** (int(math.log2(img_resolution)) + 1 - num_fp16_res), 8)


def _device_type(t: torch.Tensor | None) -> str:
    return t.device.type if t is not None else "cpu"


# ----------------------------------------------------------------------------
# Generator.


class MappingNetwork(nn.Module):
    """z (+ one-hot c through a linear embedding) -> w. With `num_ws`, broadcasts to [B, num_ws, w_dim]
    and tracks w_avg for truncation; without, returns [B, w_dim] (D's class embedding)."""

    def __init__(
        self,
        z_dim: int,  # 0: no latent input (D's conditioning map)
        num_classes: int,  # 0: unconditional
        w_dim: int,
        num_ws: int | None,  # number of ws to broadcast to; None: return [B, w_dim] and track nothing
        num_layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,  # decay of the tracked average w
        slope: float = 0.2,
        cond_transition: bool = False,  # class input scaled by the buffer cond_strength (G only)
    ):
        super().__init__()
        self.z_dim, self.num_classes, self.w_dim, self.num_ws = z_dim, num_classes, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        if num_classes and cond_transition:
            # Transitional training (Shahbazi et al. 2022): 0 = unconditional, 1 = fully conditional.
            self.register_buffer("cond_strength", torch.ones([]))
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *[
                EqualLinear(a, b, activation="lrelu", lr_multiplier=lr_multiplier, slope=slope)
                for a, b in itertools.pairwise(dims)
            ]
        )
        if num_ws is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))
            if num_classes:
                # Per-class average: truncating a conditional model toward the global average would
                # wash out the class (psi = 0 would give one image for every class).
                self.register_buffer("w_avg_class", torch.zeros(num_classes, w_dim))

    def forward(
        self,
        z: torch.Tensor | None,  # [B, z_dim]
        c: torch.Tensor | None = None,  # [B] int64 class indices
        truncation_psi: float = 1.0,
        update_w_avg: bool = False,  # track w_avg (and w_avg_class) with this batch
        *,
        truncation_cutoff: int | None = None,  # truncate only the first N ws (coarse styles)
    ) -> torch.Tensor:
        with torch.autocast(_device_type(z if z is not None else c), enabled=False):  # float32, as officially
            return self._forward(z, c, truncation_psi, update_w_avg, truncation_cutoff)

    def _forward(self, z, c, truncation_psi, update_w_avg, truncation_cutoff) -> torch.Tensor:
        parts = []
        if self.z_dim:
            parts.append(normalize_2nd_moment(z.float()))
        if self.num_classes:
            if c is None:
                raise ValueError("this network is class-conditional: pass class indices c")
            onehot = F.one_hot(c.long(), self.num_classes).float()
            embedded = normalize_2nd_moment(self.embed(onehot))
            if hasattr(self, "cond_strength"):
                embedded = embedded * self.cond_strength
            parts.append(embedded)
        x = self.layers(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])  # [B, w_dim]

        if self.num_ws is None:
            return x
        if update_w_avg:
            self._update_w_avg(x.detach(), c)
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)  # [B, num_ws, w_dim]
        if truncation_psi != 1:
            center = self.w_avg_class[c].unsqueeze(1) if self.num_classes else self.w_avg  # [B, 1, w] or [w]
            n = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :n] = center + truncation_psi * (ws[:, :n] - center)
        return ws

    @torch.no_grad()
    def _update_w_avg(self, x: torch.Tensor, c: torch.Tensor | None) -> None:
        beta = self.w_avg_beta
        x = x.float()  # may be half precision under autocast; the averages stay float32
        self.w_avg.copy_(x.mean(0).lerp(self.w_avg, beta))
        if self.num_classes:
            # Running mean per class, updated only for the classes present in this batch.
            counts = torch.bincount(c, minlength=self.num_classes).to(x.dtype)  # [K]
            sums = torch.zeros_like(self.w_avg_class).index_add_(0, c, x)  # [K, w_dim]
            means = sums / counts.clamp(min=1).unsqueeze(1)
            updated = means.lerp(self.w_avg_class, beta)
            self.w_avg_class.copy_(torch.where(counts.unsqueeze(1) > 0, updated, self.w_avg_class))


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally upsampling x2) + per-pixel noise + bias + lrelu."""

    def __init__(
        self,
        in_channels,
        out_channels,
        w_dim,
        resolution,
        up=1,
        resample_filter=None,
        slope=0.2,
        fused_modconv=False,
        conv_clamp=CONV_CLAMP,
    ):
        super().__init__()
        self.resolution, self.up, self.slope, self.fused_modconv = resolution, up, slope, fused_modconv
        self.conv_clamp = conv_clamp
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("resample_filter", resample_filter, persistent=False)

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random", noise_generators=None
    ) -> torch.Tensor:
        styles = self.affine(w)  # [B, I]
        noise = None
        if noise_mode == "random" and noise_generators is not None:
            # One generator per sample: each image's noise depends on its own seed only, not on the batch.
            R = self.resolution
            noise = torch.stack([torch.randn(1, R, R, generator=g) for g in noise_generators]).to(x.device)
            noise = noise * self.noise_strength
        elif noise_mode == "random":
            noise = (
                torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device)
                * self.noise_strength
            )
        elif noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            up=self.up,
            resample_filter=self.resample_filter,
            fused=self.fused_modconv,
            noise=noise,
        )  # [B, O, R, R]
        return bias_act(x, self.bias, "lrelu", self.slope, clamp=self.conv_clamp, inplace=True)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels, not demodulated (its output scale is the image's)."""

    def __init__(self, in_channels, img_channels, w_dim, fused_modconv=False, conv_clamp=CONV_CLAMP):
        super().__init__()
        self.fused_modconv, self.conv_clamp = fused_modconv, conv_clamp
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=self.fused_modconv)
        return bias_act(x, self.bias, clamp=self.conv_clamp)  # not in place: x is a view (see conv1x1)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (const | up-conv) -> conv -> toRGB added to the upsampled image."""

    def __init__(
        self,
        in_channels,
        out_channels,
        w_dim,
        resolution,
        img_channels,
        resample_filter,
        slope=0.2,
        fused_modconv=False,
        use_fp16=False,
        conv_clamp=CONV_CLAMP,
    ):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.use_fp16 = use_fp16  # reduced precision (the autocast dtype) when the caller runs under autocast
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim,
                resolution,
                up=2,
                resample_filter=resample_filter,
                slope=slope,
                fused_modconv=fused_modconv,
                conv_clamp=conv_clamp,
            )
        self.conv1 = SynthesisLayer(
            out_channels,
            out_channels,
            w_dim,
            resolution,
            slope=slope,
            fused_modconv=fused_modconv,
            conv_clamp=conv_clamp,
        )
        self.torgb = ToRGBLayer(
            out_channels, img_channels, w_dim, fused_modconv=fused_modconv, conv_clamp=conv_clamp
        )
        self.register_buffer("resample_filter", resample_filter, persistent=False)
        self.num_conv = 1 if in_channels == 0 else 2

    def forward(self, x, img, ws, noise_mode="random", noise_generators=None):
        # ws: [B, num_conv + 1, w_dim]; the last one (toRGB) is shared with the next block's first conv.
        amp = autocast_dtype(ws.device.type)
        dtype = amp if (amp is not None and self.use_fp16) else torch.float32
        with torch.autocast(ws.device.type, enabled=False):
            ws = ws.float()
            if self.in_channels == 0:
                x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)  # [B, C, 4, 4]
                x = _cpu_channels_last(x)
            else:
                x = self.conv0(x.to(dtype), ws[:, 0], noise_mode, noise_generators)  # [B, C, R, R]
            x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode, noise_generators)
            y = self.torgb(
                x, ws[:, self.num_conv]
            ).float()  # [B, img_channels, R, R]; the image stays float32
            img = y if img is None else upsample2d(img.float(), self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [B, num_ws, w_dim] -> image [B, C, R, R]."""

    def __init__(
        self,
        w_dim,
        img_resolution,
        img_channels,
        channel_base,
        channel_max,
        slope=0.2,
        fused_modconv=False,
        num_fp16_res=4,
        conv_clamp=CONV_CLAMP,
    ):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]  # 4, 8, ..., R
        fp16_res = fp16_resolution(img_resolution, num_fp16_res)
        f = fir_filter()
        self.blocks = nn.ModuleList()
        for res in self.block_resolutions:
            in_ch = channels_at(res // 2, channel_base, channel_max) if res > 4 else 0
            out_ch = channels_at(res, channel_base, channel_max)
            self.blocks.append(
                SynthesisBlock(
                    in_ch,
                    out_ch,
                    w_dim,
                    res,
                    img_channels,
                    f,
                    slope,
                    fused_modconv,
                    use_fp16=res >= fp16_res,
                    conv_clamp=conv_clamp,
                )
            )
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", noise_generators=None) -> torch.Tensor:
        """``noise_generators``: with noise_mode "random", one torch.Generator per sample for its noise
        (reproducible per image whatever the batch); None draws from the global generator."""
        if noise_generators is not None and len(noise_generators) != ws.shape[0]:
            raise ValueError(f"{len(noise_generators)} noise generators for a batch of {ws.shape[0]}")
        x = img = None
        w_idx = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, w_idx : w_idx + block.num_conv + 1], noise_mode, noise_generators)
            w_idx += block.num_conv
        return img.contiguous()  # plain NCHW for callers (channels-last is an internal CPU speed-up)


class Generator(nn.Module):
    """z [B, z_dim] (+ c [B]) -> images [B, C, R, R], roughly in [-1, 1]."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        num_classes: int = 0,
        mapping_layers: int = 8,
        channel_base: int = 16384,
        channel_max: int = 512,
        slope: float = 0.2,
        fused_modconv: bool = False,  # grouped conv with per-sample weights; 1.6-1.9x slower on CPU (measured)
        num_fp16_res: int = 4,  # blocks of the N highest resolutions run in reduced precision under autocast
        conv_clamp: float | None = CONV_CLAMP,  # clamp of reduced-precision conv outputs
        cond_transition: bool = False,  # class input scaled by mapping.cond_strength (see set_cond_strength)
    ):
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            w_dim,
            img_resolution,
            img_channels,
            channel_base,
            channel_max,
            slope,
            fused_modconv,
            num_fp16_res,
            conv_clamp,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim,
            num_classes,
            w_dim,
            self.num_ws,
            mapping_layers,
            slope=slope,
            cond_transition=cond_transition,
        )

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def set_cond_strength(self, value: float) -> None:
        """Weight of the class input (transitional training; no effect on other networks)."""
        if hasattr(self.mapping, "cond_strength"):
            self.mapping.cond_strength.fill_(float(value))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        noise_mode: str = "random",
        *,
        truncation_cutoff: int | None = None,
        update_w_avg: bool | None = None,  # None: track w_avg in training mode (like batch-norm statistics)
        noise_generators=None,  # noise_mode "random": one torch.Generator per sample (reproducible noise)
    ) -> torch.Tensor:
        if update_w_avg is None:
            update_w_avg = self.training
        ws = self.mapping(z, c, truncation_psi, update_w_avg, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode, noise_generators)


# ----------------------------------------------------------------------------
# Discriminator.


class DiscriminatorBlock(nn.Module):
    """Residual block: (fromRGB) -> conv -> conv with /2, plus a 1x1 /2 skip; both paths scaled by sqrt(1/2)."""

    def __init__(
        self,
        in_channels,
        tmp_channels,
        out_channels,
        img_channels,
        resample_filter,
        slope=0.2,
        use_fp16=False,
        conv_clamp=CONV_CLAMP,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.use_fp16 = use_fp16
        if in_channels == 0:
            self.fromrgb = EqualConv2d(
                img_channels, tmp_channels, 1, activation="lrelu", slope=slope, conv_clamp=conv_clamp
            )
        self.conv0 = EqualConv2d(
            tmp_channels, tmp_channels, 3, activation="lrelu", slope=slope, conv_clamp=conv_clamp
        )
        self.conv1 = EqualConv2d(
            tmp_channels,
            out_channels,
            3,
            activation="lrelu",
            slope=slope,
            down=2,
            resample_filter=resample_filter,
            conv_clamp=conv_clamp,
        )
        self.skip = EqualConv2d(
            tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=resample_filter
        )

    def layers(self) -> list[nn.Module]:
        """In the official order (fromRGB, conv0, conv1, skip): the unit Freeze-D counts."""
        return ([self.fromrgb] if self.in_channels == 0 else []) + [self.conv0, self.conv1, self.skip]

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None) -> torch.Tensor:
        ref = img if x is None else x
        amp = autocast_dtype(ref.device.type)
        dtype = amp if (amp is not None and self.use_fp16) else torch.float32
        with torch.autocast(ref.device.type, enabled=False):
            if self.in_channels == 0:
                x = self.fromrgb(img.to(dtype))  # [B, C, R, R]
            x = x.to(dtype)
            y = self.skip(x, gain=math.sqrt(0.5))  # [B, C', R/2, R/2]
            x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
            return y + x


class DiscriminatorEpilogue(nn.Module):
    """4x4 features -> minibatch stddev -> conv -> fc -> logit (or projection onto the class embedding)."""

    def __init__(
        self, in_channels, cmap_dim, mbstd_group=4, slope=0.2, conv_clamp=CONV_CLAMP, uncond_head=False
    ):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStd(mbstd_group, 1) if mbstd_group > 0 else None
        self.conv = EqualConv2d(
            in_channels + (1 if self.mbstd else 0),
            in_channels,
            3,
            activation="lrelu",
            slope=slope,
            conv_clamp=conv_clamp,
        )
        self.fc = EqualLinear(in_channels * 16, in_channels, activation="lrelu", slope=slope)
        self.out = EqualLinear(in_channels, cmap_dim or 1)
        # Transitional training: an unconditional logit beside the class projection (projection
        # discriminator of Miyato & Koyama 2018), the projection weighted by the class strength.
        self.out_uncond = EqualLinear(in_channels, 1) if uncond_head and cmap_dim else None

    def forward(
        self, x: torch.Tensor, cmap: torch.Tensor | None, cond_strength: torch.Tensor | None = None
    ) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # float32, as officially
            x = x.float()
            if self.mbstd is not None:
                x = self.mbstd(x)
            x = self.conv(x)  # [B, C, 4, 4]
            h = self.fc(x.flatten(1))
            x = self.out(h)  # [B, cmap_dim or 1]
            if cmap is not None:
                # Projection discriminator: the logit is the (scaled) inner product with the class embedding.
                logit = (x * cmap.float()).sum(dim=1) / math.sqrt(self.cmap_dim)
                if self.out_uncond is not None:
                    logit = self.out_uncond(h).squeeze(1) + cond_strength * logit
                return logit
            return x.squeeze(1)


class Discriminator(FreezableD, nn.Module):
    """images [B, C, R, R] (+ c [B]) -> logits [B] (float32)."""

    def __init__(
        self,
        img_resolution: int,
        img_channels: int,
        num_classes: int = 0,
        channel_base: int = 16384,
        channel_max: int = 512,
        mbstd_group: int = 4,
        mapping_layers: int = 8,  # depth of the class-embedding network (conditional only; official: 8)
        slope: float = 0.2,
        num_fp16_res: int = 4,  # blocks of the N highest resolutions run in reduced precision under autocast
        conv_clamp: float | None = CONV_CLAMP,
        cond_transition: bool = False,  # unconditional logit + class projection x cond_strength
    ):
        super().__init__()
        self.img_resolution, self.img_channels, self.num_classes = img_resolution, img_channels, num_classes
        f = fir_filter()
        resolutions = [2**i for i in range(int(math.log2(img_resolution)), 2, -1)]  # R, ..., 8
        fp16_res = fp16_resolution(img_resolution, num_fp16_res)
        self.blocks = nn.ModuleList()
        for res in resolutions:
            in_ch = channels_at(res, channel_base, channel_max) if res < img_resolution else 0
            tmp_ch = channels_at(res, channel_base, channel_max)
            out_ch = channels_at(res // 2, channel_base, channel_max)
            self.blocks.append(
                DiscriminatorBlock(
                    in_ch,
                    tmp_ch,
                    out_ch,
                    img_channels,
                    f,
                    slope,
                    use_fp16=res >= fp16_res,
                    conv_clamp=conv_clamp,
                )
            )
        c4 = channels_at(4, channel_base, channel_max)
        self.mapping = (
            MappingNetwork(0, num_classes, c4, None, mapping_layers, slope=slope) if num_classes else None
        )
        self.epilogue = DiscriminatorEpilogue(
            c4, c4 if num_classes else 0, mbstd_group, slope, conv_clamp, uncond_head=cond_transition
        )
        if num_classes and cond_transition:
            self.register_buffer("cond_strength", torch.ones([]))

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if img.shape[-1] != self.img_resolution or img.shape[1] != self.img_channels:
            raise ValueError(
                f"D expects [B, {self.img_channels}, {self.img_resolution}, {self.img_resolution}] "
                f"images, got {list(img.shape)}"
            )
        img = _cpu_channels_last(img)
        x = None
        for block in self.blocks:
            x = block(x, img)
        cmap = self.mapping(None, c) if self.mapping is not None else None
        return self.epilogue(x, cmap, getattr(self, "cond_strength", None)).float()

    def set_cond_strength(self, value: float) -> None:
        """Weight of the class projection (transitional training; no effect on other networks)."""
        if hasattr(self, "cond_strength"):
            self.cond_strength.fill_(float(value))

    def freezable_layers(self) -> list[nn.Module]:
        """D's layers from the image side, numbered like the official Freeze-D option (epilogue and
        class embedding are never frozen)."""
        return [layer for block in self.blocks for layer in block.layers()]

    def freeze_blocks(self, n: int) -> None:
        """Freeze the first n blocks (from the image side): all their layers."""
        self.freeze_layers(sum(len(b.layers()) for b in self.blocks[:n]))
