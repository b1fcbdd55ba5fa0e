"""Downstream benchmark: arms, allocation, statistics, resumption, no test leakage, CLI."""

from __future__ import annotations

import json
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from ganaug import classify
from ganaug.benchmark import (
    Arm,
    BenchmarkResult,
    _Data,
    _match_synthetic,
    allocate_synthetic,
    arm_train_set,
    benchmark,
    mean_ci,
    paired_diff,
    plan_arms,
)
from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.errors import UserError

FRACTIONS = (0, 0.5, 1.0)
SEEDS = 2
KW = {
    "fractions": FRACTIONS,
    "seeds": SEEDS,
    "epochs": 2,
    "progress": False,
    "device": "cpu",
    "batch_size": 32,
    "baselines": ("classic", "oversample", "smote", "synthetic_only"),
}


def make_set(counts, size=16, seed=0, noise=45.0, tag="real") -> ImageSet:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    patterns = [xx < size // 2, yy < size // 2, (xx + yy) % 6 < 3]
    xs, ys = [], []
    for c, n in enumerate(counts):
        for _ in range(n):
            xs.append(np.clip(patterns[c] * 110.0 + 70 + rng.normal(0, noise, (1, size, size)), 0, 255))
            ys.append(c)
    return ImageSet(
        np.stack(xs).astype(np.uint8),
        np.array(ys),
        ["a", "b", "c"],
        paths=[f"{tag}#{i}" for i in range(len(ys))],
    )


@pytest.fixture(scope="module")
def splits():
    return SimpleNamespace(
        train=make_set([16, 8, 4], seed=0),
        val=make_set([5, 5, 5], seed=1),
        test=make_set([8, 8, 8], seed=2),
        synthetic=make_set([20, 20, 20], seed=3, tag="syn"),
    )


class FitSpy:
    """Records what reaches fit_classifier, then calls the real function."""

    def __init__(self):
        self.real = classify.fit_classifier
        self.calls: list[dict] = []

    def __call__(self, train, val, **kw):
        self.calls.append(
            {
                "train": {pixel_hash(x) for x in train.images},
                "val": {pixel_hash(x) for x in val.images},
                "n_train": len(train),
                "kw": kw,
            }
        )
        return self.real(train, val, **kw)


@pytest.fixture(scope="module")
def run1(splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    spy = FitSpy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classify, "fit_classifier", spy)
        res = benchmark(splits.train, splits.val, splits.test, splits.synthetic, out=out, **KW)
    return SimpleNamespace(res=res, out=out, spy=spy)


ARMS = ["real", "synth50", "synth100", "classic", "oversample", "smote", "synthetic_only"]


# ----------------------------------------------------------------------------
# Allocation (hand-computed)


def test_allocate_keep():
    assert allocate_synthetic([24, 12, 6], 21, "keep").tolist() == [12, 6, 3]
    # quotas 5.71, 2.86, 1.43 -> floors 5, 2, 1; two left go to the largest remainders (b, then a)
    assert allocate_synthetic([24, 12, 6], 10, "keep").tolist() == [6, 3, 1]
    assert allocate_synthetic([24, 12, 6], 0, "keep").tolist() == [0, 0, 0]


def test_allocate_fix():
    assert allocate_synthetic([24, 12, 6], 10, "fix").tolist() == [0, 2, 8]  # level 14
    assert allocate_synthetic([24, 12, 6], 21, "fix").tolist() == [
        0,
        7,
        14,
    ]  # level 19, one more to the rarest
    assert allocate_synthetic([24, 12, 6], 42, "fix").tolist() == [4, 16, 22]  # all equal at 28
    # Greedy one-at-a-time reference.
    r = np.array([7, 3, 3, 0])
    for budget in range(30):
        s = np.zeros(4, dtype=int)
        for _ in range(budget):
            s[min(range(4), key=lambda c: (r[c] + s[c], r[c], c))] += 1
        assert allocate_synthetic(r, budget, "fix").tolist() == s.tolist(), budget


def test_arm_train_sets(splits):
    data = _Data(splits.train, splits.val, splits.test, splits.synthetic, {"balance": "fix"}, "x", "y")
    s = arm_train_set(Arm("synth50", "mix", 0.5), 0, data)
    assert np.bincount(s.labels).tolist() == [16, 8 + 5, 4 + 9]  # budget round(0.5 x 28) = 14: level 13
    # Nested and deterministic: the 50 % draw is part of the 100 % one; same seed, same images.
    big = arm_train_set(Arm("synth100", "mix", 1.0), 0, data)
    assert set(s.paths) <= set(big.paths)
    assert arm_train_set(Arm("synth50", "mix", 0.5), 0, data).paths == s.paths
    assert arm_train_set(Arm("synth50", "mix", 0.5), 1, data).paths != s.paths
    only = arm_train_set(Arm("synthetic_only", "synthetic_only", 1.0), 0, data)
    assert np.bincount(only.labels).tolist() == [10, 9, 9] and all(p.startswith("syn") for p in only.paths)
    over = arm_train_set(Arm("oversample", "oversample"), 0, data)
    assert np.bincount(over.labels).tolist() == [16, 16, 16] and set(over.paths) <= set(splits.train.paths)
    sm = arm_train_set(Arm("smote", "smote"), 0, data)
    assert np.bincount(sm.labels).tolist() == [16, 16, 16] and sm.images.dtype == np.uint8


def test_pool_too_small(splits):
    small = make_set([3, 20, 20], seed=4, tag="syn")
    with pytest.raises(UserError, match=r"class 'a' needs 16 \(the pool has 3\)"):
        benchmark(splits.train, splits.val, splits.test, small, **KW)


def test_synthetic_resized_and_remapped(splits):
    big = make_set([2, 2, 2], size=32, seed=5)
    big = ImageSet(np.repeat(big.images, 3, axis=1), 2 - big.labels, ["c", "b", "a"])
    m = _match_synthetic(big, splits.train)
    assert m.images.shape == (6, 1, 16, 16)
    assert m.class_names == ["a", "b", "c"] and m.labels.tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(UserError, match="classes the real data lacks"):
        _match_synthetic(ImageSet(big.images, big.labels, ["x", "b", "a"]), splits.train)


def test_plan_arms():
    names = [a.name for a in plan_arms([1.0, 0, 0.25, 2.0], ["classic", "synthetic_only"], True)]
    assert names == ["real", "synth25", "synth100", "synth200", "classic", "synthetic_only"]
    assert [a.name for a in plan_arms([0, 0.5], ["synthetic_only", "smote"], False)] == ["real", "smote"]


# ----------------------------------------------------------------------------
# The benchmark end to end (one tiny run shared by the tests below)


def test_every_arm_and_seed(run1):
    res, out = run1.res, run1.out
    assert [a.name for a in res.arms] == ARMS
    assert [(r["arm"], r["seed"]) for r in res.runs] == [(a, s) for a in ARMS for s in range(SEEDS)]
    for a in ARMS:
        for s in range(SEEDS):
            assert (out / "benchmark" / "runs" / f"{a}-seed{s}.json").is_file()
    assert len(run1.spy.calls) == len(ARMS) * SEEDS
    d = json.loads((out / "benchmark" / "results.json").read_text())
    assert d["summary"].keys() == set(ARMS) and len(d["runs"]) == len(ARMS) * SEEDS
    rows = (out / "benchmark" / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + len(ARMS) and "balanced_accuracy_diff_ci_low" in rows[0]
    assert res.leak_check == {"train": 0, "val": 0, "synthetic": 0}


def test_test_split_never_reaches_fit(run1, splits):
    test_h = {pixel_hash(x) for x in splits.test.images}
    val_h = {pixel_hash(x) for x in splits.val.images}
    for call in run1.spy.calls:
        assert call["val"] == val_h  # selection always on the real val split
        assert not (call["train"] & test_h) and not (call["val"] & test_h)


def test_ci_and_paired_diff_by_hand(run1):
    res = run1.res
    stored = {}
    for f in (run1.out / "benchmark" / "runs").glob("*.json"):
        r = json.loads(f.read_text())
        stored[(r["arm"], r["seed"])] = r["metrics"]
    t = stats.t.ppf(0.975, SEEDS - 1)
    for arm in ARMS:
        for metric in ("balanced_accuracy", "accuracy", "macro_f1"):
            v = np.array([stored[(arm, s)][metric] for s in range(SEEDS)])
            ref = np.array([stored[("real", s)][metric] for s in range(SEEDS)])
            half = t * v.std(ddof=1) / math.sqrt(SEEDS)
            s = res.summary[arm][metric]
            assert s["mean"] == pytest.approx(v.mean())
            assert s["ci_low"] == pytest.approx(v.mean() - half) and s["ci_high"] == pytest.approx(
                v.mean() + half
            )
            d = v - ref
            dh = t * d.std(ddof=1) / math.sqrt(SEEDS)
            assert s["diff"] == pytest.approx(d.mean())
            assert s["diff_ci_low"] == pytest.approx(d.mean() - dh)
            assert s["diff_ci_high"] == pytest.approx(d.mean() + dh)
        rec = [stored[(arm, s)]["per_class_recall"][2] for s in range(SEEDS)]
        assert res.summary[arm]["recall/c"]["mean"] == pytest.approx(np.mean(rec))


def test_statistics_helpers():
    x = [0.70, 0.74, 0.71, 0.69, 0.76]
    m = mean_ci(x)
    half = stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / math.sqrt(5)
    assert m["ci_low"] == pytest.approx(np.mean(x) - half) and m["n"] == 5
    assert mean_ci([0.5, float("nan")])["n"] == 1 and math.isnan(mean_ci([0.5])["ci_low"])
    d = paired_diff({0: 0.8, 1: 0.9, 2: 0.7}, {0: 0.7, 1: 0.85, 2: 0.7})
    assert d["diff"] == pytest.approx(0.05)
    assert d["diff_p"] == pytest.approx(stats.ttest_rel([0.8, 0.9, 0.7], [0.7, 0.85, 0.7]).pvalue)


def test_second_run_recomputes_nothing(run1, splits):
    bench = run1.out / "benchmark"
    before = {p: p.stat().st_mtime_ns for p in bench.rglob("*") if p.is_file()}
    spy = FitSpy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classify, "fit_classifier", spy)
        res2 = benchmark(splits.train, splits.val, splits.test, splits.synthetic, out=run1.out, **KW)
    assert spy.calls == []
    assert {p: p.stat().st_mtime_ns for p in bench.rglob("*") if p.is_file()} == before
    assert res2.to_dict() == run1.res.to_dict()


def test_new_synthetic_pool_reruns_only_synthetic_arms(run1, splits, tmp_path):
    shutil.copytree(run1.out / "benchmark", tmp_path / "benchmark")
    other = make_set([20, 20, 20], seed=9, tag="syn2")
    spy = FitSpy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classify, "fit_classifier", spy)
        benchmark(splits.train, splits.val, splits.test, other, out=tmp_path, **{**KW, "seeds": 1})
    # seed 0 of synth50, synth100, synthetic_only retrained; real, oversample, smote reused.
    assert len(spy.calls) == 3


