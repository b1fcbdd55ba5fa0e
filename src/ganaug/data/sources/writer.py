"""Writing a StyleGAN2-ADA dataset, which :func:`ganaug.data.sources.load` reads back losslessly."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.utils import atomic_open, atomic_write_bytes


def write_stylegan_dataset(
    imageset: ImageSet,
    dest: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,  # override imageset.class_names
    overwrite: bool = False,
) -> Path:
    """Write a StyleGAN2-ADA dataset (``.zip`` or a folder): ``00000/img00000000.png`` files and
    ``dataset.json`` with ``labels``, plus the extra keys ``class_names`` and ``ganaug`` (source
    path and hash of each image), so reading it back with :func:`load` is lossless."""
    dest = Path(dest)
    names = list(class_names) if class_names is not None else list(imageset.class_names)
    if len(names) != imageset.num_classes:
        raise UserError(f"{len(names)} class names given for {imageset.num_classes} classes")
    if dest.exists() and not overwrite and (dest.is_file() or any(dest.iterdir())):
        raise UserError(f"{dest} already exists; choose another path or pass overwrite=True")

    files = [f"{i // 1000:05d}/img{i:08d}.png" for i in range(len(imageset))]
    meta = {
        "labels": [[f, int(y)] for f, y in zip(files, imageset.labels)],
        "class_names": names,
        "ganaug": {"sources": list(imageset.paths), "source_hashes": list(imageset.hashes)},
    }
    meta_bytes = json.dumps(meta, indent=1).encode("utf-8")
    if dest.suffix.lower() == ".zip":
        with atomic_open(dest, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            for name, img in zip(files, imageset.images):
                zf.writestr(name, _png(img))
            zf.writestr("dataset.json", meta_bytes)
    else:
        for name, img in zip(files, imageset.images):
            atomic_write_bytes(dest / name, _png(img))
        atomic_write_bytes(dest / "dataset.json", meta_bytes)
    return dest


def _png(img: np.ndarray) -> bytes:
    """uint8 C x H x W -> PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)).save(buf, format="PNG")
    return buf.getvalue()
