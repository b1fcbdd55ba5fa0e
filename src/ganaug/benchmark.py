"""Downstream utility: do the synthetic images help a classifier on the real test split?

One **arm** is one way of building the training set; every arm is trained once per seed with
:func:`ganaug.classify.fit_classifier`, selected on the real **val** split only, and scored on the
real **test** split only (the test split never reaches ``fit_classifier``).

Arms
----
- ``real``: the real training split alone (= synthetic fraction 0; always run, it is the reference).
- ``synth<P>`` for each fraction f > 0 (P = 100 f): real + round(f x |train|) synthetic images.
  Fractions above 1 are allowed.
- baselines: ``classic`` (real + classic augmentation on the fly, ``fit_classifier(augment=True)``),
  ``oversample`` (random oversampling of every class up to the largest, imblearn's
  ``RandomOverSampler`` on indices), ``smote`` (imblearn's ``SMOTE`` on flattened pixels, up to the
  largest class, ``k_neighbors = min(5, rarest class - 1)``; skipped, with the reason recorded,
  when a class has a single image), ``synthetic_only`` (|train| synthetic images and no real one,
  drawn with the same ``balance`` rule from zero real images; validated on real val, tested on real test).

How synthetic images are drawn (``balance``)
--------------------------------------------
With budget B = round(f x |train|) and real counts r_c:

- ``"keep"``: s_c proportional to r_c (largest-remainder rounding, ties to the lower class index),
  so the mixed set keeps the real class proportions (f = 1 doubles every class).
- ``"fix"``: water-filling: each synthetic image goes, one at a time, to the class whose total
  r_c + s_c is currently smallest (ties: fewer real images first, then lower class index). The
  rare classes are topped up first; once every class reaches the largest one, the rest is spread
  evenly, so the mixed set is as balanced as B allows.

For each seed and class the synthetic pool of that class is shuffled once (``numpy`` generator
seeded with (seed, class)) and an arm takes the first s_c images: draws are without replacement,
deterministic per seed, and nested (the 25 % images are part of the 50 % ones), which makes the
paired comparisons between fractions less noisy. A pool too small for the largest arm is a
:class:`UserError` saying how many images of which class are needed, raised before training.

Statistics
----------
Seeds 0..n-1 fix the classifier's initialisation, shuffling and augmentation, identically for every
arm, and the draws above. For every arm and metric: mean, sample SD and a 95 % CI
``mean +- t(0.975, n-1) * sd / sqrt(n)``; and the paired difference against ``real`` over the same
seeds, with the same CI formula on the per-seed differences and its two-sided paired t-test p-value.
No run is ever dropped: a failing run stops the benchmark with an error (completed runs are kept
for resumption). A metric that is undefined for a run (NaN AUROC) is left out of that metric's
statistics only, and ``n`` says how many seeds entered.

Files (``out/benchmark/``)
--------------------------
``runs/<arm>-seed<k>.json`` one per finished run, written atomically, reused by later calls when its
``fingerprint`` (data hashes, arm, seed, classifier settings) matches; ``results.json``
(:meth:`BenchmarkResult.to_dict`) and ``results.csv`` (one row per arm). NaN is written as null.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.errors import UserError
from ganaug.utils import atomic_write_bytes, atomic_write_text, read_json

BASELINES = ("classic", "oversample", "smote", "synthetic_only")
BALANCE = ("keep", "fix")
METRICS = ("balanced_accuracy", "accuracy", "macro_f1", "auroc")  # scalar metrics, headline first
METRIC_LABELS = {
    "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "auroc": "AUROC",
}
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------
# Arms and synthetic allocation


@dataclass(frozen=True)
class Arm:
    name: str  # file-safe id: real, synth25, classic, oversample, smote, synthetic_only
    kind: str  # real | mix | classic | oversample | smote | synthetic_only
    fraction: float = 0.0  # synthetic images added, as a fraction of |train| (mix arms)
    label: str = ""  # for tables and plots

    @property
    def uses_synthetic(self) -> bool:
        return self.kind in ("mix", "synthetic_only")


def _pct(f: float) -> str:
    return f"{f * 100:g}"


def plan_arms(fractions: Sequence[float], baselines: Sequence[str], has_synthetic: bool) -> list[Arm]:
    """The arms a benchmark runs, in table order: real, synthetic fractions, baselines."""
    arms = [Arm("real", "real", 0.0, "real only")]
    if has_synthetic:
        for f in sorted({float(f) for f in fractions if f > 0}):
            arms.append(Arm(f"synth{_pct(f)}", "mix", f, f"real + {_pct(f)} % synthetic"))
    labels = {
        "classic": "real + classic augmentation",
        "oversample": "random oversampling",
        "smote": "SMOTE",
        "synthetic_only": "synthetic only",
    }
    for b in baselines:
        if b == "synthetic_only" and not has_synthetic:
            continue
        arms.append(Arm(b, b, 1.0 if b == "synthetic_only" else 0.0, labels[b]))
    return arms


def allocate_synthetic(real_counts: Sequence[int], budget: int, balance: str) -> np.ndarray:
    """Synthetic images per class for a budget, by the ``keep`` or ``fix`` rule (module docstring)."""
    r = np.asarray(real_counts, dtype=np.int64)
    K = len(r)
    s = np.zeros(K, dtype=np.int64)
    if budget <= 0 or K == 0:
        return s
    if balance == "keep":
        total = int(r.sum())
        quota = budget * (r / total) if total else np.full(K, budget / K)
        s = np.floor(quota).astype(np.int64)
        order = sorted(range(K), key=lambda c: (-(quota[c] - s[c]), c))
        s[order[: budget - int(s.sum())]] += 1
        return s
    if balance != "fix":
        raise UserError(f"balance must be one of {', '.join(BALANCE)}, got {balance!r}")
    # Water-filling: the highest level L with sum(max(0, L - r)) <= budget, then one more image
    # for the first classes at that level (fewest real images first).
    lo, hi = int(r.min()), int(r.max()) + budget
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.maximum(0, mid - r).sum()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    s = np.maximum(0, lo - r)
    at_level = sorted((c for c in range(K) if r[c] <= lo), key=lambda c: (r[c], c))
    s[at_level[: budget - int(s.sum())]] += 1
    return s


def _budget(fraction: float, n: int) -> int:
    return math.floor(fraction * n + 0.5)


def synthetic_counts(arm: Arm, real_counts: Sequence[int], balance: str) -> np.ndarray:
    """Synthetic images per class that ``arm`` draws from the pool."""
    r = np.asarray(real_counts, dtype=np.int64)
    if arm.kind == "mix":
        return allocate_synthetic(r, _budget(arm.fraction, int(r.sum())), balance)
    if arm.kind == "synthetic_only":
        # |train| images: the real proportions ("keep") or an even split ("fix").
        return allocate_synthetic(r if balance == "keep" else np.zeros_like(r), int(r.sum()), balance)
    return np.zeros(len(r), dtype=np.int64)


# ----------------------------------------------------------------------------
# Statistics


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sample SD, n and the t-distribution CI of the mean; NaN values are left out."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    n = len(v)
    nan = float("nan")
    if n == 0:
        return {"mean": nan, "sd": nan, "n": 0, "ci_low": nan, "ci_high": nan}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "sd": nan, "n": 1, "ci_low": nan, "ci_high": nan}
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "n": n, "ci_low": mean - half, "ci_high": mean + half}


def paired_diff(
    values: dict[int, float], reference: dict[int, float], confidence: float = 0.95
) -> dict[str, float]:
    """Mean per-seed difference ``values - reference`` with its CI and paired t-test p-value."""
    from scipy import stats

    seeds = sorted(s for s in values if s in reference)
    d = [values[s] - reference[s] for s in seeds if not (_isnan(values[s]) or _isnan(reference[s]))]
    m = mean_ci(d, confidence)
    p = float("nan")
    if m["n"] >= 2:
        if m["sd"] == 0:
            p = 1.0 if m["mean"] == 0 else 0.0
        else:
            t = m["mean"] / (m["sd"] / math.sqrt(m["n"]))
            p = float(2 * stats.t.sf(abs(t), m["n"] - 1))
    return {
        "diff": m["mean"],
        "diff_sd": m["sd"],
        "diff_n": m["n"],
        "diff_ci_low": m["ci_low"],
        "diff_ci_high": m["ci_high"],
        "diff_p": p,
    }


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _clean(o: Any) -> Any:
    """NaN/inf -> None for strict JSON; numpy scalars -> Python."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        o = float(o)
        return o if math.isfinite(o) else None
    return o


