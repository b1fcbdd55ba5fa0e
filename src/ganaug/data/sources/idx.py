"""IDX files (MNIST, Fashion-MNIST; gzipped or not): a folder with train/t10k files, one image
file (its label file is found by name), or an ``(images, labels)`` pair. The t10k files become the
predefined test partition."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from ganaug.data.preprocess import to_uint8_nchw
from ganaug.data.sources.jobs import ArrayJob
from ganaug.errors import DataError, UserError

FASHION_MNIST_CLASSES = [
    "tshirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (optionally gzipped) as a numpy array."""
    path = Path(path)
    raw = _open_maybe_gz(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    n = int(np.prod(dims)) if dims else 0
    offset = 4 + 4 * ndim
    if len(raw) < offset + n * dtype.itemsize:
        raise DataError(f"{path} is truncated: header says {dims} but the file is too short")
    return np.frombuffer(raw, dtype=dtype, count=n, offset=offset).reshape(dims)


def _open_maybe_gz(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: corrupt gzip data ({e})") from None
    return raw


def is_idx(path: Path) -> bool:
    name = path.name.lower()
    return "idx" in name or "ubyte" in name


def idx_label_file(images: Path) -> Path:
    """The label file of an image file, by the MNIST naming (``...-images-idx3`` -> ``...-labels-idx1``)."""
    name = images.name
    for a, b in (("images", "labels"), ("idx3", "idx1")):
        name = name.replace(a, b)
    cand = images.with_name(name)
    if cand == images or not cand.exists():
        raise UserError(
            f"cannot find the label file for {images} (looked for {cand.name}); pass "
            "(images, labels) as a pair"
        )
    return cand


def idx_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(images, labels) IDX pairs in a folder, training files first; [] when it holds none."""
    pairs = []
    for p in sorted(folder.iterdir()):
        n = p.name.lower()
        if p.is_file() and "idx3" in n and "images" in n:
            try:
                pairs.append((p, idx_label_file(p)))
            except UserError:
                continue
    # Training files first, then the test files.
    return sorted(pairs, key=lambda ab: (_idx_partition(ab[0]) == "test", ab[0].name))


def _idx_partition(path: Path) -> str:
    n = path.name.lower()
    return "test" if n.startswith("t10k") or "test" in n else "train"


def idx_job(pairs: list[tuple[Path, Path]], classes) -> ArrayJob:
    xs, ys, paths, part = [], [], [], []
    for img_path, lab_path in pairs:
        x, y = read_idx(img_path), read_idx(lab_path)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(
                f"{img_path} / {lab_path}: expected N x H x W images and N labels, got "
                f"{x.shape} and {y.shape}"
            )
        xs.append(to_uint8_nchw(x, str(img_path))[0])
        ys.append(y.astype(np.int64))
        paths += [f"{img_path}#{i}" for i in range(len(x))]
        part += [_idx_partition(img_path)] * len(x)
    y = np.concatenate(ys)
    if classes is None:
        k = int(y.max()) + 1 if len(y) else 0
        fashion = any("fashion" in str(p).lower() for p, _ in pairs)
        classes = FASHION_MNIST_CLASSES[:k] if fashion and k <= 10 else [str(i) for i in range(k)]
    partition = part if len(set(part)) > 1 else None
    return ArrayJob(
        "idx", np.concatenate(xs), y, list(classes), paths, partition=partition, modes={"uint8 (IDX)": len(y)}
    )
