"""The GAN training loop: artefacts, exact resume, SIGKILL, NaN, collapse, transfer, dry run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganaug.checkpoint import find_snapshot, load_generator, load_snapshot
from ganaug.config import make_config
from ganaug.data.imageset import ImageSet
from ganaug.errors import CheckpointError, TrainingDivergedError
from ganaug.training import Trainer, train
from ganaug.training.collapse import check_collapse
from ganaug.training.stats import zero_totals
from ganaug.utils import cpu_has_native_bf16, read_jsonl


def blobs(n_per_class: int = 24, res: int = 16, channels: int = 1, classes=("a", "b")) -> ImageSet:
    """Class-dependent smooth images: class k is a bright square at a class-specific place."""
    rng = np.random.default_rng(0)
    imgs, labels = [], []
    for k in range(len(classes)):
        for _ in range(n_per_class):
            img = rng.integers(0, 40, size=(channels, res, res)).astype(np.uint8)
            o = 2 + 6 * k + int(rng.integers(0, 2))
            img[:, o : o + 6, o : o + 6] = 220
            imgs.append(img)
            labels.append(k)
    return ImageSet(np.stack(imgs), np.array(labels), list(classes))


def tiny(arch="dcgan", **kw):
    base = {"resolution": 16, "channels": 1, "num_classes": 2, "device": "cpu"}
    base.update({k: kw.pop(k) for k in list(kw) if k in base})
    return make_config(arch, "tiny", **base, **kw)


@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
def test_two_tick_run_writes_every_artefact(tmp_path, arch):
    res = train(blobs(), tiny(arch), run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    run = tmp_path / "run"
    assert res.kimg == pytest.approx(0.064)
    stats = read_jsonl(run / "stats.jsonl")
    assert [s["tick"] for s in stats] == [1, 2]
    for key in (
        "loss_G",
        "loss_D",
        "d_real_acc",
        "d_fake_acc",
        "aug_p",
        "ada_stat",
        "kimg",
        "sec_per_kimg",
        "img_per_s",
        "mem_mb",
    ):
        assert key in stats[-1]
        assert isinstance(stats[-1][key], float)
    assert np.isfinite(stats[-1]["loss_G"]) and np.isfinite(stats[-1]["loss_D"])
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["network"]["arch"] == arch and opts["data"]["counts"] == {"a": 24, "b": 24}
    for name in (
        "reals.png",
        "fakes_init.png",
        "fakes000000.032.png",
        "fakes000000.064.png",
        "snapshot-latest.json",
        "snapshot-000000.064.pt",
    ):
        assert (run / name).stat().st_size > 0, name
    assert any(run.glob("events.out.tfevents.*"))
    from PIL import Image

    grid = Image.open(run / "fakes000000.064.png")
    assert grid.width > 16 and grid.height > 16
    # The snapshot is plain tensors: loadable with weights_only, and rebuilds G.
    state = torch.load(find_snapshot(run), weights_only=True)
    assert state["cur_nimg"] == 64 and state["class_names"] == ["a", "b"]
    G, info = load_generator(run)
    assert G(torch.randn(3, G.z_dim), torch.tensor([0, 1, 1])).shape == (3, 1, 16, 16)
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))


def _weights(module_state: dict) -> torch.Tensor:
    return torch.cat([v.float().flatten() for v in module_state.values()])


@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
def test_interrupted_then_resumed_matches_uninterrupted(tmp_path, arch):
    cfg = tiny(arch, kimg=0.128, tick_kimg=0.032, snap=1, aug="ada", ada_kimg=0.05, aug_p=0.1)
    full = train(blobs(), cfg, run_dir=tmp_path / "full", progress=False, log=lambda s: None)
    part = train(blobs(), cfg, run_dir=tmp_path / "part", progress=False, log=lambda s: None, max_ticks=2)
    assert part.kimg == pytest.approx(0.064)
    mid = load_snapshot(tmp_path / "part")
    assert mid["cur_nimg"] == 64
    resumed = train(blobs(), resume=tmp_path / "part", progress=False, log=lambda s: None)
    assert resumed.kimg == pytest.approx(full.kimg)
    a, b = load_snapshot(tmp_path / "full"), load_snapshot(tmp_path / "part")
    assert a["cur_nimg"] == b["cur_nimg"] == 128
    assert a["augment_pipe"]["p"].item() == pytest.approx(b["augment_pipe"]["p"].item(), abs=1e-6)
    assert a["augment_pipe"]["p"].item() != pytest.approx(0.1)  # p actually moved
    torch.testing.assert_close(_weights(a["G_ema"]), _weights(b["G_ema"]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(_weights(a["D"]), _weights(b["D"]), rtol=1e-4, atol=1e-5)
    sa, sb = read_jsonl(tmp_path / "full" / "stats.jsonl"), read_jsonl(tmp_path / "part" / "stats.jsonl")
    assert [s["kimg"] for s in sa] == [s["kimg"] for s in sb]
    assert [s["loss_G"] for s in sa] == pytest.approx([s["loss_G"] for s in sb], rel=1e-4)


def test_resume_latest_finds_newest_run(tmp_path):
    cfg = tiny(kimg=0.064, tick_kimg=0.032, snap=1)
    train(blobs(), cfg, out=tmp_path, progress=False, log=lambda s: None, max_ticks=1)
    res = train(blobs(), out=tmp_path, resume="latest", progress=False, log=lambda s: None)
    assert res.kimg == pytest.approx(0.064)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


_KILL_SCRIPT = r"""
import sys, numpy as np
sys.path.insert(0, {tests!r})
from test_training import blobs, tiny
from ganaug.training import train
cfg = tiny(kimg=50, tick_kimg=0.016, snap=1)
train(blobs(), cfg, run_dir={run!r}, progress=False, log=lambda s: None, resume={resume})
"""


def test_sigkill_mid_run_resumes_from_last_snapshot(tmp_path):
    run = tmp_path / "run"
    script = _KILL_SCRIPT.format(tests=str(Path(__file__).parent), run=str(run), resume=None)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(run.glob("snapshot-*.pt"))) < 3:
        time.sleep(0.05)
    time.sleep(0.07)  # land somewhere inside a tick (or a write)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(run.glob("snapshot-*.pt"))) >= 3, "training did not start in time"
    # No half-written file: every snapshot loads, latest points at a real file.
    for snap in run.glob("snapshot-*.pt"):
        torch.load(snap, weights_only=True)
    latest = load_snapshot(run)
    json.loads((run / "training_options.json").read_text())
    kimg_at_kill = latest["cur_nimg"]
    # Resume continues from there (a short extension so the test stays fast).
    res = train(blobs(), resume=run, kimg=kimg_at_kill / 1000 + 0.032, progress=False, log=lambda s: None)
    assert res.cur_nimg == pytest.approx(kimg_at_kill + 32, abs=8)
    ticks = [s["tick"] for s in read_jsonl(run / "stats.jsonl")]
    assert ticks == sorted(set(ticks)), "stats lines after the snapshot must be dropped on resume"


def test_nan_stops_cleanly_with_snapshot_intact(tmp_path, monkeypatch):
    cfg = tiny(kimg=0.128, tick_kimg=0.032, snap=1)
    calls = {"n": 0}
    original = Trainer._g_step

    def poisoned(self, totals):
        calls["n"] += 1
        if self.cur_nimg >= 64:  # after two good ticks, blow up G
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))
        return original(self, totals)

    monkeypatch.setattr(Trainer, "_g_step", poisoned)
    with pytest.raises(TrainingDivergedError, match="diverged.*last good snapshot is kept"):
        train(blobs(), cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    snap = load_snapshot(tmp_path / "run")
    assert snap["cur_nimg"] == 64
    assert all(torch.isfinite(v).all() for v in snap["G"].values() if v.is_floating_point())
    stats = read_jsonl(tmp_path / "run" / "stats.jsonl")
    assert stats[-1].get("error") == "diverged"


def test_collapse_warning():
    window = tiny(collapse_window=3).collapse_window
    history = [{"loss_D": 0.01, "loss_G": 4.0}, {"loss_D": 0.02, "loss_G": 5.0}]
    assert "collapse" in check_collapse(history, {"loss_D": 0.01, "loss_G": 6.5}, window)
    assert check_collapse(history, {"loss_D": 0.6, "loss_G": 6.5}, window) is None
    history = [{"loss_D": 0.01, "loss_G": 4.0}, {"loss_D": 0.02, "loss_G": 3.9}]
    assert check_collapse(history, {"loss_D": 0.01, "loss_G": 6.5}, window) is None


def test_transfer_checks_shapes_and_freezes(tmp_path):
    src = train(
        blobs(),
        tiny(kimg=0.032, tick_kimg=0.032),
        run_dir=tmp_path / "src",
        progress=False,
        log=lambda s: None,
    )
    with pytest.raises(CheckpointError, match="resolution"):
        train(
            blobs(res=32),
            tiny(resolution=32, kimg=0.032),
            run_dir=tmp_path / "bad",
            transfer=src.run_dir,
            progress=False,
            log=lambda s: None,
        )
    ok = train(
        blobs(),
        tiny(kimg=0.032, tick_kimg=0.032, freeze_d=1),
        run_dir=tmp_path / "dst",
        transfer=src.run_dir,
        progress=False,
        log=lambda s: None,
    )
    assert ok.kimg == pytest.approx(0.032)


def test_unconditional_per_class_training(tmp_path):
    res = train(
        blobs(),
        arch="dcgan",
        preset="tiny",
        classes=["b"],
        conditional=False,
        resolution=16,
        run_dir=tmp_path / "run",
        progress=False,
        log=lambda s: None,
        device="cpu",
    )
    assert res.class_names == ["b"]
    G, info = load_generator(res.run_dir)
    assert G.num_classes == 0 and info["class_names"] == ["b"]


def test_cli_dry_run_and_train(tmp_path):
    from click.testing import CliRunner

    from ganaug.cli import cli
    from ganaug.data.prepared import prepare

    ds = blobs()
    ds.save_npz(tmp_path / "data.npz")
    prepare(str(tmp_path / "data.npz"), tmp_path / "prep", seed=0)
    runner = CliRunner()
    r = runner.invoke(
        cli, ["train", str(tmp_path / "prep"), "--arch", "stylegan2", "--preset", "tiny", "--dry-run"]
    )
    assert r.exit_code == 0, r.output
    assert "G:" in r.output and "parameters" in r.output and '"arch": "stylegan2"' in r.output
    r = runner.invoke(
        cli,
        [
            "train",
            str(tmp_path / "prep"),
            "--preset",
            "tiny",
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
            "--device",
            "cpu",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "run folder:" in r.output
    # Raw data (not prepared) is refused with a hint, not a traceback.
    r = runner.invoke(cli, ["train", str(tmp_path / "data.npz"), "--preset", "tiny"])
    assert r.exit_code != 0 and "ganaug prepare" in str(r.exception or r.output)


def test_balanced_sampling_shows_rare_classes_as_often(tmp_path):
    data = blobs(n_per_class=24).subset(list(range(24)) + list(range(24, 28)))  # a: 24, b: 4
    t = Trainer(data, tiny(batch_size=64), tmp_path, progress=False, log=lambda s: None)
    assert t.sampler.balanced
    seen = torch.cat([t.labels[t._next_indices()] for _ in range(50)])
    assert abs(float((seen == 1).float().mean()) - 0.5) < 0.05  # ~half, not 4/28
    _, c = t._latents()
    assert set(c.tolist()) <= {0, 1}
    natural = Trainer(
        data, tiny(batch_size=64, balanced_sampling=False), tmp_path / "n", progress=False, log=lambda s: None
    )
    seen = torch.cat([natural.labels[natural._next_indices()] for _ in range(50)])
    assert abs(float((seen == 1).float().mean()) - 4 / 28) < 0.03


@pytest.mark.skipif(
    not cpu_has_native_bf16(), reason="this CPU has no native bf16: mixed precision stays off on CPU"
)
@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
def test_cpu_bf16_mixed_precision_trains(tmp_path, arch):
    res = train(
        blobs(),
        tiny(arch, amp=True, r1_interval=1),
        run_dir=tmp_path / "run",
        progress=False,
        log=lambda s: None,
    )
    stats = read_jsonl(tmp_path / "run" / "stats.jsonl")
    assert all(np.isfinite(s["loss_G"]) and np.isfinite(s["loss_D"]) for s in stats)
    # Weights stay fp32 (autocast only changes the compute dtype).
    state = load_snapshot(res.run_dir)
    assert all(v.dtype == torch.float32 for v in state["G"].values() if v.is_floating_point())


def test_bad_inputs_fail_before_a_run_folder_is_made(tmp_path):
    from ganaug.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        train(tmp_path / "nope", out=tmp_path / "runs", progress=False, log=lambda s: None)
    with pytest.raises(UserError, match="unknown device"):
        train(blobs(), tiny(device="bogus"), out=tmp_path / "runs", progress=False, log=lambda s: None)
    src = train(
        blobs(),
        tiny(kimg=0.032, tick_kimg=0.032),
        run_dir=tmp_path / "src",
        progress=False,
        log=lambda s: None,
    )
    with pytest.raises(CheckpointError, match="arch"):
        train(
            blobs(),
            tiny("stylegan2"),
            out=tmp_path / "runs",
            transfer=src.run_dir,
            progress=False,
            log=lambda s: None,
        )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert "tick 1" in (src.run_dir / "log.txt").read_text()


def test_public_functions_and_modules_have_distinct_names():
    import ganaug
    import ganaug.benchmarking  # noqa: F401
    import ganaug.generation  # noqa: F401
    import ganaug.metrics.evaluation  # noqa: F401
    import ganaug.reporting  # noqa: F401

    for name in ("benchmark", "generate", "report", "evaluate", "train", "run"):
        assert callable(getattr(ganaug, name)) and not isinstance(getattr(ganaug, name), type(ganaug)), name
    assert ganaug.benchmark.__name__ == "benchmark" and ganaug.report.__name__ == "build_report"


@pytest.mark.parametrize("arch,frozen", [("stylegan2", 5), ("dcgan", 1)])
def test_frozen_d_layers_stay_fixed_through_training_steps_including_r1(tmp_path, arch, frozen):
    t = Trainer(
        blobs(),
        tiny(arch, freeze_d=frozen, r1_interval=2, r1_gamma=1.0),
        tmp_path,
        progress=False,
        log=lambda s: None,
    )
    layers = t.D.freezable_layers()
    before = [[p.detach().clone() for p in layer.parameters()] for layer in layers]
    totals = zero_totals()
    for _ in range(4):  # D steps 0 and 2 carry R1
        t._d_step(totals)
        t._g_step(totals)
    assert int(totals["n_r1"]) == 2
    for i, (layer, old) in enumerate(zip(layers, before)):
        same = all(torch.equal(p, q) for p, q in zip(layer.parameters(), old))
        assert same == (i < frozen), (
            f"layer {i} ({'frozen' if i < frozen else 'trainable'}) changed={not same}"
        )


@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
def test_g_step_and_d_step_augment_a_batch_alike_under_amp(tmp_path, arch):
    cfg = tiny(arch, resolution=64, channels=3, aug="fixed", aug_p=1.0)
    data = blobs(n_per_class=4, res=64, channels=3)
    t = Trainer(data, cfg, tmp_path, progress=False, log=lambda s: None)
    t.amp = True  # bf16 autocast on CPU, whether or not this CPU has native bf16
    z, c = t._latents()
    with torch.no_grad(), t._autocast():
        fake = t._run_G(z, c)  # what the G step augments (bf16 for DCGAN under autocast)
    with torch.no_grad():
        torch.manual_seed(3)
        with t._autocast():
            g_view = t._augment(fake)  # the G step's call
        torch.manual_seed(3)
        with t._autocast():
            d_view = t._augment(fake.detach().float())  # the D step's call
        torch.manual_seed(3)
        reference = t.augment_pipe(fake.float())  # float32, no autocast at all
    assert g_view.dtype == d_view.dtype == torch.float32
    assert (g_view - d_view).abs().max() < 1e-3
    assert (g_view - reference).abs().max() < 1e-3


def test_path_length_regularisation_steps_g_at_its_interval(tmp_path):
    cfg = tiny("stylegan2", pl_interval=3, style_mixing=0.9)
    t = Trainer(blobs(), cfg, tmp_path, progress=False, log=lambda s: None)
    assert t.pl_weight == 2.0  # the stylegan2 default
    group = t.opt_G.param_groups[0]  # lazy regularisation: lr and betas scaled by 3/4
    assert group["lr"] == pytest.approx(cfg.g_lr * 0.75) and group["betas"][1] == pytest.approx(
        cfg.betas[1] ** 0.75
    )
    totals, ran = zero_totals(), []
    for step in range(7):
        n = int(totals["n_pl"])
        t._d_step(totals)
        t._g_step(totals)
        if int(totals["n_pl"]) > n:
            ran.append(step)
    assert ran == [0, 3, 6]
    assert float(t.pl_mean) > 0 and float(totals["loss_pl"]) > 0
    # The PL step alone moves G's synthesis weights (the penalty has a gradient there).
    before = [p.detach().clone() for p in t.G.synthesis.parameters()]
    t._g_pl_step(totals)
    assert any(not torch.equal(p, q) for p, q in zip(t.G.synthesis.parameters(), before))
    off = Trainer(
        blobs(), tiny("stylegan2", pl_weight=0.0), tmp_path / "off", progress=False, log=lambda s: None
    )
    totals = zero_totals()
    for _ in range(4):
        off._d_step(totals)
        off._g_step(totals)
    assert int(totals["n_pl"]) == 0 and off.opt_G.param_groups[0]["lr"] == pytest.approx(off.cfg.g_lr)


def test_g_step_draws_fresh_latents(tmp_path):
    t = Trainer(blobs(), tiny("dcgan"), tmp_path, progress=False, log=lambda s: None)
    seen = []
    original = t._run_G

    def spy(z, c, **kw):
        seen.append(z.clone())
        return original(z, c, **kw)

    t._run_G = spy
    totals = zero_totals()
    t._d_step(totals)
    t._g_step(totals)
    assert len(seen) == 2 and not torch.allclose(seen[0], seen[1])


def test_non_finite_gradients_are_zeroed_and_counted(tmp_path):
    t = Trainer(blobs(), tiny("stylegan2", r1_gamma=0.0), tmp_path, progress=False, log=lambda s: None)
    poisoned = t.D.epilogue.out.weight
    poisoned.register_hook(lambda g: torch.full_like(g, float("nan")))
    totals = zero_totals()
    t._d_step(totals)
    assert int(totals["nonfinite_grads"]) == 1  # one parameter tensor had a NaN gradient at the step
    assert all(torch.isfinite(p).all() for p in t.D.parameters())  # zeroed, not applied
    res = train(
        blobs(),
        tiny("stylegan2", kimg=0.032, tick_kimg=0.032),
        run_dir=tmp_path / "run",
        progress=False,
        log=lambda s: None,
    )
    assert read_jsonl(res.run_dir / "stats.jsonl")[-1]["nonfinite_grads"] == 0


def test_mirror_doubles_the_training_set_with_flips(tmp_path):
    data = blobs(n_per_class=6)
    t = Trainer(data, tiny(mirror=True), tmp_path, progress=False, log=lambda s: None)
    assert t.num_images == 2 * len(data)
    x = t.x_u8.numpy()
    np.testing.assert_array_equal(x[len(data) :], x[: len(data)][..., ::-1])
    assert t.labels.tolist() == data.labels.tolist() * 2


def test_padded_size_pads_close_sizes_and_resizes_far_ones():
    from ganaug.data.preprocess import padded_size

    assert padded_size((28, 28), 32) == (28, 28)  # 28 -> 32: padded
    assert padded_size((224, 224), 256) == (224, 224)
    assert padded_size((8, 8), 32) is None  # mostly border: resized
    assert padded_size((8, 8), 32, "pad") == (8, 8)
    assert padded_size((28, 28), 32, "resize") is None
    assert padded_size((32, 32), 32) is None and padded_size((40, 40), 32, "pad") is None


def test_data_is_padded_for_the_gan_and_generated_images_are_cropped_back(tmp_path):
    from ganaug.data.preprocess import center_crop_array
    from ganaug.generation import generate

    data = blobs(n_per_class=6, res=14)  # 14 px data, a 16 px GAN
    logs = []
    train(data, tiny(), run_dir=tmp_path / "run", progress=False, log=logs.append)
    assert any("padded to the GAN's 16 px" in m for m in logs), logs
    opts = json.loads((tmp_path / "run" / "training_options.json").read_text())
    assert opts["crop_to"] == [14, 14]
    # What G was trained on: the images themselves in the centre, mirrored borders around them.
    t = Trainer(data, tiny().replace(crop_to=[14, 14]), tmp_path / "t", progress=False, log=lambda s: None)
    x = t.x_u8.numpy()
    assert x.shape[-2:] == (16, 16)
    np.testing.assert_array_equal(center_crop_array(x, (14, 14)), data.images)
    np.testing.assert_array_equal(x[..., 0, 1:15], data.images[..., 1, :])  # reflection, not black
    out = generate(tmp_path / "run", n=3, progress=False, device="cpu")
    assert out.images.images.shape[1:] == (1, 14, 14)


def test_fit_resize_keeps_the_old_behaviour(tmp_path):
    data = blobs(n_per_class=6, res=14)
    train(data, tiny(fit="resize"), run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    opts = json.loads((tmp_path / "run" / "training_options.json").read_text())
    assert opts["crop_to"] is None


def test_without_tensorboard_training_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed: import fails
    logs = []
    train(
        blobs(), tiny(kimg=0.032, tick_kimg=0.032), run_dir=tmp_path / "run", progress=False, log=logs.append
    )
    said = [m for m in logs if "TensorBoard" in m]
    assert len(said) == 1 and "pip install 'ganaug[tensorboard]'" in said[0] and "\n" not in said[0]
    assert not any((tmp_path / "run").glob("events.out.tfevents.*"))
    assert read_jsonl(tmp_path / "run" / "stats.jsonl")[-1]["tick"] == 1


def test_training_logs_even_after_logging_dictconfig(tmp_path):
    """A notebook (or a tool) calling logging.config.dictConfig disables existing loggers by default;
    the run must still print its progress and write log.txt."""
    import logging.config

    logging.config.dictConfig({"version": 1})  # disable_existing_loggers defaults to True
    lines: list[str] = []
    res = train(
        blobs(), tiny(kimg=0.032, tick_kimg=0.032), run_dir=tmp_path / "run", progress=False, log=lines.append
    )
    assert any("tick 1" in line for line in lines)
    assert "tick 1" in (res.run_dir / "log.txt").read_text()


def test_transitional_training_starts_unconditional_and_ends_conditional(tmp_path):
    # kimg 0.064 at batch 8: 8 steps; unconditional for the first quarter, then the class strength
    # rises linearly to 1 at three quarters of the run.
    cfg = tiny("stylegan2", transition=[0.25, 0.75])
    assert cfg.network.cond_transition
    t = Trainer(blobs(), cfg, tmp_path, progress=False, log=lambda s: None)
    assert t.cond_strength == 0.0
    z = torch.randn(4, t.G.z_dim)
    with torch.no_grad():  # strength 0: the class changes nothing, in G or in D
        a = t.G.mapping(z, torch.zeros(4, dtype=torch.long))
        b = t.G.mapping(z, torch.ones(4, dtype=torch.long))
        img = torch.randn(4, 1, 16, 16)
        da, db = t.D(img, torch.zeros(4, dtype=torch.long)), t.D(img, torch.ones(4, dtype=torch.long))
    assert torch.equal(a, b) and torch.equal(da, db)
    seen, totals = [], zero_totals()
    for _ in range(8):
        t.step(totals)
        seen.append(t.cond_strength)
    # nimg before each step: 0, 8, ..., 56; start 16, end 48.
    assert seen == pytest.approx([0, 0, 0, 0.25, 0.5, 0.75, 1, 1])
    assert float(t.G_ema.mapping.cond_strength) == 1.0  # what generation uses
    with torch.no_grad():
        assert not torch.equal(
            t.G.mapping(z, torch.zeros(4, dtype=torch.long)), t.G.mapping(z, torch.ones(4, dtype=torch.long))
        )
    # Without a transition the networks are the official conditional ones (no extra head or buffer).
    plain = Trainer(blobs(), tiny("stylegan2"), tmp_path / "plain", progress=False, log=lambda s: None)
    assert not hasattr(plain.D, "cond_strength") and plain.D.epilogue.out_uncond is None


def test_transition_is_checked_and_survives_a_resume(tmp_path):
    from ganaug.errors import UserError

    for bad in ([0.5, 0.2], [0.1], [-0.1, 0.5], [0.2, 1.5]):
        with pytest.raises(UserError, match="transition"):
            tiny("stylegan2", transition=bad)
    with pytest.raises(UserError, match="stylegan2"):
        tiny("dcgan", transition=[0.0, 0.5])
    first = train(
        blobs(),
        tiny("stylegan2", transition=[0.0, 0.5]),
        run_dir=tmp_path / "r",
        progress=False,
        log=lambda s: None,
    )
    G, info = load_generator(first.run_dir)
    assert info["config"].transition == [0.0, 0.5] and float(G.mapping.cond_strength) == 1.0
    # kimg raised on resume: the schedule would say 0.5 at the resume point; the strength stays at 1.
    more = train(blobs(), resume=first.run_dir, kimg=0.256, progress=False, log=lambda s: None)
    G, _ = load_generator(more.run_dir)
    assert float(G.mapping.cond_strength) == 1.0


def test_mode_seeking_pairs_same_class_latents_and_changes_g_update(tmp_path):
    def g_update(weight):
        torch.manual_seed(0)
        t = Trainer(
            blobs(),
            tiny("stylegan2", mode_seeking=weight, seed=1),
            tmp_path / str(weight),
            progress=False,
            log=lambda s: None,
        )
        seen = []
        original = t._run_G
        t._run_G = lambda z, c, **kw: (seen.append(c.clone()), original(z, c, **kw))[1]
        before = [p.detach().clone() for p in t.G.synthesis.parameters()]
        totals = zero_totals()
        torch.manual_seed(1)
        t._g_step(totals)
        moved = torch.cat([(p.detach() - q).flatten() for p, q in zip(t.G.synthesis.parameters(), before)])
        return seen[-1], moved, float(totals["loss_ms"])

    c, on, term = g_update(1.0)
    n = len(c) // 2
    assert torch.equal(c[:n], c[n : 2 * n]) and term > 0  # pairs of one class
    # Same pairing, a negligible weight: the update differs only by the term's gradient.
    _, tiny_weight, _ = g_update(1e-9)
    assert not torch.allclose(on, tiny_weight, atol=1e-7)
    _, _, term_off = g_update(0.0)
    assert term_off == 0