# ----------------------------------------------------------------------------
# Data of one benchmark, and one run


@dataclass
class _Data:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    synthetic: ImageSet | None
    settings: dict[str, Any]  # classifier options and balance
    data_hash: str
    synthetic_hash: str | None


def _hash_sets(*sets: ImageSet | None) -> str:
    h = hashlib.sha256()
    for s in sets:
        if s is None:
            h.update(b"none")
            continue
        h.update(json.dumps([list(s.images.shape), s.class_names]).encode())
        h.update(np.ascontiguousarray(s.images).tobytes())
        h.update(np.ascontiguousarray(s.labels).tobytes())
    return h.hexdigest()


def _fingerprint(arm: Arm, seed: int, data: _Data) -> str:
    key = {
        "version": FORMAT_VERSION,
        "arm": asdict(arm),
        "seed": seed,
        "classifier": data.settings["classifier"],
        "data": data.data_hash,
    }
    if arm.uses_synthetic:  # other arms survive a new synthetic pool or balance rule
        key.update(synthetic=data.synthetic_hash, balance=data.settings["balance"])
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _draw_synthetic(data: _Data, counts: np.ndarray, seed: int) -> ImageSet:
    """The first counts[c] images of class c's pool after a per-(seed, class) shuffle."""
    syn = data.synthetic
    assert syn is not None
    idx = []
    for c, k in enumerate(counts):
        if k == 0:
            continue
        pool = np.flatnonzero(syn.labels == c)
        perm = np.random.default_rng([int(seed), c, 0x5E7]).permutation(len(pool))
        idx.append(pool[perm[:k]])
    return syn.subset(np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64))


