"""Building blocks for the GANs: equalised-learning-rate layers, FIR resampling, minibatch stddev,
StyleGAN2's modulated convolution.

Everything is plain PyTorch (no custom CUDA ops) so it runs, and is reasonably fast, on a CPU.
Equalised learning rate (Karras et al. 2018): parameters are stored at unit scale and multiplied by
their He constant at run time, so Adam's per-parameter step is the same relative size everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale x so the mean of its squares along `dim` is 1 (the latent normalisation of StyleGAN)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


# ----------------------------------------------------------------------------
# FIR resampling. A separable low-pass filter applied as a depthwise convolution:
# cheaper than bilinear interpolation's grid machinery and it has proper anti-aliasing.


def fir_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """2-D separable FIR filter [k, k] from 1-D taps, normalised to sum 1. `k` must be even."""
    if len(taps) % 2:
        raise ValueError("resampling filters must have an even number of taps")
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _depthwise(f: torch.Tensor, channels: int, gain: float, dtype: torch.dtype) -> torch.Tensor:
    # [k, k] -> [C, 1, k, k]: the same filter for every channel (groups=C).
    return (f * gain).to(dtype)[None, None].expand(channels, 1, *f.shape)


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, 2H, 2W]: zero-insertion followed by the filter, as one transposed conv."""
    C, k = x.shape[1], f.shape[-1]
    # Gain 4: zero insertion leaves 1 of 4 samples, the filter must restore the mean.
    return F.conv_transpose2d(x, _depthwise(f, C, 4.0, x.dtype), stride=2, padding=(k - 2) // 2, groups=C)


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, H/2, W/2]: low-pass filter then keep every second sample."""
    C, k = x.shape[1], f.shape[-1]
    return F.conv2d(x, _depthwise(f, C, 1.0, x.dtype), stride=2, padding=(k - 2) // 2, groups=C)


def filter2d(x: torch.Tensor, f: torch.Tensor, padding: int, gain: float = 1.0) -> torch.Tensor:
    """Depthwise FIR filtering with zero padding; output size H + 2 * padding - k + 1."""
    C = x.shape[1]
    return F.conv2d(x, _depthwise(f, C, gain, x.dtype), padding=padding, groups=C)


def conv1x1(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """1x1 conv [B, I, H, W] x [O, I, 1, 1] as a matmul over the channel axis.

    oneDNN's 1x1 convs with few channels (fromRGB/toRGB) are slow on CPU; on channels-last input
    the permutes below are free views and this is one GEMM. The result is a view: do not modify it
    in place (autograd would then copy the whole tensor in backward).
    """
    return F.linear(x.permute(0, 2, 3, 1), w.flatten(1)).permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------
# Activation with the StyleGAN conventions: bias, leaky ReLU scaled by sqrt(2) (keeps the
# activations' second moment), optional clamp (keeps reduced-precision training finite).


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    act: str = "linear",  # "linear" or "lrelu"
    slope: float = 0.2,  # leaky ReLU negative slope
    gain: float = 1.0,  # multiplier after the activation
    clamp: float | None = None,  # clamp reduced-precision (bf16/fp16) outputs to [-clamp, clamp]
    inplace: bool = False,  # x is a fresh conv/linear output no one else needs: skip the copies
) -> torch.Tensor:
    # Elementwise passes over large activations are a good part of the CPU time: with `inplace`
    # each op reuses x's memory, and a gain of 1 is skipped. The gain goes before the leaky ReLU
    # (the same thing, as lrelu(g x) = g lrelu(x) for g > 0) so that the in-place leaky ReLU, whose
    # backward reads its output, is the last op.
    if b is not None:
        b = b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
        x = x.add_(b) if inplace else x + b
    if act == "lrelu":
        gain = gain * math.sqrt(2)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    if abs(gain - 1) > 1e-6:
        x = x.mul_(gain) if inplace else x * gain
    if clamp is not None and x.dtype in (torch.float16, torch.bfloat16):
        # As in the official reduced-precision blocks; in float32 the clamp would be a (nearly
        # always) no-op costing a pass.
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    if act == "lrelu":
        x = F.leaky_relu(x, slope, inplace=inplace)
    return x


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate and an optional learning-rate multiplier."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,  # 0.01 in the mapping network: slows it relative to the rest of G
        activation: str = "linear",
        slope: float = 0.2,
    ):
        super().__init__()
        self.activation, self.slope = activation, slope
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], bias_init / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain if self.bias is not None else None
        if self.activation == "linear":
            return F.linear(x, w, b)
        return bias_act(F.linear(x, w), b, self.activation, self.slope, inplace=True)

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"in={inp}, out={out}, activation={self.activation}"


class EqualConv2d(nn.Module):
    """Conv layer with equalised learning rate; `down=2` low-pass filters before the strided conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        slope: float = 0.2,
        down: int = 1,  # 1 or 2
        resample_filter: torch.Tensor | None = None,  # FIR filter [k, k] used when down=2
        conv_clamp: float | None = None,
    ):
        super().__init__()
        if down not in (1, 2):
            raise ValueError("down must be 1 or 2")
        self.activation, self.slope, self.down, self.conv_clamp = activation, slope, down, conv_clamp
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.register_buffer(
            "resample_filter",
            resample_filter if resample_filter is not None else fir_filter(),
            persistent=False,
        )

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        k = w.shape[-1]
        if k == 1:
            # A 1x1 conv commutes with filtering: downsample first, convolve 4x fewer pixels.
            x = conv1x1(downsample2d(x, self.resample_filter) if self.down == 2 else x, w)
        elif self.down == 1:
            x = F.conv2d(x, w, padding=self.padding)
        else:
            # Filter at full resolution (H -> H + 1 for a 4-tap filter), then a strided valid conv -> H/2.
            fk = self.resample_filter.shape[-1]
            x = filter2d(x, self.resample_filter, padding=fk // 2 + self.padding - 1)
            x = F.conv2d(x, w, stride=2)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        # In place, except on conv1x1's permuted view: autograd would copy the whole base back (CopySlices).
        return bias_act(x, self.bias, self.activation, self.slope, gain=gain, clamp=clamp, inplace=k > 1)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"in={i}, out={o}, kernel={k}, down={self.down}, activation={self.activation}"


class MinibatchStd(nn.Module):
    """Appends the average feature stddev over groups of samples, so D can see a lack of variety."""

    def __init__(self, group_size: int = 4, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        # The largest group size <= the requested one that divides the batch (a last partial batch,
        # or a subset for a lazy regulariser, must not crash).
        G = next(g for g in range(min(self.group_size, B), 0, -1) if B % g == 0)
        Fc = self.num_channels
        y = x.reshape(G, -1, Fc, C // Fc, H, W)  # [G, n, F, c, H, W]: sample i is in group i % n
        y = y - y.mean(dim=0)  # deviation from the group mean
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [n, F, c, H, W] stddev over the group
        y = y.mean(dim=[2, 3, 4])  # [n, F] averaged over channels and pixels
        y = y.reshape(-1, Fc, 1, 1).repeat(G, 1, H, W)  # [B, F, H, W]
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


# ----------------------------------------------------------------------------
# Precision per block and Freeze-D.


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The reduced precision the caller asked for with ``torch.autocast`` (None: autocast is off)."""
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


class FreezableD:
    """Freeze-D (Mo et al. 2020) counted in layers from the image side, like the official
    ``--freezed`` option: frozen layers keep their weights however often ``requires_grad_(True)``
    is called on the whole D (the training loop does before every D step). A mixin for nn.Module
    discriminators that list their layers in :meth:`freezable_layers`."""

    frozen_layers: int = 0

    def freezable_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    def freeze_layers(self, n: int) -> None:
        """Freeze the first n layers (from the image side); n = 0 unfreezes all."""
        if n < 0:
            raise ValueError("the number of frozen layers must be >= 0")
        self.frozen_layers = int(n)
        self.requires_grad_(True)

    def requires_grad_(self, requires_grad: bool = True):
        nn.Module.requires_grad_(self, requires_grad)
        for layer in self.freezable_layers()[: self.frozen_layers]:
            for p in layer.parameters():
                p.requires_grad_(False)
        return self


# ----------------------------------------------------------------------------
# Modulated convolution (StyleGAN2).


def modulated_conv2d(
    x: torch.Tensor,  # [B, I, H, W] input features
    weight: torch.Tensor,  # [O, I, k, k] shared weight
    styles: torch.Tensor,  # [B, I] per-sample scale of each input channel
    demodulate: bool = True,  # normalise each output channel to unit expected variance
    up: int = 1,  # 1 or 2
    resample_filter: torch.Tensor | None = None,  # FIR filter for up=2
    fused: bool = False,  # per-sample weights + one grouped conv, instead of scaling activations (slower on CPU)
    noise: torch.Tensor | None = None,  # [B, 1, H', W'] or [H', W'], added to the output
) -> torch.Tensor:
    B, I, H, W = x.shape
    O, _, k, _ = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so the [B, O, I, k, k] products below cannot overflow float16.
        weight = weight * (1 / math.sqrt(I * k * k) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    # Demodulation coefficients: 1 / ||w * s|| per sample and output channel, in the styles' precision
    # (float32), like the official code, whatever the activations' dtype.
    dcoefs = None
    if demodulate:
        # sum_{i,k} (w_oik s_bi)^2 = (s^2) @ (sum_k w_oik^2)^T, without materialising [B, O, I, k, k].
        dcoefs = (
            styles.square() @ weight.to(styles.dtype).square().sum(dim=[2, 3]).t() + 1e-8
        ).rsqrt()  # [B, O]
        dcoefs = dcoefs.to(x.dtype)
    weight = weight.to(x.dtype)
    styles = styles.to(x.dtype)

    if not fused:
        # Scale activations before and after a conv shared by the whole batch.
        x = x * styles.reshape(B, I, 1, 1)
        x = _conv(x, weight, up, resample_filter, groups=1)
        if dcoefs is not None and noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.reshape(B, O, 1, 1))  # one pass
        if dcoefs is not None:
            x = x * dcoefs.reshape(B, O, 1, 1)
        return x if noise is None else x.add_(noise.to(x.dtype))

    # Fused: per-sample weights, the batch folded into the channel axis of one grouped conv.
    w = weight.unsqueeze(0) * styles.reshape(B, 1, I, 1, 1)  # [B, O, I, k, k]
    if dcoefs is not None:
        w = w * dcoefs.reshape(B, O, 1, 1, 1)
    x = x.reshape(1, B * I, H, W)
    x = _conv(x, w.reshape(B * O, I, k, k), up, resample_filter, groups=B)
    x = x.reshape(B, O, *x.shape[2:])
    return x if noise is None else x.add_(noise.to(x.dtype))


def _conv(x: torch.Tensor, w: torch.Tensor, up: int, f: torch.Tensor | None, groups: int) -> torch.Tensor:
    """'Same' conv with weight [G*O, I, k, k]; up=2 doubles the resolution."""
    k = w.shape[-1]
    if up == 1 and k == 1 and groups == 1:
        return conv1x1(x, w)
    if up == 1:
        return F.conv2d(x, w, padding=k // 2, groups=groups)
    # Transposed stride-2 conv (the conv of the zero-inserted input: 4x fewer MACs than convolving
    # an upsampled map), H -> 2H + k - 2, then the FIR low-pass with gain 4 cropping back to 2H.
    GO, I = w.shape[:2]
    w = w.reshape(groups, GO // groups, I, k, k).transpose(1, 2).reshape(groups * I, GO // groups, k, k)
    x = F.conv_transpose2d(x, w, stride=2, groups=groups)
    fk = f.shape[-1]
    return filter2d(x, f, padding=(fk - 2) // 2 - (k - 3) // 2, gain=4.0)
