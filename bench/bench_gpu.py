"""StyleGAN2 on one GPU: ganaug's throughput by precision and torch.compile, a one-process NCCL run,
and NVIDIA's stylegan2-ada-pytorch at the same configuration on the same card (issue 10, item 5).

Rows, each in its own process (a fresh CUDA context and compile cache), at every ``--res``:
  ganaug fp32             the ``gpu`` preset with amp off
  ganaug bf16             amp on: bf16 in the 4 highest-resolution blocks, the rest fp32 (as official fp16)
  ganaug bf16+compile     the same with torch.compile (warm-up, i.e. compilation, reported apart)
  ganaug bf16 nccl        bf16 launched by torchrun as a 1-process NCCL group (the multi-GPU code path)
  official                ``train.py --cfg auto`` of stylegan2-ada-pytorch (with ``--official PATH``)

The same configuration on both sides, the official ``--cfg auto`` for one GPU: unconditional, batch 32,
z/w 512, a 2-layer mapping, channel_base 16384 (fmaps 0.5), channel_max 512, style mixing 0.9, PL weight
2, R1 gamma 0.0002 x res^2 / batch, ADA from p = 0, reduced precision in the 4 highest-resolution blocks
with conv clamp 256. Images are 512 smooth random RGB images. ganaug's img/s is timed over
``--steps`` training steps after ``--warmup`` ones; the official figure is its own ``sec/kimg`` log
field, the median over the ticks after the first (which holds its set-up and plugin builds).

The official code stays outside this repository: clone or copy it anywhere and pass its folder. It needs
``requests`` and ``psutil`` importable (and ``ninja`` plus the CUDA toolkit for its custom ops); whether
its custom CUDA ops built or it fell back to its reference ops is read from its output and printed.

    python bench/bench_gpu.py --res 64,256 --steps 40 --official ../stylegan2-ada-pytorch
    python bench/bench_gpu.py --device cpu --res 32 --steps 2 --warmup 1 --rows fp32   # a smoke run

Output: a table on stdout and ``OUT/bench_gpu.json`` (default OUT: bench-gpu).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("fp32", "bf16", "bf16+compile", "bf16 nccl")
# The official --cfg auto for one GPU, as ganaug overrides of the gpu preset.
SAME_AS_OFFICIAL_AUTO = dict(
    batch_size=32,
    z_dim=512,
    w_dim=512,
    mapping_layers=2,
    channel_base=16384,
    channel_max=512,
    style_mixing=0.9,
    pl_weight=2.0,
    aug="ada",
    num_fp16_res=4,
    conv_clamp=256.0,
)


def smooth_images(n: int, res: int, seed: int = 0):
    """n smooth random RGB images [n, 3, res, res] (uint8): 8x8 noise upsampled bilinearly."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    small = torch.rand(n, 3, 8, 8, generator=g)
    big = F.interpolate(small, size=(res, res), mode="bilinear", align_corners=False)
    return (big * 255).round().clamp(0, 255).to(torch.uint8).numpy().astype(np.uint8)


# ----------------------------------------------------------------------------
# ganaug, one configuration per process


