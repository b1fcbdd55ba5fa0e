#!/usr/bin/env python
"""Build the embedded transfer source ``src/ganaug/data/builtin/fashion-garments-sg2.pt``
(+ PROVENANCE-fashion-garments.md): a conditional StyleGAN2 pretrained on related images.

The demo set (``fashion-demo``: tshirt, pullover, shirt) is a few-shot problem; the field's answer
is to start from a GAN pretrained on related images (``--transfer``). This script pretrains one on
the Fashion-MNIST classes trouser (1), dress (3), coat (4) and bag (8) of the official **training**
file: none of them is a class of the demo set, and nothing of the t10k file (where the demo's test
set comes from) is used. StyleGAN2 ``cpu`` preset, 28 px padded to 32 px like the demo, seed 0,
no time budget. On 2 CPU cores it trains at about 85 img/s: the shipped 242.7 kimg took 80 minutes
(with other work on the machine).

The shipped file keeps what transfer learning and generation need (config, G, G_ema, D in float16,
class names, image count); the optimiser and sampler states of the run are left out.

    python scripts/build_demo_source.py [--src DIR] [--kimg 242.688] [--work DIR]
    python scripts/build_demo_source.py --from-run DIR   # strip a run trained by this script
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

import ganaug  # noqa: E402
from ganaug.checkpoint import load_snapshot  # noqa: E402
from ganaug.data.sources import read_idx  # noqa: E402
from ganaug.utils import atomic_write_bytes, atomic_write_text  # noqa: E402

CLASSES = [("trouser", 1, "Trouser"), ("dress", 3, "Dress"), ("coat", 4, "Coat"), ("bag", 8, "Bag")]
OUT = ROOT / "src" / "ganaug" / "data" / "builtin"
NAME = "fashion-garments-sg2.pt"
KEEP = ("config", "G", "G_ema", "D", "class_names", "cur_nimg", "format_version")


def pretrain(src: Path, work: Path, kimg: float) -> Path:
    """Prepare the four classes of the official training file and train; returns the run folder."""
    xi, yi = src / "train-images-idx3-ubyte.gz", src / "train-labels-idx1-ubyte.gz"
    if not xi.exists():
        raise SystemExit(f"{xi} not found: apt-get install -y dataset-fashion-mnist")
    x, y = read_idx(xi), read_idx(yi)
    xs, ys, paths = [], [], []
    for k, (_, official, _) in enumerate(CLASSES):
        idx = np.flatnonzero(y == official)
        xs.append(x[idx][:, None])
        ys.append(np.full(len(idx), k, dtype=np.int64))
        paths += [f"fashion-mnist/{xi.name}#{i}" for i in idx]
    work.mkdir(parents=True, exist_ok=True)
    np.savez(
        work / "source.npz",
        x=np.concatenate(xs).astype(np.uint8),
        y=np.concatenate(ys),
        classes=np.array([c[0] for c in CLASSES]),
        partition=np.array(["train"] * len(paths)),
        paths=np.array(paths),
    )
    ganaug.prepare(work / "source.npz", work / "prepared", overwrite=True, val=0.02, test=0.02, seed=0)
    run = work / "run"
    ganaug.train(
        work / "prepared", arch="stylegan2", preset="cpu", run_dir=run, kimg=kimg, seed=0, budget="off"
    )
    return run


def strip(run: Path, out: Path) -> None:
    """Write the run's latest snapshot without optimiser/sampler state, and its provenance."""
    s = load_snapshot(run)
    kept = {k: s[k] for k in KEEP if k in s}
    for net in ("G", "G_ema", "D"):  # float16 on disk (half the size); loading copies into float32
        kept[net] = {k: v.half() if v.is_floating_point() else v for k, v in kept[net].items()}
    kept["config"] = dict(
        kept["config"], kimg=round(kept["cur_nimg"] / 1000, 3)
    )  # the kimg it has, not asked
    buf = io.BytesIO()
    torch.save(kept, buf)
    atomic_write_bytes(out / NAME, buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    stats = [line for line in (run / "stats.jsonl").read_text().splitlines() if line.strip()]
    last = json.loads(stats[-1]) if stats else {}
    lines = [
        "# fashion-garments: provenance",
        "",
        "A conditional StyleGAN2 (ganaug `cpu` preset: 64 feature maps up to 16 px, 32 at 32 px; 28 px",
        "images padded to 32 px by reflection; grayscale) pretrained on four classes of **Fashion-MNIST**",
        "(Xiao, Rasul and Vollgraf, 2017; © Zalando SE, MIT licence), as a transfer-learning source for",
        "the demo set `fashion-demo` (`--transfer builtin:fashion-garments`).",
        "",
        "| class | official label | GAN training images (of the 6000 in the official training file) |",
        "|---|---|---|",
    ]
    counts = json.loads((run / "training_options.json").read_text())["data"]["counts"]
    for name, official, title in CLASSES:
        lines.append(f"| {name} ({title}) | {official} | {counts[name]} |")
    lines += [
        "",
        "No image of the demo's classes (T-shirt/top 0, pullover 2, shirt 6) and nothing of the t10k file",
        "(where the demo's test set comes from) was used. All images of the four classes in",
        "`train-images-idx3-ubyte.gz` were prepared with `ganaug.prepare(val=0.02, test=0.02, seed=0)`;",
        "the GAN trained on the training split only.",
        "",
        f"Trained by `scripts/build_demo_source.py` for {kept['cur_nimg'] / 1000:.1f} kimg "
        f"(seed 0, no time budget, {last.get('time_s', float('nan')) / 60:.0f} minutes on 2 CPU cores).",
        "The file holds the config, G, G_ema, D (float16) and the class names (state dicts;",
        "`torch.load(weights_only=True)`);",
        "the optimiser and sampler states are left out, so it is a transfer source, not a run to resume.",
        "",
        f"sha256 of {NAME}: `{digest}`",
        "",
    ]
    atomic_write_text(out / "PROVENANCE-fashion-garments.md", "\n".join(lines))
    print(f"wrote {out / NAME} ({len(buf.getvalue()) / 1e6:.2f} MB, {kept['cur_nimg'] / 1000:.1f} kimg)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--kimg", type=float, default=242.688)
    ap.add_argument("--work", default="demo-source-work", help="folder for the prepared data and the run")
    ap.add_argument("--from-run", help="strip this run's latest snapshot instead of training")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    t0 = time.time()
    run = Path(args.from_run) if args.from_run else pretrain(Path(args.src), Path(args.work), args.kimg)
    strip(run, Path(args.out))
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
