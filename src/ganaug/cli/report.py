"""`ganaug report`: the self-contained HTML report of a run folder."""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli import cli

# What the report reads (ganaug.reporting.build.collect); none of them present means the wrong folder was given.
_STAGE_FILES = (
    "prepared/split.json",
    "gan/stats.jsonl",
    "evaluate/metrics.json",
    "benchmark/results.json",
    "pipeline.json",
    "inspect.json",
    "training_options.json",
    "stats.jsonl",
)


@cli.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Output file. Default: RUN_DIR/report.html.")
def report_cmd(run_dir, out):
    """Write the self-contained HTML report of RUN_DIR, the folder of `ganaug run`.

    One file with every figure embedded (it loads nothing from the network); sections of stages
    that have not run yet say so, so it can be made at any point of a run.

    \b
    Examples:
      ganaug report demo-run
      ganaug report runs/cells --out cells-report.html
    """
    from ganaug.reporting import build_report

    path = build_report(run_dir, out)
    click.echo(f"report: {path.resolve()}")
    run = Path(run_dir)
    if not any((run / f).exists() for f in _STAGE_FILES):
        click.secho(
            f"warning: {run_dir} holds no stage outputs ({', '.join(_STAGE_FILES[:5])}...), so every "
            "section says 'not run yet'. Give the folder of `ganaug run` (its --out), or a `ganaug train` "
            "run folder for the training section alone.",
            fg="yellow",
            err=True,
        )
