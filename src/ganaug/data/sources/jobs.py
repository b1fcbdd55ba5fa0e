"""What a layout reader hands to the loader: files to decode, or arrays already in memory.

Readers only list and label; they never decode. A :class:`FileJob` is a list of files (or zip
members) with labels, decoded later in a pool by :mod:`ganaug.data.sources.decode`; an
:class:`ArrayJob` holds images that came as one array (IDX, npz).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ganaug.data.validate import Problem

IMAGE_EXTS = {
    ".png",
    ".apng",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".bmp",
    ".dib",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pbm",
    ".pnm",
    ".tga",
    ".qoi",
    ".avif",
    ".jp2",
    ".j2k",
    ".ico",
}
DICOM_EXTS = {".dcm", ".dicom"}
CANDIDATE_EXTS = IMAGE_EXTS | DICOM_EXTS
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}


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


def hidden(name: str) -> bool:
    """Dot files and the litter of file managers (``.DS_Store``, ``__MACOSX``...) are never data."""
    return name.startswith(".") or name in IGNORED_NAMES


def label_key(s: str):
    """Sort key for label strings: numbers in numeric order ("2" before "10"), then names."""
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)
