"""Typed configuration, in one place, importing neither torch nor numpy.

- :mod:`~ganaug.config.gan`: :class:`NetworkConfig`, :class:`TrainConfig`, the presets
  (:func:`make_config`) and time budgets (:func:`parse_budget`): what ``ganaug train`` needs.
- :mod:`~ganaug.config.benchmark`: :class:`BenchmarkOptions`: what ``ganaug benchmark`` needs.
- :mod:`~ganaug.config.pipeline`: :class:`PipelineConfig` (sections data, gan, generate, evaluate,
  benchmark): what ``ganaug run`` needs, and the single source of its defaults.

The names the library accepts (architectures, baselines, ...) are in :mod:`ganaug.constants`.
"""

from ganaug.config.benchmark import BenchmarkOptions, check_fractions, options_from
from ganaug.config.gan import NetworkConfig, TrainConfig, check_field_values, make_config, parse_budget
from ganaug.config.pipeline import (
    DataSection,
    EvaluateSection,
    GanSection,
    GenerateSection,
    PipelineConfig,
    read_config_file,
)

__all__ = [
    "BenchmarkOptions",
    "DataSection",
    "EvaluateSection",
    "GanSection",
    "GenerateSection",
    "NetworkConfig",
    "PipelineConfig",
    "TrainConfig",
    "check_field_values",
    "check_fractions",
    "make_config",
    "options_from",
    "parse_budget",
    "read_config_file",
]
