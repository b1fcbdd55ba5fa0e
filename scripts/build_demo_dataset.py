#!/usr/bin/env python
"""Build the embedded demo set ``src/ganaug/data/builtin/fashion-demo.npz`` (+ PROVENANCE.md).

A scarce, imbalanced 3-class subset of Fashion-MNIST where a classifier struggles on the rare
class: the easily confused "tshirt" (T-shirt/top, label 0), "pullover" (2) and "shirt" (6).
Training pool from the official training file, a generous real test set from the official
t10k file (a predefined partition that ``ganaug prepare`` honours). Grayscale 28x28.

Source: Debian's ``dataset-fashion-mnist`` package (``apt-get install dataset-fashion-mnist``),
IDX files under /usr/share/datasets/fashion-mnist/. Deterministic for a given seed.

    python scripts/build_demo_dataset.py [--src DIR] [--seed 0] [--train 300,300,30] [--test 500]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ganaug.data.imageset import pixel_hash  # noqa: E402
from ganaug.data.sources import read_idx  # noqa: E402
from ganaug.utils import atomic_write_bytes, atomic_write_text  # noqa: E402

CLASSES = [("tshirt", 0, "T-shirt/top"), ("pullover", 2, "Pullover"), ("shirt", 6, "Shirt")]
OUT = ROOT / "src" / "ganaug" / "data" / "builtin"


def pick(
    labels: np.ndarray, images: np.ndarray, official: int, n: int, rng: np.random.Generator, taken: set[str]
) -> np.ndarray:
    """n indices of one official class, seeded, skipping images whose pixels were already taken."""
    cand = rng.permutation(np.flatnonzero(labels == official))
    out = []
    for i in cand:
        h = pixel_hash(images[i])
        if h in taken:
            continue
        taken.add(h)
        out.append(int(i))
        if len(out) == n:
            break
    if len(out) < n:
        raise SystemExit(f"only {len(out)} distinct images of class {official}")
    return np.sort(np.array(out, dtype=np.int64))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--train", default="300,300,30", help="training-pool images per class (tshirt,pullover,shirt)"
    )
    ap.add_argument("--test", type=int, default=500, help="test images per class (from t10k)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    src = Path(args.src)
    files = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    data = {}
    for part, (xi, yi) in files.items():
        if not (src / xi).exists():
            raise SystemExit(f"{src / xi} not found: apt-get install -y dataset-fashion-mnist")
        data[part] = (read_idx(src / xi), read_idx(src / yi))
    train_n = [int(v) for v in args.train.split(",")]
    if len(train_n) != len(CLASSES):
        raise SystemExit("--train needs one count per class: tshirt,pullover,shirt")

    rng = np.random.default_rng(args.seed)
    taken: set[str] = set()
    xs, ys, parts, paths, chosen = [], [], [], [], {}
    for part in ("test", "train"):  # test first: training images never duplicate a test image
        x, y = data[part]
        for k, (name, official, _) in enumerate(CLASSES):
            n = args.test if part == "test" else train_n[k]
            idx = pick(y, x, official, n, rng, taken)
            chosen[(part, name)] = idx
    for part in ("train", "test"):  # stored order: the training pool, then the test set
        x, y = data[part]
        fname = files[part][0]
        for k, (name, _, _) in enumerate(CLASSES):
            idx = chosen[(part, name)]
            xs.append(x[idx][:, None])
            ys.append(np.full(len(idx), k, dtype=np.int64))
            parts += [part] * len(idx)
            paths += [f"fashion-mnist/{fname}#{i}" for i in idx]
    x = np.concatenate(xs).astype(np.uint8)
    y = np.concatenate(ys)

    out = Path(args.out)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        x=x,
        y=y,
        classes=np.array([c[0] for c in CLASSES]),
        partition=np.array(parts),
        paths=np.array(paths),
    )
    atomic_write_bytes(out / "fashion-demo.npz", buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()

    lines = [
        "# fashion-demo: provenance",
        "",
        "A scarce, imbalanced 3-class subset of **Fashion-MNIST** (Xiao, Rasul and Vollgraf, 2017,",
        "<https://github.com/zalandoresearch/fashion-mnist>), copyright Zalando SE, released under the",
        "**MIT licence**. Taken from the Debian package `dataset-fashion-mnist`",
        (
            f"(`{src}/*-idx*-ubyte.gz`) by `scripts/build_demo_dataset.py --seed {args.seed} "
            f"--train {args.train} --test {args.test}`."
        ),
        "",
        "Grayscale 28x28, uint8, stored NCHW in `fashion-demo.npz` with arrays `x`, `y`, `classes`,",
        "`partition` (`train` = training pool from the official training file, `test` = a predefined real",
        "test set from the official t10k file, honoured by `ganaug prepare`) and `paths`",
        "(`fashion-mnist/<official file>#<index in that file>`).",
        "",
        f"sha256 of fashion-demo.npz: `{digest}`",
        "",
        "| class | official label | train pool (train file) | test (t10k file) |",
        "|---|---|---|---|",
    ]
    for name, official, title in CLASSES:
        lines.append(
            f"| {name} ({title}) | {official} | {len(chosen[('train', name)])} | "
            f"{len(chosen[('test', name)])} |"
        )
    lines += [
        "",
        (
            f"Total: {len(y)} images ({sum(p == 'train' for p in parts)} train pool, "
            f"{sum(p == 'test' for p in parts)} test). Images were drawn with "
            f"`numpy.random.default_rng({args.seed})` (test set first, then the training pool),"
        ),
        "skipping any image whose pixels equal an image already drawn, so no duplicates exist.",
        "",
        "## Indices taken",
        "",
    ]
    for part in ("train", "test"):
        for name, _, _ in CLASSES:
            idx = chosen[(part, name)]
            lines.append(
                f"**{part} / {name}** ({files[part][0]}, {len(idx)}): " + ", ".join(str(i) for i in idx)
            )
            lines.append("")
    atomic_write_text(out / "PROVENANCE.md", "\n".join(lines))
    size = (out / "fashion-demo.npz").stat().st_size
    print(f"wrote {out / 'fashion-demo.npz'} ({size / 1e6:.2f} MB, {len(y)} images) and PROVENANCE.md")


if __name__ == "__main__":
    main()
