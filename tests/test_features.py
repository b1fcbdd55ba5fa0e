"""Feature extractors: pixels, Inception (local weights only, never downloaded), the trained net."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.metrics import features as feat


def two_class_set(n: int, seed: int, size: int = 16) -> ImageSet:
    """Class 0: a bright square on dark; class 1: a dark square on bright; random position and tint."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 1, size, size), np.uint8)
    y = np.arange(n) % 2
    for i in range(n):
        lo, hi = rng.integers(0, 60), rng.integers(190, 256)
        bg, fg = (lo, hi) if y[i] == 0 else (hi, lo)
        img = np.full((size, size), bg, np.uint8)
        r, c, s = rng.integers(0, size // 2), rng.integers(0, size // 2), rng.integers(4, size // 2)
        img[r : r + s, c : c + s] = fg
        x[i, 0] = img
    return ImageSet(x, y, ["bright", "dark"])


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """Any attempt to download weights fails the test."""

    def refuse(*a, **k):
        raise AssertionError("tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    monkeypatch.setattr(fe, "load_state_dict_from_url", refuse)


def test_pixel_features_and_resize():
    s = two_class_set(6, 0)
    f = feat.pixel_features(s, size=8)
    assert f.shape == (6, 64) and f.dtype == np.float32 and 0 <= f.min() and f.max() <= 1
    rgb = feat.resize_images(s.images, (32, 32), channels=3)
    assert rgb.shape == (6, 3, 32, 32) and np.array_equal(rgb[:, 0], rgb[:, 2])
    gray = feat.resize_images(rgb, (16, 16), channels=1)
    assert gray.shape == (6, 1, 16, 16) and np.abs(gray.astype(int) - s.images).mean() < 5
    ex = feat.make_extractor("pixels", pixel_size=4)
    assert ex(s).shape == (6, 16) and ex.info["kind"] == "pixels"
    with pytest.raises(UserError):
        feat.make_extractor("nonsense")


def test_inception_missing_weights_message(monkeypatch, tmp_path):
    monkeypatch.setenv("GANAUG_INCEPTION", str(tmp_path / "nope.pth"))
    with pytest.raises(UserError) as e:
        feat.find_inception_weights()
    msg = str(e.value)
    assert feat.INCEPTION_FILE in msg and str(feat.hub_checkpoint_dir()) in msg and "--inception" in msg
    with pytest.raises(UserError, match="not found"):
        feat.find_inception_weights(tmp_path / "missing.pth")
    # Without env and without the hub file: the same instructions.
    monkeypatch.delenv("GANAUG_INCEPTION")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError, match=feat.INCEPTION_FILE):
        feat.make_extractor("inception")
    # A file that is not the weights is refused with the same instructions.
    bad = tmp_path / feat.INCEPTION_FILE
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="does not hold"):
        feat.make_extractor("inception", inception=tmp_path)


def _local_inception():
    try:
        return feat.find_inception_weights()
    except UserError:
        return None


@pytest.mark.skipif(_local_inception() is None, reason="Inception weights file not present locally")
def test_inception_features_from_local_file():
    ex = feat.make_extractor("inception", device="cpu")
    s = two_class_set(2, 1, size=32)  # gray: replicated to RGB
    f = ex(s)
    assert f.shape == (2, 2048) and np.isfinite(f).all()


def test_trained_features_cached(tmp_path, monkeypatch):
    train, val = two_class_set(40, 2), two_class_set(10, 3)
    ex = feat.make_extractor("trained", train=train, val=val, cache_dir=tmp_path, device="cpu", epochs=2)
    assert ex.info["cached"] is False
    files = list(tmp_path.glob("featnet-*.pt"))
    assert len(files) == 1
    torch.load(files[0], weights_only=True)  # a plain state-dict checkpoint
    f1 = ex(train)
    assert f1.shape[0] == 40 and f1.ndim == 2 and np.isfinite(f1).all()

    # Second time: loaded from the cache, no training, same features.
    import ganaug.classify

    monkeypatch.setattr(ganaug.classify, "fit_classifier", lambda *a, **k: pytest.fail("retrained"))
    ex2 = feat.make_extractor("trained", train=train, val=val, cache_dir=tmp_path, device="cpu", epochs=2)
    assert ex2.info["cached"] is True
    np.testing.assert_allclose(ex2(train), f1, rtol=1e-5, atol=1e-5)
    # Another training split is another key.
    other = train.subset(np.arange(30))
    assert feat._cache_key(other, val, {}) != feat._cache_key(train, val, {})


def test_trained_features_without_val_holds_out_part_of_train(monkeypatch):
    seen = {}
    import ganaug.classify

    real_fit = ganaug.classify.fit_classifier

    def spy(tr, va, **kw):
        seen["train"], seen["val"] = set(tr.hashes), set(va.hashes)
        return real_fit(tr, va, **kw)

    monkeypatch.setattr(ganaug.classify, "fit_classifier", spy)
    train = two_class_set(20, 4)
    feat.make_extractor("trained", train=train, device="cpu", epochs=1)
    assert seen["val"] and not (seen["train"] & seen["val"])
    assert seen["train"] | seen["val"] == set(train.hashes)


def test_trained_features_single_class_is_a_user_error():
    s = two_class_set(10, 5)
    one = ImageSet(s.images, np.zeros(10, np.int64), ["only"])
    with pytest.raises(UserError, match="2 classes"):
        feat.make_extractor("trained", train=one, device="cpu")


def test_inception_path_with_a_local_file(tmp_path, monkeypatch):
    """The real loading code on a file of the right layout (random weights): found in the hub cache."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    # Build the network once without any weights to get a state dict of the right keys and shapes.
    with monkeypatch.context() as m:
        import torch_fidelity.feature_extractor_inceptionv3 as fe

        m.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)

        m.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        net = FeatureExtractorInceptionV3("x", ["2048"])
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.save(net.state_dict(), hub / "checkpoints" / feat.INCEPTION_FILE)
    monkeypatch.delenv("GANAUG_INCEPTION", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))

    ex = feat.make_extractor("inception", device="cpu")
    assert ex.info["weights"] == str(hub / "checkpoints" / feat.INCEPTION_FILE)
    f = ex(two_class_set(2, 6, size=16))  # gray, small: replicated to RGB, resized to 299 inside
    assert f.shape == (2, 2048) and np.isfinite(f).all()
