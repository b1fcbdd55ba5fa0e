"""Quality benchmark of GAN candidates on the embedded demo set (``builtin:fashion-demo``).

Each candidate is trained for the same budget (wall-clock minutes, default 6: a few timed steps
give the estimated kimg, and the run's time limit stops it at the budget, before or after that kimg;
or a fixed ``--kimg``), then ``--n`` images per class are
generated and measured with ``ganaug.evaluate`` (trained features: FID, KID, precision, recall,
density, coverage vs the training split and vs the test split, overall and per class, beside the
real-vs-real floor: train vs test), and, unless ``--no-downstream``, the downstream difference
between the GAN's images and random oversampling at the same class allocation (every class topped
up to the largest; ``ganaug.benchmark``, balanced accuracy on the real test split, paired over
seeds). Only the public API is used (ganaug.prepare / train / generate / evaluate / benchmark).

Output: a text table on stdout and in ``OUT/bench_quality.txt``, everything in
``OUT/bench_quality.json``; run folders under ``OUT/runs``, evaluation files under
``OUT/evaluate/<candidate>``.

    python bench/bench_quality.py                                  # every candidate, 6 minutes each
    python bench/bench_quality.py --candidates dcgan-cpu,sg2-cpu --kimg 20
    python bench/bench_quality.py --list

Wall-clock budgets assume the machine is otherwise idle: on a shared machine use ``--kimg``
(equal work per candidate) and ``--threads 1`` (two threads on two oversubscribed cores ran DCGAN
at 10 img/s against 46 img/s with one), and read the measured img/s with that in mind.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

# The candidates: name, GAN family, preset, then overrides of the preset (TrainConfig / NetworkConfig
# fields as key=value; "-" for none; ``transfer=SOURCE`` starts from a snapshot, as train()'s argument).
# Values are read as JSON where they parse (numbers, true/false).
CANDIDATES = """
name            arch        preset  overrides
# the stylegan2 cpu preset: channel_base 1024, channel_max 64, no style mixing, no PL (sg2-old below)
dcgan-cpu       dcgan       cpu     -
dcgan-wide      dcgan       cpu     g_channels=128 d_channels=128
dcgan-narrow    dcgan       cpu     g_channels=32 d_channels=32
sg2-cpu         stylegan2   cpu     -
sg2-mid         stylegan2   cpu     channel_base=2048 channel_max=128
sg2-official    stylegan2   cpu     channel_base=4096 channel_max=128 style_mixing=0.9 pl_weight=2
sg2-mix         stylegan2   cpu     style_mixing=0.9
sg2-pl          stylegan2   cpu     pl_weight=2
sg2-wider       stylegan2   cpu     channel_base=8192 channel_max=256
sg2-narrow      stylegan2   cpu     channel_base=512 channel_max=32
sg2-batch16     stylegan2   cpu     batch_size=16
sg2-batch64     stylegan2   cpu     batch_size=64
sg2-r1-low      stylegan2   cpu     r1_gamma=0.001
sg2-r1-high     stylegan2   cpu     r1_gamma=0.1
sg2-ema-short   stylegan2   cpu     ema_kimg=0.5
sg2-ema-long    stylegan2   cpu     ema_kimg=10
sg2-ada-fast    stylegan2   cpu     ada_kimg=5
sg2-ada-slow    stylegan2   cpu     ada_kimg=100
sg2-ada-t0.4    stylegan2   cpu     ada_target=0.4
sg2-ada-t0.8    stylegan2   cpu     ada_target=0.8
# issue 10 (diversity): see bench/bench_diversity.py for the diagnosis these come from
sg2-noamp       stylegan2   cpu     amp=false
sg2-fp32top     stylegan2   cpu     num_fp16_res=1
sg2-c2048       stylegan2   cpu     channel_base=2048
sg2-noamp-r1low stylegan2   cpu     amp=false r1_gamma=0.001
sg2-noamp-c2048 stylegan2   cpu     amp=false channel_base=2048
sg2-noamp-lr2x  stylegan2   cpu     amp=false g_lr=0.005 d_lr=0.005
sg2-noamp-b16   stylegan2   cpu     amp=false batch_size=16
sg2-noamp-b8    stylegan2   cpu     amp=false batch_size=8
sg2-noamp-r1x2  stylegan2   cpu     amp=false r1_gamma=0.0128
sg2-noamp-b8-ema0.5 stylegan2 cpu amp=false batch_size=8 ema_kimg=0.5
sg2-noamp-b16-ema0.5 stylegan2 cpu amp=false batch_size=16 ema_kimg=0.5
sg2-noamp-mix   stylegan2   cpu     amp=false style_mixing=0.9
sg2-noamp-c4096 stylegan2   cpu     amp=false channel_base=4096 channel_max=128
# few-shot levers against collapse (issue 10, this wave): transitional conditioning, MSGAN, D's diversity view
sg2-transition  stylegan2   cpu     transition=[0,0.2]
sg2-trans-half  stylegan2   cpu     transition=[0,0.5]
sg2-modeseek    stylegan2   cpu     mode_seeking=0.1
sg2-modeseek1   stylegan2   cpu     mode_seeking=1
sg2-mbstd8      stylegan2   cpu     mbstd_group=8
sg2-dmap2       stylegan2   cpu     d_mapping_layers=2
sg2-diffaug     stylegan2   cpu     aug="diffaug"
fastgan-cpu     fastgan     cpu     -
fastgan-wide    fastgan     cpu     g_channels=16 d_channels=16
# a pretrained start: the embedded garments model (trouser, dress, coat, bag; none of the demo's classes);
# fine-tuning StyleGAN2 adds MSGAN's mode-seeking term at 0.1 by default (training.transfer), which the
# screen below measured: sg2-transfer-plain and the levers were run without it
sg2-transfer    stylegan2   cpu     transfer=builtin:fashion-garments
sg2-transfer-plain stylegan2 cpu    transfer=builtin:fashion-garments mode_seeking=0
sg2-transfer-fd stylegan2   cpu     transfer=builtin:fashion-garments freeze_d=4 mode_seeking=0
sg2-transfer-mix stylegan2  cpu     transfer=builtin:fashion-garments style_mixing=0.9 mode_seeking=0
sg2-transfer-ada0.4 stylegan2 cpu   transfer=builtin:fashion-garments ada_target=0.4 mode_seeking=0
sg2-transfer-diffaug stylegan2 cpu  transfer=builtin:fashion-garments aug="diffaug" mode_seeking=0
sg2-transfer-r1low stylegan2 cpu    transfer=builtin:fashion-garments r1_gamma=0.001 mode_seeking=0
sg2-transfer-ms1 stylegan2  cpu     transfer=builtin:fashion-garments mode_seeking=1
sg2-transfer-ms0.2 stylegan2 cpu    transfer=builtin:fashion-garments mode_seeking=0.2
sg2-transfer-ms0.3 stylegan2 cpu    transfer=builtin:fashion-garments mode_seeking=0.3
sg2-transfer-nearest stylegan2 cpu  transfer=builtin:fashion-garments transfer_classes="nearest"
sg2-transfer-nearest-ms0.3 stylegan2 cpu transfer=builtin:fashion-garments transfer_classes="nearest" mode_seeking=0.3
"""

DIST_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")


def parse_candidates(text: str = CANDIDATES) -> dict[str, dict[str, Any]]:
    """The candidate table as {name: {"arch", "preset", "overrides"}} (checked against the config)."""
    from ganaug.config import make_config

    out: dict[str, dict[str, Any]] = {}
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for ln in lines[1:]:  # the first line is the header
        name, arch, preset, *rest = ln.split()
        overrides: dict[str, Any] = {}
        for item in rest:
            if item == "-":
                continue
            key, _, raw = item.partition("=")
            try:
                overrides[key] = json.loads(raw)
            except json.JSONDecodeError:
                overrides[key] = raw
        if name in out:
            raise ValueError(f"candidate {name!r} is listed twice")
        transfer = overrides.pop("transfer", None)
        make_config(arch, preset, **overrides)  # unknown keys or bad values fail here, not after training
        out[name] = {"arch": arch, "preset": preset, "overrides": overrides, "transfer": transfer}
    return out


# ----------------------------------------------------------------------------
# Steps (public API only)


def prepare_demo(out: Path):
    import ganaug
    from ganaug.data.prepared import load_prepared

    ganaug.prepare(builtin="fashion-demo", out=out / "prepared")
    return load_prepared(out / "prepared")


def kimg_for_minutes(prepared_dir: Path, cand: dict[str, Any], minutes: float) -> tuple[float, float]:
    """kimg that fits ``minutes`` of training on this machine, and the timed seconds per kimg."""
    from ganaug.data.prepared import load_prepared
    from ganaug.training import planned_config
    from ganaug.training.budget import OVERHEAD, measure_sec_per_kimg

    train = load_prepared(prepared_dir).train
    cfg = planned_config(
        train,
        arch=cand["arch"],
        preset=cand["preset"],
        transfer=cand.get("transfer"),
        budget="off",
        log=lambda s: None,
        **cand["overrides"],
    )
    spk = measure_sec_per_kimg(train, cfg)
    return round(minutes * 60 / (spk * OVERHEAD), 2), spk


def train_candidate(
    prepared_dir: Path,
    name: str,
    cand: dict[str, Any],
    kimg: float,
    out: Path,
    seed: int,
    seconds: float | None = None,
):
    """Train one candidate to ``kimg``; with ``seconds``, kimg is the estimate and the run trains for
    exactly that long (TrainConfig.time_limit_s; on past kimg, up to 4x, if it runs faster)."""
    import ganaug

    limit = {"time_limit_s": seconds, "kimg_max": kimg * 4} if seconds else {}

    run_dir = out / "runs" / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0 = time.time()
    res = ganaug.train(
        prepared_dir,
        arch=cand["arch"],
        preset=cand["preset"],
        run_dir=run_dir,
        kimg=kimg,
        seed=seed,
        budget="off",
        transfer=cand.get("transfer"),
        progress=False,
        log=lambda s: None,
        **limit,
        **cand["overrides"],
    )
    return res, time.time() - t0


def generate_pool(run_dir: Path, n: int):
    import ganaug

    return ganaug.generate(run_dir, n=n, progress=False).images


def evaluate_pool(p, synthetic, out: Path, name: str, feature_epochs: int):
    """ganaug.evaluate with the feature net cached once for all candidates (OUT/evaluate/cache)."""
    import ganaug

    shared = out / "evaluate"
    res = ganaug.evaluate(
        synthetic,
        p.train,
        p.test,
        val=p.val,
        features="trained",
        out=shared,
        device="cpu",
        feature_epochs=feature_epochs,
    )
    dest = shared / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("metrics.json", "metrics.csv", "memorization.csv", "memorization.png"):
        if (shared / f).exists():
            os.replace(shared / f, dest / f)
    return res


def downstream_vs_oversampling(
    p, synthetic, out: Path, *, seeds: int, epochs: int, jobs: int
) -> dict[str, Any]:
    """GAN images vs random oversampling at the same class allocation, balanced accuracy on test.

    The GAN arm adds f x |train| synthetic images with balance "fix", f chosen so that every class is
    topped up to the largest one, which is exactly what random oversampling does with copies.
    This is the one place that depends on the shape of ``ganaug.benchmark()``'s result; adapt it when
    that API changes (e.g. to its own GAN-vs-oversampling comparison).
    """
    import numpy as np

    import ganaug
    from ganaug.benchmarking import paired_diff

    counts = np.bincount(p.train.labels, minlength=p.train.num_classes)
    n = int(counts.sum())
    frac = (int(counts.max()) * len(counts) - n) / n
    res = ganaug.benchmark(
        p.train,
        p.val,
        p.test,
        synthetic,
        fractions=[frac],
        balance="fix",
        seeds=seeds,
        baselines=["oversample"],
        epochs=epochs,
        jobs=jobs,
        out=out,
        device="cpu",
        progress=False,
    )
    gan_arm = next(a.name for a in res.arms if a.kind == "mix")
    per = {
        arm: {int(r["seed"]): float(r["metrics"]["balanced_accuracy"]) for r in res.runs if r["arm"] == arm}
        for arm in (gan_arm, "oversample", "real")
    }
    diff = paired_diff(per[gan_arm], per["oversample"])
    return {
        "metric": "balanced_accuracy",
        "fraction": frac,
        "seeds": seeds,
        "gan": float(np.mean(list(per[gan_arm].values()))),
        "oversample": float(np.mean(list(per["oversample"].values()))),
        "real": float(np.mean(list(per["real"].values()))),
        "diff": diff["diff"],
        "ci_low": diff["diff_ci_low"],
        "ci_high": diff["diff_ci_high"],
        "p": diff["diff_p"],
    }


# ----------------------------------------------------------------------------
# Table


def _f(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}"
    return str(v)


def table(results: dict[str, Any]) -> str:
    """Rows: the floor, then per candidate its overall and per-class rows; columns: metric vs train / vs test."""
    cols = [(m, c) for c in ("vs_train", "vs_test") for m in DIST_METRICS]
    head = ["candidate", "scope", "kimg", "train_s", "img/s"] + [f"{m[:4]}_{c[3:5]}" for m, c in cols]
    rows: list[list[str]] = []
    cands = results["candidates"]
    first = next((c for c in cands.values() if "metrics" in c), None)
    if first:  # the real-vs-real floor is the same for every candidate (same feature net, same real sets)
        for scope, ms in first["metrics"].items():
            rows.append(
                ["FLOOR real", scope, "", "", ""]
                + [_f(ms[m]["floor"]) if c == "vs_train" else "" for m, c in cols]
            )
    for name, c in cands.items():
        if "metrics" not in c:
            rows.append([name, "FAILED: " + c.get("error", "?")[:60]] + [""] * (len(head) - 2))
            continue
        for i, (scope, ms) in enumerate(c["metrics"].items()):
            lead = (
                [name, scope, _f(c["kimg"]), _f(round(c["train_s"])), _f(round(c["img_per_s"]))]
                if i == 0
                else ["", scope, "", "", ""]
            )
            rows.append(lead + [_f(ms[m][col]) for m, col in cols])
    widths = [max(len(r[j]) for r in [head, *rows]) for j in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if j < 2 else f"{{:>{w}}}" for j, w in enumerate(widths))
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)]
    out.append(
        "columns: metric_tr = vs the training split, metric_te = vs the test split; FLOOR = real train vs "
        "real test (in the vs_train columns). fid/kid lower is better, prec/reca/cove higher, dens ~1."
    )
    down = [(n, c["downstream"]) for n, c in cands.items() if c.get("downstream")]
    if down:
        out += [
            "",
            "downstream: balanced accuracy on the real test split, GAN images vs random oversampling at the "
            "same class allocation (paired over seeds, 95% CI)",
        ]
        for n, d in down:
            out.append(
                f"  {n:<16} GAN {100 * d['gan']:.1f}%  oversample {100 * d['oversample']:.1f}%  real only "
                f"{100 * d['real']:.1f}%  GAN - oversample {100 * d['diff']:+.1f} pts "
                f"[{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}] (n={d['seeds']})"
            )
    rare = [(n, c["rare_class"]) for n, c in cands.items() if c.get("rare_class")]
    if rare:
        out += [
            "",
            "rare class memorisation (pixel near copies of its own training images; real test reference):",
        ]
        for n, d in rare:
            f = d.get("test_floor") or {}
            out.append(
                f"  {n:<16} {d['class']}: {d['synthetic']['near_copy_count']}/{d['synthetic']['n']} near "
                f"copies, authentic {_f(d['synthetic']['authentic_fraction'])} (test: "
                f"{f.get('near_copy_count', '-')}/{f.get('n', '-')}, authentic {_f(f.get('authentic_fraction'))})"
            )
    return "\n".join(out)


# ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--candidates", help="comma-separated names (default: all); see --list")
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget per candidate, wall clock")
    ap.add_argument("--kimg", type=float, help="fixed training length per candidate instead of --minutes")
    ap.add_argument(
        "--n",
        type=int,
        default=256,
        help="synthetic images per class (at least what oversampling adds to the rarest class)",
    )
    ap.add_argument("--seeds", type=int, default=3, help="classifier seeds of the downstream comparison")
    ap.add_argument("--epochs", type=int, default=15, help="classifier epochs of the downstream comparison")
    ap.add_argument("--jobs", type=int, default=2, help="parallel classifier runs")
    ap.add_argument("--no-downstream", action="store_true", help="skip the downstream comparison")
    ap.add_argument("--feature-epochs", type=int, default=20, help="epochs of the evaluation's feature net")
    ap.add_argument("--seed", type=int, default=0, help="GAN training seed")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--out", type=Path, default=Path("bench-quality"))
    ap.add_argument("--list", action="store_true", help="print the candidate table and exit")
    args = ap.parse_args(argv)
    from ganaug.utils import json_safe

    cands = parse_candidates()
    if args.list:
        print(CANDIDATES.strip())
        return {}
    chosen = [c.strip() for c in args.candidates.split(",")] if args.candidates else list(cands)
    unknown = [c for c in chosen if c not in cands]
    if unknown:
        ap.error(f"unknown candidate(s) {', '.join(unknown)}; known: {', '.join(cands)}")
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    p = prepare_demo(args.out)
    counts = np.bincount(p.train.labels, minlength=p.train.num_classes)
    n_per_class = max(args.n, int(counts.max() - counts.min()))
    results: dict[str, Any] = {
        "budget": {"kimg": args.kimg} if args.kimg else {"minutes": args.minutes},
        "n_per_class": n_per_class,
        "train_counts": dict(zip(p.train.class_names, counts.tolist())),
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "candidates": {},
    }
    json_path = args.out / "bench_quality.json"
    for name in chosen:
        cand = cands[name]
        rec: dict[str, Any] = {**cand}
        results["candidates"][name] = rec
        src = f" from {cand['transfer']}" if cand.get("transfer") else ""
        print(f"[{name}] {cand['arch']} {cand['preset']} {cand['overrides'] or ''}{src}", flush=True)
        try:
            seconds = None
            if args.kimg:
                kimg = args.kimg
            else:  # the estimate; the time limit makes the budgets equal (timings varied 1.6x run to run)
                kimg, spk = kimg_for_minutes(args.out / "prepared", cand, args.minutes)
                rec["timed_sec_per_kimg"], seconds = spk, args.minutes * 60
            res, secs = train_candidate(args.out / "prepared", name, cand, kimg, args.out, args.seed, seconds)
            last = res.stats[-1] if res.stats else {}
            rec.update(
                kimg=res.kimg,
                train_s=secs,
                img_per_s=res.cur_nimg / max(float(last.get("time_s", secs)), 1e-9),
                resolution=res.config.network.resolution,
                run_dir=str(res.run_dir),
                last_aug_p=last.get("aug_p"),
            )
            synthetic = generate_pool(res.run_dir, n_per_class)
            ev = evaluate_pool(p, synthetic, args.out, name, args.feature_epochs)
            rec["metrics"] = {scope: {m: ms[m] for m in DIST_METRICS} for scope, ms in ev.metrics.items()}
            rec["rare_class"] = ev.to_dict().get("rare_class_memorization") or {}
            if not args.no_downstream:
                rec["downstream"] = downstream_vs_oversampling(
                    p,
                    synthetic,
                    args.out / "downstream" / name,
                    seeds=args.seeds,
                    epochs=args.epochs,
                    jobs=args.jobs,
                )
            print(
                f"[{name}] {rec['kimg']:g} kimg in {secs:.0f} s; recall vs train "
                f"{rec['metrics']['overall']['recall']['vs_train']:.3f}, coverage "
                f"{rec['metrics']['overall']['coverage']['vs_train']:.3f}",
                flush=True,
            )
        except Exception as e:  # one failing candidate does not lose the others' results
            rec["error"] = f"{type(e).__name__}: {e}"
            print(f"[{name}] failed: {rec['error']}", flush=True)
        json_path.write_text(json.dumps(json_safe(results), indent=1))
    results["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    text = table(results)
    json_path.write_text(json.dumps(json_safe(results), indent=1))
    (args.out / "bench_quality.txt").write_text(text + "\n")
    print(text)
    print(f"\n{json_path}")
    return results


if __name__ == "__main__":
    main()
