"""Section 2, GAN training: the options, the last tick, warnings, curves and sample grids (``gan/``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganaug.diagnostics import read_class_stats
from ganaug.formatting import duration, finite, fixed, number
from ganaug.reporting.figures import Numbering, read_png
from ganaug.reporting.plots import class_curves_png, training_curves
from ganaug.utils import read_json, read_jsonl

# fakes000010.000.png (or fakes000010.png) = at 10 kimg
_FAKES_RE = re.compile(r"^fakes(\d+(?:\.\d+)?)\.png$")


def gan_section(run: Path, num: Numbering, class_names: Sequence[str]) -> dict[str, Any]:
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
    if opts:
        sec["options"] = _option_rows(opts, net, conditional)
    if stats:
        sec.update(_progress(stats, opts))
        sec["curves_fig"] = num.figure(training_curves(stats), alt="GAN training curves")
    else:
        sec["stats_missing"] = True
    sec["class_fig"] = num.figure(
        class_curves_png(read_class_stats(gan)), alt="per-class recall and coverage during training"
    )
    names = list((opts.get("data") or {}).get("classes") or class_names)
    sec.update(_sample_grids(gan, num, names if conditional else None))
    return sec


def _option_rows(opts: Mapping[str, Any], net: Mapping[str, Any], conditional: bool) -> list[tuple[str, str]]:
    """training_options.json as key-value rows."""
    aug = opts.get("aug", "?")
    aug_txt = str(aug)
    if aug == "ada":
        aug_txt += f" (target {number(opts.get('ada_target'))}, speed {number(opts.get('ada_kimg'))} kimg)"
    elif aug == "fixed":
        aug_txt += f" (p = {number(opts.get('aug_p'))})"
    elif aug == "diffaug":
        aug_txt += f" ({opts.get('diffaug_policy', '')})"
    res = net.get("resolution")
    preset = f" (preset {opts['preset']})" if opts.get("preset") else ""
    rows = [
        ("architecture", f"{net.get('arch', '?')}{preset}"),
        ("resolution", f"{res}\u00d7{res}, {net.get('channels', '?')} channel(s)" if res else "?"),
        (
            "conditioning",
            f"class-conditional, {net.get('num_classes')} classes" if conditional else "unconditional",
        ),
        ("training length", _length_text(opts)),
        ("batch", number(opts.get("batch_size"))),
        ("augmentation of D's inputs", aug_txt),
        ("loss", str(opts.get("loss", "?"))),
        ("learning rates G / D", f"{number(opts.get('g_lr'))} / {number(opts.get('d_lr'))}"),
        ("seed", number(opts.get("seed"))),
    ]
    r1 = opts.get("r1_gamma")
    if r1 not in (None, 0, 0.0) or net.get("arch") == "stylegan2":
        rows.insert(7, ("R1 gamma", "auto" if r1 is None else number(r1)))
    budget = opts.get("budget") if isinstance(opts.get("budget"), Mapping) else None
    if budget:
        rows.insert(2, ("time budget", _budget_text(budget, cropped=bool(opts.get("crop_to")))))
    src = opts.get("transfer") if isinstance(opts.get("transfer"), Mapping) else None
    if src:
        classes = ", ".join(src.get("classes") or []) or "unconditional"
        start = (
            "; other classes from the nearest of them" if opts.get("transfer_classes") == "nearest" else ""
        )
        rows.insert(
            1,
            (
                "started from",
                f"{src.get('source')} ({number(src.get('kimg'))} kimg; classes: {classes}{start})",
            ),
        )
    levers = _diversity_levers(opts)
    if levers:
        rows.append(("against collapse", levers))
    data = opts.get("data") or {}
    if data.get("images"):
        rows.append(("training images", f"{number(data['images'])} (train split only)"))
    return rows


def _diversity_levers(opts: Mapping[str, Any]) -> str:
    """The options on against mode collapse, in words ('' when none)."""
    out = []
    if finite(opts.get("mode_seeking")):
        out.append(f"mode-seeking term (MSGAN) {number(opts['mode_seeking'])}")
    if finite(opts.get("style_mixing")):
        out.append(f"style mixing {number(opts['style_mixing'])}")
    t = opts.get("transition")
    if isinstance(t, (list, tuple)) and len(t) == 2:
        out.append(f"transitional conditioning over {number(t[0])}–{number(t[1])} of the run")
    return "; ".join(out)


def _length_text(opts: Mapping[str, Any]) -> str:
    text = f"{number(opts.get('kimg'))} kimg"
    if finite(opts.get("kimg_max")) and finite(opts.get("time_limit_s")):
        text += f" (estimated; up to {number(opts['kimg_max'])} while the time budget lasts)"
    return text


def _budget_text(b: Mapping[str, Any], cropped: bool = False) -> str:
    """The time budget row: budget, chosen resolution and why, the estimate."""
    res, side = b.get("resolution"), b.get("data_side")
    text = (
        f"{duration(b.get('budget_s'))} ({b.get('budget_source', '')}): " if b.get("budget_s") else "none: "
    )
    text += f"trained at {res} px, estimated {duration(b.get('estimated_s'))}"
    if b.get("kimg_requested"):
        text += f"; shortened from {number(b['kimg_requested'])} to {number(b.get('kimg'))} kimg to fit"
    if b.get("over_budget"):
        text += "; over budget (resolution and kimg were given)"
    if side and res != side:
        how = (
            f"padded to {res} px; generated images are cropped back"
            if cropped
            else "generated images are resized"
        )
        text += f"; the data is {side} px ({how} to it for evaluation and the benchmark)"
    return text


def _reached(reached: float | None, target: float | None) -> str:
    if not target:
        return f"{number(reached)}"
    if reached is not None and reached > target + 1e-6:  # kimg was an estimate (TrainConfig.kimg_max)
        return f"{number(reached)} (estimated {number(target)}; trained on while its time budget lasted)"
    return f"{number(reached)} of {number(target)}"


def _progress(stats: Sequence[Mapping[str, Any]], opts: Mapping[str, Any]) -> dict[str, Any]:
    """The last tick as key-value rows, whether training stopped early, the warnings of every tick."""
    last = stats[-1]
    target, reached = finite(opts.get("kimg")), finite(last.get("kimg"))
    out: dict[str, Any] = {
        "last": [
            ("kimg reached", _reached(reached, target)),
            ("ticks", number(last.get("tick"))),
            ("training time", duration(last.get("time_s"))),
            ("throughput", f"{fixed(last.get('img_per_s'), 0)} img/s"),
            (
                "last D accuracy real / fake",
                f"{fixed(last.get('d_real_acc'), 2)} / {fixed(last.get('d_fake_acc'), 2)}",
            ),
            ("last augment p", fixed(last.get("aug_p"), 3)),
            ("peak memory", f"{fixed(last.get('mem_mb'), 0)} MB"),
        ]
    }
    if target and reached is not None and reached < target - 1e-6:
        out["stopped_at"] = {
            "reached": number(reached),
            "target": number(target),
            "time_limit": last.get("stopped") == "time limit",
        }
    warnings = []
    for r in stats:
        for key in ("warning", "warnings", "error"):
            w = r.get(key)
            for text in [w] if isinstance(w, str) else list(w or []):
                if key == "error" and text == "diverged":
                    text = "training diverged (NaN/Inf loss); the last good snapshot was kept"
                warnings.append({"kimg": number(r.get("kimg")), "text": str(text)})
    out["warnings"] = warnings
    return out


# ----------------------------------------------------------------------------
# Sample grids


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


def _sample_grids(gan: Path, num: Numbering, row_names: Sequence[str] | None) -> dict[str, Any]:
    """Reals next to the last fakes, then the fakes over training (fixed seeds, so cells can be followed).

    ``row_names``: the class of each grid row for a conditional GAN, None for an unconditional one.
    """
    conditional = row_names is not None
    rows_txt = (" Rows, top to bottom: " + ", ".join(row_names) + ".") if row_names else ""
    picks = select_fakes(gan, n=5)
    n_fakes = len([p for p in gan.glob("fakes*.png") if _kimg_of(p) is not None])
    compare = [
        num.figure(
            read_png(gan / "reals.png"),
            "Real training images." + rows_txt,
            alt="real training images",
            display_width=520,
        )
    ]
    last = picks[-1] if picks and picks[-1][0].name != "fakes_init.png" else None
    last_png = read_png(last[0]) if last else None
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
        when = "at initialisation (0 kimg)" if p.name == "fakes_init.png" else f"at {k:g} kimg"
        evolution.append(
            num.figure(
                read_png(p),
                f"Generated {when}.",
                alt=f"generated samples {when}",
                display_width=1000 // max(len(picks) - 1, 2),
            )
        )
    out: dict[str, Any] = {"compare": [g for g in compare if g], "grids": [g for g in evolution if g]}
    if out["compare"] or out["grids"]:
        out["n_fakes"] = n_fakes
        out["n_shown"] = len(out["grids"]) + (1 if last_png else 0)
    return out
