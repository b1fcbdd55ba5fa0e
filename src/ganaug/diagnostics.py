"""Per-class diagnostics: see a rare class collapse while training runs, and check it for copies.

:class:`ClassDiagnostics` is a tick callback of :func:`ganaug.training.train` (on by default,
``diagnostics=False`` turns it off). At every tick it draws a fixed set of samples per class from
G_ema (fixed seeds, constant noise) and measures them against a fixed sample of the real training
images of that class (the same number for every class, at most 64) with precision / recall / density / coverage (Naeem et al. 2020,
``ganaug.metrics.distribution.prdc``) on cheap features: pixels area-downscaled to 16 x 16. These
numbers are for watching the trend of each class, not for comparing runs (``evaluate`` does that
with trained features, against held-out data and with a real-vs-real floor). Each tick appends
one line to ``class_stats.jsonl`` in the run folder and logs one line; when a class's coverage
falls below half its best value so far (a best of at least 0.3: the class had been learnt), a
warning says so, once per class.

The rare-class memorisation check is ``ganaug.metrics.memorization.rare_class_memorization``;
the report draws ``class_stats.jsonl`` with ``ganaug.reporting.plots.class_curves_png``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.data.imageset import ImageSet
from ganaug.data.preprocess import convert_channels
from ganaug.formatting import NA, fixed
from ganaug.generation import synthesize
from ganaug.metrics.distribution import prdc
from ganaug.metrics.features import pixel_features
from ganaug.utils import append_jsonl, atomic_open, read_jsonl

FILENAME = "class_stats.jsonl"
PRDC_KEYS = ("precision", "recall", "density", "coverage")


class ClassDiagnostics:
    """Tick callback: per-class PRDC of G_ema's samples vs a fixed sample of the training images."""

    def __init__(
        self,
        train: ImageSet,
        run_dir: str | Path,
        *,
        per_class: int = 64,
        k: int = 5,
        every: int = 1,
        pixel_size: int = 16,
        seed: int = 0,
        start_nimg: int = 0,
        log: Callable[[str], None] | None = None,
    ):
        self.path = Path(run_dir) / FILENAME
        self.k, self.every, self.pixel_size, self.per_class = k, max(1, every), pixel_size, per_class
        self.log = log or (lambda s: None)
        self.class_names = list(train.class_names)
        self.channels = train.channels
        rng = np.random.default_rng(seed)
        # The same number of real images per class (PRDC depends on the sample size), so the classes'
        # numbers compare; a class with fewer images than that uses all of its own.
        counts = np.bincount(train.labels, minlength=train.num_classes)
        n = min(per_class, max(int(counts[counts > 0].min(initial=per_class)), 16))
        self.real: dict[int, np.ndarray] = {}  # class index -> features of its fixed real sample
        for c in range(train.num_classes):
            idx = np.flatnonzero(train.labels == c)
            if len(idx) > n:
                idx = np.sort(rng.choice(idx, n, replace=False))
            if len(idx):
                self.real[c] = pixel_features(train.images[idx], size=pixel_size)
        self.best: dict[str, tuple[float, float]] = {}  # class -> (best coverage, at kimg)
        self.warned: set[str] = set()
        # A resumed run redoes the ticks after its snapshot: drop their lines (as stats.jsonl does).
        if self.path.exists():
            rows = [r for r in read_jsonl(self.path) if r.get("kimg", 0) * 1000 <= start_nimg + 1e-6]
            with atomic_open(self.path, "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
            for r in rows:
                self._track(r)

    def measure(
        self, G: Any, device: Any = "cpu", conditional: bool | None = None
    ) -> dict[str, dict[str, float]]:
        """Per-class PRDC of ``G``'s samples (seeds 0..n-1 of each class) vs the fixed real samples."""
        conditional = getattr(G, "num_classes", 0) > 0 if conditional is None else conditional
        out: dict[str, dict[str, float]] = {}
        if conditional:
            scopes = [(self.class_names[c], c, feats) for c, feats in self.real.items()]
        else:  # one unconditional model: its samples against the pooled real sample
            pooled = np.concatenate(list(self.real.values()))
            scopes = [
                ("all" if len(self.real) > 1 else self.class_names[next(iter(self.real))], None, pooled)
            ]
        for name, label, real_f in scopes:
            n = max(len(real_f), self.k + 1)
            fake = synthesize(G, list(range(n)), label, device=device)
            fake_f = pixel_features(_match_channels(fake, self.channels), size=self.pixel_size)
            m = prdc(real_f, fake_f, k=self.k, device=device)
            out[name] = {**{key: _r(m[key]) for key in PRDC_KEYS}, "n_real": len(real_f), "n_fake": n}
        return out

    def __call__(self, info: Any) -> None:
        if not (info.done or info.tick % self.every == 0) or not self.real:
            return
        trainer = info.trainer
        device = trainer.device if trainer is not None else "cpu"
        classes = self.measure(info.G_ema, device=device)
        row = {
            "tick": info.tick,
            "kimg": round(info.cur_nimg / 1000, 4),
            "features": f"pixels{self.pixel_size}",
            "k": self.k,
            "classes": classes,
        }
        warnings = self._track(row)
        if warnings:
            row["warnings"] = warnings
        append_jsonl(self.path, row)
        self.log(
            "per class (recall / coverage, pixel features): "
            + "  ".join(
                f"{name} {fixed(m['recall'], 2, missing=NA)}/{fixed(m['coverage'], 2, missing=NA)}"
                for name, m in classes.items()
            )
        )
        for w in warnings:
            self.log(f"warning: {w}")
            if trainer is not None:
                trainer.warnings.append(w)  # TrainResult.warnings: printed at the end of `ganaug train`

    def _track(self, row: dict[str, Any]) -> list[str]:
        """Update the best coverage per class; warnings for classes that fell far below it."""
        warnings = []
        for name, m in row.get("classes", {}).items():
            cov = m.get("coverage")
            if cov is None or not math.isfinite(cov):
                continue
            best, at = self.best.get(name, (-1.0, 0.0))
            if cov > best:
                self.best[name] = (cov, row["kimg"])
            elif best >= 0.3 and cov < best / 2 and name not in self.warned:
                self.warned.add(name)
                warnings.append(
                    f"class {name!r}: coverage fell from {best:.2f} (at {at:g} kimg) to {cov:.2f} "
                    f"at {row['kimg']:g} kimg: the generator is losing this class's variety "
                    "(mode collapse); an earlier snapshot may be better for it"
                )
        return warnings


def _match_channels(images: np.ndarray, channels: int) -> np.ndarray:
    return images if images.shape[1] == channels else convert_channels(images, channels)


def _r(v: float) -> float | None:
    return round(float(v), 4) if v is not None and math.isfinite(v) else None


def read_class_stats(run_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of ``class_stats.jsonl`` (empty when the run had no diagnostics)."""
    return read_jsonl(Path(run_dir) / FILENAME)
