"""Readers for every supported data layout, behind one entry point: :func:`load`.

Layouts (auto-detected):

* image folder: ``DATA/<class>/**/<image>`` (torchvision ImageFolder, recursive);
* flat folder + CSV of ``filename,label`` (``csv=`` or a single CSV next to the images; file
  extensions may be missing from the CSV, as in the diabetic-retinopathy ``trainLabels.csv``);
* StyleGAN dataset (zip or folder with ``dataset.json`` ``{"labels": [["path", int], ...]}``),
  read and written (:func:`write_stylegan_dataset`);
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

import csv as csvlib
import gzip
import io
import json
import os
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.data.preprocess import (
    as_hw,
    check_options,
    content_is_gray,
    convert_channels,
    fit_image,
    is_gray_mode,
    median_side,
    normalize_mode,
    rescale_to_uint8,
    resize_array,
    scale_factor,
)
from ganaug.data.validate import InspectReport, Problem, check_classes, count, find_duplicates
from ganaug.errors import DataError, UserError
from ganaug.utils import sha256_bytes

IMAGE_EXTS = {
    ".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp",
    ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".qoi", ".avif", ".jp2", ".j2k", ".ico",
}
DICOM_EXTS = {".dcm", ".dicom"}
CANDIDATE_EXTS = IMAGE_EXTS | DICOM_EXTS
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}

FASHION_MNIST_CLASSES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                         "ankle-boot"]


@dataclass
class LoadResult:
    imageset: ImageSet
    report: InspectReport
    partition: list[str] | None = None  # predefined "train"/"test" per image (IDX t10k, builtin sets)


# ----------------------------------------------------------------------------
# Jobs: what a layout reader hands to the loader


@dataclass
class Entry:
    """One image file to decode: a file on disk, or a member of a zip."""

    path: str  # provenance shown to the user (file path, or "archive.zip#member")
    label: int
    file: str  # what to open on disk
    member: str | None = None  # zip member name


@dataclass
class FileJob:
    format: str
    entries: list[Entry]
    class_names: list[str]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    num_files: int | None = None  # candidates examined (defaults to len(entries) + problems)


@dataclass
class ArrayJob:
    format: str
    images: np.ndarray  # uint8 N x C x H x W, native size
    labels: np.ndarray
    class_names: list[str]
    paths: list[str]
    hashes: list[str] | None = None  # None: pixel hashes
    partition: list[str] | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------------------
# Public entry point


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

    label = _source_label(source)
    job = _detect(source, csv=csv, classes=classes)
    report = InspectReport(source=label, format=job.format)
    report.problems.extend(job.problems)
    report.notes.extend(job.notes)
    opts = {"fit": fit, "resample": resample, "alpha": alpha}
    if isinstance(job, ArrayJob):
        result = _load_arrays(job, report, target, channels, opts)
    else:
        from PIL import Image

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


def _source_label(source: Any) -> str:
    if isinstance(source, (list, tuple)):
        return " + ".join(str(s) for s in source)
    return str(source)


def nothing_usable_message(report: InspectReport) -> str:
    skipped = report.skipped
    if report.num_files == 0 and not skipped:
        return (f"no images found in {report.source}. Expected one of: DATA/<class>/<image> folders, a flat "
                "folder with --csv labels.csv, a StyleGAN dataset (zip/folder with dataset.json), IDX files, "
                "an .npz with x and y, or builtin:NAME.")
    kinds = count(p.kind for p in skipped)
    detail = ", ".join(f"{n} {k}" for k, n in kinds.items())
    first = "; ".join(str(p) for p in skipped[:3])
    return (f"no usable images in {report.source}: {len(skipped)} file(s) skipped ({detail}). e.g. {first}. "
            f"Run `ganaug inspect {report.source}` to list every file with its reason.")


# ----------------------------------------------------------------------------
# Layout detection


def _detect(source: Any, *, csv, classes) -> FileJob | ArrayJob:
    if isinstance(source, (list, tuple)):
        if len(source) != 2:
            raise UserError("a pair of files must be (images, labels) IDX files")
        return _idx_job([(Path(source[0]), Path(source[1]))], classes)
    s = str(source)
    if s.startswith("builtin:"):
        from ganaug.data.builtin import builtin_path

        job = _npz_job(builtin_path(s.split(":", 1)[1]), classes, label=s)
        job.format = "builtin"
        return job
    path = Path(source)
    if not path.exists():
        raise UserError(f"{source} does not exist")
    if csv is not None:
        csv = Path(csv)
        if not csv.is_file():
            raise UserError(f"CSV file {csv} does not exist")
        return _csv_job(path if path.is_dir() else path.parent, csv)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".zip":
            return _zip_job(path)
        if suffix == ".npz":
            return _npz_job(path, classes)
        if suffix == ".csv":
            return _csv_job(path.parent, path)
        if _is_idx(path):
            return _idx_job([(path, _idx_label_file(path))], classes)
        if suffix in CANDIDATE_EXTS:
            raise UserError(f"{source} is a single image; point at the folder that holds the data set")
        raise UserError(f"{source}: unknown data format (expected a folder, .zip, .npz, .csv or IDX file)")
    # A folder.
    if (path / "dataset.json").is_file():
        return _stylegan_dir_job(path)
    pairs = _idx_pairs(path)
    if pairs:
        return _idx_job(pairs, classes)
    top_files = [p for p in sorted(path.iterdir()) if p.is_file() and p.name not in IGNORED_NAMES]
    csvs = [p for p in top_files if p.suffix.lower() == ".csv"]
    top_images = [p for p in top_files if p.suffix.lower() in CANDIDATE_EXTS]
    subdirs = [p for p in path.iterdir() if p.is_dir() and not _hidden(p.name)]
    if len(csvs) == 1 and top_images:
        return _csv_job(path, csvs[0])
    if top_images and not subdirs:
        raise UserError(
            f"{source} holds images but no class folders and no labels CSV. Either put each class in its own "
            "sub-folder (DATA/<class>/<image>) or pass --csv labels.csv with filename,label rows."
        )
    unreadable: list[Problem] = []
    rels = [p.relative_to(path).as_posix() for p in _walk(path, problems=unreadable)]
    job = _tree_job(rels, lambda rel: (str(path / rel), str(path / rel), None), fmt="image-folder",
                    class_dirs=[d.name for d in subdirs if str(d) not in {p.path for p in unreadable}])
    job.problems[:0] = unreadable
    return job


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_NAMES


def _walk(root: Path, skip_hidden: bool = True, problems: list[Problem] | None = None) -> list[Path]:
    """Files under root, sorted, without hidden files/folders. Symlinked folders are followed (a
    class folder is often a link to data stored elsewhere), except links back to a folder above
    them, which would loop. A folder that cannot be listed becomes an "unreadable" problem."""
    out = []
    chains: dict[str, frozenset[str]] = {}  # folder -> real paths of it and its ancestors

    def onerror(e: OSError) -> None:
        if problems is not None:
            why = ("permission denied" if isinstance(e, PermissionError) else f"cannot list it ({e.strerror or e})")
            problems.append(Problem(str(e.filename), "unreadable", f"folder not readable: {why}; its images are "
                                                                   "skipped"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        chain = chains.pop(dirpath, frozenset()) | {os.path.realpath(dirpath)}
        keep = []
        for d in sorted(dirnames):
            sub = os.path.join(dirpath, d)
            if (skip_hidden and _hidden(d)) or os.path.realpath(sub) in chain:
                continue
            chains[sub] = chain
            keep.append(d)
        dirnames[:] = keep
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not (skip_hidden and _hidden(f)))
    return out


def _tree_job(rels: list[str], locate: Callable[[str], tuple[str, str, str | None]], *, fmt: str,
              class_dirs: Sequence[str] = ()) -> FileJob:
    """ImageFolder layout from relative posix paths: the first path component is the class.
    ``class_dirs``: class folders, including empty ones (reported and dropped later)."""
    classes = sorted({r.split("/", 1)[0] for r in rels if "/" in r} | set(class_dirs))
    index = {c: i for i, c in enumerate(classes)}
    entries, problems = [], []
    for rel in rels:
        shown, file, member = locate(rel)
        ext = Path(rel).suffix.lower()
        if ext not in CANDIDATE_EXTS:
            problems.append(Problem(shown, "not-image", f"not an image file extension ({ext or 'none'}); ignored"))
            continue
        if "/" not in rel:
            problems.append(Problem(shown, "unlabelled",
                                    "not inside a class folder (expected DATA/<class>/<image>); ignored"))
            continue
        entries.append(Entry(shown, index[rel.split("/", 1)[0]], file, member))
    return FileJob(fmt, entries, classes, problems, num_files=len(rels))


# ----------------------------------------------------------------------------
# CSV layout


_FILE_HEADERS = {"filename", "file", "image", "images", "image_id", "id", "path", "name", "file_name", "img"}
_LABEL_HEADERS = {"label", "labels", "level", "class", "category", "target", "y", "diagnosis", "class_name"}


def _csv_job(root: Path, csv_path: Path) -> FileJob:
    text = csv_path.read_text(encoding="utf-8-sig", errors="replace")
    try:
        dialect = csvlib.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csvlib.Error:
        dialect = csvlib.excel
    rows = [r for r in csvlib.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{csv_path} is empty; expected filename,label rows")
    # Index the files: by relative path and by relative path without extension.
    problems: list[Problem] = []
    files = [p for p in _walk(root, problems=problems) if p.resolve() != csv_path.resolve()]
    by_rel = {p.relative_to(root).as_posix(): p for p in files}
    by_stem: dict[str, list[Path]] = {}
    for rel, p in by_rel.items():
        if p.suffix.lower() in CANDIDATE_EXTS:
            by_stem.setdefault(rel[: -len(p.suffix)], []).append(p)

    def find(name: str) -> Path | None:
        norm = name.replace("\\", "/")
        while norm.startswith("./"):
            norm = norm[2:]
        if norm in by_rel:
            return by_rel[norm]
        if os.path.isabs(name) and Path(name).is_file():
            return Path(name)
        cands = by_stem.get(norm) or by_stem.get(norm.rsplit(".", 1)[0] if "." in norm else norm)
        return cands[0] if cands else None  # extension missing from the CSV (retinopathy layout)

    # Header: known column names, or a first row naming no file when the second one does.
    fcol, lcol, start = 0, 1, 0
    head = [c.strip().lower() for c in rows[0]]
    if (head and head[0] in _FILE_HEADERS) or any(h in _LABEL_HEADERS for h in head[1:]):
        start = 1
        fcol = next((i for i, h in enumerate(head) if h in _FILE_HEADERS), 0)
        lcol = next((i for i, h in enumerate(head) if h in _LABEL_HEADERS and i != fcol), 1 if fcol == 0 else 0)
    elif len(rows) > 1 and find(rows[0][0].strip()) is None and find(rows[1][0].strip()) is not None:
        start = 1
    if max(len(r) for r in rows[start:] or [[]]) < 2:
        raise DataError(f"{csv_path} needs two columns: filename,label")

    assigned: dict[Path, str] = {}
    for n, row in enumerate(rows[start:], start=start + 1):
        name = row[fcol].strip() if len(row) > fcol else ""
        lab = row[lcol].strip() if len(row) > lcol else ""
        if not name:
            continue
        match = find(name)
        if match is None:
            problems.append(Problem(str(root / name), "missing-file",
                                    f"listed in {csv_path.name} row {n} (label {lab!r}) but no such file"))
            continue
        if not lab:
            problems.append(Problem(str(match), "unlabelled", f"empty label in {csv_path.name} row {n}"))
            continue
        if match in assigned:
            if assigned[match] != lab:
                problems.append(Problem(str(match), "conflicting-rows",
                                        f"listed again in {csv_path.name} row {n} with label {lab!r}; "
                                        f"keeping the first label {assigned[match]!r}"))
            continue
        assigned[match] = lab

    # Files without a row.
    for p in files:
        if p in assigned:
            continue
        if p.suffix.lower() in CANDIDATE_EXTS:
            problems.append(Problem(str(p), "unlabelled", f"no row for this file in {csv_path.name}; ignored"))
        elif p.suffix.lower() != ".csv":
            problems.append(Problem(str(p), "not-image",
                                    f"not an image file extension ({p.suffix or 'none'}); ignored"))

    labels = sorted(set(assigned.values()), key=_label_key)
    index = {c: i for i, c in enumerate(labels)}
    entries = [Entry(str(p), index[lab], str(p)) for p, lab in sorted(assigned.items(), key=lambda kv: str(kv[0]))]
    return FileJob("csv", entries, labels, problems, num_files=len(files))


def _label_key(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


# ----------------------------------------------------------------------------
# Zip files and StyleGAN datasets


def _zip_job(path: Path) -> FileJob:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not a readable zip file ({e})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
        member = {_zip_name(i): i.filename for i in infos}  # name as written -> name to read it by
        names = list(member)
        if "dataset.json" in names:
            meta = _read_dataset_json(zf.read(member["dataset.json"]), f"{path}#dataset.json")
            return _stylegan_job(meta, names, lambda m: (f"{path}#{m}", str(path), member.get(m, m)),
                                 "stylegan-zip")
    names = [n for n in names if not any(_hidden(part) for part in n.split("/"))]
    # A zip of a folder often has one top folder holding the class folders: strip it.
    tops = {n.split("/", 1)[0] for n in names}
    prefix = ""
    if len(tops) == 1 and all("/" in n for n in names) and any(n.count("/") >= 2 for n in names):
        prefix = next(iter(tops)) + "/"
    rels = [n[len(prefix):] for n in names]
    return _tree_job(rels, lambda rel: (f"{path}#{prefix + rel}", str(path), member[prefix + rel]),
                     fmt="zip-image-folder")


def _zip_name(info: zipfile.ZipInfo) -> str:
    """A member's name as written. Info-ZIP (the `zip` command) and other tools store UTF-8 names
    without the UTF-8 flag; zipfile then decodes them as cp437, which garbles non-ASCII class names."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:  # really cp437 (or another legacy code page): keep zipfile's reading
        return info.filename


