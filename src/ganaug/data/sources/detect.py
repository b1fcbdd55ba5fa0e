"""Which layout a source has, and the reader for it.

A source is a path (folder, .zip, .npz, .csv or IDX file), an ``(images, labels)`` IDX pair, or
``builtin:NAME``; ``csv=`` forces the folder + CSV layout. The answer is a job for the loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganaug.data.builtin import builtin_path
from ganaug.data.sources.archive import zip_job
from ganaug.data.sources.csvfile import csv_job
from ganaug.data.sources.folder import folder_job
from ganaug.data.sources.idx import idx_job, idx_label_file, idx_pairs, is_idx
from ganaug.data.sources.jobs import CANDIDATE_EXTS, IGNORED_NAMES, ArrayJob, FileJob, hidden
from ganaug.data.sources.npz import npz_job
from ganaug.data.sources.stylegan import stylegan_dir_job
from ganaug.errors import UserError


def detect(source: Any, *, csv, classes) -> FileJob | ArrayJob:
    if isinstance(source, (list, tuple)):
        if len(source) != 2:
            raise UserError("a pair of files must be (images, labels) IDX files")
        return idx_job([(Path(source[0]), Path(source[1]))], classes)
    s = str(source)
    if s.startswith("builtin:"):
        job = npz_job(builtin_path(s.split(":", 1)[1]), classes, label=s)
        job.format = "builtin"
        return job
    path = Path(source)
    if not path.exists():
        raise UserError(f"{source} does not exist")
    if csv is not None:
        csv = Path(csv)
        if not csv.is_file():
            raise UserError(f"CSV file {csv} does not exist")
        return csv_job(path if path.is_dir() else path.parent, csv)
    if path.is_file():
        return _file_job(path, source, classes)
    return _folder_job(path, source, classes)


def _file_job(path: Path, source: Any, classes) -> FileJob | ArrayJob:
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return zip_job(path)
    if suffix == ".npz":
        return npz_job(path, classes)
    if suffix == ".csv":
        return csv_job(path.parent, path)
    if is_idx(path):
        return idx_job([(path, idx_label_file(path))], classes)
    if suffix in CANDIDATE_EXTS:
        raise UserError(f"{source} is a single image; point at the folder that holds the data set")
    raise UserError(f"{source}: unknown data format (expected a folder, .zip, .npz, .csv or IDX file)")


def _folder_job(path: Path, source: Any, classes) -> FileJob | ArrayJob:
    if (path / "dataset.json").is_file():
        return stylegan_dir_job(path)
    pairs = idx_pairs(path)
    if pairs:
        return idx_job(pairs, classes)
    top_files = [p for p in sorted(path.iterdir()) if p.is_file() and p.name not in IGNORED_NAMES]
    csvs = [p for p in top_files if p.suffix.lower() == ".csv"]
    top_images = [p for p in top_files if p.suffix.lower() in CANDIDATE_EXTS]
    subdirs = [p for p in path.iterdir() if p.is_dir() and not hidden(p.name)]
    if len(csvs) == 1 and top_images:
        return csv_job(path, csvs[0])
    if top_images and not subdirs:
        raise UserError(
            f"{source} holds images but no class folders and no labels CSV. Either put each class in its own "
            "sub-folder (DATA/<class>/<image>) or pass --csv labels.csv with filename,label rows."
        )
    return folder_job(path, subdirs)
