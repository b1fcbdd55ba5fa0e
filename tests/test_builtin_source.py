"""The embedded transfer source (builtin:fashion-garments): a safe snapshot, a trained generator of
its four classes, and a starting point for the demo set."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganaug.checkpoint import find_snapshot, load_generator, load_snapshot
from ganaug.cli import cli
from ganaug.config import NetworkConfig, make_config
from ganaug.data.builtin import builtin_snapshot_path
from ganaug.data.imageset import ImageSet
from ganaug.data.prepared import prepare
from ganaug.errors import UserError
from ganaug.generation.sampling import synthesize
from ganaug.models import build_discriminator, build_generator
from ganaug.reporting.sections.gan import _option_rows
from ganaug.training import train
from ganaug.training.sampler import prepare_training_images
from ganaug.training.transfer import TRANSFER_MODE_SEEKING, load_transfer, transfer_config
from ganaug.utils import read_json

SOURCE = "builtin:fashion-garments"


def test_the_file_is_what_its_provenance_says():
    path = find_snapshot(SOURCE)
    assert path == builtin_snapshot_path("fashion-garments") and path.is_file()
    prov = (path.parent / "PROVENANCE-fashion-garments.md").read_text()
    digest = re.search(r"sha256 of fashion-garments-sg2.pt: `([0-9a-f]{64})`", prov).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    # state dicts and config only: loads with weights_only=True; no optimiser state to resume from
    state = load_snapshot(SOURCE)
    assert {"config", "G", "G_ema", "D", "class_names"} <= set(state)
    assert "opt_G" not in state and "opt_D" not in state
    assert state["class_names"] == ["trouser", "dress", "coat", "bag"]
    assert not set(state["class_names"]) & {"tshirt", "pullover", "shirt"}  # none of the demo's classes
    with pytest.raises(UserError, match="unknown builtin GAN snapshot 'nope'.*fashion-garments"):
        find_snapshot("builtin:nope")


def test_it_generates_four_distinct_varied_classes():
    G, info = load_generator(SOURCE)
    assert next(G.parameters()).dtype == torch.float32  # float16 on disk, float32 in memory
    assert info["config"].network.resolution == 32 and list(info["config"].crop_to) == [28, 28]
    with torch.no_grad():
        imgs = {c: synthesize(G, list(range(32)), c).astype(np.float64) for c in range(4)}
    means = {c: x.mean(axis=0) for c, x in imgs.items()}
    spread = np.mean([x.std(axis=0).mean() for x in imgs.values()])  # within a class, across seeds
    between = np.mean([np.abs(means[a] - means[b]).mean() for a in range(4) for b in range(a + 1, 4)])
    assert spread > 10, "samples of one class are near copies of each other"
    assert between > 15, "the classes' mean images hardly differ: the class input is ignored"
    # trousers are two legs (32 px, lower rows): a dark gap at columns 15-16 between bright legs at
    # 12-14 and 18-20; a bag is one bright block there
    trouser, bag = means[0][0, 20:28].mean(axis=0), means[3][0, 20:28].mean(axis=0)
    assert trouser[15:17].mean() < min(trouser[12:15].mean(), trouser[18:21].mean()) - 100
    assert bag[15:17].mean() > bag[12:15].mean() - 30 and bag[12:21].min() > 100


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return prepare(builtin="fashion-demo", out=tmp_path_factory.mktemp("demo") / "prep", seed=0)


def test_transfer_to_the_demo_starts_from_the_source(tmp_path, demo):
    logs: list[str] = []
    res = train(
        demo.train,
        transfer=SOURCE,
        kimg=0.064,
        tick_kimg=0.064,
        budget="off",
        device="cpu",
        run_dir=tmp_path / "run",
        progress=False,
        log=logs.append,
    )
    src = load_snapshot(SOURCE)
    dst = load_snapshot(res.run_dir)
    net = dst["config"]["network"]
    assert net["arch"] == "stylegan2" and net["resolution"] == 32 and net["num_classes"] == 3
    assert dst["class_names"] == ["tshirt", "pullover", "shirt"]
    # the source has none of the demo's classes: their embeddings start at random, and the log says so
    assert any("the source has none of this run's classes" in s for s in logs), logs
    assert not any("not transferred" in s for s in logs), logs
    # everything else starts from the source: after two steps the synthesis weights moved only a little
    key = "synthesis.blocks.3.conv1.weight"
    a, b = src["G"][key].float(), dst["G"][key].float()
    assert (a - b).norm() / a.norm() < 0.05
    assert (src["D"]["blocks.0.conv0.weight"].float() - dst["D"]["blocks.0.conv0.weight"]).norm() > 0
    # the run says where it started, and keeps saying it after a resume with a raised kimg
    started = {
        "source": SOURCE,
        "file": "fashion-garments-sg2.pt",
        "kimg": src["cur_nimg"] / 1000,
        "classes": ["trouser", "dress", "coat", "bag"],
    }
    assert read_json(res.run_dir / "training_options.json")["transfer"] == started
    # fine-tuning seeks modes by default (TRANSFER_MODE_SEEKING): the term is in G's loss
    assert res.config.mode_seeking == TRANSFER_MODE_SEEKING > 0
    assert all(r["loss_ms"] != 0 for r in res.stats)
    train(demo.train, resume=res.run_dir, kimg=0.096, progress=False, log=lambda s: None)
    opts = read_json(res.run_dir / "training_options.json")
    assert opts["transfer"] == started and opts["kimg"] == pytest.approx(0.096)
    rows = dict(_option_rows(opts, opts["network"], conditional=True))  # the report's GAN section
    assert rows["started from"].startswith("builtin:fashion-garments (") and "coat" in rows["started from"]
    assert rows["against collapse"] == "mode-seeking term (MSGAN) 0.1"
    assert rows["started from"].endswith("bag)")
    rows = dict(_option_rows({**opts, "transfer_classes": "nearest"}, opts["network"], conditional=True))
    assert rows["started from"].endswith("bag; other classes from the nearest of them)")


def test_cli_takes_and_checks_a_builtin_source(tmp_path, demo):
    runner = CliRunner()
    r = runner.invoke(cli, ["train", str(demo.path), "--transfer", "builtin:nope", "--kimg", "0.032"])
    assert r.exit_code == 2 and "unknown builtin GAN snapshot 'nope'" in r.output
    r = runner.invoke(cli, ["run", "--builtin", "fashion-demo", "--transfer", "builtin:nope"])
    assert r.exit_code == 2 and "unknown builtin GAN snapshot" in r.output
    r = runner.invoke(cli, ["train", str(demo.path), "--transfer", SOURCE, "--budget", "off", "--dry-run"])
    assert r.exit_code == 0, r.output
    # the dry run describes the source's networks (it used to describe the default DCGAN)
    assert '"arch": "stylegan2"' in r.output and '"channel_max": 64' in r.output
    assert '"num_classes": 3' in r.output


@pytest.mark.parametrize(
    "given, expected", [({}, TRANSFER_MODE_SEEKING), ({"mode_seeking": 0.0}, 0.0), ({"mode_seeking": 1}, 1)]
)
def test_fine_tuning_seeks_modes_unless_told_otherwise(given, expected):
    from ganaug.config import NetworkConfig, make_config

    src = NetworkConfig.from_dict(load_snapshot(SOURCE)["config"]["network"])
    own = make_config("stylegan2", "cpu", resolution=32, channels=1, num_classes=3, **given)
    assert transfer_config(own, src, given).mode_seeking == expected
    assert transfer_config(own, src, None).mode_seeking == own.mode_seeking  # a full config is kept


def _fine_tuning_start(train_set: ImageSet, transfer_classes: str) -> tuple[dict, dict, list[str]]:
    """The networks of a run on ``train_set`` right after the source is loaded, the source's own
    networks, and the log. Loading leaves the global random state as it was (the run's stream)."""
    s = load_snapshot(SOURCE)
    src_net = NetworkConfig.from_dict(s["config"]["network"])
    own = make_config("stylegan2", "cpu", resolution=32, channels=1, num_classes=train_set.num_classes)
    cfg = transfer_config(own, src_net, {}).replace(crop_to=[28, 28], transfer_classes=transfer_classes)
    nets = {"G": build_generator(cfg.network), "D": build_discriminator(cfg.network)}
    nets["G_ema"] = build_generator(cfg.network)
    src = {"G_ema": build_generator(src_net), "D": build_discriminator(src_net)}
    for name, module in src.items():
        module.load_state_dict(s[name])
    logs: list[str] = []
    data, rng = prepare_training_images(train_set, cfg), torch.get_rng_state()
    load_transfer(s, cfg, nets, data, logs.append)
    assert torch.equal(torch.get_rng_state(), rng)
    return nets, src, logs


def _starts_as(nets: dict, src: dict, own_class: int, src_class: int) -> bool:
    """Whether class ``own_class`` of the run maps latents to the same w, and D to the same class
    projection, as ``src_class`` of the source."""
    z = torch.randn(8, 128, generator=torch.Generator().manual_seed(1))
    c, k = torch.full((8,), own_class), torch.full((8,), src_class)
    with torch.no_grad():
        same_w = torch.allclose(nets["G_ema"].mapping(z, c), src["G_ema"].mapping(z, k), atol=1e-5)
        same_cmap = torch.allclose(nets["D"].mapping(None, c), src["D"].mapping(None, k), atol=1e-5)
        same_avg = torch.equal(
            nets["G_ema"].mapping.w_avg_class[own_class], src["G_ema"].mapping.w_avg_class[src_class]
        )
    return same_w and same_cmap and same_avg


def test_a_class_starts_from_the_source_class_of_its_name_else_at_random(demo):
    nets, src, logs = _fine_tuning_start(demo.train, "names")
    assert "the source has none of this run's classes (trouser, dress, coat, bag)" in logs[-1]
    assert not any(_starts_as(nets, src, j, k) for j in range(3) for k in range(4))
    named = ImageSet(demo.train.images, demo.train.labels, ["tshirt", "bag", "trouser"])
    nets, src, logs = _fine_tuning_start(named, "names")
    assert logs[-1].endswith("tshirt: at random, bag <- bag (same name), trouser <- trouser (same name)")
    assert _starts_as(nets, src, 1, 3) and _starts_as(nets, src, 2, 0)
    assert not any(_starts_as(nets, src, 0, k) for k in range(4))
    # the source's four classes in another order: the class count is the same, so the embedding would
    # load by shape, each class taking another's; by name each starts from its own
    y = demo.train.labels.copy()
    y[:4] = 3  # a fourth class
    reordered = ImageSet(demo.train.images, y, ["bag", "coat", "dress", "trouser"])
    nets, src, logs = _fine_tuning_start(reordered, "names")
    assert all(_starts_as(nets, src, j, k) for j, k in enumerate([3, 2, 1, 0]))


def test_with_nearest_a_new_class_starts_as_the_source_class_nearest_its_images(demo):
    nets, src, logs = _fine_tuning_start(demo.train, "nearest")
    # T-shirts look most like the source's dresses, pullovers and shirts like its coats (not like
    # trousers or bags): G and D start each class exactly where its source class is
    assert logs[-1].endswith("tshirt <- dress (nearest), pullover <- coat (nearest), shirt <- coat (nearest)")
    assert _starts_as(nets, src, 0, 1) and _starts_as(nets, src, 1, 2) and _starts_as(nets, src, 2, 2)
    # a class the source has by name starts from it
    named = ImageSet(demo.train.images, demo.train.labels, ["tshirt", "bag", "trouser"])
    nets, src, logs = _fine_tuning_start(named, "nearest")
    assert logs[-1].endswith(
        "tshirt <- dress (nearest), bag <- bag (same name), trouser <- trouser (same name)"
    )
    assert _starts_as(nets, src, 0, 1) and _starts_as(nets, src, 1, 3) and _starts_as(nets, src, 2, 0)