def _stylegan_dir_job(path: Path) -> FileJob:
    meta = _read_dataset_json((path / "dataset.json").read_bytes(), str(path / "dataset.json"))
    names = [p.relative_to(path).as_posix() for p in _walk(path)]
    names = [n for n in names if n != "dataset.json"]
    return _stylegan_job(meta, names, lambda m: (str(path / m), str(path / m), None), "stylegan-folder")


def _read_dataset_json(raw: bytes, where: str) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{where} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{where} must hold an object with a 'labels' key")
    return meta


def _stylegan_job(meta: dict, names: list[str], locate, fmt: str) -> FileJob:
    images = [n for n in names if Path(n).suffix.lower() in CANDIDATE_EXTS]
    problems: list[Problem] = []
    notes: list[str] = []
    raw = meta.get("labels")
    given = meta.get("class_names") or []
    if not isinstance(given, list):
        raise DataError(f"dataset.json: 'class_names' must be a list of names, got {type(given).__name__}")
    if raw is None:
        labels = {n: 0 for n in images}
        class_names = [str(c) for c in given or ["all"]][:1]
        notes.append("dataset.json has no labels: every image is in one class")
    else:
        if not isinstance(raw, list):
            raise DataError(f"dataset.json: 'labels' must be a list of [file, label] pairs, got "
                            f"{type(raw).__name__}")
        labels = {}
        for item in raw:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
                shown = item[0] if isinstance(item, list) and item and isinstance(item[0], str) else None
                problems.append(Problem(locate(shown)[0] if shown else "dataset.json", "bad-label",
                                        f"dataset.json entry {item!r} is not a [file, label] pair; ignored"))
                continue
            name, lab = item
            if isinstance(lab, list) and lab and all(_is_int(v) or isinstance(v, float) for v in lab):
                lab = int(np.argmax(lab))  # one-hot vectors are allowed by StyleGAN2-ADA
            if not _is_int(lab) or lab < 0:
                problems.append(Problem(locate(name)[0], "bad-label",
                                        f"label {lab!r} in dataset.json is not a class index (0, 1, 2, ...); ignored"))
                continue
            labels[name] = int(lab)
        # Class names for the labels present only: a stray label of 10**9 must not make 10**9 names.
        class_names = [str(c) for c in given]
        extra = sorted({v for v in labels.values() if v >= len(class_names)})
        remap = {v: len(class_names) + i for i, v in enumerate(extra)}
        class_names += [str(v) for v in extra]
        labels = {n: remap.get(v, v) for n, v in labels.items()}
    present = set(images)
    entries = []
    for n in images:
        shown, file, member = locate(n)
        if n not in labels:
            problems.append(Problem(shown, "unlabelled", "no label for this file in dataset.json; ignored"))
            continue
        entries.append(Entry(shown, labels[n], file, member))
    for n in labels:
        if n not in present:
            problems.append(Problem(locate(n)[0], "missing-file", "listed in dataset.json but no such file"))
    for n in names:
        if n not in present and n != "dataset.json":
            problems.append(Problem(locate(n)[0], "not-image", "not an image file extension; ignored"))
    return FileJob(fmt, entries, class_names, problems, notes, num_files=len(names))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


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
    from PIL import Image

    from ganaug.utils import atomic_open, atomic_write_bytes

    dest = Path(dest)
    names = list(class_names) if class_names is not None else list(imageset.class_names)
    if len(names) != imageset.num_classes:
        raise UserError(f"{len(names)} class names given for {imageset.num_classes} classes")
    if dest.exists() and not overwrite and (dest.is_file() or any(dest.iterdir())):
        raise UserError(f"{dest} already exists; choose another path or pass overwrite=True")

    def png(img: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)).save(buf, format="PNG")
        return buf.getvalue()

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
                zf.writestr(name, png(img))
            zf.writestr("dataset.json", meta_bytes)
    else:
        for name, img in zip(files, imageset.images):
            atomic_write_bytes(dest / name, png(img))
        atomic_write_bytes(dest / "dataset.json", meta_bytes)
    return dest


