"""A Trainer's state for snapshots and resume: weights, optimisers, EMA, ADA, counters and RNG states.

A killed run resumes from its last snapshot as if it had never stopped: rank 0 continues its random
stream exactly, other ranks reseed deterministically from the image count.
"""

from __future__ import annotations

from typing import Any

import torch


def trainer_state(t: Any) -> dict[str, Any]:
    """A Trainer's snapshot: weights, optimisers, EMA, augmentation, counters, sampler and RNG states,
    the resolved config and the class names."""
    return {
        "G": t.G.state_dict(),
        "D": t.D.state_dict(),
        "G_ema": t.G_ema.state_dict(),
        "opt_G": t.opt_G.state_dict(),
        "opt_D": t.opt_D.state_dict(),
        "augment_pipe": t.augment_pipe.state_dict() if t.augment_pipe is not None else {},
        "ada": t.ada.state_dict() if t.ada is not None else {},
        "cur_tick": t.cur_tick,
        "d_steps_done": t.d_steps_done,
        "g_steps_done": t.g_steps_done,
        "pl_mean": t.pl_mean.detach().cpu().clone(),
        **t.sampler.state_dict(),  # perm, perm_pos, gen_state
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state(t.device) if t.cuda else torch.zeros(0, dtype=torch.uint8),
        "elapsed": t.elapsed(),
        "config": t.cfg.to_dict(),
        "class_names": t.class_names,
    }


def load_trainer_state(t: Any, s: dict[str, Any]) -> None:
    """Restore a Trainer from :func:`trainer_state`'s dict, so that it continues exactly."""
    t.G.load_state_dict(s["G"])
    t.D.load_state_dict(s["D"])
    t.G_ema.load_state_dict(s["G_ema"])
    t.opt_G.load_state_dict(s["opt_G"])
    t.opt_D.load_state_dict(s["opt_D"])
    if t.augment_pipe is not None and s.get("augment_pipe"):
        t.augment_pipe.load_state_dict(s["augment_pipe"])
    if t.ada is not None and s.get("ada"):
        t.ada.load_state_dict(s["ada"])
    t.cur_nimg = int(s["cur_nimg"])
    t.cur_tick = int(s["cur_tick"])
    t.d_steps_done = int(s["d_steps_done"])
    t.g_steps_done = int(s.get("g_steps_done", t.d_steps_done // max(t.cfg.d_steps, 1)))
    if "pl_mean" in s:
        t.pl_mean.copy_(s["pl_mean"].to(t.device))
    t.sampler.load_state_dict(s)
    # Module randomness: rank 0 continues its stream exactly; other ranks reseed deterministically.
    if t.rank == 0:
        torch.set_rng_state(s["rng_cpu"])
        if t.cuda and len(s["rng_cuda"]):
            torch.cuda.set_rng_state(s["rng_cuda"], t.device)
    else:
        torch.manual_seed(t.cfg.seed * 1000 + t.rank + t.cur_nimg)
    t.start_time_offset = float(s.get("elapsed", 0.0))