def test_result_display_and_reload(run1, tmp_path):
    res = run1.res
    table = res.table()
    assert "real + 50 % synthetic" in table and "(reference)" in table and "SMOTE" in table
    v = res.verdict()
    assert v.startswith("Over 2 seeds, balanced accuracy") and "at 50 % synthetic" in v and "95 % CI" in v
    assert "<table>" in res._repr_html_()
    again = BenchmarkResult.load(run1.out)
    assert again.to_dict() == res.to_dict()
    assert res.plot(tmp_path / "b.png")[:4] == b"\x89PNG" and (tmp_path / "b.png").is_file()
    assert res.plot_per_class(tmp_path / "p.png")[:4] == b"\x89PNG"


def test_verdict_wording():
    arms = [
        Arm("real", "real", 0, "real only"),
        Arm("synth25", "mix", 0.25, "r+25"),
        Arm("synth100", "mix", 1, "r+100"),
    ]
    runs = []
    for s, (r, a, b) in enumerate([(0.70, 0.72, 0.70), (0.72, 0.75, 0.71), (0.71, 0.73, 0.73)]):
        for name, v in (("real", r), ("synth25", a), ("synth100", b)):
            m = {"accuracy": v, "balanced_accuracy": v, "macro_f1": v, "auroc": v, "per_class_recall": [v, v]}
            runs.append({"arm": name, "seed": s, "metrics": m, "n_train": 10})
    res = BenchmarkResult.from_runs(arms, runs, ["x", "y"], [0, 1, 2])
    v = res.verdict()
    # synth25: diffs .02 .03 .02 -> +2.3 points, CI excludes 0; synth100: 0 -.01 .02 -> not significant.
    assert "+2.3 points balanced accuracy at 25 % synthetic, 95 % CI [0.9, 3.8]" in v
    assert "no significant change at 100 % synthetic (+0.3 points" in v
    h = res.headline()
    assert h == ("balanced accuracy vs real only: +2.3 points at 25 % synthetic (95 % CI [0.9, 3.8]); "
                 "no significant change at 100 % synthetic.")


