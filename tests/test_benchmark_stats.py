"""Benchmark statistics: t-intervals and paired t-test against scipy, the paired bootstrap against
an explicit resampling by index."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ganaug.benchmarking import mean_ci, paired_bootstrap, paired_diff


def test_mean_ci_and_paired_diff_match_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.7, 0.05, 7), rng.normal(0.68, 0.05, 7)
    for conf in (0.9, 0.95):
        m = mean_ci(x, conf)
        lo, hi = stats.t.interval(conf, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
        assert abs(m["ci_low"] - lo) < 1e-9 and abs(m["ci_high"] - hi) < 1e-9
        d = paired_diff(dict(enumerate(x)), dict(enumerate(y)), conf)
        ci = stats.ttest_rel(x, y).confidence_interval(conf)
        assert abs(d["diff_ci_low"] - ci.low) < 1e-9 and abs(d["diff_ci_high"] - ci.high) < 1e-9
        assert abs(d["diff_p"] - stats.ttest_rel(x, y).pvalue) < 1e-9
    same = mean_ci([0.5, 0.5, 0.5])  # zero spread: the interval is the value itself
    assert same["ci_low"] == same["ci_high"] == 0.5


def test_statistics_helpers():
    x = [0.70, 0.74, 0.71, 0.69, 0.76]
    m = mean_ci(x)
    half = stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / math.sqrt(5)
    assert m["ci_low"] == pytest.approx(np.mean(x) - half) and m["n"] == 5
    assert mean_ci([0.5, float("nan")])["n"] == 1 and math.isnan(mean_ci([0.5])["ci_low"])
    d = paired_diff({0: 0.8, 1: 0.9, 2: 0.7}, {0: 0.7, 1: 0.85, 2: 0.7})
    assert d["diff"] == pytest.approx(0.05)
    assert d["diff_p"] == pytest.approx(stats.ttest_rel([0.8, 0.9, 0.7], [0.7, 0.85, 0.7]).pvalue)


def test_paired_bootstrap_matches_resampling_by_index():
    # The weighted replicates equal an explicit resampling of seeds and (per class) test images.
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], [40, 20])
    a = rng.random((4, 60)) < 0.75
    b = rng.random((4, 60)) < 0.65
    r = paired_bootstrap(a, b, y, n_boot=4000)

    def bacc(c, yy):
        return np.mean([c[:, yy == k].mean(1) for k in (0, 1)], axis=0)

    reps = []
    for _ in range(4000):
        s = rng.integers(0, 4, 4)
        i = np.concatenate([rng.choice(np.flatnonzero(y == k), (y == k).sum()) for k in (0, 1)])
        reps.append(np.mean(bacc(a[s][:, i], y[i]) - bacc(b[s][:, i], y[i])))
    assert r["diff"] == pytest.approx(np.mean(bacc(a, y) - bacc(b, y)))
    assert r["ci_low"] == pytest.approx(np.quantile(reps, 0.025), abs=0.012)
    assert r["ci_high"] == pytest.approx(np.quantile(reps, 0.975), abs=0.012)
    assert r["se"] == pytest.approx(np.std(reps), rel=0.08)
    assert r["mde"] == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * r["se"])
    same = paired_bootstrap(a, a, y, n_boot=200)
    assert same["diff"] == same["ci_low"] == same["ci_high"] == 0 and same["p"] == 1