def arm_train_set(arm: Arm, seed: int, data: _Data) -> ImageSet:
    """The training set of ``arm`` for ``seed`` (never touches val or test)."""
    train = data.train
    if arm.kind in ("real", "classic"):
        return train
    real_counts = np.bincount(train.labels, minlength=train.num_classes)
    if arm.uses_synthetic:
        syn = _draw_synthetic(data, synthetic_counts(arm, real_counts, data.settings["balance"]), seed)
        return syn if arm.kind == "synthetic_only" else ImageSet.concat([train, syn])
    if arm.kind == "oversample":
        from imblearn.over_sampling import RandomOverSampler

        idx, _ = RandomOverSampler(random_state=seed).fit_resample(
            np.arange(len(train)).reshape(-1, 1), train.labels
        )
        return train.subset(idx.ravel())
    if arm.kind == "smote":
        from imblearn.over_sampling import SMOTE

        k = min(5, int(real_counts[real_counts > 0].min()) - 1)
        X = train.images.reshape(len(train), -1).astype(np.float32)
        Xr, yr = SMOTE(k_neighbors=k, random_state=seed).fit_resample(X, train.labels)
        new = np.clip(np.rint(Xr[len(train) :]), 0, 255).astype(np.uint8).reshape(-1, *train.images.shape[1:])
        extra = ImageSet(
            new, yr[len(train) :], train.class_names, paths=[f"smote#{i}" for i in range(len(new))]
        )
        return ImageSet.concat([train, extra])
    raise ValueError(f"unknown arm kind {arm.kind!r}")


def _run_one(arm: Arm, seed: int, data: _Data) -> dict[str, Any]:
    """Build the arm's training set, fit (selection on val), score once on test."""
    from ganaug import classify  # looked up at call time, so tests can spy on fit_classifier

    t0 = time.time()
    train_set = arm_train_set(arm, seed, data)
    clf = data.settings["classifier"]
    fit = classify.fit_classifier(
        train_set, data.val, seed=seed, augment=arm.kind == "classic", device=data.settings["device"], **clf
    )
    proba = classify.predict_proba(fit.model, data.test.images, device=data.settings["device"])
    metrics = classify.classification_metrics(data.test.labels, proba, data.test.num_classes)
    n_syn = (
        len(train_set) - len(data.train)
        if arm.kind == "mix"
        else (len(train_set) if arm.kind == "synthetic_only" else 0)
    )
    return {
        "arm": arm.name,
        "seed": seed,
        "fingerprint": _fingerprint(arm, seed, data),
        "metrics": metrics,
        "best_epoch": fit.best_epoch,
        "epochs_run": len(fit.history),
        "val_score": fit.val_score,
        "train_counts": np.bincount(train_set.labels, minlength=data.train.num_classes).tolist(),
        "n_train": len(train_set),
        "n_synthetic": n_syn,
        "time_s": round(time.time() - t0, 3),
    }


