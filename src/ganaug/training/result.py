"""What the training loop hands out: :class:`TickInfo` to tick callbacks, :class:`TrainResult` at the end."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from ganaug.config import TrainConfig


@dataclass
class TickInfo:
    """Handed to tick callbacks (metrics plug in here)."""

    tick: int
    cur_nimg: int
    stats: dict[str, Any]
    run_dir: Path
    G_ema: nn.Module
    done: bool
    # The ganaug.training.loop.Trainer: full access (G, D, optimisers, augment_pipe) for advanced hooks.
    trainer: Any = None


TickCallback = Callable[[TickInfo], None]


@dataclass
class TrainResult:
    run_dir: Path
    config: TrainConfig
    cur_nimg: int
    snapshot: Path | None
    class_names: list[str]
    stats: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def kimg(self) -> float:
        return self.cur_nimg / 1000

    def __repr__(self) -> str:
        return (
            f"TrainResult(run_dir={str(self.run_dir)!r}, arch={self.config.network.arch!r}, "
            f"kimg={self.kimg:.1f}, snapshot={self.snapshot.name if self.snapshot else None!r})"
        )

    def _repr_html_(self) -> str:
        last = self.stats[-1] if self.stats else {}
        imgs = sorted(self.run_dir.glob("fakes[0-9]*.png"))
        img = ""
        if imgs:
            data = base64.b64encode(imgs[-1].read_bytes()).decode()
            img = f'<img src="data:image/png;base64,{data}" style="image-rendering:pixelated;width:480px"/>'
        rows = "".join(
            f"<tr><td>{k}</td><td>{v:.4g}</td></tr>" for k, v in last.items() if isinstance(v, (int, float))
        )
        return f"<p>{self!r}</p><table>{rows}</table>{img}"
