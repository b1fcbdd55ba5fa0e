"""Figures of the report, drawn with matplotlib's object API (no pyplot state, Agg canvas).

Each function takes plain data read from a run folder and returns PNG bytes (or ``None`` when
there is nothing to draw), so the HTML layer only embeds bytes and tests need no display.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ganaug.utils import spread_indices

MAX_PLOT_CLASSES = 40  # more classes: the class-count bars show an evenly spaced subset
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1):
    """A figure on an Agg canvas, independent of pyplot and of the notebook's backend."""
    # matplotlib is imported here, on the first figure: it takes about 1 s, and BenchmarkResult imports
    # this module for its plot methods, so every user of the benchmark would pay it at import time.
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        _style(ax)
    return fig, axes


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e4e4e4", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)


def to_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure (also works for figures other modules made with pyplot)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _finite(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [_finite(r.get(key)) for r in rows]


def _any_finite(values: Iterable[float]) -> bool:
    return any(not math.isnan(v) for v in values)


# ----------------------------------------------------------------------------
# GAN training


def training_curves(stats: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Three panels against kimg: losses, D accuracy on reals/fakes, ADA probability.

    Ticks with a warning (e.g. discriminator collapse) are marked with a red dashed line.
    """
    rows = [r for r in stats if _finite(r.get("kimg")) == _finite(r.get("kimg"))]
    if not rows:
        return None
    kimg = _series(rows, "kimg")
    fig, axes = _figure(11.0, 3.1, ncols=3)
    ax_loss, ax_acc, ax_aug = axes[0]

    # Losses.
    for key, label, color in (
        ("loss_G", "G loss", PALETTE[0]),
        ("loss_D", "D loss", PALETTE[3]),
        ("loss_r1", "R1 penalty", PALETTE[2]),
    ):
        ys = _series(rows, key)
        if _any_finite(ys) and not (key == "loss_r1" and all(v == 0 or math.isnan(v) for v in ys)):
            ax_loss.plot(kimg, ys, marker="o", markersize=2.5, linewidth=1.3, label=label, color=color)
    ax_loss.set_title("Losses")
    ax_loss.set_xlabel("kimg (thousands of real images shown to D)")
    ax_loss.legend(loc="best")

    # D accuracy: high on both means D separates well (it is winning); ~0.5 means it cannot tell.
    for key, label, color in (("d_real_acc", "on reals", PALETTE[0]), ("d_fake_acc", "on fakes", PALETTE[1])):
        ys = _series(rows, key)
        if _any_finite(ys):
            ax_acc.plot(kimg, ys, marker="o", markersize=2.5, linewidth=1.3, label=label, color=color)
    ax_acc.axhline(0.5, color="#888888", linewidth=0.8, linestyle=":")
    ax_acc.set_ylim(-0.03, 1.03)
    ax_acc.set_title("Discriminator accuracy")
    ax_acc.set_xlabel("kimg")
    ax_acc.legend(loc="best")

    # Augmentation probability and the ADA overfitting statistic E[sign(D(real))].
    p = _series(rows, "aug_p")
    stat = _series(rows, "ada_stat")
    if _any_finite(p):
        ax_aug.plot(kimg, p, marker="o", markersize=2.5, linewidth=1.3, label="augment p", color=PALETTE[2])
    if _any_finite(stat):
        ax_aug.plot(
            kimg, stat, linewidth=1.0, linestyle="--", label="ADA r_t = E[sign D(real)]", color=PALETTE[4]
        )
    if not _any_finite(p) and not _any_finite(stat):
        ax_aug.text(
            0.5,
            0.5,
            "no augmentation statistics",
            transform=ax_aug.transAxes,
            ha="center",
            va="center",
            color="#777777",
        )
    ax_aug.set_ylim(-0.03, 1.03)
    ax_aug.set_title("Augmentation (ADA)")
    ax_aug.set_xlabel("kimg")
    if _any_finite(p) or _any_finite(stat):
        ax_aug.legend(loc="best")

    warn_kimg = [_finite(r.get("kimg")) for r in rows if r.get("warning") or r.get("error")]
    for ax in (ax_loss, ax_acc, ax_aug):
        for k in warn_kimg:
            ax.axvline(k, color=PALETTE[3], linewidth=0.9, linestyle="--", alpha=0.8)
    return to_png(fig)


# ----------------------------------------------------------------------------
# Data


def class_counts(counts: Mapping[str, Mapping[str, int]], class_names: Sequence[str]) -> bytes | None:
    """Horizontal stacked bars: images per class in each split (``counts[split][class]``)."""
    splits = [s for s in counts if counts[s]]
    if not splits or not class_names:
        return None
    total = len(class_names)
    if total > MAX_PLOT_CLASSES:  # many classes: an evenly spaced, readable subset, said in the title
        class_names = [class_names[i] for i in spread_indices(total, MAX_PLOT_CLASSES)]
    n = len(class_names)
    fig, axes = _figure(7.0, max(1.4, 0.28 * n + 0.9))
    ax = axes[0][0]
    left = [0.0] * n
    ys = list(range(n))[::-1]
    for i, split in enumerate(splits):
        vals = [float(counts[split].get(c, 0) or 0) for c in class_names]
        ax.barh(ys, vals, left=left, color=PALETTE[i % len(PALETTE)], label=split, height=0.7)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(ys, [str(c) for c in class_names])
    ax.set_xlabel("images")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(splits), borderaxespad=0.2)
    if n < total:
        ax.set_title(f"{n} of {total} classes (evenly spaced)", loc="right", fontsize="small")
    return to_png(fig)


def _percent_axis(ax, means: Iterable[float], extent: Iterable[float] = ()) -> None:
    """A [0, 1] metric: show it in % (the tables use % too) and keep the axis inside [0, 1] even when a
    confidence interval from very few seeds runs past it (its bar is then cut at the frame)."""
    from matplotlib.ticker import PercentFormatter  # deferred like matplotlib in _figure

    means = [v for v in means if not math.isnan(v)]
    if not means or not all(0.0 <= v <= 1.0 for v in means):
        return
    vals = means + [v for v in extent if not math.isnan(v)]
    lo, hi = max(0.0, min(vals)), min(1.0, max(vals))
    pad = max(0.01, 0.06 * (hi - lo))
    ax.set_ylim(max(0.0, lo - pad), min(1.0 + pad / 2, hi + pad))
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0 if hi - lo >= 0.05 else 1))


# ----------------------------------------------------------------------------
# Benchmark


def benchmark_curve(
    arms: Sequence[Mapping[str, Any]],  # each: label, fraction (float or None), mean, lo, hi, kind
    metric_label: str,
) -> bytes | None:
    """A metric against the synthetic fraction, per arm family, with 95 % CI error bars.

    Arms without a fraction (the real-only baseline and the classic baselines) are drawn as
    horizontal reference lines with their CI as a band.
    """
    series: dict[str, list[Mapping[str, Any]]] = {}
    refs: list[Mapping[str, Any]] = []
    for a in arms:
        if _finite(a.get("mean")) != _finite(a.get("mean")):
            continue
        if a.get("fraction") is None:
            refs.append(a)
        else:
            series.setdefault(str(a.get("family") or "GAN synthetic"), []).append(a)
    if not series and not refs:
        return None
    entries = len(refs) + len(series) + 1  # legend rows, one column (the real-only line included)
    fig, axes = _figure(7.6, 3.4 + 0.22 * entries)
    ax = axes[0][0]
    extent = _Extent()
    for i, (family, pts) in enumerate(series.items()):
        _fraction_series(ax, family, pts, PALETTE[i % len(PALETTE)], extent)
    for j, a in enumerate(refs):
        _reference_line(ax, a, j, extent)
    if extent.x:
        ax.set_xlabel("synthetic images added, % of the real training set")
        ticks = sorted(set(extent.x))
        ax.set_xticks(ticks, [f"{t:g} %" for t in ticks])
        span = max(ticks) - min(ticks) or 1.0
        ax.set_xlim(min(ticks) - 0.06 * span, max(ticks) + 0.06 * span)
    else:
        ax.set_xticks([])
    ax.set_ylabel(metric_label)
    _percent_axis(ax, extent.means, extent.y)
    # A figure legend below the axes: constrained layout makes room for it (one anchored to the axes,
    # wider than them, was cut off at the right edge).
    # One column: the arms' labels are long (two columns of them were cut off at both edges).
    fig.legend(loc="outside lower center", ncols=1)
    return to_png(fig)


@dataclass
class _Extent:
    """What the benchmark curve drew: fractions (x), means, and interval ends (y), to fit the axes."""

    x: list[float] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)


def _fraction_series(ax, family: str, pts: Sequence[Mapping[str, Any]], color: str, extent: _Extent) -> None:
    """One arm family against the fraction, with CI error bars; its real-only point as a dotted line."""
    pts = sorted(pts, key=lambda a: float(a["fraction"]))
    x = [float(a["fraction"]) * 100 for a in pts]
    y = [_finite(a["mean"]) for a in pts]
    lo_v = [_finite(a.get("lo")) for a in pts]
    hi_v = [_finite(a.get("hi")) for a in pts]
    lo = [0.0 if math.isnan(v) else max(0.0, yy - v) for yy, v in zip(y, lo_v)]
    hi = [0.0 if math.isnan(v) else max(0.0, v - yy) for yy, v in zip(y, hi_v)]
    ax.errorbar(
        x,
        y,
        yerr=[lo, hi],
        marker="o",
        markersize=5,
        capsize=4,
        linewidth=1.6,
        elinewidth=1.2,
        color=color,
        label=f"{family} (mean, 95 % CI)",
        zorder=3,
    )
    # The real-only point, extended as a reference line: the level every arm is compared with.
    for a, yy in zip(pts, y):
        if a.get("kind") == "real":
            ax.axhline(
                yy,
                color=color,
                linewidth=0.9,
                linestyle=":",
                alpha=0.8,
                zorder=2,
                label=f"{a.get('label') or 'real only'} (reference)",
            )
    extent.x += x
    extent.means += y
    extent.y += lo_v + hi_v


_REF_COLORS = ["#444444", PALETTE[3], PALETTE[4], PALETTE[5], PALETTE[1]]
_REF_STYLES = ["-", "--", "-.", (0, (5, 2, 1, 2)), (0, (1, 1))]


def _reference_line(ax, a: Mapping[str, Any], j: int, extent: _Extent) -> None:
    """The ``j``-th arm without a fraction (a baseline): a horizontal line, its CI as a band."""
    color = _REF_COLORS[j % len(_REF_COLORS)]
    ax.axhline(
        _finite(a["mean"]),
        color=color,
        linestyle=_REF_STYLES[(j + j // len(_REF_COLORS)) % len(_REF_STYLES)],  # no two references alike
        linewidth=1.2,
        label=f"{a.get('label')} (mean, 95 % CI band)",
        zorder=2,
    )
    lo, hi = _finite(a.get("lo")), _finite(a.get("hi"))
    if not (math.isnan(lo) or math.isnan(hi)):
        ax.axhspan(lo, hi, color=color, alpha=0.07, linewidth=0, zorder=1)
    extent.means.append(_finite(a["mean"]))
    extent.y += [lo, hi]


def per_class_recall(
    class_names: Sequence[str],
    arms: Sequence[Mapping[str, Any]],  # each: label, recall (list per class), lo/hi (lists or None)
    counts: Mapping[str, int] | None = None,  # real training images per class, shown in the tick labels
) -> bytes | None:
    """Grouped bars: recall per class for a few arms, with 95 % CI whiskers when available."""
    arms = [a for a in arms if a.get("recall") is not None and len(a["recall"]) == len(class_names)]
    if not arms or not class_names:
        return None
    n, m = len(class_names), len(arms)
    width = 0.8 / m
    fig, axes = _figure(min(10.0, max(7.5, 0.45 * n * max(1.0, m / 2) + 3.5)), 3.6)
    ax = axes[0][0]
    for j, a in enumerate(arms):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(n)]
        ys = [_finite(v) for v in a["recall"]]
        err = None
        if a.get("lo") is not None and a.get("hi") is not None:
            err = [
                [
                    max(0.0, y - _finite(lo)) if _finite(lo) == _finite(lo) else 0.0
                    for y, lo in zip(ys, a["lo"])
                ],
                [
                    max(0.0, _finite(hi) - y) if _finite(hi) == _finite(hi) else 0.0
                    for y, hi in zip(ys, a["hi"])
                ],
            ]
        ax.bar(
            xs,
            ys,
            width=width * 0.92,
            color=PALETTE[j % len(PALETTE)],
            hatch="//"
            if j >= len(PALETTE)
            else None,  # more arms than colours (9 by default): tell them apart
            edgecolor="white" if j >= len(PALETTE) else None,
            label=str(a["label"]),
            yerr=err,
            capsize=2 if err else 0,
            error_kw={"linewidth": 0.8},
        )
    # n is the TRAINING count (next to a test-split axis label, a bare "n=" read as the test count)
    labels = [f"{c}\n(train n={counts[c]})" if counts and c in counts else str(c) for c in class_names]
    ax.set_xticks(range(n), labels, rotation=0 if n <= 8 else 45, ha="center" if n <= 8 else "right")
    ax.set_ylabel("recall (test split)")
    _percent_axis(ax, [0.0, 1.0])
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_png(fig)


# ----------------------------------------------------------------------------
# Per-class recall and coverage during training (class_stats.jsonl of ganaug.diagnostics)


def class_curves_png(rows: list[dict[str, Any]]) -> bytes | None:
    """Recall and coverage per class against kimg (PNG bytes), or None with fewer than 1 row."""
    rows = [r for r in rows if r.get("classes")]
    if not rows:
        return None
    names = list(dict.fromkeys(n for r in rows for n in r["classes"]))
    fig, axes = _figure(8.0, 2.8, ncols=2)
    kimg = [r["kimg"] for r in rows]
    for j, key in enumerate(("recall", "coverage")):
        ax = axes[0, j]
        for i, name in enumerate(names):
            ys = [_nan(r["classes"].get(name, {}).get(key)) for r in rows]
            ax.plot(kimg, ys, marker="o", markersize=3, color=PALETTE[i % len(PALETTE)], label=name)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("kimg")
        ax.set_title(f"{key} per class ({rows[-1].get('features', 'pixels')})")
    axes[0, 1].legend(loc="best")
    return to_png(fig)


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)
