"""The CLI: starts without torch, shows the library's defaults, and refuses percentages for fractions."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from ganaug.cli import cli
from ganaug.config import BenchmarkOptions, PipelineConfig


def test_help_does_not_import_torch():
    # Every command module is imported at start-up (they register themselves), so this covers them all.
    code = (
        "import sys; from ganaug.cli import cli\n"
        "for args in ([], ['run'], ['benchmark'], ['train'], ['evaluate'], ['prepare'], ['generate']):\n"
        "    cli.main([*args, '--help'], standalone_mode=False)\n"
        "heavy = [m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_run_help_shows_the_pipeline_defaults():
    d = PipelineConfig()
    r = CliRunner().invoke(cli, ["run", "--help"])
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert (
        f"gan.arch=... [default: {d.gan.arch}]" in text
        and f"gan.preset=... [default: {d.gan.preset}]" in text
    )
    assert f"benchmark.seeds=... [default: {d.benchmark.seeds}]" in text
    assert f"benchmark.jobs=... [default: {d.benchmark.jobs}]" in text


def test_benchmark_fractions_are_fractions_not_percentages(tmp_path):
    r = CliRunner().invoke(cli, ["benchmark", "--help"])
    assert "[default: 0,0.25,0.5,0.75,1]" in " ".join(r.output.split())
    assert [0, 0.25, 0.5, 0.75, 1] == list(BenchmarkOptions().fractions)
    r = CliRunner().invoke(cli, ["benchmark", "--data", str(tmp_path), "--fractions", "25,50"])
    assert r.exit_code == 2
    text = " ".join(r.output.split())
    assert "fractions are in 0..1 (e.g. 0.25,0.5" in text and "got 25 (did you mean 0.25?)" in text
