"""ganaug: GAN augmentation for small or class-imbalanced image datasets.

The public API is a set of functions, each returning an object a notebook can show.
The console script ``ganaug`` is a thin layer over them. Imports are lazy (``lazy_loader``,
the scientific-Python convention also used by scikit-image) so that ``import ganaug`` stays
fast and ``ganaug --help`` does not load torch.

Function and module names never clash: ``ganaug.generate`` is a function defined in
``ganaug.generation``, ``ganaug.benchmark`` one in ``ganaug.benchmarking``, ``ganaug.report``
is ``ganaug.reporting.build_report`` and ``ganaug.evaluate`` is in ``ganaug.metrics.evaluation``.
"""

import lazy_loader

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "data.sources": ["load", "inspect"],
        "data.prepared": ["prepare"],
        "data.imageset": ["ImageSet"],
        "training": ["train"],
        "config": ["TrainConfig", "NetworkConfig"],
        "checkpoint": ["load_generator"],
        "generation": ["generate", "balance"],
        "metrics.evaluation": ["evaluate"],
        "benchmarking": ["benchmark"],
        "pipeline": ["run"],
        "reporting": ["report"],
    },
)
