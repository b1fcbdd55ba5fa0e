"""``.npz`` arrays: ``x``, ``y`` and optional ``classes``, ``paths``, ``hashes``, ``partition``
(x as NHWC, NCHW or NHW). The Keras style ``x_train/y_train/x_test/y_test`` also works and keeps
the test partition. The builtin demo sets are npz files too."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ganaug.data.preprocess import to_uint8_nchw
from ganaug.data.sources.jobs import ArrayJob, label_key
from ganaug.data.validate import Problem
from ganaug.errors import DataError


def npz_job(path: Path, classes, label: str | None = None) -> ArrayJob:
    """``classes`` overrides the stored class names; ``label`` is the name shown (``builtin:NAME``)."""
    x, y, part, names, paths, hashes = _read(path)
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise DataError(f"{path}: {len(x)} images but {len(y)} labels")
    y, names = _class_indices(y, names, path)
    if classes is not None:
        names = list(classes)
    if names is None:
        names = [str(i) for i in range(int(y.max()) + 1 if len(y) else 0)]
    if len(y) and (y.min() < 0 or y.max() >= len(names)):
        raise DataError(f"{path}: labels must lie in 0..{len(names) - 1}")
    shown = label or str(path)
    x = np.asarray(x)
    if paths is None or len(paths) != len(x):
        paths = [f"{shown}#{i}" for i in range(len(x))]
    bad_pixels: list[Problem] = []
    if x.dtype.kind in "fc" and len(x):  # NaN/Inf pixels: report and drop the image (never silently 0)
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            keep = np.flatnonzero(finite)
            bad_pixels = [
                Problem(paths[i], "nan-pixels", "NaN or infinite pixel values; image skipped")
                for i in np.flatnonzero(~finite)
            ]
            x, y = x[keep], y[keep]
            paths = [paths[i] for i in keep]
            hashes = [hashes[i] for i in keep] if hashes is not None and len(hashes) == len(finite) else None
            part = [part[i] for i in keep] if part is not None and len(part) == len(finite) else None
    images, note = to_uint8_nchw(x, str(path))
    if hashes is not None and len(hashes) != len(images):
        hashes = None
    if part is not None and (len(part) != len(images) or len(set(part)) < 2):
        part = None
    notes = [note] if note else []
    return ArrayJob(
        "npz",
        images,
        y,
        names,
        paths,
        hashes,
        part,
        problems=bad_pixels,
        notes=notes,
        modes={f"{np.asarray(x).dtype} array": len(images)},
    )


def _read(path: Path):
    """(x, y, partition, class names, paths, hashes) as stored; the last four may be None."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"{path} is not a readable .npz file ({e})") from None
    with z:
        keys = set(z.files)
        try:
            if "x_train" in keys and "y_train" in keys:  # Keras style
                xs = [z["x_train"]] + ([z["x_test"]] if "x_test" in keys else [])
                ys = [z["y_train"]] + ([z["y_test"]] if "y_test" in keys else [])
                part = ["train"] * len(ys[0]) + (["test"] * len(ys[1]) if len(ys) > 1 else [])
                x, y = np.concatenate(xs), np.concatenate(ys)
            else:
                xk = next((k for k in ("x", "images", "X") if k in keys), None)
                yk = next((k for k in ("y", "labels", "Y") if k in keys), None)
                if xk is None or yk is None:
                    raise DataError(
                        f"{path} needs arrays 'x' (images) and 'y' (labels); it has {sorted(keys)}"
                    )
                x, y = z[xk], z[yk]
                part = [str(s) for s in z["partition"]] if "partition" in keys else None
            names = [str(s) for s in z["classes"]] if "classes" in keys else None
            paths = [str(s) for s in z["paths"]] if "paths" in keys else None
            hashes = [str(s) for s in z["hashes"]] if "hashes" in keys else None
        except ValueError as e:  # object arrays need pickle
            raise DataError(
                f"{path}: {e}. Save strings as plain string arrays (np.array(list_of_str))."
            ) from None
    return x, y, part, names, paths, hashes


def _class_indices(y: np.ndarray, names: list[str] | None, path: Path) -> tuple[np.ndarray, list[str] | None]:
    """String labels -> indices into ``names`` (made from the labels when None); numbers -> int64."""
    if y.dtype.kind not in "US":
        return y.astype(np.int64), names
    names = names or sorted(set(y.tolist()), key=label_key)
    index = {c: i for i, c in enumerate(names)}
    try:
        return np.array([index[v] for v in y.tolist()], dtype=np.int64), names
    except KeyError as e:
        raise DataError(f"{path}: label {e} is not in 'classes'") from None
