"""Network builders: a NetworkConfig in, a G or D out (see docs/DESIGN.md, "Network contract").

Each constructor receives the ``NetworkConfig`` fields it takes, matched by name: the networks
use the field's name, or the conventional one listed in ``_G_NAMES`` / ``_D_NAMES`` (``ngf``,
``img_resolution``...). A new option is a config field plus a constructor argument, nothing here.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from torch import nn

from ganaug.config import NetworkConfig
from ganaug.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganaug.models.fastgan import FastGANDiscriminator, FastGANGenerator
from ganaug.models.stylegan2 import Discriminator, Generator

GENERATORS: dict[str, type[nn.Module]] = {
    "dcgan": DCGANGenerator,
    "stylegan2": Generator,
    "fastgan": FastGANGenerator,
}
DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "dcgan": DCGANDiscriminator,
    "stylegan2": Discriminator,
    "fastgan": FastGANDiscriminator,
}

# NetworkConfig field -> constructor argument, where the names differ.
_COMMON_NAMES = {"resolution": "img_resolution", "channels": "img_channels", "leaky_slope": "slope"}
_G_NAMES = {**_COMMON_NAMES, "g_channels": "ngf", "g_batch_norm": "batch_norm"}
_D_NAMES = {
    **_COMMON_NAMES,
    "d_channels": "ndf",
    "d_batch_norm": "batch_norm",
    "d_spectral_norm": "spectral",
    "d_dropout": "dropout",
}


def _build(
    classes: dict[str, type[nn.Module]], net_cfg: NetworkConfig, names: dict[str, str], **extra: Any
) -> nn.Module:
    if net_cfg.arch not in classes:
        raise ValueError(f"unknown architecture {net_cfg.arch!r}")
    cls = classes[net_cfg.arch]
    accepted = inspect.signature(cls).parameters
    values = {names.get(f.name, f.name): getattr(net_cfg, f.name) for f in dataclasses.fields(net_cfg)}
    values.update(extra)
    return cls(**{k: v for k, v in values.items() if k in accepted})


def build_generator(net_cfg: NetworkConfig) -> nn.Module:
    """G(z, c=None, truncation_psi=1.0, noise_mode="random") -> [B, C, R, R]."""
    return _build(GENERATORS, net_cfg, _G_NAMES)


def build_discriminator(net_cfg: NetworkConfig) -> nn.Module:
    """D(img, c=None) -> logits [B] (float32); D.freeze_layers(n) (Freeze-D), D.freeze_blocks(n)."""
    # D's class-embedding network has its own depth when given (stylegan2 presets: 8, the official cmap).
    return _build(
        DISCRIMINATORS, net_cfg, _D_NAMES, mapping_layers=net_cfg.d_mapping_layers or net_cfg.mapping_layers
    )


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with requires_grad when `trainable_only`)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


__all__ = ["build_discriminator", "build_generator", "count_parameters"]
