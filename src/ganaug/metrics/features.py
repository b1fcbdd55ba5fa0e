"""Feature extractors for the distribution metrics: uint8 N x C x H x W images -> np.ndarray [N, D].

Three kinds (``make_extractor(kind, ...)``):

- ``"trained"`` (offline default): the penultimate layer of a small classifier trained on the REAL
  TRAINING SPLIT ONLY (model selection on val; the test split is never seen). It needs no download
  and knows what matters in this domain, but its numbers compare only within one dataset (and one
  training split): a different dataset gives a different feature space. The trained net is cached
  under ``cache_dir``, keyed by a hash of the training (and val) images and the options.
- ``"inception"``: Inception-v3 pool features (2048-d) with the standard FID weights
  (torch-fidelity's ``FeatureExtractorInceptionV3`` and ``weights-inception-2015-12-05-6726825d.pth``),
  the numbers papers quote. The weights file is read from a local path only; nothing is downloaded.
- ``"pixels"``: flattened, downscaled pixels in [0, 1]; a sanity baseline and for tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganaug import classify  # module attribute lookups, so tests can replace fit_classifier
from ganaug.constants import FEATURE_KINDS
from ganaug.data.imageset import ImageSet, as_uint8_images
from ganaug.data.preprocess import convert_channels, resize_array
from ganaug.data.preprocess import resize_imageset as data_resize_imageset
from ganaug.errors import CheckpointError, UserError
from ganaug.models.classifier import load_classifier, save_classifier
from ganaug.utils import load_tensors, resolve_device

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
INCEPTION_ENV = "GANAUG_INCEPTION"
_FEATNET_VERSION = 1  # bump when the feature-net recipe changes, so old cache entries are not reused


@dataclass
class FeatureExtractor:
    """A callable ``images -> features [N, D] float32`` plus a description of what it is."""

    name: str  # "trained" | "inception" | "pixels"
    fn: Callable[[np.ndarray], np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)  # what it is, where its weights came from

    def __call__(self, images: np.ndarray | ImageSet) -> np.ndarray:
        x = as_uint8_images(images)
        return np.asarray(self.fn(x), dtype=np.float32)


def make_extractor(
    kind: str = "trained",
    *,
    train: ImageSet | None = None,  # "trained": the real training split (the only data it learns from)
    val: ImageSet | None = None,  # "trained": model selection; None: a stratified part of train
    cache_dir: str | os.PathLike | None = None,  # "trained": where the feature net is cached; None: no cache
    inception: str | os.PathLike | None = None,  # "inception": explicit weights file
    device: str = "auto",
    seed: int = 0,
    epochs: int = 20,  # "trained": at most this many epochs
    pixel_size: int = 16,  # "pixels": images are area-downscaled to this size first
    progress: bool = False,
) -> FeatureExtractor:
    """Build one of the extractors of :data:`FEATURE_KINDS`."""
    if kind == "pixels":
        return FeatureExtractor(
            "pixels",
            lambda x: pixel_features(x, size=pixel_size),
            {
                "kind": "pixels",
                "size": pixel_size,
                "note": "raw pixels; a sanity baseline, not a perceptual metric",
            },
        )
    if kind == "inception":
        path = find_inception_weights(inception)
        net = load_inception(path, device=device)
        return FeatureExtractor(
            "inception",
            lambda x: inception_features(x, net=net),
            {
                "kind": "inception",
                "weights": str(path),
                "dim": 2048,
                "note": "standard FID Inception-v3 features; comparable across papers",
            },
        )
    if kind == "trained":
        if train is None:
            raise ValueError("the 'trained' feature extractor needs the training split")
        model, info = train_feature_net(
            train, val, cache_dir=cache_dir, device=device, seed=seed, epochs=epochs, progress=progress
        )
        return FeatureExtractor("trained", lambda x: classify.embed(model, x, device=device), info)
    raise UserError(f"unknown feature extractor {kind!r}; choose from {', '.join(FEATURE_KINDS)}")


# ----------------------------------------------------------------------------
# Raw pixels


def pixel_features(images: np.ndarray | ImageSet, size: int | None = 16) -> np.ndarray:
    """Flattened pixels in [0, 1], area-downscaled to ``size`` x ``size`` first (None: native size)."""
    x = as_uint8_images(images)
    if size is not None and x.shape[2:] != (size, size) and len(x):
        x = resize_images(x, (size, size))
    return x.reshape(len(x), -1).astype(np.float32) / 255.0


# ----------------------------------------------------------------------------
# Inception-v3 (standard FID weights, local file only)


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """Locate the FID Inception weights: ``path``, then $GANAUG_INCEPTION, then torch hub's cache.

    Never downloads. Raises :class:`UserError` naming the file and where to put it.
    """
    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir():
            p = p / INCEPTION_FILE
        if not p.is_file():
            raise UserError(f"Inception weights not found at {p}. " + _inception_help())
        return p
    env = os.environ.get(INCEPTION_ENV)
    if env:
        p = Path(env).expanduser()
        if p.is_dir():
            p = p / INCEPTION_FILE
        if not p.is_file():
            raise UserError(f"${INCEPTION_ENV} points to {p}, which does not exist. " + _inception_help())
        return p
    p = hub_checkpoint_dir() / INCEPTION_FILE
    if p.is_file():
        return p
    raise UserError(
        "Inception weights for --features inception are not available offline. " + _inception_help()
    )


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _inception_help() -> str:
    return (
        f"Put the file {INCEPTION_FILE} (from {INCEPTION_URL}, fetched on a machine with internet) at "
        f"{hub_checkpoint_dir() / INCEPTION_FILE}, or pass its path with --inception FILE or "
        f"${INCEPTION_ENV}. Or use --features trained (the offline default) or --features pixels."
    )


def load_inception(path: str | os.PathLike, device: str = "auto") -> torch.nn.Module:
    """torch-fidelity's FID Inception-v3 with weights from ``path`` (a local file; never downloads)."""
    # Imported here: torch-fidelity loads torchvision (seconds), and only Inception features need it.
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = Path(path)
    # torch-fidelity reads the file with weights_only=False; refuse anything that is not plain tensors.
    try:
        load_tensors(path)
    except CheckpointError:
        raise
    except Exception as e:
        raise UserError(f"{path} is not a readable state dict of tensors ({e}). " + _inception_help()) from e
    try:
        net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
        )
    except RuntimeError as e:  # load_state_dict: wrong keys or shapes
        raise UserError(
            f"{path} does not hold the FID Inception-v3 weights ({e}). " + _inception_help()
        ) from e
    return net.to(resolve_device(device)).eval()


