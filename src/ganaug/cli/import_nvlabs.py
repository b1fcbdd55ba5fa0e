"""`ganaug import-nvlabs`: an official StyleGAN2-ADA .pkl snapshot -> a ganaug snapshot, safely."""

from __future__ import annotations

import click

from ganaug.cli import cli
from ganaug.config import TrainConfig


@cli.command("import-nvlabs")
@click.argument("pkl", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for the ganaug snapshot (use it like a run folder).",
)
@click.option(
    "--class-names",
    help="Comma-separated names for a conditional snapshot's classes (default: class0, class1, ...).",
)
def import_nvlabs_cmd(pkl, out, class_names):
    """Import PKL, a stylegan2-ada-pytorch (or stylegan3 repo StyleGAN2) snapshot, WITHOUT running it.

    Official snapshots carry their own Python source, which the usual loader executes; this
    reads only tensors, settings and plain containers and refuses anything else. G, G_ema, D and
    the augmentation probability p are imported into OUT, which then works wherever a run folder
    does.

    \b
    Examples:
      ganaug import-nvlabs brecahad.pkl --out pretrained/brecahad
      ganaug generate pretrained/brecahad --n 16 --out samples/
      ganaug train prepared/ --transfer pretrained/brecahad --freeze-d 4 --resolution 512
    """
    from ganaug.checkpoint import import_nvlabs, load_snapshot

    names = [s.strip() for s in class_names.split(",")] if class_names else None
    path = import_nvlabs(pkl, out, class_names=names)
    state = load_snapshot(path)
    net = TrainConfig.from_dict(state["config"]).network
    info = state.get("imported_from", {})
    nets = ["G_ema", "G"] + (["D"] if state["D"] else [])
    click.echo(
        f"imported {', '.join(nets)}: StyleGAN2 {net.resolution}x{net.resolution}, {net.channels} channel(s), "
        + (
            f"{net.num_classes} classes ({', '.join(state['class_names'])})"
            if net.num_classes
            else "unconditional"
        )
        + (f", augment p={info['augment_p']:.3f}" if info.get("augment_p") is not None else "")
    )
    for note in info.get("notes", []):
        click.echo(f"note: {note}")
    click.echo(f"snapshot: {path}")
