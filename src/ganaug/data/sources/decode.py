"""Decoding image files, in a pool of threads or processes.

Each file is read, hashed and decoded on its own, and every failure becomes a problem attached
to its :class:`Decoded` (never an exception): one bad file must not stop the load. With
``target`` None only the headers are read (size and mode), which is how the loader chooses a
resolution before decoding anything.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ganaug.data.preprocess import content_is_gray, fit_image, is_gray_mode, normalize_mode, scale_factor
from ganaug.data.sources.dicom import dicom_image, dicom_size, read_dicom
from ganaug.data.sources.jobs import DICOM_EXTS, Entry
from ganaug.utils import sha256_bytes
from ganaug.workers import results_in_order, worker_pool


@dataclass
class Decoded:
    ok: bool
    hash: str = ""
    size: tuple[int, int] | None = None  # (w, h) after EXIF orientation
    mode: str = ""
    gray: bool = False
    array: np.ndarray | None = None  # uint8 C x H x W at the target size (C: 1 or 3)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, reason)
    tags: list[str] = field(default_factory=list)  # informational, aggregated into report notes


def decode_all(
    entries: list[Entry],
    *,
    target: tuple[int, int] | None,
    fit: str,
    resample: str,
    alpha: str,
    max_pixels: int | None,
    workers: int | None,
    executor: str,
) -> Iterator[Decoded]:
    """:func:`decode` of every entry, in order, as they come (so decoded arrays do not pile up)."""
    fn = partial(_decode_chunk, target=target, fit=fit, resample=resample, alpha=alpha, max_pixels=max_pixels)
    return _imap(fn, entries, workers, executor)


def _decode_chunk(entries: list[Entry], **kw) -> list[Decoded]:
    return [decode(e, **kw) for e in entries]


def _imap(
    fn: Callable[[list[Entry]], list[Decoded]], entries: list[Entry], workers: int | None, executor: str
) -> Iterator[Decoded]:
    """``fn`` over chunks of entries in a thread/process pool, yielding results in order; serial for
    small jobs. Processes come from :func:`ganaug.workers.worker_pool`, so they end with this one."""
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    parallel = executor != "serial" and workers > 1 and len(entries) >= 64
    size = max(8, min(256, len(entries) // (workers * 4) or 1)) if parallel else 256
    chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
    if not parallel:
        for chunk in chunks:
            yield from fn(chunk)
        return
    if executor == "process":
        # fork where there is one: the workers need no fresh import of ganaug, PIL and numpy.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        pool = worker_pool(workers, start_method=method)
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
    with pool as ex:
        futures = [ex.submit(fn, chunk) for chunk in chunks]
        try:
            for part in results_in_order(futures):  # wakes up for Ctrl-C, unlike Executor.map
                yield from part
        finally:  # stopped early (an error, Ctrl-C, the consumer): the chunks not started are dropped
            for f in futures:
                f.cancel()


_ZIPS: dict[tuple[int, str], zipfile.ZipFile] = {}


def _read_bytes(entry: Entry) -> bytes:
    if entry.member is None:
        with open(entry.file, "rb") as f:
            return f.read()
    key = (os.getpid(), entry.file)  # per process: a forked child must not share the parent's handle
    zf = _ZIPS.get(key)
    if zf is None:
        zf = _ZIPS.setdefault(key, zipfile.ZipFile(entry.file))
    return zf.read(entry.member)


def decode(
    entry: Entry, target: tuple[int, int] | None, fit: str, resample: str, alpha: str, max_pixels: int | None
) -> Decoded:
    """Read one file. ``target`` None: header only (size, mode); else decode and fit to target."""
    try:
        data = _read_bytes(entry)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        return Decoded(False, problems=[("unreadable", f"cannot read: {e}")])
    if not data:
        return Decoded(False, problems=[("empty-file", "empty file (0 bytes)")])
    digest = sha256_bytes(data) if target is not None else ""
    try:
        ext = os.path.splitext(entry.member or entry.file)[1].lower()
        if ext in DICOM_EXTS or data[128:132] == b"DICM":
            out = _decode_dicom(data, target, fit, resample)
        else:
            out = _decode_pil(data, target, fit, resample, alpha, max_pixels)
    except MemoryError:
        return Decoded(False, problems=[("too-large", "out of memory while decoding")])
    except Exception as e:  # noqa: BLE001 -- a bad file must never stop the load
        return Decoded(False, problems=[("corrupt", f"cannot decode: {type(e).__name__}: {e}")])
    out.hash = digest
    return out


def _decode_pil(data: bytes, target, fit, resample, alpha, max_pixels) -> Decoded:
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return Decoded(False, problems=[("not-image", "not an image: the content is no known image format")])
    except Image.DecompressionBombError as e:
        return Decoded(False, problems=[("too-large", f"exceeds the decompression-bomb guard: {e}")])
    w, h = im.size
    if max_pixels and w * h > max_pixels:
        return Decoded(
            False,
            problems=[
                (
                    "too-large",
                    (
                        f"{w}x{h} = {w * h} pixels exceeds the decompression-bomb "
                        f"guard of {max_pixels} (PIL.Image.MAX_IMAGE_PIXELS)"
                    ),
                )
            ],
        )
    problems = []
    mode = im.mode
    frames = getattr(im, "n_frames", 1) if getattr(im, "is_animated", False) else 1
    gray = is_gray_mode(im)
    if target is None:
        # Header only. PNG keeps EXIF anywhere in the file (getexif() would decode the whole image),
        # so only formats with EXIF in the header are checked here; the decode pass sees all.
        if im.format in _EXIF_IN_HEADER and _orientation(im) in (5, 6, 7, 8):
            w, h = h, w
        return Decoded(True, size=(w, h), mode=mode, gray=gray)

    if frames > 1:
        im.seek(0)
        problems.append(("animated", f"{frames} frames ({im.format}); first frame used"))
    im.load()  # raises on truncated / corrupt data
    orientation = _orientation(im)
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    if orientation != 1:
        im = ImageOps.exif_transpose(im)
        problems.append(("exif-rotated", f"EXIF orientation {orientation} applied"))
    im, note = normalize_mode(im, alpha=alpha)
    if note:
        problems.append(("converted", note))
    return _fit_decoded(im, (w, h), mode, target, fit, resample, problems)


_EXIF_IN_HEADER = {"JPEG", "MPO", "TIFF", "WEBP"}


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 -- broken EXIF: ignore it
        return 1


def _decode_dicom(data: bytes, target, fit, resample) -> Decoded:
    ds = read_dicom(data, pixels=target is not None)
    if ds is None:
        return Decoded(
            False,
            problems=[
                ("missing-dependency", "DICOM needs pydicom: pip install 'ganaug[dicom]' (or pydicom)")
            ],
        )
    size, gray = dicom_size(ds)
    if target is None:
        return Decoded(True, size=size, mode="DICOM", gray=gray)
    im, problems, tags = dicom_image(ds)
    return _fit_decoded(im, size, "DICOM", target, fit, resample, problems, tags)


def _fit_decoded(im, size, mode, target, fit, resample, problems, tags=()) -> Decoded:
    """A decoded PIL image (mode L or RGB) fitted to ``target`` as a uint8 C x H x W array."""
    s = scale_factor(size, target, fit)
    if s > 1.0001:
        problems.append(
            (
                "upscaled",
                (
                    f"{size[0]}x{size[1]} is smaller than the {target[1]}x{target[0]} "
                    f"target; upscaled x{s:.2f}"
                ),
            )
        )
    im = fit_image(im, target, fit=fit, resample=resample)
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    arr = np.ascontiguousarray(arr)
    gray = content_is_gray(arr)
    return Decoded(True, size=size, mode=mode, gray=gray, array=arr, problems=problems, tags=list(tags))
