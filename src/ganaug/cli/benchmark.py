"""`ganaug benchmark`: does adding synthetic images help a classifier on the real test split?"""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli import cli
from ganaug.cli._common import load_prepared, load_synthetic
from ganaug.config import BenchmarkOptions, check_fractions, options_from
from ganaug.constants import BALANCE, BASELINES, CLASSIFIERS
from ganaug.errors import UserError

D = BenchmarkOptions()  # the defaults, shared with the API and `ganaug run`


def _default_out(synthetic: str | None, data_dir: str) -> Path:
    """The folder of --synthetic (else --data), but never a `ganaug generate` folder (it has a manifest.csv):
    its sub-folders are classes, so OUT/benchmark/ with its plots would be read back as one more class."""
    if synthetic is None:
        return Path(data_dir)
    folder = Path(synthetic).resolve().parent
    if (folder / "manifest.csv").is_file():
        return folder.with_name(f"{folder.name}-bench")
    return folder


def _parse_fractions(ctx, param, value: str) -> list[float]:
    try:
        fractions = [float(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated fractions of the real training set such as 0,0.25,0.5,1, got {value!r}"
        ) from None
    if not fractions:
        raise click.BadParameter("give at least one fraction, such as 0,0.5")
    try:
        check_fractions(tuple(fractions))
    except UserError as e:
        raise click.BadParameter(str(e)) from None
    return fractions


def _parse_baselines(ctx, param, value: str) -> list[str]:
    if value.strip().lower() in ("", "none"):
        return []
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in BASELINES]
    if bad:
        raise click.BadParameter(
            f"unknown baseline(s) {', '.join(bad)}; choose from {', '.join(BASELINES)} or none"
        )
    return names


@cli.command("benchmark")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder made by `ganaug prepare` (train/val/test splits).",
)
@click.option(
    "--synthetic",
    type=click.Path(exists=True),
    default=None,
    help="Synthetic images: an .npz from `ganaug generate --format npz` (or any loadable source). "
    "Without it only real-data arms and baselines run.",
)
@click.option(
    "--fractions",
    default=",".join(f"{f:g}" for f in D.fractions),
    show_default=True,
    callback=_parse_fractions,
    help="Synthetic images added, as fractions of the real training set (0.5: half as many as there are real "
    "images; above 1 allowed). Not percentages.",
)
@click.option(
    "--seeds", type=click.IntRange(min=1), default=D.seeds, show_default=True, help="Seeds per arm (0..N-1)."
)
@click.option(
    "--balance",
    type=click.Choice(BALANCE),
    default=D.balance,
    show_default=True,
    help="keep: synthetic images in the real class proportions; fix: rare classes first.",
)
@click.option("--arch", type=click.Choice(CLASSIFIERS), default=D.arch, show_default=True, help="Classifier.")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=D.epochs,
    show_default=True,
    help="Training budget of every arm: this many passes over the REAL training set, in optimiser "
    "steps (an arm with more images gets no more steps).",
)
@click.option(
    "--min-steps",
    type=click.IntRange(min=0),
    default=D.min_steps,
    show_default=True,
    help="At least this many optimiser steps for every arm.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=2),
    default=None,
    help="Classifier batch size (default: scaled to the real training set, 8-64).",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Classifier learning rate (default: 1e-3 x sqrt(batch / 64)).",
)
@click.option(
    "--baselines",
    default=",".join(D.baselines),
    show_default=True,
    callback=_parse_baselines,
    help="Comma-separated baselines, or 'none'.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=D.jobs,
    show_default=True,
    help="Parallel processes (one thread each).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Writes OUT/benchmark/ (resumable). Default: the folder of --synthetic (<it>-bench next to a "
    "`ganaug generate` folder, whose sub-folders are classes), else --data.",
)
@click.option("--device", default=D.device)
@click.option(
    "--image-size",
    type=click.IntRange(min=8),
    default=None,
    help="Classifier input size (default: data size for smallcnn, 224 for ResNets).",
)
@click.option(
    "--pretrained-weights",
    default=None,
    help="ResNets: ImageNet state-dict file (default: torch hub cache), or 'none' for random init.",
)
@click.option("--finetune", is_flag=True, help="ResNets: train the whole network, not just the head.")
@click.option("--dry-run", is_flag=True, help="Print the arms and the images each draws, then exit.")
@click.option("-q", "--quiet", is_flag=True)
def benchmark_cmd(data_dir, synthetic, out, dry_run, quiet, **options):
    """Train a classifier on real + synthetic images at several synthetic fractions, and on baselines,
    every arm for the same number of optimiser steps; choose the fraction and the best baseline on the
    validation split; compare the GAN arm with real only and with random oversampling at the same
    class allocation on the real test split (paired bootstrap over seeds and test images).

    \b
    Example:
      ganaug benchmark --data prepared/ --synthetic synth/images.npz --fractions 0,0.25,0.5,1 --seeds 5 \\
          --balance fix --jobs 2 --out runs/00000-prepared-dcgan
    """
    from ganaug.benchmarking import benchmark

    opts = options_from(**options)
    prepared = load_prepared(data_dir)
    syn = load_synthetic(synthetic) if synthetic else None
    if out is None:
        out = str(_default_out(synthetic, data_dir))
    if dry_run:
        _print_plan(prepared, syn, opts, Path(out))
        return

    res = benchmark(prepared.train, prepared.val, prepared.test, syn, opts, out=out, progress=not quiet)
    bench = Path(out) / "benchmark"
    res.plot(bench / "benchmark.png")
    res.plot_per_class(bench / "per_class_recall.png")
    click.echo(res.table())
    click.echo("")
    click.echo(res.verdict())
    click.echo(
        f"\nresults: {bench / 'results.json'}, {bench / 'results.csv'}; plots: benchmark.png, "
        "per_class_recall.png"
    )


def _print_plan(prepared, syn, opts: BenchmarkOptions, out: Path) -> None:
    """--dry-run: the arms, the synthetic images each draws per class, and the step budget they share."""
    import numpy as np

    from ganaug.benchmarking import plan_arms, resolve_budget, synthetic_counts

    train = prepared.train
    real = np.bincount(train.labels, minlength=train.num_classes)
    click.echo(f"real train: {train.counts()}  val: {len(prepared.val)}  test: {len(prepared.test)}")
    if syn is not None:
        click.echo(f"synthetic pool: {syn.counts()}")
    for a in plan_arms(opts.fractions, opts.baselines, syn is not None):
        s = synthetic_counts(a, real, opts.balance)
        extra = (
            f"  synthetic per class: {dict(zip(train.class_names, s.tolist()))}" if a.uses_synthetic else ""
        )
        click.echo(f"  {a.name:<18} {a.label}{extra}")
    if syn is not None and any(a.kind == "mix" for a in plan_arms(opts.fractions, opts.baselines, True)):
        click.echo(
            "  oversample_at<P>   random oversampling with the synthetic counts of the fraction "
            "chosen on validation"
        )
    b = resolve_budget(train, opts)
    click.echo(
        f"{opts.seeds} seeds, {opts.arch}, {b['steps']} optimiser steps per arm (batch {b['batch_size']}, "
        f"lr {b['lr']:.2g}); results -> {out / 'benchmark'}"
    )
