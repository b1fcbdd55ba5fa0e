"""FID / KID / PRDC on feature arrays with known answers; cross-checks against torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.metrics.distribution import fid, kid, prdc


def gauss(n: int, d: int, seed: int, shift: float | np.ndarray = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


def test_fid_identical_is_zero():
    x = gauss(500, 16, 0) * 3.0
    scale = np.var(x, axis=0).sum()  # trace of the covariance, the size FID is measured in
    assert abs(fid(x, x)) < 1e-3 * scale


def test_fid_mean_shift():
    d = 8
    mu = np.zeros(d)
    mu[:2] = [1.0, 2.0]  # ||mu||^2 = 5
    value = fid(gauss(20000, d, 1), gauss(20000, d, 2, mu))
    assert value == pytest.approx(5.0, abs=0.1)
    # FID grows with the shift.
    assert fid(gauss(2000, d, 1), gauss(2000, d, 2, 0.5 * mu)) < fid(gauss(2000, d, 1), gauss(2000, d, 2, mu))


@pytest.mark.parametrize("n1,n2", [(300, 250), (20, 25)])  # covariance route; few-images (Gram) route
def test_fid_matches_torchmetrics_and_torch_fidelity(n1, n2):
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    from torchmetrics.image.fid import _compute_fid

    a = gauss(n1, 32, 3) @ np.random.default_rng(4).normal(size=(32, 32))  # correlated features
    b = gauss(n2, 32, 5, 0.3) @ np.random.default_rng(6).normal(size=(32, 32))
    ours = fid(a, b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tm = float(_compute_fid(ta.mean(0), torch.cov(ta.T), tb.mean(0), torch.cov(tb.T)))
    stats = [{"mu": x.mean(0), "sigma": np.cov(x, rowvar=False)} for x in (a, b)]
    tf = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert ours == pytest.approx(tm, rel=1e-4)
    assert ours == pytest.approx(tf, rel=1e-4)


def test_kid_same_vs_shifted():
    a, b = gauss(200, 16, 7), gauss(200, 16, 8)
    mean, std = kid(a, b, subsets=20)
    shifted, _ = kid(a, gauss(200, 16, 9, 1.0), subsets=20)
    assert abs(mean) < 0.02
    assert shifted > 0.2 and shifted > 10 * abs(mean)
    np.testing.assert_equal(
        kid(a, b, subsets=20), (mean, std)
    )  # deterministic (std: NaN, subsets are whole sets)
    # Default subset size works below the libraries' 1000; tiny sets give NaN, not an error.
    assert np.isnan(kid(a[:1], b)[0])


def test_kid_matches_torchmetrics():
    from torchmetrics.image.kid import poly_mmd

    a, b = gauss(120, 16, 10), gauss(120, 16, 11, 0.3)
    mean, se = kid(a, b, subset_size=120, subsets=3)  # subsets of the full sets: one exact value
    theirs = float(poly_mmd(torch.from_numpy(a), torch.from_numpy(b)))
    assert np.isnan(se)  # no spread where every subset is the whole set (it used to say 1e-16)
    assert mean == pytest.approx(theirs, rel=1e-4)


def test_kid_standard_error_matches_torch_fidelity_subsets():
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    a, b = gauss(150, 16, 12), gauss(130, 16, 13, 0.3)
    mean, se = kid(a, b, subset_size=60, subsets=25, seed=3)
    theirs = kid_features_to_metric(
        torch.from_numpy(a),
        torch.from_numpy(b),
        kid_subsets=25,
        kid_subset_size=60,
        rng_seed=3,
        verbose=False,
    )
    assert mean == pytest.approx(theirs[KEY_METRIC_KID_MEAN], rel=1e-9)
    # Their population std over the 25 subsets -> the standard error of the mean of 25 values.
    assert se == pytest.approx(theirs[KEY_METRIC_KID_STD] / np.sqrt(25 - 1), rel=1e-9)


def test_matched_sizes_keep_a_big_sample_from_beating_the_floor():
    """Same distribution everywhere: 50 real test, 300 real train and 3000 "synthetic" rows.

    Unmatched, the 3000 rows look closer to the test set than the real training split does (FID falls
    with sample size), i.e. they "beat the floor" on size alone; at matched sizes they sit inside the
    floor's spread.
    """
    from ganaug.metrics.distribution import matched

    test, train, synth = gauss(50, 16, 70), gauss(300, 16, 71), gauss(3000, 16, 72)

    def fid_only(r, f):
        return {"fid": fid(r, f)}

    floor = np.array([v["fid"] for v in matched(fid_only, train, test, 50, repeats=20, seed=1)])
    vs_test = np.mean([v["fid"] for v in matched(fid_only, test, synth, 50, repeats=20, seed=2)])
    vs_train = np.mean([v["fid"] for v in matched(fid_only, train, synth, 50, repeats=20, seed=3)])
    lo, hi = floor.mean() - 2 * floor.std(ddof=1), floor.mean() + 2 * floor.std(ddof=1)
    assert lo < vs_test < hi and lo < vs_train < hi, (floor.mean(), floor.std(ddof=1), vs_test, vs_train)
    assert fid(test, synth) < lo and fid(train, synth) < lo  # the unmatched computation
    # Equal sizes: nothing to subsample, one value.
    assert len(matched(fid_only, test, synth[:50], 50, repeats=20)) == 1


def test_prdc_identical_sets():
    x = gauss(300, 8, 12)
    r = prdc(x, x, k=5)
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["coverage"] == 1.0
    assert r["density"] >= 1.0


def test_prdc_far_apart_sets():
    r = prdc(gauss(200, 8, 13), gauss(200, 8, 14, 100.0), k=5)
    assert r == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_half_the_modes():
    # Real: 4 well-separated clusters; fake: samples from 2 of them.
    centres = np.eye(4, 8) * 50
    real = np.concatenate([gauss(150, 8, 20 + i, centres[i]) for i in range(4)])
    fake = np.concatenate([gauss(150, 8, 30 + i, centres[i]) for i in range(2)])
    r = prdc(real, fake, k=5)
    assert r["precision"] > 0.9
    assert r["recall"] == pytest.approx(0.5, abs=0.05)
    assert r["coverage"] == pytest.approx(0.5, abs=0.05)


def test_prdc_matches_reference_formulas():
    """Same answers as the dense formulas of Naeem et al.'s reference code."""
    a, b = gauss(120, 6, 40), gauss(90, 6, 41, 0.4)
    k = 4

    def dist(x, y):
        return np.sqrt(((x[:, None] - y[None]) ** 2).sum(-1))

    rad_a = np.sort(dist(a, a), 1)[:, k]  # k-th neighbour (column 0 is the point itself)
    rad_b = np.sort(dist(b, b), 1)[:, k]
    d = dist(a, b)
    want = {
        "precision": (d < rad_a[:, None]).any(0).mean(),
        "recall": (d < rad_b[None, :]).any(1).mean(),
        "density": (d < rad_a[:, None]).sum(0).mean() / k,
        "coverage": (d.min(1) < rad_a).mean(),
    }
    got = prdc(a, b, k=k)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_inputs_are_not_modified():
    from ganaug.metrics.distribution import knn

    for dtype in (np.float32, np.float64):
        a, b = gauss(50, 4, 50).astype(dtype), gauss(40, 4, 51, 2.0).astype(dtype)
        a0, b0 = a.copy(), b.copy()
        prdc(a, b, k=3)
        knn(a, b, 2)
        knn(a, a, 2, exclude_self=True)
        fid(a, b), kid(a, b, subsets=2)
        np.testing.assert_array_equal(a, a0)
        np.testing.assert_array_equal(b, b0)


def _reference_prdc(real, fake, k):
    """prdc.compute_prdc (Naeem et al.'s package, a test dependency), without its print."""
    import contextlib
    import io

    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):
        return {key: float(v) for key, v in compute_prdc(real, fake, k).items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prdc_equals_the_prdc_package_on_integer_features_with_ties(seed):
    # Integer-valued features: many distances tie exactly with a k-NN radius. Radii in float64 and
    # distances in float32 used to flip those ties (precision 0.87 vs the package's 0.81 here).
    rng = np.random.default_rng(seed)
    real = rng.integers(0, 3, (200, 6)).astype(np.float64)
    fake = rng.integers(0, 3, (150, 6)).astype(np.float64) + (rng.random((150, 6)) < 0.1)
    want = _reference_prdc(real, fake, 5)
    for dtype in (np.float64, np.float32, np.uint8):
        got = prdc(real.astype(dtype), fake.astype(dtype), k=5)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-12), (dtype, key)


def test_prdc_equals_the_prdc_package_on_random_floats():
    real, fake = gauss(300, 16, 60), gauss(250, 16, 61, 0.3)
    want = _reference_prdc(real, fake, 5)
    got = prdc(real, fake, k=5)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
