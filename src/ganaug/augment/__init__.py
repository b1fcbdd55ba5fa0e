"""Augmentation: classic (``classic.py``: dataset multiplication and the classifier's batch
transform) and for the discriminator (``ada.py``, ``diffaugment.py``). Imported lazily."""

from __future__ import annotations

import importlib

_API = {
    "mirror": "ganaug.augment.classic",
    "multiply": "ganaug.augment.classic",
    "ClassicAugment": "ganaug.augment.classic",
    "AugmentPipe": "ganaug.augment.ada",
    "AdaController": "ganaug.augment.ada",
    "DiffAugment": "ganaug.augment.diffaugment",
}

__all__ = [
    "AdaController",
    "AugmentPipe",
    "ClassicAugment",
    "DiffAugment",
    "mirror",
    "multiply",
]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'ganaug.augment' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
