"""The entry point of the readers: :func:`load` any source into one :class:`ImageSet` and a report.

Layouts (auto-detected by :mod:`ganaug.data.sources.detect`):

* image folder: ``DATA/<class>/**/<image>`` (torchvision ImageFolder, recursive);
* flat folder + CSV of ``filename,label`` (``csv=`` or a single CSV next to the images; file
  extensions may be missing from the CSV, as in the diabetic-retinopathy ``trainLabels.csv``);
* StyleGAN dataset (zip or folder with ``dataset.json`` ``{"labels": [["path", int], ...]}``),
  read and written (:func:`ganaug.data.sources.writer.write_stylegan_dataset`);
* a zip of an image folder;
* IDX (MNIST / Fashion-MNIST, gzipped or not): a folder with train/t10k files or one image file
  (its label file is found by name) or an ``(images, labels)`` pair;
* ``.npz`` with ``x``, ``y`` and optional ``classes`` (x as NHWC, NCHW or NHW; Keras style
  ``x_train/y_train/x_test/y_test`` also works and keeps the test partition);
* DICOM (``.dcm``) inside any folder layout, through the optional ``pydicom``;
* ``builtin:NAME``, the embedded demo sets (see :mod:`ganaug.data.builtin`).

Every image gets a provenance path (the file, or ``container#member``/``container#index``) and
the SHA-256 of its file bytes (member bytes for zips, pixels for IDX/npz). Nothing in the source
is ever written to; bad files become problems in the report, never exceptions.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.data.preprocess import (
    as_hw,
    check_options,
    convert_channels,
    median_side,
    resize_array,
    scale_factor,
)
from ganaug.data.sources.decode import decode_all
from ganaug.data.sources.detect import detect
from ganaug.data.sources.jobs import ArrayJob, Entry, FileJob
from ganaug.data.validate import InspectReport, Problem, check_classes, count, find_duplicates
from ganaug.errors import DataError, UserError


@dataclass
class LoadResult:
    imageset: ImageSet
    report: InspectReport
    partition: list[str] | None = None  # predefined "train"/"test" per image (IDX t10k, builtin sets)


def load(
    source: Any,
    *,
    resolution: int | tuple[int, int] | None = None,  # None: common size, else median shorter side
    channels: int | None = None,  # None: 1 if every image is grayscale, else 3
    fit: str = "center-crop",  # "center-crop" | "pad" | "stretch" for non-matching aspect ratios
    resample: str = "lanczos",  # PIL filter name (arrays: torch bicubic with antialias)
    csv: str | os.PathLike | None = None,  # filename,label CSV for a flat folder
    alpha: str = "white",  # background transparent pixels are composited on: "white" | "black"
    classes: Sequence[str] | None = None,  # class names for IDX / npz without them
    workers: int | None = None,  # decoding threads/processes (None: all cores, up to 8)
    executor: str = "thread",  # "thread" | "process" | "serial"
    max_pixels: int | None = None,  # decompression-bomb guard (None: PIL.Image.MAX_IMAGE_PIXELS)
    allow_empty: bool = False,  # return an empty ImageSet instead of raising when nothing is usable
) -> LoadResult:
    """Load any supported source into one :class:`ImageSet` plus a validation report.

    Raises :class:`DataError` when nothing usable was found (unless ``allow_empty``), with the
    reasons; single bad files never raise.
    """
    check_options(fit, resample)
    if alpha not in ("white", "black"):
        raise UserError(f"alpha must be 'white' or 'black', got {alpha!r}")
    if channels is not None and channels not in (1, 3):
        raise UserError(f"channels must be 1 or 3, got {channels}")
    if executor not in ("thread", "process", "serial"):
        raise UserError(f"executor must be 'thread', 'process' or 'serial', got {executor!r}")
    target = as_hw(resolution) if resolution is not None else None
    if target is not None and min(target) < 1:
        raise UserError(f"resolution must be positive, got {resolution}")

    job = detect(source, csv=csv, classes=classes)
    report = InspectReport(source=_source_label(source), format=job.format)
    report.problems.extend(job.problems)
    report.notes.extend(job.notes)
    opts = {"fit": fit, "resample": resample, "alpha": alpha}
    if isinstance(job, ArrayJob):
        result = _load_arrays(job, report, target, channels, opts)
    else:
        guard = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
        result = _load_files(job, report, target, channels, opts, guard, workers, executor)
    # One problem per file and kind (a file listed in two CSV rows, reached by two paths...).
    unique: dict[tuple[str, str], Problem] = {}
    for p in result.report.problems:
        unique.setdefault((p.path, p.kind), p)
    result.report.problems[:] = unique.values()
    if not result.report.ok and not allow_empty:
        raise DataError(nothing_usable_message(result.report))
    return result


def load_builtin(name: str, **options) -> LoadResult:
    """An embedded demo set (``load("builtin:NAME")``); see :mod:`ganaug.data.builtin`."""
    return load(f"builtin:{name}", **options)


def inspect(source, *, csv=None, resolution=None, channels=None, **load_options) -> InspectReport:
    """Load ``source`` like :func:`load` and return the report, even when nothing is usable
    (``report.ok`` is False then). Nothing in the source is modified."""
    return load(
        source, csv=csv, resolution=resolution, channels=channels, allow_empty=True, **load_options
    ).report


def _source_label(source: Any) -> str:
    if isinstance(source, (list, tuple)):
        return " + ".join(str(s) for s in source)
    return str(source)


def nothing_usable_message(report: InspectReport) -> str:
    skipped = report.skipped
    if report.num_files == 0 and not skipped:
        return (
            f"no images found in {report.source}. Expected one of: DATA/<class>/<image> folders, a flat "
            "folder with --csv labels.csv, a StyleGAN dataset (zip/folder with dataset.json), IDX files, "
            "an .npz with x and y, or builtin:NAME."
        )
    kinds = count(p.kind for p in skipped)
    detail = ", ".join(f"{n} {k}" for k, n in kinds.items())
    first = "; ".join(str(p) for p in skipped[:3])
    return (
        f"no usable images in {report.source}: {len(skipped)} file(s) skipped ({detail}). e.g. {first}. "
        f"Run `ganaug inspect {report.source}` to list every file with its reason."
    )


# ----------------------------------------------------------------------------
# Files: decoded in a pool, in two passes when the resolution is to be chosen


def _load_files(
    job: FileJob, report: InspectReport, target, channels, opts, max_pixels, workers, executor
) -> LoadResult:
    report.num_files = job.num_files if job.num_files is not None else len(job.entries)
    decoding = dict(opts, max_pixels=max_pixels, workers=workers, executor=executor)
    entries, colour_seen = job.entries, channels == 3
    with warnings.catch_warnings():
        # Our own guard skips the file; PIL's warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if target is None:
            entries, target, colour = _choose_resolution(entries, report, decoding)
            colour_seen = colour_seen or (channels is None and colour)
        else:
            report.resolution_reason = f"requested {target[1]}x{target[0]} ({opts['fit']})"
        images, kept, n_gray = _decode_into_array(entries, report, target, channels, colour_seen, decoding)
    if channels is None and n_gray == len(kept) and images.shape[1] == 3:
        images = images[:, :1].copy()  # colour modes, grayscale content (e.g. RGB JPEG scans)

    n = len(kept)
    if channels is None:
        report.channels_reason = (
            "every image is grayscale"
            if n_gray == n
            else "colour images present"
            if n_gray == 0
            else f"mixed: {n_gray} grayscale image(s) converted to RGB"
        )
        if 0 < n_gray < n:
            report.add(
                report.source,
                "mixed-channels",
                f"{n_gray} of {n} images are grayscale, the others colour; all converted to "
                "3 channels (pass --channels 1, or channels=1 in Python, for grayscale)",
            )
    else:
        report.channels_reason = f"requested {channels}"
        if channels == 1 and n_gray < n:
            report.notes.append(f"{n - n_gray} colour image(s) converted to grayscale (luma)")
    labels = np.array([e.label for e, _ in kept], dtype=np.int64)
    return _build_result(
        images, labels, job.class_names, [e.path for e, _ in kept], [h for _, h in kept], None, report
    )


def _choose_resolution(entries: list[Entry], report: InspectReport, decoding: dict):
    """Pass 1, headers only: (readable entries, (H, W) target or None, whether any is in colour)."""
    scanned = list(decode_all(entries, target=None, **decoding))
    for e, d in zip(entries, scanned):
        for kind, reason in d.problems:
            report.add(e.path, kind, reason)
    keep = [i for i, d in enumerate(scanned) if d.ok]
    colour = any(not scanned[i].gray for i in keep)
    sizes = {scanned[i].size for i in keep}
    target = None
    if len(sizes) == 1:
        w, h = next(iter(sizes))
        target = (h, w)
        report.resolution_reason = f"all images are {w}x{h}"
    elif sizes:
        side = median_side([scanned[i].size for i in keep])
        target = (side, side)
        report.resolution_reason = (
            f"sizes differ ({len(sizes)} distinct); median shorter side {side}, "
            f"{decoding['fit']} to {side}x{side}"
        )
    return [entries[i] for i in keep], target, colour


def _decode_into_array(
    entries: list[Entry], report: InspectReport, target, channels, colour_seen: bool, decoding: dict
) -> tuple[np.ndarray, list[tuple[Entry, str]], int]:
    """Pass 2: (uint8 N x C x H x W, (entry, hash) of each image kept, how many are grayscale).

    One preallocated array. It has 1 channel until the first colour image arrives (3 from the
    start when asked for, or when the headers showed colour modes), so grayscale sets never cost
    3 channels and colour sets are not copied."""
    h, w = target if target is not None else (0, 0)
    out = np.empty((len(entries), 3 if colour_seen else 1, h, w), dtype=np.uint8)
    kept: list[tuple[Entry, str]] = []
    sizes, modes, tags = [], [], []
    n_gray = 0
    decoded = decode_all(entries, target=target, **decoding) if entries else []
    for e, d in zip(entries, decoded):
        for kind, reason in d.problems:
            report.add(e.path, kind, reason)
        if not d.ok:
            continue
        k = len(kept)
        arr = d.array
        n_gray += d.gray
        if d.gray:
            out[k] = arr[:1]  # broadcasts to 3 channels when out has 3
        elif out.shape[1] == 3:
            out[k] = arr
        elif channels == 1:
            out[k] = convert_channels(arr, 1)
        else:  # first colour image: widen to 3 channels
            out = np.repeat(out, 3, axis=1)
            out[k] = arr
        kept.append((e, d.hash))
        sizes.append(f"{d.size[0]}x{d.size[1]}")
        modes.append(d.mode)
        tags.extend(d.tags)
    report.sizes, report.modes = count(sizes), count(modes)
    _note_tags(report, tags)
    return out[: len(kept)], kept, n_gray


def _note_tags(report: InspectReport, tags: list[str]) -> None:
    c = count(tags)
    if c.get("dicom-window"):
        report.notes.append(
            f"DICOM: {c['dicom-window']} file(s) mapped to 8 bit with their WindowCenter/Width"
        )
    if c.get("dicom-minmax"):
        report.notes.append(f"DICOM: {c['dicom-minmax']} file(s) without a window mapped min..max to 8 bit")
    if c.get("dicom-rgb"):
        report.notes.append(f"DICOM: {c['dicom-rgb']} colour file(s)")


# ----------------------------------------------------------------------------
# Arrays (IDX, npz): already in memory, resized at once


def _load_arrays(job: ArrayJob, report: InspectReport, target, channels, opts) -> LoadResult:
    images = job.images
    n, c, h, w = images.shape
    report.num_files = n
    report.sizes = {f"{w}x{h}": n} if n else {}
    report.modes = dict(job.modes)
    if target is None:
        target = (h, w)
        report.resolution_reason = f"all images are {w}x{h}"
    else:
        report.resolution_reason = f"requested {target[1]}x{target[0]} ({opts['fit']})"
        s = scale_factor((w, h), target, opts["fit"])
        if n and s > 1.0001:
            report.add(
                report.source,
                "upscaled",
                f"all {n} images ({w}x{h}) are smaller than the "
                f"{target[1]}x{target[0]} target; upscaled x{s:.2f}",
            )
    gray = c == 1 or (
        n > 0 and bool((images[:, 0] == images[:, 1]).all() and (images[:, 1] == images[:, 2]).all())
    )
    if channels is None:
        channels = 1 if gray else 3
        report.channels_reason = "every image is grayscale" if gray else "colour images"
    else:
        report.channels_reason = f"requested {channels}"
    hashes = job.hashes or [pixel_hash(img) for img in images]
    if n:
        images = (
            convert_channels(images, channels) if not (gray and channels == 1 and c == 3) else images[:, :1]
        )
        images = resize_array(images, target, fit=opts["fit"], mode=opts["resample"])
    else:
        images = np.zeros((0, channels, *target), dtype=np.uint8)
    return _build_result(
        np.ascontiguousarray(images), job.labels, job.class_names, job.paths, hashes, job.partition, report
    )


def _build_result(images, labels, class_names, paths, hashes, partition, report: InspectReport) -> LoadResult:
    """Drop empty classes, flag duplicates and class-level issues, fill in the report."""
    present = (
        np.bincount(labels, minlength=len(class_names)) if len(labels) else np.zeros(len(class_names), int)
    )
    keep = [i for i in range(len(class_names)) if present[i] > 0]
    if len(keep) < len(class_names) and len(labels):
        for i in range(len(class_names)):
            if present[i] == 0:
                report.add(
                    class_names[i], "empty-class", f"class {class_names[i]!r} has no usable images; dropped"
                )
        remap = np.full(len(class_names), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        labels = remap[labels]
        class_names = [class_names[i] for i in keep]
    imageset = ImageSet(images, labels, class_names, list(paths), list(hashes))
    report.problems.extend(
        find_duplicates(imageset.hashes, imageset.labels.tolist(), imageset.paths, imageset.class_names)
    )
    report.num_loaded = len(imageset)
    report.class_names = list(imageset.class_names) if len(imageset) else []
    report.counts = imageset.counts() if len(imageset) else {}
    report.resolution = [int(images.shape[2]), int(images.shape[3])] if len(imageset) else None
    report.channels = int(images.shape[1]) if len(imageset) else None
    if partition is not None:
        report.partition = count(partition)
    if len(imageset):
        check_classes(report)
    return LoadResult(imageset, report, partition)
