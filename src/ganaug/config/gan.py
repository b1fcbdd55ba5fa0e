"""The GAN's configuration: :class:`NetworkConfig` (what rebuilds G and D), :class:`TrainConfig`
(everything a training run needs, saved resolved as ``training_options.json`` in the run folder and
rebuilt from there on resume), the presets (:func:`make_config`) and time budgets (:func:`parse_budget`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ganaug.constants import ARCHS, AUGS, GAN_FITS, LOSSES, PRESETS, TRANSFER_CLASSES
from ganaug.errors import UserError

# Time budgets of GAN training (`--budget`, `[gan] budget`); ganaug.training.budget spends them.
_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|min|m|sec|s)")


def parse_budget(value: str | float | int | None) -> float | None:
    """A time budget in seconds: '15m', '90s', '1h', '1h30m', '2.5min', or a bare number of minutes.

    'off' / 'none' (or None) mean no budget. Anything else raises :class:`UserError`.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise UserError(f"cannot read the time budget {value!r}: use e.g. 15m, 90s, 1h or off")
    if isinstance(value, (int, float)):
        seconds = float(value) * 60.0
    else:
        text = str(value).strip().lower().replace(" ", "")
        if text in ("off", "none", "no"):
            return None
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text) * 60.0
        else:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise UserError(
                    f"cannot read the time budget {value!r}: write a duration such as 15m, 90s, 1h, "
                    "1h30m (a bare number means minutes), or off for none"
                )
    if not math.isfinite(seconds) or seconds <= 0:
        raise UserError(f"the time budget must be positive, got {value!r}")
    return seconds


@dataclass
class NetworkConfig:
    """Architecture of G and D. Rebuilding a model needs only this."""

    arch: Literal["dcgan", "stylegan2", "fastgan"] = "dcgan"
    resolution: int = 64  # square, power of two: 32..256 (512 for stylegan2 on GPU)
    channels: int = 3  # 1 (grayscale) or 3 (RGB)
    num_classes: int = 0  # 0: unconditional; K > 0: one class-conditional model for K classes
    z_dim: int = 100  # latent size
    # DCGAN family (and FastGAN's width: its "ngf"/"ndf", see models/fastgan.py)
    g_channels: int = 64  # "ngf": channels of G's last hidden layer; doubled per lower resolution
    d_channels: int = 64  # "ndf": channels of D's first layer; doubled per lower resolution
    g_batch_norm: bool = True  # batch norm in G
    d_batch_norm: bool = True  # batch norm in D (ignored where spectral norm is on)
    d_spectral_norm: bool = False  # spectral norm on D's weights
    d_dropout: float = 0.0  # dropout after each D block
    leaky_slope: float = 0.2  # LeakyReLU slope in D (and StyleGAN2's lrelu)
    # StyleGAN2 family
    w_dim: int = 512  # intermediate latent size
    mapping_layers: int = 8  # depth of the mapping network
    channel_base: int = 16384  # feature maps at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    mbstd_group: int = 4  # minibatch-stddev group size in D (0 disables)
    d_mapping_layers: int | None = None  # depth of D's class-embedding network (stylegan2 presets: 8, the
    # official cmap); None: mapping_layers
    num_fp16_res: int = (
        4  # with --amp: blocks of the N highest resolutions in bf16, the rest float32 (official: 4)
    )
    conv_clamp: float | None = 256.0  # clamp of reduced-precision conv outputs (official: 256)
    cond_transition: bool = False  # stylegan2, conditional: D has an unconditional logit beside its class
    # projection, and G's class input and D's projection are weighted by a class strength (set by
    # TrainConfig.transition; a trained model generates at strength 1)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise UserError(f"unknown architecture {self.arch!r}; choose from {', '.join(ARCHS)}")
        r = self.resolution
        if r < 16 or r & (r - 1):
            raise UserError(f"GAN resolution must be a power of two >= 16, got {r}")
        if self.arch == "dcgan" and r > 256:
            raise UserError("DCGAN supports resolutions up to 256; use stylegan2 or fastgan for 512")
        if self.arch == "fastgan" and r > 1024:
            raise UserError("FastGAN supports resolutions up to 1024")
        if self.channels not in (1, 3):
            raise UserError(f"channels must be 1 or 3, got {self.channels}")
        check_field_values(self)
        if self.num_classes < 0:
            raise UserError("num_classes must be >= 0")

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkConfig:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        return cls(**d)


