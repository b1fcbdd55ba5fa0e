"""Classifier contract: training, selection on val, determinism, metrics, ResNet weights."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from ganaug.classify import (
    FitResult,
    classification_metrics,
    embed,
    fit_classifier,
    label_metrics,
    predict_proba,
)
from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.models.classifier import build_classifier, load_classifier, save_classifier


def make_set(counts, size=16, channels=1, seed=0, noise=40.0) -> ImageSet:
    """Three classes of simple patterns (left half bright / top half bright / stripes) plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    patterns = [xx < size // 2, yy < size // 2, (xx + yy) % 6 < 3]
    xs, ys = [], []
    for c, n in enumerate(counts):
        for _ in range(n):
            img = patterns[c] * 120.0 + 60 + rng.normal(0, noise, (channels, size, size))
            xs.append(np.clip(img, 0, 255).astype(np.uint8))
            ys.append(c)
    return ImageSet(np.stack(xs), np.array(ys), ["a", "b", "c"][: len(counts)])


@pytest.fixture(scope="module")
def data():
    return make_set([20, 12, 8], seed=0), make_set([6, 6, 6], seed=1), make_set([10, 10, 10], seed=2)


def test_fit_learns_and_selects_on_val(data):
    train, val, test = data
    r = fit_classifier(train, val, epochs=6, batch_size=16, seed=0, device="cpu")
    assert isinstance(r, FitResult)
    assert 1 <= r.best_epoch <= len(r.history) <= 6
    best = r.history[r.best_epoch - 1]
    assert r.val_score == best["val_balanced_accuracy"] == max(h["val_balanced_accuracy"] for h in r.history)
    # The kept weights are the best epoch's: re-scoring val gives the recorded score.
    m = classification_metrics(val.labels, predict_proba(r.model, val.images, device="cpu"), 3)
    assert m["balanced_accuracy"] == pytest.approx(r.val_score)
    p = predict_proba(r.model, test, device="cpu")
    assert p.shape == (30, 3) and np.allclose(p.sum(1), 1)
    assert classification_metrics(test.labels, p, 3)["balanced_accuracy"] > 0.6
    f = embed(r.model, test.images, device="cpu")
    assert f.shape == (30, r.model.embed_dim) and f.dtype == np.float32
    assert embed(r.model, test.images, device="cpu", layer="backbone").shape == (30, r.model.backbone_dim)


def test_fit_is_deterministic_per_seed(data):
    train, val, _ = data
    kw = {"epochs": 2, "batch_size": 16, "device": "cpu", "patience": None}
    a = fit_classifier(train, val, seed=3, **kw)
    b = fit_classifier(train, val, seed=3, **kw)
    c = fit_classifier(train, val, seed=4, **kw)
    la = [h["train_loss"] for h in a.history]
    assert la == [h["train_loss"] for h in b.history]
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert la != [h["train_loss"] for h in c.history]


def test_classic_augment_is_deterministic(data):
    pytest.importorskip("ganaug.augment.classic")
    train, val, _ = data
    kw = {"epochs": 2, "batch_size": 16, "device": "cpu", "patience": None, "augment": True}
    a = fit_classifier(train, val, seed=1, **kw)
    b = fit_classifier(train, val, seed=1, **kw)
    plain = fit_classifier(train, val, seed=1, **{**kw, "augment": False})
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert [h["train_loss"] for h in a.history] != [h["train_loss"] for h in plain.history]


def test_early_stopping(data):
    train, val, _ = data
    r = fit_classifier(train, val, epochs=30, batch_size=16, device="cpu", patience=1, lr=0.0)
    # lr 0: only batch-norm statistics move, so val soon stops improving; one epoch after the best, stop.
    assert len(r.history) == r.best_epoch + 1 < 30


def test_save_load_roundtrip(data, tmp_path):
    train, val, test = data
    r = fit_classifier(train, val, epochs=1, batch_size=16, device="cpu")
    save_classifier(r.model, tmp_path / "clf.pt")
    m2 = load_classifier(tmp_path / "clf.pt")
    assert m2.class_names == ["a", "b", "c"]
    np.testing.assert_allclose(
        predict_proba(m2, test.images, device="cpu"),
        predict_proba(r.model, test.images, device="cpu"),
        atol=1e-6,
    )


def test_classification_metrics_by_hand():
    y = np.array([0, 0, 0, 1, 1, 2])
    # predictions: 0,0,1 | 1,0 | 2
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.6, 0.3, 0.1],
            [0.3, 0.6, 0.1],
            [0.2, 0.7, 0.1],
            [0.5, 0.4, 0.1],
            [0.1, 0.2, 0.7],
        ]
    )
    m = classification_metrics(y, proba, 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_recall"] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # F1: class 0 P=2/3 R=2/3 -> 2/3; class 1 P=1/2 R=1/2 -> 1/2; class 2 -> 1.
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # One-vs-rest AUCs by counting pairs: class 0 scores pos {.8,.6,.3} neg {.2,.5,.1}: 8/9.
    # class 1 pos {.7,.4} neg {.1,.3,.6,.2}: 7/8. class 2 pos {.7} neg all .1: 1.
    assert m["per_class_auroc"] == pytest.approx([8 / 9, 7 / 8, 1.0])
    assert m["auroc"] == pytest.approx((8 / 9 + 7 / 8 + 1) / 3)
    assert m["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize("K", [2, 3, 7])
def test_label_metrics_agree_with_sklearn(K):
    # The val checkpoints score labels with label_metrics (one confusion matrix) instead of
    # sklearn's scorers; they must give sklearn's numbers, also with classes absent from the truth
    # or never predicted.
    from sklearn import metrics as skm

    rng = np.random.default_rng(K)
    for trial in range(20):
        n = int(rng.integers(1, 60))
        y = rng.integers(0, K - (trial % 3 == 0), n)  # every third trial: the last class is absent
        pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, K, n))
        m = label_metrics(y, pred, K)
        present = np.unique(y)
        seen = np.union1d(present, np.unique(pred))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recall = skm.recall_score(y, pred, labels=np.arange(K), average=None, zero_division=0)
            assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
            f1 = skm.f1_score(y, pred, labels=seen, average="macro", zero_division=0)
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
        assert m["macro_f1"] == pytest.approx(f1, abs=1e-12)
        assert m["per_class_recall"] == pytest.approx(
            [recall[k] if k in present else math.nan for k in range(K)], abs=1e-12, nan_ok=True
        )
        assert m["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=np.arange(K)).tolist()


def test_classification_metrics_binary_and_absent_class():
    m = classification_metrics([0, 0, 1, 1], np.array([[0.9, 0.1], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8]]), 2)
    assert m["auroc"] == pytest.approx(1.0)  # class-1 scores: negatives .1,.6 < positives .65,.8
    assert m["accuracy"] == pytest.approx(0.75)
    # Class 2 never occurs: its recall and AUC are NaN, the averages ignore it.
    m = classification_metrics([0, 1, 1], np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]), 3)
    assert math.isnan(m["per_class_recall"][2]) and math.isnan(m["per_class_auroc"][2])
    assert m["balanced_accuracy"] == pytest.approx((1 + 0.5) / 2)
    assert m["auroc"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)  # class 2 predicted once: F1 0
    # no images: every score NaN, an all-zero confusion matrix
    m = classification_metrics([], np.zeros((0, 3)), 3)
    assert m["n"] == 0 and m["confusion_matrix"] == [[0] * 3] * 3
    assert all(math.isnan(m[k]) for k in ("accuracy", "balanced_accuracy", "macro_f1", "auroc"))
    assert all(math.isnan(v) for v in m["per_class_recall"] + m["per_class_auroc"])


