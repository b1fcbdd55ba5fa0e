"""Memorisation check: planted copies are flagged, fresh samples are not; chunked k-NN is exact."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ganaug.data.imageset import ImageSet
from ganaug.metrics import distribution
from ganaug.metrics.distribution import knn
from ganaug.metrics.memorization import memorization_check


def blobs(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Smooth, real-looking RGB images: a colour gradient plus three soft blobs of random colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    out = np.empty((n, 3, size, size), np.uint8)
    for i in range(n):
        c0, c1 = rng.uniform(0, 0.6, 3), rng.uniform(0, 0.6, 3)
        t = rng.uniform(0, 1) * xx + (1 - rng.uniform(0, 1)) * yy
        img = c0[:, None, None] * (1 - t / 2) + c1[:, None, None] * (t / 2)
        for _ in range(3):
            cy, cx, s = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.06, 0.18)
            g = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2))
            img = img + rng.uniform(-0.5, 0.8, 3)[:, None, None] * g
        out[i] = np.clip(img * 255, 0, 255).round().astype(np.uint8)
    return out


def as_set(x: np.ndarray, tag: str) -> ImageSet:
    return ImageSet(x, np.arange(len(x)) % 2, ["a", "b"], paths=[f"{tag}#{i}" for i in range(len(x))])


@pytest.fixture(scope="module")
def planted():
    train = blobs(80, seed=1)
    fresh = blobs(20, seed=2)
    rng = np.random.default_rng(3)
    exact = train[[3, 10, 41, 77]]
    noisy_src = [5, 22, 60, 71]
    noise = rng.normal(0, 2.0, size=(len(noisy_src), *train.shape[1:]))  # sigma = 2/255 in [0, 1] units
    noisy = np.clip(train[noisy_src].astype(float) + noise, 0, 255).round().astype(np.uint8)
    synth = np.concatenate([fresh, exact, noisy])
    return as_set(train, "train"), as_set(synth, "synth"), len(fresh)


def test_planted_copies_flagged_fresh_not(planted, tmp_path):
    train, synth, n_fresh = planted
    res = memorization_check(synth, train, k=3)
    flags = res.near_copy
    assert not flags[:n_fresh].any(), res.pixel.ratio[:n_fresh, 0]
    assert flags[n_fresh:].all()
    # Copies point at their source; exact copies are at distance 0 and never authentic.
    assert list(res.pixel.index[n_fresh : n_fresh + 4, 0]) == [3, 10, 41, 77]
    assert list(res.pixel.index[n_fresh + 4 :, 0]) == [5, 22, 60, 71]
    assert np.all(res.pixel.dist[n_fresh : n_fresh + 4, 0] == 0)
    assert not res.authentic[n_fresh : n_fresh + 4].any()
    # Fresh samples look like ordinary data: ratios around 1.
    assert 0.5 < np.median(res.pixel.ratio[:n_fresh, 0]) < 2.0

    s = res.summary()
    assert s["near_copy_count"] == 8 and s["n_synthetic"] == len(synth)
    res.to_csv(tmp_path / "m.csv")
    res.to_json(tmp_path / "m.json")
    res.save_grid(tmp_path / "m.png", n=6)
    with open(tmp_path / "m.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(synth) and rows[n_fresh]["near_copy"] == "True"
    assert json.loads((tmp_path / "m.json").read_text())["near_copy_count"] == 8
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The picture starts with the closest pairs.
    assert set(res.closest(8)) == set(range(n_fresh, len(synth)))


def test_feature_space_and_resize(planted):
    train, synth, n_fresh = planted
    from ganaug.metrics.features import pixel_features

    # Synthetic images at another size are resized to the training size first.
    big = ImageSet(np.repeat(np.repeat(synth.images, 2, 2), 2, 3), synth.labels, synth.class_names)
    res = memorization_check(big, train, pixel_features(synth, 8), pixel_features(train, 8), k=2)
    assert res.synthetic.resolution == train.resolution
    assert res.feature is not None and res.near_copy[n_fresh:].all()
    assert not res.near_copy[:n_fresh].any()
    assert "feature_ratio" in res.rows()[0] and res.summary()["authentic_space"] == "feature"


def test_chunked_knn_matches_brute_force(monkeypatch):
    rng = np.random.default_rng(0)
    q = rng.integers(0, 256, (70, 48), dtype=np.uint8)
    r = rng.integers(0, 256, (150, 48), dtype=np.uint8)
    r[7] = q[5]  # an exact duplicate: distance 0
    d_full = np.sqrt(((q[:, None].astype(float) - r[None].astype(float)) ** 2).sum(-1)) / 255
    i_ref = np.argsort(d_full, axis=1, kind="stable")[:, :4]

    d1, i1 = knn(q, r, 4, scale=1 / 255)
    monkeypatch.setattr(distribution, "_BLOCK_ELEMS", 64 * 48)  # force many tiny blocks
    d2, i2 = knn(q, r, 4, scale=1 / 255)
    for d, i in ((d1, i1), (d2, i2)):
        np.testing.assert_array_equal(i, i_ref)
        np.testing.assert_allclose(d, np.take_along_axis(d_full, i_ref, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(d1, d2)  # deterministic, independent of chunking
    assert d1[5, 0] == 0 and i1[5, 0] == 7

    # Leave-one-out excludes each row itself.
    _, il = knn(r, r, 1, exclude_self=True, scale=1 / 255)
    d_rr = np.sqrt(((r[:, None].astype(float) - r[None].astype(float)) ** 2).sum(-1)) / 255
    np.fill_diagonal(d_rr, np.inf)
    np.testing.assert_array_equal(il[:, 0], d_rr.argmin(1))


def test_needs_two_training_images():
    from ganaug.errors import UserError

    one = as_set(blobs(1, 0, 8), "t")
    with pytest.raises(UserError):
        memorization_check(one, one)


def test_real_handwritten_digits():
    """sklearn's bundled 8x8 digits (real handwriting, no download), upscaled to 32x32."""
    from sklearn.datasets import load_digits

    from ganaug.metrics.features import resize_images

    x, y = load_digits(return_X_y=True)
    imgs = resize_images((x.reshape(-1, 1, 8, 8) * 255 / 16).round().astype(np.uint8), (32, 32))
    rng = np.random.default_rng(0)
    p = rng.permutation(len(imgs))
    tr, fresh = p[:600], p[600:800]
    names = [str(i) for i in range(10)]
    noisy = np.clip(imgs[tr[:20]] + rng.normal(0, 2.0, (20, 1, 32, 32)), 0, 255).round().astype(np.uint8)
    synth = ImageSet(
        np.concatenate([imgs[fresh], imgs[tr[20:40]], noisy]),
        np.concatenate([y[fresh], y[tr[20:40]], y[tr[:20]]]),
        names,
    )
    res = memorization_check(synth, ImageSet(imgs[tr], y[tr], names), k=1)
    assert not res.near_copy[:200].any() and res.near_copy[200:].all()
    assert res.pixel.ratio[:200, 0].min() > 0.4 and res.pixel.ratio[200:, 0].max() < 0.15
    # Held-out real digits are far from 100% "authentic": the reason evaluate reports a real floor.
    assert 0.3 < res.pixel.authentic[:200].mean() < 0.8


