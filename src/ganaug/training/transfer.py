"""Transfer learning: start a run from another run's weights, or from an official StyleGAN2-ADA pickle.

The source decides the networks' architecture; this run keeps its own classes. Tensors whose
shape differs (a class embedding for another class count) start from scratch, and are named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from ganaug import checkpoint as ckpt
from ganaug.config import NetworkConfig, TrainConfig
from ganaug.errors import CheckpointError

# Fine-tuning a pretrained StyleGAN2 on a few images contracts its samples: on the demo set (6 minutes
# on 2 cores from builtin:fashion-garments, bench/bench_quality.py, trained features vs the training
# split) MSGAN's mode-seeking term at 0.1 raised recall from 0.26 to 0.37 (GAN seed 0) and from 0.16 to
# 0.33 (seed 1), coverage 0.68 -> 0.73 and 0.67 -> 0.72, the rare class's coverage 0.62 -> 0.66 and
# 0.56 -> 0.70; downstream both were level with oversampling. From scratch it did not help (README).
TRANSFER_MODE_SEEKING = 0.1


def transfer_config(config: TrainConfig, src: NetworkConfig, overrides: dict | None) -> TrainConfig:
    """The run's config when starting from ``src``: its architecture, this run's classes, the data at
    the source's size, RGB for 1-channel data from an RGB source. ``overrides``: the options given
    with a preset-made config (ADA speed <= 100 kimg, no EMA ramp-up, StyleGAN2's mode-seeking term at
    :data:`TRANSFER_MODE_SEEKING`, unless given); None: a full config, used as it is."""
    net = config.network
    if net.arch != src.arch:
        raise CheckpointError(
            f"cannot transfer: the source snapshot has arch={src.arch!r} but this run is "
            f"arch={net.arch!r}; leave --arch out (it follows the source)"
        )
    if net.resolution != src.resolution:
        r, s = net.resolution, src.resolution
        raise CheckpointError(
            f"cannot transfer: the source makes {s}x{s} images but this run trains at {r}x{r}. "
            f"Pass --resolution {s} (resolution={s}) to resize the data to the source's size, "
            f"or transfer from a {r}x{r} snapshot"
        )
    export_channels = config.export_channels
    if net.channels != src.channels:
        if src.channels == 1:
            raise CheckpointError(
                "cannot transfer: the source is a grayscale (1-channel) model and this run is "
                "RGB; pass --channels 1 to train on the data in grayscale"
            )
        export_channels = net.channels  # 1-channel data, trained as RGB; images converted back at export
    new = dataclasses.replace(src, num_classes=net.num_classes)
    config = dataclasses.replace(config, network=new, export_channels=export_channels)
    if overrides is not None:
        if overrides.get("ada_kimg") is None:
            config = config.replace(ada_kimg=min(config.ada_kimg, 100.0))
        if "ema_rampup" not in overrides:
            config = config.replace(ema_rampup=None)
        if overrides.get("mode_seeking") is None and new.arch == "stylegan2":
            config = config.replace(mode_seeking=TRANSFER_MODE_SEEKING)
    return config


def load_transfer(
    source: str | Path | dict[str, Any],
    net: NetworkConfig,
    modules: dict[str, nn.Module],
    log: Callable[[str], None],
) -> None:
    """Load the source's G, D and G_ema into ``modules`` where the shapes match."""
    s = source if isinstance(source, dict) else ckpt.load_snapshot(source)
    ckpt.check_compatible(NetworkConfig.from_dict(s["config"]["network"]), net)
    for name, module in modules.items():
        if not s.get(name):
            log(f"transfer: the source has no {name}; it starts from scratch")
            continue
        own = module.state_dict()
        loaded = {k: v for k, v in s[name].items() if k in own and own[k].shape == v.shape}
        skipped = sorted(set(own) - set(loaded))
        module.load_state_dict(loaded, strict=False)
        if skipped and name != "G_ema":
            log(
                f"transfer: {name}: {len(skipped)} tensors not transferred (shape or class count differs): "
                f"{', '.join(skipped[:5])}{'...' if len(skipped) > 5 else ''}"
            )
