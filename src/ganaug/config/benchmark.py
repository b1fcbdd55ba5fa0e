"""The benchmark's options: one typed dataclass shared by the API, ``ganaug benchmark`` and ``ganaug run``
(the ``[benchmark]`` section of :class:`ganaug.config.PipelineConfig`).

Imports nothing heavy (the CLI reads its defaults when it starts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ganaug.constants import BALANCE, BASELINES, CLASSIFIERS, MAX_FRACTION
from ganaug.errors import UserError


@dataclass(frozen=True)
class BenchmarkOptions:
    """How a benchmark is run. Every arm of one benchmark gets the same step budget, batch size,
    learning rate and val checkpoints, all derived from the REAL training set."""

    fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # synthetic images added, x |real train|
    # (not percent: see check_fractions)
    balance: str = "fix"  # fix: rare classes first | keep: real class proportions
    seeds: int | tuple[int, ...] = 5  # number of seeds (0..n-1) or the seeds themselves
    arch: str = "smallcnn"
    epochs: int = 20  # passes over the real training set: steps = epochs x its batches ...
    min_steps: int = 300  # ... but at least this many optimiser steps, for every arm
    batch_size: int | None = None  # None: classify.auto_batch_size(|real train|)
    lr: float | None = None  # None: classify.auto_lr(batch_size)
    baselines: tuple[str, ...] = BASELINES
    jobs: int = 2  # worker processes (1 thread each); 1: in this process
    device: str = "auto"
    image_size: int | None = None
    pretrained_weights: str | None = None
    finetune: bool = False
    bootstrap: int = 2000  # resamples of the paired bootstrap over seeds and test images
    confidence: float = 0.95

    # -- building -------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "benchmark options") -> BenchmarkOptions:
        """From a dict (config file section, keyword arguments); unknown keys are a UserError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(
                f"{where}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**dict(values)).validated()

    def validated(self) -> BenchmarkOptions:
        """The same options, checked and normalised (tuples, floats, a seed tuple); UserError if bad."""
        if self.balance not in BALANCE:
            raise UserError(f"balance must be one of {', '.join(BALANCE)}, got {self.balance!r}")
        if self.arch not in CLASSIFIERS:
            raise UserError(f"unknown classifier {self.arch!r}; choose from {', '.join(CLASSIFIERS)}")
        # Values from config files and `ganaug run --set` arrive unchecked: a string would be iterated.
        try:
            if isinstance(self.fractions, (str, bytes)):
                raise TypeError
            fractions = tuple(float(f) for f in self.fractions)
        except (TypeError, ValueError):
            raise UserError(
                f"fractions must be a list of numbers, fractions of the real training set such as "
                f"[0, 0.5, 1.0]; got {self.fractions!r}"
            ) from None
        check_fractions(fractions)
        baselines = self.baselines
        if isinstance(baselines, str):
            baselines = (baselines,) if baselines else ()
        unknown = [b for b in baselines if b not in BASELINES]
        if unknown:
            raise UserError(
                f"unknown baseline(s) {', '.join(map(str, unknown))}; choose from {', '.join(BASELINES)}"
            )
        seeds = self.seeds
        try:
            if isinstance(seeds, (str, bytes, float, bool)):
                raise TypeError
            seeds = (
                int(seeds)
                if isinstance(seeds, int) or hasattr(seeds, "__index__")
                else tuple(int(s) for s in seeds)
            )
        except (TypeError, ValueError):
            raise UserError(
                f"seeds must be a number of seeds or a list of integer seeds; got {self.seeds!r}"
            ) from None
        if (seeds if isinstance(seeds, int) else len(seeds)) < 1:
            raise UserError("need at least one seed")

        def integer(name: str, lo: int, allow_none: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise UserError(f"{name} must be an integer >= {lo}; got {v!r}")

        integer("jobs", 1)
        integer("epochs", 1)
        integer("min_steps", 0)
        integer("batch_size", 2, allow_none=True)
        integer("image_size", 8, allow_none=True)
        integer("bootstrap", 100)
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise UserError(f"lr must be a number > 0; got {self.lr!r}")
        if not 0.5 <= float(self.confidence) < 1:
            raise UserError(f"confidence must be in [0.5, 1); got {self.confidence!r}")
        pw = None if self.pretrained_weights is None else str(self.pretrained_weights)
        return replace(
            self,
            fractions=fractions,
            baselines=tuple(baselines),
            seeds=seeds,
            pretrained_weights=pw,
            confidence=float(self.confidence),
        )

    # -- reading ------------------------------------------------------------------
    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples as lists)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def check_fractions(fractions: tuple[float, ...]) -> None:
    """Fractions are multiples of the real training set, everywhere (API, config files, CLI). A value
    above MAX_FRACTION is refused as a percentage given by mistake: 25 would add 25 times the real set."""
    if any(not math.isfinite(f) or f < 0 for f in fractions):
        raise UserError("fractions must be >= 0")
    too_big = [f for f in fractions if f > MAX_FRACTION]
    if too_big:
        f = too_big[0]
        raise UserError(
            f"fractions are in 0..1 (e.g. 0.25,0.5; up to {MAX_FRACTION:g} allowed), multiples of "
            f"the real training set, not percentages; got {f:g} (did you mean {f / 100:g}?)"
        )


def options_from(
    options: BenchmarkOptions | Mapping[str, Any] | None = None, **kwargs: Any
) -> BenchmarkOptions:
    """Checked options from a BenchmarkOptions or a dict, then keyword overrides."""
    if options is None:
        base: dict[str, Any] = {}
    elif isinstance(options, BenchmarkOptions):
        base = {f.name: getattr(options, f.name) for f in fields(options)}
    else:
        base = dict(options)
    base.update(kwargs)
    return BenchmarkOptions.from_mapping(base)


__all__ = ["BenchmarkOptions", "check_fractions", "options_from"]
