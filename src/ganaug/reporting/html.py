"""Read a pipeline run folder and render the one self-contained ``report.html``.

Each section is built by one function from the files one stage wrote; a section whose inputs
are missing says "not run yet", one whose inputs cannot be read says why, and the rest of the
report still renders. Every figure is embedded as a ``data:`` URI, so the file can be mailed,
archived or opened offline; it references nothing outside itself.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import json
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganaug.utils import atomic_write_text, read_json, read_jsonl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PROBLEMS = 500  # problem rows listed in full (the counts by kind cover all of them)
_FAKES_RE = re.compile(
    r"^fakes(\d+(?:\.\d+)?)\.png$"
)  # fakes000010.000.png (or fakes000010.png) = at 10 kimg


# ----------------------------------------------------------------------------
# Small helpers


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes, or None when they are not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _num(v: Any) -> float | None:
    """A finite float, or None (JSON null, NaN, a string...)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt(v: Any, digits: int = 3, signed: bool = False) -> str:
    """Numbers for tables: ints as ints, floats to ``digits`` significant digits, missing as a dash."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:+,d}" if signed else f"{v:,d}"
    f = _num(v)
    if f is None:
        return "\u2013" if v is None or isinstance(v, (int, float)) else str(v)
    if f != 0 and (abs(f) >= 10 ** (digits + 2) or abs(f) < 10 ** -(digits + 1)):
        return f"{f:+.{digits - 1}e}" if signed else f"{f:.{digits - 1}e}"
    s = f"{f:+.{digits}g}" if signed else f"{f:.{digits}g}"
    return s


def fixed(v: Any, decimals: int = 1, signed: bool = False, scale: float = 1.0) -> str:
    f = _num(v)
    if f is None:
        return "\u2013"
    return f"{f * scale:+.{decimals}f}" if signed else f"{f * scale:.{decimals}f}"


def _human_seconds(s: Any) -> str:
    f = _num(s)
    if f is None:
        return "\u2013"
    if f < 60:
        return f"{f:.1f} s"
    if f < 3600:
        return f"{int(f // 60)} min {int(f % 60):02d} s"
    return f"{int(f // 3600)} h {int(f % 3600 // 60):02d} min"


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class _Numbering:
    """Figure and table numbers in page order."""

    def __init__(self) -> None:
        self.figures = 0
        self.tables = 0

    def figure(
        self, png: bytes | None, caption: str, alt: str = "", display_width: int | None = None
    ) -> dict[str, Any] | None:
        """A numbered figure; ``display_width``: about how wide it is shown (pixel-art upscaling below it)."""
        if not png:
            return None
        size = png_size(png)
        if size is None:  # not a PNG: leave it out rather than embed a broken image
            return None
        self.figures += 1
        pixel = display_width is not None and size[0] < display_width
        return {
            "uri": data_uri(png),
            "caption": caption,
            "alt": alt or caption[:120],
            "number": self.figures,
            "width": size[0],
            "height": size[1],
            "pixel": pixel,
            # Sample grids are enlarged (crisp pixels) but at most 2.5x, so tiny grids stay modest.
            "max_width": int(size[0] * 2.5) if pixel else None,
        }

    def table(self) -> int:
        self.tables += 1
        return self.tables


def _guard(
    sid: str, title: str, num: _Numbering, files: str, fn: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run a section builder; a file that cannot be read becomes an error note, not a crash."""
    counters = (num.figures, num.tables)
    try:
        sec = fn()
    except Exception as e:  # noqa: BLE001 -- the report must render whatever one stage left behind
        num.figures, num.tables = counters  # no gaps in the numbering
        sec = {
            "status": "error",
            "note": f"This section could not be built from {files}: {type(e).__name__}: {e}. The file may be "
            "from an older or newer ganaug, or damaged; re-running its stage rewrites it.",
        }
    sec.setdefault("id", sid)
    sec.setdefault("title", title)
    sec.setdefault("status", "ok")
    return sec


