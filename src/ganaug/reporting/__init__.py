"""The one self-contained HTML report of a pipeline run folder.

``build_report(run_dir)`` reads what each stage left in the run folder (data summary and split,
GAN training curves and sample grids, quality metrics and the memorisation check, the downstream
benchmark and its verdict, run information) and writes ``run_dir/report.html``: one file, every
figure embedded, nothing loaded from the network. Sections of stages that have not run yet say so.
"""

from ganaug.reporting.html import Report, build_report, collect, render

# ``ganaug.report`` is this function under its public name.
report = build_report

__all__ = ["Report", "build_report", "collect", "render", "report"]
