#!/usr/bin/env python
"""Loading throughput and peak memory: 10,000 64x64 PNGs in 10 class folders.

Writes the images into a temporary folder (smooth random patterns plus noise, RGB, so the PNGs
compress like photos rather than like pure noise), then times ``ganaug.data.sources.load`` with
each executor, every run in a fresh child process so that peak RSS (``ru_maxrss``) belongs to that
run alone. Python-level peak allocations are measured separately with ``tracemalloc``.

    python bench/bench_load.py [--n 10000] [--size 64] [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def write_dataset(root: Path, n: int, size: int, classes: int = 10, seed: int = 0) -> float:
    from PIL import Image

    def one(i: int) -> None:
        rng = np.random.default_rng([seed, i])
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)
        arr = np.asarray(img).astype(np.int16) + rng.integers(-12, 13, (size, size, 3))
        path = root / f"class{i % classes}" / f"{i:05d}.png"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path)

    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t0


def child(args) -> None:
    """One measured load in this (fresh) process; prints a JSON line."""
    from ganaug.data.sources import load

    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    res = load(args.dir, executor=args.executor, workers=args.workers, resolution=args.resolution)
    dt = time.perf_counter() - t0
    out = {
        "executor": args.executor,
        "workers": args.workers,
        "seconds": dt,
        "images": len(res.imageset),
        "shape": list(res.imageset.images.shape),
        "array_mb": res.imageset.images.nbytes / 2**20,
        "cpu_s": sum(
            resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    if args.tracemalloc:
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    print("RESULT " + json.dumps(out))


def run_child(folder: Path, executor: str, workers: int, resolution, trace: bool = False) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--dir",
        str(folder),
        "--executor",
        executor,
        "--workers",
        str(workers),
    ]
    if resolution:
        cmd += ["--resolution", str(resolution)]
    if trace:
        cmd.append("--tracemalloc")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--resolution", type=int, default=None, help="load resolution (default: auto, two passes)"
    )
    ap.add_argument("--keep", default=None, help="write/reuse the images in this folder")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--executor", default="thread", help=argparse.SUPPRESS)
    ap.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="ganaug-bench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "data"
        if not (folder.exists() and any(folder.iterdir())):
            dt = write_dataset(folder, args.n, args.size)
            print(f"wrote {args.n} {args.size}x{args.size} RGB PNGs in {dt:.1f} s")
        total = sum(p.stat().st_size for p in folder.rglob("*.png"))
        print(f"dataset: {folder} ({total / 2**20:.1f} MiB on disk); cpu cores: {os.cpu_count()}")
        subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    f"import os; [open(p,'rb').read() for p in "
                    f"__import__('pathlib').Path('{folder}').rglob('*.png')]"
                ),
            ],
            check=True,
        )  # warm the page cache
        runs = [("serial", 1), ("thread", args.workers), ("process", args.workers)]
        if args.workers != 4:
            runs.append(("thread", 4))
        results = []
        for executor, workers in runs:
            r = run_child(folder, executor, workers, args.resolution)
            results.append(r)
            rss = max(r["maxrss_mb"], r["children_maxrss_mb"])
            print(
                f"{executor:>8} x{workers}: {r['seconds']:6.2f} s wall ({r['cpu_s']:5.1f} s cpu incl. start-up)  "
                f"{r['images'] / r['seconds']:6.0f} img/s  "
                f"peak RSS {r['maxrss_mb']:.0f} MiB (largest child {r['children_maxrss_mb']:.0f} MiB, "
                f"max {rss:.0f})  -> {r['shape']} ({r['array_mb']:.0f} MiB)"
            )
        t = run_child(folder, "thread", args.workers, args.resolution, trace=True)
        print(
            f"tracemalloc peak (thread x{args.workers}): {t['tracemalloc_peak_mb']:.0f} MiB "
            f"(Python + numpy allocations; {t['seconds']:.2f} s with tracing)"
        )
        best = min(results, key=lambda r: r["seconds"])
        print(f"fastest: {best['executor']} x{best['workers']} ({best['seconds']:.2f} s)")


if __name__ == "__main__":
    main()