@torch.no_grad()
def inception_features(
    images: np.ndarray | ImageSet, *, net: torch.nn.Module, batch_size: int = 64
) -> np.ndarray:
    """2048-d pool features; gray images are replicated to RGB; torch-fidelity resizes to 299."""
    x = as_uint8_images(images)
    dev = next(net.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[i : i + batch_size]).to(dev)
        if xb.shape[1] == 1:
            xb = xb.expand(-1, 3, -1, -1)
        out.append(net(xb)[0].float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 2048), np.float32)


# ----------------------------------------------------------------------------
# Feature net trained on the real training split


def train_feature_net(
    train: ImageSet,
    val: ImageSet | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    arch: str = "smallcnn",
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    progress: bool = False,
):
    """Train (or load from cache) the domain feature net on ``train`` only; returns ``(model, info)``.

    ``val`` picks the best epoch; when None, a stratified 20% of ``train`` is held out for that (the
    test split must never be passed here). The cache key hashes the image hashes, the pixels, the
    labels and the options, so a changed split or recipe retrains.
    """
    if min(train.resolution) < 8:
        h, w = train.resolution
        raise UserError(
            f"the images are {w}x{h} pixels: too small for the trained feature network (it needs at "
            "least 8x8); use --features pixels, or prepare the data with a larger --resolution"
        )
    if train.num_classes < 2 or len(np.unique(train.labels)) < 2:
        raise UserError(
            "the trained feature network needs at least 2 classes in the training split; "
            "use --features pixels or --features inception for a single-class dataset"
        )
    if val is None or len(val) == 0:
        train, val = _holdout(train, frac=0.2, seed=seed)
    options = {
        "arch": arch,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "version": _FEATNET_VERSION,
    }
    key = _cache_key(train, val, options)
    info: dict[str, Any] = {
        "kind": "trained",
        "arch": arch,
        "options": options,
        "cache_key": key,
        "n_train": len(train),
        "n_val": len(val),
        "note": "features of a classifier trained on this dataset's training split: "
        "numbers compare only within one dataset (and split), not across datasets or papers",
    }
    path = Path(cache_dir) / f"featnet-{key[:16]}.pt" if cache_dir is not None else None
    if path is not None and path.is_file():
        model = load_classifier(path, device="cpu")
        info.update(cached=True, path=str(path))
        return model, info

    fit = classify.fit_classifier(
        train,
        val,
        arch=arch,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
    )
    info.update(cached=False, best_epoch=fit.best_epoch, val_balanced_accuracy=fit.val_score)
    if path is not None:
        save_classifier(
            fit.model,
            path,
            extra={
                "cache_key": key,
                "options": options,
                "best_epoch": fit.best_epoch,
                "val_score": fit.val_score,
            },
        )
        info["path"] = str(path)
    return fit.model, info


def _holdout(train: ImageSet, frac: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Stratified split of ``train``: classes with >= 2 images give round(frac * n) (>= 1) to val."""
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(train.labels):
        idx = np.flatnonzero(train.labels == c)
        if len(idx) >= 2:
            n_val = min(len(idx) - 1, max(1, round(frac * len(idx))))
            val_idx.extend(rng.permutation(idx)[:n_val].tolist())
    val_mask = np.zeros(len(train), bool)
    val_mask[val_idx] = True
    return train.subset(np.flatnonzero(~val_mask)), train.subset(np.flatnonzero(val_mask))


def _cache_key(train: ImageSet, val: ImageSet, options: dict) -> str:
    h = hashlib.sha256()
    for part in (train, val):
        h.update(
            json.dumps(
                [part.hashes, part.labels.tolist(), part.class_names, list(part.images.shape)]
            ).encode()
        )
        h.update(np.ascontiguousarray(part.images).tobytes())  # same files, other preprocessing: other key
    h.update(json.dumps(options, sort_keys=True).encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------
# Resizing (shared with evaluate and memorization): the data layer's resizer, area-averaged
# when shrinking (pixel features, memorisation at a reduced size).


def resize_images(images: np.ndarray, size: tuple[int, int], channels: int | None = None) -> np.ndarray:
    """uint8 N x C x H x W -> N x channels x size (area when shrinking, antialiased bilinear when growing)."""
    x = as_uint8_images(images)
    if channels is not None:
        x = convert_channels(x, channels)
    shrink = size[0] <= x.shape[2] and size[1] <= x.shape[3]
    return resize_array(x, tuple(size), mode="area" if shrink else "bilinear")


def resize_imageset(imageset: ImageSet, size: tuple[int, int], channels: int | None = None) -> ImageSet:
    """ImageSet at ``size`` / ``channels`` (ganaug.data.preprocess.resize_imageset)."""
    return data_resize_imageset(imageset, tuple(size), channels=channels)
