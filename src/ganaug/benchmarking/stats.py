"""Statistics of the benchmark: per-arm means, paired differences, the paired bootstrap over seeds
and test images, Holm's adjustment and the smallest detectable difference.

- :func:`mean_ci`, :func:`paired_diff`: mean and t-interval over seeds (``scipy.stats.t.interval``
  with ``scipy.stats.sem``; every metric of the summary table; paired by seed against real only,
  two-sided ``scipy.stats.ttest_1samp`` on the per-seed differences).
- :func:`paired_bootstrap`: the comparisons behind the verdict. The test split is a sample too, so
  the interval resamples both sources of variation: seeds (with replacement) and test images (with
  replacement within each class, which keeps balanced accuracy defined), the same draws for both
  arms of a comparison (paired). ``scipy.stats.bootstrap`` resamples one index set per sample; this
  design crosses two, so each replicate's resampling counts are drawn with numpy and
  the replicate is a weighted sum (balanced accuracy is linear in the per-image correctness).
- :func:`holm`: ``statsmodels.stats.multitest.multipletests(method="holm")``.
- :func:`min_detectable`: (z_{1-alpha/2} + z_{power}) x standard error, from scipy's normal quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ganaug.utils import is_missing


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sample SD, n and the t-distribution CI of the mean; NaN values are left out."""
    v = np.asarray([x for x in values if not is_missing(x)], dtype=np.float64)
    n = len(v)
    nan = float("nan")
    if n == 0:
        return {"mean": nan, "sd": nan, "n": 0, "ci_low": nan, "ci_high": nan}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "sd": nan, "n": 1, "ci_low": nan, "ci_high": nan}
    sd = float(v.std(ddof=1))
    if sd == 0:  # scipy wants a positive scale; the interval of identical values is that value
        low = high = mean
    else:
        low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=stats.sem(v))
    return {"mean": mean, "sd": sd, "n": n, "ci_low": float(low), "ci_high": float(high)}


def paired_diff(
    values: dict[int, float], reference: dict[int, float], confidence: float = 0.95
) -> dict[str, float]:
    """Mean per-seed difference ``values - reference`` with its t-interval and paired t-test p-value."""
    seeds = sorted(s for s in values if s in reference)
    d = [values[s] - reference[s] for s in seeds if not (is_missing(values[s]) or is_missing(reference[s]))]
    m = mean_ci(d, confidence)
    p = float("nan")
    if m["n"] >= 2:
        if m["sd"] == 0:
            p = 1.0 if m["mean"] == 0 else 0.0
        else:
            p = float(stats.ttest_1samp(d, 0.0).pvalue)
    return {
        "diff": m["mean"],
        "diff_sd": m["sd"],
        "diff_n": m["n"],
        "diff_ci_low": m["ci_low"],
        "diff_ci_high": m["ci_high"],
        "diff_p": p,
    }


def balanced_accuracy(correct: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Balanced accuracy of each row of ``correct`` ([S, N] 0/1) against ``labels`` ([N])."""
    classes = np.unique(labels)
    return np.mean([correct[:, labels == c].mean(1) for c in classes], axis=0)


def paired_bootstrap(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    labels: np.ndarray,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    power: float = 0.8,
) -> dict[str, Any]:
    """Difference in balanced accuracy (a - b) with a percentile CI over seeds x test images.

    ``correct_a``, ``correct_b``: [S, N] whether seed s's classifier got test image i right (the same
    seeds, rows in the same order). Returns diff (the observed mean over seeds), ci_low/ci_high,
    a two-sided bootstrap p-value, the bootstrap standard error ``se`` and ``mde``, the smallest
    difference detected with ``power`` at level 1 - confidence (:func:`min_detectable`)."""
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    y = np.asarray(labels)
    S, N = a.shape
    D = a - b
    diff = float(np.mean(balanced_accuracy(a, y) - balanced_accuracy(b, y)))
    classes, y_idx, n_c = np.unique(y, return_inverse=True, return_counts=True)
    K = len(classes)
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    chunk = max(1, min(n_boot, 4_000_000 // max(N, 1)))
    members = [np.flatnonzero(y_idx == k) for k in range(K)]
    for start in range(0, n_boot, chunk):
        B = min(chunk, n_boot - start)
        V = _counts(rng, S, B) / S  # [B, S] seed weights
        W = np.zeros((B, N))
        for k, idx in enumerate(members):  # stratified: each class keeps its size
            W[:, idx] = _counts(rng, len(idx), B) / (K * n_c[k])
        reps[start : start + B] = ((V @ D) * W).sum(1)
    alpha = 1 - confidence
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    if np.all(reps == 0):
        p = 1.0
    else:
        p = float(min(1.0, 2 * min(np.mean(reps <= 0), np.mean(reps >= 0))))
        p = max(p, 1 / n_boot)  # never report 0 from a finite number of resamples
    se = float(reps.std(ddof=1))
    return {
        "diff": diff,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p": p,
        "se": se,
        "mde": min_detectable(se, 1 - confidence, power),
        "n_seeds": S,
        "n_test": N,
        "method": f"paired bootstrap over seeds and test images ({n_boot} resamples)",
    }


def _counts(rng: np.random.Generator, n: int, B: int) -> np.ndarray:
    """[B, n]: how often each of n items is drawn in each of B resamples of size n with replacement."""
    draws = rng.integers(0, n, size=(B, n)) + n * np.arange(B)[:, None]
    return np.bincount(draws.ravel(), minlength=B * n).reshape(B, n).astype(np.float64)


def min_detectable(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true difference a two-sided test at ``alpha`` detects with probability ``power``."""
    if is_missing(se):
        return float("nan")
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[float]:
    """Holm-adjusted p-values (statsmodels); NaN entries stay NaN and do not count."""
    p = np.asarray([np.nan if is_missing(x) else float(x) for x in pvalues], dtype=np.float64)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
    return out.tolist()
