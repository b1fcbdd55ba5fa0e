"""Downstream utility: do the synthetic images help a classifier on the real test split?

One **arm** is one way of building the training set; every arm is trained once per seed with
:func:`ganaug.classify.fit_classifier` for the same number of optimiser steps (set by the real
training set: ``epochs`` passes, at least ``min_steps``), with the same batch size, learning-rate
schedule and validation checkpoints; the checkpoint is selected on the real **val** split only,
and scored once on the real **test** split.

Modules
-------
- :mod:`~ganaug.benchmarking.options`: :class:`BenchmarkOptions`, shared by the API, ``ganaug benchmark``
  and ``ganaug run``'s ``[benchmark]`` section.
- :mod:`~ganaug.benchmarking.arms`: arm planning, synthetic allocation (``balance``), training sets.
- :mod:`~ganaug.benchmarking.runner`: running and caching runs (``runs/<arm>-seed<k>.json``), the pool.
- :mod:`~ganaug.benchmarking.stats`: t-intervals, the paired bootstrap over seeds and test images,
  Holm's adjustment, the smallest detectable difference.
- :mod:`~ganaug.benchmarking.result`: :class:`BenchmarkResult`: choice on val, pre-specified comparisons,
  cautions, files. Its table and prose are written by :mod:`ganaug.reporting.benchmark_text`.

Files (``out/benchmark/``): ``runs/<arm>-seed<k>.json``, ``results.json``
(:meth:`BenchmarkResult.to_dict`; NaN as null) and ``results.csv`` (one row per arm).
"""

from ganaug.benchmarking.api import benchmark, resolve_budget
from ganaug.benchmarking.arms import (
    Arm,
    _match_synthetic,
    allocate_synthetic,
    arm_train_set,
    matched_arm,
    plan_arms,
    synthetic_counts,
)
from ganaug.benchmarking.options import BenchmarkOptions
from ganaug.benchmarking.result import METRIC_LABELS, METRICS, BenchmarkResult
from ganaug.benchmarking.runner import _Data
from ganaug.benchmarking.stats import mean_ci, paired_bootstrap, paired_diff
from ganaug.constants import BALANCE, BASELINES

__all__ = [
    "BALANCE",
    "BASELINES",
    "METRICS",
    "METRIC_LABELS",
    "Arm",
    "BenchmarkOptions",
    "BenchmarkResult",
    "_Data",
    "_match_synthetic",
    "allocate_synthetic",
    "arm_train_set",
    "benchmark",
    "matched_arm",
    "mean_ci",
    "paired_bootstrap",
    "paired_diff",
    "plan_arms",
    "resolve_budget",
    "synthetic_counts",
]
