"""Per-tick statistics: running totals summed on the device during a tick, turned into one
``stats.jsonl`` line (and TensorBoard scalars) at its end.

The totals stay tensors until the tick ends: one host-device sync per tick, not one per step.
Under torchrun they are averaged over the processes first, so every rank computes the same line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganaug.distributed import average_over_ranks

try:
    import resource  # Unix only
except ImportError:
    resource = None

# Running totals over a tick: sums of per-step values, and the step counts they are divided by.
TOTALS = (
    "loss_D",
    "loss_G",
    "loss_r1",
    "loss_pl",
    "loss_ms",
    "d_real_acc",
    "d_fake_acc",
    "logit_real",
    "logit_fake",
    "nonfinite_grads",
    "n_d",
    "n_g",
    "n_r1",
    "n_pl",
)
AUX_TOTAL = "loss_rec"  # only for a D with an auxiliary loss on reals (FastGAN)
Totals = dict[str, torch.Tensor]


def zero_totals(device: torch.device | str = "cpu", *, aux_loss: bool = False) -> Totals:
    """Fresh running totals for one tick."""
    return {k: torch.zeros((), device=device) for k in TOTALS + ((AUX_TOTAL,) if aux_loss else ())}


def tick_stats(
    totals: Totals,
    *,
    tick: int,
    cur_nimg: int,
    tick_nimg: int,
    tick_time: float,
    elapsed: float,
    device: torch.device,
    pl_mean: torch.Tensor,
    augment_pipe: Any,
    ada: Any,
) -> dict:
    """The stats line of a tick that showed ``tick_nimg`` images in ``tick_time`` seconds."""
    t = {k: float(v) for k, v in average_over_ranks(totals).items()}
    n_d, n_g = max(t["n_d"], 1), max(t["n_g"], 1)
    stats = {
        "tick": tick,
        "kimg": round(cur_nimg / 1000, 4),
        "loss_G": t["loss_G"] / n_g,
        "loss_D": t["loss_D"] / n_d,
        "loss_r1": t["loss_r1"] / max(t["n_r1"], 1),
        "loss_pl": t["loss_pl"] / max(t["n_pl"], 1),
        "loss_ms": t["loss_ms"] / n_g,  # mode-seeking term (0 when off)
        "pl_mean": float(pl_mean),
        "nonfinite_grads": int(round(t["nonfinite_grads"])),  # identical on every rank (after the all-reduce)
        "d_real_acc": t["d_real_acc"] / n_d,
        "d_fake_acc": t["d_fake_acc"] / n_d,
        "logit_real": t["logit_real"] / n_d,
        "logit_fake": t["logit_fake"] / n_d,
        "aug_p": float(augment_pipe.p) if getattr(augment_pipe, "p", None) is not None else 0.0,
        "ada_stat": float(ada.last_stat) if ada is not None and ada.last_stat is not None else float("nan"),
        # Per class (conditional): the rare class, repeated most under balanced sampling, overfits first.
        **(
            {"ada_stat_per_class": ada.last_class_stats}
            if ada is not None and ada.last_class_stats is not None
            else {}
        ),
        "sec_per_kimg": tick_time / max(tick_nimg / 1000, 1e-9),
        "img_per_s": tick_nimg / max(tick_time, 1e-9),
        "time_s": round(elapsed, 2),
        "mem_mb": memory_mb(device),
    }
    if AUX_TOTAL in t:
        stats[AUX_TOTAL] = t[AUX_TOTAL] / n_d
    return stats


def format_stats(s: dict) -> str:
    """The console (and log.txt) line of a tick."""
    return (
        f"tick {s['tick']:<4d} kimg {s['kimg']:<8.2f} loss_G {s['loss_G']:<7.3f} loss_D {s['loss_D']:<7.3f} "
        f"D(real) acc {s['d_real_acc']:.2f} D(fake) acc {s['d_fake_acc']:.2f} p {s['aug_p']:.3f} "
        f"{s['img_per_s']:.0f} img/s  mem {s['mem_mb']:.0f} MB"
        + (f"  class strength {s['cond_strength']:.2f}" if "cond_strength" in s else "")
        + (f"  mode-seeking {s['loss_ms']:.3f}" if s.get("loss_ms") else "")
    )


def memory_mb(device: torch.device) -> float:
    """Peak memory: of the GPU since the tick began, else of this process (its peak resident size)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if resource is None:
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tensorboard_writer(run_dir: Path, purge_step: int, log: Callable[[str], None]):
    """A SummaryWriter into the run folder, or None (said in one line) when tensorboard is missing."""
    try:
        # Imported here: tensorboard is the optional extra ganaug[tensorboard].
        from torch.utils.tensorboard import SummaryWriter
    except Exception as e:  # not installed, or broken (e.g. a protobuf version clash): not fatal
        log(
            f"no TensorBoard logs ({type(e).__name__}: {e}); stats.jsonl has every number. "
            "Install them with: pip install 'ganaug[tensorboard]'"
        )
        return None
    return SummaryWriter(log_dir=str(run_dir), purge_step=purge_step if purge_step > 0 else None)


def write_tensorboard(writer, stats: dict, cur_nimg: int) -> None:
    """The stats line's numbers as scalars at step kimg."""
    for k, v in stats.items():
        if isinstance(v, (int, float)) and k != "tick":
            writer.add_scalar(f"train/{k}", v, global_step=int(cur_nimg // 1000))
    writer.flush()
