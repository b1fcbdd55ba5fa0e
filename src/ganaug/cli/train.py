"""`ganaug train`: train a GAN on the training split of a prepared dataset."""

from __future__ import annotations

import os

import click

from ganaug.cli import cli
from ganaug.cli._common import check_transfer_source
from ganaug.constants import ARCHS, AUGS, GAN_FITS, LOSSES, PRESETS, TRANSFER_CLASSES
from ganaug.errors import UserError


@cli.command("train")
@click.argument("data", type=click.Path())
@click.option(
    "--arch",
    type=click.Choice(ARCHS),
    default=None,
    help="GAN family. [default: dcgan, or the --transfer source's]",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="cpu",
    help="tiny: seconds (tests); cpu: a useful model in minutes on 2 cores; gpu: quality.",
)
@click.option("--out", type=click.Path(), default="runs", help="Parent folder of numbered run folders.")
@click.option(
    "--kimg", type=click.FloatRange(min=0, min_open=True), help="Training length in thousands of images."
)
@click.option("--batch", "batch_size", type=click.IntRange(min=1), help="Global batch size (all processes).")
@click.option("--resolution", type=int, help="Power of two; default: the data's size rounded up, 32..256.")
@click.option("--channels", type=click.Choice(["1", "3"]), help="Default: the data's channels.")
@click.option("--aug", type=click.Choice(AUGS), help="Augmentation of what D sees.")
@click.option(
    "--p", "aug_p", type=click.FloatRange(0, 1), help="Initial (ada) or fixed augmentation probability."
)
@click.option(
    "--target", "ada_target", type=click.FloatRange(0, 1), help="ADA target for mean sign(D(real))."
)
@click.option(
    "--ada-kimg", type=click.FloatRange(min=0, min_open=True), help="ADA speed: kimg for p to go 0->1."
)
@click.option("--loss", type=click.Choice(LOSSES), help="GAN loss.")
@click.option("--d-steps", type=click.IntRange(min=1), help="D updates per G update.")
@click.option("--g-lr", type=float, help="Generator learning rate.")
@click.option("--d-lr", type=float, help="Discriminator learning rate.")
@click.option("--label-smoothing", type=click.FloatRange(0, 0.5), help="One-sided label smoothing of reals.")
@click.option(
    "--r1-gamma", type=click.FloatRange(min=0), help="R1 weight (default: 0.0002*res^2/batch for stylegan2)."
)
@click.option("--ema-kimg", type=click.FloatRange(min=0), help="G_ema half-life in kimg.")
@click.option("--style-mixing", type=click.FloatRange(0, 1), help="Style mixing probability (stylegan2).")
@click.option(
    "--pl-weight",
    type=click.FloatRange(min=0),
    help="Path-length regularisation weight (default: 2 for stylegan2, lazily every 4 G steps).",
)
@click.option(
    "--mode-seeking",
    type=click.FloatRange(min=0),
    help="Weight of the mode-seeking term (MSGAN) in G's loss, against collapse onto few modes; 0: off. "
    "[default: 0; 0.1 when fine-tuning a stylegan2 source with --transfer]",
)
@click.option(
    "--transition",
    callback=lambda ctx, param, v: _start_end(v),
    metavar="START,END",
    help="Transitional training of a conditional stylegan2 (Shahbazi et al. 2022): unconditional until "
    "START, class conditioning faded in until END (fractions of the run, e.g. 0.2,0.6).",
)
@click.option(
    "--spectral-norm/--no-spectral-norm", "d_spectral_norm", default=None, help="Spectral norm in D (dcgan)."
)
@click.option("--dropout", "d_dropout", type=click.FloatRange(0, 0.9), help="Dropout in D (dcgan).")
@click.option(
    "--tick", "tick_kimg", type=click.FloatRange(min=0, min_open=True), help="kimg per tick (stats, grid)."
)
@click.option("--snap", type=click.IntRange(min=1), help="Snapshot every N ticks.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--amp/--no-amp", default=None, help="bf16 mixed precision (CUDA, and CPUs with native bf16).")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile G and D.")
@click.option(
    "--mirror/--no-mirror",
    default=None,
    help="Add x-flipped copies of the training images (doubles a tiny set; flips only).",
)
@click.option(
    "--multiply",
    type=click.IntRange(min=1),
    help="Classic-augment the training images xN first (rotations/crops leak into G; prefer --mirror).",
)
@click.option(
    "--fit",
    type=click.Choice(GAN_FITS),
    default=None,
    help="How data smaller than the GAN's resolution meets it: pad (mirrored borders, generated images "
    "cropped back: lossless), resize, or auto (pad when the data is >= 3/4 of the GAN's size).",
)
@click.option(
    "--balanced-sampling/--natural-sampling",
    "balanced_sampling",
    default=None,
    help="Conditional models: show every class equally often (default) or in the data's proportions.",
)
@click.option("--class", "classes", multiple=True, help="Train on these classes only (repeatable).")
@click.option(
    "--unconditional", is_flag=True, help="One unconditional model (default: conditional if >1 class)."
)
@click.option("--resume", help="Continue a run: a run folder, snapshot file, or 'latest'.")
@click.option(
    "--transfer",
    callback=lambda ctx, param, v: check_transfer_source(v),
    help="Start from another run's snapshot, an official StyleGAN2-ADA .pkl (read safely, see "
    "import-nvlabs) or an embedded one (builtin:fashion-garments). The data must be at the "
    "source's resolution (--resolution resizes it).",
)
@click.option(
    "--transfer-classes",
    type=click.Choice(TRANSFER_CLASSES),
    help="With --transfer of a conditional stylegan2, where the class embeddings start: names (a class the "
    "source has by name starts from it, the others at random) or nearest (those from the source class "
    "whose samples are nearest their images: higher precision, lower recall). [default: names]",
)
@click.option(
    "--freeze-d",
    type=click.IntRange(min=0),
    help="Freeze-D (with --transfer): D's first N layers from the image side stay fixed.",
)
@click.option(
    "--budget",
    callback=lambda ctx, param, v: _check_budget(v),
    help="Time budget, e.g. 15m, 90s, 1h (off: none). A few steps are timed first; the GAN trains at "
    "the largest resolution that fits (unless --resolution is given) and stops at the budget if it "
    "runs slower than timed (unless --kimg is given); a run the budget shortened trains on while the "
    "budget lasts if it runs faster. Default: the preset's (cpu: 10m).",
)
@click.option("--max-ticks", type=click.IntRange(min=1), help="Stop after N ticks in this call (resumable).")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and parameter counts, then exit.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train_cmd(
    data,
    arch,
    preset,
    out,
    classes,
    unconditional,
    resume,
    transfer,
    max_ticks,
    dry_run,
    quiet,
    compile_,
    channels,
    budget,
    **overrides,
):
    """Train a GAN on the TRAIN split of DATA, a folder made by `ganaug prepare`.

    \b
    Examples:
      ganaug train prepared/ --arch dcgan --preset cpu
      ganaug train prepared/ --arch stylegan2 --kimg 200 --aug ada
      ganaug train prepared/ --resume latest
      ganaug train prepared/ --arch fastgan --preset cpu
      ganaug train prepared/ --transfer brecahad.pkl --resolution 256 --freeze-d 2 --kimg 200
      torchrun --nproc_per_node 2 -m ganaug train prepared/ --arch stylegan2 --preset gpu
    """
    from ganaug.training import describe, planned_config, train

    overrides["compile"] = compile_
    overrides["channels"] = int(channels) if channels else None
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if dry_run:
        cfg = planned_config(
            data,
            arch=arch,
            preset=preset,
            transfer=transfer,
            classes=classes or None,
            conditional=False if unconditional else None,
            budget=budget,
            resumed=bool(resume),
            log=click.echo,
            **overrides,
        )
        click.echo(describe(cfg))
        return
    result = train(
        data,
        out=out,
        arch=arch,
        preset=preset,
        resume=resume,
        transfer=transfer,
        classes=classes or None,
        conditional=False if unconditional else None,
        progress=not quiet,
        max_ticks=max_ticks,
        budget=budget,
        **overrides,
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for the run
        return
    click.echo(f"run folder: {result.run_dir}")
    click.echo(f"trained to {result.kimg:.2f} kimg; snapshot: {result.snapshot}")
    for w in result.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)


def _start_end(value: str | None) -> list[float] | None:
    """--transition START,END as two numbers (their range is checked with the rest of the config)."""
    if value is None:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 2:
        raise click.BadParameter(f"expected START,END such as 0.2,0.6, got {value!r}")
    return parts


def _check_budget(value):
    """--budget: refuse a value that is not a duration before anything runs."""
    from ganaug.config import parse_budget

    if value is not None:
        try:
            parse_budget(value)
        except UserError as e:
            raise click.BadParameter(str(e)) from None
    return value