@dataclass
class TrainConfig:
    """Options of one GAN training run (see ``ganaug train --help`` for each)."""

    network: NetworkConfig = field(default_factory=NetworkConfig)
    preset: str = "cpu"
    kimg: float = 50.0  # training length, thousands of real images shown to D
    time_limit_s: float | None = None  # the run also stops (with a snapshot) once its training time, resumes
    # included, reaches this many seconds; a time budget sets it (ganaug.training.budget). None: kimg only
    kimg_max: float | None = None  # with time_limit_s: a run still within its time at kimg trains on, up
    # to kimg_max (a budget that shortened the run sets it: the shortened kimg is an estimate). Schedules
    # given as fractions of the run (transition) keep to kimg
    batch_size: int = 64
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: Literal["nonsaturating", "hinge"] = "nonsaturating"
    d_steps: int = 1  # D updates per G update
    label_smoothing: float = 0.0  # one-sided: real target becomes 1 - s (non-saturating loss only)
    r1_gamma: float | None = None  # None: 0.0002 * res^2 / batch for stylegan2, 0 for dcgan
    r1_interval: int = 16  # lazy regularisation: R1 every N D steps
    ema_kimg: float | None = None  # G_ema half-life in kimg; None: batch * 10 / 32
    ema_rampup: float | None = 0.05  # half-life ramps up with cur_nimg * rampup
    style_mixing: float = 0.0  # probability of style mixing (stylegan2; its presets: 0.9 like official)
    mode_seeking: float = 0.0  # weight of MSGAN's mode-seeking term in G's loss (0: off)
    pl_weight: float | None = None  # path-length regularisation weight; None: 2 for stylegan2, 0 for dcgan
    pl_interval: int = 4  # lazy regularisation: PL every N G steps (G's lr and betas adjusted)
    pl_decay: float = 0.01  # decay of the running mean path length
    pl_batch_shrink: int = 2  # PL runs on batch // this
    aug: Literal["ada", "fixed", "diffaug", "none"] = "ada"
    aug_p: float = 0.0  # initial (ada) or constant (fixed) augmentation probability
    ada_target: float = 0.6  # target for sign(D(real)) mean
    ada_kimg: float = 100.0  # ADA speed: p can go 0 -> 1 in this many kimg
    ada_interval: int = 4  # adjust p every N D steps
    ada_per_class: bool = (
        False  # conditional: drive p by the most overfit class (guards a repeated rare class)
    )
    diffaug_policy: str = "color,translation,cutout"
    tick_kimg: float = 2.0  # upkeep (stats line, grids) every this many kimg
    snap: int = 5  # snapshot every N ticks (always one at the end)
    grid_seeds: int = 8  # samples per class in the fake grids
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 mixed precision on CUDA and on CPUs with native bf16 (losses, R1 in fp32)
    channels_last: bool = True  # on CUDA
    compile: bool = False  # torch.compile G and D
    mirror: bool = False  # add x-flipped copies of the training images (doubles a tiny set; flips only)
    multiply: int = 1  # classic-augment x N before training; leaks rotations/crops into G (prefer mirror)
    balanced_sampling: bool = True  # conditional models: every class equally often (rare classes too)
    freeze_d: int = (
        0  # Freeze-D: D's first N layers (from the image side) stay fixed, like official --freezed
    )
    export_channels: int | None = None  # generated images are converted to this many channels (1-channel
    # data trained as RGB from an RGB transfer source); None: the network's
    fit: Literal["auto", "pad", "resize"] = (
        "auto"  # how the data meets the GAN's resolution: "pad" (reflect-pad
    )
    # a smaller image, generated images centre-cropped back: a lossless round trip), "resize"; "auto":
    # pad when the data's side is at least 3/4 of the GAN's (28 -> 32, 224 -> 256), otherwise resize
    crop_to: list[int] | None = None  # set at training start when the data was padded: [H, W] to crop back to
    collapse_window: int = 3  # ticks of D loss ~ 0 with G loss rising before warning
    transition: list[float] | None = None  # [start, end] as fractions of kimg: transitional training
    # (Shahbazi et al. 2022, "Collapse by conditioning"): a conditional stylegan2 trains unconditionally
    # until start, the class strength then rises linearly to 1 at end. None: conditional from the start
    transfer_classes: str = "names"  # fine-tuning a conditional stylegan2: a class the source has (by
    # name) starts from it, the others at random; "nearest": those from the source class whose samples
    # lie nearest their images (pixels; training.transfer.match_classes)

    def __post_init__(self) -> None:
        if isinstance(self.network, dict):
            self.network = NetworkConfig.from_dict(self.network)
        if not isinstance(self.betas, (list, tuple)) or len(self.betas) != 2:
            raise UserError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = tuple(self.betas)
        check_field_values(self)
        if not all(_is_number(b) and 0 <= b < 1 for b in self.betas):
            raise UserError(f"betas must be two numbers in [0, 1), got {list(self.betas)}")
        if self.aug not in AUGS:
            raise UserError(f"unknown augmentation {self.aug!r}; choose from {', '.join(AUGS)}")
        if self.fit not in GAN_FITS:
            raise UserError(f"unknown fit {self.fit!r}; choose from {', '.join(GAN_FITS)}")
        if self.transfer_classes not in TRANSFER_CLASSES:
            raise UserError(
                f"unknown transfer_classes {self.transfer_classes!r}; choose from {', '.join(TRANSFER_CLASSES)}"
            )
        if self.loss not in LOSSES:
            raise UserError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.batch_size < 1 or self.kimg <= 0:
            raise UserError("batch_size must be >= 1 and kimg > 0")
        if self.kimg_max is not None and self.kimg_max < self.kimg:
            raise UserError(f"kimg_max ({self.kimg_max:g}) must be at least kimg ({self.kimg:g})")
        if not 0 <= self.aug_p <= 1:
            raise UserError("aug_p must be within [0, 1]")
        if self.pl_interval < 1 or self.pl_batch_shrink < 1 or self.r1_interval < 1:
            raise UserError("pl_interval, pl_batch_shrink and r1_interval must be >= 1")
        if self.freeze_d < 0:
            raise UserError("freeze_d must be >= 0")
        if self.transition is not None:
            t = self.transition
            if (
                not isinstance(t, (list, tuple))
                or len(t) != 2
                or not all(_is_number(v) for v in t)
                or not 0 <= t[0] <= t[1] <= 1
            ):
                raise UserError(
                    f"transition must be [start, end] fractions of the run with 0 <= start <= end <= 1, got {t!r}"
                )
            if self.network.arch != "stylegan2":
                raise UserError("transitional training (transition) needs the stylegan2 architecture")
            self.transition = [float(v) for v in t]
            if not self.network.cond_transition:  # the networks it needs (a copy: the caller's stays as is)
                self.network = dataclasses.replace(self.network, cond_transition=True)
        if (self.pl_weight or 0) > 0 and self.network.arch != "stylegan2":
            raise UserError("path-length regularisation (pl_weight) needs the stylegan2 architecture")

    @property
    def resolved_r1_gamma(self) -> float:
        if self.r1_gamma is not None:
            return float(self.r1_gamma)
        if self.network.arch == "stylegan2":
            return 0.0002 * self.network.resolution**2 / self.batch_size
        return 0.0

    @property
    def resolved_pl_weight(self) -> float:
        if self.pl_weight is not None:
            return float(self.pl_weight)
        return 2.0 if self.network.arch == "stylegan2" else 0.0

    def cond_strength_at(self, nimg: int) -> float:
        """Class strength of transitional training after ``nimg`` images (1 without a transition)."""
        if self.transition is None:
            return 1.0
        start, end = (f * self.kimg * 1000 for f in self.transition)
        if nimg >= end:
            return 1.0
        return max(0.0, (nimg - start) / (end - start)) if end > start else 0.0

    @property
    def resolved_ema_kimg(self) -> float:
        return float(self.ema_kimg) if self.ema_kimg is not None else self.batch_size * 10 / 32

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Rebuild a saved config. Keys this version does not know are ignored, so snapshots of earlier
        versions still load (e.g. their ``nan_check``: removed because nothing ever read it)."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["network"] = NetworkConfig.from_dict(d.get("network", {}))
        return cls(**d)

    def replace(self, **overrides: Any) -> TrainConfig:
        net_keys = {f.name for f in fields(NetworkConfig)}
        net = dataclasses.replace(self.network, **{k: v for k, v in overrides.items() if k in net_keys})
        rest = {k: v for k, v in overrides.items() if k not in net_keys}
        return dataclasses.replace(self, network=net, **rest)


