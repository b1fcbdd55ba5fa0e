"""Did the generator copy its training images? Nearest neighbours of every synthetic image.

For each synthetic image we find its k nearest real TRAINING images, exactly, in pixel space and
(when features are given) in feature space, and report:

- ``ratio``: its NN distance divided by the typical distance between training images: the median
  leave-one-out NN distance (train -> rest of train) over the training images of the class of its
  nearest training image (``reference="class"``, the default: classes differ in spread, e.g. digit
  "1"s sit much closer together than "8"s) or over all of train (``reference="global"``). A fresh
  sample from the data distribution has a ratio around 1 (its NN distance is distributed like a
  training image's); a copy has a ratio near 0.
- Pixel-space neighbours are searched among the training images AND their mirror images and
  one-pixel shifts (``transforms``; edges replicated), each match counted for its source image: a
  training image moved by one pixel or mirrored is a copy (without this a fixed threshold flagged 0 %
  of one-pixel-shifted and 6 % of mirrored copies). Leave-one-out distances skip an image's own
  variants. With shifts, pixel distances skip the one-pixel border (what a shift brings in there is
  unknown), so a one-pixel shift of a training image is an exact match.
- ``near_copy``: pixel-space ``ratio < threshold``. With ``holdout`` (real images never trained on;
  ``evaluate`` passes the test split) the threshold is calibrated: the ``quantile`` (0.1 %) of the
  held-out images' own ratios, per space, so real held-out images are flagged at that rate and a
  copy (ratio near 0) is flagged whatever the data's spread. Without it, the fixed 1/3 of the
  typical neighbour distance (Carlini et al. 2023, Extracting training data from diffusion models).
  ``feature_near_copy`` applies the feature space's own threshold: it is reported, not folded into
  ``near_copy``. The held-out check itself is kept (``MemorizationResult.holdout``) as the real
  reference for flag rates and authenticity.
- ``authentic`` (Alaa et al. 2022, "How faithful is your synthetic data?"): a sample is authentic
  when its distance to its nearest training image i is larger than i's own distance to the rest of
  train; it adapts to local density. Held-out real images are not 100% authentic either (often
  40-70%): compare with the real test split, not with 100%.

Distances are Euclidean, pixels scaled to [0, 1] and area-downscaled to at most ``pixel_size``
(64) px so tens of thousands of images stay fast; k-NN is exact and chunked (see ``distribution.knn``).

Its complement is ``ganaug.metrics.copying.data_copying_test`` (Meehan et al. 2020, AISTATS): in
feature space, generated samples closer to the training set than held-out real samples are, cell by
cell, give a strongly negative ``z_u``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.formatting import NA, fixed, percent
from ganaug.metrics.distribution import knn
from ganaug.metrics.features import resize_images, resize_imageset
from ganaug.utils import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    json_safe,
    png_bytes,
    to_pil,
)

NEAR_COPY_THRESHOLD = 1.0 / 3.0  # without held-out images to calibrate on
CALIBRATION_QUANTILE = 0.001  # with them: flag below this quantile of the held-out images' ratios
TRANSFORMS = (
    "flip",
    "shift",
)  # pixel-space matches also against mirrored / one-pixel-shifted training images


@dataclass
class SpaceResult:
    """Neighbours of the synthetic images in one space (pixels or features)."""

    dist: np.ndarray  # float64 [N, k], ascending
    index: np.ndarray  # int64 [N, k], rows of the training set
    train_loo: np.ndarray  # float64 [Ntrain], each training image's NN distance to the rest of train
    train_scale: np.ndarray  # float64 [Ntrain], the typical NN distance around each training image

    @property
    def scale(self) -> np.ndarray:  # [N], the reference distance of each synthetic sample
        return self.train_scale[self.index[:, 0]]

    @property
    def ratio(self) -> np.ndarray:  # [N, k]
        scale = self.scale[:, None]
        safe = np.where(scale > 0, scale, 1.0)  # scale 0: most of that class are duplicates of each other
        return np.where(scale > 0, self.dist / safe, np.where(self.dist > 0, np.inf, 0.0))

    @property
    def authentic(self) -> np.ndarray:  # [N] bool
        return self.dist[:, 0] > self.train_loo[self.index[:, 0]]


@dataclass
class MemorizationResult:
    synthetic: ImageSet  # at the training images' size and channels
    train: ImageSet
    threshold: float  # pixel space
    pixel: SpaceResult
    feature: SpaceResult | None = None
    options: dict[str, Any] = field(default_factory=dict)
    feature_threshold: float | None = None  # None: the pixel threshold
    holdout: MemorizationResult | None = None  # the same check on real held-out images (the calibration set)

    # -- per-sample flags ---------------------------------------------------------
    @property
    def near_copy(self) -> np.ndarray:
        """Pixel-space near copies (the feature-space flag is reported separately)."""
        return self.pixel.ratio[:, 0] < self.threshold

    @property
    def authentic(self) -> np.ndarray:
        """Authenticity in feature space when features were given (as Alaa et al.), else in pixels."""
        return (self.feature if self.feature is not None else self.pixel).authentic

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"MemorizationResult({s['n_synthetic']} synthetic vs {s['n_train']} train: {s['near_copy_count']} "
            f"near copies (pixel ratio < {s['threshold']:.2f}), authentic {s['authentic_fraction']:.0%} "
            f"({s['authentic_space']} space))"
        )

    # -- tables -------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """One dict per synthetic image (the CSV rows)."""
        syn, tr = self.synthetic, self.train
        near, auth = self.near_copy, self.authentic
        out = []
        for i in range(len(syn)):
            r: dict[str, Any] = {
                "index": i,
                "path": syn.paths[i],
                "class": syn.class_names[syn.labels[i]],
                "near_copy": bool(near[i]),
                "authentic": bool(auth[i]),
            }
            for name, sp in (("pixel", self.pixel), ("feature", self.feature)):
                if sp is None:
                    continue
                j = int(sp.index[i, 0])
                r.update(
                    {
                        f"{name}_nn_index": j,
                        f"{name}_nn_path": tr.paths[j],
                        f"{name}_nn_class": tr.class_names[tr.labels[j]],
                        f"{name}_nn_dist": float(sp.dist[i, 0]),
                        f"{name}_ratio": float(sp.ratio[i, 0]),
                        f"{name}_near_copy": bool(sp.ratio[i, 0] < self._threshold(name)),
                        f"{name}_authentic": bool(sp.authentic[i]),
                        f"{name}_knn_index": " ".join(str(int(v)) for v in sp.index[i]),
                        f"{name}_knn_dist": " ".join(f"{v:.6g}" for v in sp.dist[i]),
                    }
                )
            out.append(r)
        return out

    def _threshold(self, space: str) -> float:
        return (
            self.feature_threshold
            if space == "feature" and self.feature_threshold is not None
            else self.threshold
        )

    def summary(self) -> dict[str, Any]:
        near = self.near_copy
        s: dict[str, Any] = {
            "n_synthetic": len(self.synthetic),
            "n_train": len(self.train),
            "threshold": self.threshold,
            "feature_threshold": self._threshold("feature") if self.feature is not None else None,
            "near_copy_count": int(near.sum()),
            "near_copy_fraction": float(near.mean()) if len(near) else math.nan,
            "authentic_fraction": float(self.authentic.mean()) if len(near) else math.nan,
            "authentic_space": "feature" if self.feature is not None else "pixel",
            **self.options,
        }
        for name, sp in (("pixel", self.pixel), ("feature", self.feature)):
            if sp is None:
                continue
            r = sp.ratio[:, 0]
            tl = self.train.labels
            s[name] = {
                "train_median_nn_dist": float(np.median(sp.train_loo)),
                "train_median_nn_dist_per_class": {
                    n: float(np.median(sp.train_loo[tl == c])) if (tl == c).any() else math.nan
                    for c, n in enumerate(self.train.class_names)
                },
                "min_ratio": float(r.min()) if len(r) else math.nan,
                "median_ratio": float(np.median(r)) if len(r) else math.nan,
                "threshold": self._threshold(name),
                "near_copy_count": int((r < self._threshold(name)).sum()),
                "authentic_fraction": float(sp.authentic.mean()) if len(r) else math.nan,
            }
        # Near copies per class of the synthetic image.
        s["near_copy_per_class"] = {
            name: int(near[self.synthetic.labels == c].sum())
            for c, name in enumerate(self.synthetic.class_names)
        }
        return s

    def to_dict(self) -> dict[str, Any]:
        return self.summary()

    def to_csv(self, path: str | os.PathLike) -> None:
        rows = self.rows()
        buf = io.StringIO()
        fields = list(rows[0]) if rows else ["index"]
        w = csv.DictWriter(buf, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(path, buf.getvalue())

    def to_json(self, path: str | os.PathLike) -> None:
        atomic_write_json(path, json_safe(self.summary()))

    # -- the picture ----------------------------------------------------------------
    def closest(self, n: int = 16) -> np.ndarray:
        """Indices of the n synthetic images closest to train (smallest pixel ratio first)."""
        order = np.lexsort((np.arange(len(self.synthetic)), self.pixel.ratio[:, 0]))
        return order[:n]

    def save_grid(self, path: str | os.PathLike, n: int = 16) -> None:
        """PNG: each of the n closest synthetic images next to its k nearest training images."""
        atomic_write_bytes(path, self.grid_png(n))

    def grid_png(self, n: int = 16, tile: int = 112) -> bytes:
        """The picture of :meth:`save_grid` as PNG bytes (closest pairs first, near copies in red)."""
        rows = self.closest(n)
        k = self.pixel.index.shape[1]
        font = ImageFont.load_default(size=11)
        cap, pad, head = 30, 6, 34  # caption height above each tile, gap, title height
        width = pad + (k + 1) * (tile + pad) + pad  # an extra gap after the synthetic column
        height = head + max(len(rows), 1) * (cap + tile + pad) + pad
        canvas = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(canvas)
        draw.text(
            (pad, 4),
            f"closest synthetic images | their {k} nearest training images (pixel L2 = d)\n"
            f"r = d / typical train-to-train NN distance ({self.options.get('reference', 'class')}); "
            f"r < {self.threshold:.2f}: copy?",
            fill="black",
            font=font,
        )
        near = self.near_copy
        for r, i in enumerate(rows):
            y = head + r * (cap + tile + pad)
            ratio = self.pixel.ratio[i]
            tiles = [
                (self.synthetic.images[i], f"synth {i}", f"r={ratio[0]:.2f}" + (" COPY?" if near[i] else ""))
            ]
            for c in range(k):
                j = int(self.pixel.index[i, c])
                tiles.append(
                    (self.train.images[j], f"train {j}", f"d={self.pixel.dist[i, c]:.2f} r={ratio[c]:.2f}")
                )
            for c, (img, line1, line2) in enumerate(tiles):
                x = pad + c * (tile + pad) + (pad if c else 0)
                color = "red" if (c == 0 and near[i]) else "black"
                draw.text((x, y + 2), f"{line1}\n{line2}", fill=color, font=font)
                canvas.paste(_tile(img, tile), (x, y + cap))
                if c == 0 and near[i]:
                    draw.rectangle(
                        [x - 2, y + cap - 2, x + tile + 1, y + cap + tile + 1], outline="red", width=2
                    )
        if not len(rows):
            draw.text((pad, head), "no synthetic images", fill="black", font=font)
        return png_bytes(canvas)


def memorization_check(
    synthetic: ImageSet,
    train: ImageSet,
    synth_feats: np.ndarray | None = None,  # [N, D] features of synthetic (same extractor as train_feats)
    train_feats: np.ndarray | None = None,  # [Ntrain, D]
    k: int = 3,  # neighbours kept per synthetic image
    *,
    threshold: float | None = None,  # pixel ratio below which a sample is a near copy; None: calibrated
    holdout: ImageSet | None = None,  # real images never trained on: calibration and reference
    holdout_feats: np.ndarray | None = None,  # their features (with synth_feats)
    quantile: float = CALIBRATION_QUANTILE,  # of the held-out ratios: the calibrated threshold
    transforms: Sequence[str] = TRANSFORMS,  # "flip", "shift": training-image variants matched in pixels
    pixel_size: int = 64,  # pixel space is area-downscaled to at most this size
    reference: str = "class",  # "class": ratio to the nearest training image's class scale; "global"
    device: str = "cpu",
) -> MemorizationResult:
    """Nearest training images of each synthetic image, near-copy flags and authenticity.

    ``threshold=None``: the ``quantile`` of ``holdout``'s ratios in each space when ``holdout`` is
    given, else the fixed :data:`NEAR_COPY_THRESHOLD`.
    """
    _check_args(train, synth_feats, train_feats, holdout, holdout_feats, transforms, reference)
    checker = _Checker(
        train,
        train_feats,
        k=k,
        transforms=transforms,
        pixel_size=pixel_size,
        reference=reference,
        device=device,
    )
    held = None
    thr, fthr = (NEAR_COPY_THRESHOLD if threshold is None else threshold), None
    if holdout is not None:
        held = checker.check(holdout, holdout_feats, 1, thr, fthr)
        if threshold is None and len(holdout):
            thr = float(np.quantile(held.pixel.ratio[:, 0], quantile, method="lower"))
            if held.feature is not None:
                fthr = float(np.quantile(held.feature.ratio[:, 0], quantile, method="lower"))
            held.threshold, held.feature_threshold = thr, fthr
    calibration = "fixed"
    if holdout is not None and threshold is None:
        calibration = f"{100 * quantile:.3g} % quantile of the ratios of {len(holdout)} held-out real images"
        if len(holdout) * quantile < 1:  # the quantile is their smallest ratio: a cruder calibration
            calibration += f" (their smallest: about 1 in {len(holdout) + 1} fresh samples falls below)"
    res = checker.check(synthetic, synth_feats, k, thr, fthr)
    res.options["threshold_source"] = calibration
    res.holdout = held
    if held is not None:
        held.options["threshold_source"] = calibration
    return res


def _check_args(
    train: ImageSet,
    synth_feats: np.ndarray | None,
    train_feats: np.ndarray | None,
    holdout: ImageSet | None,
    holdout_feats: np.ndarray | None,
    transforms: Sequence[str],
    reference: str,
) -> None:
    if len(train) < 2:
        raise UserError(f"the memorisation check needs at least 2 training images, got {len(train)}")
    if reference not in ("class", "global"):
        raise ValueError(f"reference must be 'class' or 'global', got {reference!r}")
    if (synth_feats is None) != (train_feats is None):
        raise ValueError("pass both synth_feats and train_feats, or neither")
    if holdout is not None and (holdout_feats is None) != (synth_feats is None):
        raise ValueError("with features, pass holdout_feats too (and without, none)")
    unknown = set(transforms) - set(TRANSFORMS)
    if unknown:
        raise ValueError(f"unknown transforms {sorted(unknown)}; choose from {TRANSFORMS}")


class _Checker:
    """The training images prepared once for search (pixel space: downscaled, with variants; and
    feature space when features are given); :meth:`check` runs any image set against them."""

    def __init__(
        self,
        train: ImageSet,
        train_feats: np.ndarray | None,
        *,
        k: int,
        transforms: Sequence[str],
        pixel_size: int,
        reference: str,
        device: str,
    ):
        self.train, self.train_feats = train, train_feats
        h, w = train.resolution
        self.size = (min(h, pixel_size), min(w, pixel_size))
        # With shifts, distances skip the one-pixel border: what a shift brings in at the edge is unknown.
        self.border = 1 if "shift" in transforms and min(self.size) > 4 else 0
        ts = train.images if self.size == (h, w) else resize_images(train.images, self.size)
        labels = train.labels if reference == "class" else np.zeros(len(train), np.int64)
        variants, source = _variants(ts, transforms)
        variants = np.ascontiguousarray(self._interior(variants))
        self.ref_pixel = _Reference(variants.reshape(len(variants), -1), source, labels, 1 / 255, device)
        self.ref_feature = (
            _Reference(np.asarray(train_feats), np.arange(len(train)), labels, 1.0, device)
            if train_feats is not None
            else None
        )
        self.options = {
            "k": k,
            "pixel_size": list(self.size),
            "reference": reference,
            "transforms": list(transforms),
            "pixel_border_skipped": self.border,
        }

    def _interior(self, x: np.ndarray) -> np.ndarray:
        b = self.border
        return x[..., b : x.shape[-2] - b, b : x.shape[-1] - b] if b else x

    def _pixels(self, s: ImageSet) -> np.ndarray:
        """uint8 rows, flattened (converted chunk by chunk inside knn), in [0, 1] units."""
        s = resize_imageset(s, self.train.resolution, self.train.channels)
        x = self._interior(
            s.images if self.size == self.train.resolution else resize_images(s.images, self.size)
        )
        return np.ascontiguousarray(x).reshape(len(x), -1)

    def check(
        self, s: ImageSet, feats: np.ndarray | None, kk: int, thr: float, fthr: float | None
    ) -> MemorizationResult:
        train = self.train
        pixel = self.ref_pixel.query(self._pixels(s), kk)
        feature = None
        if feats is not None:
            feats = np.asarray(feats)
            if len(feats) != len(s) or len(self.train_feats) != len(train):
                raise ValueError("features must have one row per image")
            feature = self.ref_feature.query(feats, kk)
        return MemorizationResult(
            resize_imageset(s, train.resolution, train.channels),
            train,
            thr,
            pixel,
            feature,
            options=dict(self.options),
            feature_threshold=fthr,
        )


class _Reference:
    """Training rows (possibly with variants of each image) to search, with their leave-one-out scale."""

    def __init__(self, rows: np.ndarray, source: np.ndarray, labels: np.ndarray, scale: float, device: str):
        self.rows, self.source, self.scale, self.device = rows, source, scale, device
        n = len(labels)
        per_image = len(rows) // n  # variants per training image (same count for each)
        # Each training image's nearest OTHER training image (any variant): skip its own variants.
        dist, idx = knn(rows[:n], rows, per_image + 1, scale=scale, device=device)
        own = source[idx] == np.arange(n)[:, None]
        first = np.argmax(~own, axis=1)
        self.loo = dist[np.arange(n), first]
        # Typical NN distance per group (class, or one group): the median of its leave-one-out distances.
        self.train_scale = np.empty(n)
        for c in np.unique(labels):
            self.train_scale[labels == c] = np.median(self.loo[labels == c])
        self.per_image = per_image

    def query(self, x: np.ndarray, k: int) -> SpaceResult:
        """The k nearest distinct training images of each row of x (the closest variant of each)."""
        n = len(self.train_scale)
        k = min(k, n)
        dist, idx = knn(
            x, self.rows, min(k * self.per_image, len(self.rows)), scale=self.scale, device=self.device
        )
        src = self.source[idx]
        out_d, out_i = np.empty((len(x), k)), np.empty((len(x), k), np.int64)
        for r in range(len(x)):  # keep the first (closest) occurrence of each source image
            _, first = np.unique(src[r], return_index=True)
            keep = np.sort(first)[:k]
            out_d[r], out_i[r] = dist[r, keep], src[r, keep]
        return SpaceResult(out_d, out_i, self.loo, self.train_scale)


def _variants(images: np.ndarray, transforms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Training images [N, C, H, W] and their variants -> (rows [T*N, C, H, W], source image [T*N]); the
    originals come first (rows[:N]). "flip": mirror images; "shift": one-pixel shifts in 4 directions
    (edges replicated), of the originals and of the mirror images."""
    bases = [images] + ([images[..., ::-1]] if "flip" in transforms else [])
    out = list(bases)
    if "shift" in transforms:
        for b in bases:
            pad = np.pad(b, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
            h, w = b.shape[2:]
            out += [
                pad[:, :, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))
            ]
    rows = np.concatenate([np.ascontiguousarray(o) for o in out])
    return rows, np.tile(np.arange(len(images)), len(out))


