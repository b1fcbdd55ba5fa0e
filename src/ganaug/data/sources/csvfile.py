"""A flat folder plus a CSV of ``filename,label`` rows.

The CSV may have a header or not, any of ``, ; TAB`` as delimiter, and file names without their
extension (as in the diabetic-retinopathy ``trainLabels.csv``). Named ``csvfile`` so that it does
not shadow the standard ``csv`` module it uses.
"""

from __future__ import annotations

import csv as csvlib
import io
import os
from pathlib import Path

from ganaug.data.sources.folder import walk
from ganaug.data.sources.jobs import CANDIDATE_EXTS, Entry, FileJob, label_key
from ganaug.data.validate import Problem
from ganaug.errors import DataError

_FILE_HEADERS = {"filename", "file", "image", "images", "image_id", "id", "path", "name", "file_name", "img"}
_LABEL_HEADERS = {"label", "labels", "level", "class", "category", "target", "y", "diagnosis", "class_name"}


def csv_job(root: Path, csv_path: Path) -> FileJob:
    """Files under ``root`` labelled by the rows of ``csv_path``; files without a row are reported."""
    rows = _read_rows(csv_path)
    problems: list[Problem] = []
    files = [p for p in walk(root, problems=problems) if p.resolve() != csv_path.resolve()]
    find = _file_finder(root, files)
    fcol, lcol, start = _columns(rows, find, csv_path)

    assigned: dict[Path, str] = {}
    for n, row in enumerate(rows[start:], start=start + 1):
        name = row[fcol].strip() if len(row) > fcol else ""
        lab = row[lcol].strip() if len(row) > lcol else ""
        if not name:
            continue
        match = find(name)
        if match is None:
            problems.append(
                Problem(
                    str(root / name),
                    "missing-file",
                    f"listed in {csv_path.name} row {n} (label {lab!r}) but no such file",
                )
            )
            continue
        if not lab:
            problems.append(Problem(str(match), "unlabelled", f"empty label in {csv_path.name} row {n}"))
            continue
        if match in assigned:
            if assigned[match] != lab:
                problems.append(
                    Problem(
                        str(match),
                        "conflicting-rows",
                        f"listed again in {csv_path.name} row {n} with label {lab!r}; "
                        f"keeping the first label {assigned[match]!r}",
                    )
                )
            continue
        assigned[match] = lab

    # Files without a row.
    for p in files:
        if p in assigned:
            continue
        if p.suffix.lower() in CANDIDATE_EXTS:
            problems.append(
                Problem(str(p), "unlabelled", f"no row for this file in {csv_path.name}; ignored")
            )
        elif p.suffix.lower() != ".csv":
            problems.append(
                Problem(str(p), "not-image", f"not an image file extension ({p.suffix or 'none'}); ignored")
            )

    labels = sorted(set(assigned.values()), key=label_key)
    index = {c: i for i, c in enumerate(labels)}
    entries = [
        Entry(str(p), index[lab], str(p)) for p, lab in sorted(assigned.items(), key=lambda kv: str(kv[0]))
    ]
    return FileJob("csv", entries, labels, problems, num_files=len(files))


def _read_rows(csv_path: Path) -> list[list[str]]:
    text = csv_path.read_text(encoding="utf-8-sig", errors="replace")
    try:
        dialect = csvlib.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csvlib.Error:
        dialect = csvlib.excel
    rows = [r for r in csvlib.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{csv_path} is empty; expected filename,label rows")
    return rows


def _file_finder(root: Path, files: list[Path]):
    """``find(name)`` -> the file a CSV row names: by relative path, absolute path, or without extension."""
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

    return find


def _columns(rows: list[list[str]], find, csv_path: Path) -> tuple[int, int, int]:
    """(file column, label column, first data row). A header is known column names, or a first
    row naming no file when the second one does."""
    fcol, lcol, start = 0, 1, 0
    head = [c.strip().lower() for c in rows[0]]
    if (head and head[0] in _FILE_HEADERS) or any(h in _LABEL_HEADERS for h in head[1:]):
        start = 1
        fcol = next((i for i, h in enumerate(head) if h in _FILE_HEADERS), 0)
        lcol = next(
            (i for i, h in enumerate(head) if h in _LABEL_HEADERS and i != fcol), 1 if fcol == 0 else 0
        )
    elif len(rows) > 1 and find(rows[0][0].strip()) is None and find(rows[1][0].strip()) is not None:
        start = 1
    if max(len(r) for r in rows[start:] or [[]]) < 2:
        raise DataError(f"{csv_path} needs two columns: filename,label")
    return fcol, lcol, start