def test_smote_skipped_with_single_image_class(splits):
    train = splits.train.subset(list(range(16 + 8)) + [24])  # class c: one image
    res = benchmark(
        train,
        splits.val,
        splits.test,
        None,
        fractions=(0,),
        seeds=1,
        epochs=1,
        progress=False,
        device="cpu",
        baselines=("smote",),
    )
    assert [a.name for a in res.arms] == ["real"] and "single training image" in res.skipped["smote"]


@pytest.mark.heavy
def test_parallel_jobs_match_sequential(splits, tmp_path):
    kw = {
        "fractions": (0,),
        "seeds": 2,
        "epochs": 1,
        "progress": False,
        "device": "cpu",
        "baselines": ("oversample",),
    }
    seq = benchmark(splits.train, splits.val, splits.test, None, **kw)
    par = benchmark(splits.train, splits.val, splits.test, None, jobs=2, out=tmp_path, **kw)
    for a, b in zip(seq.runs, par.runs):
        assert (a["arm"], a["seed"]) == (b["arm"], b["seed"])
        assert a["metrics"]["balanced_accuracy"] == pytest.approx(b["metrics"]["balanced_accuracy"])
    assert len(list((tmp_path / "benchmark" / "runs").glob("*.json"))) == 4


# ----------------------------------------------------------------------------
# CLI