def worker(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np
    import torch
    import torch.distributed as dist

    from ganaug.config import make_config
    from ganaug.data.imageset import ImageSet
    from ganaug.training import Trainer
    from ganaug.training.stats import zero_totals

    if args.nccl:  # torchrun's environment (WORLD_SIZE=1): join a real NCCL group and prove it reduces
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
        probe = torch.ones(1, device="cuda")
        dist.all_reduce(probe)
        assert probe.item() == dist.get_world_size()
    data = ImageSet(smooth_images(512, args.res), np.zeros(512, dtype=np.int64), ["all"])
    cfg = make_config(
        "stylegan2",
        "gpu",
        resolution=args.res,
        channels=3,
        num_classes=0,
        device=args.device,
        amp=args.amp,
        compile=args.compile,
        **SAME_AS_OFFICIAL_AUTO,
    )
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with tempfile.TemporaryDirectory(prefix="ganaug-bench-gpu-") as tmp:
        t = Trainer(data, cfg, Path(tmp), progress=False, log=lambda s: None)
        totals = zero_totals(t.device, aux_loss=t.d_aux)
        t0 = time.perf_counter()
        for _ in range(args.warmup):  # allocation, cuDNN autotuning, compilation
            t.step(totals)
        sync()
        warmup_s = time.perf_counter() - t0
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            t.step(totals)
        float(totals["loss_G"])  # waits for the device
        sync()
        dt = time.perf_counter() - t0
        out = {
            "img_per_s": args.steps * cfg.batch_size / dt,
            "sec_per_kimg": dt / (args.steps * cfg.batch_size) * 1000,
            "warmup_s": warmup_s,
            "amp_active": bool(t.amp),
            "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30
            if args.device.startswith("cuda")
            else None,
            "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
            "torch": torch.__version__,
        }
    if args.nccl:
        out["backend"] = dist.get_backend()
        dist.destroy_process_group()
    print(json.dumps(out), flush=True)


def run_ganaug(row: str, res: int, args: argparse.Namespace) -> dict:
    wargs = ["--worker", "--res", str(res), "--steps", str(args.steps), "--device", args.device]
    wargs += ["--warmup", str(args.warmup * (3 if "compile" in row else 1))]
    wargs += ["--amp"] if row != "fp32" else []
    wargs += ["--compile"] if "compile" in row else []
    if "nccl" in row:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--master_addr=127.0.0.1"]
        cmd += [f"--master_port={port}", __file__, *wargs, "--nccl"]
    else:
        cmd = [sys.executable, __file__, *wargs]
    return _json_result(cmd, args.timeout)


def _json_result(cmd: list[str], timeout: float) -> dict:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {out.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------
# NVIDIA's stylegan2-ada-pytorch


def run_official(path: Path, res: int, args: argparse.Namespace) -> dict:
    """Its train.py at --cfg auto on a folder of the same images; sec/kimg from its tick lines."""
    from PIL import Image

    ticks = 3  # 4 kimg each; the first tick report (at the first batch) holds the set-up
    with tempfile.TemporaryDirectory(prefix="official-bench-") as tmp:
        imgs = Path(tmp) / "images"
        imgs.mkdir()
        for i, img in enumerate(smooth_images(512, res)):
            Image.fromarray(img.transpose(1, 2, 0)).save(imgs / f"{i:04d}.png")
        cmd = [
            sys.executable,
            str(path / "train.py"),
            "--outdir",
            str(Path(tmp) / "out"),
            "--data",
            str(imgs),
        ]
        cmd += ["--gpus", "1", "--cfg", "auto", "--batch", "32", "--kimg", str(4 * ticks), "--snap", "1000"]
        cmd += ["--metrics", "none", "--seed", "0", "--aug", "ada", "--mirror", "0"]
        t0 = time.perf_counter()
        try:
            out = subprocess.run(
                cmd, cwd=path, capture_output=True, text=True, timeout=args.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout:.0f} s"}
        text = out.stdout + out.stderr
    spk = [
        float(m.group(2))
        for m in re.finditer(r"tick (\d+)\s.*?sec/kimg ([\d.]+)", text)
        if int(m.group(1)) > 0
    ]
    plugins = re.findall(r'Setting up PyTorch plugin "(\w+)"\.\.\. (Done|Failed!)', text)
    fallback = "Falling back to slow reference implementation" in text or any(s != "Done" for _, s in plugins)
    result = {
        "wall_s": time.perf_counter() - t0,
        "custom_ops": "fell back to the reference ops"
        if fallback
        else ("built" if plugins else "not reported"),
        "plugins": dict(plugins),
    }
    if out.returncode != 0 or not spk:
        result["error"] = f"exit {out.returncode}: " + " | ".join(text.strip().splitlines()[-3:])
        return result
    med = statistics.median(spk)
    return {**result, "sec_per_kimg": med, "img_per_s": 1000 / med, "ticks_timed": len(spk)}


# ----------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--nccl", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--amp", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--res", default="64,256", help="resolutions, comma-separated")
    ap.add_argument("--steps", type=int, default=40, help="timed training steps per row")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (x3 with compile)")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"ganaug rows, of: {', '.join(ROWS)}")
    ap.add_argument("--official", type=Path, help="a stylegan2-ada-pytorch folder (its train.py)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--timeout", type=float, default=240, help="seconds per row")
    ap.add_argument("--out", type=Path, default=Path("bench-gpu"))
    args = ap.parse_args()
    if args.worker:
        args.res = int(args.res)
        worker(args)
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        ap.error(f"unknown row(s) {unknown}; known: {', '.join(ROWS)}")
    if args.official is not None and not (args.official / "train.py").is_file():
        ap.error(f"{args.official} has no train.py: pass the stylegan2-ada-pytorch folder")
    results: dict = {"device": args.device, "steps": args.steps, "config": SAME_AS_OFFICIAL_AUTO, "rows": []}
    print(f"{'res':>4}  {'row':<22}{'img/s':>9}{'sec/kimg':>10}{'vs bf16':>9}  notes", flush=True)
    for res in (int(r) for r in args.res.split(",")):
        here: dict[str, dict] = {}
        for row in rows:
            here[row] = run_ganaug(row, res, args)
        if args.official is not None:
            here["official"] = run_official(args.official, res, args)
        base = here.get("bf16", {}).get("img_per_s")
        for row, r in here.items():
            results["rows"].append({"res": res, "row": row, **r})
            if "img_per_s" not in r:
                print(f"{res:>4}  {row:<22}{'-':>9}{'-':>10}{'':>9}  {r.get('error', '')}", flush=True)
                continue
            ratio = f"{r['img_per_s'] / base:.2f}x" if base else "-"
            notes = []
            if r.get("warmup_s") is not None and "compile" in row:
                notes.append(f"warm-up {r['warmup_s']:.0f} s")
            if r.get("backend"):
                notes.append(f"backend {r['backend']}")
            if r.get("custom_ops"):
                notes.append(f"custom ops {r['custom_ops']}")
            if r.get("peak_mem_gb"):
                notes.append(f"{r['peak_mem_gb']:.1f} GiB")
            name = f"ganaug {row}" if row != "official" else "official --cfg auto"
            print(
                f"{res:>4}  {name:<22}{r['img_per_s']:>9.1f}{r['sec_per_kimg']:>10.2f}{ratio:>9}  {', '.join(notes)}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_gpu.json").write_text(json.dumps(results, indent=1))
    print(f"\n{args.out / 'bench_gpu.json'}")


if __name__ == "__main__":
    main()
