"""`ganaug generate` and `ganaug balance`."""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli import cli
from ganaug.config import GenerateSection

FORMATS = click.Choice(["folder", "zip", "npz"])


@cli.command("generate")
@click.argument("run", type=click.Path(exists=True))
@click.option(
    "--n", type=click.IntRange(min=1), help="Images per class (seeds 0..n-1) unless --seeds is given."
)
@click.option(
    "--class",
    "classes",
    multiple=True,
    help="Class name (repeatable) or 'all'.",
    default=["all"],
    show_default=True,
)
@click.option("--seeds", help="Seeds, e.g. 0-499 or 1,5,9 (one image per seed and class).")
@click.option(
    "--trunc",
    "truncation",
    type=click.FloatRange(0, 2),
    default=GenerateSection.truncation,
    help="Truncation psi.",
)
@click.option("--out", type=click.Path(), required=True, help="Output folder.")
@click.option(
    "--format",
    "formats",
    type=FORMATS,
    multiple=True,
    default=["folder"],
    show_default=True,
    help="folder: class folders of PNGs (ImageFolder layout); zip: StyleGAN dataset zip; npz.",
)
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=64)
@click.option(
    "--overwrite", is_flag=True, help="Replace an earlier export in --out (the files its manifest lists)."
)
@click.option("--device", default="auto")
@click.option("-q", "--quiet", is_flag=True)
def generate_cmd(run, n, classes, seeds, truncation, out, formats, batch_size, overwrite, device, quiet):
    """Generate images from RUN (a run folder or snapshot file), deterministic per seed.

    \b
    Examples:
      ganaug generate runs/00000-prepared-dcgan --n 500 --class all --out synth/
      ganaug generate runs/00000-prepared-stylegan2 --class shirt --seeds 0-499 --trunc 0.7 \\
          --out synth/ --format folder --format npz
    """
    from ganaug.generation import generate

    if (n is None) == (not seeds):
        raise click.UsageError("give either --n or --seeds")
    cls = "all" if "all" in classes else list(classes)
    result = generate(
        run,
        n=n,
        classes=cls,
        seeds=seeds,
        truncation=truncation,
        out=out,
        formats=formats,
        batch_size=batch_size,
        device=device,
        progress=not quiet,
        overwrite=overwrite,
    )
    counts = ", ".join(f"{k}: {v}" for k, v in result.images.counts().items() if v)
    click.echo(
        f"wrote {len(result.images)} images ({counts}) from {result.snapshot} "
        f"({result.kimg:.1f} kimg) to {out}; provenance in {Path(out) / 'manifest.csv'}"
    )


@cli.command("balance")
@click.argument("data", type=click.Path(exists=True))
@click.option("--run", required=True, type=click.Path(exists=True), help="GAN run folder or snapshot.")
@click.option("--out", type=click.Path(), required=True, help="Output folder for the augmented dataset.")
@click.option(
    "--target",
    default="max",
    show_default=True,
    help="'max' (majority count), a count (e.g. 500), or a ratio of the majority (e.g. 0.8).",
)
@click.option("--trunc", "truncation", type=click.FloatRange(0, 2), default=GenerateSection.truncation)
@click.option("--format", "formats", type=FORMATS, multiple=True, default=["folder"], show_default=True)
@click.option(
    "--filter/--no-filter",
    "quality_filter",
    default=False,
    help="Drop synthetic images a real-data classifier assigns to another class or with low confidence.",
)
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.5)
@click.option(
    "--overwrite", is_flag=True, help="Replace an earlier export in --out (the files its manifest lists)."
)
@click.option("--device", default="auto")
@click.option("-q", "--quiet", is_flag=True)
def balance_cmd(
    data, run, out, target, truncation, formats, quality_filter, min_confidence, overwrite, device, quiet
):
    """Fill every class of DATA's training split up to a target with synthetic images from RUN.

    DATA is a folder made by `ganaug prepare`; the test split is never touched. The output mixes
    real and synthetic images (class folders, ImageFolder layout) with a provenance manifest.csv.
    """
    from ganaug.generation import balance

    if target != "max":
        try:
            target = float(target) if "." in target else int(target)
        except ValueError:
            raise click.BadParameter(
                "use 'max', a count such as 500, or a ratio such as 0.8", param_hint="--target"
            ) from None
    result = balance(
        data,
        run,
        out=out,
        target=target,
        truncation=truncation,
        formats=formats,
        quality_filter=quality_filter,
        min_confidence=min_confidence,
        device=device,
        progress=not quiet,
        overwrite=overwrite,
    )
    click.echo(
        f"{'class':<16}{'real':>8}{'synthetic':>11}{'total':>8}"
        + ("   dropped by filter" if quality_filter else "")
    )
    for k, v in result.real_counts.items():
        s = result.synthetic_counts.get(k, 0)
        extra = f"   {result.dropped.get(k, 0)}" if quality_filter else ""
        click.echo(f"{k:<16}{v:>8}{s:>11}{v + s:>8}{extra}")
    click.echo(f"augmented dataset: {result.out} (manifest.csv lists every image's provenance)")