def test_cli_benchmark(splits, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import ganaug.cli.benchmark as cmd
    from ganaug.cli import cli

    prepared = SimpleNamespace(
        train=splits.train, val=splits.val, test=splits.test, class_names=splits.train.class_names
    )
    monkeypatch.setattr(cmd, "_load_prepared", lambda path: prepared)
    (tmp_path / "prep").mkdir()
    splits.synthetic.save_npz(tmp_path / "syn.npz")
    args = [
        "benchmark",
        "--data",
        str(tmp_path / "prep"),
        "--synthetic",
        str(tmp_path / "syn.npz"),
        "--fractions",
        "0,50",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--baselines",
        "none",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "o"),
        "-q",
    ]
    r = CliRunner().invoke(cli, args + ["--dry-run"])
    assert r.exit_code == 0, r.output
    assert "synth50" in r.output and "{'a': 8, 'b': 4, 'c': 2}" in r.output  # keep: 14 in proportion 16:8:4
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "real + 50 % synthetic" in r.output and (tmp_path / "o" / "benchmark" / "benchmark.png").is_file()
    r = CliRunner().invoke(cli, args[:-1] + ["--fractions", "0,x"])
    assert r.exit_code != 0 and "percentages" in r.output


def test_bad_option_values_are_user_errors(splits):
    # Regression: `ganaug run --set benchmark.seeds=abc` / `--set benchmark.fractions=0,50` reach benchmark() as
    # strings (iterated char by char: ValueError/TypeError tracebacks); a bad device failed once per run.
    args = (splits.train, splits.val, splits.test, splits.synthetic)
    for kw, msg in (({"seeds": "abc"}, "seeds must be"), ({"seeds": "12"}, "seeds must be"),
                    ({"fractions": "0,50"}, "fractions must be a list"), ({"fractions": [0, "x"]}, "fractions"),
                    ({"device": "bogus"}, "unknown device"), ({"jobs": 0}, "jobs must be")):
        with pytest.raises(UserError, match=msg):
            benchmark(*args, **{**KW, **kw})


