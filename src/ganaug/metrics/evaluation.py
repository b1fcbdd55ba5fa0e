"""``evaluate``: how close are synthetic images to the real data, and did the generator copy?

For the whole set and for each class, FID, KID, precision/recall and density/coverage of the
synthetic images against the real TRAINING split and against the real TEST split, each printed next
to the real-vs-real value (training split vs test split, with the test images in the "synthetic"
role) as a floor: finite, imbalanced samples never reach 0, and a synthetic set cannot be expected
to beat held-out real data. All three columns of a row compare sets of ONE size, the smallest of the
three sets (the larger sets randomly subsampled, ``repeats`` times, averaged): these metrics depend
on sample size, so a large synthetic set would otherwise beat the floor on size alone. Plus the
memorisation check against the training split, its near-copy thresholds calibrated on the real
test images (run through the same check: the real-data reference for flag rates and authenticity),
and the data-copying test of Meehan et al. 2020 in feature space.

The test split is only ever measured against; nothing is fitted on it (the feature net sees the
training split, and val for model selection).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import sem

from ganaug.data.imageset import ImageSet
from ganaug.errors import DataError, UserError
from ganaug.formatting import percent, significant, with_sd
from ganaug.metrics.copying import data_copying_test
from ganaug.metrics.distribution import fid, kid, matched, prdc
from ganaug.metrics.features import make_extractor, resize_imageset
from ganaug.metrics.memorization import (
    MemorizationResult,
    memorization_check,
    rare_class_line,
    rare_class_memorization,
)
from ganaug.utils import atomic_write_json, atomic_write_text, json_safe, resolve_device

# name, label in the table, better direction
METRICS = (
    ("fid", "FID", "lower"),
    ("kid", "KID", "lower"),
    ("kid_se", "KID s.e.", ""),
    ("precision", "precision", "higher"),
    ("recall", "recall", "higher"),
    ("density", "density", "~1"),
    ("coverage", "coverage", "higher"),
)
COLUMNS = ("vs_train", "vs_test", "floor")


@dataclass
class EvalResult:
    metrics: dict[str, dict[str, dict[str, float]]]  # scope ("overall" | class) -> metric -> column -> value
    counts: dict[str, dict[str, int]]  # scope -> n_synthetic, n_train, n_test, n_matched
    features: dict[str, Any]  # what the features are (and the feature net's details)
    memorization: MemorizationResult  # synthetic vs train
    memorization_floor: dict[str, Any]  # the same check on the real test split (summary)
    data_copying: dict[str, Any] = field(default_factory=dict)  # Meehan et al. 2020, feature space
    options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    spread: dict[str, dict[str, dict[str, float]]] = field(
        default_factory=dict
    )  # like metrics: SD over repeats
    rare_class: dict[str, Any] = field(
        default_factory=dict
    )  # ganaug.metrics.memorization.rare_class_memorization

    def rows(self) -> list[dict[str, Any]]:
        """Long format, one row per scope x metric (the CSV)."""
        out = []
        for scope, ms in self.metrics.items():
            for name, _, better in METRICS:
                out.append(
                    {"scope": scope, "metric": name, "better": better, **ms[name], **self.counts[scope]}
                )
        return out

    def table(self) -> str:
        """Text table: rows = scope x metric; columns vs train, vs test, floor (train vs test)."""
        head = ("scope (n synth/train/test)", "metric", "vs train", "vs test", "floor: real train vs test")
        lines = []
        for scope, ms in self.metrics.items():
            c = self.counts[scope]
            label = f"{scope} ({c['n_synthetic']}/{c['n_train']}/{c['n_test']}, matched {c['n_matched']})"
            sd = self.spread.get(scope, {})
            for i, (name, title, better) in enumerate(METRICS):
                arrow = {"lower": " (lower better)", "higher": " (higher better)", "~1": " (~1 ideal)"}.get(
                    better, ""
                )
                lines.append(
                    (
                        label if i == 0 else "",
                        title + arrow,
                        *(with_sd(ms[name][col], _get(sd, name, col)) for col in COLUMNS),
                    )
                )
        widths = [max(len(r[j]) for r in [head, *lines]) for j in range(len(head))]
        fmt = "  ".join(f"{{:<{w}}}" if j < 2 else f"{{:>{w}}}" for j, w in enumerate(widths))
        out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        out += [fmt.format(*r) for r in lines]
        m, f = self.memorization.summary(), self.memorization_floor
        out += [
            "",
            (
                f"each row compares sets of one size (matched): random subsets of the larger sets, mean of "
                f"{self.options.get('repeats', '?')} draws; +- = SD over the draws (none where nothing was subsampled)"
            ),
            f"features: {self.features.get('kind')} - {self.features.get('note', '')}",
            (
                f"near copies of training images (pixels, also mirrored / 1-px shifted; ratio < {m['threshold']:.3g}, "
                f"threshold: {m.get('threshold_source', 'fixed')}): {m['near_copy_count']} of {m['n_synthetic']} "
                f"synthetic; real test images flagged the same way: {f['near_copy_count']} of {f['n_synthetic']}"
            ),
            (
                f"close in feature space (ratio < {significant(m.get('feature_threshold'))}): "
                f"{_get(m, 'feature', 'near_copy_count')} synthetic; real test images: "
                f"{_get(f, 'feature', 'near_copy_count')}"
            ),
            (
                f"authentic ({m['authentic_space']} space): {percent(m['authentic_fraction'])} of synthetic; "
                f"real test images: {percent(f['authentic_fraction'])}"
            ),
            copying_line(self.data_copying),
        ]
        if self.rare_class:
            out.append(rare_class_line(self.rare_class))
        if self.files:
            out.append("files: " + ", ".join(self.files.values()))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        c, fid_ = self.counts.get("overall", {}), self.metrics.get("overall", {}).get("fid", {})
        m = self.memorization.summary()
        out = f", out={str(Path(next(iter(self.files.values()))).parent)!r}" if self.files else ""
        return (
            f"EvalResult(features={self.features.get('kind')!r}, {c.get('n_synthetic')} synthetic vs "
            f"{c.get('n_train')} train / {c.get('n_test')} test; FID vs train {significant(fid_.get('vs_train'))}, "
            f"vs test {significant(fid_.get('vs_test'))}, floor {significant(fid_.get('floor'))}; near copies "
            f"{m['near_copy_count']}/{m['n_synthetic']}{out})"
        )

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "features": self.features,
                "options": self.options,
                "counts": self.counts,
                "metrics": self.metrics,
                "spread": self.spread,
                "floor_note": (
                    "floor = the training split vs the test split (test in the synthetic role); every "
                    "column of a scope at n_matched images per side (random subsets of the larger sets, "
                    "mean over `repeats` draws; spread = SD over the draws, null where none was subsampled)"
                ),
                "memorization": self.memorization.summary(),
                "memorization_floor": self.memorization_floor,
                "data_copying": self.data_copying,
                "rare_class_memorization": self.rare_class,
                "files": self.files,
            }
        )

    def _repr_html_(self) -> str:
        cells = []
        for scope, ms in self.metrics.items():
            c = self.counts[scope]
            for i, (name, title, better) in enumerate(METRICS):
                first = (
                    (
                        f'<td rowspan="{len(METRICS)}">{html.escape(scope)}<br><small>{c["n_synthetic"]} synth / '
                        f"{c['n_train']} train / {c['n_test']} test</small></td>"
                    )
                    if i == 0
                    else ""
                )
                vals = "".join(
                    f"<td style='text-align:right'>{significant(ms[name][col])}</td>" for col in COLUMNS
                )
                cells.append(f"<tr>{first}<td>{title} <small>{better}</small></td>{vals}</tr>")
        png = base64.b64encode(self.memorization.grid_png(8)).decode()
        m, f = self.memorization.summary(), self.memorization_floor
        return (
            f"<p><b>features:</b> {html.escape(str(self.features.get('kind')))} - "
            f"{html.escape(str(self.features.get('note', '')))}</p>"
            "<table><tr><th>scope</th><th>metric</th><th>vs train</th><th>vs test</th>"
            "<th>floor: train vs test</th></tr>" + "".join(cells) + "</table>"
            f"<p>near copies: {m['near_copy_count']} / {m['n_synthetic']} synthetic "
            f"(real test: {f['near_copy_count']} / {f['n_synthetic']}); authentic: "
            f"{percent(m['authentic_fraction'])} (real test: {percent(f['authentic_fraction'])})</p>"
            f"<p>{html.escape(copying_line(self.data_copying))}</p>"
            f'<img src="data:image/png;base64,{png}"/>'
        )


def evaluate(
    synthetic: ImageSet,
    train: ImageSet,
    test: ImageSet,
    *,
    features: str = "trained",  # "trained" (offline default) | "inception" | "pixels"
    val: ImageSet | None = None,  # model selection for the trained feature net (None: part of train)
    out: str | os.PathLike | None = None,  # folder for metrics.json/.csv, memorization.csv/.png, cache/
    device: str = "auto",
    kid_subset: int | None = None,  # KID subset size; None: min(1000, n_real, n_fake)
    k: int = 5,  # PRDC neighbourhood size
    seed: int = 0,  # KID subsets and the feature net
    inception: str | os.PathLike | None = None,  # Inception weights file for features="inception"
    feature_epochs: int = 20,  # the trained feature net's maximum epochs
    memorization_k: int = 3,  # nearest training images kept per synthetic image
    repeats: int = 10,  # random equal-size subsamples averaged per comparison
    progress: bool = False,
) -> EvalResult:
    """Distribution metrics per class and overall vs train and test (with the real floor) + memorisation."""
    _check_inputs(synthetic, train, test, val)
    dev = resolve_device(device)

    # Put the synthetic images in the real data's size, channels and classes.
    size, ch = train.resolution, train.channels
    synthetic_own = resize_imageset(synthetic, size, ch)  # own class names, for the memorisation table
    synthetic, per_class = _match_classes(synthetic_own, train)
    test = resize_imageset(test, size, ch)
    val = resize_imageset(val, size, ch) if val is not None else None

    # Features: the extractor learns from train (and val) only.
    out_dir = Path(out) if out is not None else None
    extractor = make_extractor(
        features,
        train=train,
        val=val,
        cache_dir=out_dir / "cache" if out_dir else None,
        inception=inception,
        device=str(dev),
        seed=seed,
        epochs=feature_epochs,
        progress=progress,
    )
    f_train, f_test, f_syn = extractor(train), extractor(test), extractor(synthetic)

    metrics, counts, spread = _distribution_metrics(
        _scopes(
            per_class,
            train.class_names,
            (f_syn, synthetic.labels),
            (f_train, train.labels),
            (f_test, test.labels),
        ),
        kid_subset=kid_subset,
        k=k,
        seed=seed,
        repeats=repeats,
        device=dev,
    )

    mem, rare, copying = _memorisation(
        synthetic_own,
        synthetic,
        train,
        test,
        (f_syn, f_train, f_test),
        memorization_k,
        per_class,
        seed,
        str(dev),
    )
    options = {
        "features": features,
        "k": k,
        "kid_subset": kid_subset,
        "seed": seed,
        "repeats": repeats,
        "memorization_k": memorization_k,
        "resolution": list(size),
        "channels": ch,
        "per_class": per_class,
    }
    result = EvalResult(
        metrics,
        counts,
        extractor.info,
        mem,
        mem.holdout.summary(),
        copying,
        options,
        spread=spread,
        rare_class=rare,
    )
    if out_dir is not None:
        _write(result, out_dir)
    return result


def _memorisation(
    synthetic_own: ImageSet,
    synthetic: ImageSet,
    train: ImageSet,
    test: ImageSet,
    feats: tuple[np.ndarray, np.ndarray, np.ndarray],
    k: int,
    per_class: bool,
    seed: int,
    device: str,
) -> tuple[MemorizationResult, dict[str, Any], dict[str, Any]]:
    """Memorisation vs train with thresholds calibrated on the real test images (the same check on
    them is the reference), then on the rarest class alone, and the data-copying test in feature space.
    ``synthetic_own`` keeps the generator's class names (the memorisation table shows them);
    ``synthetic`` is in train's classes. ``feats``: synthetic, train, test features."""
    f_syn, f_train, f_test = feats
    mem = memorization_check(
        synthetic_own, train, f_syn, f_train, k=k, holdout=test, holdout_feats=f_test, device=device
    )
    rare = (
        rare_class_memorization(
            synthetic, train, test, f_syn, f_train, f_test, k=k, threshold=mem.threshold, device=device
        )
        if per_class
        else {}
    )
    return mem, rare, data_copying_test(f_train, f_test, f_syn, seed=seed)