# Worker processes receive the data once (initializer), then only (arm, seed) per task.
_WORKER_DATA: _Data | None = None


def _init_worker(data: _Data) -> None:
    global _WORKER_DATA
    import torch

    torch.set_num_threads(1)
    _WORKER_DATA = data


def _run_in_worker(arm: Arm, seed: int) -> dict[str, Any]:
    assert _WORKER_DATA is not None
    return _run_one(arm, seed, _WORKER_DATA)


# ----------------------------------------------------------------------------
# Result


@dataclass
class BenchmarkResult:
    arms: list[Arm]
    runs: list[dict[str, Any]]  # one per (arm, seed), as stored in runs/<arm>-seed<k>.json
    summary: dict[str, dict[str, dict[str, float]]]  # arm -> metric -> mean/ci/diff statistics
    class_names: list[str]
    seeds: list[int]
    config: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # arm -> why it was not run
    leak_check: dict[str, int] = field(default_factory=dict)  # test images identical to a training image
    out: str | None = None

    # -- building ------------------------------------------------------------------
    @classmethod
    def from_runs(
        cls, arms: list[Arm], runs: list[dict[str, Any]], class_names: list[str], seeds: list[int], **kw: Any
    ) -> BenchmarkResult:
        by_arm: dict[str, dict[int, dict[str, Any]]] = {}
        for r in runs:
            by_arm.setdefault(r["arm"], {})[int(r["seed"])] = r["metrics"]
        names = list(METRICS) + [f"recall/{c}" for c in class_names]

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
                    **mean_ci([vals[s] for s in sorted(vals)]),
                    **paired_diff(vals, refv),
                }
        return cls(arms=arms, runs=runs, summary=summary, class_names=class_names, seeds=seeds, **kw)

    # -- persistence ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "format_version": FORMAT_VERSION,
                "config": self.config,
                "class_names": self.class_names,
                "seeds": self.seeds,
                "arms": [asdict(a) for a in self.arms],
                "summary": self.summary,
                "skipped": self.skipped,
                "leak_check": self.leak_check,
                "verdict": self.verdict(),
                "runs": self.runs,
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkResult:
        arms = [Arm(**a) for a in d["arms"]]
        runs = [_runs_nan(r) for r in d["runs"]]
        return cls.from_runs(
            arms,
            runs,
            d["class_names"],
            d["seeds"],
            config=d.get("config", {}),
            skipped=d.get("skipped", {}),
            leak_check=d.get("leak_check", {}),
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
        names = list(METRICS) + [f"recall/{c}" for c in self.class_names]
        stats = ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high", "diff_p")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            ["arm", "label", "kind", "fraction", "n_seeds"] + [f"{m}_{s}" for m in names for s in stats]
        )
        for arm in self.arms:
            s = self.summary[arm.name]
            row = [arm.name, arm.label, arm.kind, arm.fraction, s["balanced_accuracy"]["n"]]
            for m in names:
                row += ["" if _isnan(s[m][k]) else f"{s[m][k]:.6g}" for k in stats]
            w.writerow(row)
        return buf.getvalue()

    # -- display ------------------------------------------------------------------
    def _rows(self) -> list[list[str]]:
        def pts(x: float) -> str:
            return "—" if _isnan(x) else f"{100 * x:.1f}"

        def ci(lo: float, hi: float) -> str:
            return "" if _isnan(lo) else f"[{pts(lo)}, {pts(hi)}]"

        rows = []
        for arm in self.arms:
            s = self.summary[arm.name]
            b = s["balanced_accuracy"]
            n_train = [r["n_train"] for r in self.runs if r["arm"] == arm.name]
            if arm.name == "real":
                diff = "(reference)"
            else:
                diff = (
                    f"{'+' if b['diff'] >= 0 else ''}{pts(b['diff'])} "
                    f"{ci(b['diff_ci_low'], b['diff_ci_high'])}"
                    if not _isnan(b["diff"])
                    else "—"
                )
            rows.append(
                [
                    arm.label,
                    str(int(np.mean(n_train))) if n_train else "—",
                    str(b["n"]),
                    f"{pts(b['mean'])} {ci(b['ci_low'], b['ci_high'])}",
                    diff,
                    pts(s["accuracy"]["mean"]),
                    pts(s["macro_f1"]["mean"]),
                    pts(s["auroc"]["mean"]),
                ]
            )
        return rows

    _HEADER: ClassVar[tuple[str, ...]] = (
        "arm",
        "train imgs",
        "seeds",
        "bal. acc. % [95 % CI]",
        "Δ vs real, points [95 % CI]",
        "acc. %",
        "macro-F1 %",
        "AUROC %",
    )

    def table(self) -> str:
        rows = [list(self._HEADER), *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._HEADER))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for name, why in self.skipped.items():
            lines.append(f"skipped {name}: {why}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"{self.table()}\n\n{self.verdict()}"

    def __repr__(self) -> str:
        ref = self.summary.get("real", {}).get("balanced_accuracy", {}).get("mean", math.nan)
        out = f", out={self.out!r}" if self.out else ""
        return (f"BenchmarkResult({len(self.arms)} arms x {len(self.seeds)} seeds, "
                f"{self.config.get('arch', '?')}, {len(self.class_names)} classes; real only balanced accuracy "
                f"{100 * ref:.1f} %{out}; .table(), .verdict(), .plot())")

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self._rows()
        )
        skipped = "".join(
            f"<p>skipped {html.escape(k)}: {html.escape(v)}</p>" for k, v in self.skipped.items()
        )
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{skipped}"
            f"<p>{html.escape(self.verdict())}</p>"
        )

    def verdict(self, metric: str = "balanced_accuracy") -> str:
        """Plain words, with the paired 95 % CI of each arm's change against real only."""
        label = METRIC_LABELS.get(metric, metric)
        ref = self.summary.get("real", {}).get(metric, {})
        n = ref.get("n", 0)
        if not n:
            return "No results."

        def p(x: float) -> str:
            return f"{100 * x:+.1f}".replace("-", "−")

        def phrase(arm: Arm, where: str) -> str:
            s = self.summary[arm.name][metric]
            if _isnan(s["diff"]):
                return f"no result {where}"
            if _isnan(s["diff_ci_low"]):
                return f"{p(s['diff'])} points {where} (one seed, no confidence interval)"
            ci = f"95 % CI [{p(s['diff_ci_low'])}, {p(s['diff_ci_high'])}]".replace("+", "")
            if s["diff_ci_low"] > 0 or s["diff_ci_high"] < 0:
                worse = " (worse)" if s["diff"] < 0 else ""
                return f"{p(s['diff'])} points {label} {where}{worse}, {ci}"
            return f"no significant change {where} ({p(s['diff'])} points, {ci})"

        mix = [a for a in self.arms if a.kind == "mix"]
        base = [a for a in self.arms if a.kind not in ("mix", "real")]
        parts = [
            (
                f"Over {n} seed{'s' if n != 1 else ''}, {label} on the real test split, "
                f"paired against real only ({100 * ref['mean']:.1f} %)"
            )
        ]
        text = parts[0] + ": "
        if mix:
            text += "; ".join(phrase(a, f"at {_pct(a.fraction)} % synthetic") for a in mix) + "."
        else:
            text += "no synthetic arm was run."
        if base:
            text += " Baselines: " + "; ".join(phrase(a, f"with {a.label}") for a in base) + "."
        epochs = self.config.get("epochs")
        last = [r for r in self.runs if epochs and r.get("best_epoch") == r.get("epochs_run") == epochs]
        if self.runs and 2 * len(last) >= len(self.runs):
            text += (
                f" Caution: in {len(last)} of {len(self.runs)} runs the best validation epoch was the last of "
                f"{epochs}, so the classifiers were probably still learning (and arms with more images get "
                "more optimiser steps per epoch); re-run with more epochs before trusting a difference."
            )
        if any(self.leak_check.values()):
            text += (
                " Warning: some test images are pixel-identical to training or synthetic images "
                f"({', '.join(f'{k}: {v}' for k, v in self.leak_check.items() if v)})."
            )
        return text

    def headline(self, metric: str = "balanced_accuracy") -> str:
        """The verdict in one short line: significant synthetic arms, the rest, the best baseline."""
        label = METRIC_LABELS.get(metric, metric)
        if not self.summary.get("real", {}).get(metric, {}).get("n"):
            return "No results."

        def pts(x: float) -> str:
            return f"{100 * x:+.1f}".replace("-", "−")

        def ci(s: dict) -> str:
            return f"[{pts(s['diff_ci_low'])}, {pts(s['diff_ci_high'])}]".replace("+", "")

        def significant(s: dict) -> bool:
            return not _isnan(s["diff_ci_low"]) and (s["diff_ci_low"] > 0 or s["diff_ci_high"] < 0)

        mix = [(a, self.summary[a.name][metric]) for a in self.arms if a.kind == "mix"]
        sig = [f"{pts(s['diff'])} points at {_pct(a.fraction)} % synthetic (95 % CI {ci(s)})"
               for a, s in mix if significant(s)]
        flat = [_pct(a.fraction) for a, s in mix if not significant(s)]
        parts = sig + ([f"no significant change at {'/'.join(flat)} % synthetic"] if flat else [])
        text = f"{label} vs real only: " + ("; ".join(parts) if parts else "no synthetic arm was run")
        base = [(a, self.summary[a.name][metric]) for a in self.arms
                if a.kind not in ("mix", "real") and not _isnan(self.summary[a.name][metric]["diff"])]
        if base:
            a, s = max(base, key=lambda t: t[1]["diff"])
            text += f". Best baseline: {a.label} {pts(s['diff'])} points (95 % CI {ci(s)})"
        return text + "."

    # -- plots ------------------------------------------------------------------
    def plot(self, path: str | os.PathLike | None = None, metric: str = "balanced_accuracy") -> bytes | None:
        """Metric vs synthetic fraction (mean, 95 % CI) with the baselines as reference lines; PNG."""
        from ganaug.report.plots import benchmark_curve

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
        self, path: str | os.PathLike | None = None, arms: Sequence[str] | None = None
    ) -> bytes | None:
        """Per-class recall (mean, 95 % CI) as grouped bars for the given arms (default: all); PNG."""
        from ganaug.report.plots import per_class_recall

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


