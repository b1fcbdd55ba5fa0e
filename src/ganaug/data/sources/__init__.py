"""Readers for every supported data layout, behind one entry point: :func:`load`.

One module per concern, read in this order:

* :mod:`.loader` -- :func:`load` / :func:`inspect`: detect, read, decode, then one ImageSet and
  its report;
* :mod:`.detect` -- which layout a source has;
* :mod:`.jobs` -- what a reader hands to the loader (files to decode, or arrays);
* readers: :mod:`.folder` (image folders, and :func:`walk`), :mod:`.csvfile`, :mod:`.archive`
  (zips), :mod:`.stylegan`, :mod:`.idx`, :mod:`.npz`;
* :mod:`.decode` (one file, in a pool) and :mod:`.dicom`;
* :mod:`.writer` -- :func:`write_stylegan_dataset`, the StyleGAN2-ADA dataset the loader reads back.
"""

from ganaug.data.sources.folder import walk
from ganaug.data.sources.idx import read_idx
from ganaug.data.sources.loader import LoadResult, inspect, load, load_builtin, nothing_usable_message
from ganaug.data.sources.writer import write_stylegan_dataset

__all__ = [
    "LoadResult",
    "inspect",
    "load",
    "load_builtin",
    "nothing_usable_message",
    "read_idx",
    "walk",
    "write_stylegan_dataset",
]
