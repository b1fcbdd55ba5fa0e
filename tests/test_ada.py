"""Augmentation for D: ADA pipeline and controller, DiffAugment (tiny sizes, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.augment.ada import OPS, AdaController, AugmentPipe
from ganaug.augment.diffaugment import DiffAugment


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def images(B=8, C=3, R=16):
    return torch.rand(B, C, R, R) * 2 - 1


def only(op: str, channels: int = 3, p: float = 1.0) -> AugmentPipe:
    """A pipe where only `op` can fire."""
    return AugmentPipe(channels, "", p=p, **{op: 1.0})


# ----------------------------------------------------------------------------
# AugmentPipe


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("preset", ["bgc", "bg", "c"])
def test_p_zero_is_identity(channels, preset):
    pipe = AugmentPipe(channels, preset)
    assert float(pipe.p) == 0.0
    x = images(C=channels)
    assert torch.equal(pipe(x), x)


@pytest.mark.parametrize("channels", [1, 3])
def test_gradients_flow_at_positive_p(channels):
    pipe = AugmentPipe(channels, "bgc", p=0.8)
    x = images(C=channels).requires_grad_()
    y = pipe(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("channels", [1, 3])
def test_each_op_changes_images(op, channels):
    pipe = only(op, channels)
    x = images(16, channels)
    if channels == 1 and op in ("hue", "saturation"):
        assert pipe.ops == [] and torch.equal(pipe(x), x)  # no colour on grayscale
        return
    assert pipe.ops == [op]
    y = pipe(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, x)


def test_hue_and_saturation_off_for_grayscale():
    pipe = AugmentPipe(1, "c", p=1.0)
    assert "hue" not in pipe.ops and "saturation" not in pipe.ops
    assert {"brightness", "contrast", "lumaflip"} <= set(pipe.ops)
    # Hue rotation about the gray axis leaves gray RGB images gray.
    gray = images(8, 1).repeat(1, 3, 1, 1)
    y = only("hue")(gray)
    assert torch.allclose(y[:, 0], y[:, 1], atol=1e-5) and torch.allclose(y[:, 0], y[:, 2], atol=1e-5)


def test_lumaflip_inverts_grayscale():
    x = images(16, 1)
    y = only("lumaflip", channels=1)(x)
    flipped = torch.isclose(y, -x, atol=1e-5).flatten(1).all(1)
    kept = torch.isclose(y, x, atol=1e-5).flatten(1).all(1)
    assert (flipped | kept).all() and flipped.any() and kept.any()


def test_blit_ops_are_exact():
    x = images(16, 3)
    y = only("xflip")(x)
    assert all(
        torch.allclose(a, b, atol=1e-5) or torch.allclose(a, b.flip(-1), atol=1e-5) for a, b in zip(y, x)
    )
    y = only("rotate90")(x)

    def rots(b):
        return [torch.rot90(b, k, dims=(1, 2)) for k in range(4)]

    assert all(any(torch.allclose(a, r, atol=1e-5) for r in rots(b)) for a, b in zip(y, x))


def test_p_is_per_sample():
    pipe = only("xflip", channels=1, p=0.5)
    x = images(256, 1, 8)
    changed = ~torch.isclose(pipe(x), x, atol=1e-6).flatten(1).all(1)
    assert 0.1 < changed.float().mean().item() < 0.4  # P(fire) * P(flip) = 0.25


def test_bad_arguments():
    with pytest.raises(ValueError):
        AugmentPipe(3, "bgx")
    with pytest.raises(ValueError):
        AugmentPipe(3, "bgc", wobble=1.0)
    with pytest.raises(ValueError):
        AugmentPipe(3, "bgc", p=1.0)(images(2, 1))


def test_p_is_saved_in_state_dict():
    pipe = AugmentPipe(3, "bgc", p=0.3)
    other = AugmentPipe(3, "bgc")
    other.load_state_dict(pipe.state_dict())
    assert float(other.p) == pytest.approx(0.3)


# ----------------------------------------------------------------------------
# AdaController


def test_controller_raises_p_when_d_is_confident_on_reals():
    pipe = AugmentPipe(3, "bgc")
    ctl = AdaController(target=0.6, speed_kimg=1, interval=2, batch_size=10)
    ctl.accumulate(torch.full([10], 3.0))
    assert ctl.update(pipe) is None and float(pipe.p) == 0  # only 1 of 2 steps so far
    ctl.accumulate(torch.full([10], 3.0))
    assert ctl.update(pipe) == pytest.approx(1.0)
    assert ctl.last_stat == pytest.approx(1.0)
    assert float(pipe.p) == pytest.approx(10 * 2 / 1000)  # batch * interval / (speed_kimg * 1000)


def test_controller_lowers_p_otherwise_and_stays_in_unit_interval():
    pipe = AugmentPipe(3, "bgc", p=0.05)
    ctl = AdaController(target=0.6, speed_kimg=1, interval=1, batch_size=10)
    mixed = torch.tensor([1.0, 1, 1, -1, -1, -1, -1, -1, -1, -1])  # stat = -0.4 < target
    ctl.accumulate(mixed)
    assert ctl.update(pipe) == pytest.approx(-0.4)
    assert float(pipe.p) == pytest.approx(0.04)
    for _ in range(20):
        ctl.accumulate(mixed)
        ctl.update(pipe)
    assert float(pipe.p) == 0.0
    for _ in range(200):
        ctl.accumulate(torch.ones(10))
        ctl.update(pipe, nimg=100)
    assert float(pipe.p) == 1.0


def test_controller_state_dict_roundtrip():
    ctl = AdaController(target=0.7, speed_kimg=5, interval=4, batch_size=8)
    ctl.accumulate(torch.tensor([1.0, -1.0, 2.0]))
    state = ctl.state_dict()
    new = AdaController()
    new.load_state_dict(state)
    assert new.state_dict() == state
    pipe = AugmentPipe(3)
    for _ in range(3):
        new.accumulate(torch.ones(3))
    assert new.update(pipe) == pytest.approx((1 + 9) / 12)


def test_controller_all_reduces_under_distributed(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ctl = AdaController(interval=1, batch_size=4)
        ctl.accumulate(torch.tensor([1.0, 1.0, 1.0, -1.0]))
        assert ctl.update(AugmentPipe(1)) == pytest.approx(0.5)
    finally:
        dist.destroy_process_group()


# ----------------------------------------------------------------------------
# DiffAugment


@pytest.mark.parametrize("policy", ["color,translation,cutout", "color", "translation", "cutout"])
@pytest.mark.parametrize("channels", [1, 3])
def test_diffaugment_shape_and_gradient(policy, channels):
    aug = DiffAugment(policy)
    x = images(4, channels).requires_grad_()
    y = aug(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad.abs().sum() > 0


def test_diffaugment_translation_and_cutout_geometry():
    x = torch.ones(64, 1, 16, 16)
    y = DiffAugment("translation")(x)
    # Shifted by at most 2 pixels (1/8 of 16): the centre is always covered, zeros enter at the borders.
    assert (y[:, :, 2:-2, 2:-2] == 1).all() and (y == 0).any()
    y = DiffAugment("cutout")(x)
    zeros = (y == 0).flatten(1).sum(1)
    assert (zeros <= 64).all() and (zeros > 0).all()  # an 8x8 square, clipped at the borders
    with pytest.raises(ValueError):
        DiffAugment("color,blur")


def test_p_is_read_from_a_host_copy_and_survives_state_dict_round_trip():
    pipe = AugmentPipe(1)
    pipe.set_p(0.7)
    assert pipe._p_host == 0.7 and float(pipe.p) == pytest.approx(0.7)
    other = AugmentPipe(1)
    other.load_state_dict(pipe.state_dict())
    x = torch.randn(4, 1, 8, 8)
    other(x)  # re-reads p from the loaded buffer
    assert other._p_host == pytest.approx(0.7)
    pipe.set_p(1.5)
    assert float(pipe.p) == 1.0  # clamped


# ----------------------------------------------------------------------------
# The oversampled geometric warp (the official pipeline's algorithm), against an independent
# NumPy/SciPy rendering of that algorithm: reflect-pad, 2x upsample with sym6 (convolution),
# bilinear sampling at the upsampled output's pixel centres, 2x downsample with sym6 (correlation).


def _reference_warp(img: np.ndarray, G_inv: np.ndarray, taps: np.ndarray) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    R = img.shape[0]
    f = taps / taps.sum()
    m = R - 1  # reflect-pad generously (the algorithm only needs what the transform reaches)
    x = np.pad(img, m, mode="reflect").astype(np.float64)
    L = x.shape[0]

    def up(a, axis):  # zero insertion, convolution with 2f; input pixel j lands on upsampled pixel 2j
        a = np.moveaxis(a, axis, -1)
        z = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
        z[..., ::2] = a
        y = np.apply_along_axis(lambda r: np.convolve(r, 2 * f), -1, z)
        return np.moveaxis(y[..., 5 : 5 + z.shape[-1]], -1, axis)

    u = up(up(x, 0), 1)  # [2L, 2L]
    out = (R + 6) * 2  # the output plus a 3-pixel margin, at twice the resolution
    q = np.arange(out) / 2 - (R + 5) / 2  # output coordinates about the centre (upsampled pixel 2i = pixel i)
    qy, qx = np.meshgrid(q, q, indexing="ij")
    src = np.einsum("ij,jhw->ihw", G_inv, np.stack([qx, qy, np.ones_like(qx)]))
    ix = 2 * (src[0] + (R - 1) / 2 + m)
    iy = 2 * (src[1] + (R - 1) / 2 + m)
    s = map_coordinates(u, [iy, ix], order=1, mode="constant", cval=0.0)
    assert 0 < ix.min() and ix.max() < 2 * L - 1  # sampled well inside the padded image

    def down(a, axis):  # correlation with f at odd offsets, keeping R samples
        a = np.moveaxis(a, axis, -1)
        y = np.stack([(a[..., 2 * o + 1 : 2 * o + 1 + len(f)] * f).sum(-1) for o in range(R)], -1)
        return np.moveaxis(y, -1, axis)

    return down(down(s, 0), 1)


def _random_warps(B: int, R: int, g: torch.Generator) -> torch.Tensor:
    from ganaug.augment.ada import _rotate2d, _scale2d, _translate2d

    theta = torch.rand(B, generator=g) * 2 * np.pi
    s = torch.exp2(torch.randn(B, generator=g) * 0.2)
    t = torch.randn(B, 2, generator=g) * 0.125 * R
    return _rotate2d(theta) @ _scale2d(s, 1 / s) @ _translate2d(t[:, 0], t[:, 1])


def test_warp_matches_the_official_algorithm_and_keeps_its_high_frequencies():
    import torch.nn.functional as F

    from ganaug.augment.ada import SYM6, geometric_warp

    R, B = 16, 24
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, 1, R, R, generator=g)  # white noise: flat power spectrum
    G = _random_warps(B, R, g)
    ours = geometric_warp(x, G, torch.tensor(SYM6))
    ref = np.stack([_reference_warp(x[i, 0].numpy(), G[i].numpy(), np.array(SYM6)) for i in range(B)])
    np.testing.assert_allclose(ours[:, 0].numpy(), ref, atol=2e-4)

    # Power kept (central half: no border reflections), vs the reference and vs one bilinear resample.
    c = slice(R // 4, 3 * R // 4)
    x_pow = float(x[..., c, c].var())
    kept_ours = float(ours[..., c, c].var()) / x_pow
    kept_ref = float(ref[:, c, c].var()) / x_pow
    N = torch.diag(torch.tensor([2 / R, 2 / R, 1.0]))
    N_inv = torch.diag(torch.tensor([R / 2, R / 2, 1.0]))
    grid = F.affine_grid((N @ G @ N_inv)[:, :2], [B, 1, R, R], align_corners=False)
    single = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    kept_single = float(single[..., c, c].var()) / x_pow
    assert kept_ours == pytest.approx(kept_ref, abs=0.01)
    assert kept_ours > kept_single + 0.1, (kept_ours, kept_single)


@pytest.mark.parametrize("R", [16, 32])
def test_warp_with_identity_matrices_is_the_identity(R):
    from ganaug.augment.ada import SYM6, geometric_warp

    x = images(4, 3, R)
    y = geometric_warp(x, torch.eye(3).repeat(4, 1, 1), torch.tensor(SYM6))
    torch.testing.assert_close(y, x, atol=5e-5, rtol=0)
    # And a pipe whose geometric ops can fire but do not (p = 0) returns the batch itself.
    pipe = AugmentPipe(3, "bg", p=0.0)
    assert pipe(x) is x


def test_augmentation_is_float32_whatever_the_caller_precision():
    """The G step (bf16 fakes under autocast) and the D step (fp32 fakes) see the same augmentation."""
    x = images(8, 3, 64)
    pipe = AugmentPipe(3, "bgc", p=1.0)
    torch.manual_seed(5)
    d_step = pipe(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(5)
        g_step = pipe(x.bfloat16())
    assert g_step.dtype == torch.float32
    # The only difference left is the bf16 rounding of the input itself (<= 2^-8 relative).
    torch.manual_seed(5)
    d_rounded = pipe(x.bfloat16().float())
    torch.testing.assert_close(g_step, d_rounded, atol=1e-5, rtol=0)
    assert (g_step - d_step).abs().max() < 1e-2 and (g_step - d_step).abs().mean() < 1e-3


def test_controller_per_class_statistic_guards_an_overfit_rare_class():
    # Class 2 (rare) is scored confidently real, the others are not: the overall statistic is low.
    logits = torch.tensor([-1.0, 1.0] * 6 + [3.0, 3.0])
    labels = torch.tensor([0, 1] * 6 + [2, 2])
    results = {}
    for per_class in (False, True):
        pipe = AugmentPipe(3, "bgc", p=0.5)
        ctl = AdaController(
            target=0.6, speed_kimg=1.0, interval=1, batch_size=len(logits), num_classes=3, per_class=per_class
        )
        ctl.accumulate(logits, labels)
        results[per_class] = (ctl.update(pipe), float(pipe.p), ctl.last_class_stats)
    (stat_all, p_all, per), (stat_max, p_max, _) = results[False], results[True]
    assert per == pytest.approx([-1.0, 1.0, 1.0])
    assert stat_all == pytest.approx(2 / 14) and p_all < 0.5  # all reals together: lower p
    assert stat_max == pytest.approx(1.0) and p_max > 0.5  # the rare class is overfit: raise p
    state = AdaController(num_classes=3, per_class=True)
    state.load_state_dict(ctl.state_dict())
    assert state.per_class and state.num_classes == 3


def test_controller_resumes_a_state_from_before_the_per_class_statistic():
    ctl = AdaController(num_classes=3)
    ctl.load_state_dict(
        {
            "target": 0.6,
            "speed_kimg": 100.0,
            "interval": 4,
            "batch_size": 8,
            "last_stat": 0.1,
            "steps": 1,
            "acc": [2.0, 8.0],
        }
    )
    ctl.accumulate(torch.ones(4), torch.tensor([0, 1, 2, 2]))
    ctl.interval = 2
    assert ctl.update(AugmentPipe(3, "bgc")) == pytest.approx(6 / 12)
    assert ctl.last_class_stats == pytest.approx([1.0, 1.0, 1.0])
