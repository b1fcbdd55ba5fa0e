"""Per-class diagnostics during training (class_stats.jsonl) and the rare-class memorisation check."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganaug.config import make_config
from ganaug.data.imageset import ImageSet
from ganaug.diagnostics import ClassDiagnostics, read_class_stats
from ganaug.metrics.memorization import rare_class_memorization
from ganaug.reporting.plots import class_curves_png
from ganaug.utils import read_jsonl


def blobs(counts=(24, 24), res: int = 16, seed: int = 0) -> ImageSet:
    """Class k: a bright square at a class-specific, slightly jittered place on noise."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    for k, n in enumerate(counts):
        for _ in range(n):
            img = rng.integers(0, 40, size=(1, res, res)).astype(np.uint8)
            o = 2 + 6 * k + int(rng.integers(0, 3))
            img[:, o : o + 5, o : o + 5] = 220
            imgs.append(img)
            labels.append(k)
    return ImageSet(np.stack(imgs), np.array(labels), [f"c{k}" for k in range(len(counts))])


def test_diagnostics_written_at_every_tick(tmp_path):
    from ganaug.training import train

    data = blobs((24, 6))
    cfg = make_config(
        "dcgan", "tiny", resolution=16, channels=1, num_classes=2, device="cpu", kimg=0.096, tick_kimg=0.032
    )
    lines = []
    train(data, cfg, run_dir=tmp_path / "run", progress=False, log=lines.append)
    rows = read_jsonl(tmp_path / "run" / "class_stats.jsonl")
    assert [r["tick"] for r in rows] == [1, 2, 3]
    assert [r["kimg"] for r in rows] == pytest.approx([0.032, 0.064, 0.096])
    for r in rows:
        assert set(r["classes"]) == {"c0", "c1"}
        assert (
            r["classes"]["c1"]["n_real"] == 6 and r["classes"]["c0"]["n_real"] == 16
        )  # same n per class, >= 16
        for m in r["classes"].values():
            assert 0 <= m["recall"] <= 1 and 0 <= m["coverage"] <= 1
    assert sum("per class (recall / coverage" in s for s in lines) == 3
    assert class_curves_png(rows)[:8] == b"\x89PNG\r\n\x1a\n"

    # Resuming from the 0.064 snapshot drops the later line and appends it again.
    train(
        data, cfg.replace(kimg=0.128, snap=1), run_dir=tmp_path / "run2", progress=False, log=lambda s: None
    )
    rows2 = read_jsonl(tmp_path / "run2" / "class_stats.jsonl")
    ClassDiagnostics(data, tmp_path / "run2", start_nimg=64)
    assert [r["tick"] for r in read_jsonl(tmp_path / "run2" / "class_stats.jsonl")] == [1, 2]
    assert len(rows2) == 4

    # Off when asked.
    train(data, cfg, run_dir=tmp_path / "off", progress=False, log=lambda s: None, diagnostics=False)
    assert read_class_stats(tmp_path / "off") == []


class BankG(nn.Module):
    """A stand-in generator that returns images from a bank per class (copies, or one image)."""

    def __init__(self, bank: dict[int, np.ndarray]):
        super().__init__()
        self.bank = {c: torch.from_numpy(x).float() / 127.5 - 1 for c, x in bank.items()}
        self.z_dim, self.num_classes = 4, len(bank)

    def forward(self, z, c, truncation_psi=1.0):
        out = [self.bank[int(ci)][i % len(self.bank[int(ci)])] for i, ci in enumerate(c)]
        return torch.stack(out)


def test_diagnostics_tell_copies_from_collapse(tmp_path):
    data = blobs((30, 30), seed=1)
    diag = ClassDiagnostics(data, tmp_path)
    by_class = {c: data.images[data.labels == c] for c in (0, 1)}
    good = diag.measure(BankG(by_class), conditional=True)
    collapsed = diag.measure(BankG({0: by_class[0], 1: by_class[1][:1]}), conditional=True)
    assert good["c1"]["coverage"] == 1.0 and good["c1"]["recall"] > 0.9
    assert collapsed["c1"]["coverage"] < 0.2 and collapsed["c1"]["recall"] < 0.2
    assert collapsed["c0"]["coverage"] == 1.0  # the other class is unaffected

    # Ticks: a class whose coverage falls far below its best raises one warning (log, file, the run's warnings).
    from types import SimpleNamespace

    trainer, lines = SimpleNamespace(device="cpu", warnings=[]), []
    diag.log = lines.append
    for tick, G in enumerate([BankG(by_class), BankG({0: by_class[0], 1: by_class[1][:1]})] * 2, start=1):
        diag(SimpleNamespace(tick=tick, cur_nimg=1000 * tick, done=False, G_ema=G, trainer=trainer))
    rows = read_class_stats(tmp_path)
    assert [r["classes"]["c1"]["coverage"] for r in rows] == [1.0, collapsed["c1"]["coverage"]] * 2
    assert (
        len(trainer.warnings) == 1
        and "'c1'" in trainer.warnings[0]
        and "fell from 1.00" in trainer.warnings[0]
    )
    assert rows[1]["warnings"] == trainer.warnings and "warnings" not in rows[3]
    assert sum(s.startswith("warning: class 'c1'") for s in lines) == 1


def test_rare_class_memorization_flags_copies_of_the_rare_class():
    train, test = blobs((40, 8), seed=2), blobs((20, 20), seed=3)
    rare = train.subset(np.flatnonzero(train.labels == 1))
    fresh0 = blobs((20, 0), seed=4)
    synthetic = ImageSet.concat([fresh0, ImageSet(rare.images, rare.labels, train.class_names)])
    from ganaug.metrics.features import pixel_features

    def f(s):
        return pixel_features(s, 8)

    d = rare_class_memorization(synthetic, train, test, f(synthetic), f(train), f(test), device="cpu")
    assert d["class"] == "c1" and d["n_train"] == 8
    assert d["synthetic"]["n"] == 8 and d["synthetic"]["near_copy_count"] == 8
    assert d["test_floor"]["n"] == 20 and d["test_floor"]["near_copy_count"] == 0
    json.dumps(d)


def test_evaluate_reports_the_rare_class(tmp_path):
    from ganaug.metrics.evaluation import evaluate

    train, test = blobs((40, 8), seed=2), blobs((20, 20), seed=3)
    rare = train.subset(np.flatnonzero(train.labels == 1))
    synthetic = ImageSet.concat(
        [blobs((20, 0), seed=4), ImageSet(rare.images, rare.labels, train.class_names)]
    )
    res = evaluate(
        synthetic, train, test, features="pixels", device="cpu", k=3, out=tmp_path / "run" / "evaluate"
    )
    assert res.rare_class["class"] == "c1" and res.rare_class["synthetic"]["near_copy_count"] == 8
    assert "rare class 'c1'" in res.table()
    saved = json.loads((tmp_path / "run" / "evaluate" / "metrics.json").read_text())
    assert saved["rare_class_memorization"]["synthetic"]["near_copy_count"] == 8
    from ganaug.reporting import build_report

    html = open(build_report(tmp_path / "run"), encoding="utf-8").read()
    assert "rarest class &#39;c1&#39; (8 training images)" in html and "8 / 8" in html
