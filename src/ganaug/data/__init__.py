"""Data layer: sources -> validation -> preprocessing -> splits (see docs/DESIGN.md).

Names are imported lazily so ``import ganaug.data.imageset`` stays light.
"""

from __future__ import annotations

import importlib

_API = {
    "ImageSet": "ganaug.data.imageset",
    "load": "ganaug.data.sources",
    "LoadResult": "ganaug.data.sources",
    "write_stylegan_dataset": "ganaug.data.sources",
    "read_idx": "ganaug.data.sources",
    "load_builtin": "ganaug.data.builtin",
    "builtin_names": "ganaug.data.builtin",
    "inspect": "ganaug.data.validate",
    "InspectReport": "ganaug.data.validate",
    "ValidationReport": "ganaug.data.validate",
    "Problem": "ganaug.data.validate",
    "resize_imageset": "ganaug.data.preprocess",
    "to_array": "ganaug.data.preprocess",
    "make_split": "ganaug.data.split",
    "restrict_train": "ganaug.data.split",
    "apply_split": "ganaug.data.split",
    "Split": "ganaug.data.split",
    "prepare": "ganaug.data.split",
    "load_prepared": "ganaug.data.split",
    "PreparedData": "ganaug.data.split",
}

__all__ = [
    "ImageSet",
    "InspectReport",
    "LoadResult",
    "PreparedData",
    "Problem",
    "Split",
    "ValidationReport",
    "apply_split",
    "builtin_names",
    "inspect",
    "load",
    "load_builtin",
    "load_prepared",
    "make_split",
    "prepare",
    "read_idx",
    "resize_imageset",
    "restrict_train",
    "to_array",
    "write_stylegan_dataset",
]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'ganaug.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
