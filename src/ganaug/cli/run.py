"""`ganaug run`: the whole pipeline in one run folder."""

from __future__ import annotations

import json

import click

from ganaug.cli import cli
from ganaug.cli._common import check_transfer_source
from ganaug.config import PipelineConfig
from ganaug.constants import ARCHS, PRESETS, RUN_DIR, STAGES

# The defaults the help shows. The shortcut options default to None so that a value in --config is not
# overridden by one the user never typed; PipelineConfig.load applies the defaults.
D = PipelineConfig()


@cli.command("run")
@click.argument("data", required=False)
@click.option(
    "--builtin", type=click.Choice(["fashion-demo"]), help="Use an embedded dataset instead of DATA."
)
@click.option("--out", type=click.Path(), default=RUN_DIR, help="The run folder (re-run to resume).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML/YAML/JSON with sections data, gan, generate, evaluate, benchmark.",
)
@click.option("--stages", help=f"Comma-separated subset of: {','.join(STAGES)}.")
@click.option("--force", help="Comma-separated stages to recompute even if up to date.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a config value, e.g. --set gan.kimg=20 --set benchmark.seeds=3 (repeatable).",
)
@click.option(
    "--arch", type=click.Choice(ARCHS), help=f"Shortcut for --set gan.arch=...  [default: {D.gan.arch}]"
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    help=f"Shortcut for --set gan.preset=...  [default: {D.gan.preset}]",
)
@click.option("--kimg", type=float, help="Shortcut for --set gan.kimg=...  [default: the preset's]")
@click.option(
    "--budget",
    help="GAN time budget (15m, 90s, 1h, off): shortcut for --set gan.budget=...  [default: the preset's]",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    help=f"Shortcut for --set benchmark.seeds=...  [default: {D.benchmark.seeds}]",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help=f"Shortcut for --set benchmark.jobs=...  [default: {D.benchmark.jobs}]",
)
@click.option(
    "--transfer",
    callback=lambda ctx, param, v: check_transfer_source(v),
    help="Start the GAN from a snapshot, run folder, official .pkl or builtin:fashion-garments: "
    "shortcut for --set gan.transfer=...",
)
@click.option("--device", help=f"auto, cpu, cuda ...  [default: {D.device}]")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def run_cmd(
    data,
    builtin,
    out,
    config_file,
    stages,
    force,
    sets,
    arch,
    preset,
    kimg,
    budget,
    seeds,
    jobs,
    transfer,
    device,
    quiet,
):
    """Run inspect -> split -> train -> generate -> evaluate -> benchmark -> report on DATA.

    Every stage writes into the run folder (--out) and is skipped on a re-run when its outputs
    exist and its options are unchanged, so an interrupted run resumes where it stopped.

    \b
    Examples:
      ganaug run --builtin fashion-demo --out demo-run
      ganaug run --builtin fashion-demo --transfer builtin:fashion-garments
      ganaug run data/cells --config ganaug.toml --out runs/cells
      ganaug run data/cells --out runs/cells --arch stylegan2 --kimg 200 --set benchmark.seeds=10
      ganaug run data/cells --out runs/cells --stages benchmark,report
    """
    from ganaug.pipeline import run

    if builtin and data:
        raise click.UsageError("give DATA or --builtin, not both")
    source = f"builtin:{builtin}" if builtin else data
    overrides = _parse_sets(sets)
    for key, value in (
        ("gan.arch", arch),
        ("gan.preset", preset),
        ("gan.kimg", kimg),
        ("gan.budget", budget),
        ("benchmark.seeds", seeds),
        ("benchmark.jobs", jobs),
        ("gan.transfer", transfer),
        ("device", device),
    ):
        if value is not None:
            overrides[key] = value
    result = run(
        source,
        out=out,
        config=config_file,
        stages=[s.strip() for s in stages.split(",")] if stages else None,
        force=[s.strip() for s in force.split(",")] if force else (),
        overrides=overrides,
        progress=not quiet,
        log=click.echo,
    )
    click.echo("")
    if result.report:
        click.secho(f"report: {result.report.resolve()}", bold=True)
    if result.verdict:
        click.secho(f"verdict: {result.verdict}", bold=True)


def _parse_sets(sets: tuple[str, ...]) -> dict[str, object]:
    """--set SECTION.KEY=VALUE: VALUE is read as JSON (numbers, lists, true/false), else kept as text."""
    overrides: dict[str, object] = {}
    for item in sets:
        if "=" not in item:
            raise click.UsageError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[key.strip()] = value
    return overrides
