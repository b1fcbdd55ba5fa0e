"""Time budgets: parsing, the resolution choice from timings, and the hooks in train / the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ganaug.config import make_config, parse_budget
from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.formatting import rough_duration
from ganaug.training.budget import (
    OVERHEAD,
    candidate_resolutions,
    fit_to_budget,
    measure_sec_per_kimg,
    plan_budget,
)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("15m", 900),
        ("90s", 90),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2.5min", 150),
        ("10", 600),
        (" 15 M ", 900),
        (5, 300),
    ],
)
def test_parse_budget(text, seconds):
    assert parse_budget(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-5m", "15x", "m", "1.2.3m", "15m extra", "0m", "0"])
def test_parse_budget_refuses_bad_values(text):
    with pytest.raises(UserError, match="time budget"):
        parse_budget(text)


def test_parse_budget_off():
    assert parse_budget("off") is None and parse_budget(None) is None


def test_rough_duration():
    assert rough_duration(45) == "45 s"
    assert rough_duration(14 * 60 + 10) == "14 min"
    assert rough_duration(3 * 3600 + 50 * 60) == "3 h 50 min"


def test_candidate_resolutions():
    assert candidate_resolutions(224) == [32, 64, 128, 256]
    assert candidate_resolutions(28) == [32]
    assert candidate_resolutions(512) == [32, 64, 128, 256]


class QuadraticTimer:
    """Seconds per kimg growing with the pixel count; records which resolutions were timed."""

    def __init__(self, per_pixel: float = 0.002):
        self.per_pixel, self.calls = per_pixel, []

    def __call__(self, r: int) -> float:
        self.calls.append(r)
        return self.per_pixel * r * r


def test_tight_budget_picks_a_smaller_resolution():
    t = QuadraticTimer()  # 100 kimg: 32 px ~3.9 min, 64 px ~15.7 min, 128 px ~63 min, 256 px ~4.2 h
    plan = plan_budget([32, 64, 128, 256], 100, 20 * 60, t, data_side=224)
    assert plan.resolution == 64 and plan.kimg == 100 and not plan.over_budget
    # Timing stops at the first resolution over budget; 256 is extrapolated, never run.
    assert t.calls == [32, 64, 128]
    est = {e.resolution: e for e in plan.estimates}
    assert est[128].measured and not est[256].measured
    assert est[64].seconds == pytest.approx(0.002 * 64 * 64 * 100 * OVERHEAD)
    assert est[256].seconds == pytest.approx(4 * est[128].seconds)
    text = "\n".join(plan.lines())
    assert "training at 64 px" in text and "largest that fits" in text and "resized to 224 px" in text

    roomy = plan_budget([32, 64, 128, 256], 100, 5 * 3600, QuadraticTimer(), data_side=224)
    assert roomy.resolution == 256

    tighter = plan_budget([32, 64, 128, 256], 100, 5 * 60, QuadraticTimer(), data_side=224)
    assert tighter.resolution == 32


def test_no_resolution_fits_shortens_kimg_unless_fixed():
    plan = plan_budget([32, 64], 100, 60, QuadraticTimer(), data_side=64)
    assert plan.resolution == 32 and plan.kimg_requested == 100
    assert plan.seconds <= 60 and plan.kimg > 0.9 * 60 / (0.002 * 32 * 32 * OVERHEAD)
    assert "shortened from 100" in "\n".join(plan.lines())

    fixed = plan_budget([32, 64], 100, 60, QuadraticTimer(), data_side=64, kimg_fixed=True)
    assert fixed.kimg == 100 and fixed.over_budget and "exceeds the budget" in "\n".join(fixed.lines())


def test_explicit_resolution_is_kept_and_no_budget_only_estimates():
    t = QuadraticTimer()
    plan = plan_budget([32, 64, 128], 10, 10, t, data_side=128, resolution=128, kimg_fixed=True)
    assert plan.resolution == 128 and t.calls == [128] and plan.over_budget
    t = QuadraticTimer()
    plan = plan_budget([32, 64, 128], 10, None, t, data_side=128)
    assert plan.resolution == 128 and t.calls == [128]
    assert math.isclose(plan.seconds, 0.002 * 128 * 128 * 10 * OVERHEAD)


def rgb(n=12, size=100):
    rng = np.random.default_rng(0)
    return ImageSet(rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8), np.arange(n) % 2, ["a", "b"])


def test_fit_to_budget_uses_the_preset_default_and_changes_the_config():
    data = rgb()
    cfg = make_config("dcgan", "cpu", resolution=128, channels=3, num_classes=2)
    seen = []

    def timer(c):
        seen.append(c.network.resolution)
        return 1e-3 * c.network.resolution**2  # 32 px: ~2 min, 64 px: ~8 min, 128 px: ~31 min at 100 kimg

    lines = []
    out, plan = fit_to_budget(data, cfg, None, sec_per_kimg=timer, log=lines.append)
    assert plan.budget_source == "the cpu preset's default" and out.network.resolution == 64
    assert out.kimg == cfg.kimg and seen == [32, 64, 128]
    assert any("training at 64 px" in s for s in lines)
    out, plan = fit_to_budget(data, cfg, "1h", sec_per_kimg=timer, log=lines.append)
    assert out.network.resolution == 128
    assert fit_to_budget(data, cfg, "off", sec_per_kimg=timer, log=lines.append) == (cfg, None)
    tiny = make_config("dcgan", "tiny", resolution=32, channels=3, num_classes=2)
    assert fit_to_budget(data, tiny, None, sec_per_kimg=timer, log=lines.append) == (tiny, None)


def test_measure_sec_per_kimg_times_real_steps():
    data = rgb(size=16)
    cfg = make_config("dcgan", "tiny", resolution=16, channels=3, num_classes=2, device="cpu")
    spk = measure_sec_per_kimg(data, cfg, max_steps=3, min_seconds=0.0)
    assert math.isfinite(spk) and 0 < spk < 600


def test_train_with_budget_records_the_plan(tmp_path):
    from ganaug.training import train

    res = train(
        rgb(size=40),
        arch="dcgan",
        preset="tiny",
        budget="1h",
        run_dir=tmp_path / "run",
        progress=False,
        log=lambda s: None,
        device="cpu",
    )
    opts = json.loads((tmp_path / "run" / "training_options.json").read_text())
    assert opts["budget"]["budget_s"] == 3600 and opts["budget"]["resolution"] == 64
    assert res.config.network.resolution == 64  # fits: the largest candidate for 40 px data
    assert [e["resolution"] for e in opts["budget"]["estimates"]] == [32, 64]
    # The report's GAN section states the resolution, the budget's choice and the per-class curves.
    from ganaug.reporting import build_report

    html = open(build_report(tmp_path / "run"), encoding="utf-8").read()
    assert "time budget" in html and "trained at 64 px" in html and "resized to it" in html
    assert "per-class recall and coverage during training" in html


def test_cli_refuses_a_bad_budget(tmp_path):
    from click.testing import CliRunner

    from ganaug.cli import cli

    r = CliRunner().invoke(cli, ["train", str(tmp_path), "--budget", "15x"])
    assert r.exit_code == 2 and "cannot read the time budget '15x'" in r.output


def test_pipeline_budget_picks_the_resolution_and_the_pool_has_the_data_size(tmp_path):
    from ganaug.data.imageset import ImageSet as IS
    from ganaug.pipeline import run

    path = tmp_path / "data.npz"
    rng = np.random.default_rng(1)
    IS(rng.integers(0, 256, (40, 1, 40, 40), dtype=np.uint8), np.arange(40) % 2, ["a", "b"]).save_npz(path)
    overrides = {
        "gan.preset": "tiny",
        "gan.budget": "1h",
        "generate.per_class": 8,
        "device": "cpu",
        "benchmark.fractions": [0, 0.25],
    }
    run(
        path,
        out=tmp_path / "run",
        overrides=overrides,
        stages=["inspect", "split", "train", "generate"],
        progress=False,
        log=lambda s: None,
    )
    opts = json.loads((tmp_path / "run" / "gan" / "training_options.json").read_text())
    assert opts["network"]["resolution"] == 64 and opts["budget"]["data_side"] == 40
    pool = IS.load_npz(tmp_path / "run" / "synthetic" / "images.npz")
    assert pool.images.shape[1:] == (1, 40, 40) and len(pool) == 16


def test_run_cli_refuses_a_bad_budget_before_any_stage(tmp_path):
    from click.testing import CliRunner

    from ganaug.cli import cli

    r = CliRunner().invoke(
        cli, ["run", "--builtin", "fashion-demo", "--out", str(tmp_path / "r"), "--budget", "soon"]
    )
    assert r.exit_code != 0 and "cannot read the time budget 'soon'" in str(r.exception)
    assert not (tmp_path / "r" / "pipeline.json").exists()


def test_fit_to_budget_sets_the_time_limit_unless_kimg_is_given():
    data = rgb()
    cfg = make_config("dcgan", "cpu", resolution=32, channels=3, num_classes=2)
    lines = []
    out, plan = fit_to_budget(data, cfg, "5m", sec_per_kimg=lambda c: 1e-3, log=lines.append)
    assert out.time_limit_s == 300 and plan.time_limited and plan.to_dict()["time_limited"]
    assert any("training stops at the budget (5 min)" in s for s in lines)
    out, plan = fit_to_budget(data, cfg, "5m", sec_per_kimg=lambda c: 1e-3, kimg_fixed=True, log=lines.append)
    assert out.time_limit_s is None and not plan.time_limited


def test_a_run_slower_than_its_estimate_stops_at_its_time_limit_and_resumes_within_it(tmp_path):
    """The budget is a promise, not only an estimate: ADA's rising p or a busy machine slowed runs 8-23 %
    past their budget. Here every tick's upkeep sleeps, so the run is much slower than its steps."""
    import time

    from ganaug.training import train

    def slow_upkeep(info):
        time.sleep(0.4)

    msgs: list[str] = []
    run, data = tmp_path / "run", rgb(size=16)
    t0 = time.time()
    # kimg 50: thousands of steps, far beyond the limit
    res = _train_tiny(data, run, msgs.append, kimg=50, time_limit_s=1.0, callbacks=[slow_upkeep])
    took = time.time() - t0
    last = res.stats[-1]
    assert last["stopped"] == "time limit" and 1.0 <= last["time_s"] < 1.0 + 5  # at most a tick's upkeep more
    assert 0 < res.cur_nimg < 50_000 and took < 60
    assert res.snapshot is not None and res.snapshot.exists()
    assert any("time limit of 1 s reached at" in m for m in msgs)
    from ganaug.reporting import build_report

    html = open(build_report(run), encoding="utf-8").read()
    assert "its time budget ran out" in html and "of 50 kimg" in html
    # A resume of the run has no time left: nothing more is trained.
    again = train(data, resume=run, progress=False, log=msgs.append, device="cpu", diagnostics=False)
    assert again.cur_nimg == res.cur_nimg
    # A kimg given on resume is the new length: the time limit no longer applies.
    target = (res.cur_nimg + 16) / 1000
    more = train(
        data, resume=run, kimg=target, progress=False, log=msgs.append, device="cpu", diagnostics=False
    )
    assert more.cur_nimg >= target * 1000 and "stopped" not in more.stats[-1]
    assert any("no longer applies" in m for m in msgs)
    html = open(build_report(run), encoding="utf-8").read()
    assert "its time budget ran out" not in html  # the resumed run reached its (new) kimg


