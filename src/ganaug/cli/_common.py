"""Helpers shared by several commands (a module starting with "_" is not a command)."""

from __future__ import annotations

from pathlib import Path

from ganaug.errors import UserError


def load_synthetic(path: Path, like=None):
    """An ImageSet from an .npz (ImageSet.save_npz) or any source `ganaug.load` reads (a class folder
    of PNGs, a zip...), loaded at ``like``'s size and channels (None: the images' own)."""
    from ganaug.data.imageset import ImageSet

    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".npz":
        return ImageSet.load_npz(path)
    try:
        from ganaug.data.sources import load
    except ImportError as e:
        raise UserError(f"cannot read {path} in this installation ({e}); pass an .npz instead") from e
    kwargs = {}
    if like is not None:
        h, w = like.resolution
        kwargs = {"resolution": h if h == w else (h, w), "channels": like.channels}
    loaded = load(str(path), **kwargs)
    return getattr(loaded, "imageset", loaded)