def test_resnet_random_init_tiny(data):
    train, val, test = data
    r = fit_classifier(
        train,
        val,
        arch="resnet18",
        pretrained_weights="none",
        image_size=16,
        epochs=1,
        batch_size=16,
        device="cpu",
    )
    assert r.model.config["pretrained"] == "none" and not r.model.frozen
    assert predict_proba(r.model, test.images, device="cpu").shape == (30, 3)
    assert embed(r.model, test.images[:4], device="cpu").shape == (4, 256)


def test_resnet_frozen_with_local_weights(tmp_path, data):
    import torchvision

    train, val, _ = data
    sd = torchvision.models.resnet18(weights=None).state_dict()  # stands in for the ImageNet file
    torch.save(sd, tmp_path / "r18.pth")
    r = fit_classifier(
        train,
        val,
        arch="resnet18",
        pretrained_weights=tmp_path / "r18.pth",
        image_size=16,
        epochs=2,
        batch_size=16,
        device="cpu",
    )
    assert r.model.frozen
    # A frozen backbone keeps the file's weights; fine-tuning moves them.
    assert torch.equal(r.model.backbone.conv1.weight, sd["conv1.weight"])
    ft = fit_classifier(
        train,
        val,
        arch="resnet18",
        pretrained_weights=tmp_path / "r18.pth",
        image_size=16,
        epochs=1,
        batch_size=16,
        device="cpu",
        finetune=True,
    )
    assert not ft.model.frozen and not torch.equal(ft.model.backbone.conv1.weight, sd["conv1.weight"])