def test_fit_to_budget_lets_a_shortened_run_train_on_while_its_budget_lasts():
    """The shortened kimg is an estimate (timed steps x OVERHEAD): the demo trained 150 s of its 180 s
    budget and stopped. A run the budget shortened may train on, up to the kimg asked for."""
    data = rgb()
    cfg = make_config("dcgan", "cpu", resolution=32, channels=3, num_classes=2).replace(kimg=100)
    lines: list[str] = []
    out, plan = fit_to_budget(data, cfg, "1m", sec_per_kimg=lambda c: 2.0, log=lines.append)
    assert plan.kimg_requested == 100 and out.kimg < 100 and out.kimg_max == 100 and out.time_limit_s == 60
    assert any("trains on past it, up to 100 kimg, while the budget lasts" in s for s in lines)
    out, _ = fit_to_budget(data, cfg.replace(kimg=1), "1m", sec_per_kimg=lambda c: 2.0, log=lines.append)
    assert out.kimg == 1 and out.kimg_max is None  # fits: nothing to extend
    out, _ = fit_to_budget(data, cfg, "1m", sec_per_kimg=lambda c: 2.0, kimg_fixed=True, log=lines.append)
    assert out.kimg_max is None and out.time_limit_s is None


def test_a_run_faster_than_its_estimate_trains_on_until_its_time_limit(tmp_path):
    import time

    from ganaug.reporting import build_report

    msgs: list[str] = []
    run, data = tmp_path / "run", rgb(size=16)
    t0 = time.time()
    # the estimate: two steps of 16; the most: far beyond what 1.5 s trains
    res = _train_tiny(data, run, msgs.append, kimg=0.032, kimg_max=50, time_limit_s=1.5)
    last = res.stats[-1]
    assert last["stopped"] == "time limit" and 1.5 <= last["time_s"] < 1.5 + 5 and time.time() - t0 < 60
    assert 32 * 4 <= res.cur_nimg < 50_000  # well past the estimate
    assert any("time budget of 2 s spent at" in m and "past the estimated 0.032" in m for m in msgs)
    html = open(build_report(run), encoding="utf-8").read()
    assert "its time budget ran out" not in html and "trained on while its time budget lasted" in html
    assert "0.032 kimg (estimated; up to 50 while the time budget lasts)" in html
    # Ahead of the budget at kimg_max: the run ends there.
    short = _train_tiny(data, tmp_path / "short", msgs.append, kimg=0.032, kimg_max=0.064, time_limit_s=600)
    assert short.cur_nimg == 64 and "stopped" not in short.stats[-1]
    html = open(build_report(tmp_path / "short"), encoding="utf-8").read()
    assert "0.064 (estimated 0.032; trained on while its time budget lasted)" in html


def _train_tiny(data, run_dir, log, **options):
    """A DCGAN 'tiny' run on the CPU, quiet, without per-class diagnostics."""
    from ganaug.training import train

    return train(
        data,
        arch="dcgan",
        preset="tiny",
        run_dir=run_dir,
        progress=False,
        log=log,
        device="cpu",
        diagnostics=False,
        **options,
    )
