"""Section 4, the downstream benchmark, and the verdict box at the top of the page
(``benchmark/results.json``, read as a :class:`~ganaug.benchmarking.result.BenchmarkResult`).

Every number and reading comes from the result's structured rows (``summary``, ``comparisons``,
``choice``) and the verdict's words from :mod:`ganaug.reporting.benchmark_text`; nothing here
parses prose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganaug.benchmarking.arms import Arm
from ganaug.benchmarking.result import METRIC_LABELS, METRICS, BenchmarkResult
from ganaug.formatting import MISSING, finite, interval, number, points, pvalue
from ganaug.reporting.benchmark_text import verdict_parts
from ganaug.reporting.classes import shown_classes
from ganaug.reporting.figures import Numbering, cell
from ganaug.utils import read_json

PRIMARY = METRICS[0]  # the headline metric (balanced accuracy)
_READING_CLASS = {"better": "pos", "worse": "neg"}  # CSS class of a cell by the benchmark's reading


def benchmark_section(run: Path, num: Numbering) -> dict[str, Any]:
    sec: dict[str, Any] = {"id": "benchmark", "title": "Downstream benchmark"}
    path = run / "benchmark" / "results.json"
    if not path.exists():
        return {
            **sec,
            "status": "missing",
            "note": "no benchmark/results.json (the benchmark stage): whether the "
            "synthetic images help a classifier is not known yet.",
        }
    res = BenchmarkResult.load(path)
    cfg = res.config or {}
    label = METRIC_LABELS.get(PRIMARY, PRIMARY)
    ref = res.summary.get("real", {}).get(PRIMARY, {})
    sec.update(
        {
            "result": res,
            "cfg": cfg,
            "n_seeds": len(res.seeds),
            "metric_label": label,
            "steps": number(cfg.get("steps")),
            "n_real_train": number(sum((cfg.get("train_counts") or {}).values()) or None),
            "real_score": points(ref.get("mean")) if ref else None,
        }
    )
    sec["curve_fig"] = num.figure(res.plot(metric=PRIMARY), alt="benchmark curve")
    sec["tables"] = [_headline_table(res, num), _other_metrics_table(res, num), _per_class_table(res, num)]
    # The synthetic fractions (at most 5, real only first) and one baseline.
    chosen = [a.name for a in res.arms if a.kind in ("real", "mix")][:5]
    sec["recall_baseline"] = any(a.kind in ("classic", "oversample") for a in res.arms)
    chosen += [a.name for a in res.arms if a.kind in ("classic", "oversample")][:1]
    sec["recall_fig"] = num.figure(res.plot_per_class(arms=chosen), alt="per-class recall")
    sec["skipped"] = dict(res.skipped or {})
    sec["leak"] = dict(res.leak_check or {})
    sec["leak_found"] = any(sec["leak"].values())
    sec["fractions"] = ", ".join(f"{100 * f:g} %" for f in cfg.get("fractions", []))
    sec["seeds"] = ", ".join(str(s) for s in res.seeds)
    sec["lr"] = number(cfg.get("lr"))
    return sec


def _row(arm: Arm, cells: list[dict[str, str]]) -> dict[str, Any]:
    return {"label": arm.label or arm.name, "cls": "sub" if arm.name == "real" else "", "cells": cells}


def _vs_real(res: BenchmarkResult, arm: str) -> dict[str, Any] | None:
    return next((c for c in res.comparisons if c["arm"] == arm and c["vs"] == "real"), None)


def _headline_table(res: BenchmarkResult, num: Numbering) -> dict[str, Any]:
    """Every arm: mean [CI] of the headline metric, the paired difference against real only, its reading."""
    label = METRIC_LABELS.get(PRIMARY, PRIMARY)
    header = [
        "arm",
        "train images",
        "seeds",
        "single-class runs",
        f"{label} %",
        "95 % CI",
        "\u0394 vs real, points",
        "95 % CI",
        "adj. p",
        "reading",
    ]
    gan_arm = (res.choice or {}).get("gan_arm")
    rows = []
    for arm in res.arms:
        runs = [r for r in res.runs if r.get("arm") == arm.name]
        n_train = [r.get("n_train") for r in runs if r.get("n_train") is not None]
        collapsed = sum(bool(r.get("collapsed")) for r in runs)
        p = res.summary[arm.name][PRIMARY]
        cells = [
            cell(number(round(sum(n_train) / len(n_train))) if n_train else MISSING),
            cell(number(p.get("n"))),
            cell(f"{collapsed} of {len(runs)}" if collapsed else "0", "neg" if collapsed else ""),
            cell(points(p.get("mean"))),
            cell(interval(p.get("ci_low"), p.get("ci_high")), "ci"),
        ]
        c = _vs_real(res, arm.name)
        if arm.name == "real":
            cells += [cell("reference", "ci"), cell(""), cell(""), cell("")]
        elif c is None:
            cells += [cell(MISSING), cell(""), cell(""), cell("")]
        else:
            reading = c.get("reading") or "no result"
            cells += [
                cell(points(c.get("diff"), signed=True), _READING_CLASS.get(reading, "")),
                cell(interval(c.get("ci_low"), c.get("ci_high")), "ci"),
                cell(pvalue(c.get("p_adjusted"))),
                cell(reading + (" (GAN arm, primary)" if arm.name == gan_arm else "")),
            ]
        rows.append(_row(arm, cells))
    return {"number": num.table(), "kind": "headline", "header": header, "rows": rows}


def _diff_class(s: Mapping[str, Any]) -> str:
    """The CSS class of a paired difference against real only: green / red when its CI excludes 0."""
    lo, hi, d = finite(s.get("diff_ci_low")), finite(s.get("diff_ci_high")), finite(s.get("diff"))
    if d is None or lo is None or hi is None:
        return ""
    return "pos" if lo > 0 else "neg" if hi < 0 else ""


def _other_metrics_table(res: BenchmarkResult, num: Numbering) -> dict[str, Any]:
    """The other metrics: the mean and the paired difference [CI] against real only."""
    others = [m for m in METRICS if m != PRIMARY]
    header = ["arm"] + [h for m in others for h in (f"{METRIC_LABELS.get(m, m)} %", "\u0394 [95 % CI]")]
    rows = []
    for arm in res.arms:
        cells = []
        for m in others:
            st = res.summary[arm.name][m]
            cells.append(cell(points(st.get("mean"))))
            if arm.name == "real":
                cells.append(cell("reference", "ci"))
            else:
                diff = f"{points(st.get('diff'), signed=True)} {interval(st.get('diff_ci_low'), st.get('diff_ci_high'))}"
                cells.append(cell(diff, _diff_class(st)))
        rows.append(_row(arm, cells))
    return {"number": num.table(), "kind": "others", "header": header, "rows": rows}


def _per_class_table(res: BenchmarkResult, num: Numbering) -> dict[str, Any]:
    """Recall per class of every arm, and the real training images per class; with many classes only
    the rarest and the largest (``classes_hidden``: how many are left out; all are in benchmark/results.json)."""
    train_counts = (res.config or {}).get("train_counts") or {}
    classes = shown_classes(res.class_names, train_counts)
    rows = []
    for arm in res.arms:
        s = res.summary[arm.name]
        cells = [
            cell(
                points(s.get(f"recall/{c}", {}).get("mean")),
                "" if arm.name == "real" else _diff_class(s.get(f"recall/{c}", {})),
            )
            for c in classes
        ]
        rows.append(_row(arm, cells))
    if train_counts:
        rows.append(
            {
                "label": "real training images",
                "cls": "ref",
                "cells": [cell(number(train_counts.get(c))) for c in classes],
            }
        )
    hidden = len(res.class_names) - len(classes)
    return {
        "number": num.table(),
        "kind": "per_class",
        "header": ["arm", *classes],
        "rows": rows,
        "classes_hidden": hidden,
    }


# ----------------------------------------------------------------------------
# The verdict box


def verdict_box(run: Path, res: BenchmarkResult | None, status: str) -> dict[str, Any]:
    """The plain-words verdict for the top of the page (the headline: primary comparisons, power,
    cautions), with the paired CI of every comparison, secondary ones included, in its table.

    ``res``: the benchmark result (None when the benchmark has not run or could not be read);
    ``status``: the benchmark section's status.
    """
    if res is None:
        saved = None
        pj = run / "pipeline.json"
        if status == "error" and pj.exists():  # the pipeline keeps the verdict sentence too
            with contextlib.suppress(Exception):
                saved = (read_json(pj).get("stages") or {}).get("benchmark", {}).get("verdict")
        return {"tone": "none", "text": saved or None, "unreadable": status == "error", "rows": []}
    rows = []
    for c in res.comparisons:
        reading = c.get("reading") or "no result"
        a, b = res.arm(c["arm"]), res.arm(c["vs"])
        primary = c["role"] == "primary"
        rows.append(
            {
                "label": f"{a.label if a else c['arm']} vs {b.label if b else c['vs']}"
                + (" (primary)" if primary else ""),
                "diff": points(c.get("diff"), signed=True, missing="\u2014"),
                "ci": interval(c.get("ci_low"), c.get("ci_high")),
                "reading": reading + ("" if primary else f", adj. p {pvalue(c.get('p_adjusted'))}"),
                "cls": _READING_CLASS.get(reading, ""),
            }
        )
    main = res.comparison("gan_vs_real")
    lead, text = verdict_parts(res, secondary=False)  # the secondary comparisons are in the rows
    return {
        "tone": {"better": "good", "worse": "bad"}.get((main or {}).get("reading"), ""),
        "lead": lead,
        "text": text,
        "rows": rows,
        "n_seeds": len(res.seeds),
        "metric_label": METRIC_LABELS.get(PRIMARY, PRIMARY),
    }
