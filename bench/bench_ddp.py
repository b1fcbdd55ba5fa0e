"""Throughput of one GAN training process vs N processes (torchrun, DDP-style gradient averaging).

For DCGAN and StyleGAN2 at 64 and 256 px: img/s of a single process using all the cores, then of
N processes with cores/N threads each (gloo on CPU, NCCL on GPUs), same global batch; prints the
scaling efficiency = (N-process img/s) / (single-process img/s). On a GPU machine, run with
``--device cuda`` (N = number of GPUs).

    python bench/bench_ddp.py [--nproc 2] [--steps 6] [--res 64,256] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(args: argparse.Namespace) -> None:
    """One process: build the Trainer, run warm-up + timed steps, rank 0 prints img/s as JSON."""
    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np
    import torch

    from ganaug.config import make_config
    from ganaug.data.imageset import ImageSet
    from ganaug.distributed import destroy, init_from_env
    from ganaug.training import Trainer
    from ganaug.training.stats import zero_totals

    init_from_env(args.device)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(256, 3, args.res, args.res), dtype=np.uint8)
    data = ImageSet(imgs, np.arange(256) % 2, ["a", "b"])
    overrides = {"batch_size": args.batch, "device": args.device, "aug": "ada"}
    if args.arch == "dcgan":
        overrides.update(g_channels=64, d_channels=64)
    cfg = make_config(
        args.arch,
        "cpu" if args.device == "cpu" else "gpu",
        resolution=args.res,
        channels=3,
        num_classes=2,
        **overrides,
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = Trainer(data, cfg, Path(tmp), progress=False, log=lambda s: None)
        totals = zero_totals(t.device, aux_loss=t.d_aux)

        def step() -> None:
            t.step(totals)

        step()
        if t.cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        float(totals["loss_G"])  # wait for the device
        dt = time.perf_counter() - t0
    if rank == 0:
        print(json.dumps({"img_per_s": args.steps * args.batch / dt}), flush=True)
    destroy()


def run(arch: str, res: int, nproc: int, threads: int, args: argparse.Namespace) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    wargs = [
        "--worker",
        "--arch",
        arch,
        "--res",
        str(res),
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--device",
        args.device,
    ]
    if nproc == 1:
        cmd = [sys.executable, __file__, *wargs]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={nproc}",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            __file__,
            *wargs,
        ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])["img_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--arch", default="dcgan")
    ap.add_argument("--res", default="64,256")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32, help="global batch")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.worker:
        args.res = int(args.res)
        worker(args)
        return
    cores = os.cpu_count() or 1
    print(
        f"{cores} cores; single process with {cores} threads vs {args.nproc} processes with "
        f"{max(cores // args.nproc, 1)} thread(s) each; global batch {args.batch}; device {args.device}"
    )
    print(f"{'arch':<10}{'res':>5}{'1 proc img/s':>15}{f'{args.nproc} procs img/s':>17}{'efficiency':>12}")
    for arch in ("dcgan", "stylegan2"):
        for res in (int(r) for r in args.res.split(",")):
            one = run(arch, res, 1, cores, args)
            many = run(arch, res, args.nproc, max(cores // args.nproc, 1), args)
            print(f"{arch:<10}{res:>5}{one:>15.1f}{many:>17.1f}{many / one:>11.2f}x", flush=True)


if __name__ == "__main__":
    main()