def _scopes(
    per_class: bool, class_names: list[str], *sets: tuple[np.ndarray, np.ndarray]
) -> dict[str, tuple[np.ndarray, ...]]:
    """The feature rows compared: all of them ("overall") and, per class, each set's rows of that class.
    ``sets``: (features, labels) of the synthetic, train and test images, in that order."""
    scopes = {"overall": tuple(f for f, _ in sets)}
    if per_class:
        for c, name in enumerate(class_names):
            scopes[name] = tuple(f[labels == c] for f, labels in sets)
    return scopes


def _check_inputs(synthetic: ImageSet, train: ImageSet, test: ImageSet, val: ImageSet | None) -> None:
    if len(synthetic) == 0:
        raise UserError("no synthetic images to evaluate")
    if len(train) < 2 or len(test) < 2:
        raise DataError(f"need at least 2 training and 2 test images, got {len(train)} and {len(test)}")
    if test.class_names != train.class_names or (val is not None and val.class_names != train.class_names):
        raise DataError(
            "train, val and test must have the same class names (load them from one prepared folder)"
        )


def _distribution_metrics(
    scopes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],  # scope -> synthetic, train, test features
    *,
    kid_subset: int | None,
    k: int,
    seed: int,
    repeats: int,
    device: torch.device,
) -> tuple[dict, dict, dict]:
    """(metrics, counts, spread) per scope: each metric of :data:`METRICS` in each of :data:`COLUMNS`
    (synthetic vs train, synthetic vs test, and the floor train vs test), every column on random
    subsets of the same size, so sample size does not tell the columns apart."""
    metrics, counts, spread = {}, {}, {}
    kid_subsets = max(10, 100 // max(repeats, 1))

    def all_metrics(real: np.ndarray, fake: np.ndarray) -> dict:
        kid_mean, kid_se = kid(real, fake, subset_size=kid_subset, subsets=kid_subsets, seed=seed)
        return {
            "fid": fid(real, fake),
            "kid": kid_mean,
            "kid_se": kid_se,
            **prdc(real, fake, k=k, device=device),
        }

    for scope, (s, tr, te) in scopes.items():
        n = min(len(s), len(tr), len(te))  # every column at this size: sample size moves all of these metrics
        counts[scope] = {"n_synthetic": len(s), "n_train": len(tr), "n_test": len(te), "n_matched": n}
        pairs = {"vs_train": (tr, s), "vs_test": (te, s), "floor": (tr, te)}
        cols = {
            col: _summarise(matched(all_metrics, real, fake, n, repeats, seed + i))
            for i, (col, (real, fake)) in enumerate(pairs.items())
        }
        metrics[scope] = {name: {col: cols[col][0][name] for col in COLUMNS} for name, _, _ in METRICS}
        spread[scope] = {name: {col: cols[col][1][name] for col in COLUMNS} for name, _, _ in METRICS}
    return metrics, counts, spread


def _summarise(draws: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """(mean, SD) of each metric over the matched draws; KID's standard error over the draws where
    they differ (one draw: its own, NaN when its subsets were whole sets)."""
    if len(draws) == 1:
        return dict(draws[0]), {name: math.nan for name in draws[0]}
    mean = {name: float(np.mean([d[name] for d in draws])) for name in draws[0]}
    sd = {name: float(np.std([d[name] for d in draws], ddof=1)) for name in draws[0]}
    mean["kid_se"], sd["kid_se"] = float(sem([d["kid"] for d in draws])), math.nan
    return mean, sd


def _match_classes(synthetic: ImageSet, train: ImageSet) -> tuple[ImageSet, bool]:
    """Relabel synthetic images to train's class indices by name; (set, per-class metrics possible)."""
    names = synthetic.class_names
    known = [n in train.class_names for n in names]
    if synthetic.class_names == train.class_names:
        return synthetic, True
    if not any(known) and len(np.unique(synthetic.labels)) <= 1:
        # e.g. an unconditional generator's single "all" class: overall only. Several unknown
        # classes mean another data set's images: an error below, not one silently merged class.
        labels = np.zeros(len(synthetic), np.int64)
        return ImageSet(synthetic.images, labels, train.class_names, synthetic.paths, synthetic.hashes), False
    unknown = sorted({names[c] for c in np.unique(synthetic.labels) if not known[c]})
    if unknown:
        raise DataError(
            f"synthetic classes {unknown} are not classes of the training data "
            f"({', '.join(train.class_names)})"
        )
    mapping = np.array([train.class_names.index(n) if n in train.class_names else -1 for n in names])
    return ImageSet(
        synthetic.images, mapping[synthetic.labels], train.class_names, synthetic.paths, synthetic.hashes
    ), True


def _write(result: EvalResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result.files = {
        name: str(out / name)
        for name in ("metrics.json", "metrics.csv", "memorization.csv", "memorization.png")
    }
    rows = result.rows()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / "metrics.csv", buf.getvalue())
    result.memorization.to_csv(out / "memorization.csv")
    result.memorization.save_grid(out / "memorization.png")
    atomic_write_json(out / "metrics.json", result.to_dict())


def copying_line(c: dict[str, Any]) -> str:
    """One line on the data-copying test (Meehan et al. 2020)."""
    if not c or c.get("z_u") is None or not math.isfinite(c["z_u"]):
        return "data-copying test (Meehan et al. 2020): n/a (too few images per k-means cell)"
    z = c["z_u"]
    reading = (
        "generated images sit closer to the training images than real test images do: data-copying "
        "in the test's sense, even without near copies (samples crowding dense regions do this too)"
        if z < -3
        else "no evidence of data-copying"
        if z < 3
        else "generated images sit farther from the training images than real test images do (not copying)"
    )
    return (
        f"data-copying test (Meehan et al. 2020; feature space, {c['cells_used']} of {c['cells']} k-means cells): "
        f"Z_U = {z:.2f}, one-sided p = {c['p_value']:.3g}: {reading}"
    )


def _get(d: dict, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return "n/a"
        d = d[key]
    return d