def test_result_repr_is_short(run1):
    # Regression: the dataclass repr dumped every run of every arm.
    text = repr(run1.res)
    assert text.startswith("BenchmarkResult(7 arms x 2 seeds") and "\n" not in text and len(text) < 300


def test_cli_default_out_is_outside_a_generate_folder(splits, tmp_path, monkeypatch):
    # Regression: with --synthetic SYNTH/images.npz from `ganaug generate`, results and plots went to
    # SYNTH/benchmark/, which loading SYNTH as a folder then read as a class "benchmark" of two plot images.
    from click.testing import CliRunner

    import ganaug.cli.benchmark as cmd
    from ganaug.cli import cli

    prepared = SimpleNamespace(train=splits.train, val=splits.val, test=splits.test,
                               class_names=splits.train.class_names)
    monkeypatch.setattr(cmd, "_load_prepared", lambda path: prepared)
    (tmp_path / "prep").mkdir()
    syn = tmp_path / "synth"
    (syn / "a").mkdir(parents=True)
    (syn / "manifest.csv").write_text("file,kind\n")
    splits.synthetic.save_npz(syn / "images.npz")
    r = CliRunner().invoke(cli, ["benchmark", "--data", str(tmp_path / "prep"), "--synthetic", str(syn / "images.npz"),
                                 "--fractions", "0,50", "--seeds", "1", "--epochs", "1", "--baselines", "none",
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "synth-bench" / "benchmark" / "results.json").is_file()
    assert not (syn / "benchmark").exists()


def test_verdict_warns_when_classifiers_were_still_learning():
    # Regression: with few images an epoch is one or two optimiser steps; when model selection keeps picking the
    # last epoch the classifiers are undertrained and bigger arms get more steps, yet the verdict read as final.
    arms = [Arm("real", "real", 0, "real only"), Arm("synth100", "mix", 1, "r+100")]

    def runs(best):
        out = []
        for s in range(2):
            for name, v in (("real", 0.6 + s / 100), ("synth100", 0.62 + s / 50)):
                m = {"accuracy": v, "balanced_accuracy": v, "macro_f1": v, "auroc": v, "per_class_recall": [v, v]}
                out.append({"arm": name, "seed": s, "metrics": m, "n_train": 10, "best_epoch": best,
                            "epochs_run": 20})
        return out

    undertrained = BenchmarkResult.from_runs(arms, runs(20), ["x", "y"], [0, 1], config={"epochs": 20})
    assert "best validation epoch was the last of 20" in undertrained.verdict()
    settled = BenchmarkResult.from_runs(arms, runs(9), ["x", "y"], [0, 1], config={"epochs": 20})
    assert "Caution" not in settled.verdict()
