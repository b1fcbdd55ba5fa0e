"""GAN losses on D's raw logits: non-saturating (logistic) and hinge, the R1 penalty, D accuracy;
StyleGAN2's path lengths (for path-length regularisation).

All losses are means over the batch. Logits may come out of autocast in half precision; the
losses are computed in float32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganaug.constants import LOSSES as KINDS


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown GAN loss {kind!r}; choose from {', '.join(KINDS)}")


def d_loss(
    real_logits: torch.Tensor,  # [B] D's logits on (augmented) reals
    fake_logits: torch.Tensor,  # [B] D's logits on (augmented) fakes
    kind: str = "nonsaturating",
    label_smoothing: float = 0.0,  # one-sided: the reals' target becomes 1 - s (non-saturating only)
) -> torch.Tensor:
    """D's loss: reals toward positive logits, fakes toward negative (the sum of the two halves)."""
    return d_loss_real(real_logits, kind, label_smoothing) + d_loss_fake(fake_logits, kind)


def g_loss(fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """G's loss: push D's logits on fakes up."""
    _check(kind)
    fake = fake_logits.float()
    if kind == "hinge":
        return -fake.mean()
    return F.softplus(-fake).mean()  # -log sigmoid(fake): the non-saturating form


def mode_seeking_loss(images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mode-seeking term (Mao et al. 2019, MSGAN): 1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + eps)
    over the pairs (first half, second half) of a batch whose halves share their classes. Adding it to
    G's loss rewards images that differ when their latents do, against collapse onto a few modes."""
    n = len(images) // 2
    d_img = (images[:n].float() - images[n : 2 * n].float()).abs().mean()
    d_z = (z[:n].float() - z[n : 2 * n].float()).abs().mean()
    return 1.0 / (d_img / d_z + 1e-5)


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d D(x) / d x||^2 on reals (Mescheder et al. 2018).

    `real_images` must have requires_grad=True before D is run on them. The graph is kept
    (create_graph=True) so the penalty can be backpropagated into D. The training loss is
    `r1_penalty * (gamma / 2)` (times r1_interval when applied lazily). Run D for this pass in
    float32 (outside autocast): squared half-precision gradients under- or overflow.
    """
    if not real_images.requires_grad:
        raise ValueError("r1_penalty: real_images must require grad before D is evaluated on them")
    (grad,) = torch.autograd.grad(outputs=real_logits.float().sum(), inputs=real_images, create_graph=True)
    return grad.float().square().sum(dim=[1, 2, 3]).mean()


@torch.no_grad()
def d_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(fraction of reals D calls real, fraction of fakes D calls fake) as 0-d tensors: no device sync."""
    return (real_logits > 0).float().mean(), (fake_logits < 0).float().mean()


def d_loss_real(
    real_logits: torch.Tensor, kind: str = "nonsaturating", label_smoothing: float = 0.0
) -> torch.Tensor:
    """The reals' half of :func:`d_loss` (the two halves can be backpropagated separately)."""
    _check(kind)
    real = real_logits.float()
    if kind == "hinge":
        # Label smoothing has no meaning for a margin loss; it is ignored here.
        return F.relu(1 - real).mean()
    if label_smoothing:
        # BCE-with-logits against 1 - s = (1 - s) softplus(-x) + s softplus(x).
        return F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - label_smoothing))
    return F.softplus(-real).mean()  # -log sigmoid(real)


def d_loss_fake(fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """The fakes' half of :func:`d_loss`."""
    _check(kind)
    fake = fake_logits.float()
    return F.relu(1 + fake).mean() if kind == "hinge" else F.softplus(fake).mean()  # -log(1 - sigmoid(fake))


def path_lengths(img: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
    """Per-sample path length ||J_w^T y|| of StyleGAN2's path-length regulariser, [B].

    `img` [B, C, H, W] is the synthesis of `ws` [B, num_ws, w_dim] (which must be part of the graph);
    y is Gaussian noise scaled by 1/sqrt(H W), so the length does not depend on the resolution.
    The graph is kept (create_graph=True): the penalty (lengths - running mean)^2 trains G.
    """
    noise = torch.randn_like(img, dtype=torch.float32) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad(outputs=(img.float() * noise).sum(), inputs=ws, create_graph=True)
    return grad.float().square().sum(dim=2).mean(dim=1).sqrt()
