"""Downstream utility: do the synthetic images help a classifier on the real test split?

One **arm** is one way of building the training set; every arm is trained once per seed with
:func:`ganaug.classify.fit_classifier` for the same number of optimiser steps (set by the real
training set: ``epochs`` passes, at least ``min_steps``), with the same batch size, learning-rate
schedule and validation checkpoints; the checkpoint is selected on the real **val** split only,
and scored once on the real **test** split.

Modules
-------
- Options: :class:`ganaug.config.BenchmarkOptions` (in :mod:`ganaug.config.benchmark`), shared by the API, ``ganaug benchmark``
  and ``ganaug run``'s ``[benchmark]`` section.
- :mod:`~ganaug.benchmarking.arms`: arm planning, synthetic allocation (``balance``), training sets.
- :mod:`~ganaug.benchmarking.runner`: running and caching runs (``runs/<arm>-seed<k>.json``), the pool.
- :mod:`~ganaug.benchmarking.stats`: t-intervals, the paired bootstrap over seeds and test images,
  Holm's adjustment, the smallest detectable difference.
- :mod:`~ganaug.benchmarking.result`: :class:`BenchmarkResult`: choice on val, pre-specified comparisons,
  cautions, files. Its table and prose are written by :mod:`ganaug.reporting.benchmark_text`.
- :mod:`~ganaug.benchmarking.api`: :func:`benchmark`, which ties them together.

Files (``out/benchmark/``): ``runs/<arm>-seed<k>.json``, ``results.json``
(:meth:`BenchmarkResult.to_dict`; NaN as null) and ``results.csv`` (one row per arm).

Names are imported lazily, like every ganaug package: importing one module does not load the rest
(scipy, statsmodels, tqdm).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "api": ["benchmark", "resolve_budget"],
        "arms": [
            "Arm",
            "allocate_synthetic",
            "arm_train_set",
            "match_synthetic",
            "matched_arm",
            "plan_arms",
            "synthetic_counts",
        ],
        "result": ["METRICS", "METRIC_LABELS", "BenchmarkResult"],
        "runner": ["BenchmarkData"],
        "stats": ["mean_ci", "paired_bootstrap", "paired_diff"],
    },
)
