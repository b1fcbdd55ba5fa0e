"""The GAN training loop: one loop for DCGAN and StyleGAN2, conditional or not.

Length is counted in images shown to D (kimg). Upkeep happens once per tick: a stats line,
a sample grid from fixed seeds, a snapshot every ``snap`` ticks and the tick callbacks
(where metrics plug in). Everything needed to continue exactly is in the snapshot:
weights, optimisers, EMA, augmentation probability, the ADA statistic, counters and RNG
states, so a killed run resumes from its last snapshot as if it had never stopped.

Multi-process (torchrun) training only adds process-group setup: all randomness that
defines a global batch (indices, z, labels) comes from one generator seeded identically on
every rank; each rank takes its slice, gradients are averaged across ranks before each
optimiser step, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganaug import checkpoint as ckpt
from ganaug.config import NetworkConfig, TrainConfig, make_config
from ganaug.data.imageset import ImageSet, make_grid_array
from ganaug.data.preprocess import padded_size
from ganaug.errors import CheckpointError, DataError, TrainingDivergedError, UserError
from ganaug.locking import run_lock
from ganaug.utils import (
    append_jsonl,
    atomic_open,
    atomic_write_json,
    next_run_dir,
    read_jsonl,
    resolve_device,
    spread_indices,
)

TickCallback = Callable[["TickInfo"], None]


@dataclass
class TickInfo:
    """Handed to tick callbacks (metrics plug in here)."""

    tick: int
    cur_nimg: int
    stats: dict[str, Any]
    run_dir: Path
    G_ema: nn.Module
    done: bool
    trainer: Trainer | None = None  # full access (G, D, optimisers, augment_pipe) for advanced hooks


@dataclass
class TrainResult:
    run_dir: Path
    config: TrainConfig
    cur_nimg: int
    snapshot: Path | None
    class_names: list[str]
    stats: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def kimg(self) -> float:
        return self.cur_nimg / 1000

    def __repr__(self) -> str:
        return (f"TrainResult(run_dir={str(self.run_dir)!r}, arch={self.config.network.arch!r}, "
                f"kimg={self.kimg:.1f}, snapshot={self.snapshot.name if self.snapshot else None!r})")

    def _repr_html_(self) -> str:
        import base64

        last = self.stats[-1] if self.stats else {}
        imgs = sorted(self.run_dir.glob("fakes[0-9]*.png"))
        img = ""
        if imgs:
            data = base64.b64encode(imgs[-1].read_bytes()).decode()
            img = f'<img src="data:image/png;base64,{data}" style="image-rendering:pixelated;width:480px"/>'
        rows = "".join(f"<tr><td>{k}</td><td>{v:.4g}</td></tr>" for k, v in last.items()
                       if isinstance(v, (int, float)))
        return f"<p>{self!r}</p><table>{rows}</table>{img}"


# ----------------------------------------------------------------------------
# Distributed helpers (no-ops in a single process).


def _dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _allreduce_grads(module: nn.Module, world_size: int) -> None:
    """Average gradients across ranks in one flat all-reduce (the DDP reduction, done by hand
    so D can take part in the G step without its gradients being synchronised)."""
    if world_size == 1:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    torch.distributed.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def _broadcast_module(module: nn.Module) -> None:
    for t in list(module.parameters()) + list(module.buffers()):
        torch.distributed.broadcast(t.data, src=0)


# ----------------------------------------------------------------------------
# Data


def _prepare_training_images(train: ImageSet, cfg: TrainConfig) -> ImageSet:
    from ganaug.data.preprocess import pad_array, resize_imageset

    net = cfg.network
    if cfg.crop_to:  # padded to the GAN's size; generated images are cropped back (config.fit)
        data = resize_imageset(train, train.resolution, channels=net.channels)
        data = ImageSet(pad_array(data.images, net.resolution), data.labels, data.class_names, data.paths,
                        data.hashes)
    else:
        data = resize_imageset(train, net.resolution, channels=net.channels)
    if cfg.mirror:
        from ganaug.augment.classic import mirror

        data = mirror(data)
    if cfg.multiply > 1:
        from ganaug.augment.classic import multiply

        data = multiply(data, cfg.multiply, seed=cfg.seed)
    return data


def resolve_training_data(data: Any, classes: Sequence[str] | None = None) -> ImageSet:
    """An ImageSet, or a prepared folder (its train split only: the GAN never sees val/test)."""
    if isinstance(data, ImageSet):
        train = data
    else:
        path = Path(data)
        if not str(data).startswith("builtin:") and not path.exists():
            raise UserError(f"{data} does not exist")
        if str(data).startswith("builtin:") or not (path / "split.json").exists():
            raise UserError(
                f"{data} is not a prepared dataset folder. Run `ganaug prepare {data} --out DIR` first "
                "(it fixes the held-out test split), then `ganaug train DIR`."
            )
        from ganaug.data.split import load_prepared

        train = load_prepared(path).train
    if classes:
        idx = [train.class_index(c) for c in classes]
        keep = np.isin(train.labels, idx)
        sub = train.subset(np.flatnonzero(keep))
        # Re-index labels to the chosen classes so the model has exactly those.
        remap = {old: new for new, old in enumerate(idx)}
        train = ImageSet(sub.images, np.array([remap[int(v)] for v in sub.labels]), list(classes),
                         sub.paths, sub.hashes)
    if len(train) == 0:
        raise DataError("no training images to train on")
    return train


# ----------------------------------------------------------------------------
# The loop


class Trainer:
    def __init__(self, train: ImageSet, cfg: TrainConfig, run_dir: Path, *, resume_state: dict | None = None,
                 transfer: str | Path | None = None, callbacks: Sequence[TickCallback] = (),
                 progress: bool = True, log: Callable[[str], None] | None = None):
        from ganaug.models import build_discriminator, build_generator

        self.cfg = cfg
        self.run_dir = run_dir
        self.callbacks = list(callbacks)
        self.progress = progress
        self.rank, self.world_size = _dist_info()
        self.is_main = self.rank == 0
        self._log = log or print
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
            torch.cuda.set_device(self.device)
        self.cuda = self.device.type == "cuda"
        # bf16 mixed precision (losses and R1 in fp32): on CUDA, and on CPUs with native bf16
        # (measured 1.8x faster per DCGAN-64 step on AVX512-BF16; emulated bf16 would be slower).
        self.amp = cfg.amp and (self.cuda or cpu_has_native_bf16())
        self.class_names = list(train.class_names)
        if cfg.batch_size % self.world_size:
            raise UserError(f"batch size {cfg.batch_size} is not divisible by the {self.world_size} processes")
        self.batch_gpu = cfg.batch_size // self.world_size

        # Seeds: the batch generator is identical on every rank; module randomness differs per rank.
        torch.manual_seed(cfg.seed * 1000 + self.rank)
        self.gen = torch.Generator().manual_seed(cfg.seed)

        # Data: uint8 on the training device when it fits, otherwise in host memory.
        data = _prepare_training_images(train, cfg)
        if len(data) != len(train) and self.is_main:
            how = " and ".join(w for w, on in (("x-flipped copies", cfg.mirror), (f"x{cfg.multiply} classic augmentation",
                                                                                   cfg.multiply > 1)) if on)
            self._log(f"training images: {len(train)} -> {len(data)} with {how}")
        self.data_cpu = data
        nbytes = data.images.nbytes
        on_device = not self.cuda or nbytes < 0.25 * torch.cuda.get_device_properties(self.device).total_memory
        store = self.device if on_device else torch.device("cpu")
        self.x_u8 = torch.from_numpy(data.images).to(store)
        self.labels = torch.from_numpy(data.labels).to(store)
        self.num_images = len(data)
        self.perm = torch.randperm(self.num_images, generator=self.gen)
        self.perm_pos = 0
        labels_cpu = torch.from_numpy(data.labels)
        self.class_count = torch.bincount(labels_cpu, minlength=len(data.class_names))
        self.balanced = bool(cfg.balanced_sampling and cfg.network.conditional and (self.class_count > 0).all())
        self.class_sorted = torch.argsort(labels_cpu, stable=True)
        self.class_offset = torch.cumsum(self.class_count, 0) - self.class_count

        # Networks.
        net = cfg.network
        self.G = build_generator(net).train().to(self.device)
        self.D = build_discriminator(net).train().to(self.device)
        if self.cuda and cfg.channels_last:
            self.G = self.G.to(memory_format=torch.channels_last)
            self.D = self.D.to(memory_format=torch.channels_last)
        if self.world_size > 1:
            from ganaug.distributed import convert_sync_batchnorm

            # Batch-norm statistics over the global batch, so N processes train like one.
            convert_sync_batchnorm(self.G)
            convert_sync_batchnorm(self.D)
            _broadcast_module(self.G)
            _broadcast_module(self.D)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)

        # Optimisers; lazy regularisation (R1 for D, path length for G) rescales the lr and betas by
        # interval / (interval + 1) (StyleGAN2 appendix B, as officially).
        self.r1_gamma = cfg.resolved_r1_gamma
        self.pl_weight = cfg.resolved_pl_weight if net.arch == "stylegan2" else 0.0
        mb = cfg.r1_interval / (cfg.r1_interval + 1) if self.r1_gamma > 0 else 1.0
        d_betas = (cfg.betas[0] ** mb, cfg.betas[1] ** mb)
        mg = cfg.pl_interval / (cfg.pl_interval + 1) if self.pl_weight > 0 else 1.0
        g_betas = (cfg.betas[0] ** mg, cfg.betas[1] ** mg)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.g_lr * mg, betas=g_betas, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr * mb, betas=d_betas, eps=1e-8)
        self.pl_mean = torch.zeros([], device=self.device)  # running mean path length

        # Augmentation seen by D.
        self.augment_pipe: nn.Module | None = None
        self.ada = None
        if cfg.aug in ("ada", "fixed"):
            from ganaug.augment.ada import AdaController, AugmentPipe

            self.augment_pipe = AugmentPipe(net.channels).train().requires_grad_(False).to(self.device)
            self.augment_pipe.set_p(cfg.aug_p)
            if cfg.aug == "ada":
                self.ada = AdaController(target=cfg.ada_target, speed_kimg=cfg.ada_kimg,
                                         interval=cfg.ada_interval, batch_size=cfg.batch_size,
                                         num_classes=net.num_classes, per_class=cfg.ada_per_class)
        elif cfg.aug == "diffaug":
            from ganaug.augment.diffaugment import DiffAugment

            self.augment_pipe = DiffAugment(cfg.diffaug_policy)

        # D with an auxiliary loss on reals (FastGAN's reconstruction): D(x, c, return_aux=True) -> (logits, loss).
        self.d_aux = bool(getattr(self.D, "has_aux_loss", False))

        # Counters.
        self.cur_nimg = 0
        self.cur_tick = 0
        self.d_steps_done = 0
        self.g_steps_done = 0
        self.stats_history: list[dict] = []
        self.warnings: list[str] = []
        self.start_time_offset = 0.0

        if transfer is not None:
            self._load_transfer(transfer)
        if resume_state is not None:
            self._load_state(resume_state)
        if cfg.freeze_d:
            # Frozen layers stay frozen: D.requires_grad_(True) before each D step leaves them alone.
            if hasattr(self.D, "freeze_layers"):
                self.D.freeze_layers(cfg.freeze_d)
            else:
                self.D.freeze_blocks(cfg.freeze_d)

        self.G_run = self.G
        self.D_run = self.D
        self.G_mapping, self.G_synthesis = (self.G.mapping, self.G.synthesis) if net.arch == "stylegan2" else (None, None)
        if cfg.compile:
            self.G_run = torch.compile(self.G)
            self.D_run = torch.compile(self.D)
            if self.G_mapping is not None:
                self.G_mapping, self.G_synthesis = torch.compile(self.G_mapping), torch.compile(self.G_synthesis)

        # Fixed seeds and labels for the sample grids.
        g = torch.Generator().manual_seed(123)
        k = max(net.num_classes, 1)
        self.grid_classes = grid_classes(k) if net.conditional else []  # a readable number of class rows
        n = cfg.grid_seeds * len(self.grid_classes) if net.conditional else max(cfg.grid_seeds * 4, 16)
        self.grid_z = torch.randn(n, net.z_dim, generator=g)
        self.grid_c = (torch.as_tensor(self.grid_classes).repeat_interleave(cfg.grid_seeds) if net.conditional
                       else None)
        if net.conditional and len(self.grid_classes) < k and self.is_main:
            self._log(f"sample grids show {len(self.grid_classes)} of the {k} classes (evenly spaced, the same "
                      "every tick)")

    # -- state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "augment_pipe": self.augment_pipe.state_dict() if self.augment_pipe is not None else {},
            "ada": self.ada.state_dict() if self.ada is not None else {},
            "cur_tick": self.cur_tick,
            "d_steps_done": self.d_steps_done,
            "g_steps_done": self.g_steps_done,
            "pl_mean": self.pl_mean.detach().cpu().clone(),
            "perm": self.perm.clone(),
            "perm_pos": self.perm_pos,
            "gen_state": self.gen.get_state(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state(self.device) if self.cuda else torch.zeros(0, dtype=torch.uint8),
            "elapsed": self.elapsed(),
            "config": self.cfg.to_dict(),
            "class_names": self.class_names,
        }
        return state

    def _load_state(self, s: dict[str, Any]) -> None:
        self.G.load_state_dict(s["G"])
        self.D.load_state_dict(s["D"])
        self.G_ema.load_state_dict(s["G_ema"])
        self.opt_G.load_state_dict(s["opt_G"])
        self.opt_D.load_state_dict(s["opt_D"])
        if self.augment_pipe is not None and s.get("augment_pipe"):
            self.augment_pipe.load_state_dict(s["augment_pipe"])
        if self.ada is not None and s.get("ada"):
            self.ada.load_state_dict(s["ada"])
        self.cur_nimg = int(s["cur_nimg"])
        self.cur_tick = int(s["cur_tick"])
        self.d_steps_done = int(s["d_steps_done"])
        self.g_steps_done = int(s.get("g_steps_done", self.d_steps_done // max(self.cfg.d_steps, 1)))
        if "pl_mean" in s:
            self.pl_mean.copy_(s["pl_mean"].to(self.device))
        if len(s["perm"]) == self.num_images:
            self.perm = s["perm"].clone()
            self.perm_pos = int(s["perm_pos"])
        self.gen.set_state(s["gen_state"])
        # Module randomness: rank 0 continues its stream exactly; other ranks reseed deterministically.
        if self.rank == 0:
            torch.set_rng_state(s["rng_cpu"])
            if self.cuda and len(s["rng_cuda"]):
                torch.cuda.set_rng_state(s["rng_cuda"], self.device)
        else:
            torch.manual_seed(self.cfg.seed * 1000 + self.rank + self.cur_nimg)
        self.start_time_offset = float(s.get("elapsed", 0.0))

    def _load_transfer(self, source: str | Path | dict) -> None:
        s = source if isinstance(source, dict) else ckpt.load_snapshot(source)
        src_net = NetworkConfig.from_dict(s["config"]["network"])
        ckpt.check_compatible(src_net, self.cfg.network)
        for name, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            if not s.get(name):
                if self.is_main:
                    self._log(f"transfer: the source has no {name}; it starts from scratch")
                continue
            own = module.state_dict()
            loaded = {k: v for k, v in s[name].items() if k in own and own[k].shape == v.shape}
            skipped = sorted(set(own) - set(loaded))
            module.load_state_dict(loaded, strict=False)
            if skipped and self.is_main and name != "G_ema":
                self._log(f"transfer: {name}: {len(skipped)} tensors not transferred "
                          f"(shape or class count differs): {', '.join(skipped[:5])}{'...' if len(skipped) > 5 else ''}")

    def elapsed(self) -> float:
        return self.start_time_offset + (time.time() - self._t0 if hasattr(self, "_t0") else 0.0)

    # -- batches -----------------------------------------------------------------
    def _next_indices(self) -> torch.Tensor:
        """Global batch indices (identical on all ranks); then this rank's slice."""
        B = self.cfg.batch_size
        out = []
        while B > 0:
            if self.perm_pos >= self.num_images:
                self.perm = torch.randperm(self.num_images, generator=self.gen)
                self.perm_pos = 0
            take = min(B, self.num_images - self.perm_pos)
            out.append(self.perm[self.perm_pos:self.perm_pos + take])
            self.perm_pos += take
            B -= take
        idx = torch.cat(out)
        if self.balanced:
            # Class-balanced: every class equally often, a random image within it (rare classes
            # are repeated; what D sees of them is varied by the augmentation).
            cls = torch.randint(len(self.class_count), (len(idx),), generator=self.gen)
            within = (torch.rand(len(idx), generator=self.gen) * self.class_count[cls]).long()
            idx = self.class_sorted[self.class_offset[cls] + within]
        return idx[self.rank * self.batch_gpu:(self.rank + 1) * self.batch_gpu]

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self._next_indices().to(self.x_u8.device)
        x = self.x_u8[idx].to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if self.cuda and self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        c = self.labels[idx].to(self.device, non_blocking=True) if self.cfg.network.conditional else None
        return x, c

    def _latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z and labels for fakes; labels follow the training label distribution."""
        net = self.cfg.network
        B = self.cfg.batch_size
        z = torch.randn(B, net.z_dim, generator=self.gen)
        c = None
        if net.conditional:
            # The fake class mix matches the real one D sees (uniform when sampling is balanced).
            if self.balanced:
                c = torch.randint(len(self.class_count), (B,), generator=self.gen)
            else:
                c = self.labels.cpu()[torch.randint(self.num_images, (B,), generator=self.gen)]
        sl = slice(self.rank * self.batch_gpu, (self.rank + 1) * self.batch_gpu)
        z = z[sl].to(self.device, non_blocking=True)
        return z, (c[sl].to(self.device, non_blocking=True) if c is not None else None)

    def _autocast(self, enabled: bool = True):
        if enabled and self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: augmented in float32 with autocast off, in every pass (reals, D's fakes, G's
        fakes), so that G is trained against exactly the augmentation D is."""
        if self.augment_pipe is None:
            return x
        with torch.autocast(self.device.type, enabled=False):
            return self.augment_pipe(x.float())

    def _run_G(self, z: torch.Tensor, c: torch.Tensor | None, return_ws: bool = False):
        """Fakes (and, for StyleGAN2 with ``return_ws``, the ws they came from), with style mixing."""
        if self.G_mapping is None:
            img = self.G_run(z, c)
            return (img, None) if return_ws else img
        ws = self.G_mapping(z, c, update_w_avg=True)
        if self.cfg.style_mixing > 0 and torch.rand([]) < self.cfg.style_mixing:
            cutoff = int(torch.randint(1, ws.shape[1], []))
            ws2 = self.G_mapping(torch.randn_like(z), c, update_w_avg=False)
            ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        img = self.G_synthesis(ws)
        return (img, ws) if return_ws else img

    def _optimizer_step(self, module: nn.Module, opt: torch.optim.Optimizer, acc: dict[str, torch.Tensor]) -> None:
        """Average gradients over ranks, zero non-finite ones (counted in the stats), step."""
        _allreduce_grads(module, self.world_size)
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if grads:
            norms = torch.stack(torch._foreach_norm(grads))
            acc["nonfinite_grads"] += (~torch.isfinite(norms)).sum()  # tensors with a NaN/inf gradient
            for g in grads:
                torch.nan_to_num_(g, nan=0.0, posinf=1e5, neginf=-1e5)
        opt.step()

    # -- steps -----------------------------------------------------------------
    def _d_step(self, acc: dict[str, torch.Tensor]) -> None:
        """One D update. Reals and fakes each get their own forward+backward pass: batch-norm
        collectives then run in the same order on every process (and memory peaks lower)."""
        from ganaug.losses import d_accuracy, d_loss_fake, d_loss_real, r1_penalty

        cfg = self.cfg
        do_r1 = self.r1_gamma > 0 and self.d_steps_done % cfg.r1_interval == 0
        x, c = self._real_batch()
        z, c_fake = self._latents()  # fresh latents for this phase (the G step draws its own)
        self.D.requires_grad_(True)  # Freeze-D layers stay frozen (FreezableD)
        if cfg.freeze_d and not hasattr(self.D, "freeze_layers"):  # e.g. FastGAN: whole blocks, re-applied
            self.D.freeze_blocks(cfg.freeze_d)
        self.G.requires_grad_(False)
        with torch.no_grad(), self._autocast():
            fake = self._run_G(z, c_fake)
        self.opt_D.zero_grad(set_to_none=True)

        # Reals (+ lazy R1 in fp32 on the augmented reals, scaled by the interval).
        x = x.detach().requires_grad_(do_r1)
        x_aug = self._augment(x)
        with self._autocast(enabled=not do_r1):  # the R1 pass runs in fp32: squared gradients
            if self.d_aux:  # e.g. FastGAN's self-supervised reconstruction of the reals
                real_logits, aux = self.D_run(x_aug, c, return_aux=True)
            else:
                real_logits = self.D_run(x_aug, c)
        real_logits = real_logits.float()
        loss_real = d_loss_real(real_logits, kind=cfg.loss, label_smoothing=cfg.label_smoothing)
        total = loss_real
        if self.d_aux:
            total = total + aux.float()
            acc["loss_rec"] += aux.detach().float()
        if do_r1:
            r1 = r1_penalty(real_logits, x)
            total = total + r1 * (self.r1_gamma / 2) * cfg.r1_interval
            acc["loss_r1"] += r1.detach()
            acc["n_r1"] += 1
        total.backward()

        # Fakes.
        fake_aug = self._augment(fake.detach())
        with self._autocast():
            fake_logits = self.D_run(fake_aug, c_fake).float()
        loss_fake = d_loss_fake(fake_logits, kind=cfg.loss)
        loss_fake.backward()
        self._optimizer_step(self.D, self.opt_D, acc)

        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
        acc["loss_D"] += loss_real.detach() + loss_fake.detach()
        acc_real, acc_fake = d_accuracy(real_logits, fake_logits)  # tensors: no host sync per step
        acc["d_real_acc"] += acc_real
        acc["d_fake_acc"] += acc_fake
        acc["logit_real"] += real_logits.mean()
        acc["logit_fake"] += fake_logits.mean()
        acc["n_d"] += 1
        self.d_steps_done += 1
        if self.ada is not None:
            self.ada.accumulate(real_logits, c)
            if self.d_steps_done % cfg.ada_interval == 0:
                self.ada.update(self.augment_pipe, cfg.batch_size * cfg.ada_interval)

    def _g_step(self, acc: dict[str, torch.Tensor]) -> None:
        from ganaug.losses import g_loss

        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        z, c = self._latents()  # fresh latents, as officially (not the D step's)
        with self._autocast():
            fake = self._run_G(z, c)
        fake_aug = self._augment(fake)  # float32, like the D step's
        with self._autocast():
            logits = self.D_run(fake_aug, c).float()
        loss = g_loss(logits, kind=self.cfg.loss)
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self._optimizer_step(self.G, self.opt_G, acc)
        acc["loss_G"] += loss.detach()
        acc["n_g"] += 1
        if self.pl_weight > 0 and self.g_steps_done % self.cfg.pl_interval == 0:
            self._g_pl_step(acc)
        self.g_steps_done += 1

    def _g_pl_step(self, acc: dict[str, torch.Tensor]) -> None:
        """Lazy path-length regularisation (StyleGAN2): its own G update every ``pl_interval`` G
        steps, on batch // pl_batch_shrink fresh latents, weighted by pl_weight * pl_interval."""
        from ganaug.losses import path_lengths

        cfg = self.cfg
        z, c = self._latents()
        n = max(1, len(z) // cfg.pl_batch_shrink)
        z, c = z[:n], (c[:n] if c is not None else None)
        with self._autocast():
            img, ws = self._run_G(z, c, return_ws=True)
        lengths = path_lengths(img, ws)
        mean = lengths.detach().mean()
        if self.world_size > 1:  # one running mean on every rank
            torch.distributed.all_reduce(mean)
            mean /= self.world_size
        self.pl_mean.copy_(self.pl_mean.lerp(mean, cfg.pl_decay))
        penalty = (lengths - self.pl_mean).square().mean()
        self.opt_G.zero_grad(set_to_none=True)
        (penalty * (self.pl_weight * cfg.pl_interval)).backward()
        self._optimizer_step(self.G, self.opt_G, acc)
        acc["loss_pl"] += penalty.detach()
        acc["n_pl"] += 1

    @torch.no_grad()
    def _update_ema(self) -> None:
        cfg = self.cfg
        ema_nimg = cfg.resolved_ema_kimg * 1000
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch_size / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # -- upkeep ----------------------------------------------------------------
    @torch.no_grad()
    def sample_grid(self, G: nn.Module | None = None) -> np.ndarray:
        G = G or self.G_ema
        imgs = []
        for i in range(0, len(self.grid_z), 64):
            z = self.grid_z[i:i + 64].to(self.device)
            c = self.grid_c[i:i + 64].to(self.device) if self.grid_c is not None else None
            kwargs = {"noise_mode": "const"} if self.cfg.network.arch == "stylegan2" else {}
            imgs.append(G(z, c, **kwargs).float().cpu())
        x = torch.cat(imgs)
        u8 = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
        return make_grid_array(u8, nrow=self.cfg.grid_seeds if self.grid_c is not None else 8)

    def _save_png(self, name: str, grid: np.ndarray) -> None:
        from PIL import Image

        img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
        scale = max(1, math.ceil(512 / max(grid.shape[:2])))  # small images: enlarge, pixels kept sharp
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        with atomic_open(self.run_dir / name, "wb") as f:
            img.save(f, format="PNG")

    def save_reals_grid(self) -> None:
        data = self.data_cpu
        net = self.cfg.network
        rng = np.random.default_rng(0)
        if net.conditional:
            rows = []
            for k in self.grid_classes:
                idx = np.flatnonzero(data.labels == k)
                pick = rng.choice(idx, size=min(self.cfg.grid_seeds, len(idx)), replace=False) if len(idx) else []
                row = np.full((self.cfg.grid_seeds,) + data.images.shape[1:], 255, np.uint8)
                row[: len(pick)] = data.images[pick]
                rows.append(row)
            imgs, nrow = np.concatenate(rows), self.cfg.grid_seeds
        else:
            pick = rng.choice(len(data), size=min(len(data), len(self.grid_z)), replace=False)
            imgs, nrow = data.images[pick], 8
        self._save_png("reals.png", make_grid_array(imgs, nrow=nrow))

    def _check_collapse(self, stats: dict) -> str | None:
        """D loss ~ 0 while G loss climbs for a sustained window: D has won, G gets no signal."""
        w = self.cfg.collapse_window
        hist = self.stats_history[-(w - 1):] + [stats] if w > 1 else [stats]
        if len(hist) < w:
            return None
        d_small = all(h["loss_D"] < 0.05 for h in hist)
        g_rising = all(b["loss_G"] > a["loss_G"] for a, b in zip(hist, hist[1:])) and hist[-1]["loss_G"] > 3.0
        if d_small and g_rising:
            return (f"discriminator collapse: loss_D < 0.05 while loss_G rose for {w} ticks "
                    f"(now {hist[-1]['loss_G']:.2f}). Try stronger augmentation (--aug ada), a lower D "
                    "learning rate, label smoothing, or more data.")
        return None

    # -- main loop ---------------------------------------------------------------
    def run(self, max_ticks: int | None = None) -> TrainResult:
        from tqdm.auto import tqdm

        cfg = self.cfg
        total_nimg = int(cfg.kimg * 1000)
        tick_nimg = max(int(cfg.tick_kimg * 1000), 1)
        writer = None
        if self.is_main:
            if self.cur_nimg == 0:
                self.save_reals_grid()
                self._save_png("fakes_init.png", self.sample_grid())  # G_ema == G at start
            writer = _tensorboard_writer(self.run_dir, purge_step=self.cur_nimg // 1000)
        # The last batch may overshoot kimg (whole batches only): the bar's total is rounded up to it.
        bar_total = math.ceil(total_nimg / cfg.batch_size) * cfg.batch_size
        bar = tqdm(total=round(bar_total / 1000, 3), initial=round(self.cur_nimg / 1000, 3), unit="kimg",
                   disable=not (self.progress and self.is_main), dynamic_ncols=True, leave=False,
                   bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}<{remaining}{postfix}]")
        self._t0 = time.time()
        ticks_run = 0
        done = self.cur_nimg >= total_nimg
        last_snapshot: Path | None = None
        try:
            while not done:
                tick_start_nimg = self.cur_nimg
                tick_t0 = time.time()
                acc = {k: torch.zeros((), device=self.device) for k in
                       ("loss_D", "loss_G", "loss_r1", "loss_pl", "d_real_acc", "d_fake_acc", "logit_real",
                        "logit_fake", "nonfinite_grads", "n_d", "n_g", "n_r1", "n_pl")
                       + (("loss_rec",) if self.d_aux else ())}
                if self.cuda:
                    torch.cuda.reset_peak_memory_stats(self.device)
                while self.cur_nimg < tick_start_nimg + tick_nimg and self.cur_nimg < total_nimg:
                    for _ in range(cfg.d_steps):
                        self._d_step(acc)
                    self._g_step(acc)
                    self.cur_nimg += cfg.batch_size
                    self._update_ema()
                    bar.update(cfg.batch_size / 1000)
                done = self.cur_nimg >= total_nimg
                self.cur_tick += 1
                ticks_run += 1

                stats = self._tick_stats(acc, tick_start_nimg, time.time() - tick_t0)
                if not all(math.isfinite(stats[k]) for k in ("loss_D", "loss_G")):
                    msg = (f"training diverged at {self.cur_nimg / 1000:.2f} kimg: loss_D={stats['loss_D']}, "
                           f"loss_G={stats['loss_G']}. ")
                    msg += (f"The last good snapshot is kept: {last_snapshot or ckpt.find_snapshot(self.run_dir)}."
                            if (last_snapshot or any(self.run_dir.glob('snapshot-*.pt')))
                            else "No snapshot was written before it.")
                    msg += " Try a lower learning rate or a larger R1 gamma."
                    if self.is_main:
                        append_jsonl(self.run_dir / "stats.jsonl", dict(stats, error="diverged"))
                    raise TrainingDivergedError(msg)
                warning = self._check_collapse(stats)
                if warning:
                    stats["warning"] = warning
                    self.warnings.append(warning)
                self.stats_history.append(stats)
                bar.set_postfix_str(f"{stats['img_per_s']:.0f} img/s, p={stats['aug_p']:.2f}", refresh=False)

                if self.is_main:
                    append_jsonl(self.run_dir / "stats.jsonl", stats)
                    line = _format_stats(stats) + (f"\nWARNING: {warning}" if warning else "")
                    with tqdm.external_write_mode():  # print above the progress bar, not through it
                        self._log(line)
                    if writer is not None:
                        for k, v in stats.items():
                            if isinstance(v, (int, float)) and k not in ("tick",):
                                writer.add_scalar(f"train/{k}", v, global_step=int(self.cur_nimg // 1000))
                        writer.flush()
                    self._save_png(f"fakes{ckpt.kimg_tag(self.cur_nimg)}.png", self.sample_grid())
                    if done or self.cur_tick % cfg.snap == 0:
                        last_snapshot = ckpt.save_snapshot(self.run_dir, self.state_dict(), self.cur_nimg)
                for cb in self.callbacks:
                    cb(TickInfo(self.cur_tick, self.cur_nimg, stats, self.run_dir, self.G_ema, done, self))
                if max_ticks is not None and ticks_run >= max_ticks:
                    break
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        snap = last_snapshot
        if snap is None:
            try:
                snap = ckpt.find_snapshot(self.run_dir)
            except Exception:
                snap = None
        return TrainResult(self.run_dir, cfg, self.cur_nimg, snap, self.class_names,
                           read_jsonl(self.run_dir / "stats.jsonl") if self.is_main else self.stats_history,
                           self.warnings)

    def _tick_stats(self, acc: dict[str, torch.Tensor], tick_start_nimg: int, tick_time: float) -> dict:
        # One host-device sync per tick, not per step.
        if self.world_size > 1:
            vals = torch.stack(list(acc.values()))
            torch.distributed.all_reduce(vals)
            vals /= self.world_size
            acc = dict(zip(acc.keys(), vals))
        a = {k: float(v) for k, v in acc.items()}
        n_d, n_g = max(a["n_d"], 1), max(a["n_g"], 1)
        nimg = self.cur_nimg - tick_start_nimg
        stats = {
            "tick": self.cur_tick,
            "kimg": round(self.cur_nimg / 1000, 4),
            "loss_G": a["loss_G"] / n_g,
            "loss_D": a["loss_D"] / n_d,
            "loss_r1": a["loss_r1"] / max(a["n_r1"], 1),
            "loss_pl": a["loss_pl"] / max(a["n_pl"], 1),
            "pl_mean": float(self.pl_mean),
            "nonfinite_grads": int(round(a["nonfinite_grads"])),  # identical on every rank (after the all-reduce)
            "d_real_acc": a["d_real_acc"] / n_d,
            "d_fake_acc": a["d_fake_acc"] / n_d,
            "logit_real": a["logit_real"] / n_d,
            "logit_fake": a["logit_fake"] / n_d,
            "aug_p": float(self.augment_pipe.p) if getattr(self.augment_pipe, "p", None) is not None else 0.0,
            "ada_stat": float(self.ada.last_stat) if self.ada is not None and self.ada.last_stat is not None
            else float("nan"),
            # Per class (conditional): the rare class, repeated most under balanced sampling, overfits first.
            **({"ada_stat_per_class": self.ada.last_class_stats}
               if self.ada is not None and self.ada.last_class_stats is not None else {}),
            "sec_per_kimg": tick_time / max(nimg / 1000, 1e-9),
            "img_per_s": nimg / max(tick_time, 1e-9),
            "time_s": round(self.elapsed(), 2),
            "mem_mb": _memory_mb(self.device),
        }
        if "loss_rec" in a:
            stats["loss_rec"] = a["loss_rec"] / n_d
        return stats


MAX_GRID_CLASSES = 16


def grid_classes(num_classes: int, limit: int = MAX_GRID_CLASSES) -> list[int]:
    """Class indices shown in the sample grids: all of them up to ``limit``, else ``limit`` evenly
    spaced ones (first and last included), the same on every tick and every resume."""
    return spread_indices(num_classes, limit)


def cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def _format_stats(s: dict) -> str:
    return (f"tick {s['tick']:<4d} kimg {s['kimg']:<8.2f} loss_G {s['loss_G']:<7.3f} loss_D {s['loss_D']:<7.3f} "
            f"D(real) acc {s['d_real_acc']:.2f} D(fake) acc {s['d_fake_acc']:.2f} p {s['aug_p']:.3f} "
            f"{s['img_per_s']:.0f} img/s  mem {s['mem_mb']:.0f} MB")


def _memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except Exception:
        return float("nan")


def _tensorboard_writer(run_dir: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard missing: not fatal, stats.jsonl has everything
        return None
    return SummaryWriter(log_dir=str(run_dir), purge_step=purge_step if purge_step > 0 else None)


# ----------------------------------------------------------------------------
# Public entry point


def train(
    data: Any,
    config: TrainConfig | None = None,
    *,
    out: str | Path = "runs",
    arch: str | None = None,
    preset: str = "cpu",
    resume: str | Path | None = None,
    transfer: str | Path | None = None,
    classes: Sequence[str] | None = None,
    conditional: bool | None = None,
    callbacks: Sequence[TickCallback] = (),
    progress: bool = True,
    max_ticks: int | None = None,
    run_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    budget: str | float | None = None,
    diagnostics: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train a GAN on the training split of ``data``.

    ``data``: a prepared folder (``ganaug prepare``; only its train split is used) or an ImageSet.
    ``config``: a full TrainConfig; otherwise one is made from ``arch``, ``preset``, the data's
    shape and ``overrides`` (any TrainConfig/NetworkConfig field, e.g. ``kimg=10``, ``resolution=32``).
    ``resume``: a run folder, snapshot file or ``"latest"`` (newest run under ``out``): the run
    continues in its own folder, with the same options (``kimg`` may be raised).
    ``arch``: default dcgan, or the transfer source's.
    ``transfer``: start from another run's weights, or an official StyleGAN2-ADA ``.pkl`` (read
    safely, see ganaug.nvlabs): the networks' architecture comes from the source, the data must
    be at its resolution (``resolution=`` resizes it), 1-channel data trains as RGB from an RGB
    source (generated images are converted back); ADA speed at most 100 kimg and no EMA ramp-up
    unless given (as official ``--resume`` does).
    ``classes``: train on these classes only (one unconditional model per class: pass one name
    and ``conditional=False``).
    ``max_ticks``: stop after this many ticks in this call (the run can be resumed).
    ``budget``: a time budget ('15m', '90s', '1h'; 'off': none; None: the preset's default, see
    ``ganaug.budget``): a few steps are timed first, the run trains at the largest resolution that
    fits (unless ``resolution`` is given) and says so. With a full ``config`` only an explicit
    budget is checked.
    ``diagnostics``: per-class recall/coverage of G_ema at every tick (``class_stats.jsonl``,
    ``ganaug.diagnostics``).
    """
    from ganaug.distributed import destroy, init_from_env

    created_group = init_from_env(overrides.get("device") or (config.device if config else "auto"))
    try:
        with contextlib.ExitStack() as held:  # the run folder's lock, taken inside once the folder is known
            return _train(data, config, out=out, arch=arch, preset=preset, resume=resume, transfer=transfer,
                          classes=classes, conditional=conditional, callbacks=callbacks, progress=progress,
                          max_ticks=max_ticks, run_dir=run_dir, log=log, held=held, budget=budget,
                          diagnostics=diagnostics, **overrides)
    finally:
        if created_group:
            destroy()


def _train(data, config, *, out, arch, preset, resume, transfer, classes, conditional, callbacks, progress,
           max_ticks, run_dir, log, held: contextlib.ExitStack, budget=None, diagnostics=True,
           **overrides) -> TrainResult:
    rank, _ = _dist_info()
    log = log or (print if rank == 0 else (lambda s: None))
    resume_state = None
    if resume is not None:
        target = ckpt.find_latest_run(out) if str(resume) == "latest" else Path(resume)
        resume_state = ckpt.load_snapshot(target)
        if "opt_G" not in resume_state:
            raise CheckpointError(f"{resume_state['path']} holds networks but no training state (an imported "
                                  "snapshot): start from it with --transfer instead of --resume")
        config = TrainConfig.from_dict(resume_state["config"])
        if overrides.get("kimg"):
            config = config.replace(kimg=overrides["kimg"])
        if overrides.get("device"):
            config = config.replace(device=overrides["device"])
        ignored = sorted(k for k, v in overrides.items() if v is not None and k not in ("kimg", "device"))
        if ignored:
            log(f"note: resuming keeps the run's own options; ignored: {', '.join(ignored)}")
        run_dir = Path(resume_state["path"]).parent
        transfer = None  # the run's own weights replace any transfer source
        log(f"resuming {run_dir} from {Path(resume_state['path']).name} at {resume_state['cur_nimg'] / 1000:.2f} kimg")

    train_set = resolve_training_data(data, classes)
    if resume_state is not None:
        saved = list(resume_state.get("class_names", []))
        lacking = [c for c in saved if c not in train_set.class_names]
        if lacking:
            raise UserError(f"cannot resume {Path(resume_state['path']).parent} on this data: the run was trained on "
                            f"classes {saved}, the data has {train_set.class_names} (no {lacking}). Resume "
                            "with the data it was trained on, or start a new run")
        if saved and saved != train_set.class_names:  # the run was trained on a subset of classes
            train_set = resolve_training_data(data, saved)

    config_given = config is not None
    src_net = None
    if transfer is not None and resume_state is None:
        transfer = transfer if isinstance(transfer, dict) else ckpt.load_snapshot(transfer)
        src_net = NetworkConfig.from_dict(transfer["config"]["network"])
        if arch is not None and arch != src_net.arch:
            raise CheckpointError(f"cannot transfer: the source is a {src_net.arch} snapshot but --arch {arch} "
                                  "was asked; leave --arch out (it follows the source)")
        arch = arch or src_net.arch
    if config is None:
        config = config_for(train_set, arch or "dcgan", preset, conditional=conditional, **overrides)
        if src_net is not None:
            config = _transfer_config(config, src_net, overrides)
    else:
        if resume_state is None and overrides:
            config = config.replace(**{k: v for k, v in overrides.items() if v is not None})  # e.g. kimg=...
        if src_net is not None:
            config = _transfer_config(config, src_net, None)
    if config.network.conditional and config.network.num_classes != train_set.num_classes:
        raise UserError(f"the config is for {config.network.num_classes} classes but the data has "
                        f"{train_set.num_classes}")
    # Check what can fail before a run folder is made for it.
    resolve_device(config.device)
    budget_plan = None
    if resume_state is None and _dist_info()[1] == 1 and (budget is not None or not config_given):
        from ganaug.budget import fit_to_budget

        config, budget_plan = fit_to_budget(train_set, config, budget, log=log,
                                            resolution_fixed=(config_given or bool(overrides.get("resolution"))
                                                              or transfer is not None),
                                            kimg_fixed=config_given or bool(overrides.get("kimg")))
    empty = [k for k, v in train_set.counts().items() if v == 0]
    if empty and config.network.conditional:
        log(f"warning: class(es) {', '.join(empty)} have no training images: the conditional model cannot "
            "learn them, and images generated for them are meaningless")

    if run_dir is None:
        desc = f"{_data_desc(data)}-{config.network.arch}"
        run_dir = next_run_dir(out, desc) if rank == 0 else None
        if _dist_info()[1] > 1:
            holder = [str(run_dir) if run_dir else ""]
            torch.distributed.broadcast_object_list(holder, src=0)
            run_dir = Path(holder[0])
    run_dir = Path(run_dir)
    if rank == 0:  # one process per run folder ("in use by PID ..."); released when train() returns
        held.enter_context(run_lock(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        log = _tee(log, run_dir / "log.txt")

    if resume_state is None:  # a resumed run keeps the fit it started with (its snapshot's crop_to)
        crop = padded_size(train_set.resolution, config.network.resolution, config.fit)
        config = dataclasses.replace(config, crop_to=list(crop) if crop else None)
    crop = config.crop_to
    if crop and rank == 0:
        log(f"data: {crop[0]}x{crop[1]} px padded to the GAN's {config.network.resolution} px (reflection); "
            f"generated images are cropped back to {crop[0]}x{crop[1]} (--fit resize to resize instead)")

    if rank == 0:
        if resume_state is not None:
            # Drop stats lines from ticks after the snapshot (a killed run redoes them).
            _truncate_stats(run_dir / "stats.jsonl", resume_state["cur_nimg"])
        atomic_write_json(run_dir / "training_options.json", {
            **config.to_dict(),
            "data": {"source": str(data) if not isinstance(data, ImageSet) else "<ImageSet>",
                     "images": len(train_set), "classes": train_set.class_names,
                     "counts": train_set.counts()},
            "world_size": _dist_info()[1],
            **({"budget": budget_plan.to_dict()} if budget_plan is not None else {}),
        })

    if diagnostics and rank == 0:
        from ganaug.diagnostics import ClassDiagnostics

        callbacks = [*callbacks, ClassDiagnostics(train_set, run_dir, log=log, seed=config.seed,
                                                  start_nimg=resume_state["cur_nimg"] if resume_state else 0)]
    trainer = Trainer(train_set, config, run_dir, resume_state=resume_state, transfer=transfer,
                      callbacks=callbacks, progress=progress, log=log)
    return trainer.run(max_ticks=max_ticks)


def _transfer_config(config: TrainConfig, src: NetworkConfig, overrides: dict | None) -> TrainConfig:
    """The run's config when starting from ``src``: its architecture, this run's classes, the data at
    the source's size, RGB for 1-channel data from an RGB source. ``overrides``: the options given
    with a preset-made config (ADA speed <= 100 kimg, no EMA ramp-up unless given); None: a full
    config, used as it is."""
    net = config.network
    if net.arch != src.arch:
        raise CheckpointError(f"cannot transfer: the source snapshot has arch={src.arch!r} but this run is "
                              f"arch={net.arch!r}; leave --arch out (it follows the source)")
    if net.resolution != src.resolution:
        r, s = net.resolution, src.resolution
        raise CheckpointError(f"cannot transfer: the source makes {s}x{s} images but this run trains at {r}x{r}. "
                              f"Pass --resolution {s} (resolution={s}) to resize the data to the source's size, "
                              f"or transfer from a {r}x{r} snapshot")
    export_channels = config.export_channels
    if net.channels != src.channels:
        if src.channels == 1:
            raise CheckpointError("cannot transfer: the source is a grayscale (1-channel) model and this run is "
                                  "RGB; pass --channels 1 to train on the data in grayscale")
        export_channels = net.channels  # 1-channel data, trained as RGB; images converted back at export
    new = dataclasses.replace(src, num_classes=net.num_classes)
    config = dataclasses.replace(config, network=new, export_channels=export_channels)
    if overrides is not None:
        if overrides.get("ada_kimg") is None:
            config = config.replace(ada_kimg=min(config.ada_kimg, 100.0))
        if "ema_rampup" not in overrides:
            config = config.replace(ema_rampup=None)
    return config


def _tee(log: Callable[[str], None], path: Path) -> Callable[[str], None]:
    """Log to the console and append to the run's log.txt."""

    def both(msg: str) -> None:
        log(msg)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")

    return both


def _truncate_stats(path: Path, cur_nimg: int) -> None:
    rows = [r for r in read_jsonl(path) if r.get("kimg", 0) * 1000 <= cur_nimg + 1e-6]
    with atomic_open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def config_for(train: ImageSet, arch: str = "dcgan", preset: str = "cpu", *, conditional: bool | None = None,
               **overrides: Any) -> TrainConfig:
    """The TrainConfig for this data: its shape (resolution rounded up to a power of two, channels),
    conditional on its classes when it has several (unless ``conditional=False``), preset + overrides."""
    res = overrides.pop("resolution", None) or _default_resolution(train)
    channels = overrides.pop("channels", None) or train.channels
    if conditional is None:
        conditional = train.num_classes > 1
    return make_config(arch, preset, resolution=res, channels=channels,
                       num_classes=train.num_classes if conditional else 0, **overrides)


def _default_resolution(train: ImageSet) -> int:
    """Smallest power of two >= the data's larger side, within 32..256."""
    from ganaug.budget import candidate_resolutions

    return candidate_resolutions(max(train.resolution))[-1]


def _data_desc(data: Any) -> str:
    if isinstance(data, ImageSet):
        return "data"
    name = Path(str(data)).name or "data"
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40]


def describe(config: TrainConfig) -> str:
    """The resolved configuration and each network's parameter count (``--dry-run``)."""
    import json

    from ganaug.models import build_discriminator, build_generator, count_parameters

    G = build_generator(config.network)
    D = build_discriminator(config.network)
    lines = [json.dumps(config.to_dict(), indent=2),
             f"G: {count_parameters(G):,} parameters",
             f"D: {count_parameters(D):,} parameters",
             f"R1 gamma: {config.resolved_r1_gamma:g}   EMA half-life: {config.resolved_ema_kimg:g} kimg"
             + (f"   PL weight: {config.resolved_pl_weight:g}" if config.network.arch == "stylegan2" else "")]
    return "\n".join(lines)
