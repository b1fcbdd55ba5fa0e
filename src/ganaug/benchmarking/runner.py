"""Running the arms: one classifier per (arm, seed), cached on disk, optionally in worker processes.

Every run trains with :func:`ganaug.classify.fit_classifier` on its arm's training set for the
benchmark's fixed number of optimiser steps (the same for every arm), selects its checkpoint on the
real **val** split and is scored once on the real **test** split (the test split never reaches
``fit_classifier``). ``runs/<arm>-seed<k>.json`` is written atomically as soon as a run ends and is
reused by later calls when its ``fingerprint`` (data hashes, arm, seed, classifier settings, and
for arms that use synthetic images the pool's hash and the balance rule) matches.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ganaug.benchmarking.arms import Arm, arm_train_set
from ganaug.data.imageset import ImageSet
from ganaug.errors import RunsFailedError, UserError, os_error_message
from ganaug.utils import atomic_write_text, json_safe, read_json
from ganaug.workers import completed, worker_pool

FORMAT_VERSION = 2  # 2: equal step budgets, test predictions stored per run


@dataclass
class BenchmarkData:
    """What every run of one benchmark shares: the splits, the synthetic pool, the settings, and the
    hashes that key the cached runs. Sent once to each worker process."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    synthetic: ImageSet | None
    settings: dict[str, Any]  # {"classifier": fit_classifier options, "balance": ..., "device": ...}
    data_hash: str  # train, val and test
    synthetic_hash: str | None


def hash_sets(*sets: ImageSet | None) -> str:
    """SHA-256 of the images, labels and class names of ``sets`` (None counts too)."""
    h = hashlib.sha256()
    for s in sets:
        if s is None:
            h.update(b"none")
            continue
        h.update(json.dumps([list(s.images.shape), s.class_names]).encode())
        h.update(np.ascontiguousarray(s.images).tobytes())
        h.update(np.ascontiguousarray(s.labels).tobytes())
    return h.hexdigest()


