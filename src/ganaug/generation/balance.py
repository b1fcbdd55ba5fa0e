"""Class balancing: how many synthetic images each class needs (:func:`balance_plan`), and
:func:`balance`, which generates them (optionally keeping only those a classifier trained on the
real images recognises) and exports them next to the real ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganaug.checkpoint import load_generator
from ganaug.classify import fit_classifier, predict_proba
from ganaug.data.imageset import ImageSet
from ganaug.data.prepared import is_prepared, load_prepared
from ganaug.data.preprocess import resize_imageset
from ganaug.errors import UserError
from ganaug.generation.export import export
from ganaug.generation.result import GenerateResult
from ganaug.generation.sampling import synthesize
from ganaug.models.classifier import Classifier
from ganaug.utils import (
    resolve_device,
)

# ----------------------------------------------------------------------------
# Balancing


def balance_plan(counts: dict[str, int], target: str | float = "max") -> dict[str, int]:
    """How many synthetic images each class needs.

    ``target``: "max" (fill up to the majority count), an int (every class up to that count),
    or a float ratio r in (0, 1] (every class up to r x the majority count).
    """
    majority = max(counts.values()) if counts else 0
    if target == "max" or target is None:
        goal = majority
    elif isinstance(target, float) or (isinstance(target, str) and "." in target):
        r = float(target)
        if not 0 < r <= 1:
            raise UserError("a ratio target must be in (0, 1]")
        goal = int(round(r * majority))
    else:
        goal = int(target)
        if goal < 1:
            raise UserError("the target count must be >= 1")
    return {k: max(goal - v, 0) for k, v in counts.items()}


@dataclass
class BalanceResult:
    out: Path
    real_counts: dict[str, int]
    synthetic_counts: dict[str, int]
    dropped: dict[str, int]
    dataset: ImageSet

    def __repr__(self) -> str:
        rows = ", ".join(
            f"{k}: {self.real_counts[k]}+{self.synthetic_counts.get(k, 0)}" for k in self.real_counts
        )
        return f"BalanceResult(out={str(self.out)!r}, real+synthetic per class: {rows})"


def balance(
    data: Any,
    run: str | Path,
    *,
    out: str | Path,
    target: str | float = "max",
    truncation: float = 1.0,
    formats: Iterable[str] = ("folder",),
    quality_filter: bool = False,
    min_confidence: float = 0.5,
    device: str = "auto",
    progress: bool = True,
    seed_offset: int = 0,
    overwrite: bool = False,
) -> BalanceResult:
    """Fill every class of the training data up to ``target`` with synthetic images.

    ``data``: a prepared folder (its train split) or an ImageSet. The written dataset mixes real and
    synthetic images, both listed in ``manifest.csv``. Synthetic images are resized to the real
    images' size and channels. With ``quality_filter`` a classifier trained on the real training
    split (selected on the validation split) rejects synthetic images it assigns to another
    class or with confidence below ``min_confidence``; more seeds are drawn to replace them.
    """
    train, val = _train_val(data)
    need = balance_plan(train.counts(), target)
    dev = resolve_device(device)
    G, info = load_generator(run, device=dev)
    conditional = getattr(G, "num_classes", 0) > 0
    _check_run_classes(info["class_names"], conditional, train, need)

    clf = None
    if quality_filter:
        if val is None:
            raise UserError("the quality filter needs a validation split: pass a prepared folder")
        clf = fit_classifier(train, val, seed=0, device=device, progress=progress).model

    parts_img, parts_lab, parts_seed, dropped = [], [], [], {}
    for cls, count in need.items():
        if count == 0:
            continue
        k = train.class_index(cls)
        accepted, acc_seeds, dropped[cls] = _draw_class(
            G,
            train,
            k,
            count,
            conditional=conditional,
            clf=clf,
            min_confidence=min_confidence,
            truncation=truncation,
            seed_offset=seed_offset,
            dev=dev,
        )
        parts_img.append(np.stack(accepted))
        parts_lab.extend([k] * len(accepted))
        parts_seed.extend(acc_seeds)

    if parts_img:
        syn_imgs = np.concatenate(parts_img)
    else:
        syn_imgs = np.zeros((0,) + train.images.shape[1:], np.uint8)
    syn = ImageSet(
        syn_imgs,
        np.asarray(parts_lab, np.int64),
        train.class_names,
        [f"synthetic:{train.class_names[k]}/seed{s:06d}" for k, s in zip(parts_lab, parts_seed)],
    )
    gen = GenerateResult(
        syn,
        np.asarray(parts_seed, np.int64),
        info["path"],
        info["cur_nimg"] / 1000,
        truncation,
        dropped=dropped,
    )
    out = export(gen, out, formats=formats, real=train, overwrite=overwrite)
    return BalanceResult(out, train.counts(), syn.counts(), dropped, ImageSet.concat([train, syn]))


def _check_run_classes(names: list[str], conditional: bool, train: ImageSet, need: dict[str, int]) -> None:
    """Refuse a run whose classes cannot fill the classes that need images."""
    if conditional and names != train.class_names:
        raise UserError(f"the run was trained on classes {names}, the data has {train.class_names}")
    if not conditional:
        wanted = [k for k, v in need.items() if v]
        if len(names) != 1:
            raise UserError(
                f"this unconditional run was trained on a mixture of {names}: its images have no "
                "class. Train a conditional model, or one run per class (--class NAME --unconditional)"
            )
        if wanted and wanted != names:
            raise UserError(
                f"this run was trained on class {names[0]!r} only, but {', '.join(wanted)} need "
                "images; balance with a conditional run or with one run per class"
            )


def _draw_class(
    G: torch.nn.Module,
    train: ImageSet,
    k: int,  # class index in train
    count: int,  # images wanted
    *,
    conditional: bool,
    clf: Classifier | None,  # the quality filter, or None to accept every image
    min_confidence: float,
    truncation: float,
    seed_offset: int,
    dev: torch.device,
) -> tuple[list[np.ndarray], list[int], int]:
    """``count`` images of class ``k`` at the real images' size and channels, from consecutive seeds
    starting at ``seed_offset``: the accepted images, their seeds and how many were rejected. With
    a filter, seeds are drawn in batches of at least 16 (twice what is missing) until enough pass."""
    label = k if conditional else None
    accepted: list[np.ndarray] = []
    acc_seeds: list[int] = []
    next_seed = seed_offset
    rejected = 0
    while len(acc_seeds) < count:
        want = count - len(acc_seeds)
        batch_seeds = list(range(next_seed, next_seed + (want if clf is None else max(2 * want, 16))))
        next_seed = batch_seeds[-1] + 1
        x = synthesize(G, batch_seeds, label, truncation=truncation, device=dev)
        x = resize_imageset(
            ImageSet(x, np.full(len(x), k), train.class_names), train.resolution, channels=train.channels
        ).images
        keep = np.ones(len(x), bool)
        if clf is not None:
            proba = predict_proba(clf, x, device=dev)
            keep = (proba.argmax(1) == k) & (proba[:, k] >= min_confidence)
            rejected += int((~keep).sum())
        for i in np.flatnonzero(keep)[: count - len(acc_seeds)]:
            accepted.append(x[i])
            acc_seeds.append(batch_seeds[i])
        if next_seed - seed_offset > 50 * count + 1000:
            raise UserError(
                f"quality filter: only {len(acc_seeds)} of {count} '{train.class_names[k]}' images "
                f"passed after {next_seed - seed_offset} tries; lower --min-confidence or train longer"
            )
    return accepted, acc_seeds, rejected


def _train_val(data: Any) -> tuple[ImageSet, ImageSet | None]:
    if isinstance(data, ImageSet):
        return data, None
    path = Path(data)
    if is_prepared(path):
        p = load_prepared(path)
        return p.train, p.val
    raise UserError(
        f"{data} is not a prepared dataset folder: run `ganaug prepare {data} --out DIR` first, "
        "so the test split stays out of the augmented training set"
    )
