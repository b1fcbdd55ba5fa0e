"""`ganaug prepare DATA --out DIR`: validate, resize and split a data set once, with a fixed test split."""

from __future__ import annotations

import click

from ganaug.cli import GanaugError, cli
from ganaug.config import DataSection
from ganaug.constants import IMAGE_FITS, RESAMPLES
from ganaug.errors import UserError

D = DataSection()  # the split's defaults, shared with `ganaug run`'s [data] section


@cli.command("prepare")
@click.argument("data", required=False)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Prepared data folder.")
@click.option("--builtin", default=None, help="Use an embedded data set instead of DATA (e.g. fashion-demo).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="filename,label CSV for a flat folder of images.",
)
@click.option("--seed", type=int, default=D.seed, show_default=True, help="Seed of the split.")
@click.option(
    "--val",
    type=click.FloatRange(0, 1, max_open=True),
    default=D.val,
    show_default=True,
    help="Validation fraction (per class).",
)
@click.option(
    "--test",
    type=click.FloatRange(0, 1, max_open=True),
    default=D.test,
    show_default=True,
    help="Test fraction (per class); ignored when the data has a predefined test partition.",
)
@click.option(
    "--per-class-limit",
    type=click.IntRange(0),
    default=None,
    help="Scarcity: keep at most N TRAINING images per class (val/test untouched).",
)
@click.option(
    "--imbalance",
    default=None,
    metavar="CLASS=N,...",
    help='Training images per class, e.g. "coat=20,pullover=500" (val/test untouched).',
)
@click.option(
    "--resolution",
    type=click.IntRange(1, 4096),
    default=None,
    help="Stored resolution. [default: common size, else median shorter side]",
)
@click.option(
    "--channels",
    type=click.Choice(["1", "3"]),
    default=None,
    help="Stored channels. [default: 1 if every image is grayscale, else 3]",
)
@click.option(
    "--fit",
    type=click.Choice(IMAGE_FITS),
    default="center-crop",
    show_default=True,
    help="How non-matching aspect ratios are handled.",
)
@click.option(
    "--resample", type=click.Choice(RESAMPLES), default="lanczos", show_default=True, help="Resize filter."
)
@click.option("--overwrite", is_flag=True, help="Redo an existing prepared folder made with other options.")
def prepare_command(
    data,
    out,
    builtin,
    csv_path,
    seed,
    val,
    test,
    per_class_limit,
    imbalance,
    resolution,
    channels,
    fit,
    resample,
    overwrite,
) -> None:
    """Load DATA, validate it, and write OUT/images.npz, OUT/split.json, OUT/inspect.json.

    The split is stratified and seeded; duplicates never straddle splits; scarcity and imbalance
    options only shrink the training split. Re-running with the same options reuses OUT.

    \b
    Examples:
      ganaug prepare photos/ --out prepared/
      ganaug prepare --builtin fashion-demo --out prepared/
      ganaug prepare fashion/ --out scarce/ --imbalance "shirt=20" --seed 1
    """
    from ganaug.data.prepared import prepare

    try:
        prepared = prepare(
            data,
            out,
            builtin=builtin,
            seed=seed,
            val=val,
            test=test,
            per_class_limit=per_class_limit,
            imbalance=imbalance,
            resolution=resolution,
            channels=int(channels) if channels else None,
            fit=fit,
            resample=resample,
            csv=csv_path,
            overwrite=overwrite,
        )
    except UserError as e:
        raise GanaugError(str(e)) from None
    report = prepared.report
    if report is not None and report.problems:
        click.echo(
            f"{len(report.skipped)} file(s) skipped, {len(report.warnings)} warning(s): "
            f"see `ganaug inspect` or {out}/inspect.json"
        )
    click.echo(prepared.summary())
