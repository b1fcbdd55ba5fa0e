"""The one self-contained HTML report of a pipeline run folder.

``build_report(run_dir)`` reads what each stage left in the run folder (data summary and split,
GAN training curves and sample grids, quality metrics and the memorisation check, the downstream
benchmark and its verdict, run information) and writes ``run_dir/report.html``: one file, every
figure embedded, nothing loaded from the network. Sections of stages that have not run yet say so.

Modules: :mod:`~ganaug.reporting.build` (collect, render, write), :mod:`~ganaug.reporting.sections`
(one module per section), :mod:`~ganaug.reporting.figures` (embedding PNGs),
:mod:`~ganaug.reporting.plots` (matplotlib figures) and :mod:`~ganaug.reporting.benchmark_text` (the
benchmark's verdict and table in words). Imports are lazy, so ``BenchmarkResult`` and
``ganaug.diagnostics`` can use the plots and the prose without loading the report builder.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["benchmark_text", "build", "figures", "plots", "sections"],
    submod_attrs={"build": ["Report", "build_report", "collect", "render", "report"]},
)
