"""`ganaug inspect DATA`: what is in a data set and what is wrong with it, file by file."""

from __future__ import annotations

import click

from ganaug.cli import GanaugError, cli
from ganaug.errors import UserError


@cli.command("inspect")
@click.argument("data")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="filename,label CSV for a flat folder of images.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the full report (every problem) as JSON to this file.",
)
@click.option(
    "--resolution",
    type=click.IntRange(1, 4096),
    default=None,
    help="Resolution to load at. [default: common size, else median shorter side]",
)
@click.option(
    "--channels",
    type=click.Choice(["1", "3"]),
    default=None,
    help="Channels to load as. [default: 1 if every image is grayscale, else 3]",
)
@click.option("--all", "show_all", is_flag=True, help="List every problem (default: 50 per kind).")
def inspect_command(
    data: str,
    csv_path: str | None,
    json_out: str | None,
    resolution: int | None,
    channels: str | None,
    show_all: bool,
) -> None:
    """Summarise DATA (classes, counts, imbalance, sizes, modes) and list every bad file with its reason.

    DATA: a folder of class sub-folders, a flat folder with --csv, a StyleGAN zip/folder
    (dataset.json), IDX files, an .npz, or builtin:NAME. Nothing in DATA is modified.
    Exit status 0 when anything usable was found.

    \b
    Examples:
      ganaug inspect photos/
      ganaug inspect retina/train --csv retina/trainLabels.csv --json report.json
      ganaug inspect builtin:fashion-demo
    """
    from ganaug.data.sources import inspect
    from ganaug.utils import atomic_write_json

    try:
        report = inspect(
            data, csv=csv_path, resolution=resolution, channels=int(channels) if channels else None
        )
    except UserError as e:
        raise GanaugError(str(e)) from None
    click.echo(
        "\n".join(
            report.summary_lines(max_problems=None if show_all else 50, max_classes=None if show_all else 30)
        )
    )
    if json_out:
        try:
            atomic_write_json(json_out, report.to_dict())
        except OSError as e:
            raise GanaugError(f"cannot write the JSON report to {json_out}: {e.strerror or e}") from None
        click.echo(f"Report written to {json_out}")
    if not report.ok:
        from ganaug.data.sources import nothing_usable_message

        raise GanaugError(nothing_usable_message(report))
