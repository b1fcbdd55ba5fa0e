"""`ganaug evaluate`: FID/KID/PRDC per class vs train and test (with the real floor) + memorisation."""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli import cli
from ganaug.cli._common import load_prepared, load_synthetic
from ganaug.constants import FEATURE_KINDS


@cli.command("evaluate")
@click.option(
    "--synthetic",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Synthetic images: an .npz (ImageSet.save_npz) or a folder of class sub-folders of PNGs.",
)
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Prepared data folder (from `ganaug prepare`): its train/val/test split is used.",
)
@click.option(
    "--features",
    type=click.Choice(FEATURE_KINDS),
    default=None,
    help="trained: a classifier trained on the training split (offline; compare within one dataset "
    "only); inception: standard FID Inception-v3 (needs its weights file); pixels: raw pixels. "
    "[default: inception if --inception is given, else trained]",
)
@click.option(
    "--inception",
    type=click.Path(path_type=Path),
    default=None,
    help="Inception weights file weights-inception-2015-12-05-6726825d.pth (never downloaded; "
    "also looked for in $GANAUG_INCEPTION and torch hub's checkpoints folder).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder. [default: <synthetic>-eval next to --synthetic; for a file in a "
    "`ganaug generate` folder, <that folder>-eval next to it]",
)
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Neighbourhood size of precision/recall/density/coverage.",
)
@click.option(
    "--kid-subset",
    type=click.IntRange(min=2),
    default=None,
    help="KID subset size. [default: min(1000, n_real, n_synthetic)]",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Random equal-size draws per comparison: every column of a row compares sets of the size "
    "of the smallest (FID, KID and PRDC depend on sample size).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--feature-epochs",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Maximum epochs of the trained feature network.",
)
@click.option("-q", "--quiet", is_flag=True)
def evaluate_cmd(
    synthetic, data_dir, features, inception, out, device, k, kid_subset, repeats, seed, feature_epochs, quiet
):
    """Compare synthetic images with the real training and test splits, and look for copies.

    \b
    Writes OUT/metrics.json, metrics.csv, memorization.csv and memorization.png (each synthetic
    image closest to the training set, next to its nearest training images). Near copies are judged
    against a threshold calibrated on the real test images; the data-copying test of Meehan et al.
    2020 gives Z_U and its p-value.
    \b
    Examples:
      ganaug evaluate --synthetic synth/ --data prepared/
      ganaug evaluate --synthetic synth/images.npz --data prepared/ --inception ~/weights-inception-2015-12-05-6726825d.pth
    """
    from ganaug.metrics.evaluation import evaluate

    features = features or ("inception" if inception is not None else "trained")
    data = load_prepared(data_dir)
    synth = load_synthetic(synthetic, like=data.train)
    if out is None:
        out = default_out(synthetic, "eval")
    if not quiet:
        click.echo(
            f"evaluating {len(synth)} synthetic images against {len(data.train)} train / {len(data.test)} "
            f"test images with {features} features ...",
            err=True,
        )
    result = evaluate(
        synth,
        data.train,
        data.test,
        features=features,
        val=data.val,
        out=out,
        device=device,
        kid_subset=kid_subset,
        k=k,
        seed=seed,
        inception=inception,
        feature_epochs=feature_epochs,
        repeats=repeats,
        progress=not quiet,
    )
    click.echo(result.table())


def default_out(synthetic: Path, suffix: str) -> Path:
    """``<synthetic>-<suffix>`` next to ``synthetic``, never inside a `ganaug generate` folder (one with a
    manifest.csv): its sub-folders are classes, so a folder of plots there would be read as one more class."""
    p = Path(synthetic)
    if p.is_file() and not (p.parent / "manifest.csv").is_file():
        return p.with_name(f"{p.stem}-{suffix}")
    folder = (p.parent if p.is_file() else p).resolve()
    return folder.with_name(f"{folder.name}-{suffix}")
