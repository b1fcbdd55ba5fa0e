"""The prepared-data folder: a source loaded, validated and split once, then reused by every stage.

``prepare`` writes ``DIR/images.npz``, ``DIR/inspect.json`` and, last, ``DIR/split.json`` (its
presence marks a complete folder: :func:`is_prepared`); ``load_prepared`` checks that the hashes
in split.json match images.npz. A folder made with the same source and options is reused as is;
the test split must never change silently, so other options need ``overwrite``.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganaug.data.builtin import builtin_path
from ganaug.data.imageset import ImageSet
from ganaug.data.sources import load, walk
from ganaug.data.split import (
    SPLITS,
    Split,
    apply_split,
    check_fractions,
    make_split,
    parse_imbalance,
    restrict_train,
    verify_split,
)
from ganaug.data.validate import InspectReport
from ganaug.errors import DataError, UserError
from ganaug.utils import atomic_write_json, read_json


def is_prepared(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by :func:`prepare` (rather than raw data or ``builtin:NAME``)."""
    return not str(path).startswith("builtin:") and (Path(path) / "split.json").exists()


@dataclass
class PreparedData:
    path: Path
    images: ImageSet  # everything loaded, at the prepared resolution
    split: Split
    train: ImageSet
    val: ImageSet
    test: ImageSet
    report: InspectReport | None = None  # of the source
    reused: bool = False  # an existing prepared folder with the same options was reused

    @property
    def class_names(self) -> list[str]:
        return list(self.images.class_names)

    @property
    def options(self) -> dict[str, Any]:
        return self.split.options

    def summary(self) -> str:
        names = self.class_names
        width = max([len(n) for n in names] + [5])
        lines = [
            f"Prepared data: {self.path}" + (" (reused)" if self.reused else ""),
            (
                f"  {len(self.images)} images, {self.images.channels}x{self.images.resolution[0]}x"
                f"{self.images.resolution[1]}, seed {self.split.seed}"
            ),
            f"  {'class':<{width}}  {'train':>6} {'val':>6} {'test':>6}",
        ]
        parts = {"train": self.train, "val": self.val, "test": self.test}
        counts = {s: parts[s].counts() for s in SPLITS}
        for n in names:
            lines.append(
                f"  {n:<{width}}  {counts['train'][n]:>6} {counts['val'][n]:>6} {counts['test'][n]:>6}"
            )
        lines.append(f"  {'total':<{width}}  {len(self.train):>6} {len(self.val):>6} {len(self.test):>6}")
        if self.split.dropped:
            lines.append(
                f"  {len(self.split.dropped)} image(s) left out of train (scarcity/imbalance options or "
                "copies of test images); listed in split.json"
            )
        lines += [f"  note: {n}" for n in self.split.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        c, h, w = self.images.images.shape[1:]
        return (
            f"PreparedData({str(self.path)!r}, train {len(self.train)} / val {len(self.val)} / test "
            f"{len(self.test)}, {len(self.class_names)} classes, {c}x{h}x{w}, seed {self.split.seed})"
        )

    def _repr_html_(self) -> str:  # notebook display: the split table plus a few training images
        return f"<pre>{html.escape(self.summary())}</pre>{self.train._repr_html_()}"


def prepare(
    source: Any = None,
    out: str | os.PathLike | None = None,
    *,
    builtin: str | None = None,  # name of an embedded data set (instead of source)
    seed: int = 0,
    val: float = 0.15,
    test: float = 0.2,  # ignored when the source has a predefined test partition
    per_class_limit: int | None = None,  # scarcity: at most N training images per class
    imbalance: str | Mapping[str, int] | None = None,  # "coat=20,pullover=500": training images per class
    resolution: int | None = None,
    channels: int | None = None,
    fit: str = "center-crop",
    resample: str = "lanczos",
    csv: str | os.PathLike | None = None,
    overwrite: bool = False,  # replace a prepared folder made with other options
    workers: int | None = None,
) -> PreparedData:
    """Load, validate and split ``source`` into ``out`` (images.npz, inspect.json, split.json).

    An existing ``out`` made from the same source with the same options is reused as is; with other
    options it is an error unless ``overwrite`` (the test split must never change silently).
    """
    source = _resolve_source(source, builtin)
    if out is None:
        raise UserError("no output folder given (--out DIR)")
    check_fractions(val, test)
    out = Path(out)
    limits = parse_imbalance(imbalance)
    desc, fingerprint = _source_identity(source, csv)
    options = {
        "source_fingerprint": fingerprint,
        "seed": int(seed),
        "val": float(val),
        "test": float(test),
        "per_class_limit": per_class_limit,
        "imbalance": dict(sorted(limits.items())),
        "resolution": resolution,
        "channels": channels,
        "fit": fit,
        "resample": resample,
    }
    options = json.loads(json.dumps(options))  # as stored: tuples become lists
    _check_out_outside_source(source, out)
    reused = _reuse_or_refuse(out, options, overwrite)
    if reused is not None:
        return reused

    result = load(
        source, resolution=resolution, channels=channels, fit=fit, resample=resample, csv=csv, workers=workers
    )
    imageset = result.imageset
    split = make_split(imageset, seed=seed, val=val, test=test, partition=result.partition)
    split = restrict_train(split, imageset, per_class_limit=per_class_limit, imbalance=limits)
    if not split.train:
        raise UserError(
            "no training images left after per_class_limit / imbalance, so nothing could be "
            "trained; raise --per-class-limit or the --imbalance counts"
        )
    split.options["prepare"] = options
    split.options["source"] = desc

    # Write the split last: its presence marks a complete folder.
    split_path = out / "split.json"
    out.mkdir(parents=True, exist_ok=True)
    if split_path.exists():
        split_path.unlink()
    imageset.save_npz(out / "images.npz")
    atomic_write_json(out / "inspect.json", result.report.to_dict())
    split.save(split_path)
    parts = apply_split(imageset, split)
    return PreparedData(out, imageset, split, parts["train"], parts["val"], parts["test"], result.report)


def _resolve_source(source: Any, builtin: str | None) -> Any:
    """The source to load: ``source``, or ``builtin:NAME`` for ``builtin``, never both."""
    if builtin is not None:
        b = f"builtin:{builtin}"
        if source is not None and str(source) != b:
            raise UserError("give either a data source or --builtin, not both")
        source = b
    if source is None:
        raise UserError("no data given: pass DATA or --builtin NAME")
    return source


def _check_out_outside_source(source: Any, out: Path) -> None:
    """The data folder is never written to, so ``out`` must not lie inside it."""
    if str(source).startswith("builtin:"):
        return
    for p in source if isinstance(source, (list, tuple)) else [source]:
        src = Path(p).resolve()
        if src.is_dir() and (out.resolve() == src or src in out.resolve().parents):
            raise UserError(
                f"--out {out} is inside the data folder {p}; choose a folder outside it "
                "(the data folder is never written to)"
            )


def _reuse_or_refuse(out: Path, options: dict[str, Any], overwrite: bool) -> PreparedData | None:
    """The existing prepared folder when it was made with ``options``; None when ``out`` may be
    (over)written; UserError when it holds something else and ``overwrite`` is not given."""
    split_path = out / "split.json"
    if split_path.exists():
        try:
            old = read_json(split_path).get("options", {}).get("prepare", {})
        except ValueError:
            old = None
        if old == options:
            prepared = load_prepared(out)
            prepared.reused = True
            return prepared
        if not overwrite:
            diff = sorted(k for k in set(options) | set(old or {}) if (old or {}).get(k) != options.get(k))
            what = (
                ", ".join("source contents" if k == "source_fingerprint" else k for k in diff) or "unreadable"
            )
            raise UserError(
                f"{out} already holds data prepared differently (differs in: {what}). The test split "
                "must not change silently: pass --overwrite to redo it, or choose another --out."
            )
    elif out.exists() and any(out.iterdir()) and not overwrite:
        raise UserError(
            f"{out} exists and is not a prepared data folder; choose an empty or new --out (or --overwrite)"
        )
    return None


def _source_identity(source: Any, csv) -> tuple[str, str]:
    """(description, fingerprint) of a source from names and sizes only (no reading)."""
    h = hashlib.sha256()
    s = str(source)
    if s.startswith("builtin:"):
        p = builtin_path(s.split(":", 1)[1])
        h.update(f"{s}:{p.stat().st_size}".encode())
        return s, h.hexdigest()
    paths = [Path(x) for x in (source if isinstance(source, (list, tuple)) else [source])]
    if csv is not None:
        paths.append(Path(csv))
    for root in paths:
        if root.is_dir():
            for p in walk(root, skip_hidden=False):  # the files the loader sees, symlinked folders included
                try:
                    size = p.stat().st_size
                except OSError:
                    size = -1
                h.update(f"{p.relative_to(root).as_posix()}\0{size}\n".encode())
        elif root.exists():
            h.update(f"{root.name}\0{root.stat().st_size}\n".encode())
    desc = " + ".join(str(p.resolve()) for p in paths)
    return desc, h.hexdigest()


def load_prepared(path: str | os.PathLike) -> PreparedData:
    """A folder written by :func:`prepare`, checked against its split.json."""
    path = Path(path)
    if not (path / "split.json").is_file() or not (path / "images.npz").is_file():
        if path.is_dir() and any(path.iterdir()):  # probably the raw data: prepare must not write into it
            raise UserError(
                f"{path} is not a prepared data folder (needs images.npz and split.json). If it holds "
                f"your images, run `ganaug prepare {path} --out PREPARED` first and pass PREPARED"
            )
        raise UserError(
            f"{path} is not a prepared data folder (needs images.npz and split.json); "
            f"run `ganaug prepare DATA --out {path}` first"
        )
    try:
        imageset = ImageSet.load_npz(path / "images.npz")
    except Exception as e:  # noqa: BLE001 -- any corruption is the same message to the user
        raise DataError(
            f"{path / 'images.npz'} cannot be read ({type(e).__name__}: {e}); "
            "re-run `ganaug prepare ... --overwrite`"
        ) from None
    split = Split.load(path / "split.json")
    verify_split(imageset, split, where=str(path / "images.npz"))
    parts = {s: imageset.subset(split.indices[s]) for s in SPLITS}
    report = None
    if (path / "inspect.json").is_file():
        try:
            report = InspectReport.from_dict(read_json(path / "inspect.json"))
        except (ValueError, TypeError):
            report = None
    return PreparedData(path, imageset, split, parts["train"], parts["val"], parts["test"], report)
