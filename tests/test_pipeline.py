"""`ganaug run`: every stage in one folder, skipped when up to date, resumable at each stage boundary."""

from __future__ import annotations

import json

import pytest

from ganaug.config import PipelineConfig
from ganaug.constants import STAGES
from ganaug.errors import UserError
from ganaug.pipeline import Pipeline, run
from test_training import blobs

TINY = {
    "gan.preset": "tiny",
    "gan.resolution": 16,
    "gan.kimg": 0.064,
    "generate.per_class": 24,
    "benchmark.seeds": 2,
    "benchmark.fractions": [0, 0.5],
    "benchmark.baselines": ["oversample"],
    "benchmark.epochs": 2,
    "benchmark.min_steps": 0,
    "benchmark.jobs": 1,
    "evaluate.features": "pixels",
    "device": "cpu",
}


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.npz"
    blobs(n_per_class=30).save_npz(path)
    return path


def _run(data, out, **kw):
    logs = []
    res = run(data, out=out, overrides=TINY, progress=False, log=logs.append, **kw)
    return res, "\n".join(str(x) for x in logs)


@pytest.mark.heavy
def test_pipeline_end_to_end_then_nothing_recomputed(data, tmp_path):
    out = tmp_path / "run"
    res, log = _run(data, out)
    state = json.loads((out / "pipeline.json").read_text())
    assert [s for s in STAGES if state["stages"][s]["status"] == "done"] == list(STAGES)
    for rel in (
        "inspect.json",
        "prepared/split.json",
        "gan/snapshot-latest.json",
        "synthetic/images.npz",
        "evaluate/metrics.json",
        "benchmark/results.json",
        "report.html",
    ):
        assert (out / rel).exists(), rel
    assert res.report == out / "report.html"
    # One verdict: the line `ganaug run` prints is the benchmark's headline, with the primary comparisons.
    results = json.loads((out / "benchmark" / "results.json").read_text())
    assert res.verdict == results["headline"] == state["stages"]["benchmark"]["verdict"]
    assert "vs random oversampling adding the same number of images per class" in res.verdict
    assert state["config"]["gan"]["kimg"] == 0.064  # the resolved config is saved
    mtimes = {
        p: p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and p.name != "pipeline.json" and p.name != "report.html" and p.name != ".ganaug.lock"
    }  # the lock names its holder's PID
    res2, log2 = _run(data, out)
    for stage in STAGES[:-1]:
        assert f"[{stage}] up to date, skipped" in log2
    changed = [p for p, t in mtimes.items() if p.exists() and p.stat().st_mtime_ns != t]
    assert changed == []


@pytest.mark.heavy
@pytest.mark.parametrize("stop_at", ["train", "generate", "evaluate", "benchmark"])
def test_pipeline_resumes_after_interruption_at_stage(data, tmp_path, monkeypatch, stop_at):
    out = tmp_path / "run"
    original = getattr(Pipeline, f"stage_{stop_at}")

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Pipeline, f"stage_{stop_at}", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(data, out)
    state = json.loads((out / "pipeline.json").read_text())
    assert state["stages"][stop_at]["status"] == "running"
    monkeypatch.setattr(Pipeline, f"stage_{stop_at}", original)
    res, log = _run(data, out)
    before = STAGES[: STAGES.index(stop_at)]
    for stage in before:
        assert f"[{stage}] up to date, skipped" in log
    assert f"[{stop_at}] running" in log
    assert (out / "report.html").exists()


def test_changed_option_recomputes_downstream_only(data, tmp_path):
    out = tmp_path / "run"
    logs = []
    run(data, out=out, overrides=TINY, stages=["inspect", "split", "train"], progress=False, log=logs.append)
    logs.clear()
    run(
        data,
        out=out,
        overrides=dict(TINY, **{"gan.kimg": 0.096}),
        stages=["inspect", "split", "train"],
        progress=False,
        log=logs.append,
    )
    text = "\n".join(map(str, logs))
    assert "[split] up to date, skipped" in text and "[train] running" in text
    from ganaug.checkpoint import load_snapshot

    assert load_snapshot(out / "gan")["cur_nimg"] == 96  # resumed from 64 and extended


def test_changed_gan_option_trains_a_new_gan_and_keeps_the_old(data, tmp_path):
    """A re-run with another GAN option (here the learning rate; e.g. a --transfer source added to a
    finished demo) used to resume the old run, whose saved options win: the new option was ignored."""
    from ganaug.checkpoint import load_snapshot
    from ganaug.utils import read_json

    out = tmp_path / "run"
    stages = ["inspect", "split", "train"]
    run(data, out=out, overrides=TINY, stages=stages, progress=False, log=lambda s: None)
    logs: list[str] = []
    new = dict(TINY, **{"gan.g_lr": 0.001})
    run(data, out=out, overrides=new, stages=stages, progress=False, log=logs.append)
    text = "\n".join(map(str, logs))
    assert "gan.g_lr: None -> 0.001" in text and "the old run is kept in" in text
    assert read_json(out / "gan" / "training_options.json")["g_lr"] == 0.001
    assert load_snapshot(out / "gan")["cur_nimg"] == 64  # trained anew, not resumed
    assert read_json(out / "gan.replaced" / "training_options.json")["g_lr"] != 0.001
    # the same options again: up to date; interrupted with them: resumed, not replaced
    logs.clear()
    run(data, out=out, overrides=new, stages=stages, progress=False, log=logs.append)
    assert "[train] up to date, skipped" in "\n".join(map(str, logs))
    assert not (out / "gan.replaced-2").exists()


def test_config_file_and_errors(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[gan]\narch = "stylegan2"\nkimg = 3\n[benchmark]\nseeds = 7\n')
    cfg = PipelineConfig.load(f, {"benchmark.seeds": 9})
    assert cfg.gan.arch == "stylegan2" and cfg.gan.options["kimg"] == 3 and cfg.benchmark.seeds == 9
    bad = tmp_path / "bad.toml"
    bad.write_text("[benchmark]\nsedes = 3\n")
    with pytest.raises(UserError, match="unknown key 'sedes'"):
        PipelineConfig.load(bad)
    y = tmp_path / "c.yaml"
    y.write_text("gan:\n  arch: dcgan\nbenchmark:\n  fractions: [0, 1.5]\n")
    assert PipelineConfig.load(y).to_dict()["benchmark"]["fractions"] == [0, 1.5]
    with pytest.raises(UserError, match="unknown stage"):
        run(tmp_path, out=tmp_path / "r", stages=["trian"])


def test_stage_without_its_inputs_is_a_clear_error(data, tmp_path):
    with pytest.raises(UserError, match="needs split, generate first"):
        run(
            data, out=tmp_path / "r", overrides=TINY, stages=["benchmark"], progress=False, log=lambda s: None
        )
    with pytest.raises(UserError, match="unknown key 'seedz'"):
        run(data, out=tmp_path / "r", overrides={"benchmark.seedz": 2}, progress=False, log=lambda s: None)
