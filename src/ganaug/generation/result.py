"""What :func:`ganaug.generate` returns, and the columns of an export's ``manifest.csv``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganaug.data.imageset import ImageSet

MANIFEST_FIELDS = [
    "file",
    "kind",
    "class",
    "label",
    "source",
    "run",
    "snapshot",
    "kimg",
    "seed",
    "truncation",
    "sha256",
]


@dataclass
class GenerateResult:
    images: ImageSet  # synthetic images; paths are "synthetic:<class>/seed<k>"
    seeds: np.ndarray  # seed of each image
    snapshot: str
    kimg: float
    truncation: float
    out: Path | None = None
    files: list[Path] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # quality filter: rejected per class

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.images.counts().items())
        return f"GenerateResult({len(self.images)} images [{counts}], snapshot={Path(self.snapshot).name}, out={self.out})"

    def _repr_html_(self) -> str:
        return self.images._repr_html_()