def _read_png(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if png_size(data) else None


def _first_existing(*paths: Path) -> Path | None:
    for p in paths:
        if p.exists():
            return p
    return None


# ----------------------------------------------------------------------------
# 1. Data


def _inspect_summary(d: Mapping[str, Any]) -> dict[str, Any]:
    res = d.get("resolution")
    return {
        "source": d.get("source", "?"),
        "format": d.get("format", ""),
        "num_files": fmt(d.get("num_files", 0)),
        "num_loaded": fmt(d.get("num_loaded", 0)),
        "num_classes": len(d.get("class_names") or d.get("counts") or []),
        "resolution": f"{res[0]}\u00d7{res[1]}" if isinstance(res, (list, tuple)) and len(res) == 2 else "",
        "channels": d.get("channels"),
        "resolution_reason": d.get("resolution_reason", ""),
        "notes": list(d.get("notes") or []),
    }


def _problem_kinds(problems: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    by_kind: dict[str, dict[str, Any]] = {}
    for p in problems:
        kind = str(p.get("kind", "?"))
        rec = by_kind.setdefault(
            kind,
            {
                "kind": kind,
                "severity": p.get("severity", ""),
                "count": 0,
                "example": f"{p.get('path', '')}: {p.get('reason', '')}",
            },
        )
        rec["count"] += 1
    # Skips first (data left out), then the most frequent.
    return sorted(by_kind.values(), key=lambda r: (r["severity"] != "skip", -r["count"], r["kind"]))


def split_parts(split: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The train/val/test records (indices, paths, hashes) of a split.json."""
    parts = split.get("splits")
    if not isinstance(parts, Mapping):
        return {}
    return {str(k): v for k, v in parts.items() if isinstance(v, Mapping)}


def _part_size(part: Mapping[str, Any]) -> int | None:
    for key in ("indices", "hashes"):
        if isinstance(part.get(key), list):
            return len(part[key])
    return None


def split_info(split: Mapping[str, Any]) -> dict[str, Any]:
    """Seed, fractions, sizes, options and class names of a split.json (``ganaug.data.split.Split``)."""
    parts = split_parts(split)
    fractions = {
        k: split[f"{k}_fraction"] for k in ("val", "test") if _num(split.get(f"{k}_fraction")) is not None
    }
    sizes = {k: n for k, n in ((k, _part_size(p)) for k, p in parts.items()) if n is not None}
    options = split.get("options") if isinstance(split.get("options"), Mapping) else {}
    test = parts.get("test", {})
    return {
        "seed": split.get("seed"),
        "fractions": fractions,
        "sizes": sizes,
        "options": dict(options),
        "counts": options.get("counts") if isinstance(options.get("counts"), Mapping) else None,
        "notes": [str(n) for n in split.get("notes") or []],
        "dropped": list(split.get("dropped") or []),
        "num_images": split.get("num_images"),
        "class_names": list(split.get("class_names") or []),
        "test_hashes": bool(test.get("hashes")),
    }


def _split_counts(split: Mapping[str, Any], run: Path, class_names: list[str]) -> dict[str, dict[str, int]]:
    """Per split, images per class: stored in split.json, else counted from images.npz's labels."""
    stored = split_info(split)["counts"]
    if stored:
        return {
            str(s): {str(k): int(v) for k, v in c.items()}
            for s, c in stored.items()
            if isinstance(c, Mapping)
        }
    out: dict[str, dict[str, int]] = {}
    labels = None
    for name, part in split_parts(split).items():
        if part.get("indices") is None or not class_names:
            continue
        if labels is None:
            labels = _npz_labels(run / "prepared" / "images.npz")
            if labels is None:
                return out
        c = [0] * len(class_names)
        for i in part["indices"]:
            c[int(labels[int(i)])] += 1
        out[name] = dict(zip(class_names, c))
    return out


def _npz_labels(path: Path):
    if not path.exists():
        return None
    import numpy as np

    with np.load(path, allow_pickle=False) as z:  # reads only the labels array
        return z["labels"] if "labels" in z.files else None


def data_section(run: Path, num: _Numbering) -> dict[str, Any]:
    sec: dict[str, Any] = {"id": "data", "title": "Data"}
    inspect_path = _first_existing(run / "prepared" / "inspect.json", run / "inspect.json")
    split_path = run / "prepared" / "split.json"
    if inspect_path is None and not split_path.exists():
        return {
            **sec,
            "status": "missing",
            "note": "no prepared/inspect.json or prepared/split.json (the inspect and split stages).",
        }
    insp = read_json(inspect_path) if inspect_path else None
    split = read_json(split_path) if split_path.exists() else None

    class_names: list[str] = []
    columns: list[str] = []
    per_col: dict[str, dict[str, int]] = {}
    if insp:
        sec["inspect"] = _inspect_summary(insp)
        class_names = list(insp.get("class_names") or insp.get("counts") or [])
        if insp.get("counts"):
            columns.append("source")
            per_col["source"] = {str(k): int(v) for k, v in insp["counts"].items()}
        problems = list(insp.get("problems") or [])
        sec["problem_kinds"] = _problem_kinds(problems)
        sec["problems"] = problems[:_MAX_PROBLEMS]
        sec["problems_total"] = len(problems)
        sec["problems_truncated"] = len(problems) > _MAX_PROBLEMS

    split_counts: dict[str, dict[str, int]] = {}
    if split is not None:
        info = split_info(split)
        class_names = info["class_names"] or class_names
        split_counts = _split_counts(split, run, class_names)
        for name in ("train", "val", "test"):
            if name in split_counts:
                columns.append(name)
                per_col[name] = split_counts[name]
        sec["has_split"] = True
        rows = [("seed", fmt(info["seed"]))]
        if info["fractions"]:
            rows.append(("fractions", ", ".join(f"{k} {fmt(v)}" for k, v in info["fractions"].items())))
        sizes = info["sizes"] or {k: sum(v.values()) for k, v in split_counts.items()}
        if sizes:
            rows.append(("images per split", ", ".join(f"{k} {fmt(v)}" for k, v in sizes.items())))
        opts = info["options"]
        if opts.get("predefined_test"):
            rows.append(("test split", "the source's predefined test partition, kept as is"))
        if opts.get("per_class_limit") is not None:
            rows.append(("scarcity", f"at most {fmt(opts['per_class_limit'])} training images per class"))
        if opts.get("imbalance"):
            rows.append(
                (
                    "imbalance",
                    "training images per class capped at "
                    + ", ".join(f"{k} {v}" for k, v in opts["imbalance"].items()),
                )
            )
        if info["dropped"]:
            rows.append(
                (
                    "left out of train",
                    f"{fmt(len(info['dropped']))} images (listed in split.json; never trained on)",
                )
            )
        prep = opts.get("prepare") if isinstance(opts.get("prepare"), Mapping) else {}
        if prep.get("resolution") or prep.get("fit"):
            rows.append(
                (
                    "preprocessing",
                    ", ".join(
                        f"{k} {v}"
                        for k, v in prep.items()
                        if k in ("resolution", "channels", "fit", "resample") and v is not None
                    ),
                )
            )
        sec["split"] = rows
        sec["split_notes"] = info["notes"]
        test_n = sizes.get("test")
        sec["split_note"] = "The test split is fixed here, before any training; " + (
            f"the SHA-256 hash of each of its {fmt(test_n)} images is recorded in prepared/split.json, "
            "so anyone can check that no test image was used for training or model selection."
            if info["test_hashes"]
            else "no per-image hashes were found in split.json."
        )
        sec["_test_size"] = test_n
        sec["_test_hashes"] = info["test_hashes"]
    else:
        sec["split_missing"] = (
            "no prepared/split.json (the split stage): no train/val/test split was made yet."
        )

    if class_names and per_col:
        table = []
        for c in class_names:
            table.append({"name": c, "cells": [fmt(per_col[col].get(c, 0)) for col in columns]})
        table.append(
            {
                "name": "total",
                "total": True,
                "cells": [fmt(sum(per_col[col].get(c, 0) for c in class_names)) for col in columns],
            }
        )
        sec["class_table"] = table
        sec["class_columns"] = columns
        ratios = []
        for col in ("source", "train"):
            vals = [v for v in per_col.get(col, {}).values() if v > 0]
            if vals:
                ratios.append((col, f"{max(vals) / min(vals):.2f}"))
        sec["ratios"] = ratios
        if split_counts:
            from ganaug.reporting import plots

            png = plots.class_counts(
                {k: split_counts[k] for k in ("train", "val", "test") if k in split_counts}, class_names
            )
            sec["counts_fig"] = num.figure(
                png,
                "Real images per class and split. The GAN is trained on the "
                "train part only; val selects the classifier's best epoch; test is "
                "used once, for the reported numbers.",
                alt="images per class",
            )
    # Table numbers in page order: the class table, then the problems.
    if sec.get("class_table"):
        sec["class_table_number"] = num.table()
    if sec.get("problem_kinds"):
        sec["problems_number"] = num.table()
    sec["_class_names"] = class_names
    return sec


# ----------------------------------------------------------------------------
# 2. GAN training


def _kimg_of(path: Path) -> float | None:
    if path.name == "fakes_init.png":
        return 0.0
    m = _FAKES_RE.match(path.name)
    return float(m.group(1)) if m else None


def select_fakes(gan: Path, n: int = 4) -> list[tuple[Path, float]]:
    """The first (initialisation), evenly spaced middle ones and the last sample grid."""
    found = [(p, _kimg_of(p)) for p in gan.glob("fakes*.png")]
    found = sorted(
        [(p, k) for p, k in found if k is not None], key=lambda pk: (pk[1], pk[0].name != "fakes_init.png")
    )
    if len(found) <= n:
        return found
    idx = sorted({round(i * (len(found) - 1) / (n - 1)) for i in range(n)})
    return [found[i] for i in idx]


def gan_section(run: Path, num: _Numbering, class_names: Sequence[str]) -> dict[str, Any]:
    from ganaug.reporting import plots

    gan = run / "gan"
    if not gan.is_dir() and (run / "training_options.json").is_file():
        gan = run  # a `ganaug train` run folder itself (runs/00000-<data>-<arch>/), not a `ganaug run` folder
    sec: dict[str, Any] = {"id": "gan", "title": "GAN training"}
    opts_path, stats_path = gan / "training_options.json", gan / "stats.jsonl"
    if not gan.is_dir() or (not opts_path.exists() and not stats_path.exists()):
        return {
            **sec,
            "status": "missing",
            "note": "no gan/training_options.json or gan/stats.jsonl (the train stage).",
        }
    opts: dict[str, Any] = {}
    if opts_path.exists():
        try:
            opts = read_json(opts_path)
        except ValueError as e:  # the curves and grids are still worth showing
            sec["read_errors"] = [
                f"gan/training_options.json cannot be read ({e}); the options are not shown."
            ]
    stats = read_jsonl(stats_path)
    net = opts.get("network", {}) if isinstance(opts.get("network"), Mapping) else {}
    conditional = (net.get("num_classes") or 0) > 0
    names = list((opts.get("data") or {}).get("classes") or class_names)

    if opts:
        aug = opts.get("aug", "?")
        aug_txt = str(aug)
        if aug == "ada":
            aug_txt += f" (target {fmt(opts.get('ada_target'))}, speed {fmt(opts.get('ada_kimg'))} kimg)"
        elif aug == "fixed":
            aug_txt += f" (p = {fmt(opts.get('aug_p'))})"
        elif aug == "diffaug":
            aug_txt += f" ({opts.get('diffaug_policy', '')})"
        res = net.get("resolution")
        rows = [
            (
                "architecture",
                f"{net.get('arch', '?')}" + (f" (preset {opts['preset']})" if opts.get("preset") else ""),
            ),
            ("resolution", f"{res}\u00d7{res}, {net.get('channels', '?')} channel(s)" if res else "?"),
            (
                "conditioning",
                f"class-conditional, {net.get('num_classes')} classes" if conditional else "unconditional",
            ),
            ("training length", f"{fmt(opts.get('kimg'))} kimg"),
            ("batch", fmt(opts.get("batch_size"))),
            ("augmentation of D's inputs", aug_txt),
            ("loss", str(opts.get("loss", "?"))),
            ("learning rates G / D", f"{fmt(opts.get('g_lr'))} / {fmt(opts.get('d_lr'))}"),
            ("seed", fmt(opts.get("seed"))),
        ]
        r1 = opts.get("r1_gamma")
        if r1 not in (None, 0, 0.0) or net.get("arch") == "stylegan2":
            rows.insert(7, ("R1 gamma", "auto" if r1 is None else fmt(r1)))
        budget = opts.get("budget") if isinstance(opts.get("budget"), Mapping) else None
        if budget:
            rows.insert(2, ("time budget", _budget_text(budget)))
        data = opts.get("data") or {}
        if data.get("images"):
            rows.append(("training images", f"{fmt(data['images'])} (train split only)"))
        sec["options"] = rows

    if stats:
        last = stats[-1]
        target = _num(opts.get("kimg"))
        reached = _num(last.get("kimg"))
        sec["last"] = [
            ("kimg reached", f"{fmt(reached)}" + (f" of {fmt(target)}" if target else "")),
            ("ticks", fmt(last.get("tick"))),
            ("training time", _human_seconds(last.get("time_s"))),
            ("throughput", f"{fixed(last.get('img_per_s'), 0)} img/s"),
            (
                "last D accuracy real / fake",
                f"{fixed(last.get('d_real_acc'), 2)} / {fixed(last.get('d_fake_acc'), 2)}",
            ),
            ("last augment p", fixed(last.get("aug_p"), 3)),
            ("peak memory", f"{fixed(last.get('mem_mb'), 0)} MB"),
        ]
        if target and reached is not None and reached < target - 1e-6:
            sec["summary"] = (
                f"Training stopped at {fmt(reached)} of {fmt(target)} kimg (interrupted or still "
                "running); the samples and metrics below come from the last snapshot."
            )
        warnings = []
        for r in stats:
            for key in ("warning", "warnings", "error"):
                w = r.get(key)
                for text in [w] if isinstance(w, str) else list(w or []):
                    if key == "error" and text == "diverged":
                        text = "training diverged (NaN/Inf loss); the last good snapshot was kept"
                    warnings.append({"kimg": fmt(r.get("kimg")), "text": str(text)})
        sec["warnings"] = warnings
        sec["curves_fig"] = num.figure(
            plots.training_curves(stats),
            "Training curves against kimg (thousands of real images shown to D). Left: G and D losses. "
            "Middle: D's accuracy on reals and fakes (both near 1 for long means D wins and G gets little "
            "signal; near 0.5 means D cannot tell). Right: the augmentation probability p and, with ADA, the "
            "overfitting statistic r_t it steers toward its target. Red dashed lines: ticks with a warning.",
            alt="GAN training curves",
        )
    else:
        sec["stats_missing"] = "No stats.jsonl lines yet: training has not completed a tick."
    from ganaug.diagnostics import class_curves_png, read_class_stats

    sec["class_fig"] = num.figure(
        class_curves_png(read_class_stats(gan)),
        "Per class, at every tick: recall (does the generator reach the variety of the class's real images?) and "
        "coverage (how many real images have a generated one close by) of G_ema's samples against a fixed "
        "sample of that class's training images (the same number per class), on pixels downscaled to "
        "16\u00d716 (gan/class_stats.jsonl). "
        "Cheap features meant for the trend: a class whose curves fall while the others hold is collapsing; "
        "section 3 has the calibrated numbers.",
        alt="per-class recall and coverage during training",
    )

    # Sample grids: reals next to the last fakes, then the fakes over training (fixed seeds).
    rows_txt = (" Rows, top to bottom: " + ", ".join(names) + ".") if conditional and names else ""
    picks = select_fakes(gan, n=5)
    n_fakes = len([p for p in gan.glob("fakes*.png") if _kimg_of(p) is not None])
    compare = []
    reals = _read_png(gan / "reals.png")
    if reals:
        compare.append(
            num.figure(
                reals, "Real training images." + rows_txt, alt="real training images", display_width=520
            )
        )
    last = picks[-1] if picks and picks[-1][0].name != "fakes_init.png" else None
    last_png = _read_png(last[0]) if last else None
    if last_png:
        compare.append(
            num.figure(
                last_png,
                f"Generated at the end of training ({last[1]:g} kimg), G_ema with fixed "
                "seeds" + (", one class per row as on the left." if conditional else "."),
                alt="generated samples, last",
                display_width=520,
            )
        )
    evolution = []
    for p, k in picks[:-1] if last_png else picks:
        png = _read_png(p)
        if png:
            when = "at initialisation (0 kimg)" if p.name == "fakes_init.png" else f"at {k:g} kimg"
            evolution.append(
                num.figure(
                    png,
                    f"Generated {when}.",
                    alt=f"generated samples {when}",
                    display_width=1000 // max(len(picks) - 1, 2),
                )
            )
    sec["compare"] = [g for g in compare if g]
    sec["grids"] = [g for g in evolution if g]
    if sec["compare"] or sec["grids"]:
        sec["grid_note"] = (
            f"{n_fakes} sample grids were written during training; "
            + (f"{len(sec['grids']) + (1 if last_png else 0)} are shown. " if n_fakes else "")
            + "Every grid uses the same seeds (and classes), so a cell can be followed over time."
        )
    return sec


def _budget_text(b: Mapping[str, Any]) -> str:
    """The time budget row: budget, chosen resolution and why, the estimate."""
    res, side = b.get("resolution"), b.get("data_side")
    text = (f"{_human_seconds(b.get('budget_s'))} ({b.get('budget_source', '')}): " if b.get("budget_s")
            else "none: ")
    text += f"trained at {res} px, estimated {_human_seconds(b.get('estimated_s'))}"
    if b.get("kimg_requested"):
        text += f"; shortened from {fmt(b['kimg_requested'])} to {fmt(b.get('kimg'))} kimg to fit"
    if b.get("over_budget"):
        text += "; over budget (resolution and kimg were given)"
    if side and res != side:
        text += f"; the data is {side} px: generated images are resized to it for evaluation and the benchmark"
    return text


# ----------------------------------------------------------------------------
# 3. Sample quality (evaluate/metrics.json, written by ganaug.metrics.evaluation)

# key, column label, better direction, scale for display, decimals
_DIST_GROUPS = (
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
_COLS = (("vs_train", "vs train"), ("vs_test", "vs test"), ("floor", "floor"))


def _cell(text: str, cls: str = "") -> dict[str, str]:
    return {"text": text, "cls": cls}


def _metric_value(
    m: Mapping[str, Any], key: str, col: str, scale: float, decimals: int | None, sd: Mapping[str, Any] | None = None
) -> str:
    """3 significant digits (FID, KID) with the SD over matched draws where there is one, or fixed
    decimals for the [0, 1]-like PRDC values."""
    v = _num((m.get(key) or {}).get(col))
    if decimals is not None:
        return fixed(v, decimals, scale=scale)
    spread = _num(((sd or {}).get(key) or {}).get(col))
    text = fmt(v * scale if v is not None else None, 3)
    return text + (f" \u00b1 {fmt(spread * scale, 2)}" if v is not None and spread is not None else "")


def _extractor_text(features: Mapping[str, Any]) -> tuple[str, str]:
    kind = str(features.get("kind", "?"))
    if kind == "trained":
        bits = [
            f"{features.get('arch', 'classifier')} trained on {fmt(features.get('n_train'))} training images"
        ]
        if features.get("n_val") is not None:
            bits.append(f"best epoch chosen on {fmt(features.get('n_val'))} validation images")
        if _num(features.get("val_balanced_accuracy")) is not None:
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


def quality_section(run: Path, num: _Numbering) -> dict[str, Any]:
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
    sec["extractor"], sec["extractor_detail"] = _extractor_text(features)
    kind = features.get("kind")
    caveat = str(features.get("note") or "")
    if kind != "inception":
        what = {
            "trained": "the features of a network trained on this dataset's training split",
            "pixels": "raw pixels",
        }.get(str(kind), f"{kind} features")
        sec["honesty_features"] = (
            "Feature-space metrics (FID, KID, precision/recall, density/coverage) here use "
            f"{what}: they compare runs within this dataset and split only, never with published FID values."
        )
    else:
        sec["honesty_features"] = (
            "Feature-space metrics use the standard Inception-v3 network; even so, FID "
            "depends on sample size, so compare only numbers computed on equal-sized sets."
        )
    sec["caveat"] = ((caveat[:1].upper() + caveat[1:].rstrip(".") + ". ") if caveat else "") + (
        "The floor columns compare the real training split with the real test split (test images in "
        "the synthetic role): the value real data itself reaches, so judge a synthetic set against it, "
        "not against 0 or 1."
    )

    metrics = d.get("metrics") or {}
    counts = d.get("counts") or {}
    spreads = d.get("spread") or {}
    scopes = list(metrics)
    tables = []
    for gi, group in enumerate(_DIST_GROUPS):
        groups = [("", 2 if gi == 0 else 1)] + [(f"{label}", len(_COLS)) for _, label, _, _, _ in group]
        header = (
            ["scope"]
            + (["images (synth / train / test)"] if gi == 0 else [])
            + [c for _ in group for _, c in _COLS]
        )
        rows = []
        for scope in scopes:
            c = counts.get(scope) or {}
            cells = []
            if gi == 0:
                matched = f" \u2192 {fmt(c['n_matched'])} each" if c.get("n_matched") is not None else ""
                cells.append(
                    _cell(
                        f"{fmt(c.get('n_synthetic'))} / {fmt(c.get('n_train'))} / {fmt(c.get('n_test'))}"
                        + matched,
                        "ref",
                    )
                )
            for key, _, _, scale, decimals in group:
                for col, _ in _COLS:
                    cells.append(
                        _cell(
                            _metric_value(metrics[scope], key, col, scale, decimals, spreads.get(scope)),
                            "ref" if col == "floor" else "",
                        )
                    )
            rows.append({"label": scope, "cls": "sub" if scope == "overall" else "", "cells": cells})
        caption = (
            "Distances between the synthetic and the real images"
            if gi == 0
            else "Precision, recall, density and coverage (k-nearest-neighbour manifolds)"
        )
        caption += (
            ", overall and per class: against the real training split, against the real test split, and "
            "the real-vs-real floor (train vs test, grey), all three at one matched size per row (the "
            "larger sets randomly subsampled to the smallest, mean over repeated draws"
            + ("; \u00b1 the SD over the draws" if gi == 0 else "")
            + "). "
            + "; ".join(f"{label}: {better}" for _, label, better, _, _ in group)
            + "."
        )
        tables.append(
            {"number": num.table(), "caption": caption, "groups": groups, "header": header, "rows": rows}
        )
    sec["tables"] = tables
    opts = d.get("options") or {}
    sec["metric_notes"] = (
        "FID: Fr\u00e9chet distance of Gaussian fits; KID: unbiased polynomial-kernel MMD\u00b2 (can be "
        "slightly negative); precision/recall/density/coverage: Naeem et al. "
        f"2020 with k = {opts.get('k', 5)}. These depend on sample size (FID most), so every column of a "
        f"row compares sets of the same size: {fmt(opts.get('repeats'))} random draws of the larger sets, "
        "averaged, so a large synthetic set cannot beat the floor on size alone. Per-class rows use few "
        "images, so expect them to be noisier than the overall row."
    )

    # Memorisation.
    m = d.get("memorization") or {}
    f = d.get("memorization_floor") or {}
    grid = _read_png(run / "evaluate" / "memorization.png")
    if m:
        n_syn, n_copy = m.get("n_synthetic"), m.get("near_copy_count")
        thr = _num(m.get("threshold"))
        frac = _num(m.get("near_copy_fraction"))
        auth = _num(m.get("authentic_fraction"))
        text = (
            f"{fmt(n_copy)} of {fmt(n_syn)} synthetic images "
            f"({fixed(frac, 1, scale=100)} %) are flagged as near copies of a "
            "training image, also mirrored or shifted by one pixel (nearest-neighbour distance below "
            f"{fixed(thr, 2)} of the typical distance between training images; threshold: "
            f"{m.get('threshold_source', 'fixed')}). "
        )
        if f:
            text += (
                f"The same check flags {fmt(f.get('near_copy_count'))} of {fmt(f.get('n_synthetic'))} real "
                "test images, which were never trained on"
                + (
                    ": the threshold was calibrated on them, so this is the chosen quantile by construction. "
                    if str(m.get("threshold_source", "fixed")) != "fixed"
                    else ": that is the false-flag rate. "
                )
            )
        text += (
            f"{fixed(auth, 0, scale=100)} % of synthetic images are authentic "
            f"({m.get('authentic_space', '?')} space; Alaa et al. 2022)"
            + (
                f", against {fixed(f.get('authentic_fraction'), 0, scale=100)} % of real test images."
                if f
                else "."
            )
        )
        rows = [
            ("near copies (synthetic)", f"{fmt(n_copy)} / {fmt(n_syn)}"),
            (
                "near copies (real test, reference)",
                f"{fmt(f.get('near_copy_count'))} / {fmt(f.get('n_synthetic'))}" if f else "\u2013",
            ),
            ("authentic fraction (synthetic)", fixed(auth, 3)),
            (
                "authentic fraction (real test, reference)",
                fixed(f.get("authentic_fraction"), 3) if f else "\u2013",
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
            rows.append((f"rarest class {rare.get('class')!r} ({fmt(rare.get('n_train'))} training images) vs its own "
                         "training images: near copies / authentic",
                         f"{fmt(rs.get('near_copy_count'))} / {fmt(rs.get('n'))}, {fixed(rs.get('authentic_fraction'), 3)}"
                         + (f" (its real test images: {fmt(rf.get('near_copy_count'))} / {fmt(rf.get('n'))}, "
                            f"{fixed(rf.get('authentic_fraction'), 3)})" if rf else "")))
        dc = d.get("data_copying") or {}
        if dc:
            z, p = _num(dc.get("z_u")), _num(dc.get("p_value"))
            rows.append(("data-copying test Z_U (one-sided p)", f"{fixed(z, 2)} ({fmt(p, 3)})"))
            if z is None:
                text += " The data-copying test (Meehan et al. 2020) had too few images per cell to run."
            else:
                reading = (
                    "data-copying in the test's sense: generated images sit closer to their nearest training "
                    "image than real test images do, even where none is a near copy (samples crowding the "
                    "densest regions, e.g. after a partial mode collapse, do this too)"
                    if z < -3
                    else "no evidence of data-copying"
                    if z < 3
                    else "generated images sit farther from the training images than real test images do "
                    "(not copying)"
                )
                text += (
                    f" The data-copying test of Meehan et al. 2020 (feature space, {fmt(dc.get('cells_used'))} "
                    f"of {fmt(dc.get('cells'))} k-means cells of the training set, a one-sided Mann\u2013Whitney "
                    f"test per cell) gives Z_U = {fixed(z, 2)}, p = {fmt(p, 3)}: {reading} (Z_U below \u22123 "
                    "reads as copying)."
                )
        fig = num.figure(
            grid,
            "The synthetic images closest to the training set (left column, smallest distance "
            "ratio first; scroll for more) next to their nearest training images, in pixel space. "
            "A red frame marks a flagged near copy. Look here before using the synthetic images: "
            "a GAN trained on few images can reproduce them.",
            alt="memorisation check",
        )
        sec["memo"] = {"text": text, "rows": rows, "fig": fig}
    elif grid:
        sec["memo"] = {
            "text": "",
            "rows": [],
            "fig": num.figure(grid, "Closest synthetic images and their nearest training images."),
        }
    else:
        sec["memo_missing"] = "No memorisation summary in metrics.json and no evaluate/memorization.png."
    return sec


# ----------------------------------------------------------------------------
# 4. Benchmark (benchmark/results.json, written by ganaug.benchmarking)


def _load_benchmark(run: Path):
    from ganaug.benchmarking import BenchmarkResult

    return BenchmarkResult.load(run / "benchmark" / "results.json")


def _pts(x: Any, signed: bool = False) -> str:
    return fixed(x, 1, signed=signed, scale=100).replace("-", "\u2212")


def _ci(lo: Any, hi: Any) -> str:
    if _num(lo) is None or _num(hi) is None:
        return "\u2013"
    return f"[{_pts(lo)}, {_pts(hi)}]"


def _pvalue(p: Any) -> str:
    f = _num(p)
    if f is None:
        return "\u2013"
    return "< 0.001" if f < 0.001 else f"{f:.2g}" if f < 0.1 else f"{f:.2f}"


def _comparison_reading(c: Mapping[str, Any] | None) -> tuple[str, str]:
    """The benchmark's own reading of a comparison row and the CSS class of its cell."""
    if c is None:
        return "", ""
    r = c.get("reading") or "no result"
    return r, {"better": "pos", "worse": "neg"}.get(r, "")


def _reading(s: Mapping[str, Any]) -> tuple[str, str]:
    """Plain reading of a paired difference and the CSS class of its cell."""
    lo, hi, d = _num(s.get("diff_ci_low")), _num(s.get("diff_ci_high")), _num(s.get("diff"))
    if d is None:
        return "no result", ""
    if lo is None or hi is None:
        return "one seed: no interval", ""
    if lo > 0:
        return "better (CI above 0)", "pos"
    if hi < 0:
        return "worse (CI below 0)", "neg"
    return "no significant change (CI contains 0)", ""


def benchmark_section(run: Path, num: _Numbering) -> dict[str, Any]:
    from ganaug.benchmarking import METRIC_LABELS, METRICS

    sec: dict[str, Any] = {"id": "benchmark", "title": "Downstream benchmark"}
    if not (run / "benchmark" / "results.json").exists():
        return {
            **sec,
            "status": "missing",
            "note": "no benchmark/results.json (the benchmark stage): whether the synthetic images help a "
            "classifier is not known yet.",
        }
    res = _load_benchmark(run)
    cfg = res.config or {}
    n_seeds = len(res.seeds)
    primary = METRICS[0]
    sec["_result"] = res
    ref = res.summary.get("real", {}).get(primary, {})
    sec["summary"] = (
        f"A {cfg.get('arch', 'classifier')} is trained for each arm (a way of building the training set) "
        f"and each of {n_seeds} seed{'s' if n_seeds != 1 else ''}, every arm for the same "
        f"{fmt(cfg.get('steps'))} optimiser steps (batch {cfg.get('batch_size', '?')}, whatever the arm's "
        "number of images), keeping the checkpoint that scores best on the real validation split, then "
        "scored once on the real test split. "
        "Synthetic images are added as a "
        f"fraction of the {fmt(sum((cfg.get('train_counts') or {}).values()) or None)} real training images, "
        f"drawn with the \u201c{cfg.get('balance', '?')}\u201d rule "
        + (
            "(rare classes topped up first)"
            if cfg.get("balance") == "fix"
            else "(real class proportions kept)"
        )
        + ". The fraction reported as the GAN result and the best baseline are chosen on the validation "
        "split. Differences are paired by seed and resampled over seeds and test images (bootstrap); "
        "comparisons other than the two primary ones (GAN vs real only, GAN vs random oversampling with the "
        "same images per class) are Holm-adjusted"
        + (f"; real only scores {_pts(ref.get('mean'))} % {METRIC_LABELS.get(primary, primary)}." if ref else ".")
    )

    label = METRIC_LABELS.get(primary, primary)
    sec["curve_fig"] = num.figure(
        res.plot(metric=primary),
        f"{label.capitalize()} on the real test split against the number of synthetic images added (as % "
        f"of the real training set; 0 % = real only). Points: mean over {n_seeds} seeds; bars: 95 % CI of "
        "the mean. Horizontal lines: real only and the baselines (shaded: their 95 % CI). Each arm's "
        "interval here is for its own mean; differences against real only are paired by seed and so are "
        "measured more precisely: judge them by the table below.",
        alt="benchmark curve",
    )

    # Headline metric: every arm, mean [CI], paired difference against real only.
    header = [
        "arm",
        "train images",
        "seeds",
        "single-class runs",
        f"{label} %",
        "95 % CI",
        "\u0394 vs real, points",
        "95 % CI",
        "adj. p",
        "reading",
    ]
    rows = []
    gan_arm = (res.choice or {}).get("gan_arm")
    for arm in res.arms:
        s = res.summary[arm.name]
        runs = [r for r in res.runs if r.get("arm") == arm.name]
        n_train = [r.get("n_train") for r in runs if r.get("n_train") is not None]
        collapsed = sum(bool(r.get("collapsed")) for r in runs)
        p = s[primary]
        cells = [
            _cell(fmt(round(sum(n_train) / len(n_train))) if n_train else "\u2013"),
            _cell(fmt(p.get("n"))),
            _cell(f"{collapsed} of {len(runs)}" if collapsed else "0", "neg" if collapsed else ""),
            _cell(_pts(p.get("mean"))),
            _cell(_ci(p.get("ci_low"), p.get("ci_high")), "ci"),
        ]
        c = next((c for c in res.comparisons if c["arm"] == arm.name and c["vs"] == "real"), None)
        if arm.name == "real":
            cells += [_cell("reference", "ci"), _cell(""), _cell(""), _cell("")]
        elif c is None:
            cells += [_cell("\u2013"), _cell(""), _cell(""), _cell("")]
        else:
            reading, cls = _comparison_reading(c)
            cells += [
                _cell(_pts(c.get("diff"), signed=True), cls),
                _cell(_ci(c.get("ci_low"), c.get("ci_high")), "ci"),
                _cell(_pvalue(c.get("p_adjusted"))),
                _cell(reading + (" (GAN arm, primary)" if arm.name == gan_arm else "")),
            ]
        rows.append(
            {"label": arm.label or arm.name, "cls": "sub" if arm.name == "real" else "", "cells": cells}
        )
    tables = [
        {
            "number": num.table(),
            "header": header,
            "rows": rows,
            "caption": (
                f"{label.capitalize()} of every arm on the real test split: classifiers that predict one "
                "class for every validation image (training failed; averaged in), mean over seeds and its 95 % "
                "CI in %; then the difference against real only, paired by seed, with its 95 % CI from the "
                "bootstrap over seeds and test images, the p-value (Holm-adjusted except for the GAN arm, a "
                "primary comparison) and its reading. Green: better; red: worse; inconclusive: cannot tell."
            ),
        }
    ]

    # The other metrics: mean and the paired difference [CI].
    others = [m for m in METRICS if m != primary]
    header = ["arm"] + [h for m in others for h in (f"{METRIC_LABELS.get(m, m)} %", "\u0394 [95 % CI]")]
    rows = []
    for arm in res.arms:
        cells = []
        for m in others:
            st = res.summary[arm.name][m]
            cells.append(_cell(_pts(st.get("mean"))))
            if arm.name == "real":
                cells.append(_cell("reference", "ci"))
            else:
                cells.append(
                    _cell(
                        f"{_pts(st.get('diff'), signed=True)} "
                        f"{_ci(st.get('diff_ci_low'), st.get('diff_ci_high'))}",
                        _reading(st)[1],
                    )
                )
        rows.append(
            {"label": arm.label or arm.name, "cls": "sub" if arm.name == "real" else "", "cells": cells}
        )
    tables.append(
        {
            "number": num.table(),
            "header": header,
            "rows": rows,
            "caption": "The other metrics: mean over seeds in %, and the paired difference against real only "
            "in points with its 95 % CI (the CIs of the means are in benchmark/results.csv).",
        }
    )

    # Per-class recall.
    classes = list(res.class_names)
    header = ["arm"] + classes
    rows = []
    for arm in res.arms:
        s = res.summary[arm.name]
        cells = []
        for c in classes:
            r = s.get(f"recall/{c}", {})
            cells.append(_cell(_pts(r.get("mean")), "" if arm.name == "real" else _reading(r)[1]))
        rows.append(
            {"label": arm.label or arm.name, "cls": "sub" if arm.name == "real" else "", "cells": cells}
        )
    train_counts = cfg.get("train_counts") or {}
    if train_counts:
        rows.append(
            {
                "label": "real training images",
                "cls": "ref",
                "cells": [_cell(fmt(train_counts.get(c))) for c in classes],
            }
        )
    tables.append(
        {
            "number": num.table(),
            "header": header,
            "rows": rows,
            "caption": "Recall per class on the test split (mean over seeds, %). Green / red: the paired "
            "difference against real only has a 95 % CI above / below 0. Rare classes are where "
            "augmentation should help, if anywhere.",
        }
    )
    sec["tables"] = tables

    chosen = [a.name for a in res.arms if a.kind in ("real", "mix")][:5]
    chosen += [a.name for a in res.arms if a.kind in ("classic", "oversample")][:1]
    sec["recall_fig"] = num.figure(
        res.plot_per_class(arms=chosen),
        "Recall per class on the test split (mean, 95 % CI of the mean) for real only, the synthetic "
        "fractions"
        + (
            " and one baseline"
            if len(chosen) > len([a for a in res.arms if a.kind in ("real", "mix")][:5])
            else ""
        )
        + "; n = real training images of the class.",
        alt="per-class recall",
    )

    notes = []
    for name, why in (res.skipped or {}).items():
        notes.append(f"Not run: {name} \u2014 {why}.")
    leak = res.leak_check or {}
    if leak:
        if any(leak.values()):
            notes.append(
                "Leak check FAILED: test images pixel-identical to images of another set: "
                + ", ".join(f"{k} {v}" for k, v in leak.items())
                + ". The numbers above are optimistic."
            )
        else:
            notes.append("Leak check: no test image is pixel-identical to any " + ", ".join(leak) + " image.")
    notes.append(
        f"Settings: fractions {', '.join(f'{100 * f:g} %' for f in cfg.get('fractions', []))}; "
        f"seeds {', '.join(str(s) for s in res.seeds)}; classifier {cfg.get('arch', '?')}, "
        f"{cfg.get('steps', '?')} optimiser steps for every arm ({cfg.get('epochs', '?')} passes over the real "
        f"training set, at least {cfg.get('min_steps', '?')}), batch {cfg.get('batch_size', '?')}, "
        f"lr {fmt(cfg.get('lr'))}, validation checkpoint every {cfg.get('eval_every', '?')} steps."
    )
    sec["notes"] = notes
    return sec


def verdict_box(run: Path, bench: Mapping[str, Any]) -> dict[str, Any]:
    """The plain-words verdict for the top of the page, with the paired CI of each arm."""
    res = bench.get("_result")
    if res is None:
        text = (
            "No verdict yet: the benchmark has not been run, so it is not known whether the synthetic "
            "images help."
        )
        if bench.get("status") == "error":
            text = "No verdict: the benchmark results could not be read (see section 4)."
        pj = run / "pipeline.json"
        if bench.get("status") == "error" and pj.exists():  # the pipeline keeps the verdict sentence too
            with contextlib.suppress(Exception):
                saved = (read_json(pj).get("stages") or {}).get("benchmark", {}).get("verdict")
                if saved:
                    text = saved
        return {"tone": "none", "text": text, "rows": []}
    from ganaug.benchmarking import METRIC_LABELS, METRICS
    from ganaug.reporting.benchmark_text import pts, verdict_parts

    primary = METRICS[0]
    rows = []
    for c in res.comparisons:  # structured rows: nothing is parsed back from the prose
        reading, cls = _comparison_reading(c)
        a, b = res.arm(c["arm"]), res.arm(c["vs"])
        rows.append(
            {
                "label": f"{a.label if a else c['arm']} vs {b.label if b else c['vs']}"
                + (" (primary)" if c["role"] == "primary" else ""),
                "diff": pts(c.get("diff")),
                "ci": _ci(c.get("ci_low"), c.get("ci_high")),
                "reading": reading + ("" if c["role"] == "primary" else f", adj. p {_pvalue(c.get('p_adjusted'))}"),
                "cls": cls,
            }
        )
    main = res.comparison("gan_vs_real")
    tone = {"better": "good", "worse": "bad"}.get((main or {}).get("reading"), "")
    lead, text = verdict_parts(res)
    return {
        "tone": tone,
        "lead": lead,
        "text": text,
        "full_text": res.verdict(primary),
        "rows": rows,
        "n_seeds": len(res.seeds),
        "metric_label": METRIC_LABELS.get(primary, primary),
        "detail": "Positive = the first arm scores higher. The GAN fraction and the best baseline are chosen on "
        "the validation split; intervals resample seeds and test images; \u201cinconclusive\u201d means the "
        "interval contains 0: the benchmark cannot tell the two apart, which is not evidence that they are equal.",
    }


# ----------------------------------------------------------------------------
# 5. Run info


def runinfo_section(run: Path, num: _Numbering, version: str, generated: str) -> dict[str, Any]:
    sec: dict[str, Any] = {"id": "run", "title": "Run information"}
    facts = [
        ("run folder", str(run.resolve())),
        ("report generated", generated),
        ("ganaug (report)", version),
    ]
    pj = run / "pipeline.json"
    if pj.exists():
        p = read_json(pj)
        if p.get("version") and p.get("version") != version:
            facts.append(("ganaug (pipeline)", f"{p['version']} (differs from the report's version)"))
        elif p.get("version"):
            facts.append(("ganaug (pipeline)", p["version"]))
        cfg = p.get("config")
        if cfg is not None:
            sec["config"] = json.dumps(cfg, indent=2, sort_keys=False, default=str)
        stages = p.get("stages") or {}
        rows = []
        total = 0.0
        for name, rec in stages.items():
            rec = rec if isinstance(rec, Mapping) else {}
            secs = _num(rec.get("seconds"))
            status = str(rec.get("status", "?"))
            if name == "report" and status == "running":
                status = "this page"
            rows.append(
                {"name": name, "status": status, "seconds": fixed(secs, 1), "human": _human_seconds(secs)}
            )
            total += secs or 0.0
        if rows:
            rows.append(
                {"name": "total", "status": "", "seconds": fixed(total, 1), "human": _human_seconds(total)}
            )
            sec["stages"] = rows
            sec["stages_number"] = num.table()
    files = []
    for rel in (
        "pipeline.json",
        "inspect.json",
        "prepared/inspect.json",
        "prepared/split.json",
        "gan/training_options.json",
        "gan/stats.jsonl",
        "synthetic/manifest.csv",
        "evaluate/metrics.json",
        "evaluate/memorization.png",
        "benchmark/results.json",
    ):
        f = run / rel
        if f.exists():
            st = f.stat()
            files.append(
                {
                    "name": rel,
                    "size": _human_bytes(st.st_size),
                    "mtime": _dt.datetime.fromtimestamp(st.st_mtime).strftime("%Y-%m-%d %H:%M"),
                }
            )
    sec["files"] = files
    sec["facts"] = facts
    return sec


# ----------------------------------------------------------------------------
# Assembly


def collect(run_dir: str | Path) -> dict[str, Any]:
    """Everything the template needs, read from ``run_dir``."""
    from ganaug import __version__

    run = Path(run_dir)
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    num = _Numbering()
    data = _guard(
        "data", "Data", num, "prepared/inspect.json and prepared/split.json", lambda: data_section(run, num)
    )
    gan = _guard(
        "gan", "GAN training", num, "gan/", lambda: gan_section(run, num, data.get("_class_names", []))
    )
    quality = _guard(
        "quality", "Sample quality", num, "evaluate/metrics.json", lambda: quality_section(run, num)
    )
    bench = _guard(
        "benchmark",
        "Downstream benchmark",
        num,
        "benchmark/results.json",
        lambda: benchmark_section(run, num),
    )
    runinfo = _guard(
        "run",
        "Run information",
        num,
        "pipeline.json",
        lambda: runinfo_section(run, num, __version__, generated),
    )
    verdict = verdict_box(run, bench)
    test_size = data.get("_test_size")
    return {
        "run_name": run.resolve().name,
        "generated": generated,
        "version": __version__,
        "verdict": verdict,
        "honesty": {
            "test_size": fmt(test_size) if test_size is not None else "",
            "test_hashes": bool(data.get("_test_hashes")),
            "features": quality.get("honesty_features")
            or (
                "Feature-space metrics (FID, KID, precision/recall, density/coverage) depend on the feature "
                "network: with the default network, trained on this dataset, they compare runs within this "
                "dataset and split only, never with published FID values."
            ),
        },
        "sections": [data, gan, quality, bench, runinfo],
        "data": data,
        "gan": gan,
        "quality": quality,
        "benchmark": bench,
        "runinfo": runinfo,
    }


def render(context: Mapping[str, Any]) -> str:
    """The HTML text of a report from :func:`collect`'s context."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a missing field renders empty instead of failing
    )
    return env.get_template("report.html.j2").render(**context)


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the self-contained HTML report of a pipeline run folder; returns its path.

    ``out`` defaults to ``run_dir/report.html``. Sections whose stage has not run yet say so, so
    the report renders for any partial run (even an empty folder). Written atomically.
    """
    from ganaug.errors import UserError

    run = Path(run_dir)
    if not run.is_dir():
        raise UserError(f"{run} is not a folder; give the run folder of `ganaug run` (its --out)")
    out = Path(out) if out is not None else run / "report.html"
    atomic_write_text(out, render(collect(run)))
    return out


class Report:
    """A written report: ``Report.build(run_dir)`` in a notebook shows it inline (sandboxed iframe)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def build(cls, run_dir: str | Path, out: str | Path | None = None) -> Report:
        return cls(build_report(run_dir, out))

    @property
    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def __repr__(self) -> str:
        return f"Report({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_html_(self) -> str:
        import html as _html

        # srcdoc keeps the report's CSS from leaking into the notebook page.
        return (
            f'<iframe srcdoc="{_html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
            'style="width:100%;height:900px;border:1px solid #ddd"></iframe>'
            f"<p><code>{_html.escape(str(self.path))}</code></p>"
        )
