"""Metrics for synthetic images: distribution distances, memorisation, feature extractors.

- :mod:`~ganaug.metrics.distribution`: ``fid``, ``kid``, ``prdc``, ``knn`` on feature arrays [N, D], and
  ``matched`` (any of them on equal-sized random subsets).
- :mod:`~ganaug.metrics.memorization`: ``memorization_check`` (nearest training images, near copies,
  authenticity) and its picture; ``data_copying_test`` (Meehan et al. 2020).
- :mod:`~ganaug.metrics.features`: ``make_extractor("trained" | "inception" | "pixels")``.
- :mod:`~ganaug.metrics.evaluate`: ``evaluate(synthetic, train, test)`` -> ``EvalResult``.

Names are imported lazily so ``import ganaug.metrics`` stays cheap. The ``evaluate`` function is
``ganaug.evaluate`` (or ``ganaug.metrics.evaluate.evaluate``): here that name is the submodule.
"""

from __future__ import annotations

import importlib

_API = {
    "fid": "distribution",
    "kid": "distribution",
    "prdc": "distribution",
    "knn": "distribution",
    "matched": "distribution",
    "memorization_check": "memorization",
    "MemorizationResult": "memorization",
    "data_copying_test": "memorization",
    "make_extractor": "features",
    "FeatureExtractor": "features",
    "find_inception_weights": "features",
    "pixel_features": "features",
    "EvalResult": "evaluate",
}

__all__ = list(_API)


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'ganaug.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
