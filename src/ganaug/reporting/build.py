"""Read a pipeline run folder and render the one self-contained ``report.html``.

Each section is built by one function (:mod:`ganaug.reporting.sections`) from the files one stage
wrote; a section whose inputs are missing says "not run yet", one whose inputs cannot be read
says why, and the rest of the report still renders. Every figure is embedded as a ``data:`` URI,
so the file can be mailed, archived or opened offline; it references nothing outside itself.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from ganaug import __version__
from ganaug.errors import UserError
from ganaug.reporting.figures import Numbering
from ganaug.reporting.sections.benchmark import benchmark_section, verdict_box
from ganaug.reporting.sections.data import data_section
from ganaug.reporting.sections.gan import gan_section
from ganaug.reporting.sections.quality import quality_section
from ganaug.reporting.sections.run import runinfo_section
from ganaug.utils import atomic_write_text

TEMPLATES = Path(__file__).parent / "templates"


def guard(
    sid: str, title: str, num: Numbering, files: str, fn: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run a section builder; a file that cannot be read becomes an error note, not a crash."""
    counters = (num.figures, num.tables)
    try:
        sec = fn()
    except Exception as e:  # noqa: BLE001 -- the report must render whatever one stage left behind
        num.figures, num.tables = counters  # no gaps in the numbering
        sec = {
            "status": "error",
            "note": f"This section could not be built from {files}: {type(e).__name__}: {e}. The file may be "
            "from an older or newer ganaug, or damaged; re-running its stage rewrites it.",
        }
    sec.setdefault("id", sid)
    sec.setdefault("title", title)
    sec.setdefault("status", "ok")
    return sec


def collect(run_dir: str | Path) -> dict[str, Any]:
    """Everything the template needs, read from ``run_dir``."""
    run = Path(run_dir)
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    num = Numbering()
    data = guard(
        "data", "Data", num, "prepared/inspect.json and prepared/split.json", lambda: data_section(run, num)
    )
    gan = guard(
        "gan", "GAN training", num, "gan/", lambda: gan_section(run, num, data.get("class_names", []))
    )
    quality = guard(
        "quality", "Sample quality", num, "evaluate/metrics.json", lambda: quality_section(run, num)
    )
    bench = guard(
        "benchmark",
        "Downstream benchmark",
        num,
        "benchmark/results.json",
        lambda: benchmark_section(run, num),
    )
    runinfo = guard(
        "run",
        "Run information",
        num,
        "pipeline.json",
        lambda: runinfo_section(run, num, __version__, generated),
    )
    return {
        "run_name": run.resolve().name,
        "generated": generated,
        "version": __version__,
        "verdict": verdict_box(run, bench.get("result"), bench["status"]),
        "sections": [data, gan, quality, bench, runinfo],
        "data": data,
        "gan": gan,
        "quality": quality,
        "benchmark": bench,
        "runinfo": runinfo,
    }


def render(context: Mapping[str, Any]) -> str:
    """The HTML text of a report from :func:`collect`'s context."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a missing field renders empty instead of failing
    )
    return env.get_template("report.html.j2").render(**context)


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the self-contained HTML report of a pipeline run folder; returns its path.

    ``out`` defaults to ``run_dir/report.html``. Sections whose stage has not run yet say so, so
    the report renders for any partial run (even an empty folder). Written atomically.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise UserError(f"{run} is not a folder; give the run folder of `ganaug run` (its --out)")
    out = Path(out) if out is not None else run / "report.html"
    atomic_write_text(out, render(collect(run)))
    return out


# ``ganaug.report`` is this function under its public name.
report = build_report


class Report:
    """A written report: ``Report.build(run_dir)`` in a notebook shows it inline (sandboxed iframe)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def build(cls, run_dir: str | Path, out: str | Path | None = None) -> Report:
        return cls(build_report(run_dir, out))

    @property
    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def __repr__(self) -> str:
        return f"Report({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_html_(self) -> str:
        # srcdoc keeps the report's CSS from leaking into the notebook page.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
            'style="width:100%;height:900px;border:1px solid #ddd"></iframe>'
            f"<p><code>{html.escape(str(self.path))}</code></p>"
        )
