"""The HTML report: self-contained, honest about what ran, and renders in a real browser.

The run folder is built the way the pipeline builds it, through the other modules' own writers
(prepare -> inspect.json/split.json, TrainConfig -> training_options.json, evaluate -> metrics.json,
BenchmarkResult -> results.json); only the GAN's stats.jsonl and sample grids are written by hand
(a real training run would take too long here).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganaug.data.imageset import ImageSet, make_grid_array
from ganaug.reporting import Report, build_report
from ganaug.reporting.figures import png_size
from ganaug.reporting.sections.gan import select_fakes
from ganaug.utils import append_jsonl, atomic_write_json

CLASSES = ["shirt", "sneaker", "trouser"]  # sorted, as prepare() orders class folders; sneaker is rare
CHROMIUM = os.environ.get("GANAUG_CHROMIUM", "/usr/bin/chromium")


# ----------------------------------------------------------------------------
# A realistic run folder


def _images(rng: np.random.Generator, n: int, label: int, size: int = 16) -> np.ndarray:
    """Class-dependent blobs on noise: distinct enough for the metrics to differ between classes."""
    x = rng.integers(0, 60, size=(n, 1, size, size)).astype(np.int32)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        cy, cx = rng.integers(4, size - 4, size=2)
        r = 2 + label + rng.integers(0, 2)
        x[i, 0][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] += 150 + 30 * label
    return np.clip(x, 0, 255).astype(np.uint8)


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(buf, format="PNG")
    return buf.getvalue()


def write_data_stage(run: Path, src: Path) -> None:
    """A class-folder data set with one corrupt file and one duplicate, prepared with an imbalance."""
    from ganaug.data.prepared import prepare

    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        d = src / name
        d.mkdir(parents=True)
        for i, img in enumerate(_images(rng, 40, k)):
            (d / f"{i:03d}.png").write_bytes(_png(img.transpose(1, 2, 0)))
    (src / "sneaker" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    shutil.copy(src / "shirt" / "000.png", src / "shirt" / "copy.png")
    prepare(src, run / "prepared", seed=0, imbalance="sneaker=6", workers=1)


def write_gan_stage(run: Path, ticks: int = 5) -> None:
    """training_options.json from the real TrainConfig; stats.jsonl and grids as training.py writes them."""
    from ganaug.checkpoint import kimg_tag
    from ganaug.config import make_config

    gan = run / "gan"
    gan.mkdir(parents=True)
    cfg = make_config("dcgan", "tiny", resolution=16, channels=1, num_classes=3, kimg=10, tick_kimg=2)
    atomic_write_json(
        gan / "training_options.json",
        {
            **cfg.to_dict(),
            "data": {
                "source": str(run / "prepared"),
                "images": 59,
                "classes": CLASSES,
                "counts": {"shirt": 27, "sneaker": 6, "trouser": 26},
            },
            "world_size": 1,
        },
    )
    for t in range(1, ticks + 1):
        stats = {
            "tick": t,
            "kimg": 2.0 * t,
            "loss_G": 0.9 + 0.3 * t,
            "loss_D": 1.3 / t,
            "loss_r1": 0.0,
            "d_real_acc": min(1.0, 0.55 + 0.1 * t),
            "d_fake_acc": min(1.0, 0.5 + 0.09 * t),
            "logit_real": 0.3 * t,
            "logit_fake": -0.3 * t,
            "aug_p": 0.04 * (t - 1),
            "ada_stat": min(1.0, 0.4 + 0.1 * t),
            "sec_per_kimg": 3.1,
            "img_per_s": 320.0,
            "time_s": 6.2 * t,
            "mem_mb": 410.0,
        }
        if t == ticks:
            stats["warning"] = (
                "discriminator collapse: loss_D < 0.05 while loss_G rose for 3 ticks (now 2.40). "
                "Try stronger augmentation (--aug ada), a lower D learning rate, label smoothing, "
                "or more data."
            )
        append_jsonl(gan / "stats.jsonl", stats)

    def grid(seed: int, noise: bool) -> bytes:
        r = np.random.default_rng(seed)
        imgs = np.concatenate(
            [
                r.integers(0, 255, (2, 1, 16, 16), dtype=np.uint8) if noise else _images(r, 2, k)
                for k in range(3)
            ]
        )
        return _png(np.kron(make_grid_array(imgs, nrow=2), np.ones((4, 4, 1), np.uint8)))

    (gan / "reals.png").write_bytes(grid(0, noise=False))
    (gan / "fakes_init.png").write_bytes(grid(1, noise=True))
    for t in range(1, ticks + 1):  # named like training.py: fakes000002.000.png = at 2 kimg
        (gan / f"fakes{kimg_tag(2000 * t)}.png").write_bytes(grid(10 + t, noise=t < 3))
    (gan / "snapshot-latest.json").write_text(
        json.dumps({"path": f"snapshot-{kimg_tag(2000 * ticks)}.pt", "kimg": 2.0 * ticks})
    )


def _prepared(run: Path):
    from ganaug.data.prepared import load_prepared

    return load_prepared(run / "prepared")


def _synthetic(n_per_class: int = 20) -> ImageSet:
    rng = np.random.default_rng(2)
    imgs = np.concatenate([_images(rng, n_per_class, k) for k in range(3)])
    labels = np.repeat(np.arange(3), n_per_class)
    return ImageSet(
        imgs, labels, CLASSES, paths=[f"synthetic:{CLASSES[c]}/seed{i}" for i, c in enumerate(labels)]
    )


def write_evaluate_stage(run: Path) -> None:
    """The real evaluate() on pixel features (fast, no network)."""
    from ganaug.metrics.evaluation import evaluate

    p = _prepared(run)
    evaluate(_synthetic(), p.train, p.test, val=p.val, features="pixels", out=run / "evaluate", device="cpu")


# Balanced accuracy per seed: real only; +25 %: clearly better; +100 %: no clear change.
BENCH = {
    "real": [0.70, 0.72, 0.69, 0.71, 0.70],
    "synth25": [0.73, 0.74, 0.715, 0.73, 0.725],
    "synth100": [0.69, 0.74, 0.68, 0.73, 0.715],
    "oversample": [0.70, 0.73, 0.70, 0.71, 0.69],
}


def write_benchmark_stage(run: Path) -> dict:
    """results.json through BenchmarkResult (the benchmark's own summary, verdict and writer)."""
    from ganaug.benchmarking import BenchmarkResult, plan_arms

    train = _prepared(run).train
    counts = train.counts()
    rare = int(np.argmin(list(counts.values())))
    arms = plan_arms([0.25, 1.0], ["oversample"], has_synthetic=True)
    runs = []
    for arm in arms:
        n_syn = {"synth25": round(0.25 * len(train)), "synth100": len(train)}.get(arm.name, 0)
        for seed, b in enumerate(BENCH[arm.name]):
            recall = [b + 0.04] * len(counts)
            recall[rare] = b - 0.08 + (0.06 if arm.name == "synth25" else 0.0)
            runs.append(
                {
                    "arm": arm.name,
                    "seed": seed,
                    "fingerprint": "x",
                    "metrics": {
                        "accuracy": b + 0.02,
                        "balanced_accuracy": b,
                        "macro_f1": b - 0.01,
                        "auroc": 0.9 + b / 20,
                        "per_class_recall": recall,
                        "per_class_auroc": [0.9] * len(counts),
                    },
                    "best_epoch": 5,
                    "epochs_run": 10,
                    "val_score": b,
                    "train_counts": list(counts.values()),
                    "n_train": len(train) + n_syn,
                    "n_synthetic": n_syn,
                    "time_s": 1.0,
                }
            )
    res = BenchmarkResult.from_runs(
        arms,
        runs,
        train.class_names,
        list(range(5)),
        config={
            "fractions": [0.25, 1.0],
            "balance": "fix",
            "seeds": list(range(5)),
            "arch": "smallcnn",
            "epochs": 15,
            "batch_size": 64,
            "lr": 1e-3,
            "patience": 8,
            "train_counts": counts,
        },
        leak_check={"train": 0, "val": 0, "synthetic": 0},
    )
    (run / "benchmark").mkdir(parents=True, exist_ok=True)
    (run / "benchmark" / "results.json").write_text(json.dumps(res.to_dict(), indent=2))
    return res.to_dict()


def write_pipeline_json(run: Path, stages: dict) -> None:
    from ganaug.config import PipelineConfig

    cfg = PipelineConfig().to_dict()
    cfg["data"]["source"] = "data/clothes"
    atomic_write_json(run / "pipeline.json", {"version": "0.1.0", "config": cfg, "stages": stages})


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    run = root / "run"
    write_data_stage(run, root / "clothes")
    write_gan_stage(run)
    write_evaluate_stage(run)
    write_benchmark_stage(run)
    write_pipeline_json(
        run,
        {
            s: {"status": "done", "seconds": sec}
            for s, sec in (
                ("inspect", 0.4),
                ("split", 1.2),
                ("train", 62.0),
                ("generate", 3.5),
                ("evaluate", 8.1),
                ("benchmark", 420.0),
            )
        }
        | {"report": {"status": "running"}},
    )
    return run


# ----------------------------------------------------------------------------
# Parsing what was written


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def _text(html: str) -> str:
    """Visible text, whitespace collapsed (for phrase checks)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL)
    body = re.sub(r"<[^>]+>", " ", body)
    import html as _h

    return re.sub(r"\s+", " ", _h.unescape(body))


def assert_self_contained(html: str) -> int:
    """No network references; every <img> a data: URI that decodes to a PNG. Returns the image count."""
    tags = _tags(html)
    for tag, attrs in tags:
        for key in ("src", "href", "srcset", "poster", "data", "action"):
            v = (attrs.get(key) or "").strip().lower()
            assert not v.startswith(("http:", "https:", "//", "ftp:")), f"<{tag} {key}={v[:60]}> is external"
        if tag == "link":
            raise AssertionError(f"<link> element: {attrs}")
        if tag == "script":
            assert "src" not in attrs, "external script"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html), "CSS url() to the network"
    assert "@import" not in html
    imgs = [a for t, a in tags if t == "img"]
    for a in imgs:
        src = a.get("src", "")
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        size = png_size(data)
        assert size and size[0] > 0 and size[1] > 0
        Image.open(io.BytesIO(data)).verify()
    return len(imgs)


# ----------------------------------------------------------------------------
# Tests


def test_full_report_is_self_contained_and_complete(full_run):
    out = build_report(full_run)
    assert out == full_run / "report.html" and out.is_file()
    html = out.read_text(encoding="utf-8")
    n_img = assert_self_contained(html)
    # Curves, class counts, reals + 4 sample grids, memorisation, benchmark curve, per-class recall.
    assert n_img >= 10
    text = _text(html)

    # Verdict at the top, from the benchmark's own verdict function.
    results = json.loads((full_run / "benchmark" / "results.json").read_text())
    verdict = results["verdict"]
    assert "GAN images at 25 % synthetic (the fraction chosen on validation) vs real only" in verdict
    assert (
        "r+100" not in verdict
        and "real + 100 % synthetic vs real only" in verdict
        and "inconclusive" in verdict
    )
    # The box says the headline; every comparison, secondary ones too, is a row of its table.
    assert " ".join(results["headline"].split()) in text
    assert "real + 100 % synthetic vs real only" in text.split("1. Data")[0]
    assert text.index("Verdict") < text.index("1. Data")
    s25 = next(c for c in results["comparisons"] if c["id"] == "gan_vs_real")
    assert s25["arm"] == "synth25"
    assert f"+{100 * s25['diff']:.1f}" in text
    assert f"[{100 * s25['ci_low']:.1f}, {100 * s25['ci_high']:.1f}]" in text

    # Data: classes, per-split counts, imbalance, problems, split facts.
    split = json.loads((full_run / "prepared" / "split.json").read_text())
    counts = split["options"]["counts"]
    for c in CLASSES:
        assert c in text
    row = re.search(r"<tr><td>sneaker</td>(.*?)</tr>", html).group(1)
    cells = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert cells[1:] == [str(counts[s]["sneaker"]) for s in ("train", "val", "test")]
    assert "Imbalance ratio" in text
    assert "corrupt" in text and "duplicate" in text
    assert "SHA-256" in text
    assert re.search(r"<th>seed</th><td>0</td>", html)

    # GAN: options, curves, warning, grids with their kimg.
    assert "dcgan" in text and "collapse" in text
    assert "at initialisation (0 kimg)" in text and "end of training (10 kimg)" in text

    # Quality metrics: the exact numbers of metrics.json, with the floor.
    m = json.loads((full_run / "evaluate" / "metrics.json").read_text())
    from ganaug.formatting import fixed, number

    overall = m["metrics"]["overall"]
    for col in ("vs_train", "vs_test", "floor"):
        assert number(overall["fid"][col]) in text, col
        for key in ("precision", "recall", "density", "coverage"):
            assert (
                f'<td class="n{" ref" if col == "floor" else ""}">{fixed(overall[key][col], 3)}</td>' in html
            )
    assert number(overall["kid"]["vs_test"] * 1e3) in text
    assert "raw pixels" in text
    assert f"{m['memorization']['near_copy_count']} of {m['memorization']['n_synthetic']} synthetic" in text
    # Matched sizes, the calibrated threshold and the data-copying test, from metrics.json.
    assert f"\u2192 {number(m['counts']['overall']['n_matched'])} each" in text
    assert m["memorization"]["threshold_source"] in text
    if m["data_copying"]["z_u"] is not None:
        assert f"Z_U = {fixed(m['data_copying']['z_u'], 2)}" in text

    # Benchmark table and run info.
    assert "random oversampling" in text and "Leak check" in text
    assert "420.0" in text and "benchmark" in text
    assert "Resolved pipeline configuration" in text


def test_partial_runs_render_with_not_run_notes(tmp_path, full_run):
    # Empty folder: every section says it has not run; no verdict.
    empty = tmp_path / "empty"
    empty.mkdir()
    html = build_report(empty).read_text()
    assert assert_self_contained(html) == 0
    text = _text(html)
    assert "No verdict yet" in text
    assert text.count("Not run yet") >= 4

    # Data and GAN only (training interrupted at 6 of 10 kimg).
    part = tmp_path / "part"
    shutil.copytree(full_run / "prepared", part / "prepared")
    write_gan_stage(part, ticks=3)
    out = build_report(part, out=tmp_path / "elsewhere" / "r.html")
    assert out == tmp_path / "elsewhere" / "r.html" and not (part / "report.html").exists()
    html = out.read_text()
    assert assert_self_contained(html) >= 4
    text = _text(html)
    assert "Training stopped at 6 of 10 kimg" in text
    assert "no evaluate/metrics.json" in text and "no benchmark/results.json" in text
    assert "No verdict yet" in text
    assert "SHA-256" in text

    # A corrupt file breaks its own section only.
    broken = tmp_path / "broken"
    shutil.copytree(full_run, broken)
    (broken / "evaluate" / "metrics.json").write_text("{not json")
    next(iter(sorted((broken / "gan").glob("fakes0*.png")))).write_bytes(b"not a png")
    html = build_report(broken).read_text()
    assert_self_contained(html)
    text = _text(html)
    assert "This section could not be built" in text
    assert "1. Data" in text and "Verdict" in text and "at 25 % synthetic" in text


def test_select_fakes_first_middle_last(tmp_path):
    names = (
        ["fakes_init.png"] + [f"fakes{k:010.3f}.png" for k in (0.5, *range(2, 22, 2))] + ["fakes000030.png"]
    )
    for name in names + ["fakes.png", "fakes_x.png"]:
        (tmp_path / name).write_bytes(b"")
    picked = [k for _, k in select_fakes(tmp_path, n=4)]
    assert picked[0] == 0 and picked[-1] == 30 and len(picked) == 4
    assert picked == sorted(picked)


def test_cli_and_report_object(full_run, tmp_path):
    from click.testing import CliRunner

    from ganaug.cli import cli

    out = tmp_path / "cli.html"
    r = CliRunner().invoke(cli, ["report", str(full_run), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.is_file() and str(out.resolve()) in r.output
    r = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert r.exit_code != 0

    rep = Report.build(full_run, out=tmp_path / "obj.html")
    frame = rep._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "&lt;!DOCTYPE html&gt;" in frame


# ----------------------------------------------------------------------------
# Browser


@pytest.mark.browser
def test_report_renders_in_headless_chromium(full_run, tmp_path):
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (set GANAUG_CHROMIUM, or `make browser`)")
    report = build_report(full_run, out=tmp_path / "report.html")
    html = report.read_text()
    n_img = len([t for t, _ in _tags(html) if t == "img"])
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]

    def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        return subprocess.run(
            [*base, f"--user-data-dir={profile}", *args, page.resolve().as_uri() + "#selftest"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def selftest(page: Path) -> tuple[dict, list[str]]:
        """The DOM after load: the report's inline self-test marks <body>; plus console lines from stderr."""
        r = chromium(page, "--dump-dom")
        assert r.returncode == 0, r.stderr[-2000:]
        body = re.search(r"<body([^>]*)>", r.stdout)
        assert body, r.stdout[:500]
        attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', body.group(1)))
        assert attrs.get("data-selftest") == "done", (attrs, r.stderr[-2000:])
        console = [
            ln
            for ln in r.stderr.splitlines()
            if "Uncaught" in ln or "ERROR:CONSOLE" in ln or "Content Security Policy" in ln
        ]
        return attrs, console

    attrs, console = selftest(report)
    assert int(attrs["data-images"]) == n_img >= 10
    assert attrs["data-broken-images"] == "0"
    assert attrs["data-errors"] == "0", attrs["data-error-text"]
    assert not console, console

    # Negative control: the same checks do see a broken image, a script error and a network request.
    bad = tmp_path / "bad.html"
    bad.write_text(
        html.replace(
            '<img src="data:image/png;base64,iVBOR', '<img src="data:image/png;base64,AAAA', 1
        ).replace("</main>", '<img src="https://example.invalid/x.png"><script>nope();</script></main>')
    )
    attrs, console = selftest(bad)
    assert attrs["data-broken-images"] == "2" and int(attrs["data-errors"]) >= 2, attrs
    assert any("Uncaught" in ln for ln in console)

    # A screenshot of the top 4000 px: a real page, not a blank one.
    shot = tmp_path / "report.png"
    r = chromium(report, f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars")
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    img = Image.open(shot).convert("L")
    assert img.size == (1280, 4000)
    a = np.asarray(img)
    assert shot.stat().st_size > 50_000
    assert (a < 128).mean() > 0.01 and a.std() > 20  # text and figures, not a blank page
    if os.environ.get("GANAUG_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["GANAUG_KEEP_SCREENSHOT"])


def _capture_figures(monkeypatch) -> list:
    from ganaug.reporting import plots

    figs, real = [], plots.to_png
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=110: (figs.append(fig), real(fig, dpi))[1])
    return figs


def test_benchmark_curve_legend_fits_in_the_figure(monkeypatch):
    # Regression: the two-column legend under the axes was wider than the figure and cut off at the right.
    from ganaug.reporting.plots import benchmark_curve

    figs = _capture_figures(monkeypatch)
    arms = [
        {
            "label": "real only",
            "fraction": 0.0,
            "mean": 0.6,
            "lo": 0.55,
            "hi": 0.65,
            "kind": "real",
            "family": "real + GAN synthetic",
        },
        {
            "label": "real + 50 % synthetic",
            "fraction": 0.5,
            "mean": 0.62,
            "lo": 0.57,
            "hi": 0.67,
            "kind": "mix",
            "family": "real + GAN synthetic",
        },
    ]
    arms += [
        {"label": name, "fraction": None, "mean": 0.6, "lo": 0.58, "hi": 0.62, "kind": "baseline"}
        for name in ("real + classic augmentation", "random oversampling", "SMOTE", "synthetic only")
    ]
    assert benchmark_curve(arms, "balanced accuracy (test split)")
    (fig,) = figs
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends
    renderer = fig.canvas.get_renderer()
    for leg in legends:
        box = leg.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1 + 1 and box.y1 <= fig.bbox.y1 + 1, box


def test_per_class_recall_tells_nine_arms_apart_and_names_train_counts(monkeypatch):
    # Regression: the 9th arm (synthetic only, by default) reused the 1st arm's colour; "n=" read as a test count.
    from ganaug.reporting.plots import PALETTE, per_class_recall

    figs = _capture_figures(monkeypatch)
    arms = [{"label": f"arm {j}", "recall": [0.5, 0.6]} for j in range(len(PALETTE) + 1)]
    assert per_class_recall(["a", "b"], arms, counts={"a": 10, "b": 3})
    ax = figs[0].axes[0]
    styles = {(tuple(p.get_facecolor()), p.get_hatch()) for p in ax.patches}
    assert len(styles) == len(arms)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a\n(train n=10)", "b\n(train n=3)"]


def test_report_of_a_train_run_folder_and_of_a_wrong_folder(tmp_path):
    # Regression: `ganaug report runs/00000-prepared-dcgan` (the folder `ganaug train` makes) said the GAN
    # training had not run; a folder with nothing to report gave no hint at all.
    from click.testing import CliRunner

    from ganaug.cli import cli

    write_gan_stage(tmp_path / "x", ticks=3)
    text = _text(build_report(tmp_path / "x" / "gan").read_text())
    assert "no gan/training_options.json" not in text and "Training stopped at 6 of 10 kimg" in text
    (tmp_path / "other").mkdir()
    r = CliRunner().invoke(cli, ["report", str(tmp_path / "other")])
    assert r.exit_code == 0 and "holds no stage outputs" in r.output


# ----------------------------------------------------------------------------
# Numbers and words


def test_numbers_read_the_same_everywhere():
    from ganaug import formatting as f

    assert [f.number(v) for v in (12345, True, 2.5, 0.000012345, None, float("nan"), "?")] == [
        "12,345",
        "yes",
        "2.5",
        "1.23e-05",
        "\u2013",
        "\u2013",
        "?",
    ]
    assert f.number(3, signed=True) == "+3" and f.fixed(0.25, 0, scale=100) == "25"
    assert f.points(-0.0123, signed=True) == "\u22121.2" and f.points(0.5) == "50.0"
    assert f.interval(0.1, None) == "\u2013" and f.interval(-0.02, 0.031) == "[\u22122.0, 3.1]"
    assert [f.pvalue(p) for p in (0.0004, 0.0123, 0.5, None)] == ["< 0.001", "0.012", "0.50", "\u2013"]
    assert [f.duration(s) for s in (5, 125, 7380)] == ["5.0 s", "2 min 05 s", "2 h 03 min"]
    assert [f.size(n) for n in (512, 3 * 1024, 5 * 1024**4)] == ["512 B", "3.0 KB", "5120.0 GB"]
    # Plain-text summaries (evaluate's table, the training log) say n/a.
    assert f.significant(float("inf")) == "n/a" and f.with_sd(12.345678, 0.1234) == "12.35 +- 0.12"
    assert f.with_sd(1.0, float("nan")) == "1" and f.fixed(None, 2, missing=f.NA) == "n/a"


def test_verdict_box_shows_the_verdicts_parts(full_run):
    from ganaug.benchmarking import BenchmarkResult
    from ganaug.reporting import collect
    from ganaug.reporting.benchmark_text import verdict_parts

    res = BenchmarkResult.load(full_run / "benchmark" / "results.json")
    lead, body = verdict_parts(res)
    assert lead.startswith("Balanced accuracy on the real test split") and body.startswith(
        "GAN images at 25 %"
    )
    assert res.verdict() == f"{lead}: {body}" and "Secondary comparisons (Holm-adjusted)" in body
    # The box says the headline; the secondary comparisons are rows of its table, not a paragraph.
    box = collect(full_run)["verdict"]
    assert (box["lead"], box["text"]) == verdict_parts(res, secondary=False)
    assert res.headline() == f"{lead}: {box['text']}" and "Secondary" not in box["text"]
    assert any("adj. p" in r["reading"] for r in box["rows"])
    assert box["rows"][0]["label"] == "real + 25 % synthetic vs real only (primary)"