def _tile(img: np.ndarray, size: int):
    """uint8 C x H x W -> an RGB PIL image scaled to fit size x size (nearest: pixels stay visible)."""
    im = to_pil(img).convert("RGB")
    scale = size / max(im.size)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.NEAREST)


# ----------------------------------------------------------------------------
# The rare class (the one balanced sampling repeats most, so the one most likely to be copied)


def rare_class_memorization(
    synthetic: ImageSet,
    train: ImageSet,
    test: ImageSet,
    f_syn: np.ndarray,
    f_train: np.ndarray,
    f_test: np.ndarray,
    *,
    k: int = 3,
    threshold: float | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Memorisation check of the rarest training class against that class's training images, and
    the same check on its real test images (the reference). All sets share class indices (train's);
    features are rows aligned with the images. ``threshold``: the pixel near-copy threshold (pass
    the overall check's, so that both agree; None: calibrated on the class's test images). Empty
    when there is no rare class to check (one class, fewer than 2 training images of it, or no
    synthetic image of it)."""
    counts = np.bincount(train.labels, minlength=train.num_classes)
    eligible = [c for c in range(train.num_classes) if counts[c] >= 2 and (synthetic.labels == c).any()]
    if train.num_classes < 2 or not eligible:
        return {}
    c = min(eligible, key=lambda i: (counts[i], i))
    ms, mt, me = synthetic.labels == c, train.labels == c, test.labels == c
    held = me.any()
    res = memorization_check(
        synthetic.subset(np.flatnonzero(ms)),
        train.subset(np.flatnonzero(mt)),
        f_syn[ms],
        f_train[mt],
        k=min(k, int(mt.sum())),
        threshold=threshold,
        holdout=test.subset(np.flatnonzero(me)) if held else None,
        holdout_feats=f_test[me] if held else None,
        device=device,
    )

    def summary(r) -> dict[str, Any]:
        s = r.summary()
        return {
            "n": s["n_synthetic"],
            "near_copy_count": s["near_copy_count"],
            "near_copy_fraction": s["near_copy_fraction"],
            "authentic_fraction": s["authentic_fraction"],
            "median_pixel_ratio": s["pixel"]["median_ratio"],
            "median_feature_ratio": (s.get("feature") or {}).get("median_ratio", math.nan),
        }

    out = {
        "class": train.class_names[c],
        "n_train": int(mt.sum()),
        "synthetic": summary(res),
        "threshold": res.threshold,
    }
    if getattr(res, "holdout", None) is not None:
        out["test_floor"] = summary(res.holdout)
    return out


def rare_class_line(d: dict[str, Any]) -> str:
    """One sentence for the evaluate table."""
    if not d:
        return "rare class memorisation: not checked (one class, or no synthetic images of the rarest class)"
    s, f = d["synthetic"], d.get("test_floor")
    ref = (
        f"; its real test images: {f['near_copy_count']} of {f['n']}, median ratio "
        f"{fixed(f['median_pixel_ratio'], 2, missing=NA)}, authentic {percent(f['authentic_fraction'])}"
        if f
        else ""
    )
    return (
        f"rare class {d['class']!r} ({d['n_train']} training images), against its own training images: "
        f"near copies {s['near_copy_count']} of {s['n']} synthetic, median pixel ratio "
        f"{fixed(s['median_pixel_ratio'], 2, missing=NA)}, authentic {percent(s['authentic_fraction'])}{ref}"
    )
