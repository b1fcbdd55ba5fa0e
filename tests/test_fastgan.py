"""FastGAN (models/fastgan.py): shapes at every resolution, the self-supervised D, training and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganaug.checkpoint import load_generator, load_snapshot
from ganaug.config import make_config
from ganaug.models import build_discriminator, build_generator
from ganaug.training import train
from ganaug.utils import read_jsonl
from test_training import blobs as _blobs


def _nets(resolution, channels, num_classes, seed=0):
    torch.manual_seed(seed)
    cfg = make_config("fastgan", "tiny", resolution=resolution, channels=channels, num_classes=num_classes)
    return cfg, build_generator(cfg.network), build_discriminator(cfg.network)


@pytest.mark.parametrize("resolution", [16, 32, 64, 128, 256])
@pytest.mark.parametrize(("channels", "num_classes"), [(1, 0), (3, 0), (1, 3), (3, 3)])
def test_shapes_and_gradients(resolution, channels, num_classes):
    cfg, G, D = _nets(resolution, channels, num_classes)
    z = torch.randn(2, cfg.network.z_dim)
    c = torch.tensor([0, 2]) if num_classes else None
    x = G(z, c)
    assert x.shape == (2, channels, resolution, resolution)
    assert x.abs().max() <= 1 and x.std() > 0
    logits, rec = D(x, c, return_aux=True)
    assert logits.shape == (2,) and logits.dtype == torch.float32 and rec.shape == ()
    assert torch.isfinite(logits).all() and 0 < rec.item() < 4  # L1 of three [-1, 1] images
    torch.testing.assert_close(D.eval()(x, c), D.eval()(x, c))
    D.train()
    (logits.sum() + rec).backward()
    for part in (D.decoder_big, D.decoder_small, D.decoder_part, D.blocks[0], D.small, G.to_img):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in part.parameters())


@torch.no_grad()
@pytest.mark.parametrize("resolution", [512, 1024])
def test_large_resolutions_forward(resolution):
    cfg, G, D = _nets(resolution, 3, 0)
    x = G.eval()(torch.randn(1, cfg.network.z_dim))
    assert x.shape == (1, 3, resolution, resolution)
    assert D.eval()(x).shape == (1,)


def test_generator_conditioning_and_eval_determinism():
    cfg, G, _ = _nets(32, 3, 3, seed=1)
    with torch.no_grad():
        for m in G.modules():  # noise strengths start at zero: make the noise visible
            if hasattr(m, "noise_const"):
                m.weight.fill_(0.5)
    z = torch.randn(1, cfg.network.z_dim).repeat(2, 1)
    G.eval()
    a = G(z, torch.tensor([0, 1]))
    assert (a[0] - a[1]).abs().mean() > 1e-3  # the class changes the image
    torch.testing.assert_close(G(z, torch.tensor([0, 1])), a)  # eval: fixed noise, same image
    b = G(z, torch.tensor([0, 1]), noise_mode="random")
    assert (a - b).abs().mean() > 1e-4
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)


def test_discriminator_learns_to_reconstruct():
    """The self-supervised decoders learn: a few steps on the reconstruction loss lower it."""
    _, _, D = _nets(32, 1, 0, seed=2)
    x = torch.zeros(4, 1, 32, 32) - 1
    x[:, :, 8:24, 4:14] = 1
    opt = torch.optim.Adam(D.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        torch.manual_seed(0)  # the same quadrant every step
        _, rec = D(x, return_aux=True)
        opt.zero_grad()
        rec.backward()
        opt.step()
        losses.append(rec.item())
    assert losses[-1] < 0.5 * losses[0]


def test_freeze_blocks():
    _, _, D = _nets(64, 3, 0)
    D.freeze_blocks(2)
    assert not any(p.requires_grad for b in D.blocks[:2] for p in b.parameters())
    assert all(p.requires_grad for b in D.blocks[2:] for p in b.parameters())
    assert all(p.requires_grad for p in D.decoder_big.parameters())


def blobs(n_per_class=16):
    return _blobs(n_per_class=n_per_class, channels=3)


def tiny(**kw):
    return make_config("fastgan", "tiny", resolution=16, channels=3, num_classes=2, device="cpu", **kw)


def test_two_tick_run_writes_every_artefact(tmp_path):
    res = train(blobs(), tiny(), run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    run = tmp_path / "run"
    assert res.kimg == pytest.approx(0.064)
    stats = read_jsonl(run / "stats.jsonl")
    assert [s["tick"] for s in stats] == [1, 2]
    for key in ("loss_G", "loss_D", "loss_rec", "d_real_acc", "aug_p", "img_per_s"):
        assert np.isfinite(stats[-1][key]), key
    assert stats[-1]["loss_rec"] > 0
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["network"]["arch"] == "fastgan" and opts["loss"] == "hinge" and opts["aug"] == "diffaug"
    for name in (
        "reals.png",
        "fakes_init.png",
        "fakes000000.032.png",
        "fakes000000.064.png",
        "log.txt",
        "snapshot-latest.json",
        "snapshot-000000.064.pt",
    ):
        assert (run / name).stat().st_size > 0, name
    assert any(run.glob("events.out.tfevents.*"))
    state = torch.load(run / "snapshot-000000.064.pt", weights_only=True)
    assert state["config"]["network"]["arch"] == "fastgan"
    G, _ = load_generator(run)
    x = G(torch.randn(3, G.z_dim), torch.tensor([0, 1, 1]))
    assert x.shape == (3, 3, 16, 16)


def test_interrupted_then_resumed_matches_uninterrupted(tmp_path):
    cfg = tiny(kimg=0.128, tick_kimg=0.032, snap=1)
    quiet = dict(progress=False, log=lambda s: None)
    train(blobs(), cfg, run_dir=tmp_path / "full", **quiet)
    train(blobs(), cfg, run_dir=tmp_path / "part", max_ticks=2, **quiet)
    train(blobs(), resume=tmp_path / "part", **quiet)
    a, b = load_snapshot(tmp_path / "full"), load_snapshot(tmp_path / "part")
    assert a["cur_nimg"] == b["cur_nimg"] == 128
    for key in ("G_ema", "D", "G"):
        for name in a[key]:
            torch.testing.assert_close(
                a[key][name].float(), b[key][name].float(), rtol=1e-4, atol=1e-5, msg=f"{key}.{name}"
            )
    sa, sb = read_jsonl(tmp_path / "full" / "stats.jsonl"), read_jsonl(tmp_path / "part" / "stats.jsonl")
    assert [s["loss_rec"] for s in sa] == pytest.approx([s["loss_rec"] for s in sb], rel=1e-4)


def test_cli_train_fastgan(tmp_path):
    from click.testing import CliRunner

    from ganaug.cli import cli
    from ganaug.data.prepared import prepare

    blobs(n_per_class=20).save_npz(tmp_path / "data.npz")
    prepare(str(tmp_path / "data.npz"), tmp_path / "prep", seed=0)
    r = CliRunner().invoke(
        cli,
        [
            "train",
            str(tmp_path / "prep"),
            "--arch",
            "fastgan",
            "--preset",
            "tiny",
            "--resolution",
            "32",
            "--out",
            str(tmp_path / "runs"),
            "--kimg",
            "0.016",
            "--device",
            "cpu",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    run = next((tmp_path / "runs").iterdir())
    assert run.name.endswith("-fastgan")
    G, _ = load_generator(run)
    assert G.img_resolution == 32
