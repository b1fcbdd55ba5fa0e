"""GAN training: :func:`train` (also ``ganaug.train``) and the loop it runs.

- :mod:`~ganaug.training.launch`: ``train()``: data, config (preset, transfer, time budget), resume,
  the run folder and its log; ``config_for``, ``resolve_training_data``, ``planned_config`` and ``describe`` (``--dry-run``).
- :mod:`~ganaug.training.loop`: :class:`Trainer`: D and G steps, EMA, ticks, snapshots, exact resume.
- :mod:`~ganaug.training.sampler`: what each global batch holds (class-balanced when conditional).
- :mod:`~ganaug.training.stats`: per-tick running totals, the stats line, TensorBoard.
- :mod:`~ganaug.training.grids`: sample grids from fixed seeds, and the reals beside them.
- :mod:`~ganaug.training.collapse`: the discriminator-collapse warning.
- :mod:`~ganaug.training.transfer`: starting from another run's (or an official pickle's) weights.
- :mod:`~ganaug.training.result`: ``TickInfo`` (for tick callbacks) and ``TrainResult``.

Multi-process collectives live in :mod:`ganaug.distributed`. Names are imported lazily, like the
other packages: ``training.budget`` times the loop without importing ``train()``, which uses it.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "launch": ["train", "config_for", "planned_config", "resolve_training_data", "describe"],
        "loop": ["Trainer"],
        "sampler": ["BatchSampler", "prepare_training_images"],
        "result": ["TickInfo", "TickCallback", "TrainResult"],
        "grids": ["grid_classes"],
    },
)
