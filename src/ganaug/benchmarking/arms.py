"""Arm planning: which training sets a benchmark compares, and how each is built.

Arms
----
- ``real``: the real training split alone (= synthetic fraction 0; always run, it is the reference).
- ``synth<P>`` for each fraction f > 0 (P = 100 f): real + round(f x |train|) synthetic images.
- ``oversample_at<P>``: the control of the primary comparison: real + exactly as many extra images per
  class as ``synth<P>`` adds, drawn by random oversampling of the real images of that class (with
  replacement, seeded per (seed, class)). Run for the fraction chosen on validation only.
- baselines: ``classic`` (classic augmentation on the fly), ``oversample`` (imblearn's
  ``RandomOverSampler``: every class up to the largest), ``weighted`` (real images, cross-entropy
  weighted by n / (K x class count)), ``balanced_sampling`` (real images, batches drawn with every
  class equally likely), ``smote`` (imblearn's ``SMOTE`` on flattened pixels up to the largest
  class, ``k_neighbors = min(5, rarest class - 1)``; skipped when a class has a single image),
  ``synthetic_only`` (|train| synthetic images and no real one).

How synthetic images are drawn (``balance``)
--------------------------------------------
With budget B = round(f x |train|) and real counts r_c:

- ``"keep"``: s_c proportional to r_c (largest-remainder rounding, ties to the lower class index).
- ``"fix"``: water-filling: each synthetic image goes, one at a time, to the class whose total
  r_c + s_c is currently smallest (ties: fewer real images first, then lower class index).

For each seed and class the synthetic pool of that class is shuffled once (``numpy`` generator
seeded with (seed, class)) and an arm takes the first s_c images: draws are without replacement,
deterministic per seed, and nested (the 25 % images are part of the 50 % ones). A pool too small
for the largest arm is a :class:`UserError` raised before training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganaug.constants import BALANCE
from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.data.preprocess import resize_imageset
from ganaug.errors import UserError

LABELS = {
    "classic": "real + classic augmentation",
    "oversample": "random oversampling",
    "weighted": "class-weighted loss",
    "balanced_sampling": "class-balanced sampling",
    "smote": "SMOTE",
    "synthetic_only": "synthetic only",
}
# Arms a "best baseline" is chosen from (on validation): ways of using the real images only.
BASELINE_KINDS = ("classic", "oversample", "weighted", "balanced_sampling", "smote")


@dataclass(frozen=True)
class Arm:
    name: str  # file-safe id: real, synth25, oversample_at25, classic, oversample, ...
    kind: str  # real | mix | oversample_matched | classic | oversample | weighted | balanced_sampling | smote | synthetic_only
    fraction: float = 0.0  # synthetic images added (mix), or matched (oversample_matched), x |train|
    label: str = ""  # for tables and plots

    @property
    def uses_synthetic(self) -> bool:
        return self.kind in ("mix", "synthetic_only")

    @property
    def is_baseline(self) -> bool:
        return self.kind in BASELINE_KINDS

    def fit_options(self) -> dict[str, Any]:
        """What this arm changes in ``fit_classifier`` (the training set aside)."""
        return {
            "augment": self.kind == "classic",
            "class_weight": "balanced" if self.kind == "weighted" else None,
            "sampler": "balanced" if self.kind == "balanced_sampling" else "shuffle",
        }


def pct(f: float) -> str:
    """A fraction as the percent in arm names and labels: 0.25 -> '25'."""
    return f"{f * 100:g}"


def plan_arms(fractions: Sequence[float], baselines: Sequence[str], has_synthetic: bool) -> list[Arm]:
    """The arms run first, in table order: real, synthetic fractions, baselines (the matched
    oversampling arm is added once the fraction is chosen on validation: :func:`matched_arm`)."""
    arms = [Arm("real", "real", 0.0, "real only")]
    if has_synthetic:
        for f in sorted({float(f) for f in fractions if f > 0}):
            arms.append(Arm(f"synth{pct(f)}", "mix", f, f"real + {pct(f)} % synthetic"))
    for b in baselines:
        if b == "synthetic_only" and not has_synthetic:
            continue
        arms.append(Arm(b, b, 1.0 if b == "synthetic_only" else 0.0, LABELS[b]))
    return arms


def matched_arm(gan_arm: Arm) -> Arm:
    """Random oversampling with the same number of extra images per class as ``gan_arm``."""
    p = pct(gan_arm.fraction)
    return Arm(
        f"oversample_at{p}",
        "oversample_matched",
        gan_arm.fraction,
        f"random oversampling, same images per class as {p} % synthetic",
    )


def allocate_synthetic(real_counts: Sequence[int], budget: int, balance: str) -> np.ndarray:
    """Synthetic images per class for a budget, by the ``keep`` or ``fix`` rule (module docstring)."""
    r = np.asarray(real_counts, dtype=np.int64)
    K = len(r)
    s = np.zeros(K, dtype=np.int64)
    if budget <= 0 or K == 0:
        return s
    if balance == "keep":
        total = int(r.sum())
        quota = budget * (r / total) if total else np.full(K, budget / K)
        s = np.floor(quota).astype(np.int64)
        order = sorted(range(K), key=lambda c: (-(quota[c] - s[c]), c))
        s[order[: budget - int(s.sum())]] += 1
        return s
    if balance != "fix":
        raise UserError(f"balance must be one of {', '.join(BALANCE)}, got {balance!r}")
    # Water-filling: the highest level L with sum(max(0, L - r)) <= budget, then one more image
    # for the first classes at that level (fewest real images first).
    lo, hi = int(r.min()), int(r.max()) + budget
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.maximum(0, mid - r).sum()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    s = np.maximum(0, lo - r)
    at_level = sorted((c for c in range(K) if r[c] <= lo), key=lambda c: (r[c], c))
    s[at_level[: budget - int(s.sum())]] += 1
    return s


def _budget(fraction: float, n: int) -> int:
    return math.floor(fraction * n + 0.5)


def synthetic_counts(arm: Arm, real_counts: Sequence[int], balance: str) -> np.ndarray:
    """Extra images per class that ``arm`` adds: synthetic ones (mix, synthetic_only) or, for the
    matched oversampling arm, oversampled real ones in the same numbers as the mix arm."""
    r = np.asarray(real_counts, dtype=np.int64)
    if arm.kind in ("mix", "oversample_matched"):
        return allocate_synthetic(r, _budget(arm.fraction, int(r.sum())), balance)
    if arm.kind == "synthetic_only":
        # |train| images: the real proportions ("keep") or an even split ("fix").
        return allocate_synthetic(r if balance == "keep" else np.zeros_like(r), int(r.sum()), balance)
    return np.zeros(len(r), dtype=np.int64)


def _draw_synthetic(syn: ImageSet, counts: np.ndarray, seed: int) -> ImageSet:
    """The first counts[c] images of class c's pool after a per-(seed, class) shuffle."""
    idx = []
    for c, k in enumerate(counts):
        if k == 0:
            continue
        pool = np.flatnonzero(syn.labels == c)
        perm = np.random.default_rng([int(seed), c, 0x5E7]).permutation(len(pool))
        idx.append(pool[perm[:k]])
    return syn.subset(np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64))


