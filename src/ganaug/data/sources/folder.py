"""Image folders: ``DATA/<class>/**/<image>`` (the torchvision ImageFolder layout, recursive).

:func:`walk` is the one directory walker: the loader and the prepared-folder fingerprint
(:mod:`ganaug.data.prepared`) both use it, so they see the same files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ganaug.data.sources.jobs import CANDIDATE_EXTS, Entry, FileJob, hidden
from ganaug.data.validate import Problem


def walk(root: Path, skip_hidden: bool = True, problems: list[Problem] | None = None) -> list[Path]:
    """Files under root, sorted, without hidden files/folders. Symlinked folders are followed (a
    class folder is often a link to data stored elsewhere), except links back to a folder above
    them, which would loop. A folder that cannot be listed becomes an "unreadable" problem."""
    out = []
    chains: dict[str, frozenset[str]] = {}  # folder -> real paths of it and its ancestors

    def onerror(e: OSError) -> None:
        if problems is not None:
            why = (
                "permission denied"
                if isinstance(e, PermissionError)
                else f"cannot list it ({e.strerror or e})"
            )
            problems.append(
                Problem(str(e.filename), "unreadable", f"folder not readable: {why}; its images are skipped")
            )

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        chain = chains.pop(dirpath, frozenset()) | {os.path.realpath(dirpath)}
        keep = []
        for d in sorted(dirnames):
            sub = os.path.join(dirpath, d)
            if (skip_hidden and hidden(d)) or os.path.realpath(sub) in chain:
                continue
            chains[sub] = chain
            keep.append(d)
        dirnames[:] = keep
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not (skip_hidden and hidden(f)))
    return out


def folder_job(path: Path, subdirs: Sequence[Path]) -> FileJob:
    """An image folder on disk; ``subdirs`` are its class folders (empty ones included)."""
    unreadable: list[Problem] = []
    rels = [p.relative_to(path).as_posix() for p in walk(path, problems=unreadable)]
    job = tree_job(
        rels,
        lambda rel: (str(path / rel), str(path / rel), None),
        fmt="image-folder",
        class_dirs=[d.name for d in subdirs if str(d) not in {p.path for p in unreadable}],
    )
    job.problems[:0] = unreadable
    return job


def tree_job(
    rels: list[str],
    locate: Callable[[str], tuple[str, str, str | None]],
    *,
    fmt: str,
    class_dirs: Sequence[str] = (),
) -> FileJob:
    """ImageFolder layout from relative posix paths: the first path component is the class.
    ``locate(rel)`` -> (path shown, file to open, zip member or None). ``class_dirs``: class
    folders, including empty ones (reported and dropped later). Shared with zips of folders."""
    classes = sorted({r.split("/", 1)[0] for r in rels if "/" in r} | set(class_dirs))
    index = {c: i for i, c in enumerate(classes)}
    entries, problems = [], []
    for rel in rels:
        shown, file, member = locate(rel)
        ext = Path(rel).suffix.lower()
        if ext not in CANDIDATE_EXTS:
            problems.append(
                Problem(shown, "not-image", f"not an image file extension ({ext or 'none'}); ignored")
            )
            continue
        if "/" not in rel:
            problems.append(
                Problem(
                    shown, "unlabelled", "not inside a class folder (expected DATA/<class>/<image>); ignored"
                )
            )
            continue
        entries.append(Entry(shown, index[rel.split("/", 1)[0]], file, member))
    return FileJob(fmt, entries, classes, problems, num_files=len(rels))
