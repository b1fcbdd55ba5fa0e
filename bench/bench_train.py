"""Training throughput on CPU: ganaug's loop vs the classic PyTorch DCGAN script, in one process.

Baseline: the PyTorch examples DCGAN training step (fp32, ImageFolder + DataLoader reading PNG
files with the example's 2 workers, Sigmoid + BCELoss, D weight gradients also computed in
the G step, the fake batch reused for the G step). Both sides train the same DCGAN-64
networks (z 100, 64 base filters, batch 64, 64x64 RGB). Timings alternate between the two
sides so that machine noise hits both alike; the ratio is printed at the end.

Also prints StyleGAN2 img/s at 32, 64 and 128 px with the `cpu` preset.

    python bench/bench_train.py [--iters 12] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganaug.config import make_config
from ganaug.data.imageset import ImageSet


def make_png_folder(root: Path, n: int = 640, res: int = 64) -> ImageSet:
    """n smooth random RGB images, written as PNGs in ImageFolder layout (2 classes)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    imgs = np.stack([np.asarray(Image.fromarray(s).resize((res, res), Image.BILINEAR)) for s in small])
    labels = np.arange(n) % 2
    for i, (img, y) in enumerate(zip(imgs, labels)):
        d = root / f"class{y}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i:05d}.png")
    return ImageSet(imgs.transpose(0, 3, 1, 2).copy(), labels, ["class0", "class1"])


class Classic:
    """The classic script's loop, verbatim in spirit."""

    def __init__(self, root: Path, workers: int):
        import torchvision.datasets as dset
        import torchvision.transforms as T

        from ganaug.models.dcgan import classic_dcgan64

        self.netG, netD = classic_dcgan64(3)
        self.netD = nn.Sequential(netD, nn.Sigmoid())
        self.crit = nn.BCELoss()
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        ds = dset.ImageFolder(
            str(root),
            transform=T.Compose(
                [T.Resize(64), T.CenterCrop(64), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)]
            ),
        )
        self.loader = torch.utils.data.DataLoader(
            ds,
            batch_size=64,
            shuffle=True,
            num_workers=workers,
            drop_last=True,
            persistent_workers=workers > 0,
        )
        self.it = iter(self.loader)

    def _batch(self):
        try:
            return next(self.it)[0]
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)[0]

    def step(self) -> int:
        real = self._batch()
        b = real.size(0)
        self.netD.zero_grad()
        label = torch.full((b,), 1.0)
        err_real = self.crit(self.netD(real).view(-1), label)
        err_real.backward()
        noise = torch.randn(b, 100)  # ganaug's G takes [B, z_dim] and adds the 1x1 itself
        fake = self.netG(noise)
        label.fill_(0.0)
        err_fake = self.crit(self.netD(fake.detach()).view(-1), label)
        err_fake.backward()
        self.optD.step()
        self.netG.zero_grad()
        label.fill_(1.0)
        err_g = self.crit(self.netD(fake).view(-1), label)
        err_g.backward()
        self.optG.step()
        return b


class Ours:
    def __init__(self, data: ImageSet, arch: str = "dcgan", resolution: int = 64, **overrides):
        from ganaug.training import Trainer
        from ganaug.training.stats import zero_totals

        if arch == "dcgan":
            cfg = make_config(
                "dcgan",
                "cpu",
                resolution=resolution,
                channels=3,
                num_classes=0,
                z_dim=100,
                g_channels=64,
                d_channels=64,
                batch_size=64,
                device="cpu",
                **overrides,
            )
        else:
            cfg = make_config(
                "stylegan2",
                "cpu",
                resolution=resolution,
                channels=3,
                num_classes=0,
                device="cpu",
                **overrides,
            )
        self.cfg = cfg
        self.tmp = tempfile.TemporaryDirectory()
        self.trainer = Trainer(data, cfg, Path(self.tmp.name), progress=False, log=lambda s: None)
        self.totals = zero_totals("cpu", aux_loss=self.trainer.d_aux)

    def step(self) -> int:
        self.trainer.step(self.totals)
        return self.cfg.batch_size


def timed(runner, iters: int) -> float:
    n = 0
    t0 = time.perf_counter()
    for _ in range(iters):
        n += runner.step()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=10, help="training steps per timed round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of the classic script")
    ap.add_argument("--skip-stylegan", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.iters} steps x {args.rounds} rounds")

    with tempfile.TemporaryDirectory() as tmp:
        data = make_png_folder(Path(tmp) / "pngs")
        classic = Classic(Path(tmp) / "pngs", workers=args.workers)
        runners = {
            "classic": classic,
            "ganaug fp32, aug none": Ours(data, aug="none", amp=False),
            "ganaug default, aug none": Ours(data, aug="none"),
            "ganaug default, ADA": Ours(data, aug="ada"),
        }
        print(
            f"ganaug default precision here: {'bf16 autocast' if runners['ganaug default, ADA'].trainer.amp else 'fp32'}"
        )
        for r in runners.values():  # warm-up
            timed(r, 2)
        res = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, r in runners.items():
                res[name].append(timed(r, args.iters))
    base = float(np.median(res["classic"]))
    print("\nDCGAN-64 (z 100, 64 filters, batch 64, 64x64 RGB), median img/s over rounds:")
    for name, vals in res.items():
        med = float(np.median(vals))
        print(
            f"  {name:<26} {med:8.1f} img/s   ratio vs classic: {med / base:5.2f}x   rounds: "
            + ", ".join(f"{v:.1f}" for v in vals)
        )

    if not args.skip_stylegan:
        print("\nStyleGAN2 (cpu preset, batch 32, 3 channels, ADA), img/s:")
        for res_px in (32, 64, 128):
            rng = np.random.default_rng(0)
            imgs = rng.integers(0, 256, size=(256, 3, res_px, res_px), dtype=np.uint8)
            sg = Ours(ImageSet(imgs, np.zeros(256, np.int64), ["x"]), arch="stylegan2", resolution=res_px)
            timed(sg, 1)
            print(f"  {res_px:4d} px: {timed(sg, max(2, args.iters // (res_px // 32))):8.1f} img/s")


if __name__ == "__main__":
    main()
