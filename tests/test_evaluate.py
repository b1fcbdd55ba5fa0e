"""evaluate(): per-class and overall metrics vs train/test with the real floor, files, the CLI."""

from __future__ import annotations

import csv
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from ganaug.data.imageset import ImageSet
from ganaug.metrics.evaluation import evaluate
from ganaug.metrics.features import pixel_features


def shapes(n: int, seed: int, size: int = 16) -> ImageSet:
    """Two classes of smooth gray images: a bright disc (class 0) or a bright bar (class 1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    x = np.empty((n, 1, size, size), np.uint8)
    y = np.arange(n) % 2
    for i in range(n):
        cy, cx = rng.uniform(0.3, 0.7, 2)
        if y[i] == 0:
            g = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(0.08, 0.15) ** 2))
        else:
            g = np.exp(-((xx - cx) ** 2) / (2 * rng.uniform(0.04, 0.08) ** 2)) * (np.abs(yy - cy) < 0.35)
        img = rng.uniform(10, 60) + rng.uniform(150, 190) * g + rng.normal(0, 3, (size, size))
        x[i, 0] = np.clip(img, 0, 255).round().astype(np.uint8)
    return ImageSet(x, y, ["disc", "bar"], paths=[f"s{seed}#{i}" for i in range(n)])


@pytest.fixture(scope="module")
def data():
    train, val, test = shapes(60, 1), shapes(16, 2), shapes(30, 3)
    synth = ImageSet.concat([shapes(38, 4), train.subset([0, 1])])  # 2 exact copies planted at the end
    synth = ImageSet(
        synth.images, synth.labels, synth.class_names, paths=[f"g#{i}" for i in range(len(synth))]
    )
    return train, val, test, synth


def test_evaluate_pixels_writes_everything(data, tmp_path):
    train, _, test, synth = data
    res = evaluate(synth, train, test, features="pixels", out=tmp_path, device="cpu", k=3)
    assert list(res.metrics) == ["overall", "disc", "bar"]
    assert res.counts["disc"] == {"n_synthetic": 20, "n_train": 30, "n_test": 15, "n_matched": 15}
    assert res.counts["overall"]["n_matched"] == 30  # 40 synthetic, 60 train, 30 test: every column at 30
    # Spreads only where a side was subsampled: train (60 -> 30) in the floor; KID's standard error likewise.
    assert res.spread["overall"]["fid"]["floor"] > 0 and res.metrics["overall"]["kid_se"]["vs_train"] > 0
    for scope in res.metrics.values():
        for col in ("vs_train", "vs_test", "floor"):
            assert math.isfinite(scope["fid"][col]) and 0 <= scope["precision"][col] <= 1
    # The planted copies are flagged; real test images are not. The threshold is calibrated on the 30 test
    # images (their smallest ratio), so about 1 in 31 fresh samples falls below it too (it was a fixed 1/3).
    mem = res.memorization
    assert mem.near_copy[-2:].all() and mem.near_copy[:-2].sum() <= 3
    assert mem.threshold == pytest.approx(min(mem.holdout.pixel.ratio[:, 0]))
    assert res.memorization_floor["near_copy_count"] == 0
    # The data-copying test sees the 2 copies among 38 fresh images: no significant copying.
    assert res.data_copying["cells_used"] >= 1 and res.data_copying["p_value"] > 0.01

    for name in ("metrics.json", "metrics.csv", "memorization.csv", "memorization.png"):
        assert (tmp_path / name).is_file()
    j = json.loads((tmp_path / "metrics.json").read_text())  # strict JSON: no NaN
    assert j["metrics"]["overall"]["fid"]["floor"] == pytest.approx(res.metrics["overall"]["fid"]["floor"])
    assert (
        j["memorization"]["near_copy_count"] == mem.summary()["near_copy_count"]
        and j["features"]["kind"] == "pixels"
    )
    assert (
        j["data_copying"]["z_u"] == pytest.approx(res.data_copying["z_u"]) and "p_value" in j["data_copying"]
    )
    assert j["spread"]["overall"]["fid"]["floor"] == pytest.approx(res.spread["overall"]["fid"]["floor"])
    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 7 and {"scope", "metric", "vs_train", "vs_test", "floor"} <= set(rows[0])
    table = res.table()
    assert "floor" in table and "disc" in table and "FID" in table and "near copies" in table
    assert "matched 30" in table and "Z_U = " in table and "KID s.e." in table
    assert "<table>" in res._repr_html_()

    # Cross-check on the same pixel features: the classic pytorch-fid formula (scipy sqrtm). Every
    # column is at matched sizes; with 30 synthetic images there is one draw of 30 of them vs all 30 test.
    # (tests/test_distribution.py cross-checks against torchmetrics too.)
    from scipy import linalg

    res30 = evaluate(synth.subset(range(30)), train, test, features="pixels", device="cpu", k=3)
    a, b = (
        pixel_features(test, 16).astype(np.float64),
        pixel_features(synth.subset(range(30)), 16).astype(np.float64),
    )
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    theirs = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert res30.metrics["overall"]["fid"]["vs_test"] == pytest.approx(theirs, rel=1e-4)
    assert math.isnan(res30.spread["overall"]["fid"]["vs_test"]) and math.isnan(
        res30.metrics["overall"]["kid_se"]["vs_test"]
    )


def test_evaluate_resizes_and_handles_unconditional(data):
    train, _, test, synth = data
    big = ImageSet(np.repeat(np.repeat(synth.images, 2, 2), 2, 3), np.zeros(len(synth), np.int64), ["all"])
    res = evaluate(big, train, test, features="pixels", device="cpu", k=3)
    assert list(res.metrics) == ["overall"]  # classes unknown: overall only
    assert res.options["resolution"] == [16, 16]
    assert res.memorization.near_copy[-2:].all()


def test_evaluate_trained_features_never_see_test(data, tmp_path, monkeypatch):
    train, val, test, synth = data
    import ganaug.classify

    seen = {}
    real_fit = ganaug.classify.fit_classifier

    def spy(tr, va, **kw):
        seen["hashes"] = set(tr.hashes) | set(va.hashes)
        return real_fit(tr, va, **kw)

    monkeypatch.setattr(ganaug.classify, "fit_classifier", spy)
    res = evaluate(
        synth, train, test, features="trained", val=val, out=tmp_path, device="cpu", k=3, feature_epochs=2
    )
    assert seen["hashes"] == set(train.hashes) | set(val.hashes)
    assert not seen["hashes"] & set(test.hashes)
    assert res.features["kind"] == "trained" and "within one dataset" in res.features["note"]
    assert list((tmp_path / "cache").glob("featnet-*.pt"))
    assert math.isfinite(res.metrics["overall"]["fid"]["vs_test"])


def test_evaluate_rejects_unknown_classes(data):
    from ganaug.errors import DataError

    train, _, test, synth = data
    odd = ImageSet(synth.images, synth.labels, ["disc", "star"])
    with pytest.raises(DataError, match="star"):
        evaluate(odd, train, test, features="pixels", device="cpu")


def test_cli_evaluate(data, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ganaug.cli import cli
    from ganaug.cli import evaluate as cli_evaluate

    train, val, test, synth = data
    synth.save_npz(tmp_path / "synth.npz")
    (tmp_path / "prepared").mkdir()
    monkeypatch.setattr(
        cli_evaluate, "load_prepared", lambda d: SimpleNamespace(train=train, val=val, test=test)
    )
    r = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--synthetic",
            str(tmp_path / "synth.npz"),
            "--data",
            str(tmp_path / "prepared"),
            "--features",
            "pixels",
            "--k",
            "3",
            "--repeats",
            "3",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "FID" in r.output and "floor" in r.output and "mean of 3 draws" in r.output and "Z_U" in r.output
    j = json.loads((tmp_path / "synth-eval" / "metrics.json").read_text())
    assert j["options"]["repeats"] == 3 and j["counts"]["overall"]["n_matched"] == 30


def test_cli_evaluate_end_to_end_with_prepared_folder(tmp_path):
    """Real `prepare` output and a class folder of PNGs as --synthetic."""
    from click.testing import CliRunner
    from PIL import Image

    from ganaug.cli import cli

    prepare = pytest.importorskip("ganaug.data.prepared").prepare

    def write_folder(root, s: ImageSet):
        for i, (img, lab) in enumerate(zip(s.images, s.labels)):
            d = root / s.class_names[lab]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[0]).save(d / f"{i:03d}.png")

    write_folder(tmp_path / "real", shapes(60, 10))
    write_folder(tmp_path / "synth", shapes(20, 11))
    prepare(tmp_path / "real", tmp_path / "prepared", seed=0, val=0.2, test=0.3)
    r = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--synthetic",
            str(tmp_path / "synth"),
            "--data",
            str(tmp_path / "prepared"),
            "--features",
            "pixels",
            "--k",
            "3",
            "--out",
            str(tmp_path / "ev"),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    j = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert set(j["metrics"]) == {"overall", "disc", "bar"} and j["counts"]["overall"]["n_synthetic"] == 20


def test_evaluate_rejects_another_datasets_classes(data):
    # Regression: synthetic images whose classes were ALL unknown (another data set) were silently merged into
    # one class and evaluated; only a single unknown class (an unconditional generator) means "overall only".
    from ganaug.errors import DataError

    train, _, test, synth = data
    other = ImageSet(synth.images, synth.labels, ["cat", "dog"])
    with pytest.raises(DataError, match="not classes of the training data"):
        evaluate(other, train, test, features="pixels", device="cpu")


def test_eval_result_repr_is_short(data):
    # Regression: the dataclass repr dumped every metric and the whole memorisation result with its images.
    train, _, test, synth = data
    res = evaluate(synth, train, test, features="pixels", device="cpu", k=3)
    for obj, head in ((res, "EvalResult("), (res.memorization, "MemorizationResult(")):
        text = repr(obj)
        assert text.startswith(head) and "\n" not in text and len(text) < 300, text
    assert f"near copies {res.memorization.summary()['near_copy_count']}/40" in repr(res)


def test_cli_evaluate_default_out_is_outside_a_generate_folder(data, tmp_path, monkeypatch):
    # Regression: for SYNTH/images.npz of `ganaug generate`, the default output SYNTH/images-eval/ landed among
    # the class folders, so loading SYNTH as a folder afterwards found a class "images-eval".
    from click.testing import CliRunner

    from ganaug.cli import cli
    from ganaug.cli import evaluate as cli_evaluate

    train, val, test, synth = data
    (tmp_path / "synth" / "disc").mkdir(parents=True)
    (tmp_path / "synth" / "manifest.csv").write_text("file,kind\n")
    synth.save_npz(tmp_path / "synth" / "images.npz")
    (tmp_path / "prepared").mkdir()
    monkeypatch.setattr(
        cli_evaluate, "load_prepared", lambda d: SimpleNamespace(train=train, val=val, test=test)
    )
    r = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--synthetic",
            str(tmp_path / "synth" / "images.npz"),
            "--data",
            str(tmp_path / "prepared"),
            "--features",
            "pixels",
            "--k",
            "3",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "synth-eval" / "metrics.json").is_file()
    assert sorted(p.name for p in (tmp_path / "synth").iterdir()) == ["disc", "images.npz", "manifest.csv"]