def arm_train_set(arm: Arm, seed: int, train: ImageSet, synthetic: ImageSet | None, balance: str) -> ImageSet:
    """The training set of ``arm`` for ``seed``, from the real training split and the synthetic pool
    (val and test never enter it)."""
    if arm.kind in ("real", "classic", "weighted", "balanced_sampling"):
        return train
    real_counts = np.bincount(train.labels, minlength=train.num_classes)
    if arm.uses_synthetic:
        if synthetic is None:
            raise ValueError(f"arm {arm.name!r} needs synthetic images")
        syn = _draw_synthetic(synthetic, synthetic_counts(arm, real_counts, balance), seed)
        return syn if arm.kind == "synthetic_only" else ImageSet.concat([train, syn])
    if arm.kind == "oversample_matched":
        extra = []
        for c, k in enumerate(synthetic_counts(arm, real_counts, balance)):
            if k:
                pool = np.flatnonzero(train.labels == c)
                extra.append(
                    np.random.default_rng([int(seed), c, 0x0F5]).choice(pool, size=int(k), replace=True)
                )
        return train.subset(np.concatenate([np.arange(len(train)), *extra]))
    if arm.kind == "oversample":
        # Imported here: imblearn (with scikit-learn) takes ~3 s to load, in every worker process too,
        # and only this baseline and SMOTE use it.
        from imblearn.over_sampling import RandomOverSampler

        idx, _ = RandomOverSampler(random_state=seed).fit_resample(
            np.arange(len(train)).reshape(-1, 1), train.labels
        )
        return train.subset(idx.ravel())
    if arm.kind == "smote":
        from imblearn.over_sampling import SMOTE  # slow import: see RandomOverSampler above

        k = min(5, int(real_counts[real_counts > 0].min()) - 1)
        X = train.images.reshape(len(train), -1).astype(np.float32)
        Xr, yr = SMOTE(k_neighbors=k, random_state=seed).fit_resample(X, train.labels)
        new = np.clip(np.rint(Xr[len(train) :]), 0, 255).astype(np.uint8).reshape(-1, *train.images.shape[1:])
        extra_set = ImageSet(
            new, yr[len(train) :], train.class_names, paths=[f"smote#{i}" for i in range(len(new))]
        )
        return ImageSet.concat([train, extra_set])
    raise ValueError(f"unknown arm kind {arm.kind!r}")