def _digits32():
    from sklearn.datasets import load_digits

    from ganaug.metrics.features import resize_images

    x, y = load_digits(return_X_y=True)
    return resize_images((x.reshape(-1, 1, 8, 8) * 255 / 16).round().astype(np.uint8), (32, 32)), y


def test_shifted_and_mirrored_training_copies_are_flagged_with_a_calibrated_threshold():
    """Real digits: copies moved by one pixel or mirrored are copies; held-out digits are not."""
    imgs, y = _digits32()
    p = np.random.default_rng(1).permutation(len(imgs))
    tr, held, fresh = p[:700], p[700:1300], p[1300:1500]
    names = [str(i) for i in range(10)]
    src = tr[:100]
    shifted = np.zeros_like(imgs[src[:50]])  # one pixel down or left, the background (0) comes in
    shifted[0::2, :, 1:, :] = imgs[src[0:50:2]][:, :, :-1, :]
    shifted[1::2, :, :, :-1] = imgs[src[1:50:2]][:, :, :, 1:]
    mirrored = imgs[src[50:]][..., ::-1]
    synth = ImageSet(
        np.concatenate([shifted, mirrored, imgs[fresh]]), np.concatenate([y[src], y[fresh]]), names
    )
    train, holdout = ImageSet(imgs[tr], y[tr], names), ImageSet(imgs[held], y[held], names)

    res = memorization_check(synth, train, k=1, holdout=holdout)
    # The threshold is the 0.1 % quantile of the held-out images' ratios, so they are (almost) never flagged.
    ref = res.holdout.pixel.ratio[:, 0]
    assert res.threshold == np.quantile(ref, 0.001, method="lower")
    assert res.holdout.near_copy.mean() <= 0.002
    assert res.near_copy[:50].mean() == 1.0 and res.near_copy[50:100].mean() == 1.0  # shifted, mirrored
    assert res.near_copy[100:].mean() < 0.05  # fresh digits
    assert list(res.pixel.index[:100, 0]) == list(range(100))  # each copy points at its source
    # The fixed 1/3 of the typical distance without flips and shifts misses them (the old behaviour).
    old = memorization_check(synth, train, k=1, threshold=1 / 3, transforms=())
    assert old.near_copy[:50].mean() < 0.2 and old.near_copy[50:100].mean() < 0.5


def test_data_copying_test_meehan():
    """Copies of the training data give a strongly negative Z_U; a fresh sample gives Z_U near 0."""
    from ganaug.metrics.copying import data_copying_test

    def sample(n, seed):  # a mixture of 4 Gaussians in 8-d, like class clusters in feature space
        rng = np.random.default_rng(seed)
        centres = np.eye(4, 8) * 6
        return centres[rng.integers(0, 4, n)] + rng.normal(size=(n, 8))

    train, test = sample(600, 1), sample(500, 2)
    copies = train[np.random.default_rng(3).choice(600, 400)]
    copied = data_copying_test(train, test, copies, cells=5)
    assert copied["z_u"] < -10 and copied["p_value"] < 1e-6 and copied["cells_used"] == 5
    assert sum(c["n_test"] for c in copied["per_cell"]) == 500
    zs = [data_copying_test(train, test, sample(400, seed), cells=5)["z_u"] for seed in (4, 5, 6)]
    assert all(abs(z) < 3 for z in zs), zs
    fresh = data_copying_test(train, test, sample(400, 4), cells=5)
    assert fresh["p_value"] > 0.01
    # Half copies, half fresh: still copying, less strongly.
    half = data_copying_test(train, test, np.concatenate([copies[:200], sample(200, 7)]), cells=5)
    assert copied["z_u"] < half["z_u"] < -3
    # Generated samples far from everything: positive (not copying).
    assert data_copying_test(train, test, sample(400, 8) * 1.5, cells=5)["z_u"] > 3