def test_missing_imagenet_weights_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError, match=r"resnet18-f37072fd\.pth.*hub/checkpoints"):
        build_classifier("resnet18", 3, 1)
    with pytest.raises(UserError, match=r"resnet50-0676ba61\.pth or resnet50-11ad3fa6\.pth"):
        build_classifier("resnet50", 3, 3)
    with pytest.raises(UserError, match="not found"):
        build_classifier("resnet18", 3, 1, pretrained_weights=tmp_path / "nope.pth")
    # Found in the hub cache under torchvision's file name.
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    import torchvision

    torch.save(
        torchvision.models.resnet18(weights=None).state_dict(),
        tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth",
    )
    assert build_classifier("resnet18", 3, 1).config["pretrained"].endswith("resnet18-f37072fd.pth")


def test_bad_inputs(data):
    train, val, _ = data
    with pytest.raises(UserError, match="unknown classifier"):
        fit_classifier(train, val, arch="vgg")
    with pytest.raises(UserError, match="empty"):
        fit_classifier(train, val.subset([]))


def test_fixed_step_budget_whatever_the_set_size(data, monkeypatch):
    # The benchmark gives every arm the same optimiser steps: a set three times larger gets no more.
    train, val, _ = data
    big = ImageSet.concat([train, train, train])
    calls = []
    real_step = torch.optim.AdamW.step

    def counting_step(self, *a, **kw):
        calls.append(1)
        return real_step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.AdamW, "step", counting_step)
    runs = []
    for s in (train, big):
        calls.clear()
        r = fit_classifier(s, val, steps=23, eval_every=5, batch_size=8, device="cpu", patience=None)
        runs.append(r)
        assert len(calls) == 23 == r.steps
    assert [h["step"] for h in runs[0].history] == [h["step"] for h in runs[1].history] == [5, 10, 15, 20, 23]
    assert runs[0].best_step in (5, 10, 15, 20, 23)
    # Without `steps`: epochs x batches of the set, with the min_steps floor.
    assert fit_classifier(train, val, epochs=2, batch_size=8, device="cpu", patience=None).steps == 2 * 5
    assert (
        fit_classifier(train, val, epochs=2, batch_size=8, min_steps=17, device="cpu", patience=None).steps
        == 17
    )


def test_automatic_batch_and_lr_scale_with_the_set():
    from ganaug.classify import auto_batch_size, auto_lr

    assert auto_batch_size(90) == 11 and auto_batch_size(40) == 8 and auto_batch_size(5000) == 64
    assert auto_batch_size(5) == 5  # never more than the set
    assert auto_lr(64) == pytest.approx(1e-3) and auto_lr(16) == pytest.approx(5e-4)


def test_balanced_sampler_draws_classes_equally_and_weighted_loss_differs(data):
    from ganaug.classify import _BatchStream

    labels = torch.tensor([0] * 90 + [1] * 10)
    stream = _BatchStream(labels, 50, torch.Generator().manual_seed(0), "balanced")
    drawn = torch.cat([labels[stream.next()] for _ in range(40)])
    assert abs(float((drawn == 1).float().mean()) - 0.5) < 0.05
    plain = _BatchStream(labels, 30, torch.Generator().manual_seed(0))
    seen = torch.cat([plain.next() for _ in range(10)])  # 300 draws = 3 passes: each image 3 times
    assert torch.bincount(seen, minlength=100).tolist() == [3] * 100
    train, val, _ = data
    kw = {"steps": 6, "batch_size": 8, "device": "cpu", "patience": None, "seed": 0}
    a = fit_classifier(train, val, **kw)
    b = fit_classifier(train, val, class_weight="balanced", **kw)
    assert a.history[0]["train_loss"] != b.history[0]["train_loss"]
    with pytest.raises(UserError, match="class_weight"):
        fit_classifier(train, val, class_weight="inverse", **kw)
