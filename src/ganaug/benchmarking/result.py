"""The result of a benchmark: per-arm summaries, the pre-specified comparisons, cautions, files.

Comparisons (``BenchmarkResult.comparisons``, structured rows; every sentence of the verdict is
generated from them, never parsed back):

- primary ``gan_vs_real``: the GAN arm (the synthetic fraction with the best mean *validation*
  score over seeds; ties: the smaller fraction) against real only;
- primary ``gan_vs_oversampling``: the same GAN arm against random oversampling that adds exactly as
  many images per class (``oversample_at<P>``), paired by seed;
- secondary: ``gan_vs_best_baseline`` (the baseline with the best mean validation score), then every
  other arm against real only; their p-values are Holm-adjusted as one family.

Each row holds arm, vs, diff, ci_low/ci_high, p, p_adjusted, se, mde (smallest detectable
difference), n_seeds, n_test, method and reading ("better", "worse", "inconclusive"). With test
predictions stored per run, intervals come from the paired bootstrap over seeds and test images
(:func:`ganaug.benchmarking.stats.paired_bootstrap`); without them (results of format 1), from the
paired t-test over seeds.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.benchmarking.arms import Arm
from ganaug.benchmarking.runner import FORMAT_VERSION, run_from_json
from ganaug.benchmarking.stats import holm, mean_ci, min_detectable, paired_bootstrap, paired_diff
from ganaug.errors import UserError
from ganaug.reporting.benchmark_text import headline, table, table_html, verdict
from ganaug.reporting.plots import benchmark_curve, per_class_recall
from ganaug.utils import atomic_write_bytes, is_missing, json_safe, read_json

METRICS = ("balanced_accuracy", "accuracy", "macro_f1", "auroc")  # scalar metrics, headline first
METRIC_LABELS = {
    "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "auroc": "AUROC",
}
READINGS = ("better", "worse", "inconclusive", "no result")


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass
class BenchmarkResult:
    arms: list[Arm]
    runs: list[dict[str, Any]]  # one per (arm, seed), as stored in runs/<arm>-seed<k>.json
    summary: dict[str, dict[str, dict[str, float]]]  # arm -> metric -> mean/ci and t-based diff vs real
    class_names: list[str]
    seeds: list[int]
    config: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # arm -> why it was not run
    leak_check: dict[str, int] = field(default_factory=dict)  # test images identical to a training image
    test_labels: list[int] | None = None  # the test split's labels (the bootstrap resamples them)
    choice: dict[str, Any] = field(default_factory=dict)  # val-chosen GAN arm and best baseline
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # structured rows (module docstring)
    cautions: list[dict[str, Any]] = field(default_factory=list)  # {"kind": ..., ...}
    out: str | None = None

    # -- building ------------------------------------------------------------------
    @classmethod
    def from_runs(
        cls,
        arms: list[Arm],
        runs: list[dict[str, Any]],
        class_names: list[str],
        seeds: list[int],
        **kw: Any,
    ) -> BenchmarkResult:
        by_arm: dict[str, dict[int, dict[str, Any]]] = {}
        for r in runs:
            by_arm.setdefault(r["arm"], {})[int(r["seed"])] = r["metrics"]
        names = list(METRICS) + [f"recall/{c}" for c in class_names]
        confidence = float((kw.get("config") or {}).get("confidence", 0.95))

        def value(m: dict[str, Any], name: str) -> float:
            if name.startswith("recall/"):
                return _nan(m["per_class_recall"][class_names.index(name[7:])])
            return _nan(m[name])

        ref = by_arm.get("real", {})
        summary: dict[str, dict[str, dict[str, float]]] = {}
        for arm in arms:
            per_seed = by_arm.get(arm.name, {})
            summary[arm.name] = {}
            for name in names:
                vals = {s: value(m, name) for s, m in per_seed.items()}
                refv = {s: value(m, name) for s, m in ref.items()}
                summary[arm.name][name] = {
                    **mean_ci([vals[s] for s in sorted(vals)], confidence),
                    **paired_diff(vals, refv, confidence),
                }
        res = cls(arms=arms, runs=runs, summary=summary, class_names=class_names, seeds=seeds, **kw)
        res._compare()
        return res

    def _runs_of(self, arm: str) -> dict[int, dict[str, Any]]:
        return {int(r["seed"]): r for r in self.runs if r["arm"] == arm}

    def val_score(self, arm: str) -> float:
        """Mean over seeds of the validation score of the kept checkpoint (how arms are chosen)."""
        v = [_nan(r.get("val_score")) for r in self._runs_of(arm).values()]
        v = [x for x in v if not math.isnan(x)]
        return float(np.mean(v)) if v else float("nan")

    def arm(self, name: str | None) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    def _compare(self, metric: str = "balanced_accuracy") -> None:
        """Choose on val, compare on test, adjust, read; and collect the cautions."""
        cfg = self.config or {}
        confidence = float(cfg.get("confidence", 0.95))
        n_boot = int(cfg.get("bootstrap", 2000))
        mix = [a for a in self.arms if a.kind == "mix"]
        gan = max(mix, key=lambda a: (self.val_score(a.name), -a.fraction)) if mix else None
        matched = next((a for a in self.arms if a.kind == "oversample_matched"), None)
        bases = [a for a in self.arms if a.is_baseline and not math.isnan(self.val_score(a.name))]
        best = max(bases, key=lambda a: self.val_score(a.name)) if bases else None
        self.choice = {
            "gan_arm": gan.name if gan else None,
            "gan_fraction": gan.fraction if gan else None,
            "best_baseline": best.name if best else None,
            "val_scores": {a.name: self.val_score(a.name) for a in self.arms},
            "rule": "highest mean validation balanced accuracy over seeds (ties: smaller fraction)",
        }

        pairs: list[tuple[str, str, Arm, Arm]] = []
        real = self.arm("real")
        if gan is not None and real is not None:
            pairs.append(("gan_vs_real", "primary", gan, real))
        if gan is not None and matched is not None:
            pairs.append(("gan_vs_oversampling", "primary", gan, matched))
        if gan is not None and best is not None:
            pairs.append(("gan_vs_best_baseline", "secondary", gan, best))
        if real is not None:
            for a in self.arms:
                if a.name not in ("real", gan.name if gan else None):
                    pairs.append((f"{a.name}_vs_real", "secondary", a, real))
        rows = [self._compare_pair(i, role, a, b, metric, confidence, n_boot) for i, role, a, b in pairs]
        secondary = [r for r in rows if r["role"] == "secondary"]
        for r, p in zip(secondary, holm([r["p"] for r in secondary], alpha=1 - confidence)):
            r["p_adjusted"] = p
        alpha = 1 - confidence
        for r in rows:
            if r["role"] == "primary":
                r["p_adjusted"] = r["p"]
            if is_missing(r["diff"]):
                r["reading"] = "no result"
            elif is_missing(r["p_adjusted"]) or r["p_adjusted"] >= alpha:
                r["reading"] = "inconclusive"
            elif r["role"] == "primary" and not (r["ci_low"] > 0 or r["ci_high"] < 0):
                r["reading"] = "inconclusive"  # p and the percentile interval can disagree at the edge
            else:
                r["reading"] = "better" if r["diff"] > 0 else "worse"
        self.comparisons = rows
        self.cautions = self._cautions()

    def _compare_pair(
        self, cid: str, role: str, a: Arm, b: Arm, metric: str, confidence: float, n_boot: int
    ) -> dict[str, Any]:
        ra, rb = self._runs_of(a.name), self._runs_of(b.name)
        seeds = [s for s in sorted(ra) if s in rb]
        row: dict[str, Any] = {"id": cid, "role": role, "arm": a.name, "vs": b.name, "metric": metric}
        labels = self.test_labels
        have_preds = (
            metric == "balanced_accuracy"
            and labels is not None
            and seeds
            and all(ra[s].get("test_pred") is not None and rb[s].get("test_pred") is not None for s in seeds)
        )
        if have_preds:
            y = np.asarray(labels)
            ca = np.stack([np.asarray(ra[s]["test_pred"]) == y for s in seeds])
            cb = np.stack([np.asarray(rb[s]["test_pred"]) == y for s in seeds])
            row.update(paired_bootstrap(ca, cb, y, n_boot=n_boot, confidence=confidence))
        else:
            d = paired_diff(
                {s: _nan(ra[s]["metrics"][metric]) for s in seeds},
                {s: _nan(rb[s]["metrics"][metric]) for s in seeds},
                confidence,
            )
            se = d["diff_sd"] / math.sqrt(d["diff_n"]) if d["diff_n"] >= 2 else float("nan")
            row.update(
                diff=d["diff"],
                ci_low=d["diff_ci_low"],
                ci_high=d["diff_ci_high"],
                p=d["diff_p"],
                se=se,
                mde=min_detectable(se, 1 - confidence),
                n_seeds=d["diff_n"],
                n_test=len(labels) if labels is not None else None,
                method="paired t-test over seeds (no test predictions stored)",
            )
        row["p_adjusted"] = float("nan")
        return row

    def _cautions(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for a in self.arms:
            runs = self._runs_of(a.name)
            bad = sorted(s for s, r in runs.items() if r.get("collapsed"))
            if bad:
                out.append({"kind": "collapsed", "arm": a.name, "seeds": bad, "of": len(runs)})
        last = [r for r in self.runs if r.get("steps") and r.get("best_step") == r.get("steps")]
        if self.runs and 2 * len(last) >= len(self.runs):
            out.append(
                {
                    "kind": "still_learning",
                    "runs": len(last),
                    "of": len(self.runs),
                    "steps": self.runs[0].get("steps"),
                }
            )
        if len(self.seeds) < 3:
            out.append({"kind": "few_seeds", "seeds": len(self.seeds)})
        leaks = {k: v for k, v in (self.leak_check or {}).items() if v}
        if leaks:
            out.append({"kind": "leak", "sets": leaks})
        return out

    def comparison(self, cid: str) -> dict[str, Any] | None:
        return next((c for c in self.comparisons if c["id"] == cid), None)

    # -- persistence ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "format_version": FORMAT_VERSION,
                "config": self.config,
                "class_names": self.class_names,
                "seeds": self.seeds,
                "arms": [asdict(a) for a in self.arms],
                "choice": self.choice,
                "comparisons": self.comparisons,
                "cautions": self.cautions,
                "summary": self.summary,
                "skipped": self.skipped,
                "leak_check": self.leak_check,
                "verdict": self.verdict(),
                "headline": self.headline(),
                "test_labels": self.test_labels,
                "runs": self.runs,
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkResult:
        arms = [Arm(**a) for a in d["arms"]]
        runs = [run_from_json(r) for r in d["runs"]]
        return cls.from_runs(
            arms,
            runs,
            d["class_names"],
            d["seeds"],
            config=d.get("config", {}),
            skipped=d.get("skipped", {}),
            leak_check=d.get("leak_check", {}),
            test_labels=d.get("test_labels"),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> BenchmarkResult:
        """From ``results.json``, or a folder holding ``results.json`` or ``benchmark/results.json``."""
        p = Path(path)
        for cand in (p, p / "results.json", p / "benchmark" / "results.json"):
            if cand.is_file():
                res = cls.from_dict(read_json(cand))
                res.out = str(cand.parent)
                return res
        raise UserError(f"no benchmark results.json at {p}")

    def csv_text(self) -> str:
        """One row per arm: the per-metric statistics over seeds, then the arm's comparison against
        real only (bootstrap diff, CI, p, Holm-adjusted p, reading) and the runs that collapsed."""
        names = list(METRICS) + [f"recall/{c}" for c in self.class_names]
        stats = ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high", "diff_p")
        comp = ("diff", "ci_low", "ci_high", "p", "p_adjusted", "reading")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            ["arm", "label", "kind", "fraction", "n_seeds", "steps", "collapsed_runs"]
            + [f"{m}_{s}" for m in names for s in stats]
            + [f"vs_real_{k}" for k in comp]
        )
        for arm in self.arms:
            s = self.summary[arm.name]
            runs = self._runs_of(arm.name).values()
            steps = sorted({r.get("steps") for r in runs if r.get("steps") is not None})
            row = [
                arm.name,
                arm.label,
                arm.kind,
                arm.fraction,
                s["balanced_accuracy"]["n"],
                "/".join(map(str, steps)),
                sum(bool(r.get("collapsed")) for r in runs),
            ]
            for m in names:
                row += ["" if is_missing(s[m][k]) else f"{s[m][k]:.6g}" for k in stats]
            c = next((c for c in self.comparisons if c["arm"] == arm.name and c["vs"] == "real"), None)
            for k in comp:
                v = None if c is None else c.get(k)
                row.append("" if is_missing(v) else (v if isinstance(v, str) else f"{v:.6g}"))
            w.writerow(row)
        return buf.getvalue()

    # -- display (the prose lives in ganaug.reporting.benchmark_text) ------------------------
    def table(self) -> str:
        return table(self)

    def verdict(self, metric: str = "balanced_accuracy") -> str:
        """The full verdict in plain words, generated from the comparison rows and cautions."""
        return verdict(self)

    def headline(self, metric: str = "balanced_accuracy") -> str:
        """The verdict for one printed line: the primary comparisons, the best baseline, the same cautions."""
        return headline(self)

    def __str__(self) -> str:
        return f"{self.table()}\n\n{self.verdict()}"

    def __repr__(self) -> str:
        ref = self.summary.get("real", {}).get("balanced_accuracy", {}).get("mean", math.nan)
        out = f", out={self.out!r}" if self.out else ""
        return (
            f"BenchmarkResult({len(self.arms)} arms x {len(self.seeds)} seeds, "
            f"{self.config.get('arch', '?')}, {len(self.class_names)} classes; real only balanced accuracy "
            f"{100 * ref:.1f} %{out}; .table(), .verdict(), .plot())"
        )

    def _repr_html_(self) -> str:
        return table_html(self)

    # -- plots ------------------------------------------------------------------
    def plot(self, path: str | os.PathLike | None = None, metric: str = "balanced_accuracy") -> bytes | None:
        """Metric vs synthetic fraction (mean, 95 % CI) with the baselines as reference lines; PNG."""
        arms = []
        for a in self.arms:
            s = self.summary[a.name][metric]
            frac = a.fraction if a.kind in ("real", "mix") else None
            arms.append(
                {
                    "label": a.label,
                    "fraction": frac,
                    "mean": s["mean"],
                    "lo": s["ci_low"],
                    "hi": s["ci_high"],
                    "kind": a.kind,
                    "family": "real + GAN synthetic",
                }
            )
        png = benchmark_curve(arms, f"{METRIC_LABELS.get(metric, metric)} (test split)")
        if path is not None and png is not None:
            atomic_write_bytes(path, png)
        return png

    def plot_per_class(
        self, path: str | os.PathLike | None = None, arms: list[str] | None = None
    ) -> bytes | None:
        """Per-class recall (mean, 95 % CI) as grouped bars for the given arms (default: all); PNG."""
        chosen = [a for a in self.arms if arms is None or a.name in arms]
        rows = []
        for a in chosen:
            s = self.summary[a.name]
            keys = [f"recall/{c}" for c in self.class_names]
            rows.append(
                {
                    "label": a.label,
                    "recall": [s[k]["mean"] for k in keys],
                    "lo": [s[k]["ci_low"] for k in keys],
                    "hi": [s[k]["ci_high"] for k in keys],
                }
            )
        counts = self.config.get("train_counts")
        png = per_class_recall(self.class_names, rows, counts=counts)
        if path is not None and png is not None:
            atomic_write_bytes(path, png)
        return png


__all__ = ["METRICS", "METRIC_LABELS", "READINGS", "BenchmarkResult"]
