"""Transfer learning: start a run from another run's weights, or from an official StyleGAN2-ADA pickle.

The source decides the networks' architecture; this run keeps its own classes. With a conditional
StyleGAN2 source, a class the source has by name starts from its class embedding, and every other
class at random or, on request, from the source class whose samples lie nearest its training images
(``match_classes``). Other tensors whose shape differs start from scratch, and are named.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganaug import checkpoint as ckpt
from ganaug.config import NetworkConfig, TrainConfig
from ganaug.data.imageset import ImageSet
from ganaug.errors import CheckpointError
from ganaug.models import build_generator

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
    cfg: TrainConfig,
    modules: dict[str, nn.Module],
    data: ImageSet,
    log: Callable[[str], None],
) -> None:
    """Load the source's G, D and G_ema into ``modules`` where the shapes match. A conditional
    StyleGAN2's class embeddings follow :func:`match_classes` (``cfg.transfer_classes``) for ``data``,
    the run's training images, whatever the class counts."""
    s = source if isinstance(source, dict) else ckpt.load_snapshot(source)
    ckpt.check_compatible(NetworkConfig.from_dict(s["config"]["network"]), cfg.network)
    match = match_classes(s, data, cfg.seed, nearest=cfg.transfer_classes == "nearest")
    for name, module in modules.items():
        if not s.get(name):
            log(f"transfer: the source has no {name}; it starts from scratch")
            continue
        own = module.state_dict()
        given = {**s[name], **(_class_tensors(s[name], own, match) if match else {})}
        loaded = {k: v for k, v in given.items() if k in own and own[k].shape == v.shape}
        skipped = sorted(set(own) - set(loaded))
        module.load_state_dict(loaded, strict=False)
        if skipped and name != "G_ema":
            log(
                f"transfer: {name}: {len(skipped)} tensors not transferred (shape or class count differs): "
                f"{', '.join(skipped[:5])}{'...' if len(skipped) > 5 else ''}"
            )
    if match:
        log(f"transfer: {describe_match(match, data.class_names, _source_class_names(s))}")


def match_classes(
    s: dict[str, Any], data: ImageSet, seed: int, *, nearest: bool, n: int = 64
) -> list[tuple[int, str] | None] | None:
    """For each class of ``data``, the source class its embedding starts from, and why:
    ``(index, "same name")``; with ``nearest``, for a class the source does not have,
    ``(index, "nearest")``: the source class whose ``n`` samples (G_ema, seed ``seed``) lie nearest
    its images (the smallest mean distance from each of its images, 256 at most, to the nearest
    sample, in pixels at 32 px at most); otherwise None: it starts at random. None when there is
    nothing to match: a source or run that is not a conditional StyleGAN2.

    Matching by name keeps a class from inheriting another's embedding because the two models list
    their classes in another order. On the demo set (16 kimg from builtin:fashion-garments, two GAN
    seeds) starting the demo's classes from their nearest source classes raised precision (0.96
    against 0.88 and 0.81) and lowered FID (11.9 against 13.3, 12.9 against 17.3) but halved recall
    (0.16 against 0.29, 0.11 against 0.31): the fine-tuned classes stayed close to the source's. At
    an equal 6 minutes (seed 0) only the precision gain remained (0.96 against 0.87; FID 11.7 against
    9.2, recall 0.14 against 0.36), so a random start is the default (README).

    ``data`` is at the source's size and channels (as the run trains on it). The global random state
    is left as it was, and every process of a multi-GPU run finds the same match."""
    net = NetworkConfig.from_dict(s["config"]["network"])
    state = s.get("G_ema") or s.get("G")
    if net.arch != "stylegan2" or not net.num_classes or not data.num_classes or not state:
        return None
    by_name = {name: k for k, name in enumerate(_source_class_names(s))}
    match: list[tuple[int, str] | None] = [
        (by_name[c], "same name") if c in by_name else None for c in data.class_names
    ]
    if not nearest or all(match):
        return match
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        G = build_generator(net).eval()  # initialisation draws random numbers too
        G.load_state_dict(state)
        torch.manual_seed(seed)  # the latents and G's per-pixel noise
        fakes = [
            _small(G(torch.randn(n, net.z_dim), torch.full((n,), c, dtype=torch.long)))
            for c in range(net.num_classes)
        ]
    labels = torch.from_numpy(data.labels)
    for j in range(data.num_classes):
        x = data.images[(labels == j).numpy()][:256]
        if match[j] is None and len(x):
            x = _small(torch.from_numpy(x).float().div(127.5).sub(1.0))
            dist = torch.tensor([float(torch.cdist(x, f).min(1).values.mean()) for f in fakes])
            match[j] = (int(dist.argmin()), "nearest")
    return match


def describe_match(match: list[tuple[int, str] | None], names: list[str], source_names: list[str]) -> str:
    """One line: where each class's embedding starts."""
    if not any(match):
        return (
            f"the source has none of this run's classes ({', '.join(source_names)}): their class "
            "embeddings start at random (--transfer-classes nearest: from the nearest source class)"
        )
    starts = [
        f"{n} <- {source_names[m[0]]} ({m[1]})" if m else f"{n}: at random" for n, m in zip(names, match)
    ]
    return "class embeddings start from the source's: " + ", ".join(starts)


def _small(x: torch.Tensor) -> torch.Tensor:
    """Images [N, C, R, R] as vectors at 32 px at most (area averaging)."""
    if x.shape[-1] > 32:
        x = F.adaptive_avg_pool2d(x, 32)
    return x.flatten(1).float()


def _source_class_names(s: dict[str, Any]) -> list[str]:
    k = int(s["config"]["network"]["num_classes"])
    names = list(s.get("class_names") or [])
    return names if len(names) == k else [f"class {i}" for i in range(k)]


def _class_tensors(
    src: dict[str, torch.Tensor], own: dict[str, torch.Tensor], match: list[tuple[int, str] | None]
) -> dict[str, torch.Tensor]:
    """One network's class tensors for this run's classes: the module's own (random) embedding
    column and per-class average w where ``match`` has None, the matched source class's elsewhere
    (its column rescaled: the equalised-lr layer divides by the square root of the class count, so
    the class's embedding equals its source class's)."""
    out = {}
    for key, class_dim in (("mapping.embed.weight", 1), ("mapping.w_avg_class", 0)):
        if key not in src or key not in own:
            continue
        t = own[key].clone().movedim(class_dim, 0)  # [classes, ...], a view of the copy
        theirs = src[key].to(t.device, torch.float32).movedim(class_dim, 0)  # (may be stored in float16)
        if t.shape[1:] != theirs.shape[1:]:
            continue
        gain = math.sqrt(len(t) / len(theirs)) if key == "mapping.embed.weight" else 1.0
        for j, m in enumerate(match):
            if m is not None:
                t[j] = theirs[m[0]] * gain
        out[key] = t.movedim(0, class_dim)
    return out
