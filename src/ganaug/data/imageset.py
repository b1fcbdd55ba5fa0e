"""The one in-memory representation every source loads into.

An :class:`ImageSet` holds uint8 images N x C x H x W (all the same size), integer labels,
class names, and per-image provenance (source path and SHA-256 of the source file's bytes).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ganaug.errors import DataError
from ganaug.utils import atomic_open


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 [N, C, H, W]
    labels: np.ndarray  # int64 [N], indices into class_names
    class_names: list[str]
    paths: list[str] = field(default_factory=list)  # source of each image (file, or "file#index")
    hashes: list[str] = field(default_factory=list)  # sha256 of the source bytes (or pixels for containers)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.images.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {self.images.dtype}")
        if self.images.ndim != 4:
            raise ValueError(f"images must be N x C x H x W, got shape {self.images.shape}")
        n = len(self.images)
        if len(self.labels) != n:
            raise ValueError(f"{n} images but {len(self.labels)} labels")
        if not self.paths:
            self.paths = [f"<memory>#{i}" for i in range(n)]
        if not self.hashes:
            self.hashes = [pixel_hash(img) for img in self.images]
        if len(self.paths) != n or len(self.hashes) != n:
            raise ValueError("paths and hashes must have one entry per image")
        self.class_names = list(self.class_names)
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError("labels out of range of class_names")

    # -- shape -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def resolution(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def counts(self) -> dict[str, int]:
        c = Counter(self.labels.tolist())
        return {name: int(c.get(i, 0)) for i, name in enumerate(self.class_names)}

    def imbalance_ratio(self) -> float:
        nonzero = [v for v in self.counts().values() if v > 0]
        return (max(nonzero) / min(nonzero)) if nonzero else float("nan")

    def class_index(self, name: str) -> int:
        try:
            return self.class_names.index(name)
        except ValueError:
            raise DataError(f"unknown class {name!r}; classes are: {', '.join(self.class_names)}") from None

    # -- selection ---------------------------------------------------------------
    def subset(self, index: Sequence[int] | np.ndarray) -> ImageSet:
        idx = np.asarray(index, dtype=np.int64)
        return ImageSet(
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=self.class_names,
            paths=[self.paths[i] for i in idx],
            hashes=[self.hashes[i] for i in idx],
        )

    def of_class(self, c: int | str) -> ImageSet:
        if isinstance(c, str):
            c = self.class_index(c)
        return self.subset(np.flatnonzero(self.labels == c))

    @staticmethod
    def concat(sets: Sequence[ImageSet]) -> ImageSet:
        sets = [s for s in sets if s is not None]
        if not sets:
            raise ValueError("nothing to concatenate")
        names = sets[0].class_names
        for s in sets[1:]:
            if s.class_names != names:
                raise ValueError("class names differ between image sets")
        return ImageSet(
            images=np.concatenate([s.images for s in sets]),
            labels=np.concatenate([s.labels for s in sets]),
            class_names=names,
            paths=[p for s in sets for p in s.paths],
            hashes=[h for s in sets for h in s.hashes],
        )

    # -- conversions -------------------------------------------------------------
    def to_tensor(self, device=None):
        """Images as float32 in [-1, 1] (GAN convention) and labels as int64."""
        # torch is imported here, not at the top: loading it takes seconds (11 s against 0.6 s for all
        # of ganaug.data.sources, measured on a busy machine), and `ganaug inspect` / `prepare` and
        # `ganaug --help` import this module without needing torch.
        import torch

        x = torch.from_numpy(self.images).to(device)
        return x.float().div_(127.5).sub_(1.0), torch.from_numpy(self.labels).to(device)

    # -- persistence ---------------------------------------------------------------
    def save_npz(self, path: str | Path) -> None:
        with atomic_open(path, "wb") as f:
            np.savez_compressed(
                f,
                x=self.images,
                y=self.labels,
                classes=np.array(self.class_names),
                paths=np.array(self.paths),
                hashes=np.array(self.hashes),
            )

    @classmethod
    def load_npz(cls, path: str | Path) -> ImageSet:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                images=z["x"],
                labels=z["y"],
                class_names=[str(s) for s in z["classes"]],
                paths=[str(s) for s in z["paths"]] if "paths" in z else [],
                hashes=[str(s) for s in z["hashes"]] if "hashes" in z else [],
            )

    def __repr__(self) -> str:
        c, h, w = self.images.shape[1:] if len(self) else (0, 0, 0)
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"ImageSet({len(self)} images, {c}x{h}x{w}, classes: {counts})"

    def _repr_html_(self) -> str:  # notebook display: counts plus a few thumbnails
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in self.counts().items())
        thumbs = ""
        if len(self):
            grid = make_grid_array(self.images[: min(16, len(self))], nrow=8)
            buf = io.BytesIO()
            Image.fromarray(grid.squeeze()).save(buf, format="PNG")
            thumbs = f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'
        return f"<p>{self!r}</p><table><tr><th>class</th><th>images</th></tr>{rows}</table>{thumbs}"


def as_uint8_images(images) -> np.ndarray:
    """The uint8 N x C x H x W array of an ImageSet or array; ValueError for anything else."""
    if isinstance(images, ImageSet):
        images = images.images
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 N x C x H x W images, got {images.dtype} {images.shape}")
    return images


def pixel_hash(img: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(img.shape).encode())
    h.update(np.ascontiguousarray(img).tobytes())
    return h.hexdigest()


def make_grid_array(images: np.ndarray, nrow: int = 8, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """uint8 N x C x H x W -> one uint8 image H' x W' x C (C kept as 1 or 3), ``nrow`` images a row."""
    # Deferred for the same reason as in to_tensor: torch (and torchvision) take seconds to load.
    import torch
    import torch.nn.functional as F
    from torchvision.utils import make_grid

    x = torch.from_numpy(np.ascontiguousarray(images))
    if len(x) == 1:  # make_grid returns a lone image as is, without its frame
        grid = F.pad(x[0], (pad, pad, pad, pad), value=pad_value)
    else:
        grid = make_grid(x, nrow=nrow, padding=pad, pad_value=pad_value)[: x.shape[1]]  # it makes gray RGB
    return np.ascontiguousarray(grid.permute(1, 2, 0).numpy())
