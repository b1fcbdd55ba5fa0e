"""Did the generator copy its training images? Nearest neighbours of every synthetic image.

For each synthetic image we find its k nearest real TRAINING images, exactly, in pixel space and
(when features are given) in feature space, and report:

- ``ratio``: its NN distance divided by the typical distance between training images: the median
  leave-one-out NN distance (train -> rest of train) over the training images of the class of its
  nearest training image (``reference="class"``, the default: classes differ in spread, e.g. digit
  "1"s sit much closer together than "8"s) or over all of train (``reference="global"``). A fresh
  sample from the data distribution has a ratio around 1 (its NN distance is distributed like a
  training image's); a copy has a ratio near 0.
- ``near_copy``: pixel-space ``ratio < threshold``. The default 1/3 follows the "a third of the
  typical neighbour distance" rule of Carlini et al. 2023 (Extracting training data from diffusion
  models). An exact copy has ratio 0; a copy with Gaussian noise sigma = 2/255 is sigma * sqrt(C*H*W)
  away (0.43 at 3x32x32 in [0, 1] units) while distinct images at that size are typically 3-10
  apart, so its ratio is ~0.05-0.15; fresh samples sit around 1 and rarely below 0.5.
  ``feature_near_copy`` applies the same threshold in feature space: it also catches shifted or
  recoloured copies, but learned features compress within-class variation, so it flags more honest
  samples; it is reported, not folded into ``near_copy``. ``evaluate`` runs the same check on the real
  test split, which shows the false-flag rate of both on real held-out images.
- ``authentic`` (Alaa et al. 2022, "How faithful is your synthetic data?"): a sample is authentic
  when its distance to its nearest training image i is larger than i's own distance to the rest of
  train; it adapts to local density. Held-out real images are not 100% authentic either (often
  40-70%): compare with the real test split, not with 100%.

Distances are Euclidean, pixels scaled to [0, 1] and area-downscaled to at most ``pixel_size``
(64) px so tens of thousands of images stay fast; k-NN is exact and chunked (see ``distribution.knn``).
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.metrics.distribution import knn
from ganaug.utils import atomic_write_bytes, atomic_write_json, atomic_write_text

NEAR_COPY_THRESHOLD = 1.0 / 3.0


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
    threshold: float
    pixel: SpaceResult
    feature: SpaceResult | None = None
    options: dict[str, Any] = field(default_factory=dict)

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
        return (f"MemorizationResult({s['n_synthetic']} synthetic vs {s['n_train']} train: {s['near_copy_count']} "
                f"near copies (pixel ratio < {s['threshold']:.2f}), authentic {s['authentic_fraction']:.0%} "
                f"({s['authentic_space']} space))")

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
                r.update({
                    f"{name}_nn_index": j,
                    f"{name}_nn_path": tr.paths[j],
                    f"{name}_nn_class": tr.class_names[tr.labels[j]],
                    f"{name}_nn_dist": float(sp.dist[i, 0]),
                    f"{name}_ratio": float(sp.ratio[i, 0]),
                    f"{name}_near_copy": bool(sp.ratio[i, 0] < self.threshold),
                    f"{name}_authentic": bool(sp.authentic[i]),
                    f"{name}_knn_index": " ".join(str(int(v)) for v in sp.index[i]),
                    f"{name}_knn_dist": " ".join(f"{v:.6g}" for v in sp.dist[i]),
                })
            out.append(r)
        return out

    def summary(self) -> dict[str, Any]:
        near = self.near_copy
        s: dict[str, Any] = {
            "n_synthetic": len(self.synthetic),
            "n_train": len(self.train),
            "threshold": self.threshold,
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
                "near_copy_count": int((r < self.threshold).sum()),
                "authentic_fraction": float(sp.authentic.mean()) if len(r) else math.nan,
            }
        # Near copies per class of the synthetic image.
        s["near_copy_per_class"] = {
            name: int(near[self.synthetic.labels == c].sum()) for c, name in enumerate(self.synthetic.class_names)
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
        atomic_write_json(path, _nan_to_none(self.summary()))

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
        from PIL import Image, ImageDraw, ImageFont

        rows = self.closest(n)
        k = self.pixel.index.shape[1]
        font = ImageFont.load_default(size=11)
        cap, pad, head = 30, 6, 34  # caption height above each tile, gap, title height
        width = pad + (k + 1) * (tile + pad) + pad  # an extra gap after the synthetic column
        height = head + max(len(rows), 1) * (cap + tile + pad) + pad
        canvas = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(canvas)
        draw.text((pad, 4), f"closest synthetic images | their {k} nearest training images (pixel L2 = d)\n"
                  f"r = d / typical train-to-train NN distance ({self.options.get('reference', 'class')}); "
                  f"r < {self.threshold:.2f}: copy?",
                  fill="black", font=font)
        near = self.near_copy
        for r, i in enumerate(rows):
            y = head + r * (cap + tile + pad)
            ratio = self.pixel.ratio[i]
            tiles = [(self.synthetic.images[i], f"synth {i}", f"r={ratio[0]:.2f}" + (" COPY?" if near[i] else ""))]
            for c in range(k):
                j = int(self.pixel.index[i, c])
                tiles.append((self.train.images[j], f"train {j}", f"d={self.pixel.dist[i, c]:.2f} r={ratio[c]:.2f}"))
            for c, (img, line1, line2) in enumerate(tiles):
                x = pad + c * (tile + pad) + (pad if c else 0)
                color = "red" if (c == 0 and near[i]) else "black"
                draw.text((x, y + 2), f"{line1}\n{line2}", fill=color, font=font)
                canvas.paste(_tile(img, tile), (x, y + cap))
                if c == 0 and near[i]:
                    draw.rectangle([x - 2, y + cap - 2, x + tile + 1, y + cap + tile + 1], outline="red", width=2)
        if not len(rows):
            draw.text((pad, head), "no synthetic images", fill="black", font=font)
        buf = io.BytesIO()
        canvas.save(buf, format="PNG")
        return buf.getvalue()


def memorization_check(
    synthetic: ImageSet,
    train: ImageSet,
    synth_feats: np.ndarray | None = None,  # [N, D] features of synthetic (same extractor as train_feats)
    train_feats: np.ndarray | None = None,  # [Ntrain, D]
    k: int = 3,  # neighbours kept per synthetic image
    *,
    threshold: float = NEAR_COPY_THRESHOLD,  # ratio below which a sample is flagged as a near copy
    pixel_size: int = 64,  # pixel space is area-downscaled to at most this size
    reference: str = "class",  # "class": ratio to the nearest training image's class scale; "global"
    device: str = "cpu",
) -> MemorizationResult:
    """Nearest training images of each synthetic image, near-copy flags and authenticity."""
    from ganaug.metrics.features import resize_images, resize_imageset

    if len(train) < 2:
        raise UserError(f"the memorisation check needs at least 2 training images, got {len(train)}")
    if reference not in ("class", "global"):
        raise ValueError(f"reference must be 'class' or 'global', got {reference!r}")
    if (synth_feats is None) != (train_feats is None):
        raise ValueError("pass both synth_feats and train_feats, or neither")
    synthetic = resize_imageset(synthetic, train.resolution, train.channels)

    # Pixel space: uint8 flattened (converted chunk by chunk inside knn), [0, 1] units.
    h, w = train.resolution
    size = (min(h, pixel_size), min(w, pixel_size))
    ts = train.images if size == (h, w) else resize_images(train.images, size)
    ss = synthetic.images if size == (h, w) else resize_images(synthetic.images, size)
    labels = train.labels if reference == "class" else np.zeros(len(train), np.int64)
    pixel = _space(ss.reshape(len(ss), -1), ts.reshape(len(ts), -1), labels, k, 1 / 255, device)

    feature = None
    if synth_feats is not None:
        sf, tf = np.asarray(synth_feats), np.asarray(train_feats)
        if len(sf) != len(synthetic) or len(tf) != len(train):
            raise ValueError("features must have one row per image")
        feature = _space(sf, tf, labels, k, 1.0, device)
    return MemorizationResult(synthetic, train, threshold, pixel, feature,
                              options={"k": k, "pixel_size": list(size), "reference": reference})


def _space(query: np.ndarray, ref: np.ndarray, ref_labels: np.ndarray, k: int, scale: float, device: str) -> SpaceResult:
    dist, index = knn(query, ref, k, scale=scale, device=device)
    loo = knn(ref, ref, 1, exclude_self=True, scale=scale, device=device)[0][:, 0]
    # Typical NN distance per group (class, or one group): the median of its leave-one-out distances.
    train_scale = np.empty(len(ref))
    for c in np.unique(ref_labels):
        train_scale[ref_labels == c] = np.median(loo[ref_labels == c])
    return SpaceResult(dist, index, loo, train_scale)


def _tile(img: np.ndarray, size: int):
    """uint8 C x H x W -> an RGB PIL image scaled to fit size x size (nearest: pixels stay visible)."""
    from PIL import Image

    arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    im = Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")
    scale = size / max(im.size)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.NEAREST)


def _nan_to_none(o: Any) -> Any:
    """JSON has no NaN/Infinity: write null instead."""
    if isinstance(o, dict):
        return {k: _nan_to_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_nan_to_none(v) for v in o]
    if isinstance(o, (float, np.floating)) and not math.isfinite(float(o)):
        return None
    return o