def _runs_nan(r: dict[str, Any]) -> dict[str, Any]:
    """Stored runs carry null for NaN; restore NaN in the metrics."""
    r = dict(r)
    m = dict(r["metrics"])
    for k in ("accuracy", "balanced_accuracy", "macro_f1", "auroc"):
        m[k] = _nan(m.get(k))
    m["per_class_recall"] = [_nan(v) for v in m.get("per_class_recall", [])]
    m["per_class_auroc"] = [_nan(v) for v in m.get("per_class_auroc", [])]
    r["metrics"] = m
    return r


# ----------------------------------------------------------------------------
# Preparing the synthetic pool


def _match_synthetic(synthetic: ImageSet, train: ImageSet) -> ImageSet:
    """Synthetic images with the real class indices, size and channels."""
    if synthetic.class_names != train.class_names:
        unknown = [c for c in synthetic.class_names if c not in train.class_names]
        if unknown:
            raise UserError(
                f"synthetic images have classes the real data lacks: {', '.join(unknown)} "
                f"(real classes: {', '.join(train.class_names)})"
            )
        remap = np.array([train.class_names.index(c) for c in synthetic.class_names], dtype=np.int64)
        synthetic = ImageSet(
            synthetic.images, remap[synthetic.labels], train.class_names, synthetic.paths, synthetic.hashes
        )
    C, H, W = train.images.shape[1:]
    if synthetic.images.shape[1:] != (C, H, W):
        from ganaug.data.preprocess import resize_imageset

        synthetic = resize_imageset(synthetic, (H, W), C)
    return synthetic


