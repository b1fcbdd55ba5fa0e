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
from ganaug.benchmarking import (
    Arm,
    BenchmarkResult,
    allocate_synthetic,
    arm_train_set,
    benchmark,
    match_synthetic,
    matched_arm,
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
    "min_steps": 0,
    "progress": False,
    "device": "cpu",
    "batch_size": 8,
    "jobs": 1,
    "balance": "keep",
    "baselines": ("classic", "oversample", "weighted", "balanced_sampling", "smote", "synthetic_only"),
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


BASE_ARMS = ["classic", "oversample", "weighted", "balanced_sampling", "smote", "synthetic_only"]


def expected_arms(res) -> list[str]:
    """real, the fractions, the oversampling control at the val-chosen fraction, the baselines."""
    return ["real", "synth50", "synth100", f"oversample_at{100 * res.choice['gan_fraction']:g}", *BASE_ARMS]


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
    data = (splits.train, splits.synthetic, "fix")
    s = arm_train_set(Arm("synth50", "mix", 0.5), 0, *data)
    assert np.bincount(s.labels).tolist() == [16, 8 + 5, 4 + 9]  # budget round(0.5 x 28) = 14: level 13
    # Nested and deterministic: the 50 % draw is part of the 100 % one; same seed, same images.
    big = arm_train_set(Arm("synth100", "mix", 1.0), 0, *data)
    assert set(s.paths) <= set(big.paths)
    assert arm_train_set(Arm("synth50", "mix", 0.5), 0, *data).paths == s.paths
    assert arm_train_set(Arm("synth50", "mix", 0.5), 1, *data).paths != s.paths
    only = arm_train_set(Arm("synthetic_only", "synthetic_only", 1.0), 0, *data)
    assert np.bincount(only.labels).tolist() == [10, 9, 9] and all(p.startswith("syn") for p in only.paths)
    over = arm_train_set(Arm("oversample", "oversample"), 0, *data)
    assert np.bincount(over.labels).tolist() == [16, 16, 16] and set(over.paths) <= set(splits.train.paths)
    sm = arm_train_set(Arm("smote", "smote"), 0, *data)
    assert np.bincount(sm.labels).tolist() == [16, 16, 16] and sm.images.dtype == np.uint8


def test_pool_too_small(splits):
    small = make_set([3, 20, 20], seed=4, tag="syn")
    with pytest.raises(UserError, match=r"class 'a' needs 16 \(the pool has 3\)"):
        benchmark(splits.train, splits.val, splits.test, small, **KW)


def test_synthetic_resized_and_remapped(splits):
    big = make_set([2, 2, 2], size=32, seed=5)
    big = ImageSet(np.repeat(big.images, 3, axis=1), 2 - big.labels, ["c", "b", "a"])
    m = match_synthetic(big, splits.train)
    assert m.images.shape == (6, 1, 16, 16)
    assert m.class_names == ["a", "b", "c"] and m.labels.tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(UserError, match="classes the real data lacks"):
        match_synthetic(ImageSet(big.images, big.labels, ["x", "b", "a"]), splits.train)


def test_plan_arms():
    names = [a.name for a in plan_arms([1.0, 0, 0.25, 2.0], ["classic", "synthetic_only"], True)]
    assert names == ["real", "synth25", "synth100", "synth200", "classic", "synthetic_only"]
    assert [a.name for a in plan_arms([0, 0.5], ["synthetic_only", "smote"], False)] == ["real", "smote"]


# ----------------------------------------------------------------------------
# The benchmark end to end (one tiny run shared by the tests below)


def test_every_arm_and_seed(run1):
    res, out = run1.res, run1.out
    ARMS = expected_arms(res)
    assert [a.name for a in res.arms] == ARMS
    assert [(r["arm"], r["seed"]) for r in res.runs] == [(a, s) for a in ARMS for s in range(SEEDS)]
    for a in ARMS:
        for s in range(SEEDS):
            assert (out / "benchmark" / "runs" / f"{a}-seed{s}.json").is_file()
    assert len(run1.spy.calls) == len(ARMS) * SEEDS
    d = json.loads((out / "benchmark" / "results.json").read_text())
    assert d["summary"].keys() == set(ARMS) and len(d["runs"]) == len(ARMS) * SEEDS
    rows = (out / "benchmark" / "results.csv").read_text().splitlines()
    assert (
        len(rows) == 1 + len(ARMS)
        and "balanced_accuracy_diff_ci_low" in rows[0]
        and "vs_real_p_adjusted" in rows[0]
    )
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
    for arm in expected_arms(res):
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
        res = benchmark(splits.train, splits.val, splits.test, other, out=tmp_path, **{**KW, "seeds": 1})
    # seed 0 of synth50, synth100, synthetic_only retrained; real and the baselines reused; the oversampling
    # control too, unless validation now prefers another fraction.
    same = res.choice["gan_arm"] == run1.res.choice["gan_arm"]
    assert len(spy.calls) == (3 if same else 4)


def test_result_display_and_reload(run1, tmp_path):
    res = run1.res
    table = res.table()
    assert "real + 50 % synthetic" in table and "(reference)" in table and "SMOTE" in table
    assert "class-weighted loss" in table and "class-balanced sampling" in table
    v = res.verdict()
    assert v.startswith("Balanced accuracy on the real test split (2 seeds × 24 test images")
    assert "the fraction chosen on validation" in v and "vs random oversampling adding the same" in v
    assert "Holm-adjusted" in v and "95 % CI" in v
    # The headline carries the same primary comparisons and cautions as the full verdict.
    h = res.headline()
    assert h.split(". ")[0] == v.split(". ")[0] and "Holm" not in h
    for sentence in ("Caution: 2 seed(s) only",):
        assert sentence in h and sentence in v
    assert "<table>" in res._repr_html_()
    again = BenchmarkResult.load(run1.out)
    assert again.to_dict() == res.to_dict()
    assert res.plot(tmp_path / "b.png")[:4] == b"\x89PNG" and (tmp_path / "b.png").is_file()
    assert res.plot_per_class(tmp_path / "p.png")[:4] == b"\x89PNG"


def _hand_runs(table, val=None):
    """Runs built by hand (no test predictions: the comparisons fall back to the paired t-test over seeds)."""
    runs = []
    for name, values in table.items():
        for s, v in enumerate(values):
            m = {"accuracy": v, "balanced_accuracy": v, "macro_f1": v, "auroc": v, "per_class_recall": [v, v]}
            runs.append(
                {
                    "arm": name,
                    "seed": s,
                    "metrics": m,
                    "n_train": 10,
                    "steps": 50,
                    "best_step": 20,
                    "val_score": (val or {}).get(name, 0.5),
                }
            )
    return runs


def test_verdict_wording():
    arms = [
        Arm("real", "real", 0, "real only"),
        Arm("synth25", "mix", 0.25, "r+25"),
        Arm("synth100", "mix", 1, "r+100"),
    ]
    runs = _hand_runs(
        {"real": [0.70, 0.72, 0.71], "synth25": [0.72, 0.75, 0.73], "synth100": [0.70, 0.71, 0.73]},
        val={"synth25": 0.8, "synth100": 0.7},
    )
    res = BenchmarkResult.from_runs(arms, runs, ["x", "y"], [0, 1, 2])
    # synth25 (chosen on val): diffs .02 .03 .02 -> +2.3 points, t-interval [0.9, 3.8] (3 seeds).
    h = res.headline()
    assert (
        "GAN images at 25 % synthetic (the fraction chosen on validation) vs real only: +2.3 points "
        "(95 % CI [0.9, 3.8]): better"
    ) in h
    assert "vs random oversampling adding the same number of images per class: not run" in h
    c = res.comparison("gan_vs_real")
    assert c["p"] == pytest.approx(stats.ttest_rel([0.72, 0.75, 0.73], [0.70, 0.72, 0.71]).pvalue)
    assert "r+100 vs real only +0.3" in res.verdict() and "inconclusive" in res.verdict()


def test_fraction_and_best_baseline_are_chosen_on_validation_not_test():
    arms = [
        Arm("real", "real", 0, "real only"),
        Arm("synth50", "mix", 0.5, "r+50"),
        Arm("synth100", "mix", 1, "r+100"),
        Arm("oversample", "oversample", 0, "over"),
        Arm("weighted", "weighted", 0, "w"),
    ]
    # On test synth100 and oversample are best; on validation synth50 and weighted are.
    runs = _hand_runs(
        {
            "real": [0.6, 0.61, 0.62],
            "synth50": [0.6, 0.62, 0.62],
            "synth100": [0.7, 0.72, 0.71],
            "oversample": [0.7, 0.7, 0.72],
            "weighted": [0.6, 0.6, 0.61],
        },
        val={"real": 0.6, "synth50": 0.9, "synth100": 0.7, "oversample": 0.6, "weighted": 0.8},
    )
    res = BenchmarkResult.from_runs(arms, runs, ["x", "y"], [0, 1, 2])
    assert res.choice["gan_arm"] == "synth50" and res.choice["best_baseline"] == "weighted"
    assert res.comparison("gan_vs_real")["arm"] == "synth50"
    assert res.comparison("gan_vs_best_baseline")["vs"] == "weighted"


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
        min_steps=0,
        jobs=1,
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
        "min_steps": 0,
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
    monkeypatch.setattr(cmd, "load_prepared", lambda path: prepared)
    (tmp_path / "prep").mkdir()
    splits.synthetic.save_npz(tmp_path / "syn.npz")
    args = [
        "benchmark",
        "--data",
        str(tmp_path / "prep"),
        "--synthetic",
        str(tmp_path / "syn.npz"),
        "--fractions",
        "0,0.5",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--min-steps",
        "0",
        "--balance",
        "keep",
        "--jobs",
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
    assert r.exit_code != 0 and "comma-separated fractions" in r.output


def test_bad_option_values_are_user_errors(splits):
    # Regression: `ganaug run --set benchmark.seeds=abc` / `--set benchmark.fractions=0,50` reach benchmark() as
    # strings (iterated char by char: ValueError/TypeError tracebacks); a bad device failed once per run.
    args = (splits.train, splits.val, splits.test, splits.synthetic)
    for kw, msg in (
        ({"seeds": "abc"}, "seeds must be"),
        ({"seeds": "12"}, "seeds must be"),
        ({"fractions": "0,50"}, "fractions must be a list"),
        ({"fractions": [0, "x"]}, "fractions"),
        ({"device": "bogus"}, "unknown device"),
        ({"jobs": 0}, "jobs must be"),
    ):
        with pytest.raises(UserError, match=msg):
            benchmark(*args, **{**KW, **kw})


def test_result_repr_is_short(run1):
    # Regression: the dataclass repr dumped every run of every arm.
    text = repr(run1.res)
    assert text.startswith("BenchmarkResult(10 arms x 2 seeds") and "\n" not in text and len(text) < 300


def test_cli_default_out_is_outside_a_generate_folder(splits, tmp_path, monkeypatch):
    # Regression: with --synthetic SYNTH/images.npz from `ganaug generate`, results and plots went to
    # SYNTH/benchmark/, which loading SYNTH as a folder then read as a class "benchmark" of two plot images.
    from click.testing import CliRunner

    import ganaug.cli.benchmark as cmd
    from ganaug.cli import cli

    prepared = SimpleNamespace(
        train=splits.train, val=splits.val, test=splits.test, class_names=splits.train.class_names
    )
    monkeypatch.setattr(cmd, "load_prepared", lambda path: prepared)
    (tmp_path / "prep").mkdir()
    syn = tmp_path / "synth"
    (syn / "a").mkdir(parents=True)
    (syn / "manifest.csv").write_text("file,kind\n")
    splits.synthetic.save_npz(syn / "images.npz")
    r = CliRunner().invoke(
        cli,
        [
            "benchmark",
            "--data",
            str(tmp_path / "prep"),
            "--synthetic",
            str(syn / "images.npz"),
            "--fractions",
            "0,0.5",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--min-steps",
            "0",
            "--jobs",
            "1",
            "--baselines",
            "none",
            "--device",
            "cpu",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "synth-bench" / "benchmark" / "results.json").is_file()
    assert not (syn / "benchmark").exists()


def test_verdict_warns_when_classifiers_were_still_learning():
    # Regression: when model selection keeps picking the last checkpoint the classifiers are undertrained;
    # the verdict (and the headline) must say so.
    arms = [Arm("real", "real", 0, "real only"), Arm("synth100", "mix", 1, "r+100")]

    def runs(best):
        out = _hand_runs({"real": [0.6, 0.61, 0.6], "synth100": [0.62, 0.64, 0.6]})
        for r in out:
            r.update(best_step=best, steps=300)
        return out

    undertrained = BenchmarkResult.from_runs(arms, runs(300), ["x", "y"], [0, 1, 2])
    for text in (undertrained.verdict(), undertrained.headline()):
        assert "the best validation checkpoint was the last (300 steps)" in text
    settled = BenchmarkResult.from_runs(arms, runs(120), ["x", "y"], [0, 1, 2])
    assert "Caution" not in settled.verdict()


# ----------------------------------------------------------------------------
# Equal budgets, no false gain, the comparisons in results.json


def test_every_arm_runs_the_same_number_of_optimiser_steps(run1):
    res = run1.res
    steps = res.config["steps"]
    assert steps == 2 * math.ceil(28 / 8)  # epochs x batches of the REAL training set (28 images, batch 8)
    assert {r["steps"] for r in res.runs} == {steps}
    assert {c["kw"]["steps"] for c in run1.spy.calls} == {steps}
    assert {c["kw"]["eval_every"] for c in run1.spy.calls} == {math.ceil(28 / 8)}
    # ... although the arms' training sets differ in size.
    assert len({c["n_train"] for c in run1.spy.calls}) >= 4


def test_copies_of_the_training_images_are_not_reported_as_a_gain():
    # Regression: with a fixed number of epochs, a "synthetic" pool of exact copies of the training images
    # doubled the optimiser steps of the 100 % arm and read as a significant gain.
    train, val, test = (
        make_set([16, 8, 4], seed=0),
        make_set([5, 5, 5], seed=1),
        make_set([30, 30, 30], seed=2),
    )
    copies = ImageSet(
        train.images.copy(),
        train.labels.copy(),
        train.class_names,
        paths=[f"copy#{i}" for i in range(len(train))],
    )
    res = benchmark(
        train,
        val,
        test,
        copies,
        fractions=(0, 1.0),
        balance="keep",
        seeds=8,
        epochs=2,
        min_steps=24,
        batch_size=8,
        baselines=(),
        jobs=1,
        progress=False,
        device="cpu",
    )
    assert {r["steps"] for r in res.runs} == {24}
    c = res.comparison("gan_vs_real")
    assert c["arm"] == "synth100" and c["n_seeds"] == 8 and c["n_test"] == 90
    assert c["reading"] != "better" and c["ci_low"] <= 0 <= c["ci_high"]
    assert "better" not in res.headline()


def test_results_json_holds_the_comparisons(run1):
    from statsmodels.stats.multitest import multipletests

    d = json.loads((run1.out / "benchmark" / "results.json").read_text())
    # The fraction is the one with the best mean validation score over seeds (from the stored runs).
    val = {}
    for f in (run1.out / "benchmark" / "runs").glob("synth[0-9]*-seed*.json"):
        r = json.loads(f.read_text())
        val.setdefault(r["arm"], []).append(r["val_score"])
    best = max(sorted(val, key=lambda a: float(a[5:])), key=lambda a: np.mean(val[a]))
    assert d["choice"]["gan_arm"] == best and d["choice"]["gan_fraction"] == float(best[5:]) / 100
    comps = {c["id"]: c for c in d["comparisons"]}
    assert comps["gan_vs_real"]["arm"] == best and comps["gan_vs_real"]["vs"] == "real"
    over = comps["gan_vs_oversampling"]
    assert over["arm"] == best and over["vs"] == f"oversample_at{best[5:]}" and over["role"] == "primary"
    for c in comps.values():
        assert c["reading"] in ("better", "worse", "inconclusive", "no result")
        assert c["ci_low"] <= c["diff"] <= c["ci_high"] and c["n_test"] == 24 and c["n_seeds"] == SEEDS
        assert "mde" in c and "p_adjusted" in c
    sec = [c for c in d["comparisons"] if c["role"] == "secondary"]
    assert (
        len(sec) == len(d["arms"]) - 1
    )  # every arm but real and the GAN arm vs real, + GAN vs best baseline
    holm = multipletests([c["p"] for c in sec], method="holm")[1]
    assert [c["p_adjusted"] for c in sec] == pytest.approx(list(holm))
    # The oversampling control adds the GAN arm's images per class, copied from the real ones.
    ctrl = [r for r in d["runs"] if r["arm"] == over["vs"]]
    gan = [r for r in d["runs"] if r["arm"] == best]
    assert [r["train_counts"] for r in ctrl] == [r["train_counts"] for r in gan]


def test_oversampling_control_copies_real_images(splits):
    data = (splits.train, splits.synthetic, "fix")
    ctrl = arm_train_set(matched_arm(Arm("synth50", "mix", 0.5)), 3, *data)
    assert np.bincount(ctrl.labels).tolist() == [16, 8 + 5, 4 + 9]  # as the 50 % synthetic arm
    real_h = {pixel_hash(x) for x in splits.train.images}
    assert {pixel_hash(x) for x in ctrl.images} == real_h


def test_no_real_only_classifier_collapses_on_90_real_images():
    # Regression: 65 + 25 real training images at batch 64 gave 2 optimiser steps per epoch, and some
    # real-only classifiers predicted one class for everything. The benchmark's defaults must train them.
    from ganaug.data.sources import load

    full = load("builtin:fashion-demo").imageset
    t, s = full.class_names.index("tshirt"), full.class_names.index("shirt")

    def pick(off, n_t, n_s):
        idx = np.concatenate(
            [
                np.flatnonzero(full.labels == t)[off : off + n_t],
                np.flatnonzero(full.labels == s)[off : off + n_s],
            ]
        )
        return ImageSet(full.images[idx], (full.labels[idx] == s).astype(np.int64), ["tshirt", "shirt"])

    train, val, test = pick(0, 65, 25), pick(100, 20, 20), pick(200, 100, 100)
    res = benchmark(
        train, val, test, None, fractions=(0,), baselines=(), seeds=3, jobs=1, progress=False, device="cpu"
    )
    assert res.config["steps"] >= 300 and res.config["batch_size"] <= 16
    for r in res.runs:
        assert not r["collapsed"] and r["val_pred_classes"] == 2
        assert len(set(r["test_pred"])) == 2 and r["metrics"]["balanced_accuracy"] > 0.6
    assert not any(c["kind"] == "collapsed" for c in res.cautions)


def test_one_set_of_defaults_for_api_cli_and_pipeline():
    from ganaug.cli.benchmark import benchmark_cmd
    from ganaug.config import BenchmarkOptions, PipelineConfig

    d = BenchmarkOptions()
    cli_defaults = {p.name: p.default for p in benchmark_cmd.params}
    assert cli_defaults["seeds"] == d.seeds and cli_defaults["balance"] == d.balance
    assert cli_defaults["epochs"] == d.epochs and cli_defaults["min_steps"] == d.min_steps
    assert cli_defaults["jobs"] == d.jobs and cli_defaults["baselines"] == ",".join(d.baselines)
    assert [float(x) for x in cli_defaults["fractions"].split(",")] == list(d.fractions)
    pipe = PipelineConfig().to_dict()["benchmark"]
    assert {k: v for k, v in d.to_dict().items() if k != "device"} == pipe
    with pytest.raises(UserError, match="unknown option"):
        BenchmarkOptions.from_mapping({"epoch": 3})


def test_a_run_that_cannot_be_saved_is_named_with_its_path_and_the_others_are_kept(splits, tmp_path):
    """A failed run (here its file cannot be written: a folder stands at its path) must reach the user as
    one message naming the run and the path (the CLI prints a UserError without a traceback), while
    the runs that finished stay saved for the next call."""
    runs = tmp_path / "benchmark" / "runs"
    (runs / "real-seed0.json").mkdir(parents=True)
    kw = dict(fractions=(0.0, 0.5), seeds=1, epochs=1, min_steps=0, baselines=(), balance="keep", jobs=1)
    with pytest.raises(UserError, match=r"1 of 2 benchmark runs failed") as e:
        benchmark(
            splits.train,
            splits.val,
            splits.test,
            splits.synthetic,
            out=tmp_path,
            progress=False,
            device="cpu",
            **kw,
        )
    assert "real seed 0" in str(e.value) and str(runs / "real-seed0.json") in str(e.value)
    assert (runs / "synth50-seed0.json").is_file()