# Checked for every field: its type (from the annotation), a finite value, and the range below.
_POSITIVE = {
    "kimg",
    "time_limit_s",
    "kimg_max",
    "batch_size",
    "g_lr",
    "d_lr",
    "tick_kimg",
    "snap",
    "d_steps",
    "r1_interval",
    "ada_kimg",
    "ada_interval",
    "multiply",
    "collapse_window",
    "resolution",
    "z_dim",
    "g_channels",
    "d_channels",
    "w_dim",
    "mapping_layers",
    "channel_base",
    "channel_max",
    "grid_seeds",
    "d_mapping_layers",
    "export_channels",
    "pl_interval",
    "pl_batch_shrink",
}
_UNIT = {"aug_p", "ada_target", "style_mixing", "label_smoothing", "d_dropout", "pl_decay"}  # within [0, 1]
_SIGNED = {"seed"}  # any integer


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_field_values(obj: Any) -> None:
    """Refuse a wrong type, NaN/Inf, or an out-of-range number in a config dataclass, naming the field."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        kind = str(f.type).replace(" ", "")
        optional = kind.endswith("|None")
        kind = kind.removesuffix("|None")
        if v is None and optional:
            continue
        if kind == "bool":
            if not isinstance(v, bool):
                raise UserError(f"{f.name} must be true or false, got {v!r}")
        elif kind in ("int", "float"):
            if kind == "int" and not (isinstance(v, int) and not isinstance(v, bool)):
                raise UserError(f"{f.name} must be an integer, got {v!r}")
            if not _is_number(v):
                raise UserError(f"{f.name} must be a finite number, got {v!r}")
            if f.name in _POSITIVE and v <= 0:
                raise UserError(f"{f.name} must be > 0, got {v!r}")
            if f.name in _UNIT and not 0 <= v <= 1:
                raise UserError(f"{f.name} must be within [0, 1], got {v!r}")
            if f.name not in _SIGNED and v < 0:
                raise UserError(f"{f.name} must be >= 0, got {v!r}")
        elif kind == "str" and not isinstance(v, str):
            raise UserError(f"{f.name} must be a string, got {v!r}")


# Preset values per (arch, preset). Resolution, channels and classes come from the data.
_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("dcgan", "tiny"): dict(
        z_dim=16,
        g_channels=8,
        d_channels=8,
        batch_size=8,
        kimg=0.064,
        tick_kimg=0.032,
        snap=1,
        grid_seeds=2,
        amp=False,
    ),
    ("dcgan", "cpu"): dict(
        z_dim=100,
        g_channels=64,
        d_channels=64,
        batch_size=64,
        kimg=100,
        tick_kimg=5,
        snap=4,
        aug="ada",
        ada_kimg=20,
        d_spectral_norm=False,
    ),
    ("dcgan", "gpu"): dict(
        z_dim=100,
        g_channels=128,
        d_channels=128,
        batch_size=128,
        kimg=2000,
        tick_kimg=20,
        snap=10,
        ada_kimg=100,
    ),
    ("stylegan2", "tiny"): dict(
        z_dim=16,
        w_dim=16,
        mapping_layers=2,
        channel_base=256,
        channel_max=16,
        batch_size=8,
        kimg=0.064,
        tick_kimg=0.032,
        snap=1,
        grid_seeds=2,
        g_lr=0.0025,
        d_lr=0.0025,
        betas=(0.0, 0.99),
        r1_interval=4,
        mbstd_group=4,
        amp=False,
    ),
    # cpu: chosen by bench/bench_quality.py on the demo set at an equal 3-minute budget on 2 cores:
    # 64 feature maps up to 16 px (32 at 32 px), no style mixing and no PL reached 11.9 kimg and beat the
    # official-style 4096/128 with mixing 0.9 and PL 2 (4.1 kimg in the same time) on FID (34.7 vs 38.5),
    # precision (0.72 vs 0.43) and coverage (0.17 vs 0.11) vs train, though not on recall (0.036 vs 0.089);
    # DCGAN scored 0 recall and coverage. Width, mixing and PL are options (see the gpu preset).
    # Batch 16 in float32 (bench_quality's sg2-noamp-b16) was tried as the default: at a 6-minute budget on
    # 2 idle cores, two GAN seeds, coverage 0.40/0.48 vs 0.49/0.42, recall 0.056/0.048 vs 0.151/0.061 and
    # FID 20.6/19.8 vs 17.6/20.5 for this preset: no clear winner, so this preset stays.
    ("stylegan2", "cpu"): dict(
        z_dim=128,
        w_dim=128,
        mapping_layers=2,
        channel_base=1024,
        channel_max=64,
        batch_size=32,
        kimg=60,
        tick_kimg=2.5,
        snap=4,
        g_lr=0.0025,
        d_lr=0.0025,
        betas=(0.0, 0.99),
        ema_kimg=2.0,
        ada_kimg=20,
        style_mixing=0.0,
        pl_weight=0.0,
        d_mapping_layers=8,
    ),
    ("stylegan2", "gpu"): dict(
        z_dim=512,
        w_dim=512,
        mapping_layers=8,
        channel_base=16384,
        channel_max=512,
        batch_size=32,
        kimg=5000,
        tick_kimg=4,
        snap=50,
        g_lr=0.0025,
        d_lr=0.0025,
        betas=(0.0, 0.99),
        style_mixing=0.9,
        ada_kimg=500,
        d_mapping_layers=8,
    ),
    # FastGAN (Liu et al. 2021): hinge loss, DiffAugment color+translation, Adam(2e-4, 0.5, 0.999).
    ("fastgan", "tiny"): dict(
        z_dim=16,
        g_channels=2,
        d_channels=4,
        batch_size=8,
        kimg=0.064,
        tick_kimg=0.032,
        snap=1,
        grid_seeds=2,
        amp=False,
        loss="hinge",
        aug="diffaug",
        diffaug_policy="color,translation",
        betas=(0.5, 0.999),
    ),
    ("fastgan", "cpu"): dict(
        z_dim=128,
        g_channels=8,
        d_channels=12,
        batch_size=16,
        kimg=60,
        tick_kimg=2,
        snap=5,
        loss="hinge",
        aug="diffaug",
        diffaug_policy="color,translation",
        betas=(0.5, 0.999),
        ema_kimg=2.0,
    ),
    ("fastgan", "gpu"): dict(
        z_dim=256,
        g_channels=64,
        d_channels=64,
        batch_size=8,
        kimg=400,
        tick_kimg=4,
        snap=25,
        loss="hinge",
        aug="diffaug",
        diffaug_policy="color,translation",
        betas=(0.5, 0.999),
        ema_kimg=5.0,
    ),
}


def make_config(
    arch: str = "dcgan",
    preset: str = "cpu",
    *,
    resolution: int = 64,
    channels: int = 3,
    num_classes: int = 0,
    **overrides: Any,
) -> TrainConfig:
    """A :class:`TrainConfig` from a preset, the data's shape, and overrides (None values ignored)."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    if arch not in ARCHS:
        raise UserError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}")
    values = dict(_PRESETS[(arch, preset)])
    values.update({k: v for k, v in overrides.items() if v is not None})
    net_keys = {f.name for f in fields(NetworkConfig)}
    unknown = set(values) - net_keys - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise UserError(f"unknown option(s): {', '.join(sorted(unknown))}")
    net = NetworkConfig(
        arch=arch,
        resolution=resolution,
        channels=channels,
        num_classes=num_classes,
        **{k: v for k, v in values.items() if k in net_keys and k not in ("arch",)},
    )
    rest = {k: v for k, v in values.items() if k not in net_keys}
    return TrainConfig(network=net, preset=preset, **rest)
