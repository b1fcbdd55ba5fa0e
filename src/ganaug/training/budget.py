"""Presets that keep their promise of time: how long will this run take, and what fits a budget?

Before a run starts, a few training steps are timed on this machine at the candidate GAN
resolutions (powers of two from 32 up to the data's size rounded up, 256 at most) and the run's
length is estimated from them: ``seconds ~= seconds per kimg x kimg x OVERHEAD``. With a budget
(``ganaug train --budget 15m``, pipeline ``gan.budget``; the ``cpu`` preset has one by default,
:data:`DEFAULT_BUDGETS`) the run trains at the largest resolution whose estimate fits, and says so
together with what the other resolutions would cost. When even the smallest resolution does not
fit, the training length (kimg) is shortened to fit, unless ``kimg`` was given explicitly (then a
warning says by how much the budget will be exceeded). A resolution given explicitly is kept.

Generated images are at the GAN's resolution; everything downstream (``evaluate``, the
benchmark, the pipeline's synthetic pool) resizes them to the data's size, so a smaller GAN
resolution costs detail, not compatibility.

Timing is an input of the choice: :func:`plan_budget` takes any ``sec_per_kimg(resolution)``
function, :func:`measure_sec_per_kimg` is the real one (it runs the training loop,
:class:`ganaug.training.loop.Trainer`, for a few one-step ticks in a temporary folder and reads the
steps' own timing from their stats).
Larger resolutions are timed only while they might fit; beyond the first that does not, the cost
is extrapolated (marked "~" and "extrapolated").
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganaug.config import parse_budget
from ganaug.formatting import rough_duration
from ganaug.training.loop import Trainer
from ganaug.training.stats import zero_totals

# Default budget per preset, in seconds (None: only an estimate is printed, nothing is changed).
# "tiny" is for tests and is neither timed nor changed.
DEFAULT_BUDGETS: dict[str, float | None] = {"tiny": None, "cpu": 10 * 60, "gpu": None}
# What the timed steps leave out: upkeep per tick (stats, sample grids, snapshots), lazy R1/PL
# regularisation steps, and the augmentation's extra cost as p grows.
OVERHEAD = 1.15
MIN_RESOLUTION = 32
MAX_RESOLUTION = 256
MIN_KIMG = 1.0  # a budget never shortens a run below this


def candidate_resolutions(
    data_side: int, minimum: int = MIN_RESOLUTION, maximum: int = MAX_RESOLUTION
) -> list[int]:
    """Powers of two from ``minimum`` up to the data's larger side rounded up (``maximum`` at most)."""
    out, r = [minimum], minimum
    while r < data_side and r < maximum:
        r *= 2
        out.append(r)
    return out


@dataclass
class Estimate:
    resolution: int
    sec_per_kimg: float
    seconds: float  # for the whole run (kimg x sec_per_kimg x OVERHEAD)
    measured: bool  # False: extrapolated from the next smaller resolution


