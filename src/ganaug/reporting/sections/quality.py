"""Section 3, sample quality: distances, PRDC and the memorisation check (``evaluate/metrics.json``,
written by :mod:`ganaug.metrics.evaluation`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganaug.formatting import MISSING, finite, fixed, number
from ganaug.reporting.figures import Numbering, cell, read_png
from ganaug.utils import read_json

# Per table: key, column label, better direction, scale for display, decimals (None: 3 significant digits)
DIST_GROUPS = (
    (
        ("fid", "FID", "lower is better", 1.0, None),
        ("kid", "KID \u00d7 10\u00b3", "lower is better", 1e3, None),
    ),
    (
        ("precision", "precision", "fidelity, higher is better", 1.0, 3),
        ("recall", "recall", "diversity, higher is better", 1.0, 3),
        ("density", "density", "about 1 when matched", 1.0, 3),
        ("coverage", "coverage", "higher is better", 1.0, 3),
    ),
)
COLUMNS = (("vs_train", "vs train"), ("vs_test", "vs test"), ("floor", "floor"))
_FEATURES_IN_WORDS = {
    "trained": "the features of a network trained on this dataset's training split",
    "pixels": "raw pixels",
}


def quality_section(run: Path, num: Numbering) -> dict[str, Any]:
    sec: dict[str, Any] = {"id": "quality", "title": "Sample quality"}
    path = run / "evaluate" / "metrics.json"
    if not path.exists():
        return {
            **sec,
            "status": "missing",
            "note": "no evaluate/metrics.json (the evaluate stage): no FID/KID/precision/recall yet.",
        }
    d = read_json(path)
    features = d.get("features") or {}
    kind = features.get("kind")
    sec["extractor"], sec["extractor_detail"] = _extractor_text(features)
    sec["inception"] = kind == "inception"
    if kind != "inception":
        sec["features_in_words"] = _FEATURES_IN_WORDS.get(str(kind), f"{kind} features")
    caveat = str(features.get("note") or "")
    sec["caveat"] = (caveat[:1].upper() + caveat[1:].rstrip(".") + ".") if caveat else ""
    sec["tables"] = [_distance_table(d, group, num) for group in DIST_GROUPS]
    opts = d.get("options") or {}
    sec["k"], sec["repeats"] = opts.get("k", 5), number(opts.get("repeats"))

    m = d.get("memorization") or {}
    grid = read_png(run / "evaluate" / "memorization.png")
    if m:
        fig = num.figure(grid, alt="memorisation check")
        sec["memo"] = {"text": _memo_text(d), "rows": _memo_rows(d), "fig": fig}
    elif grid:
        fig = num.figure(grid, alt="Closest synthetic images and their nearest training images.")
        sec["memo"] = {"text": "", "rows": [], "fig": fig, "bare": True}
    else:
        sec["memo_missing"] = True
    return sec


def _extractor_text(features: Mapping[str, Any]) -> tuple[str, str]:
    """The feature network in words, and its details."""
    kind = str(features.get("kind", "?"))
    if kind == "trained":
        bits = [
            f"{features.get('arch', 'classifier')} trained on {number(features.get('n_train'))} training images"
        ]
        if features.get("n_val") is not None:
            bits.append(f"best epoch chosen on {number(features.get('n_val'))} validation images")
        if finite(features.get("val_balanced_accuracy")) is not None:
            bits.append(
                f"its validation balanced accuracy {fixed(features['val_balanced_accuracy'], 1, scale=100)} %"
            )
        if features.get("cached"):
            bits.append("loaded from the cache")
        return "penultimate-layer features of a classifier trained on this dataset", "; ".join(bits)
    if kind == "inception":
        return (
            "Inception-v3 pool features (the standard FID network)",
            f"weights {features.get('weights', '?')}",
        )
    if kind == "pixels":
        return (
            "raw pixels",
            f"downscaled to {features.get('size', '?')} px; a sanity baseline, not perceptual",
        )
    return kind, ""


# ----------------------------------------------------------------------------
# Distances and PRDC


def _distance_table(d: Mapping[str, Any], group: tuple, num: Numbering) -> dict[str, Any]:
    """One table: a row per scope (overall, then each class), three columns per metric of ``group``."""
    first = group is DIST_GROUPS[0]  # the distances, with the image counts and the SD over draws
    metrics, counts, spreads = d.get("metrics") or {}, d.get("counts") or {}, d.get("spread") or {}
    rows = []
    for scope in metrics:
        cells = []
        if first:
            c = counts.get(scope) or {}
            matched = f" \u2192 {number(c['n_matched'])} each" if c.get("n_matched") is not None else ""
            sizes = f"{number(c.get('n_synthetic'))} / {number(c.get('n_train'))} / {number(c.get('n_test'))}"
            cells.append(cell(sizes + matched, "ref"))
        for key, _, _, scale, decimals in group:
            for col, _ in COLUMNS:
                value = _metric_value(metrics[scope], key, col, scale, decimals, spreads.get(scope))
                cells.append(cell(value, "ref" if col == "floor" else ""))
        rows.append({"label": scope, "cls": "sub" if scope == "overall" else "", "cells": cells})
    return {
        "number": num.table(),
        "distances": first,
        "better": "; ".join(f"{label}: {better}" for _, label, better, _, _ in group),
        "groups": [("", 2 if first else 1)] + [(label, len(COLUMNS)) for _, label, _, _, _ in group],
        "header": ["scope"]
        + (["images (synth / train / test)"] if first else [])
        + [c for _ in group for _, c in COLUMNS],
        "rows": rows,
    }


def _metric_value(
    m: Mapping[str, Any],
    key: str,
    col: str,
    scale: float,
    decimals: int | None,
    sd: Mapping[str, Any] | None = None,
) -> str:
    """3 significant digits (FID, KID) with the SD over matched draws where there is one, or fixed
    decimals for the [0, 1]-like PRDC values."""
    v = finite((m.get(key) or {}).get(col))
    if decimals is not None:
        return fixed(v, decimals, scale=scale)
    spread = finite(((sd or {}).get(key) or {}).get(col))
    text = number(v * scale if v is not None else None, 3)
    return text + (f" \u00b1 {number(spread * scale, 2)}" if v is not None and spread is not None else "")


# ----------------------------------------------------------------------------
# Memorisation


def _memo_text(d: Mapping[str, Any]) -> str:
    """The memorisation check in sentences: near copies, their false-flag rate, authenticity, data-copying."""
    m, f = d.get("memorization") or {}, d.get("memorization_floor") or {}
    source = m.get("threshold_source", "fixed")
    text = (
        f"{number(m.get('near_copy_count'))} of {number(m.get('n_synthetic'))} synthetic images "
        f"({fixed(finite(m.get('near_copy_fraction')), 1, scale=100)} %) are flagged as near copies of a "
        "training image, also mirrored or shifted by one pixel (nearest-neighbour distance below "
        f"{fixed(finite(m.get('threshold')), 2)} of the typical distance between training images; threshold: "
        f"{source}). "
    )
    if f:
        text += (
            f"The same check flags {number(f.get('near_copy_count'))} of {number(f.get('n_synthetic'))} real "
            "test images, which were never trained on"
            + (
                ": the threshold was calibrated on them, so this is the chosen quantile by construction. "
                if str(source) != "fixed"
                else ": that is the false-flag rate. "
            )
        )
    text += (
        f"{fixed(finite(m.get('authentic_fraction')), 0, scale=100)} % of synthetic images are authentic "
        f"({m.get('authentic_space', '?')} space; Alaa et al. 2022)"
        + (
            f", against {fixed(f.get('authentic_fraction'), 0, scale=100)} % of real test images."
            if f
            else "."
        )
    )
    dc = d.get("data_copying") or {}
    if dc:
        z, p = finite(dc.get("z_u")), finite(dc.get("p_value"))
        if z is None:
            return text + " The data-copying test (Meehan et al. 2020) had too few images per cell to run."
        text += (
            f" The data-copying test of Meehan et al. 2020 (feature space, {number(dc.get('cells_used'))} "
            f"of {number(dc.get('cells'))} k-means cells of the training set, a one-sided Mann\u2013Whitney "
            f"test per cell) gives Z_U = {fixed(z, 2)}, p = {number(p, 3)}: {_copying_reading(z)} (Z_U below "
            "\u22123 reads as copying)."
        )
    return text


def _copying_reading(z: float) -> str:
    if z < -3:
        return (
            "data-copying in the test's sense: generated images sit closer to their nearest training "
            "image than real test images do, even where none is a near copy (samples crowding the "
            "densest regions, e.g. after a partial mode collapse, do this too)"
        )
    if z < 3:
        return "no evidence of data-copying"
    return "generated images sit farther from the training images than real test images do (not copying)"


def _memo_rows(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The memorisation numbers as key-value rows, the real test images as the reference."""
    m, f = d.get("memorization") or {}, d.get("memorization_floor") or {}
    rows = [
        ("near copies (synthetic)", f"{number(m.get('near_copy_count'))} / {number(m.get('n_synthetic'))}"),
        (
            "near copies (real test, reference)",
            f"{number(f.get('near_copy_count'))} / {number(f.get('n_synthetic'))}" if f else MISSING,
        ),
        ("authentic fraction (synthetic)", fixed(m.get("authentic_fraction"), 3)),
        (
            "authentic fraction (real test, reference)",
            fixed(f.get("authentic_fraction"), 3) if f else MISSING,
        ),
    ]
    for space in ("pixel", "feature"):
        sp = m.get(space)
        if isinstance(sp, Mapping):
            rows.append(
                (
                    f"{space} space: min / median distance ratio",
                    f"{fixed(sp.get('min_ratio'), 3)} / {fixed(sp.get('median_ratio'), 3)}",
                )
            )
    per_class = m.get("near_copy_per_class") or {}
    if per_class and any(per_class.values()):
        rows.append(("near copies per class", ", ".join(f"{k} {v}" for k, v in per_class.items() if v)))
    rare = d.get("rare_class_memorization") or {}
    if isinstance(rare.get("synthetic"), Mapping):  # ganaug.diagnostics.rare_class_memorization
        rs, rf = rare["synthetic"], rare.get("test_floor") or {}
        own = (
            f" (its real test images: {number(rf.get('near_copy_count'))} / {number(rf.get('n'))}, "
            f"{fixed(rf.get('authentic_fraction'), 3)})"
            if rf
            else ""
        )
        rows.append(
            (
                f"rarest class {rare.get('class')!r} ({number(rare.get('n_train'))} training images) vs its own "
                "training images: near copies / authentic",
                f"{number(rs.get('near_copy_count'))} / {number(rs.get('n'))}, "
                f"{fixed(rs.get('authentic_fraction'), 3)}{own}",
            )
        )
    dc = d.get("data_copying") or {}
    if dc:
        z, p = finite(dc.get("z_u")), finite(dc.get("p_value"))
        rows.append(("data-copying test Z_U (one-sided p)", f"{fixed(z, 2)} ({number(p, 3)})"))
    return rows
