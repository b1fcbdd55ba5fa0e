"""Importing official StyleGAN2-ADA snapshots safely (ganaug.nvlabs).

The tests write official-format snapshot files themselves: ``torch_utils.persistence`` records
(class name, constructor arguments, state, and module source text that would create a marker
file if it were ever executed) laid out as the official networks are (``b{res}``, ``fc{i}``,
``b4`` epilogue...), filled with the weights of a ganaug network through the name mapping written
out here by hand, in the official direction. Importing them must give back networks that
compute the same images and logits.
"""

from __future__ import annotations

import collections
import math
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from ganaug.config import NetworkConfig
from ganaug.data.imageset import ImageSet
from ganaug.errors import CheckpointError
from ganaug.models import build_discriminator, build_generator

SRC = Path(__file__).resolve().parents[1] / "src"
FIR = torch.tensor([[1.0, 3, 3, 1], [3, 9, 9, 3], [3, 9, 9, 3], [1, 3, 3, 1]]) / 64


@pytest.fixture
def official_modules(monkeypatch):
    """Stand-ins for torch_utils.persistence and dnnlib.util so records pickle under the official names.

    Their reconstruct function would execute the embedded source, as the real one does.
    """
    tu, pers = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")
    dn, util = types.ModuleType("dnnlib"), types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # what the official loader does: runs the source
        exec(meta["module_src"], {})  # noqa: S102

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    pers._reconstruct_persistent_obj = _reconstruct_persistent_obj
    tu.persistence = pers

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    util.EasyDict = EasyDict
    dn.util = util
    for name, mod in (
        ("torch_utils", tu),
        ("torch_utils.persistence", pers),
        ("dnnlib", dn),
        ("dnnlib.util", util),
    ):
        monkeypatch.setitem(sys.modules, name, mod)
    return types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=EasyDict)


class Persistent:
    """Pickles exactly as a torch_utils.persistence object: _reconstruct_persistent_obj(meta)."""

    def __init__(
        self, env, class_name, src, *, params=None, buffers=None, modules=None, init_kwargs=None, **attrs
    ):
        self.env, self.class_name, self.src = env, class_name, src
        self.state = {
            "training": False,
            "_parameters": collections.OrderedDict(
                (k, torch.nn.Parameter(v.clone(), requires_grad=False)) for k, v in (params or {}).items()
            ),
            "_buffers": collections.OrderedDict((k, v.clone()) for k, v in (buffers or {}).items()),
            "_non_persistent_buffers_set": set(),
            "_backward_hooks": collections.OrderedDict(),
            "_forward_hooks": collections.OrderedDict(),
            "_forward_pre_hooks": collections.OrderedDict(),
            "_state_dict_hooks": collections.OrderedDict(),
            "_load_state_dict_pre_hooks": collections.OrderedDict(),
            "_modules": collections.OrderedDict(modules or {}),
            "_init_args": (),
            "_init_kwargs": dict(init_kwargs or {}),
            **attrs,
        }

    def __reduce__(self):
        meta = dict(
            type="class", version=6, module_src=self.src, class_name=self.class_name, state=self.state
        )
        return self.env.reconstruct, (meta,)


def _source(marker: Path) -> str:
    return (
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('the snapshot code ran')\n"
        "class Generator:\n    pass\n"
    )


