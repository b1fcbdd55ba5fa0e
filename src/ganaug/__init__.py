"""ganaug: GAN augmentation for small or class-imbalanced image datasets.

The public API is a set of functions, each returning an object a notebook can show.
The console script ``ganaug`` is a thin layer over them. Imports are lazy so that
``import ganaug`` stays fast and ``ganaug --help`` does not load torch.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> "module:attribute"
_API = {
    "load": "ganaug.data.sources:load",
    "inspect": "ganaug.data.validate:inspect",
    "prepare": "ganaug.data.split:prepare",
    "ImageSet": "ganaug.data.imageset:ImageSet",
    "train": "ganaug.training:train",
    "TrainConfig": "ganaug.config:TrainConfig",
    "NetworkConfig": "ganaug.config:NetworkConfig",
    "load_generator": "ganaug.checkpoint:load_generator",
    "generate": "ganaug.generate:generate",
    "balance": "ganaug.generate:balance",
    "evaluate": "ganaug.metrics.evaluate:evaluate",
    "benchmark": "ganaug.benchmark:benchmark",
    "run": "ganaug.pipeline:run",
    "report": "ganaug.report:build_report",
}

__all__ = sorted(_API) + ["__version__"]


class _Package(types.ModuleType):
    """Keeps ``ganaug.benchmark``, ``ganaug.generate``, ``ganaug.report`` the public functions even
    after their submodules are imported (the import system would otherwise rebind the names to
    the modules). The submodules stay reachable with ``from ganaug.benchmark import ...``."""

    def __setattr__(self, name: str, value) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            value = getattr(importlib.import_module(_API[name].split(":")[0]), _API[name].split(":")[1])
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'ganaug' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
