"""Diagnosis of issue 10 (faithful but not diverse fakes) on the demo set (``builtin:fashion-demo``).

Why do the GAN's samples cluster apart from the real training images in the evaluation's feature
space? Three cheap measurements, all with the protocol of ``ganaug.evaluate`` (trained features of
the cached feature net, k=5 PRDC, each comparison at one matched size: the smaller set, the larger one
randomly subsampled ``--repeats`` times, mean):

- ``real``: REAL test images, degraded (Gaussian blur, additive noise, 28->32->28 pad/crop and resize
  round trips, bf16 rounding of the [-1, 1] tensor, grey-level quantisation, a 1-px shift, contrast),
  measured vs the training split, exactly as a synthetic set would be; in trained features and in
  pixel features (``features="pixels"``). If mild degradations of real images already lose recall /
  coverage, the metric (feature space) is the bottleneck, not only the GAN.
- ``radii``: how tight the training images are in each feature space: median 5-NN radius of train
  among train (leave-one-out) vs test among test at the same size, and the median distance from test
  (and from degraded test) images to their nearest training image, in units of the train radius.
- ``snapshots RUN``: every snapshot of a run, G_ema and G (the raw weights), truncation 1.0,
  ``--n`` images per class (plus ``--variants`` of G_ema's: fakes sharpened or blurred, noise inputs off): FID / precision / recall / density / coverage vs train, overall and for the
  rare class (``--rare``, default the smallest class).
- ``speed``: idle-equivalent speed of ``bench_quality.py`` candidates from process CPU time (a shared
  machine's wall clock says little), as a ratio to the ``sg2-cpu`` preset's measured idle img/s.

    python bench/bench_diversity.py real   --out bench-diversity
    python bench/bench_diversity.py radii  --out bench-diversity
    python bench/bench_diversity.py snapshots runs/00000-... --out bench-diversity
    python bench/bench_diversity.py speed --candidates sg2-noamp,sg2-c2048

The feature net is trained once (20 epochs, seed 0, like ``bench_quality.py``) and cached under
``OUT/evaluate/cache``; point ``--out`` at a bench_quality output folder to share its net.
Results: a text table on stdout and JSON under OUT (``diversity_<mode>.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

PRDC = ("fid", "precision", "recall", "density", "coverage")


# ----------------------------------------------------------------------------
# Data, features, metrics (the protocol of ganaug.evaluate, without KID and memorisation)


def load(out: Path):
    import ganaug
    from ganaug.data.prepared import load_prepared

    ganaug.prepare(builtin="fashion-demo", out=out / "prepared")
    return load_prepared(out / "prepared")


def extractor(p, out: Path, kind: str, epochs: int = 20):
    from ganaug.metrics.features import make_extractor

    return make_extractor(
        kind,
        train=p.train,
        val=p.val,
        cache_dir=out / "evaluate" / "cache",
        device="cpu",
        seed=0,
        epochs=epochs,
    )


def metrics_vs(real_f: np.ndarray, fake_f: np.ndarray, repeats: int, seed: int = 0) -> dict[str, float]:
    """FID + PRDC (k=5) at the matched size min(n_real, n_fake), mean over ``repeats`` draws."""
    from ganaug.metrics.distribution import fid, matched, prdc

    def one(r, f):
        return {"fid": fid(r, f), **prdc(r, f, k=5)}

    draws = matched(one, real_f, fake_f, min(len(real_f), len(fake_f)), repeats, seed)
    return {m: float(np.mean([d[m] for d in draws])) for m in PRDC}


def scoped(
    train_f, train_y, fake_f, fake_y, classes: dict[str, int], repeats: int
) -> dict[str, dict[str, float]]:
    """Overall and per listed class (name -> label)."""
    out = {"overall": metrics_vs(train_f, fake_f, repeats)}
    for name, c in classes.items():
        out[name] = metrics_vs(train_f[train_y == c], fake_f[fake_y == c], repeats)
    return out


def rare_class(p, name: str | None) -> tuple[str, int]:
    counts = np.bincount(p.train.labels, minlength=p.train.num_classes)
    c = p.train.class_names.index(name) if name else int(np.argmin(counts))
    return p.train.class_names[c], c


def hf_ratio(x: np.ndarray, ref: np.ndarray) -> float:
    """High-frequency energy of images x relative to ref: mean squared Laplacian (grey levels), x / ref.
    1 = as sharp as ref; blur lowers it (a real image blurred with sigma 0.5 / 1.0: see ``real``)."""
    from scipy.ndimage import laplace

    def e(a):
        a = a.astype(np.float64)
        return float(
            np.mean([np.mean(laplace(img, mode="reflect") ** 2) for img in a.reshape(-1, *a.shape[2:])])
        )

    return e(x) / e(ref)


# ----------------------------------------------------------------------------
# Degradations of real uint8 N x C x H x W images


def _to_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 127.5 - 1.0


def _to_uint8(x: np.ndarray) -> np.ndarray:  # as ganaug.generation.synthesize
    return np.clip(x * 127.5 + 128, 0, 255).astype(np.uint8)


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return np.clip(
        np.rint(gaussian_filter(x.astype(np.float64), sigma=(0, 0, sigma, sigma), mode="reflect")), 0, 255
    ).astype(np.uint8)


def noise(x: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(x + rng.normal(0, std, x.shape)), 0, 255).astype(np.uint8)


def pad_crop(x: np.ndarray, size: int = 32) -> np.ndarray:
    """Reflect-pad to the GAN's size and centre-crop back (what --fit pad does to a real image)."""
    import torch

    from ganaug.data.preprocess import center_crop_array

    h = x.shape[2]
    a, b = (size - h) // 2, size - h - (size - h) // 2
    t = torch.nn.functional.pad(torch.from_numpy(x.astype(np.float32)), (a, b, a, b), mode="reflect")
    return center_crop_array(t.round().clamp(0, 255).to(torch.uint8).numpy(), list(x.shape[2:]))


