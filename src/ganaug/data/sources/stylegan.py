"""Reading StyleGAN2-ADA datasets: a zip or folder with ``dataset.json``
``{"labels": [["path", int], ...]}`` (the writer is :mod:`ganaug.data.sources.writer`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.data.sources.folder import walk
from ganaug.data.sources.jobs import CANDIDATE_EXTS, Entry, FileJob
from ganaug.data.validate import Problem
from ganaug.errors import DataError


def stylegan_dir_job(path: Path) -> FileJob:
    meta = read_dataset_json((path / "dataset.json").read_bytes(), str(path / "dataset.json"))
    names = [p.relative_to(path).as_posix() for p in walk(path)]
    names = [n for n in names if n != "dataset.json"]
    return stylegan_job(meta, names, lambda m: (str(path / m), str(path / m), None), "stylegan-folder")


def read_dataset_json(raw: bytes, where: str) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{where} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{where} must hold an object with a 'labels' key")
    return meta


def stylegan_job(meta: dict, names: list[str], locate, fmt: str) -> FileJob:
    """``names``: every file of the dataset; ``locate(name)`` -> (path shown, file, zip member)."""
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
        labels, class_names = _labels(raw, given, locate, problems)
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


def _labels(raw: Any, given: list, locate, problems: list[Problem]) -> tuple[dict[str, int], list[str]]:
    """The ``labels`` list of dataset.json -> ({file: class index}, class names); bad entries become problems."""
    if not isinstance(raw, list):
        raise DataError(
            f"dataset.json: 'labels' must be a list of [file, label] pairs, got {type(raw).__name__}"
        )
    labels = {}
    for item in raw:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            shown = item[0] if isinstance(item, list) and item and isinstance(item[0], str) else None
            problems.append(
                Problem(
                    locate(shown)[0] if shown else "dataset.json",
                    "bad-label",
                    f"dataset.json entry {item!r} is not a [file, label] pair; ignored",
                )
            )
            continue
        name, lab = item
        if isinstance(lab, list) and lab and all(_is_int(v) or isinstance(v, float) for v in lab):
            lab = int(np.argmax(lab))  # one-hot vectors are allowed by StyleGAN2-ADA
        if not _is_int(lab) or lab < 0:
            problems.append(
                Problem(
                    locate(name)[0],
                    "bad-label",
                    f"label {lab!r} in dataset.json is not a class index (0, 1, 2, ...); ignored",
                )
            )
            continue
        labels[name] = int(lab)
    # Class names for the labels present only: a stray label of 10**9 must not make 10**9 names.
    class_names = [str(c) for c in given]
    extra = sorted({v for v in labels.values() if v >= len(class_names)})
    remap = {v: len(class_names) + i for i, v in enumerate(extra)}
    class_names += [str(v) for v in extra]
    return {n: remap.get(v, v) for n, v in labels.items()}, class_names


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
