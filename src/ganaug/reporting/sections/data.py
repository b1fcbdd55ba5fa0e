"""Section 1, the data: what the inspect stage found and the split (``prepared/``), read as
:class:`~ganaug.data.validate.InspectReport` and :class:`~ganaug.data.split.Split`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.data.split import SPLITS, Split
from ganaug.data.validate import InspectReport, Problem
from ganaug.formatting import number
from ganaug.reporting.classes import shown_classes
from ganaug.reporting.figures import Numbering
from ganaug.reporting.plots import class_counts
from ganaug.utils import read_json

MAX_PROBLEMS = 500  # problem rows listed in full (the counts by kind cover all of them)


def data_section(run: Path, num: Numbering) -> dict[str, Any]:
    sec: dict[str, Any] = {"id": "data", "title": "Data"}
    inspect_path = next(
        (p for p in (run / "prepared" / "inspect.json", run / "inspect.json") if p.exists()), None
    )
    split_path = run / "prepared" / "split.json"
    if inspect_path is None and not split_path.exists():
        return {
            **sec,
            "status": "missing",
            "note": "no prepared/inspect.json or prepared/split.json (the inspect and split stages).",
        }
    class_names: list[str] = []
    per_col: dict[str, dict[str, int]] = {}  # table column ("source", "train", ...) -> class -> images
    if inspect_path is not None:
        insp = InspectReport.from_dict(read_json(inspect_path))
        sec.update(_inspect_part(insp))
        class_names = list(insp.class_names or insp.counts)
        if insp.counts:
            per_col["source"] = {str(k): int(v) for k, v in insp.counts.items()}

    split_counts: dict[str, dict[str, int]] = {}
    if split_path.exists():
        split = Split.load(split_path)
        class_names = split.class_names or class_names
        split_counts = _split_counts(split, run)
        per_col.update({s: split_counts[s] for s in SPLITS if s in split_counts})
        sec.update(_split_part(split, split_counts))
    else:
        sec["split_missing"] = True

    if class_names and per_col:
        sec.update(_class_table(class_names, per_col))
        if split_counts:
            png = class_counts({k: split_counts[k] for k in SPLITS if k in split_counts}, class_names)
            sec["counts_fig"] = num.figure(png, alt="images per class")
    # Table numbers in page order: the class table, then the problems.
    if sec.get("class_table"):
        sec["class_table_number"] = num.table()
    if sec.get("problem_kinds"):
        sec["problems_number"] = num.table()
    sec["class_names"] = class_names
    return sec


# ----------------------------------------------------------------------------
# Inspect


def _inspect_part(insp: InspectReport) -> dict[str, Any]:
    """The source summary and its problems."""
    res = insp.resolution
    return {
        "inspect": {
            "source": insp.source,
            "format": insp.format,
            "num_files": number(insp.num_files),
            "num_loaded": number(insp.num_loaded),
            "num_classes": len(insp.class_names or insp.counts),
            "resolution": f"{res[0]}\u00d7{res[1]}" if res and len(res) == 2 else "",
            "channels": insp.channels,
            "resolution_reason": insp.resolution_reason,
            "notes": list(insp.notes),
        },
        "problem_kinds": _problem_kinds(insp.problems),
        "problems": insp.problems[:MAX_PROBLEMS],
        "problems_total": len(insp.problems),
        "problems_truncated": len(insp.problems) > MAX_PROBLEMS,
    }


def _problem_kinds(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """One row per kind of problem: its severity, how many files, the first as an example."""
    by_kind: dict[str, dict[str, Any]] = {}
    for p in problems:
        rec = by_kind.setdefault(
            p.kind, {"kind": p.kind, "severity": p.severity, "count": 0, "example": f"{p.path}: {p.reason}"}
        )
        rec["count"] += 1
    # Skips first (data left out), then the most frequent.
    return sorted(by_kind.values(), key=lambda r: (r["severity"] != "skip", -r["count"], r["kind"]))


# ----------------------------------------------------------------------------
# Split


def _split_counts(split: Split, run: Path) -> dict[str, dict[str, int]]:
    """Per split, images per class: stored in split.json, else counted from images.npz's labels."""
    stored = split.counts()
    if stored:
        return {
            str(s): {str(k): int(v) for k, v in c.items()}
            for s, c in stored.items()
            if isinstance(c, Mapping)
        }
    npz = run / "prepared" / "images.npz"
    if not split.class_names or not npz.exists():
        return {}
    with np.load(npz, allow_pickle=False) as z:  # reads only the labels array
        return split.counts(z["labels"]) if "labels" in z.files else {}


def _split_part(split: Split, counts: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """The split's facts as key-value rows, its notes, and what the honesty note needs."""
    sizes = {s: len(split.indices[s]) for s in SPLITS}
    rows = [
        ("seed", number(split.seed)),
        ("fractions", f"val {number(split.val_fraction)}, test {number(split.test_fraction)}"),
        ("images per split", ", ".join(f"{k} {number(v)}" for k, v in sizes.items())),
    ]
    opts = split.options
    if opts.get("predefined_test"):
        rows.append(("test split", "the source's predefined test partition, kept as is"))
    if opts.get("per_class_limit") is not None:
        rows.append(("scarcity", f"at most {number(opts['per_class_limit'])} training images per class"))
    if opts.get("imbalance"):
        caps = ", ".join(f"{k} {v}" for k, v in opts["imbalance"].items())
        rows.append(("imbalance", f"training images per class capped at {caps}"))
    if split.dropped:
        rows.append(
            (
                "left out of train",
                f"{number(len(split.dropped))} images (listed in split.json; never trained on)",
            )
        )
    prep = opts.get("prepare") if isinstance(opts.get("prepare"), Mapping) else {}
    if prep.get("resolution") or prep.get("fit"):
        shown = ("resolution", "channels", "fit", "resample")
        rows.append(
            ("preprocessing", ", ".join(f"{k} {v}" for k, v in prep.items() if k in shown and v is not None))
        )
    return {
        "has_split": True,
        "split": rows,
        "split_notes": [str(n) for n in split.notes],
        "test_size": number(sizes["test"]),
        "test_hashes": bool(split.hashes["test"]),
    }


def _class_table(class_names: Sequence[str], per_col: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """Images per class in each column (source, train, val, test), a total row over every class, the
    imbalance ratios; with many classes only the rarest and the largest are listed (``classes_hidden``)."""
    columns = list(per_col)
    shown = shown_classes(class_names, per_col.get("train") or per_col.get("source"))
    table = [{"name": c, "cells": [number(per_col[col].get(c, 0)) for col in columns]} for c in shown]
    totals = [number(sum(per_col[col].get(c, 0) for c in class_names)) for col in columns]
    table.append({"name": "total", "total": True, "cells": totals})
    hidden = len(class_names) - len(shown)
    ratios = []
    for col in ("source", "train"):
        vals = [v for v in per_col.get(col, {}).values() if v > 0]
        if vals:
            ratios.append((col, f"{max(vals) / min(vals):.2f}"))
    return {"class_table": table, "class_columns": columns, "ratios": ratios, "classes_hidden": hidden}