# ----------------------------------------------------------------------------
# IDX (MNIST family)


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open_maybe_gz(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: corrupt gzip data ({e})") from None
    return raw


def _is_idx(path: Path) -> bool:
    name = path.name.lower()
    return "idx" in name or "ubyte" in name


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


def _idx_label_file(images: Path) -> Path:
    name = images.name
    for a, b in (("images", "labels"), ("idx3", "idx1")):
        name = name.replace(a, b)
    cand = images.with_name(name)
    if cand == images or not cand.exists():
        raise UserError(f"cannot find the label file for {images} (looked for {cand.name}); pass "
                        "(images, labels) as a pair")
    return cand


def _idx_pairs(folder: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for p in sorted(folder.iterdir()):
        n = p.name.lower()
        if p.is_file() and "idx3" in n and "images" in n:
            try:
                pairs.append((p, _idx_label_file(p)))
            except UserError:
                continue
    # Training files first, then the test files.
    return sorted(pairs, key=lambda ab: (_idx_partition(ab[0]) == "test", ab[0].name))


def _idx_partition(path: Path) -> str:
    n = path.name.lower()
    return "test" if n.startswith("t10k") or "test" in n else "train"


def _idx_job(pairs: list[tuple[Path, Path]], classes) -> ArrayJob:
    xs, ys, paths, part = [], [], [], []
    for img_path, lab_path in pairs:
        x, y = read_idx(img_path), read_idx(lab_path)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{img_path} / {lab_path}: expected N x H x W images and N labels, got "
                            f"{x.shape} and {y.shape}")
        xs.append(_to_uint8_nchw(x, str(img_path))[0])
        ys.append(y.astype(np.int64))
        paths += [f"{img_path}#{i}" for i in range(len(x))]
        part += [_idx_partition(img_path)] * len(x)
    y = np.concatenate(ys)
    if classes is None:
        k = int(y.max()) + 1 if len(y) else 0
        fashion = any("fashion" in str(p).lower() for p, _ in pairs)
        classes = FASHION_MNIST_CLASSES[:k] if fashion and k <= 10 else [str(i) for i in range(k)]
    partition = part if len(set(part)) > 1 else None
    return ArrayJob("idx", np.concatenate(xs), y, list(classes), paths, partition=partition,
                    modes={"uint8 (IDX)": len(y)})


# ----------------------------------------------------------------------------
# npz


def _npz_job(path: Path, classes, label: str | None = None) -> ArrayJob:
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
                    raise DataError(f"{path} needs arrays 'x' (images) and 'y' (labels); it has {sorted(keys)}")
                x, y = z[xk], z[yk]
                part = [str(s) for s in z["partition"]] if "partition" in keys else None
            names = [str(s) for s in z["classes"]] if "classes" in keys else None
            paths = [str(s) for s in z["paths"]] if "paths" in keys else None
            hashes = [str(s) for s in z["hashes"]] if "hashes" in keys else None
        except ValueError as e:  # object arrays need pickle
            raise DataError(f"{path}: {e}. Save strings as plain string arrays (np.array(list_of_str)).") from None
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise DataError(f"{path}: {len(x)} images but {len(y)} labels")
    if y.dtype.kind in "US":  # string labels
        names = names or sorted(set(y.tolist()), key=_label_key)
        index = {c: i for i, c in enumerate(names)}
        try:
            y = np.array([index[v] for v in y.tolist()], dtype=np.int64)
        except KeyError as e:
            raise DataError(f"{path}: label {e} is not in 'classes'") from None
    else:
        y = y.astype(np.int64)
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
            bad_pixels = [Problem(paths[i], "nan-pixels", "NaN or infinite pixel values; image skipped")
                          for i in np.flatnonzero(~finite)]
            x, y = x[keep], y[keep]
            paths = [paths[i] for i in keep]
            hashes = [hashes[i] for i in keep] if hashes is not None and len(hashes) == len(finite) else None
            part = [part[i] for i in keep] if part is not None and len(part) == len(finite) else None
    images, note = _to_uint8_nchw(x, str(path))
    if hashes is not None and len(hashes) != len(images):
        hashes = None
    if part is not None and (len(part) != len(images) or len(set(part)) < 2):
        part = None
    notes = [note] if note else []
    return ArrayJob("npz", images, y, names, paths, hashes, part, problems=bad_pixels, notes=notes,
                    modes={f"{np.asarray(x).dtype} array": len(images)})


def _to_uint8_nchw(x: np.ndarray, where: str) -> tuple[np.ndarray, str | None]:
    """Any N x H x W / N x H x W x C / N x C x H x W array -> uint8 N x C x H x W, C in (1, 3)."""
    note = None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[1] in (1, 2, 3, 4) and x.shape[3] not in (1, 2, 3, 4):
            pass  # NCHW
        elif x.shape[3] in (1, 2, 3, 4):
            x = x.transpose(0, 3, 1, 2)  # NHWC
        elif x.shape[1] not in (1, 2, 3, 4):
            raise DataError(f"{where}: cannot tell the channel axis of images shaped {x.shape}")
    else:
        raise DataError(f"{where}: images must be N x H x W or N x H x W x C, got shape {x.shape}")
    if x.dtype != np.uint8:
        xf = x.astype(np.float32)
        lo, hi = (float(xf.min()), float(xf.max())) if xf.size else (0.0, 1.0)
        if x.dtype.kind == "f" and lo >= 0 and hi <= 1:
            x, note = np.rint(xf * 255).astype(np.uint8), "float images in [0, 1] scaled to 0..255"
        elif x.dtype.kind == "f" and lo >= -1 and hi <= 1:
            x, note = np.rint((xf + 1) * 127.5).astype(np.uint8), "float images in [-1, 1] scaled to 0..255"
        elif lo >= 0 and hi <= 255:
            x = np.rint(xf).astype(np.uint8)
        else:
            x, note = rescale_to_uint8(xf, lo, hi), f"{x.dtype} images rescaled from {lo:g}..{hi:g} to 0..255"
    c = x.shape[1]
    if c in (2, 4):  # alpha: composite on white (as for files)
        rgb, a = x[:, : c - 1].astype(np.float32), x[:, c - 1 :].astype(np.float32) / 255
        x = np.rint(rgb * a + 255 * (1 - a)).astype(np.uint8)
        note = "alpha composited on white"
    return np.ascontiguousarray(x), note


# ----------------------------------------------------------------------------
# Decoding files (runs in worker threads or processes)


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


def _decode(entry: Entry, target: tuple[int, int] | None, fit: str, resample: str, alpha: str,
            max_pixels: int | None) -> Decoded:
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
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return Decoded(False, problems=[("not-image", "not an image: the content is no known image format")])
    except Image.DecompressionBombError as e:
        return Decoded(False, problems=[("too-large", f"exceeds the decompression-bomb guard: {e}")])
    w, h = im.size
    if max_pixels and w * h > max_pixels:
        return Decoded(False, problems=[("too-large", (f"{w}x{h} = {w * h} pixels exceeds the decompression-bomb "
                                                      f"guard of {max_pixels} (PIL.Image.MAX_IMAGE_PIXELS)"))])
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
    return _finish_pil(im, (w, h), mode, target, fit, resample, problems)


_EXIF_IN_HEADER = {"JPEG", "MPO", "TIFF", "WEBP"}


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 -- broken EXIF: ignore it
        return 1


def _finish_pil(im, size, mode, target, fit, resample, problems, tags=()) -> Decoded:
    s = scale_factor(size, target, fit)
    if s > 1.0001:
        problems.append(("upscaled", (f"{size[0]}x{size[1]} is smaller than the {target[1]}x{target[0]} "
                                     f"target; upscaled x{s:.2f}")))
    im = fit_image(im, target, fit=fit, resample=resample)
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    arr = np.ascontiguousarray(arr)
    gray = content_is_gray(arr)
    return Decoded(True, size=size, mode=mode, gray=gray, array=arr, problems=problems, tags=list(tags))


def _decode_dicom(data: bytes, target, fit, resample) -> Decoded:
    try:
        import pydicom
    except ImportError:
        return Decoded(False, problems=[("missing-dependency",
                                         "DICOM needs pydicom: pip install 'ganaug[dicom]' (or pydicom)")])
    from PIL import Image

    ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=target is None)
    rows, cols = int(ds.Rows), int(ds.Columns)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if target is None:
        return Decoded(True, size=(cols, rows), mode="DICOM", gray=spp == 1)
    problems, tags = [], []
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[0]
        problems.append(("animated", f"{frames} frames (DICOM); first frame used"))
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if spp == 1:
        values = arr.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(
            ds.get("RescaleIntercept", 0) or 0)
        center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
        if center is not None and width is not None and width > 0:
            img8 = rescale_to_uint8(values, center - width / 2, center + width / 2)
            tags.append("dicom-window")
        else:
            img8 = rescale_to_uint8(values)
            tags.append("dicom-minmax")
        if photometric == "MONOCHROME1":  # 0 is white
            img8 = 255 - img8
        im = Image.fromarray(img8)
    else:
        rgb = arr if arr.dtype == np.uint8 else rescale_to_uint8(arr)
        im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
        tags.append("dicom-rgb")
    return _finish_pil(im, (cols, rows), "DICOM", target, fit, resample, problems, tags)