def official_generator(env, src, G, net: NetworkConfig, num_fp16_res=4):
    """The official module tree of a StyleGAN2-ADA Generator holding ganaug G's weights."""
    sd = {k: v.detach() for k, v in G.state_dict().items()}
    ED = env.EasyDict

    def P(cls, **kw):
        return Persistent(env, cls, src, **kw)

    def fc(name, **kw):
        return P(
            "FullyConnectedLayer",
            params={"weight": sd[name + ".weight"], "bias": sd[name + ".bias"]},
            init_kwargs=kw,
        )

    mapping = {}
    if net.num_classes:
        mapping["embed"] = fc("mapping.embed")
    for i in range(net.mapping_layers):
        mapping[f"fc{i}"] = fc(f"mapping.layers.{i}", activation="lrelu", lr_multiplier=0.01)
    mapping = P(
        "MappingNetwork",
        buffers={"w_avg": sd["mapping.w_avg"]},
        modules=mapping,
        init_kwargs=dict(
            z_dim=net.z_dim,
            c_dim=net.num_classes,
            w_dim=net.w_dim,
            num_ws=G.num_ws,
            num_layers=net.mapping_layers,
        ),
    )

    def layer(p):
        return P(
            "SynthesisLayer",
            params={k: sd[p + k] for k in ("weight", "noise_strength", "bias")},
            buffers={"resample_filter": FIR, "noise_const": sd[p + "noise_const"]},
            modules={"affine": fc(p + "affine")},
        )

    blocks = {}
    resolutions = [2**i for i in range(2, int(math.log2(net.resolution)) + 1)]
    for k, res in enumerate(resolutions):
        p = f"synthesis.blocks.{k}."
        mods = {} if res == 4 else {"conv0": layer(p + "conv0.")}
        mods["conv1"] = layer(p + "conv1.")
        mods["torgb"] = P(
            "ToRGBLayer",
            params={"weight": sd[p + "torgb.weight"], "bias": sd[p + "torgb.bias"]},
            modules={"affine": fc(p + "torgb.affine")},
        )
        blocks[f"b{res}"] = P(
            "SynthesisBlock",
            params={"const": sd[p + "const"]} if res == 4 else {},
            buffers={"resample_filter": FIR},
            modules=mods,
            resolution=res,
        )
    sk = ED(
        channel_base=net.channel_base, channel_max=net.channel_max, num_fp16_res=num_fp16_res, conv_clamp=256
    )
    synthesis = P(
        "SynthesisNetwork",
        modules=blocks,
        block_resolutions=resolutions,
        init_kwargs=dict(w_dim=net.w_dim, img_resolution=net.resolution, img_channels=net.channels, **sk),
    )
    return P(
        "Generator",
        modules={"synthesis": synthesis, "mapping": mapping},
        init_kwargs=dict(
            z_dim=net.z_dim,
            c_dim=net.num_classes,
            w_dim=net.w_dim,
            img_resolution=net.resolution,
            img_channels=net.channels,
            mapping_kwargs=ED(num_layers=net.mapping_layers),
            synthesis_kwargs=sk,
        ),
        z_dim=net.z_dim,
        c_dim=net.num_classes,
    )


def official_discriminator(env, src, D, net: NetworkConfig, frozen_layers=2):
    """The official module tree of a StyleGAN2-ADA Discriminator holding ganaug D's weights.

    Its first ``frozen_layers`` conv layers are stored as buffers, as official --freezed does.
    """
    sd = {k: v.detach() for k, v in D.state_dict().items()}
    ED = env.EasyDict
    layer_idx = [0]

    def P(cls, **kw):
        return Persistent(env, cls, src, **kw)

    def conv(name, bias=True):
        tensors = {"weight": sd[name + ".weight"]}
        if bias:
            tensors["bias"] = sd[name + ".bias"]
        trainable = layer_idx[0] >= frozen_layers
        layer_idx[0] += 1
        return P(
            "Conv2dLayer",
            params=tensors if trainable else {},
            buffers={"resample_filter": FIR, **({} if trainable else tensors)},
        )

    def fc(name):
        return P("FullyConnectedLayer", params={"weight": sd[name + ".weight"], "bias": sd[name + ".bias"]})

    mods = {}
    top = int(math.log2(net.resolution))
    for res in [2**i for i in range(top, 2, -1)]:
        p = f"blocks.{top - int(math.log2(res))}."
        b = {"fromrgb": conv(p + "fromrgb")} if res == net.resolution else {}
        b.update(conv0=conv(p + "conv0"), conv1=conv(p + "conv1"), skip=conv(p + "skip", bias=False))
        mods[f"b{res}"] = P("DiscriminatorBlock", buffers={"resample_filter": FIR}, modules=b)
    d_layers = net.d_mapping_layers or net.mapping_layers
    if net.num_classes:
        mm = {"embed": fc("mapping.embed")} | {f"fc{i}": fc(f"mapping.layers.{i}") for i in range(d_layers)}
        mods["mapping"] = P("MappingNetwork", modules=mm)
    mods["b4"] = P(
        "DiscriminatorEpilogue",
        modules={
            "mbstd": P("MinibatchStdLayer", group_size=net.mbstd_group, num_channels=1),
            "conv": conv("epilogue.conv"),
            "fc": fc("epilogue.fc"),
            "out": fc("epilogue.out"),
        },
    )
    return P(
        "Discriminator",
        modules=mods,
        init_kwargs=dict(
            c_dim=net.num_classes,
            img_resolution=net.resolution,
            img_channels=net.channels,
            architecture="resnet",
            channel_base=net.channel_base,
            channel_max=net.channel_max,
            num_fp16_res=4,
            conv_clamp=256,
            block_kwargs=ED(freeze_layers=frozen_layers),
            mapping_kwargs=ED(num_layers=d_layers),
            epilogue_kwargs=ED(mbstd_group_size=net.mbstd_group),
        ),
    )


