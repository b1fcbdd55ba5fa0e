"""Network contract tests for models/ (tiny sizes, CPU)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganaug.config import NetworkConfig, make_config
from ganaug.models import build_discriminator, build_generator, count_parameters
from ganaug.models.dcgan import classic_dcgan64
from ganaug.models.layers import MinibatchStd, downsample2d, fir_filter, modulated_conv2d, upsample2d

ARCHS = ["dcgan", "stylegan2"]


def tiny(arch: str, res: int = 16, channels: int = 3, num_classes: int = 0, **kw) -> NetworkConfig:
    return make_config(arch, "tiny", resolution=res, channels=channels, num_classes=num_classes, **kw).network


def labels(B: int, num_classes: int) -> torch.Tensor | None:
    return torch.arange(B) % num_classes if num_classes else None


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("res", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_shapes(arch, res, channels, num_classes):
    cfg = tiny(arch, res, channels, num_classes)
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert (G.z_dim, G.num_classes, G.img_resolution, G.img_channels) == (
        cfg.z_dim,
        num_classes,
        res,
        channels,
    )
    B = 4
    z, c = torch.randn(B, G.z_dim), labels(B, num_classes)
    img = G(z, c)
    assert img.shape == (B, channels, res, res)
    assert torch.isfinite(img).all()
    logits = D(img, c)
    assert logits.shape == (B,) and logits.dtype == torch.float32


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_128(arch):
    cfg = tiny(arch, 128, 3, 2, g_channels=4, d_channels=4, channel_base=128, channel_max=8)
    G, D = build_generator(cfg), build_discriminator(cfg)
    c = torch.tensor([0, 1])
    img = G(torch.randn(2, G.z_dim), c)
    assert img.shape == (2, 3, 128, 128)
    assert D(img, c).shape == (2,)


@pytest.mark.parametrize("nc", [1, 3])
def test_classic_dcgan64_matches_pytorch_example(nc):
    expected_g = [  # (layer, weight shape) of examples/dcgan/main.py
        ("ConvTranspose2d", (100, 512, 4, 4)),
        ("BatchNorm2d", (512,)),
        ("ConvTranspose2d", (512, 256, 4, 4)),
        ("BatchNorm2d", (256,)),
        ("ConvTranspose2d", (256, 128, 4, 4)),
        ("BatchNorm2d", (128,)),
        ("ConvTranspose2d", (128, 64, 4, 4)),
        ("BatchNorm2d", (64,)),
        ("ConvTranspose2d", (64, nc, 4, 4)),
    ]
    expected_d = [
        ("Conv2d", (64, nc, 4, 4)),
        ("Conv2d", (128, 64, 4, 4)),
        ("BatchNorm2d", (128,)),
        ("Conv2d", (256, 128, 4, 4)),
        ("BatchNorm2d", (256,)),
        ("Conv2d", (512, 256, 4, 4)),
        ("BatchNorm2d", (512,)),
        ("Conv2d", (1, 512, 4, 4)),
    ]

    def stack(m: nn.Module):
        return [(type(x).__name__, tuple(x.weight.shape)) for x in m.modules() if hasattr(x, "weight")]

    cfg = NetworkConfig(arch="dcgan", resolution=64, channels=nc, z_dim=100, g_channels=64, d_channels=64)
    for G, D in [classic_dcgan64(nc), (build_generator(cfg), build_discriminator(cfg))]:
        assert stack(G) == expected_g and stack(D) == expected_d
        assert all(x.bias is None for x in G.modules() if isinstance(x, (nn.Conv2d, nn.ConvTranspose2d)))
        assert all(x.bias is None for x in D.modules() if isinstance(x, nn.Conv2d))
        assert isinstance(list(G.modules())[-1], nn.Tanh)
        if nc == 3:
            assert count_parameters(G) == 3_576_704
            assert count_parameters(D) == 2_765_568
    # DCGAN init: conv N(0, 0.02), batch-norm scale N(1, 0.02).
    G, _ = classic_dcgan64(nc)
    conv = G.blocks[1][0].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002
    assert abs(G.blocks[1][1].weight.mean().item() - 1) < 0.01


def test_dcgan_options():
    cfg = tiny("dcgan", 32, 3, 2, d_spectral_norm=True, d_dropout=0.2, g_batch_norm=False)
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in list(G.modules()) + list(D.modules()))
    assert any(isinstance(m, nn.Dropout) for m in D.modules())
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert all(hasattr(m, "parametrizations") for m in convs) and hasattr(D.embed, "parametrizations")
    assert abs(convs[1].parametrizations.weight.original.std().item() - 0.02) < 0.005  # DCGAN init kept
    c = torch.tensor([0, 1, 1])
    assert D(G(torch.randn(3, G.z_dim), c), c).shape == (3,)


@pytest.mark.parametrize("arch", ARCHS)
def test_conditional_generator_depends_on_class(arch):
    G = build_generator(tiny(arch, 16, 3, 4)).eval()
    z = torch.randn(1, G.z_dim).repeat(4, 1)
    img = G(z, torch.arange(4), noise_mode="const")
    for k in range(1, 4):
        assert not torch.allclose(img[0], img[k])


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("num_classes", [0, 3])
def test_gradients_reach_all_parameters(arch, num_classes):
    cfg = tiny(arch, 16, 1, num_classes)
    G, D = build_generator(cfg), build_discriminator(cfg)
    B = 6
    c = labels(B, num_classes)
    D(G(torch.randn(B, G.z_dim), c), c).square().mean().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("arch", ARCHS)
def test_freeze_blocks(arch):
    D = build_discriminator(tiny(arch, 32, 3))
    D.freeze_blocks(1)
    assert not any(p.requires_grad for p in D.blocks[0].parameters())
    assert all(p.requires_grad for p in D.blocks[1].parameters())
    before = count_parameters(D, trainable_only=True)
    D.freeze_blocks(0)
    assert (
        count_parameters(D, trainable_only=True)
        > before
        == count_parameters(D) - count_parameters(D.blocks[0])
    )


def test_dcgan_truncation_scales_z():
    G = build_generator(tiny("dcgan", 16)).eval()
    z = torch.randn(2, G.z_dim)
    assert torch.allclose(G(z, truncation_psi=0.5), G(z * 0.5))
    zero = G(torch.randn(3, G.z_dim), truncation_psi=0.0)
    assert torch.allclose(zero[0], zero[1]) and torch.allclose(zero[0], zero[2])


def test_stylegan2_w_avg_tracked_in_training_mode():
    G = build_generator(tiny("stylegan2", 16, 3))
    G.eval()(torch.randn(4, G.z_dim))
    assert torch.equal(G.w_avg, torch.zeros_like(G.w_avg))
    G.train()(torch.randn(4, G.z_dim))
    assert not torch.equal(G.w_avg, torch.zeros_like(G.w_avg))


def test_stylegan2_truncation_psi0_unconditional():
    G = build_generator(tiny("stylegan2", 16, 3)).eval()
    G.mapping(torch.randn(16, G.z_dim), None, update_w_avg=True)
    img = G(torch.randn(3, G.z_dim), truncation_psi=0.0, noise_mode="const")
    assert torch.allclose(img[0], img[1]) and torch.allclose(img[0], img[2])
    free = G(torch.randn(2, G.z_dim), noise_mode="const")
    assert not torch.allclose(free[0], free[1])


def test_stylegan2_truncation_psi0_per_class():
    G = build_generator(tiny("stylegan2", 16, 3, 3)).eval()
    w_avg = G.w_avg.clone()
    G.mapping(torch.randn(12, G.z_dim), torch.arange(12) % 3, update_w_avg=True)
    assert not torch.equal(G.w_avg, w_avg)
    z = torch.randn(4, G.z_dim)
    same = G(z, torch.zeros(4, dtype=torch.long), truncation_psi=0.0, noise_mode="const")
    assert all(torch.allclose(same[0], same[i]) for i in range(1, 4))
    other = G(z[:1], torch.ones(1, dtype=torch.long), truncation_psi=0.0, noise_mode="const")
    assert not torch.allclose(same[0], other[0])  # truncation pulls toward the class's own average
    # A cutoff keeps the fine styles free.
    cut = G(z, torch.zeros(4, dtype=torch.long), truncation_psi=0.0, noise_mode="const", truncation_cutoff=2)
    assert not torch.allclose(cut[0], cut[1])


def test_stylegan2_mapping_synthesis_and_noise():
    G = build_generator(tiny("stylegan2", 32, 3, 2))
    z, c = torch.randn(4, G.z_dim), torch.tensor([0, 1, 0, 1])
    ws = G.mapping(z, c)
    assert ws.shape == (4, G.num_ws, G.w_dim) and G.num_ws == 8  # 2 * log2(32) - 2
    # Style mixing, as the training loop does it: later ws from another latent.
    ws2 = G.mapping(torch.randn(4, G.z_dim), c)
    ws[:, 4:] = ws2[:, 4:]
    assert G.synthesis(ws, noise_mode="none").shape == (4, 3, 32, 32)
    for m in G.modules():
        if hasattr(m, "noise_strength"):
            m.noise_strength.data.fill_(0.5)
    assert torch.equal(G(z, c, noise_mode="const"), G(z, c, noise_mode="const"))
    assert not torch.equal(G(z, c, noise_mode="random"), G(z, c, noise_mode="random"))
    with pytest.raises(ValueError):
        G(z, None)


def test_stylegan2_channels_follow_config():
    cfg = tiny("stylegan2", 64, 3, channel_base=512, channel_max=16)
    G = build_generator(cfg)
    # min(512 // r, 16): 16 at 4..32, 8 at 64.
    assert [b.conv1.weight.shape[0] for b in G.synthesis.blocks] == [16, 16, 16, 16, 8]


@pytest.mark.parametrize("up", [1, 2])
def test_modulated_conv_fused_matches_unfused(up):
    x, w, s = torch.randn(3, 5, 8, 8), torch.randn(6, 5, 3, 3), torch.randn(3, 5)
    f = fir_filter()
    a = modulated_conv2d(x, w, s, up=up, resample_filter=f, fused=False)
    b = modulated_conv2d(x, w, s, up=up, resample_filter=f, fused=True)
    assert a.shape == (3, 6, 8 * up, 8 * up)
    assert torch.allclose(a, b, atol=1e-5)
    # Demodulation gives unit-variance outputs for unit-variance inputs (the point of it).
    y = modulated_conv2d(torch.randn(64, 16, 16, 16), torch.randn(32, 16, 3, 3), torch.rand(64, 16) + 0.5)
    assert 0.8 < y[:, :, 1:-1, 1:-1].std().item() < 1.2


def test_fir_resampling_preserves_constants():
    f = fir_filter()
    up = upsample2d(torch.ones(1, 2, 8, 8), f)
    down = downsample2d(torch.ones(1, 2, 8, 8), f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones(1)) and torch.allclose(
        down[..., 1:-1, 1:-1], torch.ones(1)
    )


def test_minibatch_std_odd_batch():
    x = torch.randn(6, 8, 4, 4)
    y = MinibatchStd(4)(x)  # 6 is not a multiple of 4: falls back to groups of 3
    assert y.shape == (6, 9, 4, 4)
    D = build_discriminator(tiny("stylegan2", 16, 1))
    assert D(torch.randn(5, 1, 16, 16)).shape == (5,)


@pytest.mark.parametrize("arch", ARCHS)
def test_mixed_precision_training_step(arch):
    cfg = tiny(arch, 16, 3, 2)
    G, D = build_generator(cfg), build_discriminator(cfg)
    c = torch.tensor([0, 1, 1, 0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = D(G(torch.randn(4, G.z_dim), c), c)
    assert logits.dtype == torch.float32
    logits.mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


@pytest.mark.parametrize("arch", ARCHS)
def test_r1_through_discriminator_and_augment_pipe(arch):
    from ganaug.augment.ada import AugmentPipe
    from ganaug.losses import r1_penalty

    D = build_discriminator(tiny(arch, 16, 3, 2))
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    penalty = r1_penalty(D(AugmentPipe(3, p=0.5)(x), torch.tensor([0, 1, 0, 1])), x)
    assert torch.isfinite(penalty) and penalty > 0
    penalty.backward()  # second-order gradients into D's weights
    assert D.blocks[0].parameters().__next__().grad.abs().sum() > 0


def test_discriminator_rejects_wrong_size():
    D = build_discriminator(tiny("stylegan2", 32, 3))
    with pytest.raises(ValueError, match="expects"):
        D(torch.randn(2, 3, 16, 16))


def test_freeze_layers_counts_like_the_official_option_and_survives_requires_grad():
    D = build_discriminator(tiny("stylegan2", 32, 3, 2))
    first, second = D.blocks[0], D.blocks[1]
    assert first.layers() == [first.fromrgb, first.conv0, first.conv1, first.skip]
    D.freeze_layers(5)  # fromRGB, conv0, conv1, skip of the first block + conv0 of the second
    D.requires_grad_(True)  # what the training loop calls before every D step
    assert not any(p.requires_grad for p in first.parameters())
    assert not any(p.requires_grad for p in second.conv0.parameters())
    assert all(
        p.requires_grad for m in (second.conv1, second.skip, D.epilogue, D.mapping) for p in m.parameters()
    )
    D.freeze_layers(0)
    assert all(p.requires_grad for p in D.parameters())


@pytest.mark.parametrize("num_fp16_res", [0, 2])
def test_stylegan2_precision_per_block_under_autocast(num_fp16_res):
    cfg = tiny("stylegan2", 32, 3, 2, num_fp16_res=num_fp16_res)
    G, D = build_generator(cfg), build_discriminator(cfg)
    seen = {}

    def record(name):
        return lambda module, inputs, output: seen.__setitem__(name, output)

    for i, block in enumerate(G.synthesis.blocks):
        block.register_forward_hook(record(f"G{G.synthesis.block_resolutions[i]}"))
    for i, block in enumerate(D.blocks):
        block.register_forward_hook(record(f"D{32 >> i}"))  # D's blocks take 32, 16, 8 px
    G.mapping.register_forward_hook(record("mapping"))
    c = torch.tensor([0, 1, 1, 0])
    z = torch.randn(4, G.z_dim)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        img = G(z, c)
        logits = D(img, c)
    assert img.dtype == logits.dtype == seen["mapping"].dtype == torch.float32
    # Blocks >= fp16 resolution (num_fp16_res=2 at 32 px: 16 and 32) run in bf16; the others in float32;
    # the image each block adds to is float32 everywhere.
    for res in (4, 8, 16, 32):
        x, block_img = seen[f"G{res}"]
        assert x.dtype == (torch.bfloat16 if num_fp16_res and res >= 16 else torch.float32), res
        assert block_img.dtype == torch.float32
    for res in (32, 16, 8):
        assert seen[f"D{res}"].dtype == (torch.bfloat16 if num_fp16_res and res >= 16 else torch.float32), res
    # The reduced-precision result stays close to the float32 one.
    ref = G(z, c, noise_mode="const")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = G(z, c, noise_mode="const")
    assert (low - ref).abs().max() < (0.1 if num_fp16_res else 1e-5)


def test_path_lengths_is_the_norm_of_the_jacobian_vector_product():
    from ganaug.losses import path_lengths

    G = build_generator(tiny("stylegan2", 16, 3))
    ws = G.mapping(torch.randn(3, G.z_dim)).detach().requires_grad_(True)
    img = G.synthesis(ws, noise_mode="const")
    torch.manual_seed(7)
    lengths = path_lengths(img, ws)
    torch.manual_seed(7)
    y = torch.randn_like(img) / 16  # 1 / sqrt(H W)
    _, jt_y = torch.autograd.functional.vjp(lambda w: G.synthesis(w, noise_mode="const"), ws.detach(), y)
    torch.testing.assert_close(lengths, jt_y.square().sum(2).mean(1).sqrt(), rtol=1e-4, atol=1e-6)
    # It is differentiable w.r.t. G's weights (the regulariser trains G).
    (lengths - lengths.detach().mean()).square().mean().backward()
    conv = G.synthesis.blocks[-1].conv1.weight
    assert conv.grad is not None and conv.grad.abs().sum() > 0


def test_stylegan2_random_noise_per_sample_generators_is_reproducible_per_image():
    G = build_generator(tiny("stylegan2", 16, 1)).eval()
    with torch.no_grad():
        G.synthesis.blocks[-1].conv1.noise_strength.fill_(1.0)  # make the noise visible
        z = torch.randn(3, G.z_dim)

        def gens(*seeds):
            return [torch.Generator().manual_seed(s) for s in seeds]

        batch = G(z, noise_mode="random", noise_generators=gens(3, 5, 7))
        alone = G(z[1:2], noise_mode="random", noise_generators=gens(5))
        torch.testing.assert_close(alone[0], batch[1], rtol=0, atol=1e-6)  # independent of the batch
        other = G(z[1:2], noise_mode="random", noise_generators=gens(6))
        assert (other - alone).abs().max() > 1e-3  # the seed decides the noise
        with pytest.raises(ValueError, match="noise generators"):
            G(z, noise_mode="random", noise_generators=gens(1))
