"""When a training run stops other than at its kimg: its time limit (a time budget) or a diverged loss."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ganaug.distributed import mean_over_ranks
from ganaug.formatting import rough_duration


def time_is_up(cfg: Any, elapsed: float, world_size: int, device: Any, all_ranks: bool) -> bool:
    """Whether ``elapsed`` training seconds (resumes included) reached ``cfg.time_limit_s`` (None: no limit).
    Several processes decide together at a tick's end (``all_ranks``, one all-reduce): their steps must
    stay in step, so within a tick only a single process stops early."""
    limit = cfg.time_limit_s
    if limit is None:
        return False
    if world_size == 1:
        return elapsed >= limit
    if not all_ranks:
        return False
    flag = torch.tensor([float(elapsed >= limit)], device=device)
    return bool(mean_over_ranks(flag).item() > 0)


def time_limit_message(cfg: Any, cur_nimg: int) -> str:
    """What the log says when ``cfg.time_limit_s`` stops a run at ``cur_nimg``."""
    reached, limit = cur_nimg / 1000, rough_duration(cfg.time_limit_s)
    if reached >= cfg.kimg:  # trained on past its estimated length (cfg.kimg_max)
        return (
            f"time budget of {limit} spent at {reached:.2f} kimg, past the estimated {cfg.kimg:g}: "
            "training stops here with a snapshot"
        )
    return f"time limit of {limit} reached at {reached:.2f} of {cfg.kimg:g} kimg: training stops here with a snapshot"


def final_nimg(cfg: Any) -> int:
    """The run's length in images: kimg, or kimg_max when a time limit lets it train on past kimg."""
    if cfg.time_limit_s is not None and cfg.kimg_max is not None:
        return int(cfg.kimg_max * 1000)
    return int(cfg.kimg * 1000)


def projected_nimg(cfg: Any, cur_nimg: int, elapsed: float) -> int:
    """Where the run will stop (whole batches): the progress bar's end. Past kimg only for a run that
    may train on (``final_nimg``): at its present pace until the time limit, at most kimg_max."""
    end = planned = cfg.kimg * 1000
    if final_nimg(cfg) > planned:
        pace = cur_nimg / elapsed if elapsed > 0 else 0.0
        ahead = cur_nimg + max(cfg.time_limit_s - elapsed, 0.0) * pace
        end = min(max(ahead, planned), final_nimg(cfg))
    return math.ceil(end / cfg.batch_size) * cfg.batch_size


def diverged_message(
    stats: dict, cur_nimg: int, last_snapshot: Path | None, run_dir: Path, found: Any
) -> str:
    """The error of a NaN/Inf tick: where, and which snapshot is kept (``found()``: the newest on disk)."""
    msg = f"training diverged at {cur_nimg / 1000:.2f} kimg: loss_D={stats['loss_D']}, loss_G={stats['loss_G']}. "
    msg += (
        f"The last good snapshot is kept: {last_snapshot or found()}."
        if (last_snapshot or any(run_dir.glob("snapshot-*.pt")))
        else "No snapshot was written before it."
    )
    return msg + " Try a lower learning rate or a larger R1 gamma."