@dataclass
class BudgetPlan:
    """What was timed and chosen; ``lines()`` is what the user is told before training starts."""

    budget_s: float | None
    budget_source: str  # "as given" | "the cpu preset's default" | "none"
    kimg: float  # the run's training length (after any shortening)
    resolution: int  # the chosen GAN resolution
    data_side: int  # the data's larger side (pixels)
    estimates: list[Estimate] = field(default_factory=list)
    resolution_fixed: bool = False  # given explicitly: not chosen
    kimg_requested: float | None = None  # set when the budget shortened the run
    over_budget: bool = False  # the run will not fit (kimg and resolution both fixed)
    time_limited: bool = (
        False  # the loop stops at the budget (TrainConfig.time_limit_s); not with a kimg given
    )

    @property
    def chosen(self) -> Estimate | None:
        return next((e for e in self.estimates if e.resolution == self.resolution), None)

    @property
    def seconds(self) -> float:
        e = self.chosen
        return e.sec_per_kimg * self.kimg * OVERHEAD if e else math.nan

    def lines(self) -> list[str]:
        kimg_note = f"{self.kimg_requested:g}" if self.kimg_requested else f"{self.kimg:g}"
        change = "" if self.budget_source == "as given" else "; --budget to change, --budget off for none"
        head = (
            f"time budget {rough_duration(self.budget_s)} ({self.budget_source}{change})"
            if self.budget_s
            else "no time budget"
        )
        out = [
            f"{head}; estimated on this machine for {kimg_note} kimg (a few timed steps x {OVERHEAD:g} for "
            "upkeep):"
        ]
        for e in sorted(self.estimates, key=lambda e: e.resolution):
            mark = "  <- chosen" if e.resolution == self.resolution else ""
            fits = (
                ""
                if self.budget_s is None
                else (" (fits)" if e.seconds <= self.budget_s else " (over budget)")
            )
            how = "" if e.measured else ", extrapolated"
            out.append(
                f"  {e.resolution:>3d} px: ~{rough_duration(e.seconds)} ({e.sec_per_kimg:.3g} s/kimg{how})"
                f"{fits}{mark}"
            )
        if self.resolution_fixed:
            why = "as given"
        elif self.budget_s is None:
            why = "the data's size rounded up"
        elif self.kimg_requested or self.over_budget:
            why = "the smallest; none fits the budget"
        else:
            why = "the largest that fits the budget"
        if self.resolution < self.data_side:
            resized = (
                f"; generated images are resized to {self.data_side} px for evaluation and the benchmark"
            )
        elif self.resolution > self.data_side:  # padded and cropped back, or resized (TrainConfig.fit)
            resized = f"; generated images come back at {self.data_side} px (see --fit)"
        else:
            resized = ""
        out.append(f"training at {self.resolution} px ({why}; the data is {self.data_side} px{resized})")
        if self.kimg_requested:
            out.append(
                f"the run is shortened from {self.kimg_requested:g} to {self.kimg:g} kimg to fit the budget "
                f"(~{rough_duration(self.seconds)})"
            )
            if self.time_limited:
                out.append(
                    f"{self.kimg:g} kimg is an estimate: a faster run trains on past it, up to "
                    f"{self.kimg_requested:g} kimg, while the budget lasts"
                )
        elif self.over_budget:
            out.append(
                f"warning: ~{rough_duration(self.seconds)} exceeds the budget of "
                f"{rough_duration(self.budget_s)}; lower --kimg or --resolution, or raise --budget"
            )
        else:
            out.append(f"expected training time: ~{rough_duration(self.seconds)}")
        if self.time_limited:
            out.append(f"training stops at the budget ({rough_duration(self.budget_s)}) if it runs slower")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_s": self.budget_s,
            "budget_source": self.budget_source,
            "kimg": self.kimg,
            "kimg_requested": self.kimg_requested,
            "resolution": self.resolution,
            "resolution_fixed": self.resolution_fixed,
            "data_side": self.data_side,
            "estimated_s": self.seconds,
            "over_budget": self.over_budget,
            "time_limited": self.time_limited,
            "overhead": OVERHEAD,
            "estimates": [vars(e) for e in sorted(self.estimates, key=lambda e: e.resolution)],
        }


def plan_budget(
    candidates: Sequence[int],
    kimg: float,
    budget_s: float | None,
    sec_per_kimg: Callable[[int], float],
    *,
    data_side: int,
    resolution: int | None = None,  # given explicitly: kept, only estimated
    kimg_fixed: bool = False,  # given explicitly: never shortened
    budget_source: str = "as given",
) -> BudgetPlan:
    """Choose the GAN resolution (and, if needed, a shorter kimg) from timings.

    ``sec_per_kimg(resolution)`` is called from the smallest candidate upward and stops once a
    resolution does not fit the budget; larger ones are extrapolated from the last two timings
    (at least x2 per doubling). Without a budget only ``resolution`` (or the largest candidate)
    is timed.
    """
    cands = sorted(set(int(r) for r in candidates))
    if resolution is not None:
        cands = [int(resolution)]
    if not cands:
        raise ValueError("no candidate resolutions")
    estimates: list[Estimate] = []

    def est(r: int, spk: float, measured: bool) -> Estimate:
        return Estimate(r, spk, spk * kimg * OVERHEAD, measured)

    if budget_s is None:
        r = cands[-1]
        estimates.append(est(r, float(sec_per_kimg(r)), True))
        return BudgetPlan(
            None, "none", kimg, r, data_side, estimates, resolution_fixed=resolution is not None
        )

    for r in cands:
        if estimates and estimates[-1].seconds > budget_s:
            prev = estimates[-1]
            ratio = 4.0
            if len(estimates) >= 2 and estimates[-2].sec_per_kimg > 0:
                ratio = max(2.0, prev.sec_per_kimg / estimates[-2].sec_per_kimg)
            estimates.append(est(r, prev.sec_per_kimg * ratio ** math.log2(r / prev.resolution), False))
        else:
            estimates.append(est(r, float(sec_per_kimg(r)), True))
    fitting = [e for e in estimates if e.seconds <= budget_s]
    chosen = fitting[-1] if fitting else estimates[0]
    plan = BudgetPlan(
        budget_s,
        budget_source,
        kimg,
        chosen.resolution,
        data_side,
        estimates,
        resolution_fixed=resolution is not None,
    )
    if not fitting:
        if kimg_fixed:
            plan.over_budget = True
        else:
            short = max(budget_s / (chosen.sec_per_kimg * OVERHEAD), min(MIN_KIMG, kimg))
            short = math.floor(short * 10) / 10 if short >= 1 else round(short, 3)
            plan.kimg_requested, plan.kimg = kimg, min(short, kimg)
    return plan


