"""When a training run stops before its kimg: its time limit (a time budget) or a diverged loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganaug.distributed import mean_over_ranks
from ganaug.formatting import rough_duration


def time_is_up(limit: float | None, elapsed: float, world_size: int, device: Any, all_ranks: bool) -> bool:
    """Whether ``elapsed`` training seconds (resumes included) reached ``limit`` (None: no limit).
    Several processes decide together at a tick's end (``all_ranks``, one all-reduce): their steps must
    stay in step, so within a tick only a single process stops early."""
    if limit is None:
        return False
    if world_size == 1:
        return elapsed >= limit
    if not all_ranks:
        return False
    flag = torch.tensor([float(elapsed >= limit)], device=device)
    return bool(mean_over_ranks(flag).item() > 0)


def time_limit_message(limit: float, cur_nimg: int, kimg: float) -> str:
    return (
        f"time limit of {rough_duration(limit)} reached at {cur_nimg / 1000:.2f} of {kimg:g} kimg: "
        "training stops here with a snapshot"
    )


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
