"""GAN losses: known values, R1 against the analytic gradient norm."""

from __future__ import annotations

import math

import pytest
import torch

from ganaug.losses import d_accuracy, d_loss, g_loss, r1_penalty


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_nonsaturating_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 0.5])
    expected_d = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(0.5)) / 2
    assert d_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert g_loss(fake).item() == pytest.approx((softplus(1) + softplus(-0.5)) / 2, rel=1e-6)
    # At logits 0 D is maximally unsure: log 2 per term.
    zero = torch.zeros(3)
    assert d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))


def test_label_smoothing_is_one_sided_bce():
    real, fake = torch.tensor([1.5]), torch.tensor([-0.5])
    s = 0.1
    expected = (1 - s) * softplus(-1.5) + s * softplus(1.5) + softplus(-0.5)
    assert d_loss(real, fake, label_smoothing=s).item() == pytest.approx(expected, rel=1e-6)


def test_hinge_values():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.5])
    assert d_loss(real, fake, "hinge").item() == pytest.approx(0.25 + 0.75)
    assert g_loss(fake, "hinge").item() == pytest.approx(0.75)


def test_losses_are_float32_for_half_logits():
    real, fake = torch.zeros(2, dtype=torch.bfloat16), torch.zeros(2, dtype=torch.bfloat16)
    assert d_loss(real, fake).dtype == torch.float32 and g_loss(fake, "hinge").dtype == torch.float32


def test_unknown_kind():
    with pytest.raises(ValueError):
        d_loss(torch.zeros(1), torch.zeros(1), "wasserstein")


def test_r1_on_linear_discriminator_is_squared_weight_norm():
    torch.manual_seed(0)
    a = torch.randn(1, 3, 4, 4)
    w = torch.tensor(1.5, requires_grad=True)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = w * (x * a).sum(dim=[1, 2, 3])  # D(x) = w <a, x>: grad_x = w a for every sample
    penalty = r1_penalty(logits, x)
    assert penalty.item() == pytest.approx(1.5**2 * a.square().sum().item(), rel=1e-5)
    # The graph is kept: d penalty / d w = 2 w |a|^2.
    penalty.backward()
    assert w.grad.item() == pytest.approx(2 * 1.5 * a.square().sum().item(), rel=1e-5)


def test_r1_needs_grad_on_images():
    x = torch.randn(2, 1, 2, 2)
    with pytest.raises(ValueError):
        r1_penalty(x.sum(dim=[1, 2, 3]), x)


def test_d_accuracy():
    acc_real, acc_fake = d_accuracy(torch.tensor([1.0, -1.0, 2.0, 3.0]), torch.tensor([-1.0, 1.0]))
    assert float(acc_real) == pytest.approx(0.75) and float(acc_fake) == pytest.approx(0.5)


def test_mode_seeking_term_falls_as_paired_images_differ():
    from ganaug.losses import mode_seeking_loss

    z = torch.zeros(4, 8)
    z[2:] = 1.0  # |z1 - z2| = 1 for both pairs
    img = torch.zeros(4, 1, 2, 2)
    img[2:] = 0.5  # mean |G(z1) - G(z2)| = 0.5: ratio 0.5, term 1 / 0.5
    assert float(mode_seeking_loss(img, z)) == pytest.approx(2.0, rel=1e-4)
    img[2:] = 1.0
    assert float(mode_seeking_loss(img, z)) == pytest.approx(1.0, rel=1e-4)
    assert float(mode_seeking_loss(torch.zeros(4, 1, 2, 2), z)) > 1e4  # identical images: collapse
    img.requires_grad_(True)
    mode_seeking_loss(img, z).backward()
    # The gradient pushes the pair apart: down on the first half, up on the second.
    assert (img.grad[:2] > 0).all() and (img.grad[2:] < 0).all()
