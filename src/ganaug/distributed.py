"""Multi-process training helpers: process-group setup from torchrun's environment, the
collectives of the training loop (each a no-op in a single process), and a batch norm whose
statistics are synchronised across processes on CPU (gloo) and GPU (NCCL).

torch's own ``SyncBatchNorm`` runs on GPUs only; the version here works with gloo too, so that
CI can test multi-process training on CPU.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: str | None = "auto") -> bool:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, MASTER_ADDR...).

    Returns True when this call created the group (the caller should destroy it).
    NCCL when CUDA is used, gloo otherwise.
    """
    if env_world_size() <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    use_cuda = torch.cuda.is_available() and device not in ("cpu",)
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    return True


def destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_and_world_size() -> tuple[int, int]:
    """(0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def average_gradients(module: nn.Module) -> None:
    """Average gradients across ranks in one flat all-reduce (the DDP reduction, done by hand
    so D can take part in the G step without its gradients being synchronised)."""
    world_size = rank_and_world_size()[1]
    if world_size == 1:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """``t`` averaged over ranks, in place (returned for convenience)."""
    world_size = rank_and_world_size()[1]
    if world_size > 1:
        dist.all_reduce(t)
        t /= world_size
    return t


def average_over_ranks(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The mean over ranks of each scalar tensor, in one all-reduce."""
    if rank_and_world_size()[1] == 1:
        return values
    return dict(zip(values.keys(), mean_over_ranks(torch.stack(list(values.values())))))


def broadcast_module(module: nn.Module) -> None:
    """Rank 0's parameters and buffers on every rank (each rank initialised its own)."""
    if rank_and_world_size()[1] == 1:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` (picklable) on every rank."""
    if rank_and_world_size()[1] == 1:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


class _SyncBatchNormFn(torch.autograd.Function):
    """Batch norm over the global batch. Forward and backward each do one all-reduce, inside a
    single autograd node: no gradient can flow past it before its collective has run, so every
    process runs its collectives in the same order whatever else its graph contains."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        C = x.shape[1]
        xf = x.float()
        n_local = torch.tensor([x.numel() / C], dtype=torch.float32, device=x.device)
        stats = torch.cat([xf.sum(dim=(0, 2, 3)), (xf * xf).sum(dim=(0, 2, 3)), n_local])
        dist.all_reduce(stats)
        n = stats[-1]
        mean = stats[:C] / n
        var = (stats[C : 2 * C] / n - mean * mean).clamp_min(0)
        invstd = torch.rsqrt(var + eps)
        xhat = (xf - mean.view(1, C, 1, 1)) * invstd.view(1, C, 1, 1)
        ctx.save_for_backward(xhat, invstd, weight, n)
        y = xhat * weight.view(1, C, 1, 1) + bias.view(1, C, 1, 1)
        return y.to(x.dtype), mean, var, n

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, _dmean, _dvar, _dn):
        xhat, invstd, weight, n = ctx.saved_tensors
        C = xhat.shape[1]
        dy = dy.float()
        sum_dy = dy.sum(dim=(0, 2, 3))
        sum_dy_xhat = (dy * xhat).sum(dim=(0, 2, 3))
        grad_weight, grad_bias = sum_dy_xhat.clone(), sum_dy.clone()  # local; averaged with all grads later
        both = torch.cat([sum_dy, sum_dy_xhat])
        dist.all_reduce(both)
        g_mean = (both[:C] / n).view(1, C, 1, 1)
        g_xhat_mean = (both[C:] / n).view(1, C, 1, 1)
        dx = (weight * invstd).view(1, C, 1, 1) * (dy - g_mean - xhat * g_xhat_mean)
        return dx.to(xhat.dtype), grad_weight, grad_bias, None


class DistBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d with statistics over the global batch (all processes), on CPU or GPU.

    Gradients are exact for the gradient-averaging scheme of the training loop: N processes
    with batch B/N train like one process with batch B. Not twice differentiable (R1 through
    batch norm across processes is refused by the training loop).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        ):
            return super().forward(x)
        weight = self.weight if self.affine else torch.ones(x.shape[1], device=x.device)
        bias = self.bias if self.affine else torch.zeros(x.shape[1], device=x.device)
        y, mean, var, n = _SyncBatchNormFn.apply(x, weight, bias, self.eps)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        return y


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by DistBatchNorm2d in place (same parameters and buffers)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = DistBatchNorm2d(
                child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats
            ).to(next(child.buffers()).device)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child)
    return module
