"""Images per class from fixed seeds: :func:`generate` (a run folder or snapshot -> a
:class:`GenerateResult`) and :func:`synthesize` (a loaded G -> uint8 images).

An image is a pure function of (snapshot, class, seed, truncation): its z comes from
``torch.Generator().manual_seed(seed)`` and its StyleGAN2 noise from a generator seeded from the
same seed (random per image, not one constant noise image stamped on every fake), so the same
seed gives the same image on the same device, whatever the batch it was generated in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ganaug.checkpoint import load_generator
from ganaug.data.imageset import ImageSet
from ganaug.data.preprocess import center_crop_array, convert_channels
from ganaug.errors import UserError
from ganaug.generation.export import export
from ganaug.generation.result import GenerateResult
from ganaug.utils import (
    resolve_device,
)


def parse_seeds(spec: str | Sequence[int] | None, n: int | None = None) -> list[int]:
    """'0-499', '1,5,9', '0-9,20-29' or a list of non-negative seeds; or range(n). Not both."""
    if spec is None or spec == "":
        if n is None:
            raise UserError("give --n or --seeds")
        if n > 0:
            _check_seed_range(0, n - 1)
        return list(range(n))
    if n is not None:
        raise UserError("give --n or --seeds, not both (--n N means seeds 0..N-1)")
    if not isinstance(spec, str):
        seeds = [int(s) for s in spec]
    else:
        seeds = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if "-" in part:
                    a, b = part.split("-", 1)
                    lo, hi = int(a), int(b)
                    if hi < lo:
                        raise UserError(f"seed range {part!r} is empty: write it low-high, e.g. 0-499")
                    _check_seed_range(lo, hi, len(seeds))
                    seeds.extend(range(lo, hi + 1))
                else:
                    seeds.append(int(part))
            except ValueError:
                raise UserError(
                    f"cannot read seeds {spec!r}: use non-negative seeds like 0-499 or 1,5,9"
                ) from None
    if not seeds:
        raise UserError(f"no seeds in {spec!r}")
    _check_seed_range(min(seeds), max(seeds), len(seeds) - 1)
    return seeds


MAX_SEED = 2**32 - 1  # as StyleGAN: seeds are 32-bit
MAX_SEEDS = 10_000_000  # images per class in one call


def _check_seed_range(lo: int, hi: int, already: int = 0) -> None:
    if lo < 0:
        raise UserError("seeds must be >= 0")
    if hi > MAX_SEED:
        raise UserError(f"seed {hi} is too large: seeds go from 0 to {MAX_SEED}")
    if hi - lo + 1 + already > MAX_SEEDS:
        raise UserError(
            f"{hi - lo + 1 + already} seeds per class is too many for one call (at most {MAX_SEEDS})"
        )


def _latents(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


_NOISE_SEED_OFFSET = 2**62  # the noise stream of seed s must not be the z stream of any other seed


def _noise_kwargs(G: torch.nn.Module, seeds: Sequence[int]) -> dict:
    """StyleGAN2: per-image random noise from the image's seed. (Constant noise adds the same noise
    image to every fake: a shared texture that measurably lowers recall, e.g. 0.09 -> 0.006 on the demo.)"""
    if not hasattr(G, "synthesis"):
        return {}
    return {
        "noise_mode": "random",
        "noise_generators": [torch.Generator().manual_seed(int(s) + _NOISE_SEED_OFFSET) for s in seeds],
    }


@torch.no_grad()
def synthesize(
    G: torch.nn.Module,
    seeds: Sequence[int],
    label: int | None,
    *,
    truncation: float = 1.0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress=None,
) -> np.ndarray:
    """uint8 N x C x H x W images for ``seeds`` of class ``label`` (None: unconditional)."""
    device = torch.device(device)
    out = []
    for i in range(0, len(seeds), batch_size):
        chunk = seeds[i : i + batch_size]
        z = _latents(chunk, G.z_dim).to(device)
        c = (
            torch.full((len(chunk),), int(label), dtype=torch.long, device=device)
            if label is not None
            else None
        )
        x = G(z, c, truncation_psi=truncation, **_noise_kwargs(G, chunk)).float()
        out.append((x * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy())
        if progress is not None:
            progress.update(len(chunk))
    if not out:
        return np.zeros((0, G.img_channels, G.img_resolution, G.img_resolution), np.uint8)
    return np.concatenate(out)


def _resolve_classes(
    classes: str | Sequence[str] | None, names: list[str], conditional: bool
) -> list[int | None]:
    want = None if classes in (None, "all") else ([classes] if isinstance(classes, str) else list(classes))
    for w in want or []:
        if w not in names:
            raise UserError(f"unknown class {w!r}; this run knows: {', '.join(names)}")
    if not conditional:
        return [None]
    return list(range(len(names))) if want is None else [names.index(w) for w in want]


def generate(
    run: str | Path,
    *,
    n: int | None = None,
    classes: str | Sequence[str] | None = "all",
    seeds: str | Sequence[int] | None = None,
    truncation: float = 1.0,
    out: str | Path | None = None,
    formats: Iterable[str] = ("folder",),
    batch_size: int = 64,
    device: str = "auto",
    progress: bool = True,
    class_counts: dict[str, int] | None = None,
    overwrite: bool = False,
) -> GenerateResult:
    """Generate images from a run folder or snapshot.

    One image per seed and class (``--n N`` means seeds 0..N-1). ``class_counts`` instead asks
    for an exact count per class (seeds 0..count-1 of each). ``formats``: any of "folder"
    (class folders of PNGs with a provenance text chunk), "zip" (StyleGAN dataset zip), "npz".
    Every export writes ``manifest.csv`` with one provenance row per image; an ``out`` folder
    that already holds an export is refused unless ``overwrite`` (its listed files are replaced).
    """
    dev = resolve_device(device)
    G, info = load_generator(run, device=dev)
    names = info["class_names"] or ["synthetic"]
    conditional = getattr(G, "num_classes", 0) > 0
    # An unconditional model trained on several classes draws from their mixture: its images
    # belong to no single class and are labelled "all", never silently as the first class.
    out_names = names if conditional or len(names) == 1 else ["all"]
    if class_counts is not None:
        plan = [
            (names.index(k) if conditional else None, parse_seeds(None, v))
            for k, v in class_counts.items()
            if v > 0
        ]
        for k in class_counts:
            if k not in names:
                raise UserError(f"unknown class {k!r}; this run knows: {', '.join(names)}")
    else:
        seed_list = parse_seeds(seeds, n)
        plan = [(c, seed_list) for c in _resolve_classes(classes, names, conditional)]
    total = sum(len(s) for _, s in plan)
    images, labels, all_seeds, paths = [], [], [], []
    with tqdm(total=total, desc="generate", unit="img", disable=not progress, leave=False) as bar:
        for label, seed_list in plan:
            x = synthesize(
                G, seed_list, label, truncation=truncation, batch_size=batch_size, device=dev, progress=bar
            )
            if info["config"].crop_to:  # the data was padded to the GAN's size (config.fit): crop back
                x = center_crop_array(x, info["config"].crop_to)
            if info["config"].export_channels:  # 1-channel data trained as RGB (transfer from an RGB model)
                x = convert_channels(x, info["config"].export_channels)
            lab = 0 if label is None else label
            images.append(x)
            labels.extend([lab] * len(x))
            all_seeds.extend(seed_list)
            paths.extend(f"synthetic:{out_names[lab]}/seed{s:06d}" for s in seed_list)
    imgs = (
        np.concatenate(images)
        if images
        else np.zeros((0, G.img_channels, G.img_resolution, G.img_resolution), np.uint8)
    )
    result = GenerateResult(
        images=ImageSet(imgs, np.asarray(labels, np.int64), out_names, paths),
        seeds=np.asarray(all_seeds, np.int64),
        snapshot=info["path"],
        kimg=info["cur_nimg"] / 1000,
        truncation=truncation,
    )
    if out is not None:
        export(result, out, formats=formats, overwrite=overwrite)
    return result