# ----------------------------------------------------------------------------
# Checking the inputs


def match_synthetic(synthetic: ImageSet, train: ImageSet) -> ImageSet:
    """Synthetic images with the real class indices, size and channels."""
    if synthetic.class_names != train.class_names:
        unknown = [c for c in synthetic.class_names if c not in train.class_names]
        if unknown:
            raise UserError(
                f"synthetic images have classes the real data lacks: {', '.join(unknown)} "
                f"(real classes: {', '.join(train.class_names)})"
            )
        remap = np.array([train.class_names.index(c) for c in synthetic.class_names], dtype=np.int64)
        synthetic = ImageSet(
            synthetic.images, remap[synthetic.labels], train.class_names, synthetic.paths, synthetic.hashes
        )
    C, H, W = train.images.shape[1:]
    if synthetic.images.shape[1:] != (C, H, W):
        synthetic = resize_imageset(synthetic, (H, W), C)
    return synthetic


def check_pool(arms: list[Arm], train: ImageSet, synthetic: ImageSet, balance: str) -> None:
    """Raise a :class:`UserError` naming the classes whose synthetic pool is too small for an arm."""
    real_counts = np.bincount(train.labels, minlength=train.num_classes)
    need = np.zeros(train.num_classes, dtype=np.int64)
    for a in arms:
        if a.uses_synthetic:
            need = np.maximum(need, synthetic_counts(a, real_counts, balance))
    have = np.bincount(synthetic.labels, minlength=train.num_classes)
    short = [
        (train.class_names[c], int(need[c]), int(have[c])) for c in range(len(need)) if need[c] > have[c]
    ]
    if short:
        lines = ", ".join(f"class {n!r} needs {k} (the pool has {h})" for n, k, h in short)
        largest = max(
            (a for a in arms if a.uses_synthetic),
            key=lambda a: synthetic_counts(a, real_counts, balance).sum(),
        )
        raise UserError(
            f"the synthetic pool is too small for balance={balance!r} "
            f"(largest arm: {largest.label}): {lines}. "
            f"Generate more images of {'this class' if len(short) == 1 else 'these classes'} "
            f"(--n {max(k for _, k, _ in short)} per class covers every arm), or use smaller fractions."
        )


def leak_check(train: ImageSet, val: ImageSet, test: ImageSet, synthetic: ImageSet | None) -> dict[str, int]:
    """How many test images are pixel-identical to an image of another set (should all be 0)."""
    test_h = {pixel_hash(x) for x in test.images}
    out = {}
    for name, s in (("train", train), ("val", val), ("synthetic", synthetic)):
        if s is not None:
            out[name] = sum(pixel_hash(x) in test_h for x in s.images)
    return out