def _fingerprint(arm: Arm, seed: int, data: BenchmarkData) -> str:
    key = {
        "version": FORMAT_VERSION,
        "arm": asdict(arm),
        "seed": seed,
        "classifier": data.settings["classifier"],
        "data": data.data_hash,
    }
    if arm.uses_synthetic or arm.kind == "oversample_matched":  # others survive a new pool or balance rule
        key.update(balance=data.settings["balance"])
    if arm.uses_synthetic:
        key.update(synthetic=data.synthetic_hash)
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def json_text(o: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON of ``json_safe(o)``, indented, with lists of numbers or strings on one line (the per-image test
    predictions would otherwise take a line per image)."""
    o = json_safe(o) if _level == 0 else o
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(o, dict) and o:
        items = [f"{inner}{json.dumps(k)}: {json_text(v, indent, _level + 1)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(o, list) and o and any(isinstance(v, (dict, list)) for v in o):
        return "[\n" + ",\n".join(f"{inner}{json_text(v, indent, _level + 1)}" for v in o) + f"\n{pad}]"
    return json.dumps(o)


def _run_one(arm: Arm, seed: int, data: BenchmarkData) -> dict[str, Any]:
    """Build the arm's training set, fit for the common step budget (selection on val), score on test."""
    # Imported here: classify loads torch, and ``ganaug benchmark --dry-run`` imports this module
    # (through api) to plan without it. Looked up at call time, so tests can spy on fit_classifier.
    from ganaug import classify

    t0 = time.time()
    train_set = arm_train_set(arm, seed, data.train, data.synthetic, data.settings["balance"])
    dev = data.settings["device"]
    fit = classify.fit_classifier(
        train_set,
        data.val,
        seed=seed,
        device=dev,
        patience=None,
        **data.settings["classifier"],
        **arm.fit_options(),
    )
    proba = classify.predict_proba(fit.model, data.test.images, device=dev)
    metrics = classify.classification_metrics(data.test.labels, proba, data.test.num_classes)
    n_extra = len(train_set) - len(data.train) if arm.kind != "synthetic_only" else len(train_set)
    return {
        "arm": arm.name,
        "seed": seed,
        "fingerprint": _fingerprint(arm, seed, data),
        "metrics": metrics,
        "test_pred": proba.argmax(1).tolist(),
        "steps": fit.steps,
        "best_step": fit.best_step,
        "eval_every": fit.eval_every,
        "batch_size": fit.batch_size,
        "lr": fit.lr,
        "best_epoch": fit.best_epoch,
        "checkpoints": len(fit.history),
        "val_score": fit.val_score,
        "val_pred_classes": fit.val_pred_classes,
        "collapsed": fit.collapsed,
        "train_counts": np.bincount(train_set.labels, minlength=data.train.num_classes).tolist(),
        "n_train": len(train_set),
        "n_synthetic": n_extra if arm.uses_synthetic else 0,
        "n_extra": n_extra,
        "time_s": round(time.time() - t0, 3),
    }


# Worker processes receive the data once (initializer), then only (arm, seed) per task.
_WORKER_DATA: BenchmarkData | None = None


def _init_worker(data: BenchmarkData) -> None:
    global _WORKER_DATA
    import torch  # in the worker process only (see _run_one)

    torch.set_num_threads(1)
    _WORKER_DATA = data


def _run_in_worker(arm: Arm, seed: int) -> dict[str, Any]:
    assert _WORKER_DATA is not None
    return _run_one(arm, seed, _WORKER_DATA)


def make_pool(jobs: int, data: BenchmarkData) -> Executor:
    """The one place the benchmark creates worker processes: ``jobs`` spawned processes, one torch
    thread each, each given ``data`` once; they end with this process (SIGTERM, Ctrl-C, kill -9:
    :func:`ganaug.workers.worker_pool`). Use as a context manager."""
    return worker_pool(jobs, initializer=_init_worker, initargs=(data,))


def run_from_json(r: dict[str, Any]) -> dict[str, Any]:
    """A run as read from ``runs/<arm>-seed<k>.json`` or ``results.json``: stored runs carry null for
    NaN; restore NaN in the metrics."""
    r = dict(r)
    m = dict(r["metrics"])
    for k in ("accuracy", "balanced_accuracy", "macro_f1", "auroc"):
        m[k] = float("nan") if m.get(k) is None else float(m[k])
    m["per_class_recall"] = [float("nan") if v is None else float(v) for v in m.get("per_class_recall", [])]
    m["per_class_auroc"] = [float("nan") if v is None else float(v) for v in m.get("per_class_auroc", [])]
    r["metrics"] = m
    return r


def run_arms(
    arms: Sequence[Arm],
    seeds: Sequence[int],
    data: BenchmarkData,
    *,
    jobs: int = 1,
    run_dir: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[tuple[str, int], dict[str, Any]]:
    """Every (arm, seed) run: reused from ``run_dir`` when its fingerprint matches, else trained
    (in ``jobs`` worker processes when jobs > 1) and saved as soon as it ends. A failing run does not
    stop the others; the failures are raised together at the end (finished runs stay saved)."""
    results = _stored_runs(arms, seeds, data, run_dir)
    todo = [(arm, seed) for arm in arms for seed in seeds if (arm.name, seed) not in results]
    if progress and results:
        log(f"benchmark: reusing {len(results)} of {len(results) + len(todo)} runs from {run_dir}")
    bar = tqdm(total=len(todo), desc="benchmark", unit="run") if progress and todo else None
    errors: list[str] = []

    def finish(arm: Arm, seed: int, record: Callable[[], dict[str, Any]], stop_on: tuple = ()) -> None:
        """Save one run as soon as it ends, or note its error; then advance the progress bar."""
        try:
            rec = record()
            if run_dir is not None:
                atomic_write_text(run_dir / f"{arm.name}-seed{seed}.json", json_text(rec) + "\n")
            results[(arm.name, seed)] = rec
        except stop_on:
            raise
        except OSError as e:  # the run's file could not be written (disk full, permissions...)
            errors.append(f"{arm.name} seed {seed}: {os_error_message(e)}")
        except Exception as e:  # noqa: BLE001 — reported below, after the other runs
            errors.append(f"{arm.name} seed {seed}: {type(e).__name__}: {e}")
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{arm.name} seed {seed}")

    if jobs == 1 or len(todo) <= 1:
        for arm, seed in todo:  # a wrong input (UserError) would fail every run: stop at once
            finish(arm, seed, functools.partial(_run_one, arm, seed, data), stop_on=(UserError,))
    else:
        with make_pool(min(jobs, len(todo)), data) as ex:
            futures = {ex.submit(_run_in_worker, arm, seed): (arm, seed) for arm, seed in todo}
            for fut in completed(futures):  # wakes up for Ctrl-C, unlike as_completed
                finish(*futures[fut], fut.result)
    if bar is not None:
        bar.close()
    if errors:
        where = f"; finished runs are saved in {run_dir} and reused on the next call" if run_dir else ""
        raise RunsFailedError(
            f"{len(errors)} of {len(todo)} benchmark runs failed{where}:\n" + "\n".join(errors)
        )
    return results


def _stored_runs(
    arms: Sequence[Arm], seeds: Sequence[int], data: BenchmarkData, run_dir: Path | None
) -> dict[tuple[str, int], dict[str, Any]]:
    """The runs in ``run_dir`` whose fingerprint matches (unreadable files count as missing)."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    if run_dir is None:
        return found
    for arm in arms:
        for seed in seeds:
            f = run_dir / f"{arm.name}-seed{seed}.json"
            if not f.is_file():
                continue
            try:
                stored = read_json(f)
            except (OSError, json.JSONDecodeError):
                continue
            if stored and stored.get("fingerprint") == _fingerprint(arm, seed, data):
                found[(arm.name, seed)] = run_from_json(stored)
    return found
