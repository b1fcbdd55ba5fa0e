"""Discriminator collapse: D has won and G gets no useful signal any more.

Seen in the stats as D's loss near zero while G's loss keeps climbing, tick after tick. The
training continues (it may recover, and a snapshot from before is kept); the warning says what
usually helps.
"""

from __future__ import annotations

D_LOSS_SMALL = 0.05
G_LOSS_HIGH = 3.0


def check_collapse(history: list[dict], stats: dict, window: int) -> str | None:
    """A warning when the last ``window`` ticks (``history`` then ``stats``) show D loss < 0.05
    on every tick while G loss rose on every tick and ended above 3; else None."""
    hist = history[-(window - 1) :] + [stats] if window > 1 else [stats]
    if len(hist) < window:
        return None
    d_small = all(h["loss_D"] < D_LOSS_SMALL for h in hist)
    g_rising = (
        all(b["loss_G"] > a["loss_G"] for a, b in zip(hist, hist[1:])) and hist[-1]["loss_G"] > G_LOSS_HIGH
    )
    if d_small and g_rising:
        return (
            f"discriminator collapse: loss_D < {D_LOSS_SMALL} while loss_G rose for {window} ticks "
            f"(now {hist[-1]['loss_G']:.2f}). Try stronger augmentation (--aug ada), a lower D "
            "learning rate, label smoothing, or more data."
        )
    return None