def measure_sec_per_kimg(
    train: Any, config: Any, *, min_steps: int = 2, max_steps: int = 8, min_seconds: float = 3.0
) -> float:
    """Seconds per kimg of ``config`` on ``train`` (an ImageSet) on this machine.

    Builds the real training loop (:class:`~ganaug.training.loop.Trainer`) in a temporary folder and
    times its iterations (:meth:`~ganaug.training.loop.Trainer.step`): the first pays for allocation
    and warm-up and is not counted; then steps are timed until ``min_steps`` of them took
    ``min_seconds`` together, or ``max_steps`` were timed. Returns the median. Per-tick upkeep
    (stats, grids, snapshots) is left to ``OVERHEAD``: timing one-step ticks counted it once per
    step, and over-estimated a 3-minute demo run 1.6x (11.7 s/kimg against 7.4 measured in training).
    The augmentation runs at the configured p, as a run starts (ADA: 0). As ADA raises p the warp
    costs more: at p = 0.2 the StyleGAN2 ``cpu`` step took 1.45x as long on the demo set, so a run
    whose p climbs that high overruns its budget by up to that much; ``OVERHEAD`` covers a little of it.
    """
    b = config.batch_size
    timed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ganaug-timing-") as tmp:
        quick = config.replace(grid_seeds=1, compile=False)  # no compile time in the timing
        trainer = Trainer(train, quick, Path(tmp), progress=False, log=lambda s: None)
        totals = zero_totals(trainer.device, aux_loss=trainer.d_aux)
        trainer.step(totals)  # allocation and warm-up
        while len(timed) < max_steps and (len(timed) < min_steps or sum(timed) < min_seconds):
            t0 = time.perf_counter()
            trainer.step(totals)
            float(totals["loss_G"])  # waits for the device
            timed.append(time.perf_counter() - t0)
    timed.sort()
    return timed[len(timed) // 2] * 1000 / b


def fit_to_budget(
    train: Any,
    config: Any,
    budget: str | float | None = None,
    *,
    resolution_fixed: bool = False,
    kimg_fixed: bool = False,
    sec_per_kimg: Callable[[Any], float] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Any, BudgetPlan | None]:
    """The config to train with and the plan, for ``train`` (an ImageSet) and a resolved config.

    ``budget``: a duration (see :func:`parse_budget`); None: the preset's default
    (:data:`DEFAULT_BUDGETS`); 'off': nothing is timed or changed. Presets without a default budget
    get an estimate only ('tiny': nothing at all). ``sec_per_kimg(config)``: the timing function (default
    :func:`measure_sec_per_kimg` on ``train``).
    """
    source = "as given"
    if budget is None:
        if config.preset == "tiny" or config.preset not in DEFAULT_BUDGETS:
            return config, None
        budget_s, source = DEFAULT_BUDGETS[config.preset], f"the {config.preset} preset's default"
    else:
        budget_s = parse_budget(budget)
        if budget_s is None:  # 'off': no timing, no change
            return config, None
    timer = sec_per_kimg or (lambda cfg: measure_sec_per_kimg(train, cfg))
    side = max(train.resolution)
    plan = plan_budget(
        candidate_resolutions(side),
        config.kimg,
        budget_s,
        lambda r: timer(config.replace(resolution=r)),
        data_side=side,
        resolution=config.network.resolution if resolution_fixed else None,
        kimg_fixed=kimg_fixed,
        budget_source=source,
    )
    # The estimate is a forecast (ADA's p, the ticks' upkeep and a busy machine change the pace): the
    # budget itself is kept by the loop, which stops at it with a snapshot. A kimg given explicitly wins.
    plan.time_limited = not kimg_fixed
    for line in plan.lines():
        log(line)
    limit = budget_s if plan.time_limited else None
    # The shortened kimg is an estimate too: a run faster than it trains on while the budget lasts.
    kimg_max = plan.kimg_requested if plan.time_limited else None
    config = config.replace(resolution=plan.resolution, kimg=plan.kimg, time_limit_s=limit, kimg_max=kimg_max)
    return config, plan