def _first(v) -> float | None:
    if v is None:
        return None
    try:
        if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
            v = v[0]
        return float(v)
    except (TypeError, ValueError, IndexError):
        return None


def _decode_chunk(entries: list[Entry], **kw) -> list[Decoded]:
    return [_decode(e, **kw) for e in entries]


def _imap(fn, entries: list[Entry], workers: int | None, executor: str) -> Iterator[Decoded]:
    """``fn`` over chunks of entries in a thread/process pool, yielding results in order as they
    come (so decoded arrays do not pile up); serial for small jobs."""
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
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
    with pool:
        for part in pool.map(fn, chunks):
            yield from part


# ----------------------------------------------------------------------------
# Loaders


def _load_files(job: FileJob, report: InspectReport, target, channels, opts, max_pixels, workers,
                executor) -> LoadResult:
    from PIL import Image

    entries = job.entries
    report.num_files = job.num_files if job.num_files is not None else len(entries)
    kw = {"fit": opts["fit"], "resample": opts["resample"], "alpha": opts["alpha"], "max_pixels": max_pixels}
    colour_seen = channels == 3
    with warnings.catch_warnings():
        # Our own guard skips the file; PIL's warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if target is None:
            # Pass 1: headers only, to choose the resolution.
            scanned = list(_imap(partial(_decode_chunk, target=None, **kw), entries, workers, executor))
            for e, d in zip(entries, scanned):
                for kind, reason in d.problems:
                    report.add(e.path, kind, reason)
            keep = [i for i, d in enumerate(scanned) if d.ok]
            entries = [entries[i] for i in keep]
            colour_seen = colour_seen or (channels is None and any(not scanned[i].gray for i in keep))
            sizes = {scanned[i].size for i in keep}
            if len(sizes) == 1:
                w, h = next(iter(sizes))
                target = (h, w)
                report.resolution_reason = f"all images are {w}x{h}"
            elif sizes:
                side = median_side([scanned[i].size for i in keep])
                target = (side, side)
                report.resolution_reason = (f"sizes differ ({len(sizes)} distinct); median shorter side {side}, "
                                            f"{opts['fit']} to {side}x{side}")
        else:
            report.resolution_reason = f"requested {target[1]}x{target[0]} ({opts['fit']})"

        # Pass 2: decode into one preallocated array. It has 1 channel until the first colour
        # image arrives (3 from the start when asked for, or when the headers showed colour
        # modes), so grayscale sets never cost 3 channels and colour sets are not copied.
        h, w = target if target is not None else (0, 0)
        out = np.empty((len(entries), 3 if colour_seen else 1, h, w), dtype=np.uint8)
        labels, paths, hashes, sizes, modes, tags = [], [], [], [], [], []
        n_gray = 0
        decoded = _imap(partial(_decode_chunk, target=target, **kw), entries, workers, executor) if entries else []
        for e, d in zip(entries, decoded):
            for kind, reason in d.problems:
                report.add(e.path, kind, reason)
            if not d.ok:
                continue
            k = len(labels)
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
            labels.append(e.label)
            paths.append(e.path)
            hashes.append(d.hash)
            sizes.append(f"{d.size[0]}x{d.size[1]}")
            modes.append(d.mode)
            tags.extend(d.tags)
    images = out[: len(labels)]
    if channels is None and n_gray == len(labels) and images.shape[1] == 3:
        images = images[:, :1].copy()  # colour modes, grayscale content (e.g. RGB JPEG scans)
    report.sizes, report.modes = count(sizes), count(modes)
    _note_tags(report, tags)

    n = len(labels)
    if channels is None:
        report.channels_reason = ("every image is grayscale" if n_gray == n else
                                  "colour images present" if n_gray == 0 else
                                  f"mixed: {n_gray} grayscale image(s) converted to RGB")
        if 0 < n_gray < n:
            report.add(report.source, "mixed-channels",
                       f"{n_gray} of {n} images are grayscale, the others colour; all converted to "
                       "3 channels (pass --channels 1, or channels=1 in Python, for grayscale)")
    else:
        report.channels_reason = f"requested {channels}"
        if channels == 1 and n_gray < n:
            report.notes.append(f"{n - n_gray} colour image(s) converted to grayscale (luma)")
    return _finish(images, np.array(labels, dtype=np.int64), job.class_names, paths, hashes, None, report)


