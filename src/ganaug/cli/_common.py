"""Helpers shared by several commands (a module starting with "_" is not a command)."""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.errors import UserError


def load_prepared(path: str | Path):
    """The train/val/test of a folder made by `ganaug prepare` (commands look this name up in their
    own module when they run, so tests can hand in small data)."""
    from ganaug.data.prepared import load_prepared as load

    return load(path)


def load_synthetic(path: Path, like=None):
    """An ImageSet from an .npz (ImageSet.save_npz) or any source `ganaug.load` reads (a class folder
    of PNGs, a zip...), loaded at ``like``'s size and channels (None: the images' own)."""
    from ganaug.data.imageset import ImageSet

    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".npz":
        return ImageSet.load_npz(path)
    from ganaug.data.sources import load

    kwargs = {}
    if like is not None:
        h, w = like.resolution
        kwargs = {"resolution": h if h == w else (h, w), "channels": like.channels}
    return load(str(path), **kwargs).imageset


def check_transfer_source(value: str | None) -> str | None:
    """--transfer: a path that exists, or builtin:NAME of an embedded snapshot."""
    if value is None:
        return value
    if value.startswith("builtin:"):
        from ganaug.data.builtin import builtin_snapshot_path

        try:
            builtin_snapshot_path(value.split(":", 1)[1])
        except UserError as e:
            raise click.BadParameter(str(e)) from None
    elif not Path(value).exists():
        raise click.BadParameter(f"{value} does not exist (a run folder, snapshot, .pkl or builtin:NAME)")
    return value