def tiny_net(channels=3, num_classes=0, **kw) -> NetworkConfig:
    base = dict(
        arch="stylegan2",
        resolution=16,
        channels=channels,
        num_classes=num_classes,
        z_dim=8,
        w_dim=8,
        mapping_layers=2,
        channel_base=128,
        channel_max=8,
        mbstd_group=2,
    )
    return NetworkConfig(**(base | kw))


def _randomised(module, seed):
    """Non-trivial weights everywhere (noise strengths and w_avg too), so every name matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(module.parameters()) + [b for n, b in module.named_buffers() if n.endswith(("w_avg",))]:
            t.add_(torch.randn(t.shape, generator=g) * 0.3)
    return module.eval()


def write_official(path, env, net, marker, p=0.25, with_d=True):
    """An official-format snapshot file from freshly made ganaug networks; returns (G_ema, G, D)."""
    src = _source(marker)
    G_ema = _randomised(build_generator(net), 1)
    G = _randomised(build_generator(net), 2)
    D = _randomised(build_discriminator(net), 3)
    data = {
        "training_set_kwargs": {
            "class_name": "training.dataset.ImageFolderDataset",
            "path": "data.zip",
            "use_labels": bool(net.num_classes),
            "max_size": 100,
            "xflip": False,
            "resolution": net.resolution,
        },
        "G": official_generator(env, src, G, net),
        "G_ema": official_generator(env, src, G_ema, net),
        "augment_pipe": Persistent(
            env,
            "AugmentPipe",
            src,
            buffers={"p": torch.tensor(p)},
            init_kwargs=dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1),
        ),
    }
    if with_d:
        data["D"] = official_discriminator(env, src, D, net)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return G_ema, G, D


CASES = [(1, 0), (3, 0), (3, 3), (1, 2)]


@pytest.mark.parametrize(("channels", "num_classes"), CASES)
def test_imported_networks_reproduce_the_originals(tmp_path, official_modules, channels, num_classes):
    from ganaug.checkpoint import import_nvlabs, load_generator, load_snapshot

    marker = tmp_path / "marker.txt"
    net = tiny_net(channels, num_classes, d_mapping_layers=3 if num_classes else None)
    pkl = tmp_path / "network-snapshot-000120.pkl"
    G_ema, G, D = write_official(pkl, official_modules, net, marker)
    snap = import_nvlabs(pkl, tmp_path / "imported")
    assert not marker.exists(), "the importer executed the snapshot's source code"

    G2, info = load_generator(tmp_path / "imported")
    assert info["cur_nimg"] == 120_000
    names = info["class_names"]
    assert names == ([f"class{i}" for i in range(num_classes)] if num_classes else ["all"])
    z = torch.randn(5, net.z_dim, generator=torch.Generator().manual_seed(7))
    c = torch.arange(5) % num_classes if num_classes else None
    with torch.no_grad():
        want = G_ema(z, c, noise_mode="const")
        got = G2(z, c, noise_mode="const")
    assert got.shape == (5, channels, 16, 16)
    assert want.abs().mean() > 0.05  # a real image, not zeros
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)

    state = load_snapshot(snap)
    assert state["augment_pipe"]["p"].item() == pytest.approx(0.25)
    D2 = build_discriminator(NetworkConfig.from_dict(state["config"]["network"])).eval()
    D2.load_state_dict(state["D"])
    x = torch.rand(4, channels, 16, 16) * 2 - 1
    cx = torch.arange(4) % num_classes if num_classes else None
    with torch.no_grad():
        torch.testing.assert_close(D2(x, cx), D(x, cx), atol=1e-4, rtol=0)
    G3 = build_generator(NetworkConfig.from_dict(state["config"]["network"])).eval()
    G3.load_state_dict(state["G"])
    with torch.no_grad():
        torch.testing.assert_close(
            G3(z, c, noise_mode="const"), G(z, c, noise_mode="const"), atol=1e-4, rtol=0
        )
    if num_classes:
        # Truncation toward each class's own average w keeps the class (estimated at import).
        avg = state["G_ema"]["mapping.w_avg_class"]
        assert avg.shape == (num_classes, net.w_dim) and avg.abs().sum() > 0
        assert not torch.allclose(avg[0], avg[1])


def test_cli_import_then_generate(tmp_path, official_modules):
    from click.testing import CliRunner

    from ganaug.cli import cli

    marker = tmp_path / "marker.txt"
    pkl = tmp_path / "snap.pkl"
    write_official(pkl, official_modules, tiny_net(3, 2), marker, with_d=False)
    r = CliRunner().invoke(
        cli, ["import-nvlabs", str(pkl), "--out", str(tmp_path / "imp"), "--class-names", "cats,dogs"]
    )
    assert r.exit_code == 0, r.output
    assert "G_ema" in r.output and "no D" in r.output
    r = CliRunner().invoke(
        cli, ["generate", str(tmp_path / "imp"), "--n", "2", "--out", str(tmp_path / "gen"), "-q"]
    )
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "gen" / "dogs").glob("*.png"))) == 2
    r = CliRunner().invoke(
        cli, ["import-nvlabs", str(pkl), "--out", str(tmp_path / "imp2"), "--class-names", "a"]
    )
    assert isinstance(r.exception, CheckpointError) and "conditional on 2 classes" in str(r.exception)
    assert not marker.exists()


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickles_are_refused_and_run_nothing(tmp_path, official_modules):
    from ganaug.nvlabs import read_pickle

    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"G_ema": Evil(marker)}))
    with pytest.raises(CheckpointError, match=r"os\.system|posix\.system"):
        read_pickle(bad)
    # The command line: a one-line refusal, no traceback, exit status 1.
    r = subprocess.run(
        [sys.executable, "-m", "ganaug", "import-nvlabs", str(bad), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert r.returncode == 1 and "refused" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not marker.exists() and not (tmp_path / "x").exists()

    # Hidden deep inside an otherwise genuine record (an init kwarg), it is refused all the same.
    net = tiny_net(1, 0)
    rec = official_generator(official_modules, "", build_generator(net), net)
    rec.state["_init_kwargs"]["synthesis_kwargs"]["hook"] = Evil(marker)
    (tmp_path / "evil2.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    with pytest.raises(CheckpointError, match="refused"):
        read_pickle(tmp_path / "evil2.pkl")
    assert not marker.exists()

    # Not a snapshot at all / truncated.
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="not a readable"):
        read_pickle(tmp_path / "junk.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError, match="no G_ema"):
        read_pickle(tmp_path / "list.pkl")


def test_unsupported_variants_are_refused_with_the_reason(tmp_path, official_modules):
    from ganaug.checkpoint import import_nvlabs

    net = tiny_net(3, 0)
    rec = official_generator(official_modules, "", build_generator(net), net)
    rec.state["_init_kwargs"]["synthesis_kwargs"]["architecture"] = "resnet"
    (tmp_path / "a.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    with pytest.raises(CheckpointError, match="'resnet' generator architecture"):
        import_nvlabs(tmp_path / "a.pkl", tmp_path / "out")
    rec = official_generator(official_modules, "", build_generator(net), net)
    del rec.state["_modules"]["synthesis"].state["_modules"]["b8"].state["_modules"]["conv0"]
    (tmp_path / "b.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    with pytest.raises(CheckpointError, match="missing: synthesis.blocks.1.conv0"):
        import_nvlabs(tmp_path / "b.pkl", tmp_path / "out")


def test_numpy_scalars_in_kwargs_are_read(tmp_path, official_modules):
    from ganaug.nvlabs import read_pickle

    net = tiny_net(1, 0)
    rec = official_generator(official_modules, "", build_generator(net), net)
    rec.state["w_avg_beta"] = np.float32(0.995)
    (tmp_path / "n.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    data = read_pickle(tmp_path / "n.pkl")
    assert float(data["G_ema"].state["w_avg_beta"]) == pytest.approx(0.995)


def gray_blobs(n=16, res=16):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 40, size=(n, 1, res, res)).astype(np.uint8)
    for i in range(n):
        o = int(rng.integers(0, res // 2))
        imgs[i, :, o : o + res // 3, o : o + res // 3] = 220
    return ImageSet(imgs, np.zeros(n, np.int64), ["cells"])


def test_transfer_from_an_official_pickle_freezes_and_resumes_exactly(tmp_path, official_modules):
    """1-channel data from an RGB official snapshot: trains as RGB with the source's architecture,
    the frozen D layers keep the source's weights, a resumed run equals an uninterrupted one, and
    generated images are 1-channel again."""
    from ganaug.checkpoint import load_snapshot
    from ganaug.generation import generate
    from ganaug.training import train

    marker = tmp_path / "marker.txt"
    pkl = tmp_path / "source.pkl"
    _, _, D_src = write_official(pkl, official_modules, tiny_net(3, 0), marker)
    quiet = dict(progress=False, log=lambda s: None)
    kw = dict(
        preset="tiny",
        transfer=pkl,
        freeze_d=1,
        resolution=16,
        kimg=0.128,
        tick_kimg=0.032,
        snap=1,
        device="cpu",
        **quiet,
    )
    full = train(gray_blobs(), run_dir=tmp_path / "full", **kw)
    part = train(gray_blobs(), run_dir=tmp_path / "part", max_ticks=2, **kw)
    assert part.kimg == pytest.approx(0.064)
    train(gray_blobs(), resume=tmp_path / "part", **quiet)
    assert not marker.exists()

    cfg = full.config
    assert cfg.network.arch == "stylegan2" and cfg.network.z_dim == 8 and cfg.network.channel_max == 8
    assert cfg.network.channels == 3 and cfg.export_channels == 1
    assert cfg.ada_kimg <= 100 and cfg.ema_rampup is None
    a, b = load_snapshot(tmp_path / "full"), load_snapshot(tmp_path / "part")
    assert a["cur_nimg"] == b["cur_nimg"] == 128
    for key in ("G_ema", "D"):
        for name in a[key]:
            torch.testing.assert_close(a[key][name], b[key][name], rtol=1e-4, atol=1e-5, msg=f"{key}.{name}")
    src = D_src.state_dict()
    torch.testing.assert_close(
        a["D"]["blocks.0.fromrgb.weight"], src["blocks.0.fromrgb.weight"], rtol=0, atol=0
    )
    assert not torch.allclose(a["D"]["epilogue.out.weight"], src["epilogue.out.weight"])  # the rest trains

    gen = generate(tmp_path / "full", n=3, progress=False)
    assert gen.images.images.shape == (3, 1, 16, 16)


def test_transfer_needs_the_source_resolution(tmp_path, official_modules):
    from ganaug.training import train

    pkl = tmp_path / "source.pkl"
    write_official(pkl, official_modules, tiny_net(3, 0), tmp_path / "m")
    quiet = dict(progress=False, log=lambda s: None, device="cpu", preset="tiny", transfer=pkl)
    with pytest.raises(
        CheckpointError,
        match=r"source makes 16x16 images but this run trains at 32x32\. "
        r"Pass --resolution 16",
    ):
        train(gray_blobs(res=32), out=tmp_path / "runs", **quiet)
    assert not (tmp_path / "runs").exists()
    with pytest.raises(CheckpointError, match="stylegan2 snapshot but --arch dcgan"):
        train(gray_blobs(res=32), arch="dcgan", out=tmp_path / "runs", **quiet)
    gray = tmp_path / "gray.pkl"
    write_official(gray, official_modules, tiny_net(1, 0), tmp_path / "m")
    rgb = ImageSet(np.repeat(gray_blobs().images, 3, axis=1), np.zeros(16, np.int64), ["cells"])
    with pytest.raises(CheckpointError, match="grayscale.*pass --channels 1"):
        train(rgb, out=tmp_path / "runs", **dict(quiet, transfer=gray), resolution=16)
    with pytest.raises(CheckpointError, match="use --transfer|with --transfer"):
        train(gray_blobs(), resume=pkl, progress=False, log=lambda s: None)
    ok = train(
        gray_blobs(res=32), resolution=16, kimg=0.032, tick_kimg=0.032, run_dir=tmp_path / "ok", **quiet
    )
    assert ok.kimg == pytest.approx(0.032) and ok.config.network.resolution == 16
