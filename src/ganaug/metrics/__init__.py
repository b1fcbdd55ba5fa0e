"""Metrics for synthetic images: distribution distances, memorisation, feature extractors.

- :mod:`~ganaug.metrics.distribution`: ``fid``, ``kid``, ``prdc``, ``knn`` on feature arrays [N, D], and
  ``matched`` (any of them on equal-sized random subsets).
- :mod:`~ganaug.metrics.memorization`: ``memorization_check`` (nearest training images, near copies,
  authenticity) and its picture; the same check on the rarest class.
- :mod:`~ganaug.metrics.copying`: ``data_copying_test`` (Meehan et al. 2020).
- :mod:`~ganaug.metrics.features`: ``make_extractor("trained" | "inception" | "pixels")``.
- :mod:`~ganaug.metrics.evaluation`: ``evaluate(synthetic, train, test)`` -> ``EvalResult``.

Names are imported lazily so ``import ganaug.metrics`` stays cheap. ``evaluate`` is also
``ganaug.evaluate``; its module is ``ganaug.metrics.evaluation``.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "distribution": ["fid", "kid", "prdc", "knn", "matched"],
        "memorization": ["memorization_check", "MemorizationResult", "rare_class_memorization"],
        "copying": ["data_copying_test"],
        "features": ["make_extractor", "FeatureExtractor", "find_inception_weights", "pixel_features"],
        "evaluation": ["EvalResult", "evaluate"],
    },
)