def _check_pool(arms: list[Arm], train: ImageSet, synthetic: ImageSet, balance: str) -> None:
    real_counts = np.bincount(train.labels, minlength=train.num_classes)
    need = np.zeros(train.num_classes, dtype=np.int64)
    for a in arms:
        need = np.maximum(need, synthetic_counts(a, real_counts, balance))
    have = np.bincount(synthetic.labels, minlength=train.num_classes)
    short = [
        (train.class_names[c], int(need[c]), int(have[c])) for c in range(len(need)) if need[c] > have[c]
    ]
    if short:
        lines = ", ".join(f"class {n!r} needs {k} (the pool has {h})" for n, k, h in short)
        largest = max(
            (a for a in arms if a.uses_synthetic),
            key=lambda a: synthetic_counts(a, real_counts, balance).sum(),
        )
        raise UserError(
            f"the synthetic pool is too small for balance={balance!r} "
            f"(largest arm: {largest.label}): {lines}. "
            f"Generate more images of {'this class' if len(short) == 1 else 'these classes'} "
            f"(--n {max(k for _, k, _ in short)} per class covers every arm), or use smaller fractions."
        )


def _leak_check(train: ImageSet, val: ImageSet, test: ImageSet, synthetic: ImageSet | None) -> dict[str, int]:
    """How many test images are pixel-identical to an image of another set (should all be 0)."""
    test_h = {pixel_hash(x) for x in test.images}
    out = {}
    for name, s in (("train", train), ("val", val), ("synthetic", synthetic)):
        if s is not None:
            out[name] = sum(pixel_hash(x) in test_h for x in s.images)
    return out