def resize_round_trip(x: np.ndarray, size: int = 32) -> np.ndarray:
    from ganaug.data.preprocess import resize_array

    return resize_array(resize_array(x, (size, size), mode="bilinear"), tuple(x.shape[2:]), mode="area")


def bf16(x: np.ndarray) -> np.ndarray:
    import torch

    t = torch.from_numpy(_to_float(x).astype(np.float32)).to(torch.bfloat16).float().numpy()
    return _to_uint8(t.astype(np.float64))


def quantise(x: np.ndarray, levels: int) -> np.ndarray:
    step = 255 / (levels - 1)
    return np.clip(np.rint(np.rint(x / step) * step), 0, 255).astype(np.uint8)


def shift(x: np.ndarray, px: int = 1) -> np.ndarray:
    return np.roll(x, px, axis=3)


def contrast(x: np.ndarray, f: float) -> np.ndarray:
    m = x.astype(np.float64).mean(axis=(1, 2, 3), keepdims=True)
    return np.clip(np.rint(m + (x - m) * f), 0, 255).astype(np.uint8)


def sharpen(x: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """Unsharp mask x + amount * (x - blur(x)): a diagnostic of fakes (does restoring high frequencies alone
    restore recall/coverage?), not a recommended post-process."""
    from scipy.ndimage import gaussian_filter

    f = x.astype(np.float64)
    return np.clip(
        np.rint(f + amount * (f - gaussian_filter(f, sigma=(0, 0, sigma, sigma), mode="reflect"))), 0, 255
    ).astype(np.uint8)


DEGRADATIONS = {
    "none (= floor)": lambda x: x,
    "blur s=0.5": lambda x: blur(x, 0.5),
    "blur s=1.0": lambda x: blur(x, 1.0),
    "noise std 2/255": lambda x: noise(x, 2),
    "noise std 5/255": lambda x: noise(x, 5),
    "noise std 10/255": lambda x: noise(x, 10),
    "pad 28->32 reflect, crop 28": pad_crop,
    "resize 28->32->28": resize_round_trip,
    "bf16 rounding of [-1,1]": bf16,
    "quantise 32 levels": lambda x: quantise(x, 32),
    "quantise 8 levels": lambda x: quantise(x, 8),
    "shift 1 px": shift,
    "contrast x0.8": lambda x: contrast(x, 0.8),
}


# ----------------------------------------------------------------------------
# Modes


def mode_real(p, out: Path, args) -> dict[str, Any]:
    rare, rc = rare_class(p, args.rare)
    res: dict[str, Any] = {}
    for kind in args.features:
        ex = extractor(p, out, kind)
        ftr = ex(p.train)
        for name, fn in DEGRADATIONS.items():
            deg = fn(p.test.images)
            fte = ex(deg)
            res.setdefault(name, {})[kind] = scoped(
                ftr, p.train.labels, fte, p.test.labels, {rare: rc}, args.repeats
            )
            res[name]["hf_ratio_vs_train"] = hf_ratio(deg, p.train.images)
            r = res[name][kind]
            print(
                f"{name:<30} {kind:<8} recall {r['overall']['recall']:.3f} coverage {r['overall']['coverage']:.3f} "
                f"{rare} coverage {r[rare]['coverage']:.3f}",
                flush=True,
            )
    lines = [
        f"REAL TEST images, degraded, vs the training split (matched n, k=5, mean of {args.repeats} draws)",
        f"{'degradation':<30} {'features':<8} {'FID':>7} {'prec':>6} {'recall':>6} {'dens':>6} {'cov':>6} "
        f"{rare + ' cov':>10} {rare + ' rec':>10} {'HF/train':>8}",
    ]
    for name, per in res.items():
        for kind in args.features:
            r = per[kind]
            o = r["overall"]
            lines.append(
                f"{name:<30} {kind:<8} {o['fid']:>7.2f} {o['precision']:>6.3f} {o['recall']:>6.3f} "
                f"{o['density']:>6.3f} {o['coverage']:>6.3f} {r[rare]['coverage']:>10.3f} "
                f"{r[rare]['recall']:>10.3f} {per['hf_ratio_vs_train']:>8.2f}"
            )
    lines.append(
        "HF/train: high-frequency energy (mean squared Laplacian) of the images / the training split's"
    )
    return {"table": "\n".join(lines), "results": res}


def mode_radii(p, out: Path, args) -> dict[str, Any]:
    from ganaug.metrics.distribution import knn

    rng = np.random.default_rng(0)
    n = len(p.train)
    test_idx = np.sort(rng.choice(len(p.test), n, replace=False))
    res: dict[str, Any] = {}
    lines = [
        "k-NN radii (k=5) in each feature space; distances in units of the median train radius",
        f"{'features':<8} {'train r5 (med)':>14} {'test r5 @ n=train':>17} {'ratio':>6}  "
        + "  ".join(
            f"{d[:14]:>14}" for d in ("test->train NN", *[k for k in DEGRADATIONS if k != "none (= floor)"])
        ),
    ]
    for kind in args.features:
        ex = extractor(p, out, kind)
        ftr, fte = ex(p.train), ex(p.test.images[test_idx])
        r_tr = float(np.median(knn(ftr, ftr, 5, exclude_self=True)[0][:, -1]))
        r_te = float(np.median(knn(fte, fte, 5, exclude_self=True)[0][:, -1]))
        nn, own = {}, {}
        for name, fn in DEGRADATIONS.items():
            f = ex(fn(p.test.images[test_idx]))
            nn[name] = float(np.median(knn(f, ftr, 1)[0][:, 0])) / r_tr
            own[name] = float(np.median(knn(f, f, 5, exclude_self=True)[0][:, -1])) / r_tr
        res[kind] = {
            "train_r5_median": r_tr,
            "test_r5_median_same_n": r_te,
            "nn_to_train_over_r5": nn,
            "own_r5_over_train_r5": own,
        }
        lines.append(
            f"{kind:<8} {r_tr:>14.4g} {r_te:>17.4g} {r_te / r_tr:>6.2f}  "
            + "  ".join(f"{v:>14.2f}" for v in nn.values())
            + "   <- median NN distance to train"
        )
        lines.append(
            f"{'':<8} {'':>14} {'':>17} {'':>6}  "
            + "  ".join(f"{v:>14.2f}" for v in own.values())
            + "   <- the set's own median r5 (spread)"
        )
    return {"table": "\n".join(lines), "results": res}


def spread_ratio(real_f: np.ndarray, fake_f: np.ndarray, k: int = 5) -> float:
    """Median k-NN radius of the fakes among themselves / the reals' among themselves, at the reals' count
    (fakes subsampled): < 1 means the fakes crowd together (small fake balls, hence low recall)."""
    from ganaug.metrics.distribution import knn

    rng = np.random.default_rng(0)
    f = fake_f[np.sort(rng.choice(len(fake_f), min(len(real_f), len(fake_f)), replace=False))]
    r_real = float(np.median(knn(real_f, real_f, k, exclude_self=True)[0][:, -1]))
    return float(np.median(knn(f, f, k, exclude_self=True)[0][:, -1])) / r_real


def mode_snapshots(p, out: Path, args) -> dict[str, Any]:
    import torch

    from ganaug.checkpoint import load_generator
    from ganaug.data.preprocess import center_crop_array
    from ganaug.generation import synthesize

    rare, rc = rare_class(p, args.rare)
    ex = extractor(p, out, args.snap_features)
    ftr = ex(p.train)
    snaps = sorted(Path(args.run).glob("snapshot-*.pt"))
    if args.every > 1:
        snaps = snaps[:: -args.every][::-1]  # keep the last one
    res: dict[str, Any] = {}
    seeds = list(range(args.n))
    for snap in snaps:
        for ema in (True, False):
            runs = [(t, "-") for t in args.truncation] + [(1.0, v) for v in (args.variants if ema else [])]
            for trunc, variant in runs:
                G, info = load_generator(snap, ema=ema)
                cfg = info["config"]
                imgs, labs = [], []
                with torch.no_grad():
                    for c in range(p.train.num_classes):
                        if variant.startswith(
                            "noise:"
                        ):  # StyleGAN2's noise inputs off ("none") or fixed ("const")
                            z = torch.stack(
                                [
                                    torch.randn(G.z_dim, generator=torch.Generator().manual_seed(s))
                                    for s in seeds
                                ]
                            )
                            cc = torch.full((len(seeds),), c, dtype=torch.long)
                            x = G(z, cc, truncation_psi=trunc, noise_mode=variant.split(":")[1]).float()
                            x = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
                        else:
                            x = synthesize(G, seeds, c, truncation=trunc)
                        if cfg.crop_to:
                            x = center_crop_array(x, cfg.crop_to)
                        imgs.append(x)
                        labs += [c] * len(x)
                fake_u8 = np.concatenate(imgs)
                if variant.startswith("sharpen:"):
                    fake_u8 = sharpen(fake_u8, float(variant.split(":")[1]))
                elif variant.startswith("blur:"):
                    fake_u8 = blur(fake_u8, float(variant.split(":")[1]))
                ff = ex(fake_u8)
                r = scoped(ftr, p.train.labels, ff, np.asarray(labs), {rare: rc}, args.repeats)
                r["spread"] = spread_ratio(ftr, ff)
                kimg = info["cur_nimg"] / 1000
                key = f"{kimg:g}|{'G_ema' if ema else 'G'}|psi={trunc:g}|{variant}"
                res[key] = {
                    "kimg": kimg,
                    "weights": "G_ema" if ema else "G",
                    "truncation": trunc,
                    "variant": variant,
                    "hf_ratio_vs_train": hf_ratio(fake_u8, p.train.images),
                    **r,
                }
                o = r["overall"]
                print(
                    f"{kimg:6.1f} kimg {res[key]['weights']:<5} psi {trunc:g} {variant}: FID {o['fid']:.1f} prec "
                    f"{o['precision']:.3f} rec {o['recall']:.3f} dens {o['density']:.3f} cov {o['coverage']:.3f} "
                    f"{rare} cov {r[rare]['coverage']:.3f} HF/train {res[key]['hf_ratio_vs_train']:.2f} spread {r['spread']:.2f}",
                    flush=True,
                )
    lines = [
        f"snapshots of {args.run}: {args.n} images per class, {args.snap_features} features, vs train (matched, k=5)",
        f"{'kimg':>6} {'weights':<6} {'psi':>4} {'variant':<11} {'FID':>6} {'prec':>6} {'recall':>6} {'dens':>6} {'cov':>6} "
        f"{rare + ' cov':>10} {'HF/train':>8} {'spread':>6}",
    ]
    for r in res.values():
        o = r["overall"]
        lines.append(
            f"{r['kimg']:>6.1f} {r['weights']:<6} {r['truncation']:>4g} {r['variant']:<11} {o['fid']:>6.1f} {o['precision']:>6.3f} "
            f"{o['recall']:>6.3f} {o['density']:>6.3f} {o['coverage']:>6.3f} {r[rare]['coverage']:>10.3f} {r['hf_ratio_vs_train']:>8.2f} {r['spread']:>6.2f}"
        )
    lines.append(
        "HF/train: high-frequency energy of the fakes / the training images'; spread: the fakes' median 5-NN "
        "radius among themselves / the training images' (same count)"
    )
    return {"table": "\n".join(lines), "results": res}


def mode_speed(p, out: Path, args) -> dict[str, Any]:
    """Idle-equivalent speed of bench_quality candidates: process CPU seconds per kimg (all threads; robust to
    other processes on a shared machine, unlike wall time), measured in alternating short runs, as a ratio to
    ``sg2-cpu``; idle img/s = ``--idle-img-s`` (the cpu preset's measured idle speed) x that ratio."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_quality import parse_candidates

    from ganaug.training import config_for
    from ganaug.training import train as train_fn

    cands = parse_candidates()
    names = ["sg2-cpu", *[c for c in args.candidates if c != "sg2-cpu"]]
    cpu_spk: dict[str, list[float]] = {n: [] for n in names}

    class _Enough(Exception):
        pass

    for _ in range(args.rounds):
        for name in names:
            c = cands[name]
            cfg = config_for(p.train, c["arch"], c["preset"], **c["overrides"])
            steps = 16  # one lazy-R1 period (r1_interval 16) per tick, so its cost is included
            tick = steps * cfg.batch_size / 1000
            cfg = cfg.replace(kimg=2 * tick, tick_kimg=tick, snap=10**6, grid_seeds=1, compile=False)
            marks: list[float] = []

            def cb(info, marks=marks):
                marks.append(time.process_time())
                if len(marks) >= 2:
                    raise _Enough

            with tempfile.TemporaryDirectory(prefix="ganaug-speed-") as tmp:
                try:
                    train_fn(
                        p.train,
                        cfg,
                        run_dir=tmp,
                        progress=False,
                        log=lambda s: None,
                        diagnostics=False,
                        callbacks=[cb],
                    )
                except _Enough:
                    pass
            cpu_spk[name].append((marks[-1] - marks[0]) / tick)  # the first tick (warm-up) is not counted
            print(f"{name:<18} {cpu_spk[name][-1]:.1f} CPU-s/kimg", flush=True)
    base = float(np.median(cpu_spk["sg2-cpu"]))
    res = {}
    lines = [
        f"speed: process CPU-seconds per kimg (median of {args.rounds} alternating runs; "
        "one tick of 16 steps timed after one of warm-up; --threads 1 on a shared machine: waiting OpenMP "
        "threads spin, which inflates CPU time), "
        f"idle img/s = {args.idle_img_s:g} x (sg2-cpu CPU-s/kimg / candidate's)",
        f"{'candidate':<18} {'CPU-s/kimg':>10} {'ratio':>6} {'idle img/s':>10} {'kimg in 6 idle min':>18}",
    ]
    for name in names:
        v = float(np.median(cpu_spk[name]))
        ips = args.idle_img_s * base / v
        res[name] = {
            "cpu_s_per_kimg": v,
            "speed_ratio": base / v,
            "idle_img_s": ips,
            "kimg_in_6_min": ips * 360 / 1000,
        }
        lines.append(f"{name:<18} {v:>10.1f} {base / v:>6.2f} {ips:>10.0f} {ips * 360 / 1000:>18.1f}")
    return {"table": "\n".join(lines), "results": res}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("mode", choices=("real", "radii", "snapshots", "speed"))
    ap.add_argument("run", nargs="?", help="snapshots: the run folder")
    ap.add_argument("--out", type=Path, default=Path("bench-diversity"))
    ap.add_argument("--features", default="trained,pixels", help="real/radii: comma-separated feature kinds")
    ap.add_argument("--repeats", type=int, default=10, help="matched random draws averaged")
    ap.add_argument("--n", type=int, default=256, help="snapshots: images per class")
    ap.add_argument(
        "--every", type=int, default=1, help="snapshots: every Nth snapshot (the last one always)"
    )
    ap.add_argument("--truncation", default="1.0", help="snapshots: comma-separated psi values")
    ap.add_argument(
        "--variants",
        default="",
        help="snapshots, diagnostics on G_ema (comma-separated): sharpen:A "
        "(unsharp mask, sigma 1), blur:S (Gaussian blur of the fakes), noise:none / noise:const (StyleGAN2's "
        "noise inputs off / fixed)",
    )
    ap.add_argument("--snap-features", default="trained", help="snapshots: feature kind (trained or pixels)")
    ap.add_argument("--rare", help="the rare class (default: the smallest in train)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--candidates", default="sg2-noamp", help="speed: bench_quality candidates (comma-separated)"
    )
    ap.add_argument("--rounds", type=int, default=1, help="speed: alternating rounds")
    ap.add_argument(
        "--idle-img-s", type=float, default=86.0, help="speed: sg2-cpu's img/s on an idle 2-core machine"
    )
    args = ap.parse_args(argv)
    from ganaug.utils import json_safe

    args.features = [f.strip() for f in args.features.split(",")]
    args.truncation = [float(t) for t in args.truncation.split(",")]
    args.candidates = [c.strip() for c in args.candidates.split(",")]
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.mode == "snapshots" and not args.run:
        ap.error("snapshots needs the run folder")
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    p = load(args.out)
    t0 = time.time()
    res = {"real": mode_real, "radii": mode_radii, "snapshots": mode_snapshots, "speed": mode_speed}[
        args.mode
    ](p, args.out, args)
    res["seconds"] = time.time() - t0
    print(res["table"])
    (args.out / f"diversity_{args.mode}.txt").write_text(res["table"] + "\n")
    (args.out / f"diversity_{args.mode}.json").write_text(json.dumps(json_safe(res), indent=1))
    return res


if __name__ == "__main__":
    main()
