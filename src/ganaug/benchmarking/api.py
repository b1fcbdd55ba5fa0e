"""``benchmark(train, val, test, synthetic, options)``: plan the arms, run them, summarise."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.benchmarking.arms import Arm, check_pool, leak_check, match_synthetic, matched_arm, plan_arms
from ganaug.benchmarking.result import BenchmarkResult
from ganaug.benchmarking.runner import BenchmarkData, hash_sets, json_text, run_arms
from ganaug.config import BenchmarkOptions, options_from
from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.utils import atomic_write_text, resolve_device


def resolve_budget(train: ImageSet, opts: BenchmarkOptions) -> dict[str, Any]:
    """The classifier settings every arm shares, from the REAL training set: batch size, learning
    rate, optimiser steps (epochs x its batches, at least ``min_steps``) and the val checkpoints
    (one per pass over the real set)."""
    # Imported here: classify loads torch, and ``ganaug benchmark --dry-run`` plans without it.
    from ganaug.classify import auto_batch_size, auto_lr, budget_steps

    n = len(train)
    batch = max(2, min(n, opts.batch_size if opts.batch_size is not None else auto_batch_size(n)))
    return {
        "arch": opts.arch,
        "batch_size": batch,
        "lr": float(opts.lr) if opts.lr is not None else auto_lr(batch),
        "steps": budget_steps(n, batch, opts.epochs, opts.min_steps),
        "eval_every": -(-n // batch),
        "image_size": opts.image_size,
        "pretrained_weights": opts.pretrained_weights,
        "finetune": opts.finetune,
    }


def benchmark(
    train: ImageSet,
    val: ImageSet,
    test: ImageSet,
    synthetic: ImageSet | None,
    options: BenchmarkOptions | Mapping[str, Any] | None = None,
    *,
    out: str | os.PathLike | None = None,  # writes out/benchmark/...; None: nothing written, no resume
    progress: bool = True,
    log: Callable[[str], None] = print,
    **overrides: Any,  # any BenchmarkOptions field, e.g. seeds=8, fractions=(0, 0.5, 1.0)
) -> BenchmarkResult:
    """Train a classifier per arm and seed with equal step budgets; choose the synthetic fraction and
    the best baseline on val; compare on the real test split (module docstrings of the package)."""
    opts = options_from(options, **overrides)
    seed_list = opts.seed_list
    _check_splits(train, val, test, opts)
    if synthetic is not None and len(synthetic) == 0:
        synthetic = None
    if synthetic is not None:
        synthetic = match_synthetic(synthetic, train)
    arms, skipped = _plan(train, synthetic, opts)

    clf = resolve_budget(train, opts)
    settings = {"classifier": clf, "balance": opts.balance, "device": opts.device}
    data = BenchmarkData(
        train,
        val,
        test,
        synthetic,
        settings,
        hash_sets(train, val, test),
        hash_sets(synthetic) if synthetic is not None else None,
    )
    config = _config(data, opts, clf)

    # Phase 1: real, the synthetic fractions, the baselines. Phase 2: the oversampling control at
    # the fraction chosen on val (the choice never looks at test).
    run_dir = Path(out) / "benchmark" / "runs" if out is not None else None
    kw = {"jobs": opts.jobs, "run_dir": run_dir, "progress": progress, "log": log}
    results = run_arms(arms, seed_list, data, **kw)
    pre = BenchmarkResult.from_runs(
        arms,
        [results[(a.name, s)] for a in arms for s in seed_list],
        train.class_names,
        seed_list,
        config=config,
    )
    gan = next((a for a in arms if a.name == pre.choice.get("gan_arm")), None)
    if gan is not None:
        control = matched_arm(gan)
        results.update(run_arms([control], seed_list, data, **kw))
        last_mix = max(i for i, a in enumerate(arms) if a.kind == "mix")
        arms = [*arms[: last_mix + 1], control, *arms[last_mix + 1 :]]

    # Summarise (every arm x seed is present: nothing is dropped).
    runs = [results[(a.name, s)] for a in arms for s in seed_list]
    res = BenchmarkResult.from_runs(
        arms,
        runs,
        train.class_names,
        seed_list,
        config=config,
        skipped=skipped,
        leak_check=leak_check(train, val, test, synthetic),
        test_labels=test.labels.tolist(),
    )
    if out is not None:
        bench_dir = Path(out) / "benchmark"
        res.out = str(bench_dir)
        _write_if_changed(bench_dir / "results.json", json_text(res.to_dict()) + "\n")
        _write_if_changed(bench_dir / "results.csv", res.csv_text())
    return res


def _check_splits(train: ImageSet, val: ImageSet, test: ImageSet, opts: BenchmarkOptions) -> None:
    """Refuse an unknown device, splits that disagree on classes or image shape, an empty test split
    or fewer than 2 training images, before anything is trained."""
    try:
        resolve_device(opts.device)  # fail here, not once per run in the workers
    except RuntimeError as e:
        raise UserError(f"unknown device {opts.device!r}: use auto, cpu, cuda or cuda:N ({e})") from None
    for name, s in (("val", val), ("test", test)):
        if s.class_names != train.class_names:
            raise UserError(f"the {name} split has different classes from train")
        if s.images.shape[1:] != train.images.shape[1:]:
            raise UserError(f"{name} images are {s.images.shape[1:]}, train images {train.images.shape[1:]}")
    if len(test) == 0:
        raise UserError("the test split is empty")
    if len(train) < 2:
        raise UserError(f"need at least 2 real training images, got {len(train)}")


def _plan(
    train: ImageSet, synthetic: ImageSet | None, opts: BenchmarkOptions
) -> tuple[list[Arm], dict[str, str]]:
    """The arms of phase 1 and the arms skipped (name -> why); checks the synthetic pool is large
    enough before anything is trained."""
    baselines = list(opts.baselines)
    arms = plan_arms(opts.fractions, baselines, synthetic is not None)
    skipped: dict[str, str] = {}
    if synthetic is None:
        if any(f > 0 for f in opts.fractions) or "synthetic_only" in baselines:
            skipped["synthetic"] = "no synthetic images given"
    else:
        check_pool(arms, train, synthetic, opts.balance)
    real_counts = np.bincount(train.labels, minlength=train.num_classes)
    if "smote" in baselines and real_counts[real_counts > 0].min() < 2:
        arms = [a for a in arms if a.name != "smote"]
        skipped["smote"] = "a class has a single training image (SMOTE needs two)"
    return arms, skipped


def _config(data: BenchmarkData, opts: BenchmarkOptions, clf: dict[str, Any]) -> dict[str, Any]:
    """The resolved settings and data summary stored in ``results.json``; the device is left out, as it
    is from the run fingerprints (runs are reused whatever device trained them)."""
    syn = data.synthetic
    config = dict(
        opts.to_dict(),
        seeds=opts.seed_list,
        fractions=sorted(set(opts.fractions)),
        **{k: clf[k] for k in ("batch_size", "lr", "steps", "eval_every")},
        train_counts=data.train.counts(),
        val_counts=data.val.counts(),
        test_counts=data.test.counts(),
        synthetic_counts=syn.counts() if syn is not None else None,
        data_hash=data.data_hash,
        synthetic_hash=data.synthetic_hash,
    )
    config.pop("device", None)
    return config


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic write, skipped when the file already holds exactly this text (keeps mtimes of a no-op rerun)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write_text(path, text)