# ----------------------------------------------------------------------------
# The benchmark


def benchmark(
    train: ImageSet,
    val: ImageSet,
    test: ImageSet,
    synthetic: ImageSet | None,
    *,
    fractions: Sequence[float] = (0, 0.25, 0.5, 0.75, 1.0),  # synthetic images added, x |train|
    balance: str = "keep",  # keep: real class proportions | fix: rare classes first
    seeds: int | Sequence[int] = 5,  # number of seeds (0..n-1) or the seeds themselves
    arch: str = "smallcnn",
    epochs: int = 20,
    baselines: Sequence[str] = BASELINES,
    jobs: int = 1,  # parallel worker processes (1 thread each); 1: in this process
    out: str | os.PathLike | None = None,  # writes out/benchmark/...; None: nothing written, no resume
    device: str = "auto",
    progress: bool = True,
    batch_size: int = 64,
    lr: float = 1e-3,
    image_size: int | None = None,
    pretrained_weights: str | os.PathLike | None = None,
    finetune: bool = False,
    patience: int | None = 8,
) -> BenchmarkResult:
    """Train a classifier per arm and seed; score on the real test split; summarise with paired CIs."""
    # Check the options.
    if balance not in BALANCE:
        raise UserError(f"balance must be one of {', '.join(BALANCE)}, got {balance!r}")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise UserError(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    # Values from config files and `ganaug run --set` arrive unchecked: a string would be iterated char by char.
    try:
        if isinstance(fractions, (str, bytes)):
            raise TypeError
        fractions = [float(f) for f in fractions]
    except (TypeError, ValueError):
        raise UserError(f"fractions must be a list of numbers, fractions of the real training set such as "
                        f"[0, 0.5, 1.0]; got {fractions!r}") from None
    if any(not math.isfinite(f) or f < 0 for f in fractions):
        raise UserError("fractions must be >= 0")
    try:
        if isinstance(seeds, (str, bytes, float)) or isinstance(seeds, bool):
            raise TypeError
        seed_list = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise UserError(f"seeds must be a number of seeds or a list of integer seeds; got {seeds!r}") from None
    if not seed_list:
        raise UserError("need at least one seed")
    if not isinstance(jobs, (int, np.integer)) or isinstance(jobs, bool) or jobs < 1:
        raise UserError(f"jobs must be an integer >= 1; got {jobs!r}")
    from ganaug.utils import resolve_device

    try:
        resolve_device(device)  # fail here, not once per run in the workers
    except RuntimeError as e:
        raise UserError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N ({e})") from None
    for name, s in (("val", val), ("test", test)):
        if s.class_names != train.class_names:
            raise UserError(f"the {name} split has different classes from train")
        if s.images.shape[1:] != train.images.shape[1:]:
            raise UserError(f"{name} images are {s.images.shape[1:]}, train images {train.images.shape[1:]}")
    if len(test) == 0:
        raise UserError("the test split is empty")

    # Plan the arms; check the synthetic pool before training anything.
    if synthetic is not None and len(synthetic) == 0:
        synthetic = None
    if synthetic is not None:
        synthetic = _match_synthetic(synthetic, train)
    arms = plan_arms(fractions, list(baselines), synthetic is not None)
    skipped: dict[str, str] = {}
    if synthetic is None:
        if any(f > 0 for f in fractions) or "synthetic_only" in baselines:
            skipped["synthetic"] = "no synthetic images given"
    else:
        _check_pool(arms, train, synthetic, balance)
    real_counts = np.bincount(train.labels, minlength=train.num_classes)
    if "smote" in baselines and real_counts[real_counts > 0].min() < 2:
        arms = [a for a in arms if a.name != "smote"]
        skipped["smote"] = "a class has a single training image (SMOTE needs two)"

    if "classic" in baselines:
        # TODO(augment/classic.py): drop this check once ClassicAugment is always installed.
        try:
            from ganaug.augment.classic import ClassicAugment  # noqa: F401
        except ImportError as e:
            arms = [a for a in arms if a.name != "classic"]
            skipped["classic"] = (
                f"classic augmentation unavailable (ganaug.augment.classic.ClassicAugment: {e})"
            )

    clf = {
        "arch": arch,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "image_size": image_size,
        "pretrained_weights": None if pretrained_weights is None else str(pretrained_weights),
        "finetune": finetune,
        "patience": patience,
    }
    settings = {"classifier": clf, "balance": balance, "device": device}
    data = _Data(
        train,
        val,
        test,
        synthetic,
        settings,
        _hash_sets(train, val, test),
        _hash_sets(synthetic) if synthetic is not None else None,
    )
    config = dict(
        fractions=sorted({float(f) for f in fractions}),
        balance=balance,
        seeds=seed_list,
        baselines=list(baselines),
        **clf,
        train_counts=train.counts(),
        val_counts=val.counts(),
        test_counts=test.counts(),
        synthetic_counts=synthetic.counts() if synthetic is not None else None,
        data_hash=data.data_hash,
        synthetic_hash=data.synthetic_hash,
    )

    # Reuse finished runs.
    run_dir = Path(out) / "benchmark" / "runs" if out is not None else None
    results: dict[tuple[str, int], dict[str, Any]] = {}
    todo: list[tuple[Arm, int]] = []
    for arm in arms:
        for seed in seed_list:
            if run_dir is not None:
                f = run_dir / f"{arm.name}-seed{seed}.json"
                if f.is_file():
                    try:
                        stored = read_json(f)
                    except (OSError, json.JSONDecodeError):
                        stored = None
                    if stored and stored.get("fingerprint") == _fingerprint(arm, seed, data):
                        results[(arm.name, seed)] = _runs_nan(stored)
                        continue
            todo.append((arm, seed))
    if progress and results:
        print(f"benchmark: reusing {len(results)} of {len(results) + len(todo)} runs from {run_dir}")

    # Run what is left, saving each run as soon as it ends.
    def done(arm: Arm, seed: int, rec: dict[str, Any]) -> None:
        if run_dir is not None:
            atomic_write_text(
                run_dir / f"{arm.name}-seed{seed}.json", json.dumps(_clean(rec), indent=2) + "\n"
            )
        results[(arm.name, seed)] = rec

    errors: list[str] = []
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="benchmark", unit="run")
    if jobs == 1 or len(todo) <= 1:
        for arm, seed in todo:
            try:
                done(arm, seed, _run_one(arm, seed, data))
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 — reported below, after the other runs
                errors.append(f"{arm.name} seed {seed}: {type(e).__name__}: {e}")
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{arm.name} seed {seed}")
    else:
        from concurrent.futures import as_completed

        from ganaug.workers import worker_pool

        # Workers end with this process (SIGTERM, Ctrl-C, kill -9), without tracebacks of their own.
        with worker_pool(min(jobs, len(todo)), initializer=_init_worker, initargs=(data,)) as ex:
            futures = {ex.submit(_run_in_worker, arm, seed): (arm, seed) for arm, seed in todo}
            for fut in as_completed(futures):
                arm, seed = futures[fut]
                try:
                    done(arm, seed, fut.result())
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{arm.name} seed {seed}: {type(e).__name__}: {e}")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{arm.name} seed {seed}")
    if bar is not None:
        bar.close()
    if errors:
        where = f"; finished runs are saved in {run_dir} and reused on the next call" if run_dir else ""
        raise RuntimeError(
            f"{len(errors)} of {len(todo)} benchmark runs failed{where}:\n" + "\n".join(errors)
        )

    # Summarise (every arm x seed is present: nothing is dropped).
    runs = [results[(a.name, s)] for a in arms for s in seed_list]
    res = BenchmarkResult.from_runs(
        arms,
        runs,
        train.class_names,
        seed_list,
        config=config,
        skipped=skipped,
        leak_check=_leak_check(train, val, test, synthetic),
    )
    if out is not None:
        bench_dir = Path(out) / "benchmark"
        res.out = str(bench_dir)
        _write_if_changed(bench_dir / "results.json", json.dumps(res.to_dict(), indent=2) + "\n")
        _write_if_changed(bench_dir / "results.csv", res.csv_text())
    return res


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic write, skipped when the file already holds exactly this text (keeps mtimes of a no-op rerun)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write_text(path, text)