def _note_tags(report: InspectReport, tags: list[str]) -> None:
    c = count(tags)
    if c.get("dicom-window"):
        report.notes.append(f"DICOM: {c['dicom-window']} file(s) mapped to 8 bit with their WindowCenter/Width")
    if c.get("dicom-minmax"):
        report.notes.append(f"DICOM: {c['dicom-minmax']} file(s) without a window mapped min..max to 8 bit")
    if c.get("dicom-rgb"):
        report.notes.append(f"DICOM: {c['dicom-rgb']} colour file(s)")


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
            report.add(report.source, "upscaled", f"all {n} images ({w}x{h}) are smaller than the "
                                                  f"{target[1]}x{target[0]} target; upscaled x{s:.2f}")
    gray = c == 1 or (n > 0 and bool((images[:, 0] == images[:, 1]).all() and (images[:, 1] == images[:, 2]).all()))
    if channels is None:
        channels = 1 if gray else 3
        report.channels_reason = "every image is grayscale" if gray else "colour images"
    else:
        report.channels_reason = f"requested {channels}"
    hashes = job.hashes or [pixel_hash(img) for img in images]
    if n:
        images = convert_channels(images, channels) if not (gray and channels == 1 and c == 3) else images[:, :1]
        images = resize_array(images, target, fit=opts["fit"], mode=opts["resample"])
    else:
        images = np.zeros((0, channels, *target), dtype=np.uint8)
    return _finish(np.ascontiguousarray(images), job.labels, job.class_names, job.paths, hashes, job.partition,
                   report)


def _finish(images, labels, class_names, paths, hashes, partition, report: InspectReport) -> LoadResult:
    """Drop empty classes, flag duplicates and class-level issues, fill in the report."""
    present = np.bincount(labels, minlength=len(class_names)) if len(labels) else np.zeros(len(class_names), int)
    keep = [i for i in range(len(class_names)) if present[i] > 0]
    if len(keep) < len(class_names) and len(labels):
        for i in range(len(class_names)):
            if present[i] == 0:
                report.add(class_names[i], "empty-class",
                           f"class {class_names[i]!r} has no usable images; dropped")
        remap = np.full(len(class_names), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        labels = remap[labels]
        class_names = [class_names[i] for i in keep]
    imageset = ImageSet(images, labels, class_names, list(paths), list(hashes))
    report.problems.extend(find_duplicates(imageset.hashes, imageset.labels.tolist(), imageset.paths,
                                           imageset.class_names))
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
